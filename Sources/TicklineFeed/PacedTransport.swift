import Synchronization
import TicklineCore
import TicklineNet

/// The server end of a feed's connection that makes its own messages at a fixed rate (the
/// demo's feed, on the feed stage's thread like a socket): each `receive()` frames the
/// messages due by then (`rate` a second of the real monotonic clock since the connection
/// opened, at most `batch` per read) through a `RecordingTransport` and stamps them with
/// the market clock's time, so they take the feed's own WebSocket, decode, book and
/// publish path. Owned by the feed's thread; `delivered` and `refused` are readable anywhere.
public final class PacedTransport: Transport {
    /// Makes the message for receive time `wall` and hands its bytes to `deliver`.
    public typealias Source = (_ wall: WallNanos, _ deliver: (UnsafeRawBufferPointer) -> Void) -> Void

    public let rate: Double
    public let clock: DutyCycleClock
    let server: RecordingTransport
    let source: Source
    let batch: Int
    /// When the connection opened (nil before): messages fall due from then.
    var openedAt: MonotonicNanos?
    var made = 0
    /// Messages framed for the feed.
    public let delivered = Atomic<UInt64>(0)
    /// Messages the connection could not take (longer than the largest frame, or the read
    /// buffer full): counted, never silently lost.
    public let refused = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - rate: messages per real second, > 0.
    ///   - clock: the receive time each message is stamped with.
    ///   - maxMessageBytes: the longest message `source` makes.
    public init(rate: Double, clock: DutyCycleClock, maxMessageBytes: Int, batch: Int = 64, source: @escaping Source) {
        precondition(rate > 0 && batch > 0, "PacedTransport: rate \(rate) and batch \(batch) must be positive")
        self.rate = rate
        self.clock = clock
        self.batch = batch
        self.source = source
        server = RecordingTransport(maxMessageBytes: maxMessageBytes)
    }

    public var backend: NetBackend { server.backend }
    public func connect(to address: SocketAddress) throws(NetError) { try server.connect(to: address) }
    public func pollConnect() -> ConnectProgress { server.pollConnect() }

    public func receive() -> ReceiveResult {
        if server.isOpen {
            let now = Clock.monotonic()
            let start = openedAt ?? now
            openedAt = start
            let due = Int(Double(now - start) / 1e9 * rate)
            var framed = 0
            while made < due && framed < batch {
                let wall = clock.now().wall
                source(wall) { bytes in
                    if server.deliver(bytes, receiveWallNs: wall) {
                        delivered.add(1, ordering: .relaxed)
                    } else {
                        refused.add(1, ordering: .relaxed)
                    }
                }
                made += 1
                framed += 1
            }
        }
        return server.receive()
    }

    public func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer? { server.reserveSend(count) }
    public func commitSend(_ count: Int) { server.commitSend(count) }
    public func flush() -> NetError? { server.flush() }
    public var pendingSendBytes: Int { server.pendingSendBytes }
    public var sendCapacity: Int { server.sendCapacity }
    public func close() { server.close() }
    public var recordedStamp: ReadStamp? { server.recordedStamp }
}
