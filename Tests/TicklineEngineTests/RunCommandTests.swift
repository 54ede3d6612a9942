#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineEngine
import TicklineRing
import TicklineTestSupport

/// `tickline run` as a user runs it: real processes (the engine, its supervised writer,
/// `tickline-feed` as the venue) on a config file.
@Suite(.serialized) struct RunCommandTests {
    static let bin = URL(fileURLWithPath: WriterSupervisor.besideThisProgram("tickline")).deletingLastPathComponent()
    static let token = "run-test-token-0123456789"

    /// The pid of the writer of `instance`, from /proc.
    static func writerPid(instance: String) -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for e in entries {
            guard let pid = Int32(e), let data = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else { continue }
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if args.first?.hasSuffix("tickline-writer") == true, args.contains(instance) { return pid }
        }
        return nil
    }

    /// A `tickline run` of `engineConfig` (`strategy`, the writer to a line-protocol file)
    /// against a fresh tickline-feed at 1,000 messages/s, in a folder of its own; `adjust`
    /// edits the config text. `stop()` ends both processes and removes the folder.
    struct RunningEngine {
        let dir: String
        let port: Int
        let engine: ChildProcess
        let feed: ChildProcess

        func stop() {
            engine.stop(seconds: 30)
            feed.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// An empty folder for an engine instance's files (config, journal, spill, line
    /// protocol): `$TMPDIR/tickline-<instance>`, removed first if a previous run left it.
    static func freshFolder(_ instance: String) throws -> String {
        let dir = NSTemporaryDirectory() + "tickline-\(instance)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func startEngine(_ tag: String, strategy: String = zscore, adjust: (String) -> String) throws -> RunningEngine {
        let instance = "\(tag)-\(getpid())"
        let dir = try freshFolder(instance)
        let (feed, feedAddress) = startFeed(rate: 1_000, seed: 7)
        let port = freeLoopbackPort()
        let config = adjust(engineConfig(instance: instance, feedAddress: feedAddress, dir: dir, controlPort: port, sinks: """
              influx: { url: "file://\(dir)/journal.lp" }
              redis: { enabled: false }
            """, strategy: strategy))
        try config.write(toFile: "\(dir)/engine.yaml", atomically: true, encoding: .utf8)
        let engine = ChildProcess(executable: bin.appendingPathComponent("tickline").path, arguments: ["run", "--config", "\(dir)/engine.yaml"])
        #expect(engine.start())
        return RunningEngine(dir: dir, port: port, engine: engine, feed: feed)
    }

    /// The end-to-end tests' strategy: z-score reversion on 5-trade bars.
    static let zscore = "{ id: 3, type: zscore_reversion, timeframe: tick, period: 10, entry_z: 1.2, exit_z: 0.3, stop_z: 3 }"

    /// The end-to-end tests' engine: `strategy` over tickline-feed's synthetic `symbols`
    /// (listed in `risk.instruments` with two of them), its journal, spill and control plane
    /// in `dir`, its writer's sinks as given (`writer:` lines).
    static func engineConfig(instance: String, feedAddress: String, symbols: [String] = ["SYM0000USDT", "SYM0001USDT"],
                             dir: String, controlPort: Int, sinks: String, strategy: String = zscore) -> String {
        """
        instance: \(instance)
        strategies:
          symbols: 2
          bars: { time: [1s], tick_trades: 5 }
          instances:
            - \(strategy)
        feeds:
          - name: synthetic
            stream_address: "\(feedAddress)"
            rest_base: "http://\(feedAddress)"
            symbols: [\(symbols.joined(separator: ", "))]
        risk:
          limits: { submit_burst: 1000, submit_per_second: 1000, max_open_intraday_positions: 10, max_open_swing_positions: 10 }
          instruments:
            - { symbol: SYM0000USDT, price_decimals: 2, quantity_decimals: 8, tick: "0.01", step: "0.00001",
                min_qty: "0.00001", min_notional: "1", max_order_qty: "10", position_limit: "50" }
            - { symbol: SYM0001USDT, price_decimals: 2, quantity_decimals: 8, tick: "0.01", step: "0.00001",
                min_qty: "0.00001", min_notional: "1", max_order_qty: "10", position_limit: "50" }
          journal: \(dir)/risk.journal
        venues: [{ name: paper, maker_fee_pct: 0, taker_fee_pct: 0 }]   # targets a tick or two away: no fee leaves them room
        control:
          listen: 127.0.0.1:\(controlPort)
          token: \(token)
        writer:
        \(sinks)
          spill_dir: \(dir)
          restart_delay_ms: 200
        """
    }

    /// `tickline-feed` with two synthetic symbols on a free loopback port, and the
    /// `HOST:PORT` it printed ("" when it did not start: recorded as an issue).
    static func startFeed(rate: Int, seed: Int, futures: Bool = false) -> (ChildProcess, String) {
        let feed = ChildProcess(executable: bin.appendingPathComponent("tickline-feed").path,
                                arguments: ["--synthetic", "2", "--rate", "\(rate)", "--listen", "127.0.0.1:0", "--seed", "\(seed)"]
                                    + (futures ? ["--futures"] : []))
        #expect(feed.start())
        return (feed, listeningAddress(of: feed))
    }

    /// The `HOST:PORT` a started `tickline-feed` printed ("" when it did not: recorded as an issue).
    static func listeningAddress(of feed: ChildProcess) -> String {
        var address = ""
        #expect(waitUntil(20) {
            guard let line = feed.output.split(separator: "\n").first, line.hasPrefix("listening ") else { return false }
            address = String(line.dropFirst("listening ".count))
            return true
        }, "tickline-feed did not start: \(feed.errors)")
        return address
    }

    static func metric(_ text: String, _ name: String, label: String? = nil) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            if let label, !line.contains(label) { continue }
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func aBadConfigNamesTheFileLineAndKeyAndExits78() throws {
        let path = NSTemporaryDirectory() + "tickline-bad-\(getpid()).yaml"
        try "instance: x\nrisk:\n  limits: { max_order_notionall: 5 }\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let p = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path, arguments: ["run", "--config", path])
        #expect(p.start())
        #expect(p.wait(seconds: 30) == 78)
        #expect(p.errors.contains("\(path):3:") && p.errors.contains("risk.limits.max_order_notionall"), "\(p.errors)")
    }

    /// The whole product on loopback: tickline-feed serves two synthetic symbols; `tickline
    /// run` decodes, trades (a z-score strategy on 5-trade bars), journals through its
    /// supervised writer into a line-protocol file; the writer is SIGKILLed mid-run and
    /// restarted; SIGTERM stops everything in order. A halt, a resume and a limit answer with
    /// the state and value the risk stage applied. Nothing journaled is lost: every
    /// signal, order, fill and risk event the engine produced is in the file.
    @Test func runTradesSurvivesAWriterKillAndStopsCleanlyWithNothingLost() throws {
        let instance = "runtest-\(getpid())"
        let dir = try Self.freshFolder(instance)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let (feed, feedAddress) = Self.startFeed(rate: 2_000, seed: 7)
        defer { feed.stop() }
        let controlPort = freeLoopbackPort()
        let lineFile = "\(dir)/journal.lp"
        let config = Self.engineConfig(instance: instance, feedAddress: feedAddress, dir: dir, controlPort: controlPort, sinks: """
              influx: { url: "file://\(lineFile)" }
              redis: { enabled: false }
            """)
        let configPath = "\(dir)/engine.yaml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)

        let engine = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path, arguments: ["run", "--config", configPath])
        #expect(engine.start())
        defer { engine.stop(seconds: 30) }
        var metrics = ""
        let traded = waitUntil(60) {
            metrics = httpRequest(port: controlPort, path: "/metrics", token: Self.token).1
            return (Self.metric(metrics, "tickline_ring_published_total", label: "ring=\"orders\"") ?? 0) > 0
        }
        #expect(traded, "no order within 60 s; engine log:\n\(engine.errors)")
        #expect(httpRequest(port: controlPort, path: "/metrics").0 == 401, "a request without the token is refused")
        #expect(waitUntil(5) {
            metrics = httpRequest(port: controlPort, path: "/metrics", token: Self.token).1
            return (Self.metric(metrics, "tickline_feed_messages_total", label: "feed=\"synthetic\"") ?? 0) > 0
        }, "no feed counters in /metrics")
        #expect(Self.metric(metrics, "tickline_feed_decode_errors_total", label: "feed=\"synthetic\"") == 0)
        if let check = promtoolCheck(metrics) { #expect(check.passed, "promtool on tickline run's /metrics: \(check.output)") }
        // Ready: the feed connected and fresh, the writer alive, the rings below 90 %.
        var ready = (0, "")
        #expect(waitUntil(10) {
            ready = httpRequest(port: controlPort, path: "/readiness", token: Self.token)
            return ready.0 == 200
        }, "\(ready)")
        #expect(ready.1.contains("feed synthetic") && ready.1.contains("writer") && ready.1.contains("rings"), "\(ready.1)")
        // What the risk stage traded, through its view: signals, orders and trades in the API.
        var snapshot: [String: Any] = [:]
        #expect(waitUntil(20) {
            let body = httpRequest(port: controlPort, path: "/api/snapshot", token: Self.token).1
            snapshot = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            return ((snapshot["recentSignals"] as? [Any])?.isEmpty == false) && ((snapshot["orders"] as? Int) ?? 0) > 0
        }, "the snapshot shows no signal or order: \(snapshot)")
        // The closed round trips, every one since the start in order (the control plane
        // collects them from the view at each refresh).
        let trades = httpRequest(port: controlPort, path: "/api/trades", token: Self.token)
        let trips = (try? JSONSerialization.jsonObject(with: Data(trades.1.utf8))) as? [[String: Any]]
        #expect(trades.0 == 200 && trips != nil, "\(trades)")
        #expect(trips?.enumerated().allSatisfy { $0.element["sequence"] as? Int == $0.offset + 1 } == true, "\(trades.1)")
        // Commands answer once the risk stage, on its own runner thread, applied them.
        let halt = httpRequest(port: controlPort, path: "/api/halt", method: "POST", token: Self.token)
        #expect(halt.0 == 200 && halt.1.contains(#""state":"halted""#), "\(halt)")
        let resume = httpRequest(port: controlPort, path: "/api/resume", method: "POST", token: Self.token)
        #expect(resume.0 == 200 && resume.1.contains(#""state":"active""#), "\(resume)")
        let limit = httpRequest(port: controlPort, path: "/api/limits", method: "PUT", token: Self.token, body: #"{"submit_per_second": 1000}"#)
        #expect(limit.0 == 200 && limit.1.contains(#""limits":{"submit_per_second":1000}"#), "\(limit)")

        // Kill the writer: the engine's supervisor restarts it, and it resumes at its cursors.
        let firstWriter = Self.writerPid(instance: instance)
        #expect(firstWriter != nil, "no writer process: \(engine.errors)")
        if let firstWriter { kill(firstWriter, SIGKILL) }
        #expect(waitUntil(30) {
            metrics = httpRequest(port: controlPort, path: "/metrics", token: Self.token).1
            return (Self.metric(metrics, "tickline_writer_restarts_total") ?? 0) >= 1 && Self.writerPid(instance: instance).map { $0 != firstWriter } == true
        }, "writer not restarted: \(engine.errors)")
        usleep(1_000_000)  // trading goes on with the new writer

        #expect(engine.stop(seconds: 40) == 0, "engine log:\n\(engine.errors)")
        #expect(access("/dev/shm/tickline-\(instance)", F_OK) != 0, "the region is removed at the end")
        #expect(Self.writerPid(instance: instance) == nil, "the writer stopped with the engine")

        // "stopped: events N, signals S, orders O, fills F, risk_events R" against the file.
        let log = engine.errors
        guard let stopped = log.split(separator: "\n").last(where: { $0.contains("stopped: ") }) else {
            Issue.record("no final totals in the log:\n\(log)")
            return
        }
        var produced: [String: Int] = [:]
        for part in stopped.split(separator: ":").last!.split(separator: ",") {
            let kv = part.split(separator: " ")
            if kv.count == 2 { produced[String(kv[0])] = Int(kv[1]) }
        }
        let lines = (try? String(contentsOfFile: lineFile, encoding: .utf8)) ?? ""
        // A batch written just before a SIGKILL may be written again by the next writer
        // (InfluxDB would keep one point per series and time): count distinct lines.
        var distinct: [String: Set<Substring>] = [:]
        for line in lines.split(separator: "\n") { distinct[String(line.prefix { $0 != "," && $0 != " " }), default: []].insert(line) }
        #expect((produced["orders"] ?? 0) > 0)
        for (measurement, key) in [("signals", "signals"), ("orders", "orders"), ("fills", "fills"), ("risk", "risk_events")] {
            #expect(distinct[measurement, default: []].count == produced[key] ?? -1,
                    "\(measurement): \(distinct[measurement, default: []].count) in the file, \(produced[key] ?? -1) produced")
        }
    }

    /// `/api/snapshot` as JSON (empty when it did not answer).
    static func snapshot(port: Int) -> [String: Any] {
        let body = httpRequest(port: port, path: "/api/snapshot", token: token).1
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// The non-flat positions of a snapshot.
    static func openPositions(_ s: [String: Any]) -> [[String: Any]] {
        ((s["positions"] as? [[String: Any]]) ?? []).filter { (($0["quantity"] as? Double) ?? 0) != 0 }
    }

    /// The kill switch through the API while positions are open and every limit is below
    /// their notional: it cancels every open order and flattens every position (exits go
    /// through whatever the limits), a second kill changes nothing, a plain resume is
    /// refused and a confirmed one lifts the latch. The strategy's stop is far (stop_z 40:
    /// with stop_z 8 a stop sometimes closed the position between the look and the kill)
    /// and its target the mean 2 σ away, so positions stay open long enough to be seen and
    /// killed. The time from the kill to flat is printed (an upper bound: the view is
    /// published every 100 ms).
    @Test func killFlattensEverythingWithEveryLimitLoweredAndStaysLatchedUntilAConfirmedResume() throws {
        let run = try Self.startEngine("killtest", strategy: "{ id: 3, type: zscore_reversion, timeframe: tick, period: 10, entry_z: 2, exit_z: 0.3, stop_z: 40 }") {
            // A target 2 σ away against a stop 38 σ away: allowed by a reward:risk of 0.
            $0.replacingOccurrences(of: "limits: { submit_burst", with: "limits: { min_reward_risk: 0, submit_burst")
        }
        defer { run.stop() }
        let (port, engine) = (run.port, run.engine)

        // Positions open, then every limit below their notional (entries stop), and still
        // open after that: else put the limits back and wait for the next ones. A position may
        // still close by its own target or stop between the look and the kill: then the kill
        // had nothing to flatten, so the confirmed resume lifts it and the test tries again.
        let lowered = #"{"max_order_notional": 1, "max_gross_exposure": 1, "max_net_exposure": 1, "strategy_budget": 1, "submit_burst": 0, "submit_per_second": 0, "price_collar_pct": 0, "max_reference_age_ms": 0}"#
        let restored = #"{"max_order_notional": 1000000, "max_gross_exposure": 1000000, "max_net_exposure": 1000000, "strategy_budget": 1000000, "submit_burst": 1000, "submit_per_second": 1000, "price_collar_pct": 5, "max_reference_age_ms": 5000}"#
        func killExits(_ s: [String: Any]) -> Int { ((s["exitsByTrigger"] as? [String: Any])?["kill_switch"] as? Int) ?? 0 }
        var last: [String: Any] = [:]
        var killed = false
        for attempt in 1...3 where !killed {
            var held: [[String: Any]] = []
            var heldSnapshot: [String: Any] = [:]
            for _ in 0..<5 where held.isEmpty {
                guard waitUntil(60, { !Self.openPositions(Self.snapshot(port: port)).isEmpty }) else { break }
                let limits = httpRequest(port: port, path: "/api/limits", method: "PUT", token: Self.token, body: lowered)
                #expect(limits.0 == 200 && limits.1.contains(#""max_order_notional":1"#), "\(limits)")
                heldSnapshot = Self.snapshot(port: port)
                held = Self.openPositions(heldSnapshot)
                if held.isEmpty { _ = httpRequest(port: port, path: "/api/limits", method: "PUT", token: Self.token, body: restored) }
            }
            try #require(!held.isEmpty, "no position held open with the limits lowered; engine log:\n\(engine.errors)")

            let start = Clock.monotonic()
            let kill = httpRequest(port: port, path: "/api/kill", method: "POST", token: Self.token)
            let answeredNs = Clock.monotonic() - start
            #expect(kill.0 == 200 && kill.1.contains(#""state":"halted""#), "\(kill)")
            let flat = waitUntil(60, pollUs: 10_000) {
                last = Self.snapshot(port: port)
                return Self.openPositions(last).isEmpty && ((last["openOrders"] as? [Any])?.isEmpty ?? false)
            }
            let seconds = Double(Clock.monotonic() - start) / 1e9
            #expect(flat, "not flat 60 s after the kill: \(Self.openPositions(last)), orders \(last["openOrders"] ?? "?"); engine log:\n\(engine.errors)")
            #expect(last["killSwitchEngaged"] as? Bool == true && last["tradingState"] as? String == "halted", "\(last)")
            killed = killExits(last) > killExits(heldSnapshot)
            if killed {
                // An upper bound: the view is published every 100 ms and looked at every 10 ms.
                print("kill to flat: \(String(format: "%.3f", seconds)) s for \(held.count) open position(s), seen through /api/snapshot"
                      + " (the kill answered in \(String(format: "%.3f", Double(answeredNs) / 1e9)) s)")
            } else {
                print("kill attempt \(attempt): the position closed by its own exit before the kill (\(last["exitsByTrigger"] ?? "?")); again")
                let lift = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token, body: #"{"confirm":"kill"}"#)
                #expect(lift.0 == 200, "\(lift)")
                _ = httpRequest(port: port, path: "/api/limits", method: "PUT", token: Self.token, body: restored)
            }
        }
        #expect(killed, "the kill flattened no position in 3 attempts: \(last["exitsByTrigger"] ?? "?")")

        // A second kill: the same latched state, and no second exit for any position.
        let exitsBefore = last["exits"] as? Int
        let again = httpRequest(port: port, path: "/api/kill", method: "POST", token: Self.token)
        #expect(again.0 == 200 && again.1.contains(#""state":"halted""#), "\(again)")
        let after = Self.snapshot(port: port)
        #expect(Self.openPositions(after).isEmpty && after["killSwitchEngaged"] as? Bool == true)

        let plain = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token)
        #expect(plain.0 == 422 && plain.1.contains("confirm") && plain.1.contains("kill"), "\(plain)")
        let reduce = httpRequest(port: port, path: "/api/reduce", method: "POST", token: Self.token)
        #expect(reduce.0 == 422, "reducing would lift the kill switch's halt: \(reduce)")
        let wrong = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token, body: #"{"confirm":"yes"}"#)
        #expect(wrong.0 == 422, "\(wrong)")
        let confirmed = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token, body: #"{"confirm":"kill"}"#)
        #expect(confirmed.0 == 200 && confirmed.1.contains(#""state":"active""#), "\(confirmed)")
        #expect(waitUntil(10) { Self.snapshot(port: port)["killSwitchEngaged"] as? Bool == false }, "the latch is lifted in the view")
        #expect(Self.snapshot(port: port)["exits"] as? Int == exitsBefore, "the second kill sent no exit")

        // Per-strategy and per-symbol commands, and a symbol the engine does not trade.
        let strategy = httpRequest(port: port, path: "/api/halt", method: "POST", token: Self.token, body: #"{"strategy": 3}"#)
        #expect(strategy.0 == 200 && strategy.1.contains(#""state":"halted""#), "\(strategy)")
        let symbol = httpRequest(port: port, path: "/api/halt", method: "POST", token: Self.token, body: #"{"symbol": "SYM0001USDT"}"#)
        #expect(symbol.0 == 200 && symbol.1.contains(#""state":"halted""#), "\(symbol)")
        let unknown = httpRequest(port: port, path: "/api/halt", method: "POST", token: Self.token, body: #"{"symbol": "BTCUSDT"}"#)
        #expect(unknown.0 == 422 && unknown.1.contains("BTCUSDT"), "\(unknown)")
        let back = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token, body: #"{"symbol": "SYM0001USDT"}"#)
        #expect(back.0 == 200 && back.1.contains(#""state":"active""#), "\(back)")
        #expect(Self.snapshot(port: port)["tradingState"] as? String == "active", "a symbol's resume leaves the global state as it was")
        #expect(engine.stop(seconds: 40) == 0, "engine log:\n\(engine.errors)")
    }

    /// The `breakers` object of a snapshot.
    static func breakers(_ s: [String: Any]) -> [String: Any] { s["breakers"] as? [String: Any] ?? [:] }

    /// `kill -9` of `run`'s engine, then a second `tickline run` on the same config (same
    /// journal, control port and feed), answering `/api/snapshot`. The stale region the dead
    /// engine left is removed when `cleanUp` runs.
    static func killAndRestart(_ run: RunningEngine, tag: String) throws -> ChildProcess {
        run.engine.signal(SIGKILL)
        #expect(run.engine.wait(seconds: 30) == 128 + SIGKILL)
        let again = ChildProcess(executable: bin.appendingPathComponent("tickline").path, arguments: ["run", "--config", "\(run.dir)/engine.yaml"])
        #expect(again.start())
        // The risk stage's view, not the control plane's placeholder before its first copy of it.
        try #require(waitUntil(60) { !((breakers(snapshot(port: run.port))["day"] as? String) ?? "").isEmpty || !again.isRunning },
                     "the restarted engine did not answer; its log:\n\(again.errors)")
        try #require(again.isRunning, "the restarted engine ended; its log:\n\(again.errors)")
        return again
    }

    static func removeStaleRegions(tag: String) {
        for path in SharedRegion.staleRegions(instance: "\(tag)-\(getpid())") { unlink(path) }
    }

    /// A daily-loss trip (a limit of 0 %: the first loss of any size below the day's starting
    /// equity trips it; the synthetic feed moves equity by cents), then `kill -9` of the engine and a restart on the same journal: still reducing
    /// for the daily loss, from the same day and the same day-start equity. (Across a UTC
    /// midnight the restart would rightly lift it: then the test says so and checks that.)
    @Test func aDailyLossTripOutlivesAKill9AndARestart() throws {
        let tag = "breakertest"
        let run = try Self.startEngine(tag) {
            $0.replacingOccurrences(of: "limits: { submit_burst", with: "limits: { daily_loss_pct: 0, submit_burst")
        }
        defer {
            run.stop()
            Self.removeStaleRegions(tag: tag)
        }
        var before: [String: Any] = [:]
        let tripped = waitUntil(120, pollUs: 20_000) {
            before = Self.snapshot(port: run.port)
            return Self.breakers(before)["state"] as? String == "reducing"
        }
        try #require(tripped, "no daily-loss trip in 120 s: \(Self.breakers(before)); engine log:\n\(run.engine.errors)")
        let b0 = Self.breakers(before)
        #expect(b0["cause"] as? String == "dailyLoss" && before["tradingState"] as? String == "reducing", "\(before)")
        let baseline = try #require(b0["dayStartEquity"] as? Double)
        #expect(baseline > 0)

        let again = try Self.killAndRestart(run, tag: tag)
        defer { _ = again.stop(seconds: 30) }
        let after = Self.snapshot(port: run.port)
        let b1 = Self.breakers(after)
        let (day0, day1) = (b0["day"] as? String ?? "", b1["day"] as? String ?? "")
        #expect(!day0.isEmpty && !day1.isEmpty, "\(b0) before, \(b1) after")
        if day1 == day0 {
            #expect(b1["state"] as? String == "reducing" && b1["cause"] as? String == "dailyLoss", "\(b1)")
            #expect(after["tradingState"] as? String == "reducing", "\(after)")
            #expect(b1["dayStartEquity"] as? Double == baseline, "day-start equity \(b1["dayStartEquity"] ?? "?") after the restart, \(baseline) before")
            for key in ["week", "weekStartEquity", "month", "monthStartEquity"] {
                #expect("\(b1[key] ?? "-")" == "\(b0[key] ?? "+")", "\(key): \(b1) after, \(b0) before")
            }
            // The peak is not compared: a climb alone is journaled up to a second late, and the
            // kill may come sooner (the restart test on a manual clock checks that cadence).
            #expect(((b1["drawdownPeakEquity"] as? Double) ?? 0) >= baseline, "\(b1)")
        } else {
            print("a UTC day began between the trip and the restart: the daily reduction was lifted (\(b0) -> \(b1))")
            #expect(b1["state"] as? String == "active", "\(b1)")
        }
        #expect(again.stop(seconds: 40) == 0, "engine log:\n\(again.errors)")
    }

    /// `POST /api/kill`, then `kill -9` of the engine and a restart on the same journal: still
    /// halted with the kill switch latched; a plain resume (or reduce) is refused, a resume
    /// with `{"confirm":"kill"}` lifts it.
    @Test func aKillStaysLatchedAcrossARestartUntilAConfirmedResume() throws {
        let tag = "killrestart"
        let run = try Self.startEngine(tag) { $0 }
        defer {
            run.stop()
            Self.removeStaleRegions(tag: tag)
        }
        try #require(waitUntil(60) { !((Self.breakers(Self.snapshot(port: run.port))["day"] as? String) ?? "").isEmpty },
                     "no snapshot of the risk stage; engine log:\n\(run.engine.errors)")
        let kill = httpRequest(port: run.port, path: "/api/kill", method: "POST", token: Self.token)
        #expect(kill.0 == 200 && kill.1.contains(#""state":"halted""#), "\(kill)")
        #expect(waitUntil(30) { Self.snapshot(port: run.port)["killSwitchEngaged"] as? Bool == true }, "the kill is not in the view")

        let again = try Self.killAndRestart(run, tag: tag)
        defer { _ = again.stop(seconds: 30) }
        let after = Self.snapshot(port: run.port)
        #expect(after["killSwitchEngaged"] as? Bool == true && after["tradingState"] as? String == "halted", "\(after)")
        #expect(Self.breakers(after)["state"] as? String == "halted" && Self.breakers(after)["cause"] as? String == "killSwitch",
                "\(Self.breakers(after))")
        let plain = httpRequest(port: run.port, path: "/api/resume", method: "POST", token: Self.token)
        #expect(plain.0 == 422 && plain.1.contains("confirm") && plain.1.contains("kill"), "\(plain)")
        let reduce = httpRequest(port: run.port, path: "/api/reduce", method: "POST", token: Self.token)
        #expect(reduce.0 == 422, "\(reduce)")
        #expect(Self.snapshot(port: run.port)["killSwitchEngaged"] as? Bool == true)
        let confirmed = httpRequest(port: run.port, path: "/api/resume", method: "POST", token: Self.token, body: #"{"confirm":"kill"}"#)
        #expect(confirmed.0 == 200 && confirmed.1.contains(#""state":"active""#), "\(confirmed)")
        var last: [String: Any] = [:]
        #expect(waitUntil(30) {
            last = Self.snapshot(port: run.port)
            return last["killSwitchEngaged"] as? Bool == false && Self.breakers(last)["state"] as? String == "active"
        }, "the latch is not lifted in the view: \(last)")
        #expect(again.stop(seconds: 40) == 0, "engine log:\n\(again.errors)")
    }

    /// `risk.cancel_entries_on_halt` with resting (gtc) entries: a halt sends a cancel for
    /// each of them, and none is left open.
    @Test func aHaltCancelsRestingEntriesWhenConfiguredTo() throws {
        let run = try Self.startEngine("halttest") {
            $0.replacingOccurrences(of: "  journal: ", with: "  entry_time_in_force: gtc\n  cancel_entries_on_halt: true\n  journal: ")
        }
        defer { run.stop() }
        let (port, engine) = (run.port, run.engine)
        func restingEntries(_ s: [String: Any]) -> [[String: Any]] {
            ((s["openOrders"] as? [[String: Any]]) ?? []).filter { $0["type"] as? String == "limit" }
        }
        // An entry seen resting may fill before the halt reaches the risk stage (the view is
        // up to 100 ms old): then nothing was left to cancel, so resume and try again.
        var resting: [[String: Any]] = [], last: [String: Any] = [:], cancelled = false
        for _ in 0..<5 where !cancelled {
            let seen = waitUntil(60, pollUs: 10_000) {
                resting = restingEntries(Self.snapshot(port: port))
                return !resting.isEmpty
            }
            try #require(seen, "no resting entry within 60 s; engine log:\n\(engine.errors)")
            let halt = httpRequest(port: port, path: "/api/halt", method: "POST", token: Self.token)
            #expect(halt.0 == 200 && halt.1.contains(#""state":"halted""#), "\(halt)")
            #expect(waitUntil(60) {
                last = Self.snapshot(port: port)
                return restingEntries(last).isEmpty
            }, "entries left open after the halt: \(restingEntries(last))")
            cancelled = ((last["cancelRequests"] as? Int) ?? 0) > 0
            if !cancelled { _ = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token) }
        }
        #expect(cancelled, "no cancel request after five halts with entries resting; last seen resting: \(resting)")
        #expect(engine.stop(seconds: 40) == 0, "engine log:\n\(engine.errors)")
    }

    /// `tickline demo --influx file://…`: its writer process journals to that line-protocol
    /// file (named on the screen) and every signal, order, fill and risk event reaches it.
    @Test func demoJournalsEverythingThroughItsWriter() throws {
        let dir = NSTemporaryDirectory() + "tickline-demo-file-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/journal.lp"
        let demo = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path,
                                arguments: ["demo", "--duration", "4", "--json", "--rate", "3000", "--influx", "file://\(path)",
                                            "--redis", "redis://127.0.0.1:1/0"])
        #expect(demo.start())
        #expect(demo.wait(seconds: 60) == 0, "\(demo.errors)")
        defer { try? FileManager.default.removeItem(atPath: "/tmp/tickline-demo-\(demo.pid)") }
        let json = try JSONSerialization.jsonObject(with: Data(demo.output.utf8)) as? [String: Any] ?? [:]
        func value(_ key: String) -> Double { (json[key] as? NSNumber)?.doubleValue ?? -1 }
        #expect(value("orders") > 0 && value("fills") > 0, "\(demo.output)")
        #expect(value("writer_restarts") == 0)
        #expect(demo.errors.contains("line protocol to \(path)"), "the screen names the file:\n\(demo.errors)")
        let sink = (json["sinks"] as? [String: [String: Any]])?["influx"] ?? [:]
        #expect(sink["kind"] as? String == "line_protocol_file" && sink["where"] as? String == "file://\(path)", "\(sink)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var counts: [String: Double] = [:]
        for l in text.split(separator: "\n") { counts[String(l.prefix { $0 != "," }), default: 0] += 1 }
        for (measurement, key) in [("signals", "signals"), ("orders", "orders"), ("fills", "fills"), ("risk", "risk_events")] {
            #expect(counts[measurement, default: 0] == value(key), "\(measurement): \(counts[measurement, default: 0]) in \(path), \(value(key)) produced")
        }
        // The count the screen and `sinks` show is what the file holds.
        #expect((sink["written"] as? NSNumber)?.intValue == text.split(separator: "\n").count, "\(sink)")
    }

    /// `tickline record` against `tickline-feed`: every message and REST snapshot lands in a
    /// recording that `tickline verify` then replays through the decoders and books without a
    /// gap, a mismatch or a decode error.
    @Test func recordWritesAFileThatVerifyReplaysCleanly() throws {
        let dir = NSTemporaryDirectory() + "tickline-record-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(dir)/session.rec"
        let (lines, _) = try Self.record(to: file, in: dir, futures: false)

        let verify = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path,
                                  arguments: ["verify", file, "--json", "--price-decimals", "2"])
        #expect(verify.start())
        #expect(verify.wait(seconds: 60) == 0, "\(verify.errors)")
        let report = (try? JSONSerialization.jsonObject(with: Data(verify.output.utf8))) as? [String: Any] ?? [:]
        #expect((report["messages"] as? Int) == lines, "\(verify.output)")
        #expect((report["depth_gaps"] as? Int) == 0 && (report["book_mismatches"] as? Int) == 0 && (report["decode_errors"] as? Int) == 0,
                "\(verify.output)")
        #expect(((report["book_checks"] as? Int) ?? 0) > 0, "\(verify.output)")
    }

    /// A recording of `tickline-feed --futures` (update ids jump between diffs, `pu` chains
    /// them): `tickline verify` detects the futures rules from `pu` with no flag and checks
    /// the books; `--spot` forces spot's rules, which see gaps; both flags are refused.
    @Test func verifyDetectsFuturesInARecordedFuturesFeed() throws {
        let dir = NSTemporaryDirectory() + "tickline-record-futures-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = "\(dir)/futures.rec"
        let (lines, summary) = try Self.record(to: file, in: dir, futures: true, rate: 400)
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        #expect(text.contains("\"pu\":"), "the feed wrote futures diffs")
        // The live feed agent synced each book on its first snapshot and never lost it (by
        // spot's rules every diff would have been a gap and a fresh snapshot).
        #expect(text.split(separator: "\n").filter { $0.contains("lastUpdateId") }.count == 2, "\(summary)")
        #expect(summary.contains("snapshots synced 2,"), "\(summary)")

        func verify(_ flags: [String]) -> (status: Int32?, report: [String: Any], errors: String) {
            let p = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path,
                                 arguments: ["verify", file, "--json", "--price-decimals", "2"] + flags)
            #expect(p.start())
            let status = p.wait(seconds: 60)
            return (status, (try? JSONSerialization.jsonObject(with: Data(p.output.utf8))) as? [String: Any] ?? [:], p.errors)
        }
        func count(_ report: [String: Any], _ key: String) -> Int { (report[key] as? Int) ?? -1 }

        let detected = verify([])
        #expect(detected.status == 0, "\(detected.report) \(detected.errors)")
        #expect(count(detected.report, "messages") == lines, "\(detected.report)")
        #expect(count(detected.report, "snapshots_synced") > 0 && count(detected.report, "depth_gaps") == 0, "\(detected.report)")
        #expect(count(detected.report, "book_checks") > 0 && count(detected.report, "book_mismatches") == 0, "\(detected.report)")
        #expect(count(detected.report, "decode_errors") == 0, "\(detected.report)")

        let forced = verify(["--futures"])
        #expect(forced.status == 0 && count(forced.report, "depth_gaps") == 0, "\(forced.report) \(forced.errors)")

        let spot = verify(["--spot"])
        #expect(spot.status != 0 && spot.status != nil, "\(spot.report) \(spot.errors)")
        // A gap where a synced book met a futures diff, or a book no snapshot could sync.
        #expect(count(spot.report, "depth_gaps") > 0 || count(spot.report, "books_unsynced") > 0, "\(spot.report)")

        let both = verify(["--spot", "--futures"])
        #expect(both.status != 0 && both.status != nil)
        #expect(both.errors.contains("--futures") && both.errors.contains("--spot"), "\(both.errors)")
    }

    /// Runs `tickline record` for 3 s against a fresh two-symbol `tickline-feed` (`rate`
    /// messages a second) and returns the number of lines written and its stderr.
    static func record(to file: String, in dir: String, futures: Bool, rate: Int = 1_000) throws -> (lines: Int, errors: String) {
        let (feed, address) = Self.startFeed(rate: rate, seed: 11, futures: futures)
        defer { feed.stop() }
        let instrument = #"{ price_decimals: 2, quantity_decimals: 8, tick: "0.01", step: "0.00001", min_qty: "0.00001", min_notional: "1", max_order_qty: "10", position_limit: "50" }"#
        let config = """
            feeds:
              - { name: synthetic, stream_address: "\(address)", rest_base: "http://\(address)", symbols: [SYM0000USDT, SYM0001USDT] }
            risk:
              instruments:
                - \(instrument.replacingOccurrences(of: "{ ", with: "{ symbol: SYM0000USDT, "))
                - \(instrument.replacingOccurrences(of: "{ ", with: "{ symbol: SYM0001USDT, "))
            """
        try config.write(toFile: "\(dir)/engine.yaml", atomically: true, encoding: .utf8)
        let record = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path,
                                  arguments: ["record", "--config", "\(dir)/engine.yaml", "--out", file, "--duration", "3"])
        #expect(record.start())
        #expect(record.wait(seconds: 60) == 0, "\(record.errors)")
        let lines = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines.count > 500, "\(lines.count) lines; \(record.errors)")
        #expect(lines.filter { $0.contains("lastUpdateId") }.count >= 2, "a REST snapshot per symbol is recorded")
        #expect(record.errors.contains("\(lines.count) lines"), "the summary counts what is in the file: \(record.errors)")
        return (lines.count, record.errors)
    }
}
