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
    let deadline = Clock.monotonicNs() + 15_000_000_000
    while Clock.monotonicNs() < deadline {
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
