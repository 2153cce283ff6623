import PluginSupport
import Testing

@Suite("SHA-512 as the reference's names use it")
struct SHA512Tests {
    @Test("Known digests (FIPS 180-2 examples), cut to any length, never past the digest")
    func knownDigests() {
        #expect(SHA512.hexPrefix("abc", length: 16) == "ddaf35a193617aba")
        #expect(SHA512.hexPrefix("", length: 20) == "cf83e1357eefb8bdf154")
        #expect(SHA512.hexPrefix("abc", length: 7) == "ddaf35a")
        #expect(SHA512.hexPrefix("abc", length: 500).count == 128)
        #expect(SHA512.hexPrefix("abc", length: 0).isEmpty)
        #expect(SHA512.hexPrefix("abc", length: -3).isEmpty)
    }
}
