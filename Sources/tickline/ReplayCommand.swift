import ArgumentParser
import Foundation
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineEngine
import TicklineFeed
import TicklineMarketData
import TicklineRisk

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Backtests recorded Binance data through the live strategy, risk and paper-venue stages.",
        discussion: """
            Files hold lines `<receive ns> <raw JSON>` (plain or gzip), replayed in order on one
            thread with a simulated clock (each message's receive time), as fast as possible or
            paced (--pace 1 = recorded speed). Without --config: the built-in strategies on 1 s
            bars, the default risk limits, a paper venue with 50,000 of capital and fees of
            0.002 % a side (at 0.1 % no 1 s target clears a round trip's fees, which risk
            counts; a config with strategies: uses its venue: fees).
            Each symbol's decimals, tick and step come from the config's risk.instruments or
            from --instruments, a saved Binance exchangeInfo body (GET /api/v3/exchangeInfo;
            Config/exchange-info/binance-spot.json holds BTCUSDT's): price decimals from the
            tick size, quantity decimals from baseAssetPrecision, and our own limits of 0.1 per
            order and 0.25 per position (in the base asset). A symbol with neither is refused.
            Book figures mean what they mean in `tickline verify`. Exit status 3 when more
            messages than --max-decode-errors did not decode.
            """)

    @Argument(help: "Recorded files (replayed in order of their first receive time; overlapping ones are refused).")
    var files: [String]
    @Option(help: "An engine config (its strategies:, risk: and venue: sections).") var config: String?
    @Flag(help: "Print one JSON line at the end instead of the report.") var json = false
    @Option(parsing: .unconditional, help: "Replayed seconds per wall second, 0.001-1000, or 0 = as fast as possible.") var pace: Double = 0
    @Option(help: "Write an HTML report (round trips, per-strategy results, equity and drawdown charts) to this file.")
    var html: String?
    @Option(help: "A Binance exchangeInfo body (JSON file): decimals, tick and step of the symbols the config does not list.")
    var instruments: String?
    @Option(name: .customLong("max-decode-errors"), parsing: .unconditional,
            help: "Percent of messages that may fail to decode before the replay fails (0-100).")
    var maxDecodeErrorsPercent: Double = 0.1

    func validate() throws {
        guard pace == 0 || (pace >= 0.001 && pace <= 1_000) else {
            throw ValidationError("--pace must be 0 (as fast as possible) or from 0.001 to 1000 (got \(pace.formatted()))")
        }
        guard maxDecodeErrorsPercent >= 0 && maxDecodeErrorsPercent <= 100 else {
            throw ValidationError("--max-decode-errors must be from 0 to 100 (got \(maxDecodeErrorsPercent.formatted()))")
        }
    }

    /// Our limits for a symbol from an exchangeInfo file: 0.1 per order, 0.25 per position (base
    /// asset), on the step and within the venue's max.
    static func replayLimits(stepUnits: Int64, venueMaxUnits: Int64, quantityDecimals: UInt8) -> (maxOrder: Int64, positionLimit: Int64) {
        let one = quantityDecimals >= 1 ? DecimalScale.multiplier(quantityDecimals - 1) : 1  // 0.1 of the base asset
        func onStep(_ units: Int64) -> Int64 { max(units - units % stepUnits, stepUnits) }
        return (min(onStep(one), venueMaxUnits), onStep(one * 5 / 2))
    }

    func run() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one recorded file") }
        if let html { try ReportFile.checkWritable(html) }
        var engineConfig = EngineConfig()
        if let config {
            do { engineConfig = try EngineConfig.load(path: config) } catch { throw CommandFailure(error.description) }
            for notice in engineConfig.notices { FileHandle.standardError.write(Data("tickline replay: notice: \(notice)\n".utf8)) }
        }
        let loaded = try files.map { try RecordingFile.load($0) }
        var spans: [ReplayInput.Span] = []
        for (name, bytes) in zip(files, loaded) {
            guard let span = ReplayInput.span(name: name, bytes) else { throw CommandFailure("\(name): no line starts with a receive time") }
            spans.append(span)
        }
        let order: [Int]
        do { order = try ReplayInput.order(spans) } catch { throw CommandFailure(error.description) }
        if order != Array(files.indices), !json {
            FileHandle.standardError.write(Data("replay: files reordered by their first receive time: \(order.map { files[$0] }.joined(separator: ", "))\n".utf8))
        }
        let contents = order.map { loaded[$0] }
        var symbols: [String] = []
        for bytes in contents { for s in RecordingVerifier.symbols(in: bytes) where !symbols.contains(s) { symbols.append(s) } }
        guard !symbols.isEmpty else { throw CommandFailure("no Binance symbols found in \(files.joined(separator: ", "))") }
        if let instruments {
            let specs: [String: InstrumentRiskSpec]
            do {
                // A recording's market is not known before its diffs are read; spot and USD-M
                // futures serve the same exchangeInfo layout.
                let master: any InstrumentMaster = engineConfig.feeds.first?.market ?? BinanceMarket.spot
                specs = try master.instrumentSpecs(try Data(contentsOf: URL(fileURLWithPath: instruments)), source: instruments,
                                                   ourLimits: Self.replayLimits)
            } catch let error as ExchangeInfo.ReadError {
                throw CommandFailure(error.description)
            } catch {
                throw CommandFailure("--instruments \(instruments): \(error.localizedDescription)")
            }
            for symbol in symbols where !engineConfig.risk.instruments.contains(where: { $0.symbol == symbol }) {
                if let spec = specs[symbol] { engineConfig.risk.instruments.append(RiskConfig.Instrument(symbol: symbol, spec: spec)) }
            }
        }
        let missing = symbols.filter { symbol in !engineConfig.risk.instruments.contains { $0.symbol == symbol } }
        guard missing.isEmpty else {
            throw CommandFailure("no decimals, tick or step for \(missing.joined(separator: ", ")): list them under risk.instruments in "
                                 + "--config, or give --instruments with a Binance exchangeInfo body "
                                 + "(Config/exchange-info/binance-spot.json holds BTCUSDT)")
        }
        let engine: ReplayEngine
        do { engine = try ReplayEngine(symbols: symbols, config: engineConfig, fallbackSpec: nil) } catch {
            throw CommandFailure("\(error)")
        }
        let all = contents.count == 1 ? contents[0] : contents.reduce(into: [UInt8]()) { $0 += $1; if $0.last != 10 { $0.append(10) } }
        let showProgress = !json && isatty(2) != 0
        let report = engine.run(all, pace: pace) { fraction in
            guard showProgress else { return }
            let width = 40, filled = Int(fraction * Double(width))
            FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(Int(fraction * 100))%".utf8))
            if fraction >= 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        }
        if let html { try ReportFile.write(ReplayHTML.render(report, title: "Tickline replay", sources: order.map { files[$0] }), to: html) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(ReplayText.render(report, symbols: symbols))
        }
        if let unpriced = report.denialsByReason["\(DenialReason.noReferencePrice)"], report.snapshotsSynced == 0 {
            FileHandle.standardError.write(Data(("replay: \(unpriced) signals denied for want of a book (noReferencePrice): no depth "
                + "snapshot in the recording synced one, so risk had no price to check against and the paper venue nothing to fill "
                + "against, as live; record the depth stream with its snapshots (tickline record does)\n").utf8))
        }
        if report.decodeErrors > 0, Double(report.decodeErrors) * 100 > maxDecodeErrorsPercent * Double(max(report.messages, 1)) {
            FileHandle.standardError.write(Data(("replay: \(report.decodeErrors) of \(report.messages) messages did not decode, more than "
                + "--max-decode-errors \(maxDecodeErrorsPercent.formatted()) %: check that the files are Binance recordings and that "
                + "each symbol's decimals (--config, --instruments) fit its prices\n").utf8))
            throw ExitCode(3)
        }
    }
}

/// The report file of `replay --html` and `demo --html`.
enum ReportFile {
    /// Refuses, before any work, a path that cannot be written: a missing or read-only
    /// folder, a directory, a read-only file.
    static func checkWritable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw CommandFailure("--html \(path): is a directory") }
            if access(path, W_OK) != 0 { throw CommandFailure("--html \(path): cannot write it (\(String(cString: strerror(errno))))") }
            return
        }
        let folder = (path as NSString).deletingLastPathComponent
        let dir = folder.isEmpty ? "." : folder
        if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) || !isDirectory.boolValue {
            throw CommandFailure("--html \(path): the folder \(dir) does not exist")
        }
        if access(dir, W_OK) != 0 { throw CommandFailure("--html \(path): cannot write in \(dir) (\(String(cString: strerror(errno))))") }
    }

    static func write(_ page: String, to path: String) throws {
        do { try page.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

enum ReplayText {
    static func f(_ v: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", v) }

    /// The Sharpe ratio with its sample count, or why it is not shown.
    static func sharpe(_ value: Double?, samples: Int) -> String {
        if let value { return "\(f(value)) (\(samples) returns)" }
        return samples < ReplayStatistics.minimumSharpeSamples
            ? "not shown (\(samples) returns < \(ReplayStatistics.minimumSharpeSamples))" : "not shown (no variation)"
    }

    static func render(_ r: ReplayReport, symbols: [String]) -> String {
        var out = """
            replay: \(r.messages) messages, \(r.events) events in \(f(r.seconds, 3)) s (\(Int(r.eventsPerSecond)) events/s)
            signals \(r.signals), orders \(r.orders) (exits \(r.exits)), fills \(r.fills), denials \(r.denials)
            round trips \(r.trades), win rate net of all fees \(f(r.winRate * 100, 1)) %, gross \(f(r.winRateGross * 100, 1)) %
            equity \(f(r.startingEquity)) -> \(f(r.finalEquity)), net PnL \(f(r.netPnl)) (realised \(f(r.realisedPnl)), unrealised \(f(r.unrealisedPnl)), fees \(f(r.fees)) of which on open positions \(f(r.openFees)))
            max drawdown \(f(r.maxDrawdown * 100, 3)) %, Sharpe (\(f(r.curveIntervalSeconds, 0)) s returns, annualised) \(sharpe(r.sharpe, samples: r.sharpeSamples))
            """
        for (id, s) in r.byStrategy.sorted(by: { $0.key < $1.key }) {
            out += "\n  strategy \(id): \(s.trades) round trips, net \(f(s.netPnl)) (gross \(f(s.grossPnl)), fees \(f(s.fees))), "
                + "win rate net \(f(s.winRateNet * 100, 1)) % gross \(f(s.winRateGross * 100, 1)) %, unrealised \(f(s.unrealisedPnl)), "
                + "open fees \(f(s.openFees)), max drawdown \(f(s.maxDrawdownMoney)), Sharpe \(sharpe(s.sharpe, samples: s.sharpeSamples))"
        }
        for (reason, n) in r.denialsByReason.sorted(by: { $0.value > $1.value }) { out += "\n  denied \(reason): \(n)" }
        for (trigger, n) in r.exitsByTrigger.sorted(by: { $0.value > $1.value }) { out += "\n  exits by \(trigger): \(n)" }
        for s in symbols { out += "\n  \(s): max |position| \(r.maxAbsPosition[s] ?? 0) of limit \(r.positionLimit[s] ?? 0)" }
        if r.decodeErrors > 0 || r.depthGaps > 0 { out += "\n  decode errors \(r.decodeErrors), depth gaps \(r.depthGaps)" }
        if r.roundTripsMissed > 0 { out += "\n  round trips closed too fast to copy: \(r.roundTripsMissed)" }
        return out
    }
}

/// The report as one self-contained HTML page (no scripts, fonts or other assets): key
/// figures, equity and drawdown charts as inline SVG with time and value axes, per-strategy
/// results, every round trip, denials and exits.
enum ReplayHTML {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// UTC time of wall ns: HH:MM:SS (.mmm), with the date when the span covers more than a day.
    static func time(_ ns: Double, withDate: Bool, milliseconds: Bool = false) -> String {
        var t = time_t((ns / 1e9).rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        var clock = String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
        if milliseconds { clock += String(format: ".%03d", Int((ns - Double(t) * 1e9) / 1e6)) }
        return withDate ? String(format: "%04d-%02d-%02d ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday) + clock : clock
    }

    /// A line chart of (wall ns, value) points with a UTC time axis and a value axis.
    static func chart(id: String, _ points: [[Double]], valueLabel: String, format: (Double) -> String) -> String {
        let w = 900.0, h = 300.0, left = 80.0, right = 45.0, top = 15.0, bottom = 45.0
        var svg = "<svg id=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-size=\"11\" font-family=\"sans-serif\">"
        guard let first = points.first, let last = points.last else { return svg + "<text x=\"10\" y=\"20\">no samples</text></svg>" }
        let x0 = first[0], x1 = max(last[0], first[0] + 1)
        var y0 = points.map { $0[1] }.min()!, y1 = points.map { $0[1] }.max()!
        if y1 - y0 < 1e-9 { y0 -= 1; y1 += 1 }
        func X(_ t: Double) -> Double { left + (w - left - right) * (t - x0) / (x1 - x0) }
        func Y(_ v: Double) -> Double { h - bottom - (h - top - bottom) * (v - y0) / (y1 - y0) }
        let withDate = x1 - x0 > 86_400e9
        svg += "<g class=\"axes\" stroke=\"#888\"><line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\"/></g>"
        for k in 0...5 {
            let t = x0 + (x1 - x0) * Double(k) / 5, x = X(t)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", x, top, x, h - bottom)
            svg += String(format: "<text class=\"x-tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, h - bottom + 14) + time(t, withDate: withDate) + "</text>"
            let v = y0 + (y1 - y0) * Double(k) / 5, y = Y(v)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", left, y, w - right, y)
            svg += String(format: "<text class=\"y-tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 4, y + 4) + esc(format(v)) + "</text>"
        }
        svg += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 6)\" text-anchor=\"middle\">time (UTC)</text>"
        svg += "<text x=\"12\" y=\"\((top + h - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 12 \((top + h - bottom) / 2))\">\(esc(valueLabel))</text>"
        let coordinates = points.map { String(format: "%.2f,%.2f", X($0[0]), Y($0[1])) }.joined(separator: " ")
        svg += "<polyline class=\"curve\" data-points=\"\(points.count)\" fill=\"none\" stroke=\"#2a6fb0\" stroke-width=\"1.5\" points=\"\(coordinates)\"/>"
        return svg + "</svg>"
    }

    static func table(id: String, _ head: [String], _ rows: [[String]], rowClass: String = "") -> String {
        var out = "<table id=\"\(id)\"><thead><tr>" + head.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead><tbody>"
        for r in rows { out += "<tr\(rowClass.isEmpty ? "" : " class=\"\(rowClass)\"")>" + r.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
        return out + "</tbody></table>"
    }

    static func render(_ r: ReplayReport, title: String, sources: [String]) -> String {
        func f(_ v: Double, _ d: Int = 2) -> String { ReplayText.f(v, d) }
        let span = (r.equityCurve.last?[0] ?? 0) - (r.equityCurve.first?[0] ?? 0)
        let withDate = span > 86_400e9
        let figures: [[String]] = [
            ["messages / events", "\(r.messages) / \(r.events)"],
            ["signals / orders (exits) / fills / denials", "\(r.signals) / \(r.orders) (\(r.exits)) / \(r.fills) / \(r.denials)"],
            ["round trips", "\(r.trades)"],
            ["win rate, net of all fees / gross", "\(f(r.winRate * 100, 1)) % / \(f(r.winRateGross * 100, 1)) %"],
            ["starting → final equity", "\(f(r.startingEquity)) → \(f(r.finalEquity))"],
            ["net PnL (final − starting equity)", f(r.netPnl)],
            ["Σ round trips net + unrealised − open fees", f(r.roundTrips.reduce(0) { $0 + $1.netPnl } + r.unrealisedPnl - r.openFees)],
            ["realised / unrealised PnL", "\(f(r.realisedPnl)) / \(f(r.unrealisedPnl))"],
            ["fees (all) / of which on open positions", "\(f(r.fees)) / \(f(r.openFees))"],
            ["max drawdown (from peak, every event)", "\(f(r.maxDrawdown * 100, 3)) %"],
            ["Sharpe (\(f(r.curveIntervalSeconds, 0)) s returns, annualised)", ReplayText.sharpe(r.sharpe, samples: r.sharpeSamples)],
        ]
        let strategies = r.byStrategy.sorted { $0.key < $1.key }.map { id, s in
            [id, "\(s.trades)", f(s.grossPnl), f(s.fees), f(s.netPnl), "\(f(s.winRateGross * 100, 1)) %", "\(f(s.winRateNet * 100, 1)) %",
             f(s.unrealisedPnl), f(s.openFees), f(s.maxDrawdownMoney), ReplayText.sharpe(s.sharpe, samples: s.sharpeSamples)]
        }
        let trips = r.roundTrips.map { t in
            [String(t.sequence), t.strategy, t.symbol, t.side, time(Double(t.entryNs), withDate: withDate, milliseconds: true),
             time(Double(t.exitNs), withDate: withDate, milliseconds: true),
             f(Double(t.holdingNs) / 1e9, 1), String(format: "%.8g", t.qty), f(t.entryPrice, 4), f(t.exitPrice, 4), f(t.openingFee, 4),
             f(t.closingFee, 4), f(t.grossPnl, 4), f(t.netPnl, 4)]
        }
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(esc(title))</title><style>
            body { font: 13px/1.4 sans-serif; margin: 16px; color: #222; }
            table { border-collapse: collapse; margin-bottom: 12px; } th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; }
            th:first-child, td:first-child { text-align: left; } h2 { font-size: 15px; margin-top: 22px; }
            </style></head><body>
            <h1>\(esc(title))</h1><p>\(esc(sources.joined(separator: ", "))); times in UTC; money in the account currency, net = after all fees.</p>
            \(table(id: "figures", ["figure", "value"], figures))
            <h2>Equity</h2>\(chart(id: "equity-chart", r.equityCurve, valueLabel: "equity") { f($0) })
            <h2>Drawdown from peak</h2>\(chart(id: "drawdown-chart", r.drawdownCurve, valueLabel: "drawdown %") { f($0 * 100, 3) })
            <h2>Per strategy</h2>\(table(id: "strategies", ["strategy", "round trips", "gross PnL", "fees", "net PnL", "win rate gross", "win rate net", "unrealised", "open fees", "max drawdown", "Sharpe"], strategies))
            <h2>Round trips (\(r.roundTrips.count))</h2>\(table(id: "round-trips", ["#", "strategy", "symbol", "side", "entry", "exit", "held s", "qty", "entry price", "exit price", "opening fee", "closing fee", "gross PnL", "net PnL"], trips, rowClass: "trip"))
            <h2>Denials</h2>\(table(id: "denials", ["reason", "count"], r.denialsByReason.sorted { $0.value > $1.value }.map { [$0.key, "\($0.value)"] }))
            <h2>Exits</h2>\(table(id: "exits", ["trigger", "count"], r.exitsByTrigger.sorted { $0.value > $1.value }.map { [$0.key, "\($0.value)"] }))
            </body></html>
            """
    }
}
