import TicklineFeed

/// `feeds:` — a list, one entry per venue connection set, each mapping onto `FeedConfig`
/// key by key (defaults in `FeedConfig`, documented in Config/laptop.yaml).
enum FeedsConfig {
    static let keys = ["name", "venue", "market", "stream_url", "stream_address", "stream_host", "stream_path", "tls", "rest_base", "symbols",
                       "streams", "connections",
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
            if let url = try text("stream_url") {
                guard m.optional("stream_address") == nil && m.optional("stream_path") == nil else {
                    throw item.error("feed '\(f.name)': give stream_url, or stream_address and stream_path, not both")
                }
                let endpoint: StreamURL
                do { endpoint = try StreamURL(url) } catch { throw item.error("feed '\(f.name)': stream_url \(url): \(error.description)") }
                f.streamAddress = "\(endpoint.host):\(endpoint.port)"
                f.streamPath = endpoint.path
                if endpoint.secure { f.tls = FeedTLS() }
            }
            if let v = m.optional("tls") {
                var t = try v.mapping()
                var tls = f.tls ?? FeedTLS()
                if let ca = try t.optional("ca_file")?.string() { tls.caFile = ca }
                if let name = try t.optional("server_name")?.string() { tls.serverName = name }
                try t.finish(allowed: ["ca_file", "server_name"])
                if let url = try text("stream_url"), url.hasPrefix("ws://") {
                    throw item.error("feed '\(f.name)': tls is set but stream_url \(url) is plain ws://: write wss://")
                }
                f.tls = tls
            }
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

/// `stream_url`: `wss://HOST:PORT/PATH` (or `ws://` for a local server without TLS); the
/// port defaults to 443 (wss) or 80 (ws), the path to `/`. HOST is a numeric IPv4 address
/// or `localhost`: names are not resolved yet.
struct StreamURL: Equatable {
    struct Invalid: Error, CustomStringConvertible { let description: String }

    var secure: Bool
    var host: String
    var port: Int
    var path: String

    init(_ text: String) throws(Invalid) {
        if text.hasPrefix("wss://") {
            secure = true
        } else if text.hasPrefix("ws://") {
            secure = false
        } else {
            throw Invalid(description: "expected wss://HOST:PORT/PATH (or ws:// for a server without TLS)")
        }
        let rest = text.dropFirst(secure ? 6 : 5)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        if let colon = authority.lastIndex(of: ":") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(p) else {
                throw Invalid(description: "the port must be a number in 1…65535")
            }
            host = String(authority[..<colon])
            port = p
        } else {
            host = String(authority)
            port = secure ? 443 : 80
        }
        if host == "localhost" { host = "127.0.0.1" }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else {
            throw Invalid(description: "the host '\(host)' is a name: names are not resolved yet; give its numeric IPv4 address and "
                          + "name the certificate's host in tls.server_name (and stream_host for the Host header)")
        }
    }
}
