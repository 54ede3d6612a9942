#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineWriter
import TicklineTestSupport

/// tickline-writer against real servers (influxd 1.x, redis-server) started here on free
/// loopback ports, with a peer process playing the engine. Every count is exact; every
/// wait is bounded; no assertion depends on timing.
@Suite(.serialized, .enabled(if: TestSupport.runIntegration,
                             "influxd/redis-server/redis-cli/curl not installed (apt-get install influxdb influxdb-client redis-server curl); set TICKLINE_REQUIRE_REFERENCES=1 to fail instead"))
struct WriterIntegrationTests {
    /// Events per trading ring (market, signals, orders, fills, risk); bars and telemetry
    /// get a tenth of it.
    struct Expected {
        var perRing: Int
        var tenth: Int { (perRing + 9) / 10 }
    }

    /// One scenario's world: servers, temp folder, the engine peer and the writer.
    final class World {
        let name: String
        let directory: String
        let influx: InfluxServer
        let redis: RedisServer
        let instance: String
        let database: String
        var peer: ChildProcess?
        var writer: ChildProcess?
        var writerLogs: [String] = []
        var writerRuns = 0
        let startedWallNs = Int64(Date().timeIntervalSince1970 * 1e9)

        init(_ name: String) throws {
            self.name = name
            directory = TestSupport.tempDirectory(name)
            try FileManager.default.createDirectory(atPath: directory + "/influx", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: directory + "/redis", withIntermediateDirectories: true)
            influx = InfluxServer(directory: directory + "/influx")
            redis = RedisServer(directory: directory + "/redis")
            instance = "wt-\(name)-\(getpid())"
            database = "tickline_\(name)"
            try influx.start()
            try redis.start()
            let created = TestSupport.waitUntil(seconds: 30) {
                ((try? self.influx.query("CREATE DATABASE \(self.database)")) ?? "").contains("statement_id")
            }
            try #require(created, "CREATE DATABASE failed")
            let config = """
                instance: \(instance)
                writer:
                  influx:
                    url: http://127.0.0.1:1/write?db=overridden
                    timeout_ms: 30000
                    connect_timeout_ms: 1000
                  redis:
                    url: redis://127.0.0.1:1/0
                    timeout_ms: 10000
                  spill_dir: \(directory)/spill
                  backoff_initial_ms: 50
                  backoff_max_ms: 1000
                  on_region_gone: exit
                  metrics_interval_ms: 200
                """
            try config.write(toFile: directory + "/tickline.yaml", atomically: true, encoding: .utf8)
        }

        deinit {
            writer?.stop(seconds: 30)
            peer?.stop(seconds: 30)
            influx.stop()
            redis.stop()
            unlink("/dev/shm/tickline-\(instance)")
            for stale in (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [] where stale.hasPrefix("tickline-\(instance)") {
                unlink("/dev/shm/\(stale)")
            }
        }

        func startPeer(_ args: [String]) throws {
            peer = try ChildProcess(launching: TestSupport.peerPath, ["engine", "--instance", instance] + args,
                                    outputPath: directory + "/peer.out", errorPath: directory + "/peer.err")
            let ready = TestSupport.waitUntil(seconds: 30) { access("/dev/shm/tickline-\(self.instance)", F_OK) == 0 }
            try #require(ready, "the peer did not create its region")
        }

        /// Starts a writer (`writer`, its log `writerLogs.last`). With `underParent`, `writer`
        /// is a shell that started the writer with `--parent-pid` of itself, as a supervising
        /// engine does, and waits for it.
        func startWriter(underParent: Bool = false) throws {
            var env = ProcessInfo.processInfo.environment
            env["TICKLINE_INFLUX_URL"] = "http://127.0.0.1:\(influx.httpPort)/write?db=\(database)"
            env["TICKLINE_REDIS_URL"] = "redis://127.0.0.1:\(redis.port)/0"
            writerRuns += 1
            let log = directory + "/writer-\(writerRuns).log"
            writerLogs.append(log)
            let args = ["--instance", instance, "--config", directory + "/tickline.yaml"]
            if underParent {
                writer = try ChildProcess(launching: "/bin/sh", ["-c", "\"$0\" \"$@\" --parent-pid $$ & wait", TestSupport.writerPath] + args,
                                          environment: env, errorPath: log)
            } else {
                writer = try ChildProcess(launching: TestSupport.writerPath, args, environment: env, errorPath: log)
            }
        }

        func writerLog(_ run: Int) -> String { (try? String(contentsOfFile: writerLogs[run - 1], encoding: .utf8)) ?? "" }

        /// The peer's summary line (`produced=… refused=… dropped=…`), waiting at most `seconds`.
        func peerSummary(seconds: Double) -> [String: Int] {
            var text = ""
            _ = TestSupport.waitUntil(seconds: seconds) {
                text = (try? String(contentsOfFile: self.directory + "/peer.out", encoding: .utf8)) ?? ""
                return text.contains("\n") || !(self.peer?.isRunning ?? false)
            }
            var out: [String: Int] = [:]
            for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                let kv = pair.split(separator: "=")
                if kv.count == 2, let v = Int(kv[1]) { out[String(kv[0])] = v }
            }
            return out
        }

        func counts() throws -> [String: Int] {
            var out: [String: Int] = [:]
            let to = Int64(Date().timeIntervalSince1970 * 1e9) + 3_600_000_000_000
            for m in ["market", "signals", "orders", "fills", "risk", "bars", "telemetry"] {
                out["influx.\(m)"] = try influx.count(m, database: database, fromNs: startedWallNs - 60_000_000_000, toNs: to)
            }
            for s in ["signals", "orders", "fills", "risk"] {
                out["redis.\(s)"] = try redis.streamLength("tickline:\(instance):\(s)")
            }
            return out
        }

        func expectedCounts(_ e: Expected, bars: Bool = true) -> [String: Int] {
            var out: [String: Int] = [:]
            for m in ["market", "signals", "orders", "fills", "risk"] { out["influx.\(m)"] = e.perRing }
            out["influx.bars"] = bars ? e.tenth : 0
            out["influx.telemetry"] = e.tenth
            for s in ["signals", "orders", "fills", "risk"] { out["redis.\(s)"] = e.perRing }
            return out
        }

        /// Waits (bounded) until the stores hold `expected`; returns what they hold then.
        func waitForCounts(_ expected: [String: Int], seconds: Double) throws -> [String: Int] {
            var last: [String: Int] = [:]
            _ = TestSupport.waitUntil(seconds: seconds) {
                last = (try? self.counts()) ?? [:]
                return last == expected
            }
            return last
        }

        /// Stops the peer (the engine exits), then waits (bounded) for the writer to drain
        /// and exit by itself (`on_region_gone: exit`).
        func finish() -> Int32 {
            peer?.stop(seconds: 30)
            guard let w = writer else { return -1 }
            if w.wait(seconds: 120) == nil {
                Issue.record("the writer did not exit after the engine left")
                w.stop()
            }
            return w.exitStatus ?? -1
        }

        var writerLogText: String {
            writerLogs.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined(separator: "\n")
        }
    }

    @Test func writesExactlyNPointsAndNStreamEntries() throws {
        let w = try World("plain")
        let e = Expected(perRing: 5_000)
        try w.startPeer(["--count", "\(e.perRing)", "--rate", "5000"])
        try w.startWriter()
        let got = try w.waitForCounts(w.expectedCounts(e), seconds: 120)
        let summary = w.peerSummary(seconds: 60)
        #expect(got == w.expectedCounts(e))
        #expect(summary["produced"] == e.perRing && summary["refused"] == 0 && summary["dropped"] == 0)
        #expect(w.finish() == 0)
        #expect(try w.redis.hashField("tickline:\(w.instance):writer", "malformed") == "0")
        // The metrics the control plane serves: the writer's last snapshot, Prometheus text.
        let prom = try String(contentsOfFile: "\(w.directory)/spill/\(w.instance).writer.prom", encoding: .utf8)
        #expect(prom.contains("# TYPE tickline_writer_sink_written_total counter"))
        #expect(prom.contains("tickline_writer_ring_records_total{instance=\"\(w.instance)\",ring=\"journal.signals\"} \(e.perRing)"))
        #expect(prom.contains("tickline_writer_ring_malformed_total{instance=\"\(w.instance)\",ring=\"journal.market\"} 0"))
        if TestSupport.which("promtool") != nil || TestSupport.requireReferences {  // Debian's prometheus package
            let check = try TestSupport.run("/bin/sh", ["-c", "promtool check metrics < '\(w.directory)/spill/\(w.instance).writer.prom' 2>&1"])
            #expect(check.status == 0, "promtool check metrics: \(check.output)")
        }
        // Pairs of events share instrument and receive time: both points are kept.
        #expect(w.writerLogText.contains("stopping:"))
    }

    @Test func losesNothingWhenTheWriterIsKilledMidStreamAndRestarted() throws {
        let w = try World("sigkill")
        let e = Expected(perRing: 15_000)
        try w.startPeer(["--count", "\(e.perRing)", "--rate", "3000"])
        try w.startWriter()
        // Kill it once it has written some but not all (bounded wait on progress, not on time).
        let progressed = TestSupport.waitUntil(seconds: 60) {
            let n = (try? w.redis.streamLength("tickline:\(w.instance):signals")) ?? 0
            return n > 2_000
        }
        #expect(progressed)
        let before = try w.redis.streamLength("tickline:\(w.instance):signals")
        w.writer!.signal(SIGKILL)
        w.writer!.wait(seconds: 30)
        #expect(w.writer!.exitStatus == 128 + SIGKILL)
        usleep(500_000)
        try w.startWriter()
        let got = try w.waitForCounts(w.expectedCounts(e), seconds: 180)
        let summary = w.peerSummary(seconds: 60)
        #expect(before < e.perRing)
        #expect(got == w.expectedCounts(e))
        #expect(summary["produced"] == e.perRing && summary["refused"] == 0 && summary["dropped"] == 0)
        #expect(w.finish() == 0)
    }

    /// The journal rings have one consumer: a second writer of the instance waits (said in
    /// its log, with the first one's pid) and drains nothing until the first exits, then
    /// takes over; every record is written exactly once.
    @Test func aSecondWriterOfTheInstanceWaitsForTheFirstThenTakesOver() throws {
        let w = try World("twowriters")
        let e = Expected(perRing: 10_000)
        try w.startPeer(["--count", "\(e.perRing)", "--rate", "3000"])
        try w.startWriter()
        let first = w.writer!
        #expect(TestSupport.waitUntil(seconds: 60) { ((try? w.redis.streamLength("tickline:\(w.instance):signals")) ?? 0) > 1_000 })
        try w.startWriter()
        #expect(TestSupport.waitUntil(seconds: 30) { w.writerLog(2).contains("has a writer already (pid \(first.pid),") }, "\(w.writerLog(2))")
        usleep(500_000)
        #expect(!w.writerLog(2).contains("draining region"), "the second writer drained while the first ran: \(w.writerLog(2))")
        #expect(first.stop(seconds: 30) == 0)
        let got = try w.waitForCounts(w.expectedCounts(e), seconds: 180)
        let summary = w.peerSummary(seconds: 60)
        #expect(got == w.expectedCounts(e))
        #expect(summary["produced"] == e.perRing && summary["refused"] == 0 && summary["dropped"] == 0)
        #expect(w.writerLog(2).contains("draining region"))
        #expect(w.finish() == 0)
        #expect(access(WriterLock.path(instance: w.instance), F_OK) != 0, "the lock file is removed when the last writer exits")
    }

    /// A supervised writer whose engine is SIGKILLed (`--parent-pid`) writes what the rings
    /// hold and exits instead of lingering; the next writer writes the rest, nothing lost.
    @Test func aWriterWhoseParentDiesWritesAndExits() throws {
        let w = try World("orphan")
        let e = Expected(perRing: 15_000)
        try w.startPeer(["--count", "\(e.perRing)", "--rate", "3000"])
        try w.startWriter(underParent: true)
        let parent = w.writer!
        #expect(TestSupport.waitUntil(seconds: 60) { ((try? w.redis.streamLength("tickline:\(w.instance):signals")) ?? 0) > 1_000 })
        parent.signal(SIGKILL)
        parent.wait(seconds: 30)
        let exited = TestSupport.waitUntil(seconds: 60) {
            w.writerLog(1).contains("stopping:") && access(WriterLock.path(instance: w.instance), F_OK) != 0
        }
        #expect(exited, "the orphaned writer did not exit: \(w.writerLog(1))")
        #expect(w.writerLog(1).contains("parent pid \(parent.pid) is gone"), "\(w.writerLog(1))")
        try w.startWriter()
        let got = try w.waitForCounts(w.expectedCounts(e), seconds: 180)
        #expect(got == w.expectedCounts(e))
        #expect(w.writerLog(2).contains("draining region"))
        #expect(w.finish() == 0)
    }

    @Test func losesNothingWhenInfluxDBIsDownForTenSecondsMidStream() throws {
        let w = try World("influxdown")
        let e = Expected(perRing: 20_000)
        try w.startPeer(["--count", "\(e.perRing)", "--rate", "1000"])
        try w.startWriter()
        let progressed = TestSupport.waitUntil(seconds: 60) {
            ((try? w.influx.count("signals", database: w.database, fromNs: w.startedWallNs - 60_000_000_000, toNs: Int64.max / 2)) ?? 0) > 2_000
        }
        #expect(progressed)
        w.influx.stop()
        sleep(10)
        try w.influx.start()
        let got = try w.waitForCounts(w.expectedCounts(e), seconds: 180)
        let summary = w.peerSummary(seconds: 60)
        #expect(got == w.expectedCounts(e))
        #expect(summary["produced"] == e.perRing && summary["refused"] == 0 && summary["dropped"] == 0)
        #expect(w.finish() == 0)
        let log = w.writerLogText
        #expect(log.contains("influx: down"))
        #expect(log.contains("influx: spill replayed"))
    }

    @Test func losesNothingWhenRedisIsDownForTenSecondsMidStream() throws {
        let w = try World("redisdown")
        let e = Expected(perRing: 20_000)
        try w.startPeer(["--count", "\(e.perRing)", "--rate", "1000"])
        try w.startWriter()
        let progressed = TestSupport.waitUntil(seconds: 60) {
            ((try? w.redis.streamLength("tickline:\(w.instance):signals")) ?? 0) > 2_000
        }
        #expect(progressed)
        w.redis.stop()
        sleep(10)
        try w.redis.start()
        let got = try w.waitForCounts(w.expectedCounts(e), seconds: 180)
        let summary = w.peerSummary(seconds: 60)
        #expect(got == w.expectedCounts(e))
        #expect(summary["produced"] == e.perRing && summary["refused"] == 0 && summary["dropped"] == 0)
        #expect(w.finish() == 0)
        let log = w.writerLogText
        #expect(log.contains("redis: down"))
        #expect(log.contains("redis: spill replayed"))
    }

    @Test func countsMalformedRecordsAndAnOversizedSlotRingWithoutCrashing() throws {
        let w = try World("malformed")
        let e = Expected(perRing: 2_000)
        try w.startPeer(["--count", "\(e.perRing)", "--malformed", "5", "--bad-slot"])
        try w.startWriter()
        let expected = w.expectedCounts(e, bars: false)
        let got = try w.waitForCounts(expected, seconds: 120)
        #expect(got == expected)
        let metricsReady = TestSupport.waitUntil(seconds: 30) {
            (try? w.redis.hashField("tickline:\(w.instance):writer", "malformed")) == "15"
        }
        #expect(metricsReady)
        #expect(try w.redis.hashField("tickline:\(w.instance):writer", "ring_errors") == "1")
        #expect(w.finish() == 0)
        let log = w.writerLogText
        #expect(log.contains("ring 'journal.bars' has 256-byte slots"))
        #expect(log.contains("malformed (unknown enum value)"))
        #expect(log.contains("malformed (decimals above 18)"))
        #expect(log.contains("malformed (implausible timestamp)"))
    }

    @Test func refusesARegionOfAnotherLayoutVersionWithAClearError() throws {
        let w = try World("version")
        try w.startPeer(["--wrong-version"])
        try w.startWriter()
        #expect(w.writer!.wait(seconds: 60) == 2)
        #expect(w.writerLogText.contains("layout version 999"))
    }
}
