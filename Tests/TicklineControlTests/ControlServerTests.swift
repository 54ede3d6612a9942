#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import TicklineTestSupport
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineRuntime

/// The HTTP layer against a scripted engine source (the engine's own source is tested with
/// the engine): every request goes through a real socket with curl.
final class ScriptedSource: ControlPlaneSource {
    let submitted = Mutex<[ControlRequest]>([])
    let ready = Mutex(true)

    func snapshot() -> EngineSnapshot {
        var s = EngineSnapshot(instance: "t", wallNs: Clock.wall().ns, tradingState: "active")
        s.equity = 50_123.5
        s.events = 42
        s.equityCurve = [[1, 50_000], [2, 50_123.5]]
        s.positions = [.init(symbol: "BTCUSDT", strategy: "sma", quantity: 0.5, averagePrice: 61_000, markPrice: 61_100,
                             realisedPnl: 0, unrealisedPnl: 50, moneyAtRisk: 300)]
        s.limits = ["max_order_notional": 10_000]
        s.latency = [.init(stage: "tick_to_order", count: 10, p50: 2_000, p99: 9_000, p999: 12_000, max: 15_000)]
        s.strategies = [.init(strategy: "sma", trades: 3, realisedPnl: 12.5, unrealisedPnl: 50, fees: 4.25, netPnl: 58.25)]
        s.roundTripsClosed = 3
        s.recentRoundTrips = [RoundTripRecord(sequence: 3, strategy: "sma", symbol: "BTCUSDT", entryNs: 1_000, exitNs: 61_000,
                                              side: "long", qty: 0.5, entryPrice: 61_000, exitPrice: 61_010, openingFee: 1.5,
                                              closingFee: 1.25, grossPnl: 5, netPnl: 2.25)]
        return s
    }

    func readiness() -> [ReadinessCheck] {
        [ReadinessCheck(name: "feeds", ok: ready.withLock { $0 }, detail: "1 of 1 connected")]
    }

    func prometheusMetrics() -> String {
        var p = PrometheusText()
        p.single("tickline_events_total", .counter, "Market events decoded.", [("feed", "binance")], 42)
        p.histogram("tickline_tick_to_order_seconds", "Socket read to order in the venue ring.", [("venue", "paper")],
                    buckets: [(0.000_01, 3), (0.000_1, 9)], sum: 0.000_3, count: 10)
        p.single("tickline_equity", .gauge, "Account equity.\nMarked to market.", [("label", "a \"quoted\" \\ value")], 50_123.5)
        return p.text
    }

    func submit(_ request: ControlRequest) -> ControlReply {
        if case .setLimits(let l) = request, l.keys.contains("no_such_limit") {
            return ControlReply(accepted: false, message: "unknown limit no_such_limit")
        }
        submitted.withLock { $0.append(request) }
        return ControlReply(accepted: true, message: "queued")
    }
}

struct HTTP {
    let port: Int
    /// (status, body) of a request made with curl (bounded by `maxTime`).
    func call(_ method: String, _ path: String, token: String?, body: String? = nil, maxTime: Double = 10) -> (Int, String) {
        httpRequest(port: port, path: path, method: method, token: token, body: body, maxTime: maxTime)
    }
}

@Suite(.serialized) struct ControlServerTests {
    static let token = "test-token-0123456789abcdef"

    static func which(_ name: String) -> String? {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }

    static func withServer(_ body: (HTTP, ScriptedSource) throws -> Void) throws {
        let source = ScriptedSource()
        let server = ControlServer(config: ControlConfig(listen: "127.0.0.1:0", pushIntervalMs: 100), token: token, source: source)
        try server.start()
        defer { server.stop() }
        try body(HTTP(port: try #require(server.port)), source)
    }

    @Test func refusesRequestsWithoutTheBearerTokenButHealthz() throws {
        try Self.withServer { http, source in
            #expect(http.call("GET", "/healthz", token: nil).0 == 200)
            #expect(http.call("GET", "/metrics", token: nil).0 == 401)
            #expect(http.call("GET", "/api/snapshot", token: "wrong-token-0123456789abcdef").0 == 401)
            #expect(http.call("GET", "/api/snapshot", token: String(Self.token.dropLast())).0 == 401)
            #expect(http.call("POST", "/api/halt", token: nil).0 == 401)
            #expect(http.call("GET", "/?token=nope", token: nil).0 == 401)
            #expect(source.submitted.withLock { $0 }.isEmpty)  // nothing reached the engine
            let (status, body) = http.call("GET", "/api/snapshot", token: Self.token)
            #expect(status == 200)
            #expect(body.contains("\"equity\":50123.5"))
        }
    }

    @Test func servesTheClosedRoundTripsWithTheReportsFieldNames() throws {
        try Self.withServer { http, _ in
            let (status, body) = http.call("GET", "/api/trades", token: Self.token)
            #expect(status == 200)
            let trips = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] ?? []
            #expect(trips.count == 1, "\(body)")
            let t = try #require(trips.first)
            for key in ["strategy", "symbol", "entry_ns", "exit_ns", "side", "qty", "entry_price", "exit_price", "fees", "gross_pnl", "net_pnl"] {
                #expect(t[key] != nil, "\(key) missing from \(body)")
            }
            #expect(t["fees"] as? Double == 2.75 && t["holding_ns"] as? Int == 60_000)
            #expect(http.call("GET", "/api/trades", token: nil).0 == 401)
        }
    }

    @Test func servesMetricsThatPromtoolAccepts() throws {
        try Self.withServer { http, _ in
            let (status, text) = http.call("GET", "/metrics", token: Self.token)
            #expect(status == 200)
            #expect(text.contains("tickline_tick_to_order_seconds_bucket{venue=\"paper\",le=\"+Inf\"} 10"))
            #expect(text.contains(#"label="a \"quoted\" \\ value""#))
            if let check = promtoolCheck(text) { #expect(check.passed, "promtool: \(check.output)") }
        }
    }

    @Test func turnsCommandsIntoRequestsAndReportsRefusals() throws {
        try Self.withServer { http, source in
            #expect(http.call("POST", "/api/halt", token: Self.token).0 == 202)
            #expect(http.call("POST", "/api/resume", token: Self.token).0 == 202)
            #expect(http.call("POST", "/api/subscribe", token: Self.token, body: #"{"symbols":["ETHUSDT","BNBUSDT"]}"#).0 == 202)
            #expect(http.call("PUT", "/api/limits", token: Self.token, body: #"{"max_order_notional":2500}"#).0 == 202)
            let refused = http.call("PUT", "/api/limits", token: Self.token, body: #"{"no_such_limit":1}"#)
            #expect(refused.0 == 422 && refused.1.contains("unknown limit no_such_limit"))
            #expect(http.call("POST", "/api/subscribe", token: Self.token, body: "{broken").0 == 400)
            #expect(source.submitted.withLock { $0 } == [.halt, .resume, .subscribe(["ETHUSDT", "BNBUSDT"]),
                                                         .setLimits(["max_order_notional": 2_500])])
        }
    }

    @Test func scopesHaltAndResumeByBodyAndTakesAConfirmedResumeAndAKill() throws {
        try Self.withServer { http, source in
            #expect(http.call("POST", "/api/halt", token: Self.token, body: #"{"strategy": 3}"#).0 == 202)
            #expect(http.call("POST", "/api/resume", token: Self.token, body: #"{"symbol": "ETHUSDT"}"#).0 == 202)
            #expect(http.call("POST", "/api/kill", token: Self.token).0 == 202)
            #expect(http.call("POST", "/api/resume", token: Self.token, body: #"{"confirm": "kill"}"#).0 == 202)
            #expect(http.call("POST", "/api/reduce", token: Self.token, body: "{}").0 == 202)
            let wrong = http.call("POST", "/api/resume", token: Self.token, body: #"{"confirm": "yes"}"#)
            #expect(wrong.0 == 422 && wrong.1.contains("kill"), "\(wrong)")
            #expect(http.call("POST", "/api/halt", token: Self.token, body: #"{"strategy": 3, "symbol": "ETHUSDT"}"#).0 == 422)
            #expect(http.call("POST", "/api/flatten", token: Self.token, body: #"{"strategy": 3}"#).0 == 422)
            #expect(http.call("POST", "/api/halt", token: Self.token, body: "{broken").0 == 422)
            #expect(source.submitted.withLock { $0 } == [.scoped(.halt, .strategy(3)), .scoped(.resume, .symbol("ETHUSDT")), .kill,
                                                         .resumeAfterKill, .reduce])
        }
    }

    @Test func readinessFollowsTheChecks() throws {
        try Self.withServer { http, source in
            #expect(http.call("GET", "/readiness", token: Self.token).0 == 200)
            source.ready.withLock { $0 = false }
            let (status, body) = http.call("GET", "/readiness", token: Self.token)
            #expect(status == 503 && body.contains("\"ready\":false"))
        }
    }

    @Test func streamsSnapshotsAsServerSentEvents() throws {
        try Self.withServer { http, _ in
            // `max=3`: the server ends the stream after three pushes (100 ms apart), so the
            // count does not depend on how fast a loaded machine runs; curl's limit only bounds it.
            let out = runCommand("/usr/bin/curl", ["-s", "-N", "--max-time", "30", "-H", "Authorization: Bearer \(Self.token)",
                                                 "http://127.0.0.1:\(http.port)/api/stream?max=3"]).output
            let events = out.components(separatedBy: "event: snapshot\ndata: ").count - 1
            #expect(events == 3, "\(out.prefix(300))")
        }
    }

    @Test func generatesAndStoresATokenWhenNoneIsConfigured() throws {
        let file = NSTemporaryDirectory() + "tickline-{instance}-\(getpid()).token"
        let (token, origin) = try ControlServer.resolveToken(config: ControlConfig(tokenFile: file), instance: "x", environment: [:])
        let path = file.replacingOccurrences(of: "{instance}", with: "x")
        #expect(token.count == 64 && origin.contains(path))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == token + "\n")
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(try ControlServer.resolveToken(config: ControlConfig(), instance: "x",
                                               environment: ["TICKLINE_CONTROL_TOKEN": "env-token-0123456789"]).token == "env-token-0123456789")
        #expect(throws: ControlError.self) {
            try ControlServer.resolveToken(config: ControlConfig(), instance: "x", environment: ["TICKLINE_CONTROL_TOKEN": "short"])
        }
    }
}

/// The dashboard in a real browser (Debian's `chromium`, headless): it must draw live
/// snapshots from the event stream, not just load.
@Suite(.serialized) struct DashboardBrowserTests {
    static var chromium: String? { ControlServerTests.which("chromium") }
    static let required = ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1"

    @Test func rendersLiveDataInHeadlessChromium() throws {
        guard let chromium = Self.chromium ?? (Self.required ? "/usr/bin/chromium" : nil) else { return }
        try ControlServerTests.withServer { http, _ in
            // `max=5`: the stream ends after five snapshots, so the browser's virtual clock can
            // run out (it waits while a request is open) and the DOM is dumped after them.
            let url = "http://127.0.0.1:\(http.port)/?token=\(ControlServerTests.token)&max=5"
            let profile = NSTemporaryDirectory() + "tickline-chromium-\(getpid())"
            let common = ["--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                          "--virtual-time-budget=5000"]
            let dom = runCommand("/usr/bin/timeout", ["60", chromium] + common + ["--dump-dom", url]).output
            let updates = dom.firstMatch(of: /data-updates="(\d+)"/).map { Int($0.1)! } ?? 0
            #expect(updates == 5, "the page drew \(updates) snapshots")
            #expect(dom.contains("50,123.50"))       // equity
            #expect(dom.contains("BTCUSDT"))         // a position row
            #expect(dom.contains("tick_to_order"))   // a latency row
            #expect(dom.contains("58.25") && dom.contains("4.25"))  // a strategy's net PnL and fees
            #expect(dom.contains("(3 closed)"))      // the round trips
            #expect(dom.contains("live · "))
            // A screenshot for people (TICKLINE_SCREENSHOT=path keeps it).
            if let shot = ProcessInfo.processInfo.environment["TICKLINE_SCREENSHOT"] {
                _ = runCommand("/usr/bin/timeout", ["60", chromium] + common +
                               ["--window-size=1400,1000", "--screenshot=\(shot)", url])
                #expect(access(shot, R_OK) == 0)
            }
            _ = runCommand("/bin/rm", ["-rf", profile])
        }
    }
}
