import TicklineCore

/// Why a `FeedConfig` was refused (cold path). Each case names the field and the value.
public enum FeedConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(field: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let field, let value, let reason): "feed config: \(field) = \(value): \(reason)"
        }
    }
}

/// A feed's TLS settings (`feeds[].tls`).
public struct FeedTLS: Sendable, Equatable {
    /// `ca_file`: PEM CA certificates trusted instead of the system store (nil: the system store).
    public var caFile: String?
    /// `server_name`: the name sent as SNI and checked against the certificate (nil:
    /// `stream_host`, else the host of `stream_address`).
    public var serverName: String?

    public init(caFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.serverName = serverName
    }
}

/// Everything one Binance-style feed needs: where to connect, which symbols and streams,
/// how connections are split, and the timers of reconnects, pings, staleness and snapshots.
/// A plain value with defaults; the YAML section (one entry of `feeds:`) maps onto it field
/// by field (the key is in each comment). Immutable once the agent is built.
public struct FeedConfig: Sendable, Equatable {
    /// `name`: the agent's role is `feed.<name>`.
    public var name = "binance"
    /// `stream_address`: numeric IPv4 `host:port` of the WebSocket endpoint (names are
    /// resolved by the caller, off the hot path; `tls` says whether it speaks TLS).
    public var streamAddress = "127.0.0.1:9443"
    /// `stream_host`: the `Host` header (default: the address).
    public var streamHost: String? = nil
    /// `stream_path`: the combined-stream endpoint; streams are added with SUBSCRIBE.
    public var streamPath = "/stream"
    /// `tls`: the stream endpoint speaks TLS (`wss://`); nil = plain TCP (`ws://`).
    public var tls: FeedTLS? = nil
    /// `rest_base`: base URL of the depth snapshots (e.g. `https://api.binance.com`,
    /// `https://fapi.binance.com`).
    public var restBase = "http://127.0.0.1:9443"
    /// `venue`: the venue whose instruments the feed carries (its position in the engine's
    /// `venues:` list; the YAML names it). Its symbols are that venue's instruments.
    public var venue: VenueId = 0
    /// `market`: which Binance market the feed reads: the venue it speaks to (`FeedVenue`: its
    /// limits, REST depth path and weights, decoder; the diff rules are detected from the
    /// diffs themselves).
    public var market = BinanceMarket.spot
    /// `symbols`: symbols subscribed at start (venue spelling, e.g. `BTCUSDT`).
    public var symbols: [String] = []
    /// `streams`: stream suffixes per symbol (`<symbol>@<suffix>`).
    public var streams: [String] = ["trade", "bookTicker", "depth@100ms"]
    /// `connections`: WebSocket connections of this feed; symbols go to the least loaded one.
    public var connections = 1
    /// `streams_per_connection`: at most 1024 (the venue's limit).
    public var streamsPerConnection = 1024
    /// `control_messages_per_second`: SUBSCRIBE/UNSUBSCRIBE and our own pings, per
    /// connection, in any one-second window (the venue drops a connection above 5).
    public var controlMessagesPerSecond = 5
    /// `streams_per_control_message`: params of one SUBSCRIBE/UNSUBSCRIBE.
    public var streamsPerControlMessage = 200
    /// `reconnect_backoff_initial_ms`, `reconnect_backoff_max_ms`: exponential backoff of reconnects.
    public var backoffInitialMs = 100
    public var backoffMaxMs = 30_000
    /// `reconnect_jitter`: fraction (0…1) of each delay taken off at random, so that many
    /// connections do not come back at the same instant.
    public var jitter = 0.2
    /// `stale_after_ms`: no data for this long on a subscribed symbol → a `stale` event.
    public var staleAfterMs = 5_000
    /// `ping_interval_ms`: after this long without a read we ping the server.
    public var pingIntervalMs = 15_000
    /// `pong_timeout_ms`: no byte and no pong this long after our ping → reconnect.
    public var pongTimeoutMs = 10_000
    /// `proactive_reconnect_ms`: reconnect a connection before the venue's 24 h cut (23 h 50 m).
    public var proactiveReconnectMs = (23 * 60 + 50) * 60 * 1_000
    /// `open_timeout_ms`: TCP connect + opening handshake.
    public var openTimeoutMs = 5_000
    /// `snapshot_limit`: levels per side asked of the REST snapshot (at most 5000).
    public var snapshotLimit = 1_000
    /// `snapshot_timeout_ms`: whole REST request.
    public var snapshotTimeoutMs = 5_000
    /// `snapshot_retry_initial_ms`, `snapshot_retry_max_ms`: backoff of failed or too-old snapshots.
    public var snapshotRetryInitialMs = 100
    public var snapshotRetryMaxMs = 5_000
    /// `snapshot_weight_per_minute`: REST request weight the snapshots may spend per minute
    /// (Binance allows 6000 per IP for everything; a depth request weighs 5/25/50/250 by limit).
    public var snapshotWeightPerMinute = 3_000
    /// `snapshot_max_bytes`: largest REST body accepted.
    public var snapshotMaxBytes = 1 << 20
    /// `snapshot_parallel`: requests in flight at once (slots of the fetcher).
    public var snapshotParallel = 4
    /// `book_levels_per_side`: levels kept per book side (≥ the snapshot limit to hold it).
    public var bookLevelsPerSide = 1_000
    /// `pending_diffs`, `pending_levels`: diffs buffered per book while its snapshot is fetched.
    public var pendingDiffs = 256
    public var pendingLevels = 16_384
    /// `max_frame_bytes`: largest WebSocket frame/message accepted (bigger → close 1009).
    public var maxFrameBytes = 1 << 20
    /// `receive_buffer_bytes`: per connection.
    public var receiveBufferBytes = 256 * 1024
    /// `reads_per_cycle`: read batches taken per connection per duty cycle (bounds one `doWork`).
    public var readsPerCycle = 8
    /// Books wait for snapshots arriving on the stream and none is asked of REST: a replayed
    /// recording holds the snapshots its recorder fetched (not a config key).
    public var snapshotsOnStream = false

    public init() {}


    /// Checks ranges once, at setup, the venue's limits against `venue` (default: `market`).
    public func validate(venue: (any FeedVenue)? = nil) throws(FeedConfigError) {
        let venue = venue ?? market
        func require(_ ok: Bool, _ field: String, _ value: Any, _ reason: String) throws(FeedConfigError) {
            if !ok { throw .invalid(field: field, value: "\(value)", reason: reason) }
        }
        try require(!streams.isEmpty, "streams", streams, "at least one stream per symbol")
        try require(connections >= 1 && connections <= 64, "connections", connections, "1…64")
        let maxStreams = venue.maxStreamsPerConnection, maxControl = venue.maxControlMessagesPerSecond
        try require(streamsPerConnection >= streams.count && streamsPerConnection <= maxStreams, "streams_per_connection",
                    streamsPerConnection, "between the streams of one symbol (\(streams.count)) and \(maxStreams) (the venue's limit)")
        try require(controlMessagesPerSecond >= 1 && controlMessagesPerSecond <= maxControl, "control_messages_per_second",
                    controlMessagesPerSecond, "1…\(maxControl) (the venue's limit is \(maxControl))")
        try require(streamsPerControlMessage >= streams.count, "streams_per_control_message", streamsPerControlMessage,
                    "must hold the streams of one symbol (\(streams.count))")
        try require(backoffInitialMs >= 1 && backoffMaxMs >= backoffInitialMs, "reconnect_backoff_max_ms", backoffMaxMs,
                    "positive and ≥ reconnect_backoff_initial_ms (\(backoffInitialMs))")
        try require(jitter >= 0 && jitter <= 1, "reconnect_jitter", jitter, "0…1")
        try require(staleAfterMs >= 1, "stale_after_ms", staleAfterMs, "positive")
        try require(pingIntervalMs >= 1, "ping_interval_ms", pingIntervalMs, "positive")
        try require(pongTimeoutMs >= 1, "pong_timeout_ms", pongTimeoutMs, "positive")
        try require(proactiveReconnectMs >= 1, "proactive_reconnect_ms", proactiveReconnectMs, "positive")
        try require(openTimeoutMs >= 1, "open_timeout_ms", openTimeoutMs, "positive")
        try require(snapshotLimit >= 1 && snapshotLimit <= 5_000, "snapshot_limit", snapshotLimit, "1…5000")
        try require(bookLevelsPerSide >= DepthSnapshot.depth, "book_levels_per_side", bookLevelsPerSide,
                    "at least the published depth \(DepthSnapshot.depth)")
        try require(snapshotParallel >= 1 && snapshotParallel <= 64, "snapshot_parallel", snapshotParallel, "1…64")
        try require(snapshotWeightPerMinute >= venue.snapshotWeight(limit: snapshotLimit), "snapshot_weight_per_minute",
                    snapshotWeightPerMinute, "must allow one request (weight \(venue.snapshotWeight(limit: snapshotLimit)))")
        try require(snapshotMaxBytes >= 4_096, "snapshot_max_bytes", snapshotMaxBytes, "at least 4096")
        try require(snapshotTimeoutMs >= 1, "snapshot_timeout_ms", snapshotTimeoutMs, "positive")
        try require(snapshotRetryInitialMs >= 1 && snapshotRetryMaxMs >= snapshotRetryInitialMs, "snapshot_retry_max_ms",
                    snapshotRetryMaxMs, "positive and ≥ snapshot_retry_initial_ms")
        try require(readsPerCycle >= 1, "reads_per_cycle", readsPerCycle, "positive")
        try require(pendingDiffs >= 1, "pending_diffs", pendingDiffs, "positive")
        try require(pendingLevels >= 1, "pending_levels", pendingLevels, "positive")
        try require(maxFrameBytes >= 1_024, "max_frame_bytes", maxFrameBytes, "at least 1024")
        try require(receiveBufferBytes >= 4_096, "receive_buffer_bytes", receiveBufferBytes, "at least 4096")
    }
}

/// A Binance market a feed reads (`market:`): its stream and subscription limits, where its
/// REST depth snapshots are and what they weigh (see its `FeedVenue` conformance).
public enum BinanceMarket: String, Sendable, CaseIterable {
    case spot
    /// USD-M futures (`fapi`).
    case usdmFutures = "usdm_futures"
}
