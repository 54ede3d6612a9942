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
    @Test func tenPingsInOneReadGetTenPongsWithTheirPayloadsInOrder() throws {
        let python = try #require(ReferenceServer.python, "no Python: set TICKLINE_PYTHON or create <root>/.venv")
        let folder = NSTemporaryDirectory() + "tickline-pings-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let script = ReferenceServer.script.deletingLastPathComponent().appendingPathComponent("raw_ping_server.py").path
        let server = ChildProcess(executable: python, arguments: [script, "\(folder)/port", "10"])
        #expect(server.start())
        defer { _ = server.stop(seconds: 5) }
        var port: UInt16?
        #expect(waitUntil(20, pollUs: 20_000) {
            port = (try? String(contentsOfFile: "\(folder)/port", encoding: .utf8)).flatMap { UInt16($0) }
            return port != nil
        })
        let connection = try makeConnection(NetBackend.detect().backend)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: try #require(port)), path: "/")
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.texts.count == 1 || $0.isClosed }, "\(collector.events)")
        #expect(collector.events.filter { $0 == .pingAnswered }.count == 10)
        #expect(collector.texts == ["pongs:" + (0..<10).map { "ping-\($0)" }.joined(separator: ",")], "\(collector.texts)")
        #expect(connection.pongsDropped == 0)
        #expect(drive(connection, &collector) { $0.isClosed } && collector.events.last == .closed(.normal), "\(collector.events)")
    }
}
