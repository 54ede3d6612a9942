import ArgumentParser
import Foundation
import Synchronization
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineEngine
import TicklineFeed
import TicklineMarketData
import TicklineRisk
import TicklineRuntime

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs the pipeline on a built-in feed with the paper venue, a live terminal view and the dashboard.",
        discussion: """
            No config needed: a synthetic multi-symbol feed (or recorded Binance files with
            --data) goes through the built-in strategies, pre-trade risk and the paper venue at
            the given rate. A tickline-writer process journals every signal, order, fill and risk
            event into InfluxDB and Redis: the servers --influx/--redis or TICKLINE_INFLUX_URL/
            TICKLINE_REDIS_URL name, else private influxd and redis-server started on free
            loopback ports with their data in the demo's folder (/tmp/tickline-demo-<pid>) and
            stopped with the demo, else a line-protocol file there (the screen says which, and
            how many records each received). The control plane (dashboard, /metrics, API)
            listens on loopback; its address and token are printed. Ctrl-C stops.
            """)

    @Option(parsing: .unconditional, help: "Stop after this many seconds, 0 < S <= 604800 (default: run until Ctrl-C).") var duration: Double?
    @Flag(help: "No live view; print one JSON line at exit.") var json = false
    @Option(parsing: .unconditional, help: "Synthetic symbols, 1-1000.") var symbols = 4
    @Option(parsing: .unconditional, help: "Messages per second from the feed, 0 < R <= 1000000.") var rate: Double = 2_000
    @Option(help: "Recorded Binance files to replay in a loop instead of the synthetic feed.") var data: [String] = []
    @Option(help: "Control plane address (HOST:PORT; port 0 = any free one).") var listen = "127.0.0.1:0"
    @Option(parsing: .unconditional, help: "Market time per wall second, 0 < X <= 1000: 1-second bars close this many times a second, so a short demo trades.")
    var speed: Double = 20
    @Option(help: "At exit, write the HTML report (round trips, per-strategy results, equity and drawdown charts) to this file.")
    var html: String?
    @Option(help: "InfluxDB write URL to journal into instead of a private influxd (http://HOST:PORT/write?db=NAME or file:///PATH).")
    var influx: String?
    @Option(help: "Redis URL to journal into instead of a private redis-server (redis://HOST:PORT/DB).") var redis: String?

    func validate() throws {
        try checkRange("--duration", duration, above: 0, upTo: 604_800)
        try checkRange("--symbols", symbols, in: 1...1_000)
        try checkRange("--rate", rate, above: 0, upTo: 1_000_000)
        try checkRange("--speed", speed, above: 0, upTo: 1_000)
    }

    func run() throws {
        if let html { try ReportFile.checkWritable(html) }
        ShutdownSignal.install()
        // The feed: recorded lines (looped) or synthetic messages.
        var recorded: [[UInt8]] = []
        var names: [String]
        let synthetic = SyntheticFeed(symbols: symbols)
        if data.isEmpty {
            names = synthetic.symbols
        } else {
            var all: [UInt8] = []
            for f in data { all += try RecordingFile.load(f); if all.last != 10 { all.append(10) } }
            names = RecordingVerifier.symbols(in: all)
            var malformed = 0
            for line in all.split(separator: 10) {
                switch RecordingLine.parse(line) {
                case .blank: break
                case .malformed: malformed += 1
                case .message(_, let payload): recorded.append(Array(all[payload]))
                }
            }
            guard !names.isEmpty, !recorded.isEmpty else { throw CommandFailure("no Binance messages in \(data.joined(separator: ", "))") }
            if malformed > 0 {
                FileHandle.standardError.write(Data("demo: left out \(malformed) lines that are not `<receive ns> <message>`\n".utf8))
            }
        }
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                      positionLimitUnits: 25_000_000)
        // Events carry market time (`speed` × wall, so bars close `speed` times faster);
        // latency stamps stay on the real monotonic clock.
        // The journal rings go to a writer process when one starts (it waits for the region),
        // else they are drained here.
        let instance = "demo-\(getpid())"
        let directory = "/tmp/tickline-\(instance)"
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw CommandFailure("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        DemoWriter.removeDataOfDeadDemos()
        let writer = DemoWriter(instance: instance, directory: directory, influxURL: influx, redisURL: redis,
                                instruments: names.map { RiskConfig.Instrument(symbol: $0, spec: spec) },
                                venue: data.isEmpty ? "synthetic" : "binance")
        defer { writer.stop() }  // also when something below throws: the private servers go
        // The engine runs on a pinned runner on the market clock (`speed` × real time from
        // now, so bars close `speed` times faster); its feed makes `rate` messages a real
        // second on that thread and hands them to the feed stage as WebSocket frames.
        let startWall = Clock.wall()
        let marketClock = DutyCycleClock.market(speed: speed, startWall: startWall)
        let messages = DemoMessages(recorded: recorded, synthetic: synthetic)
        let feed = PacedTransport(rate: rate, clock: marketClock, maxMessageBytes: ReplayEngine.maxMessageBytes,
                                  source: messages.next)
        let engine = try ReplayEngine(symbols: names, config: EngineConfig(), fallbackSpec: spec,
                                      startWallNs: startWall,
                                      sharedInstance: instance, drainsJournals: writer.supervisor == nil, feedTransport: feed)
        defer { engine.close() }

        // The control plane, fed a snapshot four times a second.
        let source = DemoSource(instance: "demo",
                                commands: RiskCommandQueue(acks: engine.acks, subscriptionRefusal: "the demo's feed has a fixed set of symbols: \(names.joined(separator: ", "))",
                                                           symbols: names))
        var control = ControlConfig(listen: listen)
        control.tokenFile = "\(directory)/control.token"
        let (token, origin) = try ControlServer.resolveToken(config: control, instance: "demo")
        let server = ControlServer(config: control, token: token, source: source)
        var url = "(control plane off)"
        do {
            try server.start()
            url = "http://127.0.0.1:\(server.port ?? 0)/?token=\(token)"
        } catch { FileHandle.standardError.write(Data("demo: \(error.description); continuing without it\n".utf8)) }
        defer { server.stop() }
        let say = { (text: String) in FileHandle.standardError.write(Data((text + "\n").utf8)) }
        say("tickline demo: \(names.count) symbols (\(data.isEmpty ? "synthetic" : "recorded") feed) at \(Int(rate)) messages/s, paper venue (fees \(Double(engine.feePartsPerMillion) / 10_000) % a side)")
        say("dashboard: \(url)   (token \(origin); metrics: curl -H 'Authorization: Bearer \(token)' http://127.0.0.1:\(server.port ?? 0)/metrics)")
        try engine.start(clock: marketClock)
        if let runner = engine.runner {
            say("pipeline: thread '\(runner.name)' on \(runner.cores.isEmpty ? "any core" : "core \(runner.cores.map(String.init).joined(separator: ","))")"
                + (runner.pinResult > 0 ? " (pinning failed: errno \(runner.pinResult))" : ""))
        }
        for l in writer.lines() { say(l) }

        // This thread only forwards control requests and shows what the runner publishes.
        let start = Clock.monotonic()
        var nextView = start + 1_000_000_000
        var nextSnapshot = start
        var lastEvents: UInt64 = 0
        var shown = EngineSnapshot(instance: "demo")
        while ShutdownSignal.requested == nil {
            let now = Clock.monotonic()
            if let duration, Double(now - start) / 1e9 >= duration { break }
            // Requests wait for the risk stage's ack: hand them on often, not only with the
            // snapshot; the risk stage takes them at its next duty cycle.
            source.commands.forward { engine.send($0) }
            if now >= nextSnapshot {
                nextSnapshot = now + 250_000_000
                writer.supervisor?.poll()
                let report = engine.published.withLock { $0 }
                shown = Self.snapshot(engine, report: report, names: names)
                source.publish(shown, metrics: Self.metrics(engine, events: shown.events, writerMetricsPath: writer.metricsPath),
                               roundTrips: report.roundTrips)
            }
            if now >= nextView {
                let r = engine.published.withLock { $0 }
                if !json { print(Self.view(r, engine: engine, snapshot: shown, eventsPerSecond: r.events - lastEvents, url: url,
                                          writer: writer.lines())) }
                lastEvents = r.events
                nextView += 1_000_000_000
            }
            usleep(5_000)
        }
        engine.stop()
        let r = engine.finish(elapsedSeconds: Double(Clock.monotonic() - start) / 1e9)
        if feed.refused.load(ordering: .relaxed) > 0 {
            say("demo: \(feed.refused.load(ordering: .relaxed)) messages the feed's connection could not take (longer than a frame may be, or the read buffer full; counted among the decode errors)")
        }
        // The writer drains what the journal rings still hold and exits; then the private
        // servers stop and their data goes. What each sink received stays on the screen.
        let ended = writer.supervisor.map { $0.stop(timeoutMs: 10_000) }
        let sinkLines = writer.lines()
        let sinks = writer.json()
        writer.stop()
        if let ended { say("writer: \(ended)") }
        for l in sinkLines.dropFirst() { say(l) }
        if !writer.servers.isEmpty { say("private servers stopped and their data removed; writer log kept in \(writer.logPath)") }
        if let html { try ReportFile.write(ReplayHTML.render(r, title: "Tickline demo", sources: data.isEmpty ? ["synthetic feed"] : data), to: html) }
        if json {
            var out: [String: Double] = ["events": Double(r.events), "signals": Double(r.signals), "orders": Double(r.orders),
                                         "fills": Double(r.fills), "risk_events": Double(engine.riskEvents),
                                         "denials": Double(r.denials), "writer_restarts": Double(writer.supervisor?.restarts ?? 0), "final_equity": r.finalEquity,
                                         "seconds": r.seconds, "exits": Double(r.exits), "cancel_requests": Double(r.cancelRequests)]
            for (kind, n) in r.reports { out["reports_\(kind)"] = Double(n) }
            for (trigger, n) in r.exitsByTrigger { out["exits_\(trigger)"] = Double(n) }
            for (reason, n) in r.denialsByReason { out["denials_\(reason)"] = Double(n) }
            let summary = try JSONEncoder().encode(DemoSummary(counts: out, report: r))
            var object = try JSONSerialization.jsonObject(with: summary) as? [String: Any] ?? [:]
            object["sinks"] = sinks
            // The breakers as `/api/snapshot` shows them, in this output's key style.
            let breakers = engine.view.read()?.breakers ?? engine.riskStage.breakers.snapshot
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            object["breakers"] = try JSONSerialization.jsonObject(with: encoder.encode(EngineSnapshotBuilder.breakers(breakers)))
            object["kill_switch_engaged"] = breakers.killSwitchEngaged
            // The final positions (what the writer's position hashes hold): per instrument and
            // strategy the non-zero ones, and net per instrument; `qty_units` exact.
            let held = engine.positions()
            func entry(_ p: HeldPosition) -> [String: Any] {
                var e: [String: Any] = ["symbol": p.symbol, "instrument": Int(p.instrument), "qty": Double(p.quantityText) ?? 0,
                                        "qty_units": p.quantityUnits]
                if let s = p.strategy { e["strategy"] = Int(s) }
                return e
            }
            object["positions"] = held.byStrategy.map(entry)
            object["net_positions"] = held.net.map(entry)
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(ReplayText.render(r, symbols: names))
        }
    }

    /// The live terminal view (one screen, redrawn each second).
    static func view(_ r: ReplayReport, engine: ReplayEngine, snapshot: EngineSnapshot, eventsPerSecond: UInt64, url: String,
                     writer: [String]) -> String {
        func f(_ v: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", v) }
        var out = "\u{1B}[H\u{1B}[2J"
        out += "Tickline demo — \(f(r.seconds, 0)) s   \(url)\n\(writer.joined(separator: "\n"))\n\n"
        out += "events/s \(eventsPerSecond)   events \(r.events)   signals \(r.signals)   orders \(r.orders) (exits \(r.exits))   fills \(r.fills)   reports \(r.reports.values.reduce(0, +))   denials \(r.denials)\n"
        out += "equity \(f(r.finalEquity))   realised \(f(r.realisedPnl))   unrealised \(f(r.unrealisedPnl))   fees \(f(r.fees))   max drawdown \(f(r.maxDrawdown * 100, 3)) %\n\n"
        out += "latency (µs)            p50      p99    p99.9      max\n"
        for (name, h) in engine.stats.histograms.enumerated() {
            let s = engine.stats.snapshot(histogramAt: name)
            let label = h.labels.first.map { "\($0.1)" } ?? "tick_to_order"
            out += label.padding(toLength: 18, withPad: " ", startingAt: 0)
            for q in [0.5, 0.99, 0.999] { out += String(format: " %8.1f", Double(s.percentile(q)) / 1e3) }
            out += String(format: " %8.1f\n", Double(s.max) / 1e3)
        }
        out += "\npositions\n"
        for p in snapshot.positions {
            out += "  \(p.symbol)  strategy \(p.strategy)  \(f(p.quantity, 5))  avg \(f(p.averagePrice))  unrealised \(f(p.unrealisedPnl))\n"
        }
        out += "\nrecent signals\n"
        for a in snapshot.recentSignals.suffix(5) {
            out += "  \(a.symbol)  strategy \(a.strategy)  \(a.side == "buy" ? "buy " : "sell")  at \(f(a.price))\n"
        }
        out += "\nrecent denials\n"
        for a in snapshot.recentDenials.suffix(5) {
            out += "  \(a.symbol)  strategy \(a.strategy)  \(a.detail)\n"
        }
        return out
    }

    /// The control plane's snapshot: the risk stage's published view (the one translation
    /// `tickline run` uses too) plus the demo's event counts.
    static func snapshot(_ engine: ReplayEngine, report r: ReplayReport, names: [String]) -> EngineSnapshot {
        let wall = Clock.wall()
        let view = engine.view.read()
        var s = view.map {
            EngineSnapshotBuilder.snapshot(instance: "demo", view: $0, symbols: names, stats: engine.stats, wallNs: wall)
        } ?? EngineSnapshot(instance: "demo", wallNs: wall.ns)
        s.events = r.events
        s.eventsPerSecond = r.eventsPerSecond
        return s
    }

    /// The demo's /metrics: the same families as `tickline run` for the stages it runs, and
    /// like it the writer's own metrics file (so the counts the screen shows per sink are
    /// `tickline_writer_sink_written_total` there too).
    static func metrics(_ engine: ReplayEngine, events: UInt64, writerMetricsPath: String) -> String {
        var p = PrometheusText()
        p.single("tickline_events_total", .counter, "Market events decoded.", [], Double(events))
        engine.stats.prometheus(into: &p)
        if let v = engine.view.read() { EngineSnapshotBuilder.prometheus(v, into: &p) }
        ProcessUsage.prometheus(into: &p)
        if let text = try? String(contentsOfFile: writerMetricsPath, encoding: .utf8) { p.append(exposition: text) }
        return p.text
    }
}

/// The demo as the control plane sees it: a snapshot published by the demo's thread, and
/// requests queued for it (only that thread touches the engine and its control ring).
final class DemoSource: ControlPlaneSource {
    let instance: String
    let latest: Mutex<EngineSnapshot>
    let metricsText = Mutex("")
    let trips = Mutex<[RoundTripRecord]>([])
    /// Checked and queued as `tickline run` does; the demo's thread forwards them.
    let commands: RiskCommandQueue

    init(instance: String, commands: RiskCommandQueue) {
        self.instance = instance
        self.commands = commands
        latest = Mutex(EngineSnapshot(instance: instance))
    }

    func publish(_ s: EngineSnapshot, metrics: String, roundTrips: [RoundTripRecord]) {
        latest.withLock { $0 = s }
        trips.withLock { $0 = roundTrips }
        metricsText.withLock { $0 = metrics }
    }

    func snapshot() -> EngineSnapshot { latest.withLock { $0 } }

    /// Every round trip of the run (the replay engine's report keeps them all).
    func roundTrips() -> [RoundTripRecord] { trips.withLock { $0 } }

    func readiness() -> [ReadinessCheck] {
        let s = snapshot()
        let age = Double(Clock.wall().ns - s.wallNs) / 1e9
        return [ReadinessCheck(name: "engine", ok: age < 2, detail: String(format: "last snapshot %.1f s ago", age)),
                ReadinessCheck(name: "feed", ok: s.events > 0, detail: "\(s.events) events")]
    }

    func prometheusMetrics() -> String { metricsText.withLock { $0 } }

    func submit(_ request: ControlRequest) async -> ControlReply { await commands.submit(request) }
}

/// The demo's messages, made on the feed stage's thread: recorded lines in a loop, or the
/// synthetic feed's, each for the market time it is received at.
final class DemoMessages {
    let recorded: [[UInt8]]
    var synthetic: SyntheticFeed
    var line = 0

    init(recorded: [[UInt8]], synthetic: SyntheticFeed) {
        self.recorded = recorded
        self.synthetic = synthetic
    }

    func next(_ wall: WallNanos, _ deliver: (UnsafeRawBufferPointer) -> Void) {
        if recorded.isEmpty {
            var text = synthetic.message(venueTimeMs: wall.ns / 1_000_000)
            text.withUTF8 { deliver(UnsafeRawBufferPointer($0)) }
        } else {
            recorded[line % recorded.count].withUnsafeBytes { deliver($0) }
            line += 1
        }
    }
}

/// `demo --json`: the demo's counts, then the report's money (`ReplayReport`'s keys).
struct DemoSummary: Encodable {
    let counts: [String: Double]
    let report: ReplayReport

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (k, v) in counts { try c.encode(v, forKey: Key(stringValue: k)) }
        try c.encode(report.netPnl, forKey: Key(stringValue: "net_pnl"))
        try c.encode(report.openFees, forKey: Key(stringValue: "open_fees"))
        try c.encode(report.roundTrips, forKey: Key(stringValue: "round_trips"))
        try c.encode(report.byStrategy, forKey: Key(stringValue: "by_strategy"))
        try c.encode(report.unrealisedPnl, forKey: Key(stringValue: "unrealised_pnl"))
        try c.encode(report.startingEquity, forKey: Key(stringValue: "starting_equity"))
        try c.encode(report.equityCurve, forKey: Key(stringValue: "equity_curve"))
        try c.encode(report.drawdownCurve, forKey: Key(stringValue: "drawdown_curve"))
        try c.encode(report.latency, forKey: Key(stringValue: "latency"))
    }
}

extension Array where Element == String {
    subscript(safe i: Int) -> String { i >= 0 && i < count ? self[i] : "#\(i)" }
}
