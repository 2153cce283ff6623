import Glibc
import NetAddress
import Testing

@Suite("IPv4 text: the dotted-decimal form Go accepts, and nothing else")
struct IPv4ParseTests {
    @Test("Edge cases: leading zeros, empty fields, too many digits or fields, out of range")
    func edges() {
        for text in ["0.0.0.0", "255.255.255.255", "10.0.0.1", "1.2.3.4", "192.168.100.200", "100.10.0.9"] {
            #expect(IPAddress(text)?.description == text, "\(text)")
        }
        for text in [
            "", ".", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.02.3.4", "1.2.3.00", "256.1.1.1", "1.2.3.256", "1..2.3",
            "1.2.3.", ".1.2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.1000", "1.2.3.-1", "0x1.2.3.4", "1.2.3.4.",
        ] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
    }

    @Test("Random strings of digits and dots parse exactly when inet_pton accepts them, to the same address")
    func againstInetPton() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789.....".utf8)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...15, using: &generator)
            let text = String(
                decoding: (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] },
                as: UTF8.self)
            var address = in_addr()
            let accepted = inet_pton(AF_INET, text, &address) == 1
            let parsed = IPAddress(text)
            #expect((parsed != nil) == accepted, "\(text)")
            if accepted, let parsed { #expect(parsed.bytes == withUnsafeBytes(of: &address) { Array($0) }, "\(text)") }
        }
    }
}
