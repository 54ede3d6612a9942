#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineConfig
import TicklineEngine
import TicklineTestSupport

/// `tickline demo` and `tickline run` as a new user meets them: real processes, the real
/// redis-server and influxd, the shipped config.
@Suite(.serialized) struct DemoCommandTests {
    static let tickline = RunCommandTests.bin.appendingPathComponent("tickline").path
    static let serversInstalled = PrivateServer.onPath("redis-server") != nil && PrivateServer.onPath("influxd") != nil
        && PrivateServer.onPath("redis-cli") != nil
    static let requireReferences = ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1"

    /// Processes started for a demo: their command line names its folder (influxd's config,
    /// the writer's) or they run in it (redis-server changes into its data folder). Zombies
    /// have neither.
    static func processes(under folder: String) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [pid_t] = []
        for e in entries {
            guard let pid = Int32(e), pid != getpid() else { continue }
            let cmdline = FileManager.default.contents(atPath: "/proc/\(e)/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
            let cwd = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(e)/cwd")) ?? ""
            if cmdline.contains(folder + "/") || cwd.hasPrefix(folder + "/") { found.append(pid) }
        }
        return found
    }

    /// The first `prefix…` port in `text` ("redis://127.0.0.1:" → 41234).
    static func port(after prefix: String, in text: String) -> Int? {
        guard let r = text.range(of: prefix) else { return nil }
        return Int(text[r.upperBound...].prefix { $0.isNumber })
    }

    static func redisCLI(_ port: Int, _ args: [String]) -> String {
        runCommand(PrivateServer.onPath("redis-cli") ?? "/usr/bin/redis-cli", ["-p", "\(port)"] + args, seconds: 20).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `SELECT count(seq) FROM measurement` in the demo's database; -1 when the reply has no count.
    static func influxCount(_ port: Int, _ measurement: String) -> Int {
        let text = runCommand("/usr/bin/curl", ["-s", "-XPOST", "http://127.0.0.1:\(port)/query", "--data-urlencode",
                                                "q=SELECT count(seq) FROM \(measurement)", "--data-urlencode", "db=tickline"], seconds: 20).output
        guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let results = json["results"] as? [[String: Any]], let first = results.first else { return -1 }
        guard let series = first["series"] as? [[String: Any]], let values = series.first?["values"] as? [[Any]] else { return 0 }
        return (values.first?[1] as? NSNumber)?.intValue ?? -1
    }

    static func number(_ any: Any?) -> Double { (any as? NSNumber)?.doubleValue ?? -1 }

    @Test(.enabled(if: serversInstalled || requireReferences, "redis-server, redis-cli and influxd are not installed (Tools/setup)"))
    func demoJournalsIntoPrivateRedisAndInfluxDBAndRemovesThemAtExit() throws {
        let demo = ChildProcess(executable: Self.tickline, arguments: ["demo", "--duration", "8", "--json", "--rate", "3000"])
        #expect(demo.start())
        let instance = "demo-\(demo.pid)"
        let folder = "/tmp/tickline-\(instance)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The screen names both private servers before the run.
        var ports: (redis: Int, influx: Int)?
        #expect(waitUntil(60) {
            let text = demo.errors
            guard text.contains("private redis-server pid"), text.contains("private influxd pid"),
                  let r = Self.port(after: "redis://127.0.0.1:", in: text), let i = Self.port(after: "http://127.0.0.1:", in: text.components(separatedBy: "InfluxDB").last ?? "")
            else { return !demo.isRunning }
            ports = (r, i)
            return true
        }, "the demo did not name its private servers:\n\(demo.errors)")
        let (redisPort, influxPort) = try #require(ports, "\(demo.errors)")
        #expect(Self.processes(under: folder).count >= 3, "redis-server, influxd and the writer run under \(folder)")
        // The servers themselves receive the journal while the demo runs.
        var seen = (stream: 0, points: 0)
        #expect(waitUntil(30) {
            seen = (Int(Self.redisCLI(redisPort, ["XLEN", "tickline:\(instance):signals"])) ?? 0, Self.influxCount(influxPort, "signals"))
            return seen.stream > 0 && seen.points > 0
        }, "no signal reached the private servers: XLEN \(seen.stream), InfluxDB count \(seen.points)")

        #expect(demo.wait(seconds: 90) == 0, "\(demo.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(demo.output.utf8)) as? [String: Any], "\(demo.output)")
        let sinks = try #require(json["sinks"] as? [String: [String: Any]], "\(demo.output)")
        #expect(sinks["influx"]?["kind"] as? String == "influxdb")
        #expect(sinks["influx"]?["where"] as? String == "http://127.0.0.1:\(influxPort)/write?db=tickline")
        #expect(sinks["redis"]?["kind"] as? String == "redis")
        #expect(sinks["redis"]?["where"] as? String == "redis://127.0.0.1:\(redisPort)/0")
        for name in ["influx", "redis"] {
            #expect(Self.number(sinks[name]?["written"]) > 0, "\(name): \(sinks[name] ?? [:])")
        }
        // What the servers held mid-run is part of what the writer counts at the end.
        #expect(Self.number(sinks["influx"]?["written"]) >= Double(seen.points))
        #expect(Self.number(json["signals"]) >= Double(seen.stream))
        #expect(demo.errors.contains("log \(folder)/writer.log"), "the screen names the writer's log")
        #expect(!demo.errors.contains("writer started: pid"), "the writer's log stays in its file")
        #expect((try? String(contentsOfFile: "\(folder)/writer.log", encoding: .utf8))?.contains("writer started: pid") == true)
        // Stopped and removed.
        #expect(Self.processes(under: folder).isEmpty, "left running: \(Self.processes(under: folder))")
        #expect(access("\(folder)/redis", F_OK) != 0 && access("\(folder)/influxdb", F_OK) != 0, "the servers' data is removed")
    }

    /// Issue 12's must-show: `TICKLINE_REDIS_URL` / `TICKLINE_INFLUX_URL` name servers that
    /// already run on non-default loopback ports; `tickline demo --duration 40 --json` starts
    /// none, journals there, and has its writer SIGKILLed once mid-run (the supervisor
    /// restarts it). Then every record the demo counted is in both sinks exactly once: XLEN
    /// of each stream and InfluxDB `count(seq)` per measurement equal the demo's counts, every
    /// `…:fills` entry has a quantity > 0, the position hashes equal the demo's final
    /// positions, and the instruments hash names the demo's instruments. The figures are
    /// printed on one line ("demo sinks figures: …").
    @Test(.enabled(if: serversInstalled || requireReferences, "redis-server, redis-cli and influxd are not installed (Tools/setup)"))
    func demoJournalsEveryRecordIntoTheServersTheEnvironmentNamesThroughAWriterKill() throws {
        let folder = NSTemporaryDirectory() + "tickline-demo-env-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let redis = try PrivateServer(kind: .redis, directory: "\(folder)/redis")
        let influx = try PrivateServer(kind: .influxdb, directory: "\(folder)/influxdb")
        defer {
            redis.stop()
            influx.stop()
        }
        try redis.waitUntilReady()
        try influx.waitUntilReady()
        #expect(redis.port != 6379 && influx.port != 8086, "non-default ports: redis \(redis.port), influxd \(influx.port)")
        var environment = ProcessInfo.processInfo.environment
        environment["TICKLINE_REDIS_URL"] = redis.url
        environment["TICKLINE_INFLUX_URL"] = influx.url
        let demo = ChildProcess(executable: Self.tickline, arguments: ["demo", "--duration", "40", "--json"], environment: environment)
        #expect(demo.start())
        defer {
            demo.stop(seconds: 30)
            try? FileManager.default.removeItem(atPath: "/tmp/tickline-demo-\(demo.pid)")
        }
        let instance = "demo-\(demo.pid)"
        func xlen(_ stream: String) -> Int { Int(Self.redisCLI(redis.port, ["XLEN", "tickline:\(instance):\(stream)"])) ?? -1 }

        // The writer's pid, from the demo's screen.
        var firstWriter: pid_t?
        #expect(waitUntil(60) {
            if let line = demo.errors.split(separator: "\n").first(where: { $0.hasPrefix("writer: tickline-writer pid ") }) {
                firstWriter = Int32(line.dropFirst("writer: tickline-writer pid ".count).prefix { $0.isNumber })
            }
            return firstWriter != nil || !demo.isRunning
        }, "the demo named no writer:\n\(demo.errors)")
        let writer = try #require(firstWriter, "\(demo.errors)")
        // Mid-run, once ten fills have reached Redis (about a tenth of a 40 s run): SIGKILL
        // the writer; the supervisor starts another, and records keep arriving through it.
        #expect(waitUntil(60) { xlen("fills") >= 10 || !demo.isRunning }, "ten fills did not reach Redis:\n\(demo.errors)")
        try #require(demo.isRunning, "the demo ended before the writer could be killed:\n\(demo.errors)")
        kill(writer, SIGKILL)
        let signalsAtKill = xlen("signals")
        var secondWriter: pid_t?
        #expect(waitUntil(30) {
            secondWriter = RunCommandTests.writerPid(instance: instance).flatMap { $0 != writer ? $0 : nil }
            return secondWriter != nil || !demo.isRunning
        }, "the writer was not restarted:\n\(demo.errors)")
        #expect(waitUntil(60) { xlen("signals") > signalsAtKill || !demo.isRunning }, "no signal reached Redis after the restart")
        // The demo usually ends flat (its exits close positions within a few bars), so what a
        // hash held while a position was open is shown too (a figure, not a condition).
        let prefix = "tickline:\(instance):position:"
        func units(_ key: String) -> Int { Int(Self.redisCLI(redis.port, ["HGET", key, "qty_units"])) ?? 0 }
        var openMidRun = "none seen"
        _ = waitUntil(30) {
            for key in Self.redisCLI(redis.port, ["KEYS", prefix + "*:*"]).split(separator: "\n").map(String.init) {
                let held = units(key)
                if held != 0 {
                    openMidRun = "\(key.dropFirst(prefix.count)) \(held)"
                    return true
                }
            }
            return !demo.isRunning
        }

        #expect(demo.wait(seconds: 180) == 0, "\(demo.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(demo.output.utf8)) as? [String: Any], "\(demo.output)")
        let sinks = try #require(json["sinks"] as? [String: [String: Any]], "\(demo.output)")
        #expect(sinks["redis"]?["where"] as? String == redis.url && sinks["redis"]?["origin"] as? String == "TICKLINE_REDIS_URL")
        #expect(sinks["influx"]?["where"] as? String == influx.url && sinks["influx"]?["origin"] as? String == "TICKLINE_INFLUX_URL")
        #expect(!demo.errors.contains("private"), "no private server when both are named: \(demo.errors)")
        #expect(Self.number(json["writer_restarts"]) == 1, "one restart: \(json["writer_restarts"] ?? "none")")
        func count(_ key: String) -> Int { Int(Self.number(json[key])) }
        #expect(count("signals") > 0 && count("orders") > 0 && count("fills") > 0, "\(demo.output)")

        // Redis streams and InfluxDB measurements: one entry per record the demo counted.
        let reports = ["accepted", "cancelled", "expired", "rejected"].reduce(0) { $0 + count("reports_\($1)") }
        let expected = [("signals", count("signals")), ("orders", count("orders") + count("cancel_requests")), ("fills", count("fills")),
                        ("reports", reports), ("risk", count("risk_events"))]
        var figures: [String] = []
        for (name, n) in expected {
            let length = xlen(name)
            let points = Self.influxCount(influx.port, name)
            figures.append("\(name) \(n)/\(length)/\(points)")
            #expect(length == n, "XLEN \(name) \(length), the demo's \(n)")
            #expect(points == n, "InfluxDB count(seq) \(name) \(points), the demo's \(n)")
        }
        // Executions only in …:fills.
        let fillEntries = Self.redisCLI(redis.port, ["XRANGE", "tickline:\(instance):fills", "-", "+"]).split(separator: "\n")
        var quantities: [Double] = []
        for (i, line) in fillEntries.enumerated() where line == "qty" && i + 1 < fillEntries.count {
            quantities.append(Double(fillEntries[i + 1]) ?? -1)
        }
        #expect(quantities.count == count("fills") && quantities.allSatisfy { $0 > 0 },
                "\(quantities.count) fill entries for \(count("fills")) fills; quantities \(quantities)")

        // Positions: every hash per instrument and strategy equals the demo's final position
        // (0 when it ended flat), every non-zero one has its hash, and the net hashes equal
        // the net per instrument.
        let positions = try #require(json["positions"] as? [[String: Any]], "\(demo.output)")
        let net = try #require(json["net_positions"] as? [[String: Any]], "\(demo.output)")
        var final: [String: Int] = [:]  // "instrument:strategy" → units
        for p in positions { final["\(Int(Self.number(p["instrument"]))):\(Int(Self.number(p["strategy"])))"] = Int(Self.number(p["qty_units"])) }
        let keys = Self.redisCLI(redis.port, ["KEYS", prefix + "*"]).split(separator: "\n").map(String.init)
        let strategyKeys = keys.filter { $0.dropFirst(prefix.count).contains(":") }
        #expect(!strategyKeys.isEmpty, "no position hash although the demo filled \(count("fills")) orders")
        var positionFigures: [String] = []
        for key in Set(strategyKeys).union(final.keys.map { prefix + $0 }).sorted() {
            let demoUnits = final[String(key.dropFirst(prefix.count))] ?? 0
            let stored = units(key)
            positionFigures.append("\(key.dropFirst(prefix.count)) \(demoUnits)/\(stored)")
            #expect(stored == demoUnits, "\(key): qty_units \(stored), the demo's \(demoUnits)")
        }
        #expect(net.count == 4, "one net position per instrument (--symbols 4 by default): \(net)")
        for p in net {
            let i = Int(Self.number(p["instrument"]))
            let demoUnits = Int(Self.number(p["qty_units"]))
            let stored = units(prefix + "\(i)")
            positionFigures.append("net \(i) \(demoUnits)/\(stored)")
            #expect(stored == demoUnits, "\(prefix)\(i): qty_units \(stored), the demo's net \(demoUnits)")
        }
        // The instruments hash: id → venue, symbol, decimals, one per instrument.
        #expect(Self.redisCLI(redis.port, ["HLEN", "tickline:\(instance):instruments"]) == "\(net.count)")
        for p in net {
            let i = Int(Self.number(p["instrument"]))
            let described = Self.redisCLI(redis.port, ["HGET", "tickline:\(instance):instruments", "\(i)"])
            #expect(described == #"{"venue":"synthetic","symbol":"\#(p["symbol"] as? String ?? "?")","price_decimals":2,"quantity_decimals":8}"#,
                    "instrument \(i): \(described)")
        }
        print("demo sinks figures: tickline demo --duration 40 --json, redis 127.0.0.1:\(redis.port), influxd 127.0.0.1:\(influx.port), "
              + "writer pid \(writer) SIGKILLed at XLEN signals \(signalsAtKill), restarted as pid \(secondWriter.map(String.init) ?? "-") "
              + "(writer_restarts \(count("writer_restarts"))); demo/XLEN/InfluxDB: \(figures.joined(separator: ", ")); "
              + "fills entries \(quantities.count), qty > 0: \(quantities.count { $0 > 0 }); "
              + "final positions (instrument:strategy, net instrument) demo/redis qty_units: \(positionFigures.joined(separator: ", ")); "
              + "a position hash mid-run: \(openMidRun)")
    }

    @Test(.enabled(if: serversInstalled || requireReferences, "redis-server, redis-cli and influxd are not installed (Tools/setup)"))
    func demoServersDieWhenTheDemoIsKilled() throws {
        let demo = ChildProcess(executable: Self.tickline, arguments: ["demo", "--json", "--rate", "1000"])
        #expect(demo.start())
        let folder = "/tmp/tickline-demo-\(demo.pid)"
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            unlink("/dev/shm/tickline-demo-\(demo.pid)")  // a killed demo cannot remove its region
        }
        var started: [pid_t] = []
        #expect(waitUntil(60) {
            started = Self.processes(under: folder)
            return (demo.errors.contains("private redis-server pid") && demo.errors.contains("private influxd pid")
                    && demo.errors.contains("writer: tickline-writer pid") && started.count >= 3) || !demo.isRunning
        }, "the demo did not start its servers and writer:\n\(demo.errors)")
        #expect(started.count >= 3, "\(started) under \(folder):\n\(demo.errors)")
        demo.signal(SIGKILL)
        #expect(demo.wait(seconds: 10) == 128 + SIGKILL)
        var left: [pid_t] = []
        #expect(waitUntil(30) {
            left = Self.processes(under: folder)
            return left.isEmpty
        }, "still running after kill -9 of the demo: \(left)")
    }

    /// Without redis-server and influxd (none on PATH) the demo journals into a
    /// line-protocol file in its folder and says why, on the screen and in `sinks`.
    @Test func demoWithoutServersFallsBackToAFileAndSaysSo() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/nonexistent"
        environment["TICKLINE_INFLUX_URL"] = nil
        environment["TICKLINE_REDIS_URL"] = nil
        let demo = ChildProcess(executable: Self.tickline, arguments: ["demo", "--duration", "3", "--json", "--rate", "3000"],
                                environment: environment)
        #expect(demo.start())
        #expect(demo.wait(seconds: 60) == 0, "\(demo.errors)")
        let folder = "/tmp/tickline-demo-\(demo.pid)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let json = try #require(try JSONSerialization.jsonObject(with: Data(demo.output.utf8)) as? [String: Any], "\(demo.output)")
        let sinks = try #require(json["sinks"] as? [String: [String: Any]], "\(demo.output)")
        let file = "\(folder)/demo-\(demo.pid).lp"
        #expect(sinks["influx"]?["kind"] as? String == "line_protocol_file" && sinks["influx"]?["where"] as? String == "file://\(file)")
        #expect((sinks["influx"]?["origin"] as? String)?.contains("influxd is not installed") == true, "\(sinks)")
        #expect(sinks["redis"]?["kind"] as? String == "off")
        // The breakers, as /api/snapshot shows them: a 3 s demo from the default capital trips nothing.
        let breakers = try #require(json["breakers"] as? [String: Any], "\(demo.output)")
        #expect(breakers["state"] as? String == "active" && json["kill_switch_engaged"] as? Bool == false, "\(breakers)")
        #expect(Self.number(breakers["day_start_equity"]) == 50_000 && (breakers["month"] as? String)?.count == 7, "\(breakers)")
        #expect((sinks["redis"]?["origin"] as? String)?.contains("redis-server is not installed") == true, "\(sinks)")
        let lines = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").count
        #expect(lines > 0 && Double(lines) == Self.number(sinks["influx"]?["written"]), "\(lines) lines in \(file); \(sinks)")
        #expect(demo.errors.contains("line protocol to \(file)") && demo.errors.contains("Redis     off (no Redis: redis-server is not installed"),
                "\(demo.errors)")
    }

    /// The demo's control plane answers as `tickline run`'s: a bad limit is refused (422)
    /// with the reason; a good one, a halt and a resume answer 200 with the value or state
    /// the risk stage applied, and the limit shows in the snapshot. Ctrl-C
    /// (SIGINT) then stops the demo and whatever servers it started.
    @Test func demoRefusesABadLimitWith422AndTheReason() throws {
        let demo = ChildProcess(executable: Self.tickline, arguments: ["demo", "--json"])
        #expect(demo.start())
        let folder = "/tmp/tickline-demo-\(demo.pid)"
        defer {
            demo.stop(seconds: 30)
            try? FileManager.default.removeItem(atPath: folder)
        }
        var port = 0
        var token = ""
        #expect(waitUntil(60) {
            let text = demo.errors
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("dashboard: http://127.0.0.1:") }),
                  let p = Self.port(after: "http://127.0.0.1:", in: String(line)), let t = line.range(of: "?token=") else { return !demo.isRunning }
            port = p
            token = String(line[t.upperBound...].prefix { !$0.isWhitespace })
            return true
        }, "no dashboard line:\n\(demo.errors)")
        let unknown = httpRequest(port: port, path: "/api/limits", method: "PUT", token: token, body: #"{"max_order_notionall": 2500}"#)
        #expect(unknown.0 == 422, "\(unknown)")
        #expect(unknown.1.contains("unknown limit max_order_notionall"), "\(unknown.1)")
        let negative = httpRequest(port: port, path: "/api/limits", method: "PUT", token: token, body: #"{"drawdown_pct": -1}"#)
        #expect(negative.0 == 422, "\(negative)")
        #expect(negative.1.contains("not a valid value for drawdown_pct"), "\(negative.1)")
        let subscribe = httpRequest(port: port, path: "/api/subscribe", method: "POST", token: token, body: #"{"symbols": ["BTCUSDT"]}"#)
        #expect(subscribe.0 == 422 && subscribe.1.contains("fixed set of symbols"), "\(subscribe)")
        // Good requests answer once the risk stage applied them, with what is now in force.
        let good = httpRequest(port: port, path: "/api/limits", method: "PUT", token: token, body: #"{"max_order_notional": 2500}"#)
        #expect(good.0 == 200, "\(good)")
        let applied = (try? JSONSerialization.jsonObject(with: Data(good.1.utf8))) as? [String: Any]
        #expect(Self.number((applied?["limits"] as? [String: Any])?["max_order_notional"]) == 2500, "\(good.1)")
        for (path, state) in [("halt", "halted"), ("resume", "active")] {
            let r = httpRequest(port: port, path: "/api/\(path)", method: "POST", token: token)
            let body = (try? JSONSerialization.jsonObject(with: Data(r.1.utf8))) as? [String: Any]
            #expect(r.0 == 200 && body?["state"] as? String == state && body?["outcome"] as? String == "applied", "\(path): \(r)")
        }
        var limits = ""
        #expect(waitUntil(20) {
            limits = httpRequest(port: port, path: "/api/limits", token: token).1
            let values = (try? JSONSerialization.jsonObject(with: Data(limits.utf8))) as? [String: Any]
            return Self.number(values?["max_order_notional"]) == 2500
        }, "the new limit did not reach the risk stage: \(limits)")
        // /metrics carries the writer's counts, as `tickline run`'s does.
        var metrics = ""
        #expect(waitUntil(20) {
            metrics = httpRequest(port: port, path: "/metrics", token: token).1
            return metrics.contains("tickline_writer_sink_written_total{")
        }, "no writer metrics in the demo's /metrics")
        if let check = promtoolCheck(metrics) { #expect(check.passed, "promtool on the demo's /metrics: \(check.output)") }
        demo.signal(SIGINT)
        #expect(demo.wait(seconds: 60) == 0, "Ctrl-C stops the demo cleanly: \(demo.errors)")
        #expect(Self.processes(under: folder).isEmpty, "left running after Ctrl-C: \(Self.processes(under: folder))")
        #expect(access("\(folder)/redis", F_OK) != 0 && access("\(folder)/influxdb", F_OK) != 0, "the servers' data is removed")
    }

    @Test(arguments: [
        (["demo", "--duration", "-5"], "--duration must be greater than 0 and at most 604800 (got -5)"),
        (["demo", "--symbols", "0"], "--symbols must be from 1 to 1000 (got 0)"),
        (["demo", "--rate", "0"], "--rate must be greater than 0 and at most 1000000 (got 0)"),
        (["demo", "--speed", "nan"], "--speed must be greater than 0"),
        (["record", "--config", "x.yaml", "--out", "x.rec", "--duration", "0"], "--duration must be greater than 0"),
        (["bench", "e2e", "--every", "0"], "--every must be from 1 to 1000000 (got 0)"),
        (["bench", "e2e", "--warmup", "-1"], "--warmup must be from 0 to 3600 (got -1)"),
        (["verify", "x.rec", "--price-decimals", "40"], "--price-decimals must be from 0 to 18 (got 40)"),
        (["replay", "x.rec", "--pace", "-1"], "--pace must be 0 (as fast as possible) or from 0.001 to 1000 (got -1)"),
    ])
    func refusesOutOfRangeNumbersNamingTheFlagAndTheRange(arguments: [String], message: String) {
        let p = ChildProcess(executable: Self.tickline, arguments: arguments)
        #expect(p.start())
        #expect(p.wait(seconds: 30) == 64, "\(arguments): \(p.errors)")
        #expect(p.errors.contains(message), "\(arguments): \(p.errors)")
    }

    /// `run` creates every folder it writes into, owner-only, and names the config key when
    /// it cannot.
    @Test func createsTheFoldersRunWritesOwnerOnlyOrNamesTheKey() throws {
        let root = NSTemporaryDirectory() + "tickline-folders-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var config = EngineConfig()
        config.instance = "folders"
        config.risk.journal = "\(root)/state/journal/{instance}.journal"
        config.writer.spillDirectory = "\(root)/state/spill"
        config.control.tokenFile = "\(root)/run/{instance}.token"
        try LiveEngine.createFolders(config)
        for folder in ["\(root)/state", "\(root)/state/journal", "\(root)/state/spill", "\(root)/run"] {
            var st = stat()
            #expect(stat(folder, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR && (st.st_mode & 0o777) == 0o700, "\(folder)")
        }
        try "".write(toFile: "\(root)/file", atomically: true, encoding: .utf8)
        config.risk.journal = "\(root)/file/journal/{instance}.journal"
        #expect {
            try LiveEngine.createFolders(config)
        } throws: { error in
            let text = (error as? EngineError)?.description ?? ""
            return text.contains("cannot create \(root)/file/journal") && text.contains("risk.journal")
        }
    }

    /// The README's way on a fresh machine: tickline-feed serves BTCUSDT on the address
    /// Config/laptop.yaml names, and `tickline run --config Config/laptop.yaml` (unchanged)
    /// creates the folders it writes, runs, and stops cleanly on SIGTERM.
    @Test func runsTheShippedLaptopConfigAndStopsOnSigterm() throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config/laptop.yaml").path
        // The config's fixed addresses and paths: another engine of instance "main" on this
        // host (or anything on its ports) makes this test meaningless, so it says so.
        try #require(access("/dev/shm/tickline-main", F_OK) != 0, "an engine of instance main runs on this host")
        for port in [9443, 8080] {
            let taken = httpRequest(port: port, path: "/healthz", maxTime: 1).0 != 0
            try #require(!taken, "127.0.0.1:\(port), which Config/laptop.yaml uses, is taken on this host")
        }
        try #require(getuid() == 0 || access("/var/lib/tickline", W_OK) == 0,
                     "Config/laptop.yaml writes under /var/lib/tickline: run as root or make it writable")
        let journalFolder = "/var/lib/tickline/journal"
        let journal = "\(journalFolder)/main.journal"
        // What this run adds under /var/lib/tickline (the journal, the writer's spill and
        // checkpoints while no Redis or InfluxDB answers on the default ports) goes after it;
        // what was there stays.
        let state = "/var/lib/tickline"
        let before = Set(FileManager.default.subpaths(atPath: state) ?? [])
        let hadState = access(state, F_OK) == 0
        defer {
            if !hadState {
                try? FileManager.default.removeItem(atPath: state)
            } else {
                for path in (FileManager.default.subpaths(atPath: state) ?? []).reversed() where !before.contains(path) {
                    try? FileManager.default.removeItem(atPath: "\(state)/\(path)")
                }
            }
        }

        let feed = ChildProcess(executable: RunCommandTests.bin.appendingPathComponent("tickline-feed").path,
                                arguments: ["--listen", "127.0.0.1:9443", "--synthetic", "1", "--symbol", "BTCUSDT", "--rate", "500"])
        #expect(feed.start())
        defer { feed.stop() }
        #expect(waitUntil(20) { feed.output.hasPrefix("listening ") || !feed.isRunning }, "tickline-feed: \(feed.errors)")

        let engine = ChildProcess(executable: Self.tickline, arguments: ["run", "--config", config])
        #expect(engine.start())
        defer { engine.stop(seconds: 30) }
        var token = ""
        var metrics = ""
        #expect(waitUntil(60) {
            token = (try? String(contentsOfFile: "/tmp/tickline-main.token", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            metrics = token.isEmpty ? "" : httpRequest(port: 8080, path: "/metrics", token: token).1
            return (RunCommandTests.metric(metrics, "tickline_feed_messages_total", label: "feed=\"binance\"") ?? 0) > 0 || !engine.isRunning
        }, "the engine received no message from tickline-feed:\n\(engine.errors)")
        #expect(engine.isRunning, "\(engine.errors)")
        #expect(RunCommandTests.metric(metrics, "tickline_feed_decode_errors_total", label: "feed=\"binance\"") == 0)
        var st = stat()
        #expect(stat(journalFolder, &st) == 0 && ((st.st_mode & 0o777) == 0o700 || before.contains("journal")),
                "the journal folder is created owner-only")
        #expect(access(journal, F_OK) == 0, "the journal is open at \(journal)")
        #expect(engine.stop(seconds: 60) == 0, "SIGTERM stops it cleanly:\n\(engine.errors)")
        #expect(engine.errors.contains("stopped: events "), "\(engine.errors)")
        #expect(access("/dev/shm/tickline-main", F_OK) != 0, "the region is removed")
        #expect(RunCommandTests.writerPid(instance: "main") == nil, "the writer stopped with the engine")
    }
}
