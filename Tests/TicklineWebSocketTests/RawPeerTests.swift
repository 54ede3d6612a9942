#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineNet
import TicklineTestSupport
import TicklineWebSocket

/// The client against `raw_ping_server.py`, a peer written on a plain socket, which puts
/// several pings in one write.
@Suite(.serialized, .needsPythonWebsockets)
struct RawPeerTests {
    /// `raw_ping_server.py` with `arguments` after its port file.
    static func rawPeer(_ arguments: [String]) throws -> PythonPeer {
        try PythonPeer(script: ReferenceServer.script.deletingLastPathComponent().appendingPathComponent("raw_ping_server.py").path,
                       arguments: { _ in arguments })
    }

    func connect(_ peer: PythonPeer, options: ConnectionOptions = ConnectionOptions(), sendBufferBytes: Int = (1 << 20) + 64 * 1_024) throws
        -> WebSocketConnection<TCPTransport>
    {
        let connection = WebSocketConnection(transport: try TCPTransport(backend: NetBackend.detect().backend, sendBufferBytes: sendBufferBytes),
                                             options: options)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: peer.ports[0]), path: "/")
        return connection
    }

    @Test func tenPingsInOneReadGetTenPongsWithTheirPayloadsInOrder() throws {
        let peer = try Self.rawPeer(["10"])
        let connection = try connect(peer)
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.texts.count == 1 || $0.isClosed }, "\(collector.events)")
        #expect(collector.events.filter { $0 == .pingAnswered }.count == 10)
        #expect(collector.texts == ["pongs:" + (0..<10).map { "ping-\($0)" }.joined(separator: ",")], "\(collector.texts)")
        #expect(connection.pongsDropped == 0)
        #expect(drive(connection, &collector) { $0.isClosed } && collector.events.last == .closed(.normal), "\(collector.events)")
    }

    @Test func aResetAfterBothClosesEndsWithTheCodeTheyExchanged() throws {
        let peer = try Self.rawPeer(["0", "0", "reset"])
        let connection = try connect(peer)
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.isClosed }, "\(collector.events)")
        #expect(collector.events.contains(.closeReceived(.normal)) && collector.events.last == .closed(.normal), "\(collector.events)")
    }

    @Test func theHandshakeHeadMayBeAsLongAsMaxHandshakeBytes() throws {
        // A 20 KiB response head: refused within the default 16 KiB, taken within 32 KiB.
        let refused = try Self.rawPeer(["0", "20000"])
        let small = try connect(refused)
        var first = Collector()
        #expect(drive(small, &first) { $0.isClosed })
        #expect(first.events.contains(.failed(.handshake(.headersTooLarge(limit: 16 * 1_024)))), "\(first.events)")
        let taken = try Self.rawPeer(["0", "20000"])
        var options = ConnectionOptions()
        options.maxHandshakeBytes = 32 * 1_024
        let large = try connect(taken, options: options)
        var second = Collector()
        #expect(drive(large, &second) { $0.texts.count == 1 || $0.isClosed })
        #expect(second.events.first == .opened && second.texts == ["pongs:"], "\(second.events)")
    }

    @Test func aFrameLongerThanTheWholeSendQueueIsRefusedAsTooLarge() throws {
        let peer = try Self.rawPeer(["1"])
        let connection = try connect(peer, sendBufferBytes: 64 * 1_024)
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.events.contains(.opened) || $0.isClosed })
        let large = [UInt8](repeating: 7, count: 100_000)
        let refused = connection.sendBinary(large.span)
        #expect(refused == .tooLarge(limit: 64 * 1_024))
        let fits = [UInt8](repeating: 7, count: 1_000)
        let sent = connection.sendBinary(fits.span)
        #expect(sent == .queued, "a frame that fits still goes")
        #expect(drive(connection, &collector) { $0.texts.count == 1 || $0.isClosed })
        #expect(collector.texts == ["pongs:ping-0"], "\(collector.events)")
    }
}
