import Testing
@testable import Netlink

@Suite("tbf tick arithmetic never traps and knows where the kernel's 32-bit buffer ends")
struct TBFArithmeticTests {
    @Test("tc's ticks saturate instead of trapping for any rate and size")
    func saturation() {
        #expect(TokenBucket.transmitTicks(rate: 1, size: .max) == .max)
        #expect(TokenBucket.transmitTicks(rate: 0, size: 1) == .max)
        #expect(TokenBucket.transmitTicks(rate: .max, size: 1) == 0)
        // 10 Mbit/s with containerd's burst of 2^32-1 bits: about 429 s, beyond 32-bit ticks.
        #expect(TokenBucket.transmitTicks(rate: 1_250_000, size: 536_870_911) == .max)
        // The rate table at 1 byte/s used to overflow too; encoding it must not trap.
        var writer = AttributeWriter()
        TokenBucket(rate: 1, burst: .max, limit: .max).encode(&writer)
        #expect(!writer.bytes.isEmpty)
    }

    @Test("The kernel's buffer follows its fixed-point rate: 1 s of traffic is 15,625,000 ticks")
    func kernelTicks() {
        #expect(TBFTicks.kernel(rate: 125_000, burst: 125_000) == 15_625_000)
        #expect(TBFTicks.kernel(rate: 1_000_000, burst: 1) == 15)
        #expect(TBFTicks.kernel(rate: .max, burst: 1) == 0)
    }

    @Test(
        "The largest burst is representable and one more byte is not",
        arguments: [UInt32(1), 125, 1000, 1_250_000, 2_000_000])
    func largestBurst(rate: UInt32) {
        let largest = TBFTicks.largestBurst(rate: rate)
        #expect(TBFTicks.representable(rate: rate, burst: largest))
        #expect(!TBFTicks.representable(rate: rate, burst: largest + 1))
        // About 275 s of traffic: 2^32 ticks of 64 ns.
        #expect(Double(largest) / Double(rate) >= 274 && Double(largest) / Double(rate) < 275)
    }
}
