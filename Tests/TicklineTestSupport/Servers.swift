#if canImport(Glibc)
import Glibc
#endif
import Foundation

// The real servers the integration tests start on free loopback ports (never the default
// ones), with their data in a folder of the test's.

/// The path of `name` in PATH, nil when it is not installed.
public func executableOnPath(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if access(p, X_OK) == 0 { return p }
    }
    return nil
}

/// `runCommand` that throws when the command did not start or finish in `seconds`.
func runBounded(_ path: String, _ args: [String], seconds: Double) throws -> (status: Int32, output: String) {
    let r = runCommand(path, args, seconds: seconds)
    if r.status == -1 { throw ChildProcessError(description: "\(path) \(args) did not start or finish in \(seconds) s") }
    return r
}

/// A real `influxd` (1.x) on free loopback ports with its data in a temp folder.
public final class InfluxServer {
    public let directory: String
    public let httpPort: Int
    let rpcPort: Int
    var process: ChildProcess?

    public init(directory: String) {
        self.directory = directory
        httpPort = freeLoopbackPort()
        rpcPort = freeLoopbackPort()
        let config = """
            reporting-enabled = false
            bind-address = "127.0.0.1:\(rpcPort)"
            [meta]
              dir = "\(directory)/meta"
            [data]
              dir = "\(directory)/data"
              wal-dir = "\(directory)/wal"
            [http]
              bind-address = "127.0.0.1:\(httpPort)"
              log-enabled = false
            [monitor]
              store-enabled = false
            """
        try? config.write(toFile: "\(directory)/influxd.conf", atomically: true, encoding: .utf8)
    }

    public func start() throws {
        process = try ChildProcess(launching: executableOnPath("influxd") ?? "/usr/bin/influxd",
                                   ["run", "-config", "\(directory)/influxd.conf", "-pidfile", "\(directory)/influxd.pid"],
                                   errorPath: "\(directory)/influxd.log")
        let ready = waitUntil(30, pollUs: 50_000) { (try? self.ping()) == true }
        guard ready else { throw ChildProcessError(description: "influxd did not answer /ping on port \(httpPort) within 30 s") }
    }

    public func ping() throws -> Bool {
        let r = try runBounded("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(httpPort)/ping"], seconds: 10)
        return r.output == "204"
    }

    public func stop() {
        process?.stop(seconds: 30)
        process = nil
    }

    /// Runs an InfluxQL statement; returns the JSON text.
    @discardableResult
    public func query(_ q: String, database: String? = nil) throws -> String {
        var args = ["-s", "-XPOST", "http://127.0.0.1:\(httpPort)/query", "--data-urlencode", "q=\(q)"]
        if let database { args += ["--data-urlencode", "db=\(database)"] }
        return try runBounded("/usr/bin/curl", args, seconds: 60).output
    }

    /// Points in `measurement` (counted on its `seq` field) within [from, to] ns.
    public func count(_ measurement: String, database: String, fromNs: Int64, toNs: Int64) throws -> Int {
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
public final class RedisServer {
    public let directory: String
    public let port: Int
    var process: ChildProcess?

    public init(directory: String) {
        self.directory = directory
        port = freeLoopbackPort()
    }

    public func start() throws {
        process = try ChildProcess(launching: executableOnPath("redis-server") ?? "/usr/bin/redis-server",
                                   ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                                    "--appendfsync", "everysec", "--dir", directory, "--daemonize", "no"],
                                   outputPath: "\(directory)/redis.log")
        let ready = waitUntil(30, pollUs: 50_000) { (try? self.cli(["PING"])) == "PONG" }
        guard ready else { throw ChildProcessError(description: "redis-server did not answer PING on port \(port) within 30 s") }
    }

    public func stop() {
        process?.stop(seconds: 30)
        process = nil
    }

    /// Runs one command through redis-cli; returns its trimmed output.
    public func cli(_ args: [String]) throws -> String {
        let r = try runBounded(executableOnPath("redis-cli") ?? "/usr/bin/redis-cli", ["-p", "\(port)"] + args, seconds: 30)
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func streamLength(_ key: String) throws -> Int { Int(try cli(["XLEN", key])) ?? -1 }

    public func hashField(_ key: String, _ field: String) throws -> String { try cli(["HGET", key, field]) }
}

