#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineConfig
@testable import TicklineWriter

/// The InfluxDB client against a scripted local HTTP fixture
/// (`Fixtures/influx_fixture.py`): request shapes of both APIs and each response code.
@Suite(.serialized, .enabled(if: TestSupport.runFixture, "python3 not found: the HTTP fixture cannot run (set TICKLINE_REQUIRE_REFERENCES=1 to fail instead)"))
struct InfluxResponseTests {
    /// A running fixture: its port and the requests it logged.
    final class Fixture {
        let process: Process
        let port: Int
        let logPath: String

        init(responses: [[String: Any]]) throws {
            let dir = TestSupport.tempDirectory("fixture")
            let scriptPath = dir + "/script.json"
            logPath = dir + "/requests.jsonl"
            try JSONSerialization.data(withJSONObject: responses).write(to: URL(fileURLWithPath: scriptPath))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestSupport.which("python3") ?? "/usr/bin/python3")
            p.arguments = [TestSupport.fixturesDirectory.appendingPathComponent("influx_fixture.py").path, scriptPath, logPath]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            process = p
            // First line: "PORT n" (bounded: the fixture is killed if it never prints).
            var line = Data()
            let handle = out.fileHandleForReading
            let started = Date()
            while !line.contains(10) && Date().timeIntervalSince(started) < 30 {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5).prefix { $0.isNumber }) else {
                kill(p.processIdentifier, SIGKILL)
                throw WriterError.curl("fixture did not start: \(text)")
            }
            self.port = port
        }

        deinit {
            // A test fixture holds nothing worth a graceful stop.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        var requests: [[String: Any]] {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    func client(_ fixture: Fixture, path: String, username: String = "", password: String = "", token: String = "",
                gzip: Bool = false) throws -> InfluxClient {
        try InfluxClient(config: WriterConfig.Influx(url: "http://127.0.0.1:\(fixture.port)\(path)", username: username,
                                                     password: password, token: token, gzip: gzip, timeoutMs: 10_000),
                         maxBodyBytes: 1 << 20)
    }

    func write(_ c: InfluxClient, _ lines: [String]) -> InfluxOutcome {
        let body = Array(lines.map { $0 + "\n" }.joined().utf8)
        return body.withUnsafeBytes { c.write($0, lines: lines.count) }
    }

    let lines = ["m,t=a v=1i 1", "m,t=a v=2i 2", "m,t=a v=3i 3", "m,t=a v=4i 4"]

    @Test func sendsTheOneXRequestWithDatabasePrecisionAndCredentials() throws {
        let f = try Fixture(responses: [])
        let c = try client(f, path: "/write?db=tick&rp=week", username: "u1", password: "p w")
        #expect(write(c, lines) == .written(dropped: 0))
        #expect(write(c, lines) == .written(dropped: 0))
        let r = f.requests
        try #require(r.count == 2)
        #expect(r[0]["path"] as? String == "/write")
        #expect(r[0]["query"] as? [String: String] == ["db": "tick", "rp": "week", "precision": "ns", "u": "u1", "p": "p w"])
        #expect((r[0]["lines"] as? [String]) == lines)
        #expect((r[0]["headers"] as? [String: String])?["content-type"] == "text/plain; charset=utf-8")
        // Keep-alive: both requests came over one connection.
        #expect(r[0]["client_port"] as? Int == r[1]["client_port"] as? Int)
        #expect(!c.displayURL.contains("p%20w"))
    }

    @Test func sendsTheTwoXRequestWithOrgBucketTokenAndGzip() throws {
        let f = try Fixture(responses: [])
        let c = try client(f, path: "/api/v2/write?org=acme&bucket=ticks", token: "tok123", gzip: true)
        #expect(write(c, lines) == .written(dropped: 0))
        let r = try #require(f.requests.first)
        #expect(r["path"] as? String == "/api/v2/write")
        #expect(r["query"] as? [String: String] == ["org": "acme", "bucket": "ticks", "precision": "ns"])
        let h = try #require(r["headers"] as? [String: String])
        #expect(h["authorization"] == "Token tok123")
        #expect(h["accept"] == "application/json")
        #expect(h["content-encoding"] == "gzip")
        #expect(r["gzip"] as? Bool == true)
        #expect((r["lines"] as? [String]) == lines)
    }

    @Test func halvesAndResendsABatchAfterA413() throws {
        let f = try Fixture(responses: [["status": 413, "body": "{\"error\":\"Request Entity Too Large\"}"]])
        let c = try client(f, path: "/write?db=x")
        #expect(write(c, lines) == .written(dropped: 0))
        let sent = f.requests.map { ($0["lines"] as? [String]) ?? [] }
        #expect(sent == [lines, Array(lines[0..<2]), Array(lines[2..<4])])
        #expect(c.batchLines == 2)
        #expect(c.splits == 1)
    }

    @Test func quarantinesASingleLineStillTooLarge() throws {
        let f = try Fixture(responses: [["status": 413]])
        let c = try client(f, path: "/write?db=x")
        guard case .rejected(413, _) = write(c, [lines[0]]) else { Issue.record("a lone 413 line was not rejected"); return }
    }

    @Test func honoursRetryAfterOn429And503() throws {
        let f = try Fixture(responses: [["status": 429, "headers": ["Retry-After": "7"]], ["status": 503, "headers": ["Retry-After": "2"]], ["status": 503]])
        let c = try client(f, path: "/write?db=x")
        guard case .retryLater(let a, _) = write(c, lines) else { Issue.record("429 not retried later"); return }
        #expect(a == 7_000)
        guard case .retryLater(let b, _) = write(c, lines) else { Issue.record("503 not retried later"); return }
        #expect(b == 2_000)
        guard case .retryLater(let none, _) = write(c, lines) else { Issue.record("503 not retried later"); return }
        #expect(none == nil)
        #expect(f.requests.count == 3)  // one request each: the client never loops on its own
    }

    @Test func countsDroppedLinesOfAPartialWriteAndDoesNotResend() throws {
        let body = #"{"error":"partial write: field type conflict: input field \"v\" on measurement \"m\" is type float, already exists as type integer dropped=1"}"#
        let f = try Fixture(responses: [["status": 400, "body": body], ["status": 400, "body": "{\"error\":\"unable to parse 'garbage'\"}"]])
        let c = try client(f, path: "/write?db=x")
        #expect(write(c, lines) == .written(dropped: 1))
        guard case .rejected(400, let why) = write(c, lines) else { Issue.record("a whole-batch 400 was not rejected"); return }
        #expect(why.contains("unable to parse"))
        #expect(f.requests.count == 2)
    }

    @Test func treatsAuthAndMissingDatabaseAsConfigurationErrors() throws {
        let f = try Fixture(responses: [["status": 401], ["status": 403], ["status": 404, "body": "{\"error\":\"database not found: \\\"x\\\"\"}"],
                                        ["status": 500, "body": "{\"error\":\"retention policy not found: week\"}"], ["status": 500], ["status": 502]])
        let c = try client(f, path: "/write?db=x")
        for code in [401, 403, 404, 500] {
            guard case .configError(let got, _) = write(c, lines) else { Issue.record("\(code) not a config error"); continue }
            #expect(got == code)
        }
        guard case .serverError(500, _) = write(c, lines) else { Issue.record("500 not a server error"); return }
        guard case .serverError(502, _) = write(c, lines) else { Issue.record("502 not a server error"); return }
    }

    @Test func spillsOnRetryAfterAndReplaysOnlyWhenItHasPassed() throws {
        let f = try Fixture(responses: [["status": 429, "headers": ["Retry-After": "3"]]])
        let c = try client(f, path: "/write?db=x")
        let dir = TestSupport.tempDirectory("sink")
        let spill = try SpillFile(path: dir + "/influx.spill", maxBytes: 1 << 20, maxChunkBytes: 1 << 16)
        let sink = SinkChannel(name: "influx", transport: c, spill: spill, directory: dir, backoffInitialMs: 100,
                               backoffMaxMs: 1_000, configRetryMs: 60_000, serverErrorRetries: 3)
        let body = Array(lines.map { $0 + "\n" }.joined().utf8)
        let now: Int64 = 1_000_000_000_000
        #expect(body.withUnsafeBytes { sink.submit($0, count: 4, nowNs: now) } == .spilled)
        #expect(sink.metrics.health == .down && spill.chunks == 1)
        // Later batches keep their order behind the spilled one.
        #expect(body.withUnsafeBytes { sink.submit($0, count: 4, nowNs: now + 1) } == .spilled)
        #expect(sink.replay(nowNs: now + 2_999_000_000, budget: 10) == 0)
        #expect(f.requests.count == 1)
        #expect(sink.replay(nowNs: now + 3_000_000_000, budget: 10) == 2)
        #expect(sink.metrics.health == .ok && spill.isEmpty && sink.metrics.written == 8)
    }
}
