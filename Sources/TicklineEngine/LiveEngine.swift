#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineFeed
import TicklineMarketData
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

/// `tickline run`: the live pipeline built from a config. The region, the feed, strategy,
/// risk and execution agents on the runners the config places them on, the writer
/// (supervised), the control plane; a clean stop on SIGINT/SIGTERM: feeds stop first, the
/// rings drain, the runners stop, the writer drains the journal rings and exits, the region
/// goes. Built on the calling thread (cold path); `run` blocks until shutdown.
public final class LiveEngine {
    public let config: EngineConfig
    public let region: SharedRegion
    public let symbols: [String]
    let feedStage: FeedStage
    var feeds: [FeedAgent] { feedStage.feeds }
    let strategy: StrategyAgent<NoCustomStrategy>
    let risk: RiskAgent
    let execution: ExecutionAgent
    let runners: [AgentRunner]
    let stats = StatsBoard()
    public let writer: WriterSupervisor?
    public let control: ControlServer?
    let source: LiveControlSource
    public private(set) var controlToken = ""

    /// - Parameters:
    ///   - configPath: passed on to the writer (`--config`); nil = the writer's defaults.
    public init(config: EngineConfig, configPath: String?) throws(EngineError) {
        self.config = config
        symbols = Self.instrumentNames(config)
        let tables = try Self.feedTables(config)
        try Self.createFolders(config)
        let engine = try EngineAssembly(config: config, stats: stats, feedCommands: true)
        region = engine.region
        (feedStage, strategy, risk, execution) = (engine.feed, engine.strategy, engine.risk, engine.execution)
        do throws(EngineError) {
            // Nothing trades on positions or orders the venues and the journal disagree on.
            let mismatches = execution.reconcile(with: risk)
            guard mismatches.isEmpty else {
                throw EngineError(description: "the venues and the journal disagree: "
                    + mismatches.map(\.description).joined(separator: "; ") + "; settle them at the venue before starting")
            }
            runners = try engine.runners(config.threading)
            let controlRing: RingProducer<ControlCommand>
            do { controlRing = try region.producer(of: ControlCommand.self, ring: "control.risk") } catch {
                throw EngineError(description: error.description)
            }
            let source = LiveControlSource(instance: config.instance, symbols: symbols, view: risk.view, journal: risk.journalPath,
                                           feedCounters: feedStage.feeds.map { ($0.config.name, $0.publishedCounters) }, control: controlRing, acks: risk.acks,
                                           writerMetricsPath: "\(config.writer.spillDirectory)/\(config.instance).writer.prom")
            // Run-time subscriptions: checked against `table` (the universe) and queued on `control.feed`.
            do {
                source.subscriptions = try FeedSubscriptionDesk(universes: tables, feeds: config.feeds,
                                                                ring: region.producer(of: FeedCommand.self, ring: "control.feed"))
            } catch { throw EngineError(description: "feed subscriptions: \(error)") }
            self.source = source
        } catch {
            region.unlink()
            throw error
        }
        writer = config.writer.supervise ? WriterSupervisor(instance: config.instance, configPath: configPath, config: config.writer) : nil
        if config.control.enabled {
            do {
                let (token, _) = try ControlServer.resolveToken(config: config.control, instance: config.instance)
                controlToken = token
                control = ControlServer(config: config.control, token: token, source: source)
            } catch {
                region.unlink()
                throw EngineError(description: error.description)
            }
        } else {
            control = nil
        }
    }

    /// Creates the folders `run` writes into (the journal's, the supervised writer's spill
    /// folder, the generated token's) where missing, owner-only (0700: the journal holds
    /// every order), so a fresh machine needs no set-up. An error names the folder, the
    /// config key and the reason.
    public static func createFolders(_ config: EngineConfig) throws(EngineError) {
        var folders: [(path: String, key: String)] = []
        if let journal = RiskStageSettings(config: config.risk, instance: config.instance).journalPath {
            folders.append((String(journal[..<(journal.lastIndex(of: "/") ?? journal.startIndex)]), "risk.journal"))
        }
        if config.writer.supervise { folders.append((config.writer.spillDirectory, "writer.spill_dir")) }
        if config.control.enabled && config.control.token.isEmpty {
            let file = config.control.tokenFile
            folders.append((String(file[..<(file.lastIndex(of: "/") ?? file.startIndex)]), "control.token_file"))
        }
        for (path, key) in folders where !path.isEmpty {
            var prefix = ""
            for part in path.split(separator: "/") {
                prefix += "/" + part
                if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                    throw EngineError(description: "cannot create \(prefix), the folder of \(key) (\(path)): \(String(cString: strerror(errno))); create it or set \(key) elsewhere")
                }
            }
            guard access(path, W_OK | X_OK) == 0 else {
                throw EngineError(description: "cannot write in \(path), the folder of \(key): \(String(cString: strerror(errno))); fix its owner or mode, or set \(key) elsewhere")
            }
        }
    }

    /// Each feed's instrument table: the instruments of its venue, in `risk.instruments`
    /// order, with the engine's ids (the position in `risk.instruments`, which every stage
    /// indexes by); checks that each feed's symbols are among them.
    public static func feedTables(_ config: EngineConfig) throws(EngineError) -> [InstrumentTable] {
        guard !config.risk.instruments.isEmpty else {
            throw EngineError(description: "risk.instruments lists no instrument: the engine needs each traded symbol's filters and limits")
        }
        guard !config.feeds.isEmpty else { throw EngineError(description: "feeds: no feed configured (nothing would arrive)") }
        var tables: [InstrumentTable] = []
        for f in config.feeds {
            let venue = config.venues[Int(f.venue)].name
            let own = config.risk.instruments.enumerated().filter { $0.element.spec.venue == f.venue }
            for s in f.symbols where !own.contains(where: { $0.element.symbol == s }) {
                throw EngineError(description: "feed '\(f.name)' subscribes \(s), which risk.instruments does not list on its venue '\(venue)'")
            }
            do {
                tables.append(try InstrumentTable(own.map {
                    InstrumentSpec(symbol: $0.element.symbol, id: InstrumentId($0.offset), priceDecimals: $0.element.spec.priceDecimals,
                                   quantityDecimals: $0.element.spec.quantityDecimals)
                }))
            } catch { throw EngineError(description: "instrument table of feed '\(f.name)': \(error)") }
        }
        return tables
    }

    /// What screens, logs and the API call each instrument (index = instrument id): its
    /// symbol, or `SYMBOL@venue` when another venue lists the same symbol.
    public static func instrumentNames(_ config: EngineConfig) -> [String] {
        let instruments = config.risk.instruments
        return instruments.map { i in
            instruments.contains { $0.symbol == i.symbol && $0.spec.venue != i.spec.venue }
                ? "\(i.symbol)@\(config.venues[Int(i.spec.venue)].name)" : i.symbol
        }
    }

    /// Runs until SIGINT/SIGTERM (or `ShutdownSignal.request`), then stops everything in
    /// order. `log` gets one line per step.
    public func run(log: (String) -> Void) throws(EngineError) {
        ShutdownSignal.install()
        if let control {
            do { try control.start() } catch { throw EngineError(description: error.description) }
            log("control plane: http://\(config.control.hostAndPort.host):\(control.port ?? 0)/ (bearer token required)")
        }
        if let writer {
            do { try writer.start() } catch { log("writer: \(error.description); running without it") }
        }
        if let line = risk.recoveryReport { log(line) }
        for r in runners { r.start() }
        log("running: \(symbols.count) instruments, feeds \(config.feeds.map(\.name).joined(separator: ", ")), runners \(runners.count)")
        var nextSnapshot = Clock.monotonic()
        while ShutdownSignal.requested == nil {
            usleep(10_000)
            // Requests from the API go onto the control ring from this one thread; every
            // pass, since each request waits for the risk stage's acknowledgement.
            source.forwardRequests()
            writer?.poll()
            let now = Clock.monotonic()
            if now >= nextSnapshot {
                nextSnapshot = now + 500_000_000
                source.refresh(region: region, stats: stats, writerRestarts: writer?.restarts ?? 0,
                               writerRunning: writer.map { $0.pid != nil })
            }
        }
        log("stopping (signal \(ShutdownSignal.requested ?? 0)): runners, then the writer drains the journal rings")
        for r in runners { r.stop() }
        if let writer { log("writer: \(writer.stop(timeoutMs: 30_000))") }
        control?.stop()
        // What was produced, for the log (and checked against the journal by the tests). The
        // runners are stopped: this thread reads the risk stage's counters.
        let c = risk.counters
        var totals = [("events", (try? region.stats(ring: "market").published) ?? 0), ("signals", c.signals), ("orders", c.orders),
                      ("entries", c.orders &- c.exits), ("exits", c.exits), ("cancel_requests", c.cancelRequests), ("fills", c.fills)]
        for kind in ReportCounts.kinds { totals.append(("reports_\(kind.label)", c.reports[kind: kind])) }
        totals += [("denials", c.denials), ("risk_events", risk.riskEvents)]
        var held: [String] = []
        let positions = risk.risk.positions
        for strategy in 0..<risk.risk.strategyCapacity {
            for (i, symbol) in symbols.enumerated() {
                let units = positions.quantity(strategy: StrategyId(strategy), instrument: InstrumentId(i))
                guard units != 0 else { continue }
                held.append("\(symbol)/\(strategy) \(Self.decimalText(units, decimals: config.risk.instruments[i].spec.quantityDecimals))")
            }
        }
        region.unlink()
        log("stopped: \(totals.map { "\($0.0) \($0.1)" }.joined(separator: ", "))")
        log("final positions (symbol/strategy quantity): \(held.isEmpty ? "none" : held.joined(separator: ", "))")
    }
}

extension LiveEngine {
    /// Fixed-point units as exact decimal text (`-123` at 2 decimals: "-1.23").
    public static func decimalText(_ units: Int64, decimals: UInt8) -> String {
        let digits = String(units.magnitude)
        let d = Int(decimals)
        guard d > 0 else { return units < 0 ? "-" + digits : digits }
        let padded = String(repeating: "0", count: max(0, d + 1 - digits.count)) + digits
        return (units < 0 ? "-" : "") + padded.dropLast(d) + "." + padded.suffix(d)
    }
}

/// The control plane's view of the live engine: ring counters read from the region (any
/// process may read them), positions, orders, PnL and recent activity from the risk agent's
/// seqlock-protected `EngineView`, latency histograms from the StatsBoard, the writer's
/// metrics file; requests queued for the main thread, which alone owns the control ring's
/// producer.
final class LiveControlSource: ControlPlaneSource, @unchecked Sendable {
    let instance: String
    let symbols: [String]
    let writerMetricsPath: String
    let view: EngineView
    /// The risk stage's journal file (nil: none).
    let journal: String?
    /// Each feed's counters as its thread publishes them, by feed name.
    let feedCounters: [(name: String, counters: Seqlock<FeedCounters>)]
    /// Readiness as of the last refresh (besides the refresh's own age).
    let readinessChecks = Mutex<[ReadinessCheck]>([])
    /// Per feed: messages at the last refresh and when that count last changed; main thread only.
    var feedActivity: [String: (messages: UInt64, changedNs: Nanos)] = [:]
    /// Market events and the time at the previous refresh (events/s); main thread only.
    var previousEvents: (count: UInt64, ns: Nanos) = (0, 0)
    let latest: Mutex<(EngineSnapshot, String)>
    /// Every round trip the view has shown (added at each refresh).
    let trips = Mutex(RoundTripLog())
    let commands: RiskCommandQueue
    /// The `control.feed` producer and the subscription view; set once by `LiveEngine.init`
    /// before the control server starts, read-only after.
    var subscriptions: FeedSubscriptionDesk?
    let ring: Mutex<RingBox>

    // Only ever touched under `ring`'s lock.
    final class RingBox: @unchecked Sendable {
        var producer: RingProducer<ControlCommand>
        init(_ p: consuming RingProducer<ControlCommand>) { producer = p }
    }

    init(instance: String, symbols: [String], view: EngineView, journal: String? = nil, feedCounters: [(name: String, counters: Seqlock<FeedCounters>)] = [],
         control: consuming RingProducer<ControlCommand>, acks: ControlAcks, writerMetricsPath: String) {
        self.instance = instance
        commands = RiskCommandQueue(acks: acks, subscriptionRefusal: "no feed takes run-time subscriptions in this engine",
                                    symbols: symbols)
        self.symbols = symbols
        self.view = view
        self.journal = journal
        self.feedCounters = feedCounters
        self.writerMetricsPath = writerMetricsPath
        latest = Mutex((EngineSnapshot(instance: instance), ""))
        ring = Mutex(RingBox(control))
    }

    /// Rebuilds the snapshot and the metrics text (main thread, every 500 ms).
    /// - Parameter writerRunning: nil when this engine does not supervise the writer (systemd does).
    func refresh(region: SharedRegion, stats: StatsBoard, writerRestarts: Int, writerRunning: Bool?) {
        var p = PrometheusText()
        var checks: [ReadinessCheck] = []
        var full: [String] = []
        let now = Clock.monotonic().ns
        let wall = Clock.wall()
        // The risk view: nil only if every copy overlapped a publish (then the last snapshot's
        // risk part stays, with fresh ring counters).
        let v = view.read()
        var s = v.map { EngineSnapshotBuilder.snapshot(instance: instance, view: $0, symbols: symbols, stats: stats, wallNs: wall) }
            ?? latest.withLock { $0.0 }
        if let v { trips.withLock { $0.add(from: v, symbols: symbols) } }
        s.wallNs = wall.ns
        p.family("tickline_ring_published_total", .counter, "Records pushed into each ring.")
        p.family("tickline_ring_dropped_total", .counter, "Records dropped (market-data rings only).")
        p.family("tickline_ring_depth", .gauge, "Records waiting in each ring.")
        for name in region.ringNames {
            guard let st = try? region.stats(ring: name) else { continue }
            p.sample("tickline_ring_published_total", [("ring", name)], Double(st.published))
            p.sample("tickline_ring_dropped_total", [("ring", name)], Double(st.dropped))
            p.sample("tickline_ring_depth", [("ring", name)], Double(st.depth))
            if name == "market" { s.events = st.published }
            if st.depth * 10 >= UInt64(st.capacity) * 9 { full.append("\(name) \(st.depth)/\(st.capacity)") }
        }
        checks.append(ReadinessCheck(name: "rings", ok: full.isEmpty,
                                     detail: full.isEmpty ? "every ring below 90 % of its capacity" : "at or above 90 %: \(full.joined(separator: ", "))"))
        for (name, seqlock) in feedCounters {
            guard let c = seqlock.read() else { continue }
            // Connected and fresh: a message arrived since the previous refresh (500 ms) or
            // within the last 5 s.
            let previous = feedActivity[name] ?? (0, 0)
            let lastChange = c.messages != previous.messages ? now : previous.changedNs
            feedActivity[name] = (c.messages, lastChange)
            let quiet = Double(now - lastChange) / 1e9
            checks.append(ReadinessCheck(name: "feed \(name)", ok: c.opened > 0 && c.messages > 0 && quiet < 5,
                                         detail: String(format: "%llu messages, last %.1f s ago, %llu reconnects", c.messages, quiet, c.reconnects)))
        }
        if let journal, let v { checks.append(RiskAgent.journalReadiness(v, path: journal)) }
        if let writerRunning {
            checks.append(ReadinessCheck(name: "writer", ok: writerRunning, detail: writerRunning ? "running" : "not running (restarts \(writerRestarts))"))
        }
        readinessChecks.withLock { $0 = checks }
        if previousEvents.ns > 0, now > previousEvents.ns, s.events >= previousEvents.count {
            s.eventsPerSecond = Double(s.events - previousEvents.count) / (Double(now - previousEvents.ns) / 1e9)
        }
        previousEvents = (s.events, now)
        stats.prometheus(into: &p)
        if let v { EngineSnapshotBuilder.prometheus(v, into: &p) }
        ProcessUsage.prometheus(into: &p)
        feedMetrics(into: &p)
        p.single("tickline_writer_restarts_total", .counter, "Times the supervisor restarted the writer.", [], Double(writerRestarts))
        if let writerRunning {
            p.single("tickline_writer_running", .gauge, "1 while the supervised writer runs.", [], writerRunning ? 1 : 0)
        }
        if let text = try? String(contentsOfFile: writerMetricsPath, encoding: .utf8) { p.append(exposition: text) }
        latest.withLock { $0 = (s, p.text) }
    }

    /// Decode errors, reconnects, gaps and the rest of each feed's counters.
    func feedMetrics(into p: inout PrometheusText) {
        let families: [(String, String, (FeedCounters) -> UInt64)] = [
            ("tickline_feed_messages_total", "WebSocket messages received.", { $0.messages }),
            ("tickline_feed_decode_errors_total", "Messages the decoder refused (counted, skipped).", { $0.decodeErrors }),
            ("tickline_feed_unsupported_messages_total", "Events of streams Tickline does not use (skipped, not errors).",
             { $0.unsupportedMessages }),
            ("tickline_feed_reconnects_total", "Reconnects after a connection ended.", { $0.reconnects }),
            ("tickline_feed_protocol_violations_total", "Connections closed for an RFC 6455 violation by the server.", { $0.protocolViolations }),
            ("tickline_feed_silent_disconnects_total", "Connections dropped for silence (no byte, no pong).", { $0.silentDisconnects }),
            ("tickline_feed_depth_gaps_total", "Depth diffs that broke continuity (each starts a resync).", { $0.gaps }),
            ("tickline_feed_resyncs_total", "Books resynced from a REST snapshot.", { $0.resyncs }),
            ("tickline_feed_stale_events_total", "Symbols marked stale by the watchdog.", { $0.staleEvents }),
            ("tickline_feed_market_dropped_total", "Market events the market ring dropped (full).", { $0.marketDropped }),
        ]
        let copies = feedCounters.map { ($0.name, $0.counters.read()) }
        for (name, help, value) in families {
            p.family(name, .counter, help)
            for (feed, c) in copies { if let c { p.sample(name, [("feed", feed)], Double(value(c))) } }
        }
    }

    func forwardRequests() {
        commands.forward { c in ring.withLock { $0.producer.tryPush(c) } }
    }

    func snapshot() -> EngineSnapshot { latest.withLock { $0.0 } }

    /// The engine's refresh is recent; each feed connected and fresh; the journal takes
    /// writes; the writer alive (when supervised here); every ring below its high-water mark (90 %).
    func readiness() -> [ReadinessCheck] {
        let s = snapshot()
        let age = Double(Clock.wall().ns - s.wallNs) / 1e9
        return [ReadinessCheck(name: "engine", ok: age < 2, detail: String(format: "last refresh %.1f s ago", age))]
            + readinessChecks.withLock { $0 }
    }

    func prometheusMetrics() -> String { latest.withLock { $0.1 } }

    func roundTrips() -> [RoundTripRecord] { trips.withLock { $0.records } }

    func submit(_ request: ControlRequest) async -> ControlReply {
        // Subscriptions go straight onto `control.feed` (the desk holds its own lock), so the
        // reply can say whether the feed's view and ring took them; risk commands wait for
        // `forwardRequests` on the main thread.
        let change: Result<String, FeedSubscriptionRefusal>?
        switch request {
        case .subscribe(let symbols): change = subscriptions?.subscribe(symbols)
        case .unsubscribe(let symbols): change = subscriptions?.unsubscribe(symbols)
        default: change = nil
        }
        switch change {
        case .success(let text)?: return ControlReply(accepted: true, message: text)
        case .failure(let refusal)?: return ControlReply(accepted: false, message: refusal.message)
        case nil: break
        }
        return await commands.submit(request)
    }
}
