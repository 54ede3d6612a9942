import Foundation
import Testing
import TicklineCore
import TicklineNet
import TicklineWebSocket

/// Collects what a connection delivers.
struct Collector: WebSocketHandler {
    var messages: [(kind: MessageKind, bytes: [UInt8])] = []
    var events: [ConnectionEvent] = []
    var stamps: [ReadStamp] = []

    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>, stamp: ReadStamp) {
        messages.append((kind, copy(payload)))
        stamps.append(stamp)
    }
    mutating func onEvent(_ event: ConnectionEvent) { events.append(event) }

    var texts: [String] { messages.filter { $0.kind == .text }.map { String(decoding: $0.bytes, as: UTF8.self) } }
    var isClosed: Bool { events.contains { if case .closed = $0 { true } else { false } } }
}

/// Polls until `done` holds or 15 s pass (sleeping briefly when idle); returns `done`.
func drive<T>(_ connection: WebSocketConnection<T>, _ collector: inout Collector, until done: (Collector) -> Bool) -> Bool {
    let deadline = Clock.monotonic() + 15_000_000_000
    while Clock.monotonic() < deadline {
        if done(collector) { return true }
        if connection.poll(&collector) == 0 { usleep(100) }
    }
    return done(collector)
}

/// Whether this process can create an io_uring (independent of TICKLINE_DISABLE_IO_URING).
let ioUringWorks: Bool = (try? IoUringReactor(entries: 4, maxSockets: 1)) != nil

func makeConnection(_ backend: NetBackend, limits: FrameLimits = FrameLimits()) throws -> WebSocketConnection<TCPTransport> {
    var options = ConnectionOptions()
    options.limits = limits
    return WebSocketConnection(transport: try TCPTransport(backend: backend), options: options)
}

@Suite struct TransportTests {
    @Test func detectionHonoursTheDisableVariable() {
        let previous = getenv("TICKLINE_DISABLE_IO_URING").map { String(cString: $0) }
        setenv("TICKLINE_DISABLE_IO_URING", "1", 1)
        let forced = NetBackend.detect()
        if let previous { setenv("TICKLINE_DISABLE_IO_URING", previous, 1) } else { unsetenv("TICKLINE_DISABLE_IO_URING") }
        #expect(forced.backend == .posix)
        #expect(forced.reason.contains("TICKLINE_DISABLE_IO_URING"))
        if previous == nil {
            #expect(NetBackend.detect().backend == (ioUringWorks ? .ioUring : .posix))
        }
    }

    @Test func parsesNumericAddresses() throws {
        #expect(try SocketAddress("127.0.0.1:9443").port == 9443)
        #expect(try SocketAddress("localhost:80").host == "127.0.0.1")
        #expect(throws: NetError.invalidAddress("example.com:80")) { try SocketAddress("example.com:80") }
        #expect(throws: NetError.invalidAddress("127.0.0.1")) { try SocketAddress("127.0.0.1") }
    }

    @Test(arguments: [NetBackend.ioUring, .posix])
    func reportsARefusedConnection(backend: NetBackend) throws {
        if backend == .ioUring && !ioUringWorks { return }
        // A port that was free a moment ago: bind, read it back, close.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                _ = bind(probe, pointer, length)
                return getsockname(probe, pointer, &length)
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
        close(probe)

        let connection = try makeConnection(backend)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: port), path: "/")
        var collector = Collector()
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.first == .failed(.connect(.system(call: "connect", errno: ECONNREFUSED))))
        #expect(collector.events.last == .closed(.abnormal))
    }
}

/// A scripted server on loopback for deterministic connection tests: blocking calls with
/// poll(2) timeouts, driven from the test thread between client polls.
final class LoopbackServer {
    let listener: Int32
    let port: UInt16
    var peer: Int32 = -1

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                _ = bind(fd, pointer, length)
                _ = listen(fd, 4)
                return getsockname(fd, pointer, &length)
            }
        }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        if peer >= 0 { close(peer) }
        close(listener)
    }

    private func waitReadable(_ fd: Int32, milliseconds: Int32 = 5000) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) == 1
    }

    /// Accepts the client (waits up to 5 s).
    func accept() -> Bool {
        guard waitReadable(listener) else { return false }
        peer = Glibc.accept(listener, nil, nil)
        return peer >= 0
    }

    /// Reads whatever arrives within the timeout (empty on timeout or EOF).
    func read(milliseconds: Int32 = 5000) -> [UInt8] {
        guard peer >= 0, waitReadable(peer, milliseconds: milliseconds) else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(peer, &buffer, buffer.count, 0)
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    /// Reads until the client's upgrade request is complete and answers it; `extra` follows
    /// the 101 head in the same write.
    func acceptUpgrade(extra: [UInt8] = [], response: [UInt8]? = nil) -> Bool {
        guard accept() else { return false }
        var received: [UInt8] = []
        for _ in 0..<50 {
            received += read()
            switch ServerHandshake.parseRequest(received.span) {
            case .incomplete: continue
            case .rejected: return false
            case .request(let request, _):
                write((response ?? ServerHandshake.response(to: request)) + extra)
                return true
            }
        }
        return false
    }

    func write(_ bytes: [UInt8]) {
        var at = 0
        while at < bytes.count {
            let count = bytes.withUnsafeBytes { send(peer, $0.baseAddress! + at, bytes.count - at, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            at += count
        }
    }

    func closePeer() {
        close(peer)
        peer = -1
    }
}

/// A server frame (unmasked).
func serverFrame(_ opcode: Opcode, _ payload: [UInt8]) -> [UInt8] {
    var encoder = FrameEncoder(role: .server)
    return encoded(opcode, payload, encoder: &encoder)
}

@Suite struct ConnectionTests {
    static let backends: [NetBackend] = [.ioUring, .posix]

    /// Connects a client to `server`, lets the server answer with `extra` after the head.
    func connect(_ server: LoopbackServer, backend: NetBackend, options: ConnectionOptions = ConnectionOptions(),
                 extra: [UInt8] = [], response: [UInt8]? = nil) throws -> (WebSocketConnection<TCPTransport>, Collector) {
        let connection = WebSocketConnection(transport: try TCPTransport(backend: backend), options: options)
        try connection.connect(to: SocketAddress(host: "127.0.0.1", port: server.port), path: "/ws?streams=a@trade")
        var collector = Collector()
        // Until the request is written (state handshaking), then the server answers.
        _ = drive(connection, &collector) { _ in connection.state != .connecting }
        #expect(server.acceptUpgrade(extra: extra, response: response))
        return (connection, collector)
    }

    /// Decodes what the client sent (masked frames) as a server would.
    func clientFrames(_ bytes: [UInt8]) -> [Event] { decode(bytes, role: .server).events }

    @Test(arguments: backends)
    func deliversFramesThatArriveWithTheHandshakeResponse(backend: NetBackend) throws {
        if backend == .ioUring && !ioUringWorks { return }
        let server = LoopbackServer()
        let extra = serverFrame(.text, Array("first".utf8)) + serverFrame(.ping, [1, 2, 3])
        var (connection, collector) = try connect(server, backend: backend, extra: extra)
        #expect(drive(connection, &collector) { $0.events.contains(.pingAnswered) && !$0.messages.isEmpty })
        #expect(collector.events.prefix(2) == [.opened, .pingAnswered])
        #expect(collector.texts == ["first"])
        #expect(clientFrames(server.read()) == [.pong([1, 2, 3])])
        // The server drops TCP without a close frame.
        server.closePeer()
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events.suffix(2) == [.failed(.peerDisconnected), .closed(.abnormal)])
    }

    @Test(arguments: backends)
    func reportsARefusedUpgrade(backend: NetBackend) throws {
        if backend == .ioUring && !ioUringWorks { return }
        let server = LoopbackServer()
        var (connection, collector) = try connect(
            server, backend: backend, response: Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events == [.failed(.handshake(.unexpectedStatus(404, reason: "Not Found"))), .closed(.abnormal)])
    }

    @Test(arguments: backends)
    func echoesTheServersCloseOnceAndIgnoresLaterBytes(backend: NetBackend) throws {
        if backend == .ioUring && !ioUringWorks { return }
        let server = LoopbackServer()
        var (connection, collector) = try connect(server, backend: backend)
        #expect(drive(connection, &collector) { $0.events.contains(.opened) })
        server.write(serverFrame(.close, [0x03, 0xE9]) + serverFrame(.text, Array("late".utf8)))
        #expect(drive(connection, &collector) { $0.events.contains(.closeReceived(.goingAway)) })
        server.write(serverFrame(.text, Array("later".utf8)))
        #expect(clientFrames(server.read()) == [.close(1001, [])])
        server.closePeer()
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events == [.opened, .closeReceived(.goingAway), .closed(.goingAway)])
        #expect(collector.messages.isEmpty)
    }

    @Test(arguments: backends)
    func givesUpOnAServerThatNeverAnswersTheClose(backend: NetBackend) throws {
        if backend == .ioUring && !ioUringWorks { return }
        let server = LoopbackServer()
        var options = ConnectionOptions()
        options.closeTimeoutNs = 50_000_000
        var (connection, collector) = try connect(server, backend: backend, options: options)
        #expect(drive(connection, &collector) { $0.events.contains(.opened) })
        #expect(connection.sendClose(.normal, reason: Array("done".utf8).span) == .queued)
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events == [.opened, .failed(.timedOut), .closed(.normal)])
        #expect(clientFrames(server.read()) == [.close(1000, Array("done".utf8))])
    }

    @Test(arguments: backends)
    func failsWithTheViolationsCodeAndTellsTheServer(backend: NetBackend) throws {
        if backend == .ioUring && !ioUringWorks { return }
        let server = LoopbackServer()
        var (connection, collector) = try connect(server, backend: backend)
        #expect(drive(connection, &collector) { $0.events.contains(.opened) })
        server.write([0x83, 0x00]) // reserved opcode 3
        #expect(drive(connection, &collector) { $0.events.count >= 2 })
        #expect(clientFrames(server.read()) == [.close(1002, [])])
        server.write(serverFrame(.close, [0x03, 0xEA]))
        server.closePeer()
        #expect(drive(connection, &collector) { $0.isClosed })
        #expect(collector.events == [.opened, .failed(.protocolViolation(.unknownOpcode)), .closed(.protocolError)])
        #expect(connection.decoder.counters.count(of: .unknownOpcode) == 1)
    }

    @Test func connectionsShareOneReactor() throws {
        guard ioUringWorks else { return }
        let reactor = try IoUringReactor(entries: 16, maxSockets: 2)
        let servers = [LoopbackServer(), LoopbackServer()]
        var connections: [WebSocketConnection<TCPTransport>] = []
        var collectors = [Collector(), Collector()]
        for (index, server) in servers.enumerated() {
            let connection = WebSocketConnection(transport: try TCPTransport(backend: .ioUring, reactor: reactor))
            try connection.connect(to: SocketAddress(host: "127.0.0.1", port: server.port), path: "/\(index)")
            _ = drive(connection, &collectors[index]) { _ in connection.state != .connecting }
            #expect(server.acceptUpgrade(extra: serverFrame(.text, Array("to \(index)".utf8))))
            connections.append(connection)
        }
        // A third socket finds no free slot.
        let third = try TCPTransport(backend: .ioUring, reactor: reactor)
        #expect(throws: NetError.self) { try third.connect(to: SocketAddress(host: "127.0.0.1", port: servers[0].port)) }
        for index in 0..<2 {
            #expect(drive(connections[index], &collectors[index]) { !$0.messages.isEmpty })
            #expect(collectors[index].texts == ["to \(index)"])
        }
        // Closing one frees its slot for another socket.
        connections[0].abort()
        try third.connect(to: SocketAddress(host: "127.0.0.1", port: servers[0].port))
        third.close()
    }
}
