import CNISkeleton
import Testing

@Suite("JSON codec: Go's decoding rules and byte-identical encoding")
struct JSONTests {
    @Test("Keys match case-insensitively and the last duplicate wins")
    func lookup() throws {
        let o = try #require(try JSONParser.parse(#"{"hostPort":1,"HostPort":2,"other":3}"#).objectValue)
        #expect(o["hostport"] == .int(2))
        #expect(o["HOSTPORT"] == .int(2))
        #expect(o["missing"] == nil)
    }

    @Test("Typed reads are strict and worded like Go's errors")
    func strictTypes() throws {
        let o = try #require(try JSONParser.parse(#"{"isGateway":"true","mtu":1.5,"n":null}"#).objectValue)
        let f = JSONFields(o, typeName: "NetConf")
        #expect(
            throws: JSONTypeError(
                message: "json: cannot unmarshal string into Go struct field NetConf.isGateway of type bool")
        ) {
            try f.bool("isGateway")
        }
        #expect(throws: JSONTypeError.self) { try f.int("mtu") }
        #expect(try f.string("n") == nil)
    }

    @Test("Strings: escapes, surrogate pairs and invalid UTF-8 (replaced as Go does)")
    func strings() throws {
        #expect(try JSONParser.parse(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == .string("a\"\\/\u{8}\u{c}\n\r\té😀"))
        #expect(try JSONParser.parse([0x22, 0xff, 0x22]) == .string("\u{FFFD}"))
    }

    @Test("Numbers keep their exact text")
    func numbers() throws {
        #expect(try JSONParser.parse("18446744073709551615") == .number(JSONNumber(text: "18446744073709551615")))
        #expect(try JSONParser.parse("-0.5e-3") == .number(JSONNumber(text: "-0.5e-3")))
    }

    @Test(
        "Malformed documents are errors with Go's wording",
        arguments: [
            ("", "unexpected end of JSON input"),
            ("{not json", "invalid character 'n' looking for beginning of object key string"),
            ("{\"a\":1,}", "invalid character '}' looking for beginning of object key string"),
            ("[1 2]", "invalid character '2' after array element"),
            ("01", "invalid character '1' after top-level value"),
            ("\"\u{1}\"", "invalid character '\\x01' in string literal"),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            ("tru", "unexpected end of JSON input"), ("-", "unexpected end of JSON input"),
            ("1.", "unexpected end of JSON input"),
        ])
    func malformed(text: String, message: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(text) }
        do { _ = try JSONParser.parse(text) } catch { #expect(error.message == message) }
    }

    @Test("Deep nesting is refused instead of overflowing the stack")
    func depth() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
    }

    @Test("Arbitrary bytes never crash the parser")
    func noCrash() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]:,"\0123456789.eE+-tfnul abc\u"#.utf8) + [0xff, 0x00, 0xc3]
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? JSONParser.parse(bytes)
        }
    }

    @Test("Writer escapes like Go: HTML characters, controls, U+2028")
    func escaping() {
        #expect(JSONWriter.compact(.string("<a&b>\u{1}\u{2028}\"\n")) == #""\u003ca\u0026b\u003e\u0001\u2028\"\n""#)
    }

    @Test("Indented output matches Go's MarshalIndent with four spaces")
    func indent() throws {
        let value = try JSONParser.parse(#"{"a":[1,{}],"b":[],"c":{"d":"e"}}"#)
        #expect(
            JSONWriter.indented(value)
                == "{\n    \"a\": [\n        1,\n        {}\n    ],\n    \"b\": [],\n    \"c\": {\n        \"d\": \"e\"\n    }\n}"
        )
        #expect(JSONWriter.compact(value) == #"{"a":[1,{}],"b":[],"c":{"d":"e"}}"#)
    }
}
