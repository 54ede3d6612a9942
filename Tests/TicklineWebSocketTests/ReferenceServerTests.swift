import Foundation
import Testing
import TicklineCore
import TicklineNet
import TicklineTestSupport
import TicklineWebSocket

/// The Python `websockets` server in `reference_server.py`, started per test on a free
/// loopback port. Every wait is bounded.
final class ReferenceServer {
    static let script = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("reference_server.py")

    static var python: String? { PythonPeer.python }
    static var isRequired: Bool { ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1" }
    static var shouldRun: Bool { python != nil || isRequired }

    let peer: PythonPeer
    var port: UInt16 { peer.ports[0] }
    var logFile: String { "\(peer.folder)/log" }

    init() throws {
        peer = try PythonPeer(script: Self.script.path, arguments: { ["\($0)/log"] })
    }

    /// Waits (bounded) until the server logged `line`.
    func waitForLog(_ line: String, seconds: Double = 10) -> String {
        var text = ""
        _ = waitUntil(seconds, pollUs: 10_000) {
            text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").contains(Substring(line))
        }
        return text
    }
}

extension Trait where Self == ConditionTrait {
    static var needsPythonWebsockets: Self {
        .enabled(if: ReferenceServer.shouldRun,
                 "Python websockets reference skipped: set TICKLINE_PYTHON or create <root>/.venv (TICKLINE_REQUIRE_REFERENCES=1 makes this a failure)")
    }
}

@Suite(.serialized, .needsPythonWebsockets)
struct ReferenceServerTests {
    static let backends: [NetBackend] = [.ioUring, .posix]

    func open(_ server: ReferenceServer, _ path: String, backend: NetBackend, limits: FrameLimits = FrameLimits())
        throws -> (WebSocketConnection<TCPTransport>, Collector)?
    {
        if backend == .ioUring && !ioUringWorks { return nil }
        let connection = try makeConnection(backend, limits: limits)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: server.port), path: path)
        var collector = Collector()
        let opened = drive(connection, &collector) { $0.events.contains(.opened) || $0.isClosed }
        #expect(opened && collector.events.first == .opened, "\(path) over \(backend): \(collector.events)")
        #expect(connection.transport.backend == backend)
        return (connection, collector)
    }

    @Test(arguments: backends)
    func echoesTextBinaryLargeAndFragmentedMessages(backend: NetBackend) throws {
        let server = try ReferenceServer()
        guard let opened = try open(server, "/echo", backend: backend) else { return }
        let connection = opened.0
        var collector = opened.1
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let unicode = Array("Grüße € 𝄞".utf8)
        #expect(connection.sendText(Array("hello".utf8).span) == .queued)
        #expect(connection.sendText(unicode.span) == .queued)
        #expect(connection.sendBinary([0, 1, 2, 255].span) == .queued)
        var sent = SendOutcome.bufferFull
        // The 1 MiB frame fits once the earlier frames have left the send queue.
        for _ in 0..<10_000 where sent == .bufferFull {
            sent = connection.sendBinary(large.span)
            if sent == .bufferFull { connection.poll(&collector); usleep(100) }
        }
        #expect(sent == .queued)
        #expect(connection.sendFragment(.text, Array("frag".utf8).span, fin: false) == .queued)
        #expect(connection.sendFragment(.continuation, Array("ment".utf8).span, fin: false) == .queued)
        #expect(connection.sendFragment(.continuation, Array("ed".utf8).span, fin: true) == .queued)
        let all = drive(connection, &collector) { $0.messages.count >= 5 || $0.isClosed }
        #expect(all, "\(collector.events)")
        guard collector.messages.count == 5 else { return }
        #expect(collector.texts == ["hello", "Grüße € 𝄞", "fragmented"])
        #expect(collector.messages[2].kind == .binary && collector.messages[2].bytes == [0, 1, 2, 255])
        #expect(collector.messages[3].kind == .binary && collector.messages[3].bytes == large)
        let stamped = collector.stamps.allSatisfy { $0.monotonicNs > 0 && $0.wallNs > 1_600_000_000_000_000_000 }
        #expect(stamped)
        #expect(connection.decoder.counters.violations == 0)
        #expect(connection.sendClose() == .queued)
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.last == .closed(.normal))
        _ = server.waitForLog("/echo 1000")
    }

    @Test(arguments: backends)
    func receivesFragmentedMessagesWithACodePointSplitAcrossFragments(backend: NetBackend) throws {
        let server = try ReferenceServer()
        guard let opened = try open(server, "/fragments", backend: backend) else { return }
        let connection = opened.0
        var collector = opened.1
        #expect(drive(connection, &collector) { $0.messages.count >= 3 || $0.isClosed })
        guard collector.messages.count >= 3 else { return }
        #expect(collector.texts.first == "price € 42")
        let expected: [UInt8] = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 * 7 % 251) }
        #expect(collector.messages[1].bytes == expected)
        #expect(collector.texts.last == "done")
        connection.sendClose()
        #expect(drive(connection, &collector) { $0.isClosed })
    }

    @Test(arguments: backends)
    func answersTheServersPing(backend: NetBackend) throws {
        let server = try ReferenceServer()
        guard let opened = try open(server, "/ping", backend: backend) else { return }
        let connection = opened.0
        var collector = opened.1
        #expect(drive(connection, &collector) { !$0.texts.isEmpty || $0.isClosed })
        #expect(collector.texts == ["pong:ok"])
        #expect(collector.events.contains(.pingAnswered))
        #expect(connection.decoder.counters.pings == 1)
        connection.sendClose()
        #expect(drive(connection, &collector) { $0.isClosed })
    }

    @Test(arguments: backends)
    func echoesTheServersCloseCode(backend: NetBackend) throws {
        let server = try ReferenceServer()
        guard let opened = try open(server, "/close", backend: backend) else { return }
        let connection = opened.0
        var collector = opened.1
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.contains(.closeReceived(CloseCode(4001))))
        #expect(collector.events.last == .closed(CloseCode(4001)))
        let log = server.waitForLog("/close 4001")
        #expect(log.contains("/close 4001"), "server saw: \(log)")
    }

    @Test(arguments: backends)
    func closesWith1007OnInvalidUTF8FromTheServer(backend: NetBackend) throws {
        let server = try ReferenceServer()
        guard let opened = try open(server, "/badutf8", backend: backend) else { return }
        let connection = opened.0
        var collector = opened.1
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.contains(.failed(.protocolViolation(.invalidUTF8))))
        #expect(collector.events.last == .closed(.invalidPayload))
        #expect(collector.messages.isEmpty)
        #expect(connection.decoder.counters.count(of: .invalidUTF8) == 1)
        let log = server.waitForLog("/badutf8 1007")
        #expect(log.contains("/badutf8 1007"), "server saw: \(log)")
    }

    @Test(arguments: backends)
    func closesWith1009OnAnOversizedFrame(backend: NetBackend) throws {
        let server = try ReferenceServer()
        let limits = FrameLimits(maxFrameBytes: 64 * 1024, maxMessageBytes: 64 * 1024)
        guard let opened = try open(server, "/oversize", backend: backend, limits: limits) else { return }
        let connection = opened.0
        var collector = opened.1
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.contains(.failed(.protocolViolation(.frameTooBig))))
        #expect(collector.events.last == .closed(.messageTooBig))
        let log = server.waitForLog("/oversize 1009")
        #expect(log.contains("/oversize 1009"), "server saw: \(log)")
    }

    @Test(arguments: backends)
    func clientInitiatedCloseCompletes(backend: NetBackend) throws {
        let server = try ReferenceServer()
        guard let opened = try open(server, "/clientclose", backend: backend) else { return }
        let connection = opened.0
        var collector = opened.1
        #expect(connection.sendClose(.goingAway) == .queued)
        #expect(connection.sendText(Array("late".utf8).span) == .notOpen)
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.contains(.closeReceived(.goingAway)))
        #expect(collector.events.last == .closed(.goingAway))
        let log = server.waitForLog("/clientclose 1001")
        #expect(log.contains("/clientclose 1001"), "server saw: \(log)")
    }
}
