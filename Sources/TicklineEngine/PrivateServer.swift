#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux
import Foundation
import TicklineCore

/// Why a private server could not be started.
public struct PrivateServerError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// A `redis-server` or InfluxDB 1.x `influxd` this process starts for itself (the demo's
/// sinks): on free loopback ports, with its data, config and log in a folder of its own. It
/// gets SIGKILL as its parent-death signal, so it cannot outlive the thread that started it
/// however this process ends; start it from the main thread. `stop` ends it and removes
/// its folder. Cold path; owned by the thread that started it.
public final class PrivateServer {
    public enum Kind: String, Sendable {
        case redis = "redis-server"
        case influxdb = "influxd"
    }
    public let kind: Kind
    /// The server's own folder (data, config, log); removed by `stop`.
    public let directory: String
    public let port: Int
    public private(set) var pid: pid_t?
    /// The address a writer is given: `redis://127.0.0.1:P/0` or
    /// `http://127.0.0.1:P/write?db=tickline` (the database exists once `start` returned).
    public let url: String
    public var logPath: String { "\(directory)/\(kind.rawValue).log" }
    /// The InfluxDB database the writer posts to.
    public static let influxDatabase = "tickline"

    /// Starts the server (`waitUntilReady` then waits for it, so several start at once).
    /// Throws when the executable is missing or cannot be started.
    public init(kind: Kind, directory: String) throws(PrivateServerError) {
        self.kind = kind
        self.directory = directory
        guard let executable = Self.onPath(kind.rawValue) else {
            throw PrivateServerError(description: "\(kind.rawValue) is not installed (Tools/setup installs it)")
        }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw PrivateServerError(description: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        port = Self.freeLoopbackPort()
        var arguments: [String]
        switch kind {
        case .redis:
            url = "redis://127.0.0.1:\(port)/0"
            // In memory only: the demo's records live as long as the demo.
            arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", directory, "--daemonize", "no", "--logfile", ""]
        case .influxdb:
            url = "http://127.0.0.1:\(port)/write?db=\(Self.influxDatabase)"
            let config = Self.influxConfig(directory: directory, httpPort: port, rpcPort: Self.freeLoopbackPort())
            let path = "\(directory)/influxd.conf"
            do { try config.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw PrivateServerError(description: "cannot write \(path): \(error.localizedDescription)")
            }
            arguments = ["run", "-config", path]
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = tl_spawn_tied_to_caller(executable, argv, logPath, &child)
        guard rc == 0 else { throw PrivateServerError(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Waits (at most `seconds`) until the server answers on its port; for InfluxDB, then
    /// creates `influxDatabase`. Throws, with the server's last log lines, when it exited,
    /// did not answer in time or refused the database (it is stopped then).
    public func waitUntilReady(seconds: Double = 30) throws(PrivateServerError) {
        let ready: (request: String, expect: String) = kind == .redis
            ? ("PING\r\n", "+PONG") : ("GET /ping HTTP/1.0\r\n\r\n", " 204")
        let deadline = TicklineCore.Clock.monotonic() + Int64(seconds * 1e9)
        while !Self.probe(port: UInt16(port), request: ready.request, expect: ready.expect) {
            if !running || TicklineCore.Clock.monotonic() > deadline {
                let why = running ? "did not answer on 127.0.0.1:\(port) within \(Int(seconds)) s" : "exited"
                let tail = Self.lastLines(of: logPath)
                stop()
                throw PrivateServerError(description: "\(kind.rawValue) \(why)\(tail.isEmpty ? "" : ": " + tail)")
            }
            usleep(20_000)
        }
        if kind == .influxdb {
            let create = "POST /query?q=CREATE%20DATABASE%20\(Self.influxDatabase) HTTP/1.0\r\nContent-Length: 0\r\n\r\n"
            guard Self.probe(port: UInt16(port), request: create, expect: " 200") else {
                stop()
                throw PrivateServerError(description: "influxd on port \(port) refused CREATE DATABASE \(Self.influxDatabase)")
            }
        }
    }

    deinit { stop() }

    /// True while the server runs (reaps it when it ended).
    public var running: Bool {
        guard let p = pid else { return false }
        var status: Int32 = 0
        if waitpid(p, &status, WNOHANG) == p {
            pid = nil
            return false
        }
        return true
    }

    /// SIGTERM, SIGKILL after `timeoutMs`, then the server's folder is removed.
    public func stop(timeoutMs: Int = 10_000) {
        if let p = pid {
            kill(p, SIGTERM)
            var status: Int32 = 0
            let deadline = TicklineCore.Clock.monotonic() + Int64(timeoutMs) * 1_000_000
            while waitpid(p, &status, WNOHANG) == 0 {
                if TicklineCore.Clock.monotonic() > deadline {
                    kill(p, SIGKILL)
                    waitpid(p, &status, 0)
                    break
                }
                usleep(10_000)
            }
            pid = nil
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The InfluxDB 1.x config: every folder under `directory`, HTTP and RPC on loopback,
    /// no usage reporting, no self-monitoring store and no request log (start-up stays fast).
    public static func influxConfig(directory: String, httpPort: Int, rpcPort: Int) -> String {
        """
        reporting-enabled = false
        bind-address = "127.0.0.1:\(rpcPort)"
        [meta]
          dir = "\(directory)/meta"
        [data]
          dir = "\(directory)/data"
          wal-dir = "\(directory)/wal"
          query-log-enabled = false
        [http]
          bind-address = "127.0.0.1:\(httpPort)"
          log-enabled = false
        [monitor]
          store-enabled = false
        [continuous_queries]
          enabled = false
        """
    }

    /// `name` in a folder of `PATH` (unset: /usr/local/bin:/usr/bin:/bin), nil when none has it.
    public static func onPath(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }

    /// A TCP port on 127.0.0.1 that nobody listened on a moment ago (bound and released: the
    /// server that is given it binds it again; another process taking it in between makes
    /// that server exit, which `init` reports).
    public static func freeLoopbackPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: address.sin_port)) : 0
    }

    /// True when a server on 127.0.0.1:`port` answers `request` with a reply containing
    /// `expect` within 300 ms.
    static func probe(port: UInt16, request: String, expect: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected, send(fd, request, request.utf8.count, Int32(MSG_NOSIGNAL)) == request.utf8.count else { return false }
        var reply = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &reply, reply.count, 0)
        return n > 0 && String(decoding: reply[0..<n], as: UTF8.self).contains(expect)
    }

    /// The last three lines of a log, on one line (for an error message).
    static func lastLines(of path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }
}
