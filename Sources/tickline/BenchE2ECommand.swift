import ArgumentParser
import Foundation
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineRuntime

/// `tickline bench e2e`: end-to-end latency from socket read to order in the venue ring.
struct BenchE2E: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Socket read to order in the venue ring: tickline-feed on loopback at fixed offered rates, the pipeline as `tickline run` places it.",
        discussion: """
            For each rate × symbol count: starts `tickline-feed --synthetic N --rate R` on 127.0.0.1 (open loop: message n \
            is due at start + n/R whatever the pipeline does), runs the real feed agent (io_uring sockets), a strategy that \
            turns every Nth market event into a buy signal, pre-trade risk and the paper venue on the default threading \
            config (stages fused on one parking runner on the last core), warms up, then measures for --duration seconds. \
            Reports per-stage and tick-to-order latency percentiles of the orders whose market event was read in the window, \
            drops (ring drops + frames the server dropped for us + slow-consumer closes), events/s, CPU and RSS; writes \
            HdrHistogram .hgrm files and an HTML percentile plot into --out. Then steps the rate at --rated-symbols symbols \
            until drops appear: the rated load is the highest offered rate with 0 drops over the run.
            """)

    @Option(help: "Offered rates, messages/s, comma-separated (1…1000000000).") var rates = "10000,100000,1000000"
    @Option(help: "Symbol counts, comma-separated (1…10000).") var symbols = "1,100,10000"
    @Option(parsing: .unconditional, help: "Measurement window per scenario, seconds.") var duration = 5.0
    @Option(parsing: .unconditional, help: "Seconds of sending before the window (default: 1 + symbols/5000).") var warmup: Double?
    @Option(parsing: .unconditional, help: "One signal (and order) per this many market events.") var every = 20
    @Option(help: "Output directory for .hgrm files and the plot.") var out = ".build/bench-e2e"
    @Option(name: .customLong("rated-symbols"), help: "Symbol count the rated load is stepped at.") var ratedSymbols = 100
    @Option(name: .customLong("rated-rates"), help: "Rates stepped for the rated load, ascending, comma-separated.")
    var ratedRates = "100000,150000,200000,300000,400000,600000,800000,1000000"
    @Flag(name: .customLong("no-rated"), help: "Skip the rated-load search.") var noRated = false
    @Option(name: .customLong("feed-binary"), help: "tickline-feed to start (default: the one beside this program).")
    var feedBinary: String?
    @Flag(help: "Print one JSON line per scenario and a final rated-load line.") var json = false

    func validate() throws {
        guard parse(rates) != nil, parse(symbols) != nil, parse(ratedRates) != nil else {
            throw ValidationError("--rates, --symbols and --rated-rates take comma-separated positive numbers")
        }
        guard (parse(rates)! + parse(ratedRates)!).allSatisfy({ $0 <= 1_000_000_000 }) else {
            throw ValidationError("--rates and --rated-rates must be at most 1000000000 messages/s (tickline-feed --rate's range)")
        }
        guard parse(symbols)!.allSatisfy({ $0 >= 1 && $0 <= 10_000 }), ratedSymbols >= 1, ratedSymbols <= 10_000 else {
            throw ValidationError("symbol counts must be 1…10000 (tickline-feed --synthetic's range)")
        }
        try checkRange("--duration", duration, above: 0, upTo: 3_600)
        if let warmup, !(warmup >= 0 && warmup <= 3_600) {
            throw ValidationError("--warmup must be from 0 to 3600 (got \(warmup.formatted()))")
        }
        try checkRange("--every", every, in: 1...1_000_000)
    }

    func parse(_ list: String) -> [Int]? {
        let values = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        let binary = feedBinary ?? WriterSupervisor.besideThisProgram("tickline-feed")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw CommandFailure("tickline-feed not found at \(binary) (build it: swift build -c release --product tickline-feed, or pass --feed-binary)")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        ShutdownSignal.install()
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let log: (String) -> Void = { line in if !json { print(line) } else { FileHandle.standardError.write(Data((line + "\n").utf8)) } }

        var results: [EndToEndResult] = []
        func runOne(rate: Int, symbols: Int, phase: String) throws -> EndToEndResult {
            var s = EndToEndScenario(rate: Double(rate), symbols: symbols, durationSeconds: duration,
                                     warmupSeconds: warmup ?? (1 + Double(symbols) / 5_000), every: every, feedBinary: binary)
            s.sinkCores = cpus > 1 ? [0] : []
            log("scenario: \(rate) msg/s, \(symbols) symbols (\(phase))")
            let r: EndToEndResult
            do { r = try EndToEndBench.run(s, log: log) } catch { throw CommandFailure("scenario \(rate) msg/s × \(symbols) symbols: \(error.description)") }
            let files = try writeHistograms(r)
            if json { print(E2EReport.jsonLine(r, phase: phase, files: files)) } else { print(E2EReport.textLine(r)) }
            results.append(r)
            return r
        }

        for symbolCount in parse(symbols)! {
            for rate in parse(rates)! {
                if ShutdownSignal.requested != nil { break }
                _ = try runOne(rate: rate, symbols: symbolCount, phase: "grid")
            }
        }

        if !noRated && ShutdownSignal.requested == nil {
            var rated = 0
            var steps: [[String: Any]] = []
            // Lower grid rates at this symbol count count as steps too.
            let known = results.filter { $0.scenario.symbols == ratedSymbols }
            var candidates = Set(parse(ratedRates)!)
            for r in known where Int(r.scenario.rate) < parse(ratedRates)!.min()! { candidates.insert(Int(r.scenario.rate)) }
            for rate in candidates.sorted() {
                if ShutdownSignal.requested != nil { break }
                let r = try known.first { Int($0.scenario.rate) == rate } ?? runOne(rate: rate, symbols: ratedSymbols, phase: "step")
                // A rate the server could not offer (≥ 2 % short) cannot be rated.
                let offered = r.achievedRate >= 0.98 * r.scenario.rate
                steps.append(["rate": rate, "drops": r.drops, "achieved_rate": Int(r.achievedRate), "passed": r.drops == 0 && offered])
                guard r.drops == 0 && offered else { break }
                rated = rate
            }
            if json {
                let stepText = steps.map { s in
                    "{\"rate\":\(s["rate"]!),\"drops\":\(s["drops"]!),\"achieved_rate\":\(s["achieved_rate"]!),\"passed\":\(s["passed"]!)}"
                }.joined(separator: ",")
                print("{\"rated_load\":\(rated),\"symbols\":\(ratedSymbols),\"every\":\(every),\"duration_s\":\(duration),\"steps\":[\(stepText)]}")
            } else {
                print("rated load: \(rated) msg/s at \(ratedSymbols) symbols (highest offered rate with 0 drops; steps: "
                      + steps.map { "\($0["rate"]!)→\($0["drops"]!) drops" }.joined(separator: ", ") + ")")
            }
        }
        let plot = "\(out)/e2e-percentiles.html"
        try E2EReport.html(results).write(toFile: plot, atomically: true, encoding: .utf8)
        log("histograms and plot in \(out)/ (\(plot))")
        if ShutdownSignal.requested != nil { throw ExitCode(130) }
    }

    /// One .hgrm per stage and scenario; returns the tick-to-order file's path.
    func writeHistograms(_ r: EndToEndResult) throws -> [String: String] {
        var files: [String: String] = [:]
        for (stage, h) in r.latency {
            let path = "\(out)/e2e-\(Int(r.scenario.rate))-\(r.scenario.symbols)-\(stage).hgrm"
            try HgrmFormat.percentileDistribution(h).write(toFile: path, atomically: true, encoding: .utf8)
            files[stage] = path
        }
        return files
    }
}

/// HdrHistogram's `outputPercentileDistribution` text (values in microseconds, 5 percentile
/// ticks per half distance) from a StatsBoard histogram: each value is the upper bound of
/// the log-linear bucket holding that percentile (≤ 25 % above the true value), capped at the max.
enum HgrmFormat {
    static func percentileDistribution(_ h: StatsBoard.HistogramSnapshot, ticksPerHalfDistance: Double = 5) -> String {
        var text = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"
        func row(_ level: Double) -> (value: Double, count: UInt64) {
            guard h.count > 0 else { return (0, 0) }
            let rank = max(UInt64((Double(h.count) * level / 100).rounded(.up)), 1)
            var seen: UInt64 = 0
            for (i, n) in h.buckets.enumerated() {
                seen += n
                if seen >= rank { return (Double(min(StatsBoard.upperBound(ofBucket: i), h.max)) / 1_000, seen) }
            }
            return (Double(h.max) / 1_000, h.count)
        }
        if h.count > 0 {
            var level = 0.0
            for _ in 0..<400 {
                let (value, count) = row(level)
                if count >= h.count || level >= 100 { break }
                text += String(format: "%12.3f %2.12f %10llu %14.2f\n", value, level / 100, count, 1 / (1 - level / 100))
                let ticks = ticksPerHalfDistance * pow(2, floor(log2(100 / (100 - level))) + 1)
                level += 100 / ticks
            }
            text += String(format: "%12.3f %2.12f %10llu\n", Double(h.max) / 1_000, 1.0, h.count)
        }
        let mean = h.count > 0 ? Double(h.sum) / Double(h.count) / 1_000 : 0
        var variance = 0.0
        if h.count > 0 {
            for (i, n) in h.buckets.enumerated() where n > 0 {
                let d = Double(min(StatsBoard.upperBound(ofBucket: i), h.max)) / 1_000 - mean
                variance += d * d * Double(n)
            }
            variance /= Double(h.count)
        }
        text += String(format: "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean, variance.squareRoot())
        text += String(format: "#[Max     = %12.3f, Total count    = %12llu]\n", Double(h.max) / 1_000, h.count)
        text += String(format: "#[Buckets = %12d, SubBuckets     = %12d]\n", StatsBoard.bucketCount, 4)
        return text
    }
}

/// The report lines and the plot of `tickline bench e2e`.
enum E2EReport {
    static func pct(_ h: StatsBoard.HistogramSnapshot) -> (UInt64, UInt64, UInt64, UInt64) {
        (h.percentile(0.5), h.percentile(0.99), h.percentile(0.999), h.max)
    }

    static func jsonLine(_ r: EndToEndResult, phase: String, files: [String: String]) -> String {
        let t = pct(r.tickToOrder)
        var stages: [String] = []
        for (stage, h) in r.latency where stage != "tick_to_order" {
            let p = pct(h)
            stages.append("\"\(stage)\":{\"p50_ns\":\(p.0),\"p99_ns\":\(p.1),\"p999_ns\":\(p.2),\"max_ns\":\(p.3)}")
        }
        func map(_ m: [String: UInt64]) -> String { "{" + m.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}" }
        let eps = r.windowSeconds > 0 ? Double(r.events) / r.windowSeconds : 0
        return "{\"phase\":\"\(phase)\",\"rate\":\(Int(r.scenario.rate)),\"symbols\":\(r.scenario.symbols),\"events\":\(r.events),"
            + "\"drops\":\(r.drops),\"p50_ns\":\(t.0),\"p99_ns\":\(t.1),\"p999_ns\":\(t.2),\"max_ns\":\(t.3),"
            + String(format: "\"rss_mb\":%.1f,\"peak_rss_mb\":%.1f,\"events_per_second\":%.0f,\"achieved_rate\":%.0f,", r.rssMB, r.peakRssMB, eps, r.achievedRate)
            + String(format: "\"cpu_seconds\":%.3f,\"cpu_percent\":%.1f,\"feed_server_cpu_seconds\":%.3f,",
                     r.cpuSeconds, r.windowSeconds > 0 ? 100 * r.cpuSeconds / r.windowSeconds : 0, r.feedServerCpuSeconds)
            + String(format: "\"window_s\":%.3f,\"load_average\":%.2f,", r.windowSeconds, r.loadAverage)
            + "\"samples\":\(r.tickToOrder.count),\"every\":\(r.scenario.every),\"connections\":\(r.connections),"
            + "\"produced\":\(r.produced),\"events_total\":\(r.eventsTotal),\"feed_messages\":\(r.feedMessages),"
            + "\"signals\":\(r.signals),\"orders\":\(r.orders),\"denials\":\(r.denials),\"venue_orders\":\(r.venueOrders),"
            + "\"ring_drops\":\(map(r.ringDrops)),\"ring_refusals\":\(map(r.ringRefusals)),"
            + "\"server_frames_dropped\":\(r.serverFramesDropped),\"server_slow_consumers\":\(r.serverSlowConsumers),"
            + "\"decode_errors\":\(r.decodeErrors),\"gaps\":\(r.gaps),\"reconnects\":\(r.reconnects),"
            + "\"subscribe_refused\":\(r.subscribeRefused),\"snapshots_synced\":\(r.snapshotsSynced),"
            + "\"stages\":{\(stages.joined(separator: ","))},\"hgrm\":\"\(files["tick_to_order"] ?? "")\"}"
    }

    static func us(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1_000) }

    static func textLine(_ r: EndToEndResult) -> String {
        let t = pct(r.tickToOrder)
        var line = String(format: "%8d msg/s %6d sym: %9llu events (%.0f/s), drops %llu, ", Int(r.scenario.rate), r.scenario.symbols,
                          r.events, Double(r.events) / max(r.windowSeconds, 1e-9), r.drops)
            + "tick-to-order µs p50 \(us(t.0)) p99 \(us(t.1)) p99.9 \(us(t.2)) max \(us(t.3)) (\(r.tickToOrder.count) orders), "
            + String(format: "cpu %.0f%%, rss %.0f MB", 100 * r.cpuSeconds / max(r.windowSeconds, 1e-9), r.rssMB)
        for (stage, h) in r.latency where stage != "tick_to_order" {
            let p = pct(h)
            line += "\n    \(stage): p50 \(us(p.0)) p99 \(us(p.1)) p99.9 \(us(p.2)) max \(us(p.3)) µs"
        }
        return line
    }

    /// A self-contained page: tick-to-order percentile curves (HdrHistogram style: x is
    /// 1/(1−percentile) on a log axis, y latency on a log axis) and the numbers.
    static func html(_ results: [EndToEndResult]) -> String {
        let width = 900.0, height = 480.0, left = 70.0, bottom = 40.0, top = 20.0, right = 200.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxX = 5.0  // 99.999 %
        let values = results.flatMap { r in r.tickToOrder.count > 0 ? [Double(max(r.tickToOrder.max, 1))] : [] }
        let yMin = 0.0, yMax = max(1, ceil(log10((values.max() ?? 1_000) / 1_000) + 0.5))
        func x(_ p: Double) -> Double { left + plotW * min(log10(1 / max(1 - p, 1e-9)), maxX) / maxX }
        func y(_ ns: Double) -> Double {
            let v = log10(max(ns / 1_000, 1))
            return top + plotH * (1 - (v - yMin) / (yMax - yMin))
        }
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(width))' height='\(Int(height))' font-family='sans-serif' font-size='11'>"
        for k in 0...Int(maxX) {
            let px = left + plotW * Double(k) / maxX
            let label = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"][k]
            svg += "<line x1='\(px)' y1='\(top)' x2='\(px)' y2='\(top + plotH)' stroke='#ddd'/><text x='\(px)' y='\(height - 20)' text-anchor='middle'>\(label)</text>"
        }
        for k in 0...Int(yMax) {
            let py = top + plotH * (1 - Double(k) / yMax)
            let labels = ["1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s", "100 s", "1000 s"]
            let label = k < labels.count ? labels[k] : "1e\(k) µs"
            svg += "<line x1='\(left)' y1='\(py)' x2='\(left + plotW)' y2='\(py)' stroke='#ddd'/><text x='\(left - 6)' y='\(py + 4)' text-anchor='end'>\(label)</text>"
        }
        svg += "<text x='\(left + plotW / 2)' y='\(height - 4)' text-anchor='middle'>percentile</text>"
        for (i, r) in results.enumerated() where r.tickToOrder.count > 0 {
            let h = r.tickToOrder
            var points: [String] = []
            var p = 0.0
            while p < 0.99999 {
                points.append(String(format: "%.1f,%.1f", x(p), y(Double(h.percentile(p)))))
                p += (1 - p) / 10
            }
            points.append(String(format: "%.1f,%.1f", x(0.99999), y(Double(h.max))))
            let color = colors[i % colors.count]
            svg += "<polyline fill='none' stroke='\(color)' stroke-width='1.5' points='\(points.joined(separator: " "))'/>"
            svg += "<text x='\(left + plotW + 10)' y='\(top + 14 * Double(i + 1))' fill='\(color)'>\(Int(r.scenario.rate)) msg/s × \(r.scenario.symbols) sym</text>"
        }
        svg += "</svg>"
        var rows = ""
        for r in results {
            let t = pct(r.tickToOrder)
            rows += "<tr><td>\(Int(r.scenario.rate))</td><td>\(r.scenario.symbols)</td><td>\(r.events)</td><td>\(r.drops)</td>"
                + "<td>\(us(t.0))</td><td>\(us(t.1))</td><td>\(us(t.2))</td><td>\(us(t.3))</td><td>\(r.tickToOrder.count)</td>"
                + String(format: "<td>%.0f</td></tr>", r.rssMB)
        }
        return """
            <!doctype html><html><head><meta charset='utf-8'><title>tickline bench e2e</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>
            </head><body><h1>Tick-to-order latency (socket read → order in the venue ring)</h1>
            \(svg)
            <table><tr><th>rate msg/s</th><th>symbols</th><th>events</th><th>drops</th><th>p50 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>max µs</th><th>orders</th><th>RSS MB</th></tr>
            \(rows)</table></body></html>
            """
    }
}
