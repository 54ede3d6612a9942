#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TicklineConfig
import TicklineCore
import TicklineRing
import TicklineRuntime

/// The writer's own metrics: what the control plane reads (`JournalWriter.metrics`, a
/// snapshot refreshed every `metrics_interval_ms`), also written to InfluxDB as the
/// measurement `tickline_writer` and to the Redis hash `tickline:<instance>:writer`.
public struct WriterMetrics: Sendable, Equatable {
    public var instance: String
    public var startedWallNs: Int64
    public var snapshotWallNs: Int64 = 0
    public var rings: [RingMetrics] = []
    public var influx: SinkMetrics
    public var redis: SinkMetrics
    /// Regions that could not be attached (wrong layout version or hash, not a region).
    public var regionErrors: UInt64 = 0
    /// Journal rings that could not be drained (missing, or a slot size that does not fit
    /// this binary's event type: an oversized or undersized record layout).
    public var ringErrors: UInt64 = 0
    /// Regions left by a dead engine that were drained and removed.
    public var staleRegionsDrained: UInt64 = 0
    public var lastRegionError: String = ""

    public init(instance: String, startedWallNs: Int64) {
        self.instance = instance
        self.startedWallNs = startedWallNs
        influx = SinkMetrics(name: "influx")
        redis = SinkMetrics(name: "redis")
    }

    public var malformedTotal: UInt64 { rings.reduce(0) { $0 &+ $1.malformedTotal } }

    /// The snapshot in the Prometheus text exposition format (version 0.0.4): what the
    /// writer leaves in `<spill_dir>/<instance>.writer.prom` for the engine's control plane
    /// to serve with its own `/metrics`, as node_exporter's textfile collector does.
    public var prometheusText: String {
        var p = PrometheusText()
        let inst = [("instance", instance)]
        let sinks = [influx, redis]
        func perSink(_ name: String, _ type: PrometheusText.Kind, _ help: String, _ f: (SinkMetrics) -> UInt64) {
            p.family("tickline_writer_" + name, type, help)
            for s in sinks { p.sample("tickline_writer_" + name, inst + [("sink", s.name)], Double(f(s))) }
        }
        func perRing(_ name: String, _ type: PrometheusText.Kind, _ help: String, _ f: (RingMetrics) -> Double) {
            p.family("tickline_writer_" + name, type, help)
            for r in rings { p.sample("tickline_writer_" + name, inst + [("ring", r.name)], f(r)) }
        }
        p.single("tickline_writer_up", .gauge, "1 while the writer runs (the snapshot's age is in snapshot_timestamp_seconds).", inst, 1)
        p.single("tickline_writer_snapshot_timestamp_seconds", .gauge, "Wall-clock time of this snapshot.", inst, Double(snapshotWallNs) / 1e9)
        p.single("tickline_writer_region_errors_total", .counter, "Regions that could not be attached.", inst, Double(regionErrors))
        p.single("tickline_writer_ring_errors_total", .counter, "Journal rings that could not be drained.", inst, Double(ringErrors))
        p.single("tickline_writer_stale_regions_drained_total", .counter, "Regions of dead engines drained and removed.", inst,
                 Double(staleRegionsDrained))
        p.family("tickline_writer_sink_up", .gauge, "1 when the sink takes writes directly (health ok), else 0.")
        for s in sinks {
            p.sample("tickline_writer_sink_up", inst + [("sink", s.name), ("health", s.health.rawValue)], s.health == .ok ? 1 : 0)
        }
        perSink("sink_written_total", .counter, "Points (InfluxDB) or commands (Redis) stored.") { $0.written }
        perSink("sink_batches_total", .counter, "Requests or pipelines that succeeded.") { $0.batches }
        perSink("sink_retries_total", .counter, "Failed attempts, each followed by backoff.") { $0.retries }
        perSink("sink_dropped_by_server_total", .counter, "Items the server refused for good.") { $0.droppedByServer }
        perSink("sink_duplicates_total", .counter, "Repeats the sink already held.") { $0.duplicates }
        perSink("sink_quarantined_total", .counter, "Items quarantined (never resent).") { $0.quarantinedItems }
        perSink("sink_spilled_batches_total", .counter, "Batches appended to the spill.") { $0.spilledBatches }
        perSink("sink_replayed_batches_total", .counter, "Batches replayed from the spill.") { $0.replayedBatches }
        perSink("sink_spill_bytes", .gauge, "Bytes waiting in the spill.") { $0.spillBytes }
        perSink("sink_shed_records_total", .counter, "Market-data records not given to the sink (spill full).") { $0.shedRecords }
        perRing("ring_records_total", .counter, "Records released from the ring.") { Double($0.records) }
        perRing("ring_lag_records", .gauge, "Records waiting in the ring.") { Double($0.lagRecords) }
        perRing("ring_lag_seconds", .gauge, "Age of the oldest waiting record.") { $0.lagSeconds }
        perRing("ring_malformed_total", .counter, "Records skipped as malformed.") { Double($0.malformedTotal) }
        perRing("ring_blocked_batches_total", .counter, "Batches held back because a spill was full.") { Double($0.blockedBatches) }
        perRing("ring_producer_dropped_total", .counter, "Records the producer dropped (market data only).") { Double($0.producerDropped) }
        perRing("ring_producer_refused_total", .counter, "Pushes the ring refused.") { Double($0.producerRefused) }
        return p.text
    }

    /// key=value pairs (logs, the Redis hash, tests).
    public var fields: [(String, String)] {
        var out: [(String, String)] = [
            ("snapshot_ns", "\(snapshotWallNs)"), ("region_errors", "\(regionErrors)"), ("ring_errors", "\(ringErrors)"),
            ("stale_regions_drained", "\(staleRegionsDrained)"), ("malformed", "\(malformedTotal)"),
        ]
        for s in [influx, redis] {
            let p = s.name
            out += [("\(p).health", s.health.rawValue), ("\(p).written", "\(s.written)"), ("\(p).batches", "\(s.batches)"),
                    ("\(p).retries", "\(s.retries)"), ("\(p).dropped_by_server", "\(s.droppedByServer)"),
                    ("\(p).duplicates", "\(s.duplicates)"), ("\(p).quarantined", "\(s.quarantinedItems)"),
                    ("\(p).spilled_batches", "\(s.spilledBatches)"), ("\(p).replayed_batches", "\(s.replayedBatches)"),
                    ("\(p).spill_bytes", "\(s.spillBytes)"), ("\(p).shed_records", "\(s.shedRecords)")]
        }
        for r in rings {
            let p = r.name
            out += [("\(p).records", "\(r.records)"), ("\(p).lag_records", "\(r.lagRecords)"),
                    ("\(p).lag_seconds", "\(r.lagSeconds)"), ("\(p).malformed", "\(r.malformedTotal)"),
                    ("\(p).blocked_batches", "\(r.blockedBatches)"), ("\(p).producer_dropped", "\(r.producerDropped)"),
                    ("\(p).producer_refused", "\(r.producerRefused)")]
        }
        return out
    }
}

/// One instrument as the `tickline:<instance>:instruments` hash describes it: the field is
/// the instrument id, the value a JSON object with its venue, symbol and decimals.
public struct WriterInstrument: Sendable, Equatable {
    public var id: InstrumentId
    public var venue: String
    public var symbol: String
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8

    public init(id: InstrumentId, venue: String, symbol: String, priceDecimals: UInt8, quantityDecimals: UInt8) {
        self.id = id
        self.venue = venue
        self.symbol = symbol
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
    }

    /// The engine's instruments: ids in the order of `risk.instruments` (as the engine
    /// numbers them), each with the name of the venue it trades on.
    public static func all(in config: EngineConfig) -> [WriterInstrument] {
        config.risk.instruments.enumerated().map { i, instrument in
            WriterInstrument(id: InstrumentId(i), venue: config.venues[Int(instrument.spec.venue)].name,
                             symbol: instrument.symbol, priceDecimals: instrument.spec.priceDecimals,
                             quantityDecimals: instrument.spec.quantityDecimals)
        }
    }

    /// The hash value (cold path).
    public var json: String {
        func quoted(_ s: String) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where c.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }
        return "{\"venue\":\(quoted(venue)),\"symbol\":\(quoted(symbol)),\"price_decimals\":\(priceDecimals),\"quantity_decimals\":\(quantityDecimals)}"
    }
}

/// Drains an engine's journal rings into InfluxDB and Redis (see README.md in this
/// folder). Single-threaded: `run` (or `runOnce`) is called by one thread, the writer's;
/// only `metrics` may be read from other threads (a snapshot behind a mutex).
public final class JournalWriter {
    public let config: WriterConfig
    public let instance: String
    var keys: RedisKeys
    let batchRecords: Int
    /// Two sets of batch buffers: the sinks write one while the next batch is encoded
    /// into the other.
    let influxBuffers: [ByteBuffer]
    let redisBuffers: [ByteBuffer]
    /// Most batches one ring takes per duty cycle (then the next ring has its turn). Four
    /// hides three of four encodings behind requests without starving the other rings.
    let pipelineBatches = 4
    /// The InfluxDB server (nil when InfluxDB is off or the URL is a `file://` line-protocol file).
    let influxClient: InfluxClient?
    let redisClient: RedisClient?
    let influx: SinkChannel
    let redis: SinkChannel
    var drains: [JournalDrain] = []
    /// Totals of rings drained from regions this writer already left (by ring name).
    var retired: [String: RingMetrics] = [:]
    var region: SharedRegion?
    var counters: WriterMetrics
    let published: Mutex<WriterMetrics>
    var nextMetricsNs: Int64 = 0
    let metricsBuffer = ByteBuffer(capacity: 64 * 1_024)
    /// Written to `tickline:<instance>:instruments` with the first metrics on each Redis
    /// connection (so a Redis that was down or restarted gets them again).
    let instruments: [WriterInstrument]
    /// The Redis connection (`RedisClient.connects`) the instruments were written on.
    var instrumentsWrittenOnConnect: UInt64 = 0

    /// Lines per InfluxDB request: the config's (also per write to a `file://` sink), lowered
    /// after a 413.
    var influxLineLimit: Int { influxClient?.batchLines ?? (config.influx.enabled ? config.influx.batchLines : Int.max) }

    /// Sets up the sinks and spills (cold path). Nothing connects yet.
    /// - Parameter instruments: the engine's instruments, for the Redis `instruments` hash.
    public init(config: WriterConfig, instance: String, instruments: [WriterInstrument] = []) throws(WriterError) {
        self.config = config
        self.instance = instance
        self.instruments = instruments
        keys = RedisKeys(instance: instance, streamMaxLength: config.redis.streamMaxLength)
        batchRecords = config.batchRecords
        // Worst case per record is < 2 KiB (a stream entry with its script over Redis); a
        // batch stops early when full.
        let influxBytes = max(64 * 1_024, min(config.batchRecords, config.influx.batchLines) * 512 + 4_096)
        let redisBytes = max(64 * 1_024, config.batchRecords * 1_024 + 4_096)
        influxBuffers = (0..<2).map { _ in ByteBuffer(capacity: influxBytes) }
        redisBuffers = (0..<2).map { _ in ByteBuffer(capacity: redisBytes) }
        if mkdir(config.spillDirectory, 0o700) != 0 && errno != EEXIST {
            throw .spill(call: "mkdir", path: config.spillDirectory, errno: errno)
        }
        let maxChunk = max(influxBytes, redisBytes)
        if config.influx.enabled {
            let transport: SinkTransport, destination: String
            if config.influx.url.hasPrefix(LineProtocolFile.scheme) {
                // A local file is not "down" in the ways a server is; the spill still catches a full disk.
                let file = try LineProtocolFile(url: config.influx.url)
                influxClient = nil
                transport = file
                destination = "line protocol appended to \(file.path)"
            } else {
                let client = try InfluxClient(config: config.influx, maxBodyBytes: influxBytes)
                influxClient = client
                transport = client
                destination = "\(client.displayURL) (API \(client.api.rawValue)\(client.gzip ? ", gzip" : ""))"
            }
            let spill = try SpillFile(path: "\(config.spillDirectory)/\(instance).influx.spill", maxBytes: config.spillMaxBytes, maxChunkBytes: maxChunk)
            influx = SinkChannel(name: "influx", transport: transport, spill: spill, directory: config.spillDirectory,
                                 backoffInitialMs: config.backoffInitialMs, backoffMaxMs: config.backoffMaxMs,
                                 configRetryMs: config.configErrorRetryMs, serverErrorRetries: config.influx.serverErrorRetries)
            writerLog("influx: \(destination)")
        } else {
            influxClient = nil
            influx = SinkChannel(name: "influx", transport: nil, spill: nil, directory: config.spillDirectory, backoffInitialMs: 1,
                                 backoffMaxMs: 1, configRetryMs: 100, serverErrorRetries: 0)
        }
        if config.redis.enabled {
            let address = try RedisAddress.parse(config.redis.url)
            let client = RedisClient(address: address, timeoutMs: config.redis.timeoutMs)
            redisClient = client
            let spill = try SpillFile(path: "\(config.spillDirectory)/\(instance).redis.spill", maxBytes: config.spillMaxBytes, maxChunkBytes: maxChunk)
            redis = SinkChannel(name: "redis", transport: client, spill: spill, directory: config.spillDirectory,
                                backoffInitialMs: config.backoffInitialMs, backoffMaxMs: config.backoffMaxMs,
                                configRetryMs: config.configErrorRetryMs, serverErrorRetries: config.influx.serverErrorRetries)
            writerLog("redis: \(address.display)")
        } else {
            redisClient = nil
            redis = SinkChannel(name: "redis", transport: nil, spill: nil, directory: config.spillDirectory, backoffInitialMs: 1,
                                backoffMaxMs: 1, configRetryMs: 100, serverErrorRetries: 0)
        }
        counters = WriterMetrics(instance: instance, startedWallNs: Clock.wall().ns)
        published = Mutex(counters)
    }

    /// The latest metrics snapshot. Thread-safe.
    public var metrics: WriterMetrics { published.withLock { $0 } }

    // MARK: Regions

    /// The journal rings this writer drains, in order.
    static let journalRings = ["journal.signals", "journal.orders", "journal.fills", "journal.risk",
                               "journal.market", "journal.bars", "journal.telemetry"]

    /// Starts draining `region`'s journal rings. Rings that are missing or whose slots do
    /// not fit their event type are reported and counted, never fatal.
    public func attach(_ region: SharedRegion) {
        detach()
        self.region = region
        keys.producerEpoch = UInt64(max(0, region.startWallNs))
        for name in Self.journalRings {
            guard region.ringNames.contains(name) else {
                writerLog("region \(region.instance): no ring '\(name)': not drained")
                continue
            }
            do {
                let drain: JournalDrain
                let dir = config.spillDirectory
                switch name {
                case "journal.market": drain = try RingDrain<MarketEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                case "journal.bars": drain = try RingDrain<BarEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                case "journal.signals": drain = try RingDrain<SignalEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                case "journal.orders": drain = try RingDrain<OrderEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                case "journal.fills": drain = try RingDrain<FillEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                case "journal.risk": drain = try RingDrain<RiskEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                default: drain = try RingDrain<TelemetryEncoder>(region: region, batchRecords: batchRecords, checkpointDirectory: dir)
                }
                drains.append(drain)
            } catch {
                counters.ringErrors &+= 1
                counters.lastRegionError = error.description
                writerLog("ring '\(name)' not drained: \(error.description)")
            }
        }
        counters.rings = ringTotals()
    }

    /// Per-ring totals across every region drained so far (live drains' lag included).
    func ringTotals() -> [RingMetrics] {
        var out: [RingMetrics] = []
        for name in Self.journalRings {
            let live = drains.first { $0.name == name }?.metrics
            guard var total = retired[name] ?? live else { continue }
            if let live, retired[name] != nil {
                total.records &+= live.records
                total.batches &+= live.batches
                total.blockedBatches &+= live.blockedBatches
                total.timestampsBumped &+= live.timestampsBumped
                for i in total.malformed.indices { total.malformed[i] &+= live.malformed[i] }
                total.lagRecords = live.lagRecords
                total.lagSeconds = live.lagSeconds
                total.producerDropped = live.producerDropped
                total.producerRefused = live.producerRefused
            }
            out.append(total)
        }
        return out
    }

    /// Releases the ring ends (their consumer cursors stay in the region).
    public func detach() {
        for d in drains {
            d.refreshLag(wallNs: Clock.wall().ns)
            var m = d.metrics
            m.lagRecords = 0
            m.lagSeconds = 0
            if var r = retired[m.name] {
                r.records &+= m.records
                r.batches &+= m.batches
                r.blockedBatches &+= m.blockedBatches
                r.timestampsBumped &+= m.timestampsBumped
                for i in r.malformed.indices { r.malformed[i] &+= m.malformed[i] }
                r.producerDropped = m.producerDropped
                r.producerRefused = m.producerRefused
                retired[m.name] = r
            } else {
                retired[m.name] = m
            }
        }
        drains.removeAll()
        region = nil
    }

    /// Both sinks' spills are empty (everything handed off reached its sink).
    public var spillsEmpty: Bool { (influx.spill?.isEmpty ?? true) && (redis.spill?.isEmpty ?? true) }

    /// Records waiting in every drained ring are zero.
    public var ringsEmpty: Bool { drains.allSatisfy(\.isEmpty) }

    // MARK: Draining

    /// One duty cycle: replay spills that are due, then one batch per ring. Returns the
    /// records released (0 = idle).
    @discardableResult
    public func runOnce(nowNs: Int64 = Clock.monotonic().ns) -> Int {
        influx.replay(nowNs: nowNs, budget: 4)
        redis.replay(nowNs: nowNs, budget: 4)
        var work = 0
        for d in drains { work += d.pump(self, nowNs: nowNs) }
        if nowNs >= nextMetricsNs {
            nextMetricsNs = nowNs + Int64(config.metricsIntervalMs) * 1_000_000
            publishMetrics()
        }
        return work
    }

    /// Refreshes the snapshot and writes it to the sinks that are healthy (best effort: a
    /// metrics write never goes to the spill).
    public func publishMetrics() {
        let wall = Clock.wall().ns
        for d in drains { d.refreshLag(wallNs: wall) }
        counters.rings = ringTotals()
        counters.influx = influx.metrics
        counters.redis = redis.metrics
        counters.snapshotWallNs = wall
        let snapshot = counters
        published.withLock { $0 = snapshot }
        writeMetricsFile(snapshot.prometheusText)
        let now = Clock.monotonic().ns
        if let client = influxClient, !influx.wouldSpill(nowNs: now) {
            metricsBuffer.removeAll()
            encodeMetricsLines(snapshot, wallNs: wall, into: metricsBuffer)
            _ = client.write(metricsBuffer.bytes, lines: 3 + snapshot.rings.count)
        }
        if let client = redisClient, !redis.wouldSpill(nowNs: now) {
            metricsBuffer.removeAll()
            var args = ["HSET", String(decoding: keys.writer, as: UTF8.self)]
            for (k, v) in snapshot.fields { args.append(k); args.append(v) }
            RESP.command(args, metricsBuffer)
            var count = 1
            // connects is 0 before the first connection and counts up on each new one.
            let instrumentsDue = !instruments.isEmpty && (client.connects == 0 || client.connects != instrumentsWrittenOnConnect)
            if instrumentsDue {
                var hash = ["HSET", String(decoding: keys.instruments, as: UTF8.self)]
                for i in instruments { hash.append("\(i.id)"); hash.append(i.json) }
                RESP.command(hash, metricsBuffer)
                count += 1
            }
            if case .written(_, 0, _) = client.write(metricsBuffer.bytes, count: count), instrumentsDue {
                instrumentsWrittenOnConnect = client.connects
            }
        }
    }

    /// `<spill_dir>/<instance>.writer.prom`, replaced atomically (write aside, rename).
    public var metricsFilePath: String { "\(config.spillDirectory)/\(instance).writer.prom" }

    func writeMetricsFile(_ text: String) {
        let path = metricsFilePath, aside = metricsFilePath + ".tmp"
        let fd = open(aside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let ok = text.utf8.withContiguousStorageIfAvailable { write(fd, $0.baseAddress, $0.count) == $0.count } ?? false
        close(fd)
        if ok { rename(aside, path) } else { unlink(aside) }
    }

    func encodeMetricsLines(_ m: WriterMetrics, wallNs: Int64, into out: ByteBuffer) {
        func tagInstance() {
            out.append(",instance=")
            LineProtocol.appendEscaped(m.instance, as: .tagOrFieldKey, to: out)
        }
        out.append("tickline_writer")
        tagInstance()
        out.append(" region_errors=")
        appendInt(Int64(m.regionErrors), out)
        out.append(",ring_errors=")
        appendInt(Int64(m.ringErrors), out)
        out.append(",malformed=")
        appendInt(Int64(m.malformedTotal), out)
        appendTimestamp(wallNs, out)
        for s in [m.influx, m.redis] {
            out.append("tickline_writer")
            tagInstance()
            out.append(",sink=")
            LineProtocol.appendEscaped(s.name, as: .tagOrFieldKey, to: out)
            out.append(" health=\"")
            LineProtocol.appendEscaped(s.health.rawValue, as: .stringFieldValue, to: out)
            out.append("\",written=")
            appendInt(Int64(s.written), out)
            out.append(",batches=")
            appendInt(Int64(s.batches), out)
            out.append(",retries=")
            appendInt(Int64(s.retries), out)
            out.append(",dropped_by_server=")
            appendInt(Int64(s.droppedByServer), out)
            out.append(",duplicates=")
            appendInt(Int64(s.duplicates), out)
            out.append(",quarantined=")
            appendInt(Int64(s.quarantinedItems), out)
            out.append(",spill_bytes=")
            appendInt(Int64(s.spillBytes), out)
            out.append(",spill_batches=")
            appendInt(Int64(s.spillBatches), out)
            out.append(",shed_records=")
            appendInt(Int64(s.shedRecords), out)
            appendTimestamp(wallNs, out)
        }
        for r in m.rings {
            out.append("tickline_writer")
            tagInstance()
            out.append(",ring=")
            LineProtocol.appendEscaped(r.name, as: .tagOrFieldKey, to: out)
            out.append(" records=")
            appendInt(Int64(r.records), out)
            out.append(",batches=")
            appendInt(Int64(r.batches), out)
            out.append(",lag_records=")
            appendInt(Int64(r.lagRecords), out)
            out.append(",lag_seconds=")
            out.append(fixed: Int64(r.lagSeconds * 1_000_000), decimals: 6)
            out.append(",malformed=")
            appendInt(Int64(r.malformedTotal), out)
            out.append(",blocked_batches=")
            appendInt(Int64(r.blockedBatches), out)
            out.append(",producer_dropped=")
            appendInt(Int64(r.producerDropped), out)
            out.append(",producer_refused=")
            appendInt(Int64(r.producerRefused), out)
            appendTimestamp(wallNs, out)
        }
    }

    // MARK: The process

    /// How `run` ended.
    public enum Ending: Equatable, Sendable {
        /// Asked to stop (SIGTERM/SIGINT).
        case stopped
        /// The region's engine is gone and `on_region_gone: exit`.
        case regionGone
        /// No region appeared within `attach_timeout_ms`.
        case attachTimeout
    }

    /// Attaches to the instance's region (draining regions left by dead engines first),
    /// drains until `shouldStop` says so, and follows the engine across restarts as
    /// configured. Throws on a region this binary cannot read (wrong layout), which waiting
    /// would not fix.
    public func run(shouldStop: () -> Bool) throws(WriterError) -> Ending {
        defer {
            publishMetrics()
            let m = metrics
            writerLog("stopping: influx.written=\(m.influx.written) redis.written=\(m.redis.written) malformed=\(m.malformedTotal) influx.spill_bytes=\(m.influx.spillBytes) redis.spill_bytes=\(m.redis.spillBytes)")
        }
        var current: SharedRegion
        switch try waitForRegion(shouldStop: shouldStop, notStartedAt: nil) {
        case .some(let r): current = r
        case .none: return shouldStop() ? .stopped : .attachTimeout
        }
        while true {
            attach(current)
            writerLog("draining region \(current.path) (engine pid \(current.creatorPid))")
            var idleSince: Int64? = nil
            while !shouldStop() {
                let work = runOnce()
                if work > 0 { idleSince = nil; continue }
                let now = Clock.monotonic().ns
                if idleSince == nil { idleSince = now }
                // The engine is gone and everything it left is written (spills replayed too).
                if !current.creatorIsAlive && ringsEmpty && spillsEmpty && now - idleSince! > 200_000_000 { break }
                if config.idleSleepUs > 0 { usleep(UInt32(config.idleSleepUs)) }
            }
            if shouldStop() {
                drainBeforeStop()
                return .stopped
            }
            writerLog("engine of region \(current.path) is gone and its journal rings are drained")
            let start = current.startWallNs
            detach()
            if config.onRegionGone == "exit" { return .regionGone }
            guard let next = try waitForRegion(shouldStop: shouldStop, notStartedAt: start) else {
                return shouldStop() ? .stopped : .attachTimeout
            }
            current = next
        }
    }

    /// On SIGTERM: writes what the journal rings hold now (to the sinks, or their spill files
    /// when down) before exiting, for at most `stop_drain_ms`: the engine removes its region
    /// after the writer stops, and records left in a removed region would be lost.
    func drainBeforeStop() {
        let deadline = Clock.monotonic().ns + Int64(config.stopDrainMs) * 1_000_000
        while !ringsEmpty {
            if Clock.monotonic().ns > deadline {
                writerLog("stopping with records still in the rings after \(config.stopDrainMs) ms (stop_drain_ms)")
                return
            }
            if runOnce() == 0 { usleep(1_000) }
        }
    }

    /// Drains what stale regions (moved aside by a new engine) still hold, then attaches to
    /// the live one, waiting as configured. Returns nil on stop or timeout.
    func waitForRegion(shouldStop: () -> Bool, notStartedAt: Int64?) throws(WriterError) -> SharedRegion? {
        let deadline = config.attachTimeoutMs > 0 ? Clock.monotonic().ns + Int64(config.attachTimeoutMs) * 1_000_000 : Int64.max
        var reported = false
        while !shouldStop() {
            drainStaleRegions(shouldStop: shouldStop)
            do {
                let r = try SharedRegion.attach(instance: instance, prefault: false)
                if let notStartedAt, r.startWallNs == notStartedAt {
                    // Still the old engine's region (it was not replaced yet): keep waiting.
                } else {
                    return r
                }
            } catch {
                switch error {
                case .noSuchRegion, .notReady:
                    if !reported { writerLog("waiting for region: \(error.description)"); reported = true }
                default:
                    counters.regionErrors &+= 1
                    counters.lastRegionError = error.description
                    publishMetrics()
                    throw .region(error.description)
                }
            }
            if Clock.monotonic().ns > deadline { return nil }
            usleep(50_000)
        }
        return nil
    }

    /// Drains and removes regions left by dead engines (oldest first).
    func drainStaleRegions(shouldStop: () -> Bool) {
        for path in SharedRegion.staleRegions(instance: instance) where !path.hasSuffix(".unreadable") {
            let region: SharedRegion
            do { region = try SharedRegion.attach(path: path, prefault: false) } catch {
                counters.regionErrors &+= 1
                counters.lastRegionError = "\(path): \(error.description)"
                writerLog("stale region \(path) cannot be read (\(error.description)); renamed to \(path).unreadable")
                _ = rename(path, path + ".unreadable")
                continue
            }
            writerLog("draining stale region \(path) left by engine pid \(region.creatorPid)")
            attach(region)
            var idle = 0
            var stuck = 0
            while !shouldStop() && idle < 3 && stuck < 200 {
                if runOnce() > 0 { idle = 0; stuck = 0; continue }
                if ringsEmpty { idle += 1 } else { stuck += 1 }  // stuck: a sink's spill is full
                usleep(10_000)
            }
            let drained = ringsEmpty
            detach()
            if !drained {
                writerLog("stale region \(path) not fully drained yet (a sink is down and its spill is full); kept for later")
            } else if !shouldStop() {
                unlink(path)
                counters.staleRegionsDrained &+= 1
                writerLog("stale region \(path) drained and removed")
            }
        }
    }
}
