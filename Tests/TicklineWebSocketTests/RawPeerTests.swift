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
    /// `raw_ping_server.py` with `arguments` after its port file, and its port.
    final class RawPeer {
        let folder = NSTemporaryDirectory() + "tickline-pings-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let server: ChildProcess
        let port: UInt16

        init(_ arguments: [String]) throws {
            let python = try #require(ReferenceServer.python, "no Python: set TICKLINE_PYTHON or create <root>/.venv")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let script = ReferenceServer.script.deletingLastPathComponent().appendingPathComponent("raw_ping_server.py").path
            server = ChildProcess(executable: python, arguments: [script, "\(folder)/port"] + arguments)
            #expect(server.start())
            let portFile = "\(folder)/port"
            var found: UInt16?
            _ = waitUntil(20, pollUs: 20_000) {
                found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { UInt16($0) }
                return found != nil
            }
            port = try #require(found, "the raw peer did not start: \(server.errors)")
        }

        deinit {
            _ = server.stop(seconds: 5)
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    func connect(_ peer: RawPeer, options: ConnectionOptions = ConnectionOptions(), sendBufferBytes: Int = (1 << 20) + 64 * 1_024) throws
        -> WebSocketConnection<TCPTransport>
    {
        let connection = WebSocketConnection(transport: try TCPTransport(backend: NetBackend.detect().backend, sendBufferBytes: sendBufferBytes),
                                             options: options)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: peer.port), path: "/")
        return connection
    }

    @Test func tenPingsInOneReadGetTenPongsWithTheirPayloadsInOrder() throws {
        let peer = try RawPeer(["10"])
        let connection = try connect(peer)
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.texts.count == 1 || $0.isClosed }, "\(collector.events)")
        #expect(collector.events.filter { $0 == .pingAnswered }.count == 10)
        #expect(collector.texts == ["pongs:" + (0..<10).map { "ping-\($0)" }.joined(separator: ",")], "\(collector.texts)")
        #expect(connection.pongsDropped == 0)
        #expect(drive(connection, &collector) { $0.isClosed } && collector.events.last == .closed(.normal), "\(collector.events)")
    }

    @Test func aResetAfterBothClosesEndsWithTheCodeTheyExchanged() throws {
        let peer = try RawPeer(["0", "0", "reset"])
        let connection = try connect(peer)
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.isClosed }, "\(collector.events)")
        #expect(collector.events.contains(.closeReceived(.normal)) && collector.events.last == .closed(.normal), "\(collector.events)")
    }

    @Test func theHandshakeHeadMayBeAsLongAsMaxHandshakeBytes() throws {
        // A 20 KiB response head: refused within the default 16 KiB, taken within 32 KiB.
        let refused = try RawPeer(["0", "20000"])
        let small = try connect(refused)
        var first = Collector()
        #expect(drive(small, &first) { $0.isClosed })
        #expect(first.events.contains(.failed(.handshake(.headersTooLarge(limit: 16 * 1_024)))), "\(first.events)")
        let taken = try RawPeer(["0", "20000"])
        var options = ConnectionOptions()
        options.maxHandshakeBytes = 32 * 1_024
        let large = try connect(taken, options: options)
        var second = Collector()
        #expect(drive(large, &second) { $0.texts.count == 1 || $0.isClosed })
        #expect(second.events.first == .opened && second.texts == ["pongs:"], "\(second.events)")
    }

    @Test func aFrameLongerThanTheWholeSendQueueIsRefusedAsTooLarge() throws {
        let peer = try RawPeer(["1"])
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
