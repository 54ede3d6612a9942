import TicklineWebSocket

/// What the feed agent counted. Owned by the agent's thread; read it there (or after the
/// agent stopped); other threads read the copy it publishes (`FeedAgent.publishedCounters`).
/// A Binance feed's decode errors by reason are in its `BinanceFeedProcessor`'s
/// `decoder.counters`, book counters in each `OrderBook.counters`.
public struct FeedCounters: Sendable, BitwiseCopyable {
    // Messages and publishing.
    /// WebSocket messages received (text or binary).
    public var messages: UInt64 = 0
    /// Messages the decoder refused.
    public var decodeErrors: UInt64 = 0
    /// Well-formed events of streams Tickline does not use (kline, markPrice, …): skipped, not errors.
    public var unsupportedMessages: UInt64 = 0
    /// Events pushed to the market ring (trades, quotes, book tops, stale/fresh).
    public var marketEvents: UInt64 = 0
    /// Top-N snapshots pushed to the depth ring.
    public var depthSnapshots: UInt64 = 0
    /// Pushes the rings refused (drop-newest; the rings count them too).
    public var marketDropped: UInt64 = 0
    public var depthDropped: UInt64 = 0
    public var journalDropped: UInt64 = 0
    /// Data for a symbol not (or no longer) subscribed on that connection: not published.
    public var unsubscribedMessages: UInt64 = 0

    // Connections.
    /// Connects started.
    public var connectAttempts: UInt64 = 0
    /// Opening handshakes completed.
    public var opened: UInt64 = 0
    /// Reconnects scheduled after a connection ended (backoff or immediate).
    public var reconnects: UInt64 = 0
    public var connectFailures: UInt64 = 0
    public var handshakeFailures: UInt64 = 0
    /// The server broke RFC 6455; the connection was closed with the violation's code.
    public var protocolViolations: UInt64 = 0
    public var transportErrors: UInt64 = 0
    /// TCP dropped without a close frame.
    public var peerDisconnects: UInt64 = 0
    /// Opening or closing handshake timed out.
    public var timeouts: UInt64 = 0
    /// Close frames received from the server.
    public var closesReceived: UInt64 = 0
    /// No byte and no pong within `pong_timeout_ms` of our ping: dropped and reconnected.
    public var silentDisconnects: UInt64 = 0
    /// Reconnects made before the venue's 24 h cut.
    public var proactiveReconnects: UInt64 = 0
    /// `serverShutdown` messages (each causes an immediate reconnect).
    public var serverShutdowns: UInt64 = 0
    public var pingsSent: UInt64 = 0
    public var pongsReceived: UInt64 = 0
    /// Server pings answered (by the connection, with the same payload).
    public var pingsAnswered: UInt64 = 0

    // Subscriptions.
    public var subscribeMessages: UInt64 = 0
    public var unsubscribeMessages: UInt64 = 0
    /// `{"result":…,"id":…}` replies.
    public var controlReplies: UInt64 = 0
    /// `{"code":…,"msg":…}` replies.
    public var controlErrors: UInt64 = 0
    /// Duty cycles in which a control message waited for the rate limit.
    public var controlRateLimited: UInt64 = 0
    /// Subscriptions refused: every connection was full.
    public var subscribeRefused: UInt64 = 0
    /// `control.feed` commands applied (a symbol added to or removed from a connection).
    public var subscribesApplied: UInt64 = 0
    public var unsubscribesApplied: UInt64 = 0
    /// `control.feed` commands refused, by `FeedCommandRefusal` (the control plane checks
    /// first, so a refusal here means it and the feed disagree, or every connection is full).
    public var commandRefusals = InlineArray<8, UInt64>(repeating: 0)

    // Books.
    /// Depth diffs that broke continuity (each one starts a resync).
    public var gaps: UInt64 = 0
    /// Capacity truncation left a side too thin: resync.
    public var exhaustedBooks: UInt64 = 0
    /// Books sent to resync by a gap or an exhausted side (reconnects invalidate every book too).
    public var resyncs: UInt64 = 0
    /// REST snapshots that synced a book.
    public var snapshotsSynced: UInt64 = 0
    public var snapshotRequests: UInt64 = 0
    /// Snapshots older than the buffered diffs: fetched again.
    public var snapshotsTooOld: UInt64 = 0
    /// Bodies that did not decode as a depth snapshot.
    public var snapshotsMalformed: UInt64 = 0
    /// Answers for a book that moved on (reconnect, gap, unsubscribe) since the request.
    public var snapshotsDiscarded: UInt64 = 0
    /// Times a due snapshot request waited for the REST weight budget.
    public var snapshotBudgetWaits: UInt64 = 0
    /// Failed requests by `SnapshotStatus` (index 0, `.ok`, stays 0).
    public var snapshotFailures = InlineArray<5, UInt64>(repeating: 0)

    // Staleness.
    public var staleEvents: UInt64 = 0
    public var freshEvents: UInt64 = 0

    /// Violations by kind (index: `ProtocolViolation.rawValue`).
    public var violations = InlineArray<16, UInt64>(repeating: 0)

    public init() {}

    public func violations(_ kind: ProtocolViolation) -> UInt64 { violations[Int(kind.rawValue)] }
    public func snapshotFailures(_ status: SnapshotStatus) -> UInt64 { snapshotFailures[Int(status.rawValue)] }
    public func commandRefusals(_ reason: FeedCommandRefusal) -> UInt64 { commandRefusals[Int(reason.rawValue)] }
}
