import ArgumentParser
import Foundation
import TicklineConfig
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
            bars, the default risk limits, a paper venue with 50,000 of capital; symbols the
            config does not list trade with a spec of 2 price / 8 quantity decimals (Binance's
            depth quantities carry 8), max order 0.1, position limit 0.25.
            """)

    @Argument(help: "Recorded files, in order.") var files: [String]
    @Option(help: "An engine config (its strategies:, risk: and venue: sections).") var config: String?
    @Flag(help: "Print one JSON line at the end instead of the report.") var json = false
    @Option(parsing: .unconditional, help: "Replayed seconds per wall second, 0-1000 (0 = as fast as possible).") var pace: Double = 0
    @Option(help: "Write an HTML report with the equity curve to this file.") var html: String?

    func validate() throws {
        guard pace >= 0 && pace <= 1_000 else { throw ValidationError("--pace must be from 0 to 1000 (got \(pace.formatted()))") }
    }

    func run() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one recorded file") }
        var engineConfig = EngineConfig()
        if let config {
            do { engineConfig = try EngineConfig.load(path: config) } catch { throw CommandFailure(error.description) }
        }
        let contents = try files.map { try RecordingFile.load($0) }
        var symbols: [String] = []
        for bytes in contents { for s in RecordingVerifier.symbols(in: bytes) where !symbols.contains(s) { symbols.append(s) } }
        guard !symbols.isEmpty else { throw CommandFailure("no Binance symbols found in \(files.joined(separator: ", "))") }
        let fallback = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, tickSizeUnits: 1, stepSizeUnits: 1,
                                          maxOrderQuantityUnits: 10_000_000, positionLimitUnits: 25_000_000)
        let engine = try ReplayEngine(symbols: symbols, config: engineConfig, fallbackSpec: fallback)
        let all = contents.count == 1 ? contents[0] : contents.reduce(into: [UInt8]()) { $0 += $1; if $0.last != 10 { $0.append(10) } }
        let showProgress = !json && isatty(2) != 0
        let report = engine.run(all, pace: pace) { fraction in
            guard showProgress else { return }
            let width = 40, filled = Int(fraction * Double(width))
            FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(Int(fraction * 100))%".utf8))
            if fraction >= 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        }
        if let html { try ReplayHTML.write(report, symbols: symbols, to: html) }
        if json {
            var lite = report
            lite.equityCurve = []  // the curve is in --html; the line stays short
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(lite), as: UTF8.self))
        } else {
            print(ReplayText.render(report, symbols: symbols))
        }
    }
}

enum ReplayText {
    static func render(_ r: ReplayReport, symbols: [String]) -> String {
        func f(_ v: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", v) }
        var out = """
            replay: \(r.messages) messages, \(r.events) events in \(f(r.seconds, 3)) s (\(Int(r.eventsPerSecond)) events/s)
            signals \(r.signals), orders \(r.orders) (exits \(r.exits)), fills \(r.fills), denials \(r.denials)
            round trips \(r.trades), win rate \(f(r.winRate * 100, 1)) %
            equity \(f(r.startingEquity)) -> \(f(r.finalEquity)) (realised \(f(r.realisedPnl)), unrealised \(f(r.unrealisedPnl)), fees \(f(r.fees)))
            max drawdown \(f(r.maxDrawdown * 100, 3)) %, Sharpe (per-minute returns, annualised) \(f(r.sharpe))
            """
        for (reason, n) in r.denialsByReason.sorted(by: { $0.value > $1.value }) { out += "\n  denied \(reason): \(n)" }
        for s in symbols { out += "\n  \(s): max |position| \(r.maxAbsPosition[s] ?? 0) of limit \(r.positionLimit[s] ?? 0)" }
        if r.decodeErrors > 0 || r.depthGaps > 0 { out += "\n  decode errors \(r.decodeErrors), depth gaps \(r.depthGaps)" }
        return out
    }
}

/// The report as a self-contained HTML page with the equity curve drawn as inline SVG.
enum ReplayHTML {
    static func write(_ r: ReplayReport, symbols: [String], to path: String) throws {
        let points = r.equityCurve
        var svg = "<svg viewBox=\"0 0 800 300\" width=\"800\" height=\"300\" style=\"background:#fafafa\">"
        if points.count >= 2 {
            let xs = points.map { $0[0] }, ys = points.map { $0[1] }
            let x0 = xs.min()!, x1 = xs.max()!, y0 = ys.min()!, y1 = ys.max()!
            let path = points.map { p -> String in
                let x = 40 + 750 * (p[0] - x0) / max(x1 - x0, 1)
                let y = 280 - 260 * (p[1] - y0) / max(y1 - y0, 1e-9)
                return String(format: "%.1f,%.1f", x, y)
            }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"#2a6fb0\" stroke-width=\"2\" points=\"\(path)\"/>"
            svg += String(format: "<text x=\"2\" y=\"16\" font-size=\"12\">%.2f</text><text x=\"2\" y=\"290\" font-size=\"12\">%.2f</text>", y1, y0)
        }
        svg += "</svg>"
        let text = ReplayText.render(r, symbols: symbols).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let page = """
            <!doctype html><html><head><meta charset="utf-8"><title>Tickline replay</title></head>
            <body style="font-family:sans-serif"><h1>Tickline replay</h1><h2>Equity</h2>\(svg)<pre>\(text)</pre></body></html>
            """
        do { try page.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
