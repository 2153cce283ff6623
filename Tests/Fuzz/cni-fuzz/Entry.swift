import Glibc

// libFuzzer's entry points. The target comes from SWIFT_CNI_FUZZ_TARGET (Scripts/fuzz.sh sets
// it), so one instrumented build serves every target.

nonisolated(unsafe) private var selected: (@Sendable ([UInt8]) -> Void)? = nil

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> Int32 {
    let name = getenv("SWIFT_CNI_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzHarness.targets[name] else {
        let known = FuzzHarness.targets.keys.sorted().joined(separator: " ")
        let message = Array("cni-fuzz: set SWIFT_CNI_FUZZ_TARGET to one of: \(known)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected?(bytes)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point as `<module>_main`; libFuzzer's driver runs from it.
@_cdecl("cni_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var vector = argv
    return runDriver(&count, &vector) { data, size in fuzzerTestOneInput(data, size) }
}
