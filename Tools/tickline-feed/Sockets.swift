#if canImport(Glibc)
import Glibc
#endif

/// Why a socket call failed. Cold path.
struct SocketError: Error, CustomStringConvertible {
    var description: String
    init(_ call: String, _ code: Int32 = errno) { description = "\(call): \(String(cString: strerror(code)))" }
    init(message: String) { description = message }
}

/// `HOST:PORT` → an IPv4 socket address.
func socketAddress(_ text: String) throws(SocketError) -> sockaddr_in {
    guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
        throw SocketError(message: "'\(text)' is not HOST:PORT")
    }
    var host = String(text[..<colon])
    if host.isEmpty || host == "localhost" { host = "127.0.0.1" }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SocketError(message: "'\(host)' is not an IPv4 address") }
    return address
}

/// A listening TCP socket with SO_REUSEADDR, so a killed server can be restarted on the
/// same port at once although its old connections sit in TIME_WAIT.
/// - Returns: the descriptor and the port actually bound (port 0 picks a free one).
func listenSocket(_ text: String) throws(SocketError) -> (fd: Int32, address: String) {
    var address = try socketAddress(text)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket") }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { let code = errno; close(fd); throw SocketError("bind \(text)", code) }
    guard listen(fd, 512) == 0 else { let code = errno; close(fd); throw SocketError("listen", code) }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    var hostBytes = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
    inet_ntop(AF_INET, &address.sin_addr, &hostBytes, socklen_t(INET_ADDRSTRLEN))
    let host = hostBytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return (fd, "\(host):\(UInt16(bigEndian: address.sin_port))")
}

/// Connects to `HOST:PORT` (blocking). Cold path (the bench client).
func connectSocket(_ text: String) throws(SocketError) -> Int32 {
    var address = try socketAddress(text)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket") }
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { let code = errno; close(fd); throw SocketError("connect \(text)", code) }
    return fd
}

/// Sends all `count` bytes (blocking), retrying EINTR; false when the peer is gone.
/// MSG_NOSIGNAL: a closed peer is an error value, not SIGPIPE.
func sendAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
    var done = 0
    while done < count {
        let n = send(fd, bytes + done, count - done, Int32(MSG_NOSIGNAL))
        if n > 0 { done += n; continue }
        if n < 0 && errno == EINTR { continue }
        return false
    }
    return true
}

func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { sendAll(fd, $0.baseAddress!, $0.count) }
}

/// Waits up to `timeoutMs` for `fd` to become readable; true when it is (or has an error/EOF).
func waitReadable(_ fd: Int32, timeoutMs: Int32) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let rc = poll(&entry, 1, timeoutMs)
    return rc > 0
}

func setNoDelay(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
}
