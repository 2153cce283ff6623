import CNISystem
import Glibc
import Testing

@Suite("FileIO.sendAll: a whole buffer on a socket, and a peer that has gone")
struct SendAllTests {
    @Test("A buffer arrives whole; with the peer closed the send is EPIPE, not a signal")
    func sendAll() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let payload = [UInt8](repeating: 7, count: 32768)
        try FileIO.sendAll(pair[0], payload)
        close(pair[0])
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while case let n = read(pair[1], &chunk, chunk.count), n > 0 { received += chunk[0..<n] }
        close(pair[1])
        #expect(received == payload)

        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        close(pair[1])
        #expect(throws: Errno(rawValue: EPIPE)) { try FileIO.sendAll(pair[0], payload) }
        close(pair[0])
    }
}
