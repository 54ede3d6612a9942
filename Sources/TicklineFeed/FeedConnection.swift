import TicklineCore
import TicklineNet
import TicklineWebSocket

/// One WebSocket connection of a feed and the symbols assigned to it: its lifecycle
/// (down → connecting → open → closing → down), its reconnect backoff, its ping/silence
/// timers, its control-message rate limit and the SUBSCRIBE/UNSUBSCRIBE work still to send.
/// The feed agent drives it; it owns no market state.
///
/// Owned by the feed agent's thread. Not thread-safe.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class FeedConnection {
    public enum Phase: Sendable, Equatable {
        /// Not connected; reconnects at `reconnectAtNs` when it has symbols.
        case down
        /// TCP connect or opening handshake in progress.
        case connecting
        case open
        /// We sent a close (proactive reconnect, server shutdown) and wait for the peer's.
        case closing
    }

    public let index: Int
    let socket: WebSocketConnection<AnyTransport>
    @exclusivity(unchecked) public internal(set) var phase = Phase.down
    /// When a `down` connection may connect again.
    @exclusivity(unchecked) public internal(set) var reconnectAtNs: MonotonicNanos = 0
    /// Failed attempts in a row (reset by the first message after an open).
    @exclusivity(unchecked) public internal(set) var attempts = 0
    @exclusivity(unchecked) var openedAtNs: MonotonicNanos = 0
    /// The feed cycle's clock when the last read brought bytes.
    @exclusivity(unchecked) var lastReadNs: MonotonicNanos = 0
    @exclusivity(unchecked) var lastPongNs: MonotonicNanos = 0
    /// When our outstanding ping went out; 0 = none outstanding.
    @exclusivity(unchecked) var pingSentNs: MonotonicNanos = 0
    @exclusivity(unchecked) var pingCounter: UInt64 = 0
    @exclusivity(unchecked) var receivedData = false
    /// Set by `serverShutdown` or the 24 h timer: close and reconnect without backoff.
    @exclusivity(unchecked) var restartRequested = false
    @exclusivity(unchecked) var reconnectImmediately = false
    /// The code the last connection ended with.
    @exclusivity(unchecked) public internal(set) var lastCloseCode: CloseCode?
    /// Why the connection last failed (connect, TLS, handshake, protocol, transport), for
    /// logs and the operator: the counters say how often, this says what.
    @exclusivity(unchecked) public internal(set) var lastFailure: ConnectionError?

    /// Table indexes of the symbols assigned here, and their stream count.
    @exclusivity(unchecked) public internal(set) var symbols: [Int32]
    @exclusivity(unchecked) public internal(set) var streams = 0
    /// Symbols still to SUBSCRIBE / UNSUBSCRIBE on the open connection.
    @exclusivity(unchecked) var toSubscribe: [Int32]
    @exclusivity(unchecked) var toUnsubscribe: [Int32]

    /// Send times of the last `count` control messages (a ring; the oldest at `controlNext`).
    @exclusivity(unchecked) private var controlTimes: [MonotonicNanos]
    @exclusivity(unchecked) private var controlNext = 0

    init(index: Int, socket: WebSocketConnection<AnyTransport>, symbolCapacity: Int, controlMessagesPerSecond: Int) {
        self.index = index
        self.socket = socket
        symbols = []
        symbols.reserveCapacity(symbolCapacity)
        toSubscribe = []
        toSubscribe.reserveCapacity(symbolCapacity)
        toUnsubscribe = []
        toUnsubscribe.reserveCapacity(symbolCapacity)
        controlTimes = Array(repeating: MonotonicNanos(Int64.min / 2), count: controlMessagesPerSecond)
    }

    /// Whether one more control message fits in the last second's budget.
    func controlAllowed(nowNs: MonotonicNanos) -> Bool { nowNs &- controlTimes[controlNext] >= 1_000_000_000 }

    /// Records a control message sent at `nowNs`.
    func recordControl(nowNs: MonotonicNanos) {
        controlTimes[controlNext] = nowNs
        controlNext = (controlNext + 1) % controlTimes.count
    }

    /// The latest sign of life: a read, a pong, or the open itself (all on the feed cycle's
    /// clock, which is simulated in a replay).
    var lastActivityNs: MonotonicNanos { max(lastReadNs, lastPongNs, openedAtNs) }

    /// The socket's state (for reports and tests).
    public var socketState: WebSocketConnection<AnyTransport>.State { socket.state }
}

extension FeedConnection {
    /// The socket I/O path this connection uses.
    public var backend: NetBackend { socket.transport.backend }
}
