/// Two transports joined in memory: what one end sends, the other receives. For peers that
/// run on one thread without sockets (a TLS client and server in a benchmark or a test).
/// Each end's receive buffer is allocated once; a send that does not fit is refused by
/// `reserveSend`, as a full socket queue would be. Both ends are owned by one thread.
public final class MemoryTransport: Transport {
    public var backend: NetBackend { .posix }
    /// The other end (set once by `pair`).
    public private(set) unowned(unsafe) var peer: MemoryTransport?
    private let inbound: UnsafeMutableRawBufferPointer
    /// `[0, handedOut)` was returned by the last `receive`; `[handedOut, count)` waits.
    private var count = 0
    private var handedOut = 0
    private var open = false
    private var peerClosed = false

    /// Two joined ends, each receiving up to `capacity` bytes between its reads.
    public static func pair(capacity: Int) -> (MemoryTransport, MemoryTransport) {
        let a = MemoryTransport(capacity: capacity), b = MemoryTransport(capacity: capacity)
        a.peer = b
        b.peer = a
        return (a, b)
    }

    private init(capacity: Int) {
        precondition(capacity > 0, "capacity \(capacity) must be positive")
        inbound = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { inbound.deallocate() }

    public func connect(to address: SocketAddress) throws(NetError) {
        open = true
        peerClosed = false
        count = 0
        handedOut = 0
    }

    public func pollConnect() -> ConnectProgress { open ? .connected : .failed(.notConnected) }

    public func receive() -> ReceiveResult {
        guard open else { return .failed(.notConnected) }
        if handedOut > 0 {
            let rest = count - handedOut
            if rest > 0 { inbound.baseAddress!.copyMemory(from: inbound.baseAddress! + handedOut, byteCount: rest) }
            count = rest
            handedOut = 0
        }
        guard count > 0 else { return peerClosed ? .endOfStream : .nothing }
        handedOut = count
        return .bytes(UnsafeRawBufferPointer(rebasing: inbound[0..<count]))
    }

    public func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        guard open, let peer, peer.open, peer.count + count <= peer.inbound.count else { return nil }
        return UnsafeMutableRawBufferPointer(rebasing: peer.inbound[peer.count..<(peer.count + count)])
    }

    public func commitSend(_ count: Int) {
        guard let peer else { return }
        precondition(peer.count + count <= peer.inbound.count, "commitSend(\(count)) beyond the peer's buffer")
        peer.count += count
    }

    public func flush() -> NetError? { open ? nil : .notConnected }
    public var pendingSendBytes: Int { 0 }
    public var sendCapacity: Int { peer?.inbound.count ?? 0 }

    public func close() {
        open = false
        peer?.peerClosed = true
    }
}
