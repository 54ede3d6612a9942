/// The `writer:` section: where `tickline-writer` sends the journal rings and how it copes
/// when a sink is slow or down. Read once at start (cold path); every key is optional and
/// its default is the value `WriterConfig()` holds. Sink addresses can be overridden at
/// run time by `TICKLINE_INFLUX_URL` and `TICKLINE_REDIS_URL` (see `applyingEnvironment`).
public struct WriterConfig: Sendable, Equatable {
    /// InfluxDB sink.
    public struct Influx: Sendable, Equatable {
        /// Off = points are not written anywhere (the ring cursor still waits for Redis).
        public var enabled: Bool
        /// The full write URL: `http://host:port/write?db=NAME[&rp=RP]` (1.x API) or
        /// `http://host:port/api/v2/write?org=ORG&bucket=BUCKET` (2.x API). `precision=ns`
        /// is added when absent.
        public var url: String
        /// 1.x credentials (sent as `u`/`p`); empty = none.
        public var username: String
        public var password: String
        /// 2.x API token (`Authorization: Token …`); empty = none.
        public var token: String
        /// gzip the request body (`Content-Encoding: gzip`).
        public var gzip: Bool
        /// Lines per HTTP request (lowered at run time after a 413).
        public var batchLines: Int
        /// Whole-request timeout, ms.
        public var timeoutMs: Int
        /// TCP connect timeout, ms.
        public var connectTimeoutMs: Int
        /// Retries of one batch after a 5xx before it is quarantined (counted).
        public var serverErrorRetries: Int

        public init(enabled: Bool = true, url: String = "http://127.0.0.1:8086/write?db=tickline", username: String = "",
                    password: String = "", token: String = "", gzip: Bool = false, batchLines: Int = 5_000,
                    timeoutMs: Int = 10_000, connectTimeoutMs: Int = 1_000, serverErrorRetries: Int = 8) {
            self.enabled = enabled
            self.url = url
            self.username = username
            self.password = password
            self.token = token
            self.gzip = gzip
            self.batchLines = batchLines
            self.timeoutMs = timeoutMs
            self.connectTimeoutMs = connectTimeoutMs
            self.serverErrorRetries = serverErrorRetries
        }
    }

    /// Redis sink.
    public struct Redis: Sendable, Equatable {
        public var enabled: Bool
        /// `redis://[[user]:password@]host[:port][/db]`.
        public var url: String
        /// Approximate cap on each stream's length (`XADD … MAXLEN ~ N`).
        public var streamMaxLength: Int
        /// Connect and per-reply timeout, ms.
        public var timeoutMs: Int

        public init(enabled: Bool = true, url: String = "redis://127.0.0.1:6379/0", streamMaxLength: Int = 1_000_000,
                    timeoutMs: Int = 2_000) {
            self.enabled = enabled
            self.url = url
            self.streamMaxLength = streamMaxLength
            self.timeoutMs = timeoutMs
        }
    }

    public var influx: Influx
    public var redis: Redis
    /// Records taken from one ring per batch (one flush per batch).
    public var batchRecords: Int
    /// Folder of the spill files (one per sink) and timestamp checkpoints.
    public var spillDirectory: String
    /// Bytes each sink's spill file may hold; when full, signal/order/fill/risk rings stop
    /// advancing (never dropped) and market-data rings shed records for that sink (counted).
    public var spillMaxBytes: Int
    /// Backoff after a failed write: starts here, doubles, capped at `backoffMaxMs`.
    public var backoffInitialMs: Int
    public var backoffMaxMs: Int
    /// After 401/403/404 (a configuration error) the sink is probed again this often, ms.
    public var configErrorRetryMs: Int
    /// How often the writer's own metrics are written, ms.
    public var metricsIntervalMs: Int
    /// Sleep when every ring is empty, µs.
    public var idleSleepUs: Int
    /// When the engine's region is gone (creator dead, rings drained): `wait` for a new
    /// engine of the same instance, or `exit`.
    public var onRegionGone: String
    /// On SIGTERM/SIGINT, how long the writer keeps draining what the journal rings hold
    /// before it exits, ms.
    public var stopDrainMs: Int
    /// How long to wait at start for the region to appear and for another writer of the
    /// instance to exit (`WriterLock`), ms (0 = forever).
    public var attachTimeoutMs: Int
    /// CPUs to pin the writer thread to; empty = not pinned.
    public var cores: [Int]
    /// Whether `tickline run` starts the writer and restarts it when it dies (false when
    /// systemd runs it: Config/tickline-writer.service).
    public var supervise: Bool
    /// The writer executable; empty = `tickline-writer` beside the running `tickline`.
    public var binary: String
    /// Wait before restarting a writer that died: starts here, doubles after each death
    /// within a minute of its start, capped at `restartDelayMaxMs`.
    public var restartDelayMs: Int
    public var restartDelayMaxMs: Int

    public init(influx: Influx = .init(), redis: Redis = .init(), batchRecords: Int = 5_000,
                spillDirectory: String = "/var/lib/tickline/spill", spillMaxBytes: Int = 1 << 30,
                backoffInitialMs: Int = 100, backoffMaxMs: Int = 10_000, configErrorRetryMs: Int = 60_000,
                metricsIntervalMs: Int = 1_000, idleSleepUs: Int = 1_000, onRegionGone: String = "wait",
                attachTimeoutMs: Int = 0, stopDrainMs: Int = 5_000, cores: [Int] = [], supervise: Bool = true, binary: String = "",
                restartDelayMs: Int = 500, restartDelayMaxMs: Int = 30_000) {
        self.influx = influx
        self.redis = redis
        self.batchRecords = batchRecords
        self.spillDirectory = spillDirectory
        self.spillMaxBytes = spillMaxBytes
        self.backoffInitialMs = backoffInitialMs
        self.backoffMaxMs = backoffMaxMs
        self.configErrorRetryMs = configErrorRetryMs
        self.metricsIntervalMs = metricsIntervalMs
        self.idleSleepUs = idleSleepUs
        self.onRegionGone = onRegionGone
        self.attachTimeoutMs = attachTimeoutMs
        self.stopDrainMs = stopDrainMs
        self.cores = cores
        self.supervise = supervise
        self.binary = binary
        self.restartDelayMs = restartDelayMs
        self.restartDelayMaxMs = restartDelayMaxMs
    }

    public static let keys = ["influx", "redis", "batch_records", "spill_dir", "spill_max_bytes", "backoff_initial_ms",
                              "backoff_max_ms", "config_error_retry_ms", "metrics_interval_ms", "idle_sleep_us",
                              "on_region_gone", "attach_timeout_ms", "stop_drain_ms", "cores", "supervise", "binary",
                              "restart_delay_ms", "restart_delay_max_ms"]

    /// The same config with sink addresses from `TICKLINE_INFLUX_URL` / `TICKLINE_REDIS_URL`
    /// where set (non-empty).
    public func applyingEnvironment(_ environment: [String: String]) -> WriterConfig {
        var c = self
        if let v = environment["TICKLINE_INFLUX_URL"], !v.isEmpty { c.influx.url = v }
        if let v = environment["TICKLINE_REDIS_URL"], !v.isEmpty { c.redis.url = v }
        return c
    }

    /// Parses `writer:`; errors name the file, line and key.
    public static func parse(_ value: ConfigValue, onlineCpus: Int) throws(ConfigError) -> WriterConfig {
        var m = try value.mapping()
        var c = WriterConfig()
        if let v = m.optional("influx") { c.influx = try parseInflux(v) }
        if let v = m.optional("redis") { c.redis = try parseRedis(v) }
        if let v = m.optional("batch_records") { c.batchRecords = try v.int(in: 1...1_000_000) }
        if let v = m.optional("spill_dir") {
            c.spillDirectory = try v.string()
            guard c.spillDirectory.hasPrefix("/") else { throw v.error("'\(c.spillDirectory)' must be an absolute path") }
        }
        if let v = m.optional("spill_max_bytes") { c.spillMaxBytes = try v.int(in: 1 << 20...(1 << 50)) }
        if let v = m.optional("backoff_initial_ms") { c.backoffInitialMs = try v.int(in: 1...600_000) }
        if let v = m.optional("backoff_max_ms") { c.backoffMaxMs = try v.int(in: 1...3_600_000) }
        if let v = m.optional("config_error_retry_ms") { c.configErrorRetryMs = try v.int(in: 100...86_400_000) }
        if let v = m.optional("metrics_interval_ms") { c.metricsIntervalMs = try v.int(in: 10...3_600_000) }
        if let v = m.optional("idle_sleep_us") { c.idleSleepUs = try v.int(in: 0...1_000_000) }
        if let v = m.optional("on_region_gone") { c.onRegionGone = try v.choice(["wait", "exit"]) }
        if let v = m.optional("attach_timeout_ms") { c.attachTimeoutMs = try v.int(in: 0...86_400_000) }
        if let v = m.optional("stop_drain_ms") { c.stopDrainMs = try v.int(in: 0...600_000) }
        if let v = m.optional("cores") {
            for core in try v.list() {
                let n = try core.int(in: 0...4095)
                guard n < onlineCpus else { throw core.error("core \(n) does not exist on this host (online cores: 0-\(onlineCpus - 1))") }
                c.cores.append(n)
            }
        }
        if let v = m.optional("supervise") { c.supervise = try v.bool() }
        if let v = m.optional("binary") {
            c.binary = try v.string()
            guard c.binary.isEmpty || c.binary.hasPrefix("/") else { throw v.error("'\(c.binary)' must be an absolute path (or empty)") }
        }
        if let v = m.optional("restart_delay_ms") { c.restartDelayMs = try v.int(in: 10...600_000) }
        if let v = m.optional("restart_delay_max_ms") { c.restartDelayMaxMs = try v.int(in: 10...3_600_000) }
        if c.restartDelayMs > c.restartDelayMaxMs {
            throw value.error("restart_delay_ms \(c.restartDelayMs) exceeds restart_delay_max_ms \(c.restartDelayMaxMs)")
        }
        if c.backoffInitialMs > c.backoffMaxMs {
            throw value.error("backoff_initial_ms \(c.backoffInitialMs) exceeds backoff_max_ms \(c.backoffMaxMs)")
        }
        try m.finish(allowed: keys)
        return c
    }

    static func parseInflux(_ value: ConfigValue) throws(ConfigError) -> Influx {
        var m = try value.mapping()
        var c = Influx()
        if let v = m.optional("enabled") { c.enabled = try v.bool() }
        if let v = m.optional("url") {
            c.url = try v.string()
            if c.url.hasPrefix("file://") {
                // Line protocol appended to a local file instead of a server (LineProtocolFile).
                guard c.url.dropFirst(7).hasPrefix("/") else { throw v.error("'\(c.url)' must be file:///absolute/path") }
            } else {
                guard c.url.hasPrefix("http://") || c.url.hasPrefix("https://") else {
                    throw v.error("'\(c.url)' must start with http://, https:// or file:///")
                }
            }
            guard c.url.hasPrefix("file://") || c.url.contains("/write") else {
                throw v.error("'\(c.url)' must name the write endpoint: .../write?db=NAME or .../api/v2/write?org=ORG&bucket=BUCKET")
            }
        }
        if let v = m.optional("username") { c.username = try v.string() }
        if let v = m.optional("password") { c.password = try v.string() }
        if let v = m.optional("token") { c.token = try v.string() }
        if let v = m.optional("gzip") { c.gzip = try v.bool() }
        if let v = m.optional("batch_lines") { c.batchLines = try v.int(in: 1...1_000_000) }
        if let v = m.optional("timeout_ms") { c.timeoutMs = try v.int(in: 10...600_000) }
        if let v = m.optional("connect_timeout_ms") { c.connectTimeoutMs = try v.int(in: 10...600_000) }
        if let v = m.optional("server_error_retries") { c.serverErrorRetries = try v.int(in: 0...1_000) }
        try m.finish(allowed: ["enabled", "url", "username", "password", "token", "gzip", "batch_lines", "timeout_ms",
                               "connect_timeout_ms", "server_error_retries"])
        return c
    }

    static func parseRedis(_ value: ConfigValue) throws(ConfigError) -> Redis {
        var m = try value.mapping()
        var c = Redis()
        if let v = m.optional("enabled") { c.enabled = try v.bool() }
        if let v = m.optional("url") {
            c.url = try v.string()
            guard c.url.hasPrefix("redis://") else { throw v.error("'\(c.url)' must look like redis://[:password@]host[:port][/db]") }
        }
        if let v = m.optional("stream_max_length") { c.streamMaxLength = try v.int(in: 1...1_000_000_000) }
        if let v = m.optional("timeout_ms") { c.timeoutMs = try v.int(in: 10...600_000) }
        try m.finish(allowed: ["enabled", "url", "stream_max_length", "timeout_ms"])
        return c
    }
}
