#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineEngine
import TicklineTestSupport
import Testing

/// Shared helpers: child processes with bounded waits, free ports, temp folders, and the
/// real servers (redis-server, influxd) the integration tests start on loopback.
enum TestSupport {
    /// Folder of the test binary: the writer and the peer are built beside it.
    static let buildDirectory: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }()
    static var writerPath: String { buildDirectory.appendingPathComponent("tickline-writer").path }
    static var peerPath: String { buildDirectory.appendingPathComponent("tickline-writer-peer").path }
    static let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let requireReferences = ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1"

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    static let serversPresent = which("influxd") != nil && which("redis-server") != nil && which("redis-cli") != nil && which("curl") != nil
    static let pythonPresent = which("python3") != nil
    /// Integration tests run when the servers are installed, or must run (and fail) when
    /// TICKLINE_REQUIRE_REFERENCES=1.
    static let runIntegration = serversPresent || requireReferences
    static let runFixture = pythonPresent || requireReferences

    static func tempDirectory(_ tag: String) -> String {
        let path = NSTemporaryDirectory() + "tickline-writer-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A loopback TCP port nobody listens on right now.
    static func freePort() -> Int { freeLoopbackPort() }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Polls `condition` every 50 ms for at most `seconds`; true as soon as it holds.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        TicklineTestSupport.waitUntil(seconds, pollUs: 50_000, condition)
    }

    /// Runs a command to completion (bounded) and returns its stdout; a command that outlives
    /// `seconds` is killed and recorded as an issue.
    @discardableResult
    static func run(_ path: String, _ args: [String], seconds: Double = 60) throws -> (status: Int32, output: String) {
        let r = runCommand(path, args, seconds: seconds)
        if r.status == -1 { Issue.record("\(path) \(args) did not start or finish in \(seconds) s") }
        return r
    }
}

/// A real `influxd` (1.x) on free loopback ports with its data in a temp folder, configured
/// as the demo's private one (`PrivateServer.influxConfig`); its data survives a restart.
final class InfluxServer {
    let directory: String
    let httpPort: Int
    let rpcPort: Int
    var process: ChildProcess?

    init(directory: String) {
        self.directory = directory
        httpPort = TestSupport.freePort()
        rpcPort = TestSupport.freePort()
        let config = PrivateServer.influxConfig(directory: directory, httpPort: httpPort, rpcPort: rpcPort)
        try? config.write(toFile: "\(directory)/influxd.conf", atomically: true, encoding: .utf8)
    }

    func start() throws {
        process = try ChildProcess(launching: TestSupport.which("influxd") ?? "/usr/bin/influxd",
                                   ["run", "-config", "\(directory)/influxd.conf", "-pidfile", "\(directory)/influxd.pid"],
                                   errorPath: "\(directory)/influxd.log")
        let ready = TestSupport.waitUntil(seconds: 30) { (try? self.ping()) == true }
        try #require(ready, "influxd did not answer /ping on port \(httpPort) within 30 s")
    }

    func ping() throws -> Bool {
        let r = try TestSupport.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(httpPort)/ping"], seconds: 10)
        return r.output == "204"
    }

    func stop() {
        process?.stop(seconds: 30)
        process = nil
    }

    /// Runs an InfluxQL statement; returns the JSON text.
    @discardableResult
    func query(_ q: String, database: String? = nil) throws -> String {
        var args = ["-s", "-XPOST", "http://127.0.0.1:\(httpPort)/query", "--data-urlencode", "q=\(q)"]
        if let database { args += ["--data-urlencode", "db=\(database)"] }
        return try TestSupport.run("/usr/bin/curl", args, seconds: 60).output
    }

    /// Points in `measurement` (counted on its `seq` field) within [from, to] ns.
    func count(_ measurement: String, database: String, fromNs: Int64, toNs: Int64) throws -> Int {
        let text = try query("SELECT count(seq) FROM \(measurement) WHERE time >= \(fromNs) AND time <= \(toNs)", database: database)
        guard let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let results = json["results"] as? [[String: Any]], let first = results.first else { return -1 }
        guard let series = first["series"] as? [[String: Any]], let values = series.first?["values"] as? [[Any]],
              let n = values.first?[1] as? Int else { return 0 }
        return n
    }
}

/// A real `redis-server` on a free loopback port, persisting to an append-only file in a
/// temp folder (so a restart keeps what was written).
final class RedisServer {
    let directory: String
    let port: Int
    var process: ChildProcess?

    init(directory: String) {
        self.directory = directory
        port = TestSupport.freePort()
    }

    func start() throws {
        process = try ChildProcess(launching: TestSupport.which("redis-server") ?? "/usr/bin/redis-server",
                                   ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                                    "--appendfsync", "everysec", "--dir", directory, "--daemonize", "no"],
                                   outputPath: "\(directory)/redis.log")
        let ready = TestSupport.waitUntil(seconds: 30) { (try? self.cli(["PING"])) == "PONG" }
        try #require(ready, "redis-server did not answer PING on port \(port) within 30 s")
    }

    func stop() {
        process?.stop(seconds: 30)
        process = nil
    }

    /// Runs one command through redis-cli; returns its trimmed output.
    func cli(_ args: [String]) throws -> String {
        let r = try TestSupport.run(TestSupport.which("redis-cli") ?? "/usr/bin/redis-cli", ["-p", "\(port)"] + args, seconds: 30)
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func streamLength(_ key: String) throws -> Int { Int(try cli(["XLEN", key])) ?? -1 }

    func hashField(_ key: String, _ field: String) throws -> String { try cli(["HGET", key, field]) }
}

struct WriterTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
