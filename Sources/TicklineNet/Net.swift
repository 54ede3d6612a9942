// Sockets on io_uring (with a plain non-blocking fallback) carrying WebSocket connections.
//
// Layers, bottom up: `Syscall` (errno, EINTR, would-block as a value), `SocketAddress`,
// `NetBackend` (which I/O path this process uses), `IoUringReactor` (one ring, many
// sockets), `TCPTransport` (one socket, its buffers, either backend) behind the
// `Transport` protocol (where TLS will go), and `WebSocketConnection` (transport +
// handshake + framing).
import CURing
import Glibc

/// Cold-path failures of the network layer. Carries no strings on the hot path: the
/// failing call is a static string.
public enum NetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `host:port` is not a numeric IPv4 address with a port.
    case invalidAddress(String)
    /// A system call failed with `errno`.
    case system(call: StaticString, errno: Int32)
    /// `io_uring_queue_init` failed (returns `-errno`).
    case ioUringSetup(errno: Int32)
    /// The transport is not in a state that allows the call.
    case notConnected
    /// TLS failed: the handshake (an untrusted issuer, a name mismatch, an expired
    /// certificate, an alert from the server) or a record; the text says which.
    case tls(String)

    public static func == (a: NetError, b: NetError) -> Bool { a.description == b.description }

    public var description: String {
        switch self {
        case .invalidAddress(let text): "invalid address '\(text)': expected numeric IPv4 host:port"
        case .system(let call, let code): "\(call) failed: \(errnoName(code))"
        case .ioUringSetup(let code): "io_uring_queue_init failed: \(errnoName(code))"
        case .notConnected: "transport is not connected"
        case .tls(let text): text
        }
    }
}

/// `strerror` text with the number, for messages.
func errnoName(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}

/// System-call wrappers in the swift-nio manner: read `errno` right away, retry `EINTR`,
/// report would-block as a value.
enum Syscall {
    /// Outcome of a call that may block.
    enum IOResult: Equatable {
        case done(Int)
        case wouldBlock
        case failed(Int32)
    }

    /// Runs `body` until it does not fail with EINTR.
    @inline(__always)
    static func retrying(_ body: () -> Int) -> IOResult {
        while true {
            let rc = body()
            if rc >= 0 { return .done(rc) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            return .failed(code)
        }
    }
}

/// An IPv4 socket address. Only numeric hosts: resolving names is a cold-path job for the
/// caller (and loopback is what tests and the replay server need).
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16
    var storage: sockaddr_in

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool { a.host == b.host && a.port == b.port }

    /// Parses `"a.b.c.d:port"` (`localhost` is taken as 127.0.0.1).
    public init(_ text: String) throws(NetError) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw .invalidAddress(text)
        }
        var host = String(text[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        try self.init(host: host, port: port)
    }

    public init(host: String, port: UInt16) throws(NetError) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw .invalidAddress("\(host):\(port)") }
        self.host = host
        self.port = port
        storage = address
    }

    public var description: String { "\(host):\(port)" }
}

/// The I/O path sockets use in this process.
public enum NetBackend: Sendable, Equatable, CustomStringConvertible {
    /// recv/send submitted to an io_uring, completions reaped without blocking.
    case ioUring
    /// Plain non-blocking `recv`/`send` system calls.
    case posix

    public var description: String { self == .ioUring ? "io_uring" : "posix" }

    /// Why `detect()` chose what it chose (one line for logs and `doctor`).
    public struct Detection: Sendable {
        public let backend: NetBackend
        public let reason: String
    }

    /// io_uring when this process can create a ring and `TICKLINE_DISABLE_IO_URING` is not
    /// `1`; otherwise the posix fallback. Cost: one ring created and destroyed.
    public static func detect() -> Detection {
        if let value = getenv("TICKLINE_DISABLE_IO_URING"), String(cString: value) == "1" {
            return Detection(backend: .posix, reason: "io_uring disabled by TICKLINE_DISABLE_IO_URING=1")
        }
        var ring = io_uring()
        let rc = io_uring_queue_init(8, &ring, 0)
        guard rc == 0 else {
            return Detection(backend: .posix, reason: "io_uring_queue_init failed: \(errnoName(-rc)); using non-blocking recv/send")
        }
        io_uring_queue_exit(&ring)
        return Detection(backend: .ioUring, reason: "io_uring_queue_init ok")
    }
}
