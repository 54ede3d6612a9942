#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineConfig
import TicklineEngine

/// The demo's journal writer and the sinks it drains into: a real `tickline-writer`
/// process attached to the demo's region. InfluxDB and Redis are the servers `--influx` /
/// `--redis` or `TICKLINE_INFLUX_URL` / `TICKLINE_REDIS_URL` name, else private
/// `influxd` and `redis-server` the demo starts on free loopback ports (data under its
/// folder, gone with it), else a line-protocol file and no Redis, said on the screen. The
/// writer's output goes to `writer.log` in the demo's folder, never onto the live view.
/// Owned by the demo's main thread (the private servers die with that thread).
final class DemoWriter {
    /// One of the writer's two sinks, as the screen and `--json` name it.
    struct Sink {
        /// The writer's name for it (`influx`, `redis`), as in its metrics.
        let name: String
        /// What receives the records: `influxdb`, `line_protocol_file`, `redis`, or `off`.
        let kind: String
        /// The URL or file path ("" when off).
        let location: String
        /// How it was chosen: `--influx`, `TICKLINE_REDIS_URL`, `private <server> (data in DIR)`, or why it is a file / off.
        let origin: String
        /// What the writer's written count counts there.
        var unit: String { name == "redis" ? "commands" : kind == "line_protocol_file" ? "lines" : "points" }
    }

    let supervisor: WriterSupervisor?
    let servers: [PrivateServer]
    let influx: Sink
    let redis: Sink
    let logPath: String
    let metricsPath: String
    let instance: String

    /// Chooses the sinks, starts private servers where none is named, then the writer.
    /// Never throws: a server that cannot start leaves its sink to the fallback, with the
    /// reason in the sink's `origin`; a writer that cannot start leaves the journal to be
    /// drained in process, with the reason in `problem`.
    /// - Parameters:
    ///   - instruments: the demo's instruments in id order, for the writer's
    ///     `tickline:<instance>:instruments` hash.
    ///   - venue: the name of the demo's feed (`synthetic`, `binance`), the instruments' venue there.
    init(instance: String, directory: String, influxURL: String?, redisURL: String?, instruments: [RiskConfig.Instrument], venue: String) {
        self.instance = instance
        logPath = "\(directory)/writer.log"
        metricsPath = "\(directory)/\(instance).writer.prom"
        var servers: [PrivateServer] = []
        let environment = ProcessInfo.processInfo.environment
        func named(_ flag: String?, _ flagName: String, _ variable: String) -> (String, String)? {
            if let flag, !flag.isEmpty { return (flag, flagName) }
            if let v = environment[variable], !v.isEmpty { return (v, variable) }
            return nil
        }
        // Private servers for the sinks nobody named, started together (influxd takes a
        // moment); a server that cannot start leaves its sink to the fallback.
        func start(_ kind: PrivateServer.Kind, _ folder: String) -> Result<PrivateServer, PrivateServerError> {
            do throws(PrivateServerError) { return .success(try PrivateServer(kind: kind, directory: "\(directory)/\(folder)")) } catch {
                return .failure(error)
            }
        }
        let namedInflux = named(influxURL, "--influx", "TICKLINE_INFLUX_URL")
        let namedRedis = named(redisURL, "--redis", "TICKLINE_REDIS_URL")
        var privateInflux = namedInflux == nil ? start(.influxdb, "influxdb") : nil
        var privateRedis = namedRedis == nil ? start(.redis, "redis") : nil
        if case .success(let s)? = privateInflux {
            do throws(PrivateServerError) { try s.waitUntilReady() } catch { privateInflux = .failure(error) }
        }
        if case .success(let s)? = privateRedis {
            do throws(PrivateServerError) { try s.waitUntilReady() } catch { privateRedis = .failure(error) }
        }
        if let (url, origin) = namedInflux {
            influx = Sink(name: "influx", kind: url.hasPrefix("file://") ? "line_protocol_file" : "influxdb", location: url, origin: origin)
        } else if case .success(let server)? = privateInflux {
            servers.append(server)
            influx = Sink(name: "influx", kind: "influxdb", location: server.url,
                          origin: "private influxd pid \(server.pid ?? 0), data in \(server.directory)")
        } else {
            let why = if case .failure(let e)? = privateInflux { e.description } else { "" }
            influx = Sink(name: "influx", kind: "line_protocol_file", location: "file://\(directory)/\(instance).lp", origin: "no InfluxDB: \(why)")
        }
        if let (url, origin) = namedRedis {
            redis = Sink(name: "redis", kind: "redis", location: url, origin: origin)
        } else if case .success(let server)? = privateRedis {
            servers.append(server)
            redis = Sink(name: "redis", kind: "redis", location: server.url,
                         origin: "private redis-server pid \(server.pid ?? 0), data in \(server.directory)")
        } else {
            let why = if case .failure(let e)? = privateRedis { e.description } else { "" }
            redis = Sink(name: "redis", kind: "off", location: "", origin: "no Redis: \(why)")
        }
        self.servers = servers
        // The writer reads its sinks from this file only: the environment the demo was
        // given must not override what the screen names.
        unsetenv("TICKLINE_INFLUX_URL")
        unsetenv("TICKLINE_REDIS_URL")
        // The instruments (ids in this order) and the feed that lists them: the writer reads
        // them for the instruments hash only (it connects to no feed and checks no risk).
        let yaml = """
            instance: \(instance)
            \(Self.instrumentsYAML(instruments, venue: venue))
            writer:
              influx:
                url: "\(influx.location)"
              redis:
                enabled: \(redis.kind != "off")
                url: "\(redis.kind == "off" ? "redis://127.0.0.1:6379/0" : redis.location)"
              spill_dir: \(directory)
              on_region_gone: exit
              attach_timeout_ms: 10000
              restart_delay_ms: 200
            """
        let configPath = "\(directory)/writer.yaml"
        var supervisor: WriterSupervisor?
        var problem = ""
        do {
            try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
            let config = try EngineConfig.load(path: configPath).writer
            let s = WriterSupervisor(instance: instance, configPath: configPath, config: config, logPath: logPath)
            try s.start()
            supervisor = s
        } catch let error as SupervisorError {
            problem = "\(error.description) (build it: swift build -c release --product tickline-writer)"
        } catch let error as ConfigError {
            problem = error.description
        } catch {
            problem = "cannot write \(configPath): \(error.localizedDescription)"
        }
        self.supervisor = supervisor
        self.problem = problem
        if supervisor == nil { for s in servers { s.stop() } }
    }

    /// `venues:` (the one venue, named `venue`), `feeds:` (one entry, `venue`, listing the
    /// symbols) and `risk: instruments:` on it, with
    /// every key of each instrument as exact decimal text, at the indentation of the
    /// writer's config text.
    static func instrumentsYAML(_ instruments: [RiskConfig.Instrument], venue: String) -> String {
        func text(_ units: Int64, _ decimals: UInt8) -> String { "\"\(LiveEngine.decimalText(units, decimals: decimals))\"" }
        let symbols = instruments.map { "\"\($0.symbol)\"" }.joined(separator: ", ")
        var out = "venues:\n  - { name: \"\(venue)\" }\nfeeds:\n  - { name: \"\(venue)\", symbols: [\(symbols)] }\nrisk:\n  instruments:"
        for i in instruments {
            let s = i.spec
            out += "\n    - { symbol: \"\(i.symbol)\", price_decimals: \(s.priceDecimals), quantity_decimals: \(s.quantityDecimals), "
            out += "tick: \(text(s.tickSizeUnits, s.priceDecimals)), step: \(text(s.stepSizeUnits, s.quantityDecimals)), "
            out += "min_qty: \(text(s.venueMinQuantityUnits, s.quantityDecimals)), "
            if s.venueMaxQuantityUnits != Int64.max { out += "max_qty: \(text(s.venueMaxQuantityUnits, s.quantityDecimals)), " }
            out += "min_notional: \(text(s.venueMinNotionalMoney, 8)), max_order_qty: \(text(s.maxOrderQuantityUnits, s.quantityDecimals)), "
            out += "position_limit: \(text(s.positionLimitUnits, s.quantityDecimals)) }"
        }
        return out
    }

    /// Why no writer runs ("" when one does).
    let problem: String

    /// The screen's lines: the writer and its log, then each sink with what it received.
    func lines() -> [String] {
        guard let supervisor else { return ["writer: \(problem); journal drained in process"] }
        let written = self.written()
        var out = ["writer: tickline-writer pid \(supervisor.pid.map(String.init) ?? "-") (restarts \(supervisor.restarts)), log \(logPath)"]
        for (sink, label) in [(influx, "InfluxDB"), (redis, "Redis")] {
            if sink.kind == "off" {
                out.append("  \(label.padding(toLength: 9, withPad: " ", startingAt: 0)) off (\(sink.origin))")
                continue
            }
            let shown = sink.kind == "line_protocol_file" ? "line protocol to \(sink.location.dropFirst(7))" : sink.location
            let streams = sink.name == "redis" ? " streams tickline:\(instance):*" : ""
            out.append("  \(label.padding(toLength: 9, withPad: " ", startingAt: 0)) \(shown)\(streams)  \(written[sink.name] ?? 0) \(sink.unit) written  (\(sink.origin))")
        }
        return out
    }

    /// Per sink (`influx`, `redis`): what the writer stored there, from its metrics file
    /// (`tickline_writer_sink_written_total`; points, lines or commands).
    func written() -> [String: UInt64] {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return [:] }
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("tickline_writer_sink_written_total{") {
            for name in ["influx", "redis"] where line.contains("sink=\"\(name)\"") {
                out[name] = line.split(separator: " ").last.flatMap { Double($0) }.map { UInt64($0) }
            }
        }
        return out
    }

    /// `--json`'s `sinks`: per sink, where and how many it received.
    func json() -> [String: Any] {
        let written = self.written()
        var out: [String: Any] = [:]
        for sink in [influx, redis] {
            out[sink.name] = ["kind": sink.kind, "where": sink.location, "origin": sink.origin, "unit": sink.unit,
                              "written": supervisor == nil ? 0 : written[sink.name] ?? 0]
        }
        return out
    }

    /// Removes what demos that were killed left behind (SIGKILL leaves no time to clean up;
    /// their servers and writer died with them): the servers' data,
    /// `/tmp/tickline-demo-<pid>/{redis,influxdb}`, and the shared-memory region
    /// `/dev/shm/tickline-demo-<pid>`, of every pid that no longer runs. The demo's journal
    /// is a show, not a record to recover.
    static func removeDataOfDeadDemos() {
        func deadDemo(_ name: String) -> Bool {
            guard name.hasPrefix("tickline-demo-") else { return false }
            let digits = name.dropFirst("tickline-demo-".count).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid != getpid() else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [] where deadDemo(e) {
            for server in ["redis", "influxdb"] { try? FileManager.default.removeItem(atPath: "/tmp/\(e)/\(server)") }
        }
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [] where deadDemo(e) {
            unlink("/dev/shm/\(e)")
        }
    }

    /// Stops the writer (it drains what the journal rings hold and publishes its metrics),
    /// then the private servers, which removes their data. Returns how the writer ended.
    @discardableResult
    func stop() -> String {
        let ended = supervisor?.stop(timeoutMs: 10_000) ?? ""
        for s in servers { s.stop() }
        return ended
    }
}
