import TicklineFeed

/// `feeds:` — a list, one entry per venue connection set, each mapping onto `FeedConfig`
/// key by key (defaults in `FeedConfig`, documented in Config/laptop.yaml).
enum FeedsConfig {
    static let keys = ["name", "venue", "market", "stream_address", "stream_host", "stream_path", "rest_base", "symbols", "streams", "connections",
                       "streams_per_connection", "control_messages_per_second", "streams_per_control_message",
                       "reconnect_backoff_initial_ms", "reconnect_backoff_max_ms", "reconnect_jitter", "stale_after_ms",
                       "ping_interval_ms", "pong_timeout_ms", "proactive_reconnect_ms", "open_timeout_ms", "snapshot_limit",
                       "snapshot_timeout_ms", "snapshot_retry_initial_ms", "snapshot_retry_max_ms", "snapshot_weight_per_minute",
                       "snapshot_max_bytes", "snapshot_parallel", "book_levels_per_side", "pending_diffs", "pending_levels",
                       "max_frame_bytes", "receive_buffer_bytes", "reads_per_cycle"]

    static func parse(_ value: ConfigValue, venues: [VenueConfig]) throws(ConfigError) -> [FeedConfig] {
        var feeds: [FeedConfig] = []
        for item in try value.list() {
            var m = try item.mapping()
            var f = FeedConfig()
            func int(_ key: String) throws(ConfigError) -> Int? { try m.optional(key)?.int(in: 0...Int(Int32.max)) }
            func text(_ key: String) throws(ConfigError) -> String? { try m.optional(key)?.string() }
            if let v = try text("name") { f.name = v }
            f.venue = try VenuesConfig.resolve(m.optional("venue"), in: venues, for: "feed '\(f.name)'")
            if let v = try text("stream_address") { f.streamAddress = v }
            if let v = try text("stream_host") { f.streamHost = v }
            if let v = try text("stream_path") { f.streamPath = v }
            if let v = try text("rest_base") { f.restBase = v }
            if let v = m.optional("market") { f.market = BinanceMarket(rawValue: try v.choice(BinanceMarket.allCases.map(\.rawValue)))! }
            if let v = m.optional("symbols") {
                var list: [String] = []
                for s in try v.list() { list.append(try s.string().uppercased()) }
                f.symbols = list
            }
            if let v = m.optional("streams") {
                var list: [String] = []
                for s in try v.list() { list.append(try s.string()) }
                f.streams = list
            }
            if let v = try int("connections") { f.connections = v }
            if let v = try int("streams_per_connection") { f.streamsPerConnection = v }
            if let v = try int("control_messages_per_second") { f.controlMessagesPerSecond = v }
            if let v = try int("streams_per_control_message") { f.streamsPerControlMessage = v }
            if let v = try int("reconnect_backoff_initial_ms") { f.backoffInitialMs = v }
            if let v = try int("reconnect_backoff_max_ms") { f.backoffMaxMs = v }
            if let v = m.optional("reconnect_jitter") { f.jitter = try v.double(in: 0...1) }
            if let v = try int("stale_after_ms") { f.staleAfterMs = v }
            if let v = try int("ping_interval_ms") { f.pingIntervalMs = v }
            if let v = try int("pong_timeout_ms") { f.pongTimeoutMs = v }
            if let v = try int("proactive_reconnect_ms") { f.proactiveReconnectMs = v }
            if let v = try int("open_timeout_ms") { f.openTimeoutMs = v }
            if let v = try int("snapshot_limit") { f.snapshotLimit = v }
            if let v = try int("snapshot_timeout_ms") { f.snapshotTimeoutMs = v }
            if let v = try int("snapshot_retry_initial_ms") { f.snapshotRetryInitialMs = v }
            if let v = try int("snapshot_retry_max_ms") { f.snapshotRetryMaxMs = v }
            if let v = try int("snapshot_weight_per_minute") { f.snapshotWeightPerMinute = v }
            if let v = try int("snapshot_max_bytes") { f.snapshotMaxBytes = v }
            if let v = try int("snapshot_parallel") { f.snapshotParallel = v }
            if let v = try int("book_levels_per_side") { f.bookLevelsPerSide = v }
            if let v = try int("pending_diffs") { f.pendingDiffs = v }
            if let v = try int("pending_levels") { f.pendingLevels = v }
            if let v = try int("max_frame_bytes") { f.maxFrameBytes = v }
            if let v = try int("receive_buffer_bytes") { f.receiveBufferBytes = v }
            if let v = try int("reads_per_cycle") { f.readsPerCycle = v }
            try m.finish(allowed: keys)
            do { try f.validate() } catch { throw item.error(error.description) }
            if feeds.contains(where: { $0.name == f.name }) { throw item.error("a second feed named '\(f.name)'") }
            feeds.append(f)
        }
        return feeds
    }
}
