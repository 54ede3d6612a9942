import CURing
import Glibc

/// Progress of a non-blocking connect.
public enum ConnectProgress: Sendable, Equatable {
    case inProgress
    case connected
    case failed(NetError)
}

/// What one `receive()` found.
public enum ReceiveResult: Equatable {
    /// Bytes that arrived; valid until the next `receive()` or `close()`.
    case bytes(UnsafeRawBufferPointer)
    /// Nothing arrived since the last call.
    case nothing
    /// The peer closed its side (read returned 0).
    case endOfStream
    case failed(NetError)

    public static func == (a: ReceiveResult, b: ReceiveResult) -> Bool {
        switch (a, b) {
        case (.bytes(let x), .bytes(let y)): x.baseAddress == y.baseAddress && x.count == y.count
        case (.nothing, .nothing), (.endOfStream, .endOfStream): true
        case (.failed(let x), .failed(let y)): x == y
        default: false
        }
    }
}

/// A byte stream under a WebSocket: connect, receive readiness, buffered send. The seam
/// where a TLS layer will go: a TLS transport wraps a TCP one and exposes the same calls
/// with plaintext on this side.
///
/// Implementations own their buffers (allocated once) and are owned by one thread.
public protocol Transport: AnyObject {
    /// The I/O path in use, for reports.
    var backend: NetBackend { get }
    /// Starts a non-blocking connect.
    func connect(to address: SocketAddress) throws(NetError)
    /// Checks (without blocking) whether the connect finished.
    func pollConnect() -> ConnectProgress
    /// The next received bytes, if any (never blocks). Bytes returned by the previous call
    /// are released by this call.
    func receive() -> ReceiveResult
    /// Space for `count` bytes at the end of the send queue, or `nil` when it does not fit
    /// now. Write into it, then `commitSend`.
    func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer?
    /// Appends `count` bytes written into the last reservation to the send queue.
    func commitSend(_ count: Int)
    /// Starts sending queued bytes (never blocks); returns a failure if the socket failed.
    func flush() -> NetError?
    /// Bytes queued and not yet accepted by the kernel.
    var pendingSendBytes: Int { get }
    /// The most one reservation can ever take (the whole send queue): a frame longer than
    /// this can never be sent.
    var sendCapacity: Int { get }
    /// Closes the socket; in-flight io_uring requests are completed first (bounded wait).
    func close()
    /// When the bytes of the last `receive()` arrived, for a transport that replays recorded
    /// bytes; nil (the default) when they arrived now, stamped by the reader's clocks.
    var recordedStamp: ReadStamp? { get }
}

extension Transport {
    public var recordedStamp: ReadStamp? { nil }
}

/// Any transport behind one concrete type, for a connection whose transport is chosen at
/// run time (a socket live, a recording in a replay). One indirect call per transport call.
public final class AnyTransport: Transport {
    public let base: any Transport

    public init(_ base: any Transport) { self.base = base }

    public var backend: NetBackend { base.backend }
    public func connect(to address: SocketAddress) throws(NetError) { try base.connect(to: address) }
    public func pollConnect() -> ConnectProgress { base.pollConnect() }
    public func receive() -> ReceiveResult { base.receive() }
    public func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer? { base.reserveSend(count) }
    public func commitSend(_ count: Int) { base.commitSend(count) }
    public func flush() -> NetError? { base.flush() }
    public var pendingSendBytes: Int { base.pendingSendBytes }
    public var sendCapacity: Int { base.sendCapacity }
    public func close() { base.close() }
    public var recordedStamp: ReadStamp? { base.recordedStamp }
}

/// A TCP client socket over io_uring or, when that is unavailable or disabled, plain
/// non-blocking `recv`/`send`. One receive buffer and one send queue, allocated at init.
///
/// Owned by one thread. With io_uring, the receive buffer is lent to the kernel while a
/// recv is in flight; `close()` waits for it to come back before the memory is freed.
public final class TCPTransport: Transport {
    public let backend: NetBackend
    private let reactor: IoUringReactor?
    private var slot = -1
    private(set) var fd: Int32 = -1

    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private var recvInFlight = false
    private var recvCompleted: Int32?
    private var receiveLent = false

    private let sendBuffer: UnsafeMutableRawBufferPointer
    private var sendHead = 0
    private var sendTail = 0
    private var sendInFlight = 0
    private var sendFailure: Int32?
    private var connected = false

    /// Counters for reports and tests.
    public private(set) var bytesReceived: UInt64 = 0
    public private(set) var bytesSent: UInt64 = 0
    public private(set) var receiveCalls: UInt64 = 0

    /// - Parameters:
    ///   - backend: the I/O path (`NetBackend.detect().backend` normally).
    ///   - reactor: the ring to share with other sockets of this thread; `nil` creates one
    ///     for this socket when the backend is io_uring.
    public init(
        backend: NetBackend, reactor: IoUringReactor? = nil, receiveBufferBytes: Int = 256 * 1024,
        sendBufferBytes: Int = (1 << 20) + 64 * 1024
    ) throws(NetError) {
        precondition(receiveBufferBytes > 0 && sendBufferBytes > 0, "buffer sizes must be positive")
        self.backend = backend
        if backend == .ioUring {
            if let reactor {
                self.reactor = reactor
            } else {
                self.reactor = try IoUringReactor(entries: 16, maxSockets: 1)
            }
        } else {
            self.reactor = nil
        }
        receiveBuffer = .allocate(byteCount: receiveBufferBytes, alignment: 64)
        sendBuffer = .allocate(byteCount: sendBufferBytes, alignment: 64)
    }

    deinit {
        close()
        // A recv still lent to the kernel after close()'s bounded wait keeps its memory.
        if !recvInFlight && sendInFlight == 0 {
            receiveBuffer.deallocate()
            sendBuffer.deallocate()
        }
    }

    public func connect(to address: SocketAddress) throws(NetError) {
        precondition(fd < 0, "connect on a transport that is already open (fd \(fd))")
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw .system(call: "socket", errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 && errno != EINPROGRESS {
            let code = errno
            Glibc.close(socketFD)
            throw .system(call: "connect", errno: code)
        }
        fd = socketFD
        sendHead = 0
        sendTail = 0
        sendFailure = nil
        recvCompleted = nil
        receiveLent = false
        connected = false
        if let reactor {
            guard let attached = reactor.attach(self) else {
                Glibc.close(socketFD)
                fd = -1
                throw .system(call: "IoUringReactor.attach (no free slot)", errno: ENOBUFS)
            }
            slot = attached
        }
    }

    public func pollConnect() -> ConnectProgress {
        guard fd >= 0 else { return .failed(.notConnected) }
        if connected { return .connected }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&descriptor, 1, 0)
        if ready < 0 { return errno == EINTR ? .inProgress : .failed(.system(call: "poll", errno: errno)) }
        if ready == 0 { return .inProgress }
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
        if socketError != 0 { return .failed(.system(call: "connect", errno: socketError)) }
        connected = true
        return .connected
    }

    public func receive() -> ReceiveResult {
        guard connected else { return .failed(.notConnected) }
        receiveCalls &+= 1
        guard let reactor else {
            let result = Syscall.retrying { Glibc.recv(fd, receiveBuffer.baseAddress, receiveBuffer.count, 0) }
            switch result {
            case .done(0): return .endOfStream
            case .done(let count):
                bytesReceived &+= UInt64(count)
                return .bytes(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]))
            case .wouldBlock: return .nothing
            case .failed(let code): return .failed(.system(call: "recv", errno: code))
            }
        }
        // The buffer handed out last time is free again: lend it to the kernel.
        if !recvInFlight && recvCompleted == nil {
            if reactor.queueRecv(slot: slot, fd: fd, buffer: receiveBuffer.baseAddress!, count: receiveBuffer.count) {
                recvInFlight = true
            }
        }
        reactor.pollOnce()
        guard let result = recvCompleted else { return .nothing }
        recvCompleted = nil
        if result == 0 { return .endOfStream }
        if result < 0 {
            if -result == EAGAIN || -result == EINTR { return .nothing }
            return .failed(.system(call: "io_uring recv", errno: -result))
        }
        bytesReceived &+= UInt64(result)
        return .bytes(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<Int(result)]))
    }

    /// Called by the reactor with a completion for this socket.
    func complete(_ operation: IoUringReactor.Operation, result: Int32) {
        switch operation {
        case .recv:
            recvInFlight = false
            recvCompleted = result
        case .send:
            let count = sendInFlight
            sendInFlight = 0
            if result < 0 {
                if -result != EAGAIN && -result != EINTR { sendFailure = -result }
            } else {
                precondition(Int(result) <= count, "io_uring send completed \(result) of \(count) bytes")
                sendHead += Int(result)
                bytesSent &+= UInt64(result)
                if sendHead == sendTail { sendHead = 0; sendTail = 0 }
            }
        }
    }

    public func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        if sendTail + count > sendBuffer.count && sendInFlight == 0 && sendHead > 0 {
            // Move the unsent tail to the front (nothing of it is lent to the kernel).
            let pending = sendTail - sendHead
            sendBuffer.baseAddress!.copyMemory(from: sendBuffer.baseAddress! + sendHead, byteCount: pending)
            sendHead = 0
            sendTail = pending
        }
        guard sendTail + count <= sendBuffer.count else { return nil }
        return UnsafeMutableRawBufferPointer(rebasing: sendBuffer[sendTail..<(sendTail + count)])
    }

    public func commitSend(_ count: Int) {
        precondition(sendTail + count <= sendBuffer.count, "commitSend(\(count)) beyond the reservation")
        sendTail += count
    }

    public var pendingSendBytes: Int { sendTail - sendHead }
    public var sendCapacity: Int { sendBuffer.count }

    public func flush() -> NetError? {
        guard fd >= 0, connected else { return .notConnected }
        if let failure = sendFailure { return .system(call: "send", errno: failure) }
        guard let reactor else {
            while sendHead < sendTail {
                let result = Syscall.retrying {
                    Glibc.send(fd, sendBuffer.baseAddress! + sendHead, sendTail - sendHead, Int32(MSG_NOSIGNAL))
                }
                switch result {
                case .done(let count):
                    sendHead += count
                    bytesSent &+= UInt64(count)
                case .wouldBlock:
                    return nil
                case .failed(let code):
                    sendFailure = code
                    return .system(call: "send", errno: code)
                }
            }
            sendHead = 0
            sendTail = 0
            return nil
        }
        if sendInFlight == 0 && sendHead < sendTail {
            let count = sendTail - sendHead
            if reactor.queueSend(slot: slot, fd: fd, buffer: sendBuffer.baseAddress! + sendHead, count: count) {
                sendInFlight = count
                reactor.submit()
            }
        }
        return nil
    }

    public func close() {
        guard fd >= 0 else { return }
        // Shutting the socket down completes a pending recv (with 0) and a pending send.
        _ = shutdown(fd, Int32(SHUT_RDWR))
        if let reactor {
            var rounds = 0
            while (recvInFlight || sendInFlight > 0) && rounds < 100 {
                reactor.waitOnce(timeoutNs: 10_000_000)
                rounds += 1
            }
            // Detached either way: a completion arriving later carries an old generation
            // and is dropped; its buffer stays allocated (see deinit).
            reactor.detach(slot: slot)
        }
        Glibc.close(fd)
        fd = -1
        connected = false
        recvCompleted = nil
    }
}
