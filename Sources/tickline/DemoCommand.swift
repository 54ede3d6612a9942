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
            No config and no servers needed: a synthetic multi-symbol feed (or recorded Binance
            files with --data) goes through the built-in strategies, pre-trade risk and the paper
            venue at the given rate, on the real clock. The control plane (dashboard, /metrics,
            API) listens on loopback; its address and token are printed. Ctrl-C stops.
            """)

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).") var duration: Double?
    @Flag(help: "No live view; print one JSON line at exit.") var json = false
    @Option(help: "Synthetic symbols.") var symbols = 4
    @Option(help: "Messages per second from the feed.") var rate: Double = 2_000
    @Option(help: "Recorded Binance files to replay in a loop instead of the synthetic feed.") var data: [String] = []
    @Option(help: "Control plane address (HOST:PORT; port 0 = any free one).") var listen = "127.0.0.1:0"
    @Option(help: "Market time per wall second: 1-second bars close this many times a second, so a short demo trades.")
    var speed: Double = 20
    @Option(help: "At exit, write the HTML report (round trips, per-strategy results, equity and drawdown charts) to this file.")
    var html: String?

    func run() throws {
        if let html { try ReportFile.checkWritable(html) }
        ShutdownSignal.install()
        // The feed: recorded lines (looped) or synthetic messages.
        var recorded: [[UInt8]] = []
        var names: [String]
        var synthetic = SyntheticFeed(symbols: max(1, symbols))
        if data.isEmpty {
            names = synthetic.symbols
        } else {
            var all: [UInt8] = []
            for f in data { all += try RecordingFile.load(f); if all.last != 10 { all.append(10) } }
            names = RecordingVerifier.symbols(in: all)
            recorded = all.split(separator: 10).map { line in Array(line.drop { $0 != 32 }.dropFirst()) }
            guard !names.isEmpty, !recorded.isEmpty else { throw CommandFailure("no Binance messages in \(data.joined(separator: ", "))") }
        }
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                      positionLimitUnits: 25_000_000)
        // Events carry market time (`speed` × wall, so bars close `speed` times faster);
        // latency stamps stay on the real monotonic clock.
        // The journal rings go to a writer process when one starts (it waits for the region),
        // else they are drained here.
        let instance = "demo-\(getpid())"
        let directory = "/tmp/tickline-\(instance)"
        mkdir(directory, 0o700)
        let (writer, writerLine) = DemoWriter.start(instance: instance, directory: directory)
        let engine = try ReplayEngine(symbols: names, config: EngineConfig(), fallbackSpec: spec,
                                      startNowNs: Clock.monotonicNs(), startWallNs: Clock.wallNs(),
                                      sharedInstance: instance, drainsJournals: writer == nil)
        defer { engine.close() }

        // The control plane, fed a snapshot four times a second.
        let source = DemoSource(instance: "demo")
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
        say(writerLine)

        let start = Clock.monotonicNs()
        let startWall = Clock.wallNs()
        var sent = 0
        var nextView = start + 1_000_000_000
        var nextSnapshot = start
        var lastEvents: UInt64 = 0
        var shown = EngineSnapshot(instance: "demo")
        var line = 0
        while ShutdownSignal.requested == nil {
            let now = Clock.monotonicNs()
            if let duration, Double(now - start) / 1e9 >= duration { break }
            // Open loop: as many messages as are due by now.
            let due = Int(Double(now - start) / 1e9 * rate)
            var batch = 0
            while sent < due && batch < 1_000 {
                let wall = startWall + Int64(Double(Clock.monotonicNs() - start) * speed)
                if recorded.isEmpty {
                    var text = synthetic.message(venueTimeMs: wall / 1_000_000)
                    text.withUTF8 { engine.step(UnsafeRawBufferPointer($0), receiveWallNs: wall, nowNs: Clock.monotonicNs()) }
                } else {
                    recorded[line % recorded.count].withUnsafeBytes { engine.step($0, receiveWallNs: wall, nowNs: Clock.monotonicNs()) }
                    line += 1
                }
                sent += 1
                batch += 1
            }
            if now >= nextSnapshot {
                nextSnapshot = now + 250_000_000
                writer?.supervisor.poll()
                for request in source.takeRequests() { source.reply(Self.apply(request, to: engine, names: names)) }
                let report = engine.current(elapsedSeconds: Double(now - start) / 1e9, statistics: false)
                shown = Self.snapshot(engine, report: report, names: names)
                source.publish(shown, metrics: Self.metrics(engine, events: shown.events), roundTrips: report.roundTrips)
            }
            if now >= nextView {
                let r = engine.current(elapsedSeconds: Double(now - start) / 1e9, statistics: false)
                if !json { print(Self.view(r, engine: engine, snapshot: shown, eventsPerSecond: r.events - lastEvents, url: url,
                                          writer: writerLine + (writer.map { " (restarts \($0.supervisor.restarts))" } ?? ""))) }
                lastEvents = r.events
                nextView += 1_000_000_000
            }
            if sent >= due { usleep(500) }
        }
        let r = engine.finish(elapsedSeconds: Double(Clock.monotonicNs() - start) / 1e9)
        // The writer drains what the journal rings still hold, then exits.
        if let writer { say("writer: \(writer.supervisor.stop(timeoutMs: 10_000)) (\(writer.destination))") }
        if let html { try ReportFile.write(ReplayHTML.render(r, title: "Tickline demo", sources: data.isEmpty ? ["synthetic feed"] : data), to: html) }
        if json {
            var out: [String: Double] = ["events": Double(r.events), "signals": Double(r.signals), "orders": Double(r.orders),
                                         "fills": Double(r.fills), "risk_events": Double(engine.riskEvents),
                                         "denials": Double(r.denials), "writer_restarts": Double(writer?.supervisor.restarts ?? 0), "final_equity": r.finalEquity,
                                         "seconds": r.seconds, "exits": Double(r.exits), "cancel_requests": Double(r.cancelRequests)]
            for (kind, n) in r.reports { out["reports_\(kind)"] = Double(n) }
            for (trigger, n) in r.exitsByTrigger { out["exits_\(trigger)"] = Double(n) }
            for (reason, n) in r.denialsByReason { out["denials_\(reason)"] = Double(n) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(DemoSummary(counts: out, report: r)), as: UTF8.self))
        } else {
            print(ReplayText.render(r, symbols: names))
        }
    }

    /// The live terminal view (one screen, redrawn each second).
    static func view(_ r: ReplayReport, engine: ReplayEngine, snapshot: EngineSnapshot, eventsPerSecond: UInt64, url: String,
                     writer: String) -> String {
        func f(_ v: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", v) }
        var out = "\u{1B}[H\u{1B}[2J"
        out += "Tickline demo — \(f(r.seconds, 0)) s   \(url)\n\(writer)\n\n"
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
        let wall = Clock.wallNs()
        let view = engine.view.read()
        var s = view.map {
            EngineSnapshotBuilder.snapshot(instance: "demo", view: $0, symbols: names, stats: engine.stats, wallNs: wall)
        } ?? EngineSnapshot(instance: "demo", wallNs: wall)
        s.events = r.events
        s.eventsPerSecond = r.eventsPerSecond
        return s
    }

    /// The demo's /metrics: the same families as `tickline run` for the stages it runs.
    static func metrics(_ engine: ReplayEngine, events: UInt64) -> String {
        var p = PrometheusText()
        p.single("tickline_events_total", .counter, "Market events decoded.", [], Double(events))
        engine.stats.prometheus(into: &p)
        if let v = engine.view.read() { EngineSnapshotBuilder.prometheus(v, into: &p) }
        ProcessUsage.prometheus(into: &p)
        return p.text
    }

    /// A request from the API as control-ring commands.
    static func apply(_ request: ControlRequest, to engine: ReplayEngine, names: [String]) -> ControlReply {
        switch request.riskCommands {
        case nil:
            return ControlReply(accepted: false, message: "the demo's feed has a fixed set of symbols: \(names.joined(separator: ", "))")
        case .failure(let refusal)?:
            return ControlReply(accepted: false, message: refusal.message)
        case .success(let commands)?:
            for c in commands where !engine.send(c) {
                return ControlReply(accepted: false, message: "control ring full; try again")
            }
            return ControlReply(accepted: true, message: "queued")
        }
    }
}

/// The demo as the control plane sees it: a snapshot published by the demo's thread, and
/// requests queued for it (only that thread touches the engine and its control ring).
final class DemoSource: ControlPlaneSource {
    let instance: String
    let latest: Mutex<EngineSnapshot>
    let metricsText = Mutex("")
    let trips = Mutex<[RoundTripRecord]>([])
    let requests = Mutex<[ControlRequest]>([])
    let replies = Mutex<[ControlReply]>([])

    init(instance: String) {
        self.instance = instance
        latest = Mutex(EngineSnapshot(instance: instance))
    }

    func publish(_ s: EngineSnapshot, metrics: String, roundTrips: [RoundTripRecord]) {
        latest.withLock { $0 = s }
        trips.withLock { $0 = roundTrips }
        metricsText.withLock { $0 = metrics }
    }
    func takeRequests() -> [ControlRequest] { requests.withLock { let r = $0; $0.removeAll(); return r } }
    func reply(_ r: ControlReply) { replies.withLock { $0.append(r) } }

    func snapshot() -> EngineSnapshot { latest.withLock { $0 } }

    /// Every round trip of the run (the replay engine's report keeps them all).
    func roundTrips() -> [RoundTripRecord] { trips.withLock { $0 } }

    func readiness() -> [ReadinessCheck] {
        let s = snapshot()
        let age = Double(Clock.wallNs() - s.wallNs) / 1e9
        return [ReadinessCheck(name: "engine", ok: age < 2, detail: String(format: "last snapshot %.1f s ago", age)),
                ReadinessCheck(name: "feed", ok: s.events > 0, detail: "\(s.events) events")]
    }

    func prometheusMetrics() -> String { metricsText.withLock { $0 } }

    func submit(_ request: ControlRequest) -> ControlReply {
        requests.withLock { $0.append(request) }
        // The demo's thread applies it within 250 ms; the reply says it was queued.
        return ControlReply(accepted: true, message: "queued for the engine")
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
    }
}

extension Array where Element == String {
    subscript(safe i: Int) -> String { i >= 0 && i < count ? self[i] : "#\(i)" }
}
