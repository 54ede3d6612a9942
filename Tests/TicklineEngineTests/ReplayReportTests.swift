#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineEngine
import TicklineRisk
import TicklineTestSupport

/// The reports of `tickline replay` and `tickline demo`: round trips a quant can check one by
/// one and add up to the account's change of equity.
@Suite struct ReplayReportTests {
    static let data = ReplayEngineTests.data
    static var tickline: String { RunCommandTests.bin.appendingPathComponent("tickline").path }
    static var chromium: String? { ["/usr/bin/chromium", "/usr/local/bin/chromium"].first { access($0, X_OK) == 0 } }

    static let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                         positionLimitUnits: 25_000_000)

    /// The recorded day through the built-in strategies (they trade, and end with a position
    /// open): the round trips and what is still open add up to the change of equity, to the
    /// money unit, overall and per strategy.
    @Test(.enabled(if: ReplayEngineTests.available, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func roundTripsAndOpenPositionsAddUpToTheChangeOfEquity() throws {
        let engine = try ReplayEngine(symbols: ["BTCUSDT"], config: EngineConfig(), fallbackSpec: Self.spec)
        let r = engine.run(try ReplayEngineTests.recording())
        let positions = engine.riskStage.risk.positions
        #expect(positions.roundTrips.closed >= 20)
        #expect(r.roundTrips.count == Int(r.trades) && r.roundTripsMissed == 0)
        #expect(positions.quantity(instrument: 0) != 0, "the run should end with a position open")
        #expect(positions.roundTrips.openFeesMoney > 0)

        // Exact, in money units.
        var netMoney: Int64 = 0
        positions.roundTrips.forEach(after: 0) { netMoney += $0.netMoney }
        #expect(netMoney + positions.unrealisedMoney - positions.roundTrips.openFeesMoney
                == positions.equityMoney - positions.startingCapitalMoney)
        // As the report shows it, to the cent.
        let sum = r.roundTrips.reduce(0) { $0 + $1.netPnl }
        #expect(abs(sum + r.unrealisedPnl - r.openFees - (r.finalEquity - r.startingEquity)) < 0.005)
        #expect(abs(r.netPnl - (r.finalEquity - r.startingEquity)) < 0.005)

        // Per strategy: the sums are the totals.
        let strategies = r.byStrategy.values
        #expect(strategies.reduce(0) { $0 + $1.trades } == r.roundTrips.count)
        #expect(abs(strategies.reduce(0) { $0 + $1.netPnl } - sum) < 1e-6)
        #expect(abs(strategies.reduce(0) { $0 + $1.fees } - r.roundTrips.reduce(0) { $0 + $1.fees }) < 1e-6)
        #expect(abs(strategies.reduce(0) { $0 + $1.openFees } - r.openFees) < 1e-6)
        #expect(abs(strategies.reduce(0) { $0 + $1.unrealisedPnl } - r.unrealisedPnl) < 1e-6)
        for (id, s) in r.byStrategy {
            let own = r.roundTrips.filter { $0.strategy == id }
            #expect(own.count == s.trades)
            #expect(s.winRateNet == Double(own.count { $0.netPnl > 0 }) / Double(max(own.count, 1)))
            #expect(s.maxDrawdownMoney >= 0 && (s.sharpe == nil) == (s.sharpeSamples < ReplayStatistics.minimumSharpeSamples))
        }

        // Each round trip checks on its own: fees both ways, gross = (exit − entry) × qty.
        for t in r.roundTrips {
            #expect(t.holdingNs >= 0 && t.holdingNs == t.exitNs - t.entryNs && t.qty > 0)
            #expect(t.openingFee > 0 && t.closingFee > 0 && abs(t.fees - t.openingFee - t.closingFee) < 1e-9)
            #expect(abs(t.netPnl - (t.grossPnl - t.fees)) < 1e-8)
            let move = (t.exitPrice - t.entryPrice) * t.qty * (t.side == "long" ? 1 : -1)
            #expect(abs(move - t.grossPnl) < 1e-6, "round trip \(t.sequence): \(move) vs \(t.grossPnl)")
        }

        // The curves: a time axis, one drawdown per equity point, the final equity last.
        #expect(r.equityCurve.count == r.drawdownCurve.count && r.equityCurve.count > 600)
        #expect(r.equityCurve.last?[1] == r.finalEquity)
        #expect(zip(r.equityCurve, r.equityCurve.dropFirst()).allSatisfy { $0[0] <= $1[0] })
        #expect(r.sharpe != nil && r.sharpeSamples >= ReplayStatistics.minimumSharpeSamples)
        #expect(r.winRateGross >= r.winRate)

        // The risk view shows the same round trips (the last of them) and per-strategy money.
        let v = try #require(engine.view.read())
        #expect(v.roundTripsClosed == r.trades && v.account.openFeesMoney == positions.roundTrips.openFeesMoney)
        var log = RoundTripLog()
        log.add(from: v, symbols: ["BTCUSDT"])
        #expect(log.records == Array(r.roundTrips.suffix(EngineViewCapacity.roundTrips)))
        let snapshot = EngineSnapshotBuilder.snapshot(instance: "t", view: v, symbols: ["BTCUSDT"], stats: nil, wallNs: 0)
        #expect(snapshot.strategies.reduce(0) { $0 + $1.trades } == r.trades)
        #expect(abs(snapshot.strategies.reduce(0) { $0 + $1.netPnl } - r.netPnl) < 1e-6)
    }

    @Test func ordersRecordingsByTheirFirstReceiveTimeAndRefusesOverlaps() throws {
        let a = Array("100 {}\n200 {}\n300 {}\n".utf8), b = Array("400 {}\n500 {}".utf8), c = Array("250 {}\n600 {}\n".utf8)
        let spans = try [("a", a), ("b", b), ("c", c)].map { try #require(ReplayInput.span(name: $0.0, $0.1)) }
        #expect(spans[0] == .init(name: "a", firstNs: 100, lastNs: 300) && spans[1].lastNs == 500)
        #expect(try ReplayInput.order([spans[1], spans[0]]) == [1, 0])
        #expect(throws: ReplayInputError.self) { try ReplayInput.order([spans[0], spans[2]]) }
        do {
            _ = try ReplayInput.order([spans[1], spans[2], spans[0]])
            Issue.record("overlapping files were accepted")
        } catch {
            #expect(error.description.contains("a (100...300 ns)") && error.description.contains("c (250...600 ns)"))
        }
        #expect(ReplayInput.span(name: "x", Array("no stamp\n".utf8)) == nil)
        #expect(ReplayInput.span(name: "x", Array("99999999999999999999 {}\n".utf8)) == nil)  // past Int64: refused, no trap
        #expect(ReplayInput.span(name: "x", Array("1723161253937085768 {}\n".utf8))?.firstNs == 1_723_161_253_937_085_768)
    }

    /// The files given in reverse order are replayed in time order; the HTML report drawn by
    /// headless Chromium has one trade row per round trip and both charts with every point.
    @Test(.enabled(if: ReplayEngineTests.available, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func replaysReversedFilesInTimeOrderAndWritesAReportChromiumDraws() throws {
        let dir = NSTemporaryDirectory() + "tickline-report-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let html = dir + "/report.html"
        let files = ["btcusdt_20240809.gz", "btcusdt_20240808.gz"].map { Self.data.appendingPathComponent($0).path }
        let run = runCommand(Self.tickline, ["replay"] + files + ["--json", "--html", html], seconds: 300)
        #expect(run.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "\(run.output)")
        #expect(json["messages"] as? Int == 99_574 && json["decode_errors"] as? Int == 0 && json["depth_gaps"] as? Int == 0)
        let trips = json["round_trips"] as? [[String: Any]] ?? []
        let equity = json["equity_curve"] as? [[Double]] ?? [], drawdown = json["drawdown_curve"] as? [[Double]] ?? []
        #expect(trips.count >= 20 && equity.count > 600 && drawdown.count == equity.count)
        #expect(equity.last?[1] == json["final_equity"] as? Double)
        for key in ["net_pnl", "open_fees", "by_strategy", "trades", "win_rate", "sharpe_samples", "fees"] { #expect(json[key] != nil, "\(key)") }

        guard let chromium = Self.chromium else {
            // The page is still checked as text when there is no browser to draw it.
            let page = try String(contentsOfFile: html, encoding: .utf8)
            #expect(page.components(separatedBy: "<tr class=\"trip\">").count - 1 == trips.count)
            return
        }
        let profile = dir + "/chromium"
        let dom = runCommand("/usr/bin/timeout", ["60", chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                                                  "--user-data-dir=\(profile)", "--dump-dom", "file://\(html)"]).output
        #expect(dom.components(separatedBy: "<tr class=\"trip\">").count - 1 == trips.count)
        func points(_ id: String) -> Int? {
            guard let svg = dom.range(of: "id=\"\(id)\""), let list = dom[svg.upperBound...].firstMatch(of: /<polyline[^>]* points="([^"]*)"/)
            else { return nil }
            return list.1.split(separator: " ").count
        }
        #expect(points("equity-chart") == equity.count)
        #expect(points("drawdown-chart") == drawdown.count)
        #expect(dom.contains("time (UTC)") && dom.contains("id=\"strategies\"") && dom.contains("id=\"denials\""))
    }

    /// The control plane's log of round trips: each read of the view adds only what is new,
    /// and counts what closed faster than it read.
    @Test func roundTripLogAddsNewTripsOnceAndCountsTheOnesItMissed() {
        func view(_ sequences: ClosedRange<UInt64>) -> EngineViewData {
            var v = EngineViewData()
            for (k, s) in sequences.enumerated() {
                var t = RoundTrip()
                t.sequence = s
                t.strategy = 2
                t.quantityUnits = 100
                t.quantityDecimals = 2
                t.entryNotional = 100 * 5_000
                t.exitNotional = 100 * 5_100
                t.grossMoney = MoneyScale.money(1)
                v.roundTrips[k] = t
            }
            v.roundTripCount = sequences.count
            v.roundTripsClosed = sequences.upperBound
            return v
        }
        var log = RoundTripLog(limit: 5)
        log.add(from: view(1...3), symbols: ["BTCUSDT"])
        log.add(from: view(2...4), symbols: ["BTCUSDT"])
        #expect(log.records.map(\.sequence) == [1, 2, 3, 4] && log.missed == 0)
        log.add(from: view(7...8), symbols: ["BTCUSDT"])
        #expect(log.missed == 2 && log.lastSequence == 8)
        #expect(log.records.map(\.sequence) == [2, 3, 4, 7, 8])  // at most `limit`, the oldest dropped
        let r = log.records[0]
        #expect(r.strategy == "2" && r.symbol == "BTCUSDT" && r.qty == 1 && r.entryPrice == 5_000 && r.exitPrice == 5_100)
    }

    @Test func countsALineWithAReceiveTimePastInt64AsADecodeError() throws {
        let engine = try ReplayEngine(symbols: ["BTCUSDT"], config: EngineConfig(), fallbackSpec: Self.spec)
        let trade = #"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"60000.00","q":"0.001","T":1,"m":true}"#
        let r = engine.run(Array("99999999999999999999 \(trade)\n1000 \(trade)\n".utf8))
        // Every non-blank line is a message, as in verify: the one that cannot be used is also a decode error.
        #expect(r.messages == 2 && r.decodeErrors == 1)
    }

    @Test func refusesOverlappingFilesNamingThem() throws {
        let dir = NSTemporaryDirectory() + "tickline-overlap-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let message = #"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"60000.00","q":"0.001","T":1,"m":true}"#
        try "1000 \(message)\n3000 \(message)\n".write(toFile: dir + "/one.rec", atomically: true, encoding: .utf8)
        try "2000 \(message)\n4000 \(message)\n".write(toFile: dir + "/two.rec", atomically: true, encoding: .utf8)
        let p = ChildProcess(executable: Self.tickline, arguments: ["replay", dir + "/two.rec", dir + "/one.rec", "--json"])
        #expect(p.start())
        #expect(p.wait(seconds: 60) != 0)
        #expect(p.errors.contains("one.rec (1000...3000 ns)") && p.errors.contains("two.rec (2000...4000 ns)") && p.errors.contains("overlap"),
                "\(p.errors)")
        #expect(p.output.isEmpty)
    }

    /// A report path that cannot be written is refused before anything else: here before the
    /// recording (which does not exist either) is even opened.
    @Test func refusesAnUnwritableHTMLPathBeforeTheReplay() throws {
        for (path, why) in [("/nonexistent-tickline-folder/report.html", "does not exist"), ("/tmp", "is a directory")] {
            let p = ChildProcess(executable: Self.tickline, arguments: ["replay", "/nonexistent-recording.gz", "--html", path])
            #expect(p.start())
            #expect(p.wait(seconds: 60) != 0)
            #expect(p.errors.contains("--html \(path)") && p.errors.contains(why), "\(p.errors)")
            #expect(!p.errors.contains("nonexistent-recording"))
        }
    }

    /// `tickline demo --json --html`: today's counts plus the round trips, which add up with
    /// what is still open to the change of equity; `GET /api/trades` serves the same records
    /// while it runs; the HTML report has a row per round trip.
    @Test func demoReportsTheSameRoundTripsInItsJSONItsHTMLAndItsAPI() throws {
        let html = NSTemporaryDirectory() + "tickline-demo-report-\(getpid()).html"
        defer { try? FileManager.default.removeItem(atPath: html) }
        let demo = ChildProcess(executable: Self.tickline,
                                arguments: ["demo", "--duration", "8", "--json", "--rate", "3000", "--html", html])
        #expect(demo.start())
        defer { try? FileManager.default.removeItem(atPath: "/tmp/tickline-demo-\(demo.pid)") }
        // The dashboard line names the port and the token; then the API is asked until the
        // demo has closed a round trip (or has ended).
        var served: [[String: Any]] = []
        if waitUntil(30, { demo.errors.contains("dashboard: http://127.0.0.1:") }),
           let m = demo.errors.firstMatch(of: /dashboard: http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+)/) {
            _ = waitUntil(30) {
                let (status, body) = httpRequest(port: Int(m.1)!, path: "/api/trades", token: String(m.2))
                if status == 200 { served = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [[String: Any]] ?? [] }
                return !served.isEmpty || demo.exitStatus != nil
            }
        } else {
            Issue.record("the demo did not print its dashboard address:\n\(demo.errors)")
        }
        #expect(demo.wait(seconds: 90) == 0, "\(demo.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(demo.output.utf8)) as? [String: Any], "\(demo.output)")
        for key in ["events", "signals", "orders", "fills", "risk_events", "denials", "writer_restarts", "final_equity", "seconds"] {
            #expect(json[key] as? Double != nil, "today's key \(key)")
        }
        let trips = json["round_trips"] as? [[String: Any]] ?? []
        #expect(!trips.isEmpty, "the demo closed no round trip")
        func number(_ d: [String: Any], _ k: String) -> Double { d[k] as? Double ?? .nan }
        let net = trips.reduce(0) { $0 + number($1, "net_pnl") }
        #expect(abs(net + number(json, "unrealised_pnl") - number(json, "open_fees") - number(json, "net_pnl")) < 0.005)
        #expect(abs(number(json, "net_pnl") - (number(json, "final_equity") - number(json, "starting_equity"))) < 0.005)
        let byStrategy = json["by_strategy"] as? [String: [String: Any]] ?? [:]
        #expect(byStrategy.values.reduce(0) { $0 + (($1["trades"] as? Int) ?? 0) } == trips.count)
        #expect(abs(byStrategy.values.reduce(0) { $0 + number($1, "net_pnl") } - net) < 1e-6)
        for s in byStrategy.values { #expect(s["win_rate_net"] != nil && s["fees"] != nil) }
        // What the API served is the start of the final list, record for record.
        #expect(!served.isEmpty, "GET /api/trades served no round trip while the demo ran")
        for t in served {
            let sequence = t["sequence"] as? Int ?? 0
            let same = trips.first { $0["sequence"] as? Int == sequence }
            #expect(same.map { NSDictionary(dictionary: $0).isEqual(to: t) } == true, "round trip \(sequence) differs")
        }
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.components(separatedBy: "<tr class=\"trip\">").count - 1 == trips.count)
    }
}
