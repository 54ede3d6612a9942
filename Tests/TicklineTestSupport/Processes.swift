#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A free TCP port on 127.0.0.1 (bound, read back, released: another process may take it
/// in between, which the tests accept).
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls `condition` every `pollUs` (default 100 ms) for at most `seconds`; its last answer.
public func waitUntil(_ seconds: Double, pollUs: UInt32 = 100_000, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(pollUs)
    }
    return condition()
}

/// `curl` to 127.0.0.1 (a separate HTTP implementation from the server under test), at most
/// 5 s: (status, body); status 0 when nothing answered.
public func httpRequest(port: Int, path: String, method: String = "GET", token: String? = nil, body: String? = nil) -> (Int, String) {
    var args = ["-s", "--max-time", "5", "-X", method, "-w", "\n%{http_code}"]
    if let token { args += ["-H", "Authorization: Bearer \(token)"] }
    if let body { args += ["-H", "Content-Type: application/json", "--data", body] }
    let p = ChildProcess(executable: "/usr/bin/curl", arguments: args + ["http://127.0.0.1:\(port)\(path)"])
    guard p.start(), p.wait(seconds: 10) != nil else { return (0, "") }
    let lines = p.output.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

/// A child process whose stdout and stderr go to files (never a pipe: a child that writes
/// more than a pipe holds while nobody reads would block, and the test with it). Every
/// wait is bounded; a child still running when this is released is killed.
public final class ChildProcess {
    public let executable: String
    public let arguments: [String]
    public private(set) var pid: pid_t = 0
    public private(set) var exitStatus: Int32?
    let outputPath: String
    let errorPath: String

    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
        let stem = NSTemporaryDirectory() + "tickline-child-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        outputPath = stem + ".out"
        errorPath = stem + ".err"
    }

    deinit {
        if pid > 0 && exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        unlink(outputPath)
        unlink(errorPath)
    }

    /// Starts the child; false when it cannot be spawned.
    @discardableResult
    public func start() -> Bool {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        return posix_spawn(&pid, executable, &actions, nil, argv, environ) == 0
    }

    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    public var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { if pid > 0 && exitStatus == nil { kill(pid, signal) } }

    /// Waits at most `seconds` for the child to end: its exit status (128 + signal when
    /// killed by one), nil while it still runs.
    @discardableResult
    public func wait(seconds: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        repeat {
            if waitpid(pid, &status, WNOHANG) == pid {
                let signal = status & 0x7f
                exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
                return exitStatus
            }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// SIGTERM, then SIGKILL if it has not ended within `seconds`.
    @discardableResult
    public func stop(seconds: Double = 10) -> Int32? {
        signal(SIGTERM)
        if let status = wait(seconds: seconds) { return status }
        signal(SIGKILL)
        return wait(seconds: 5)
    }
}

/// `promtool check metrics` (Debian's `prometheus` package) over an exposition text: nil when
/// promtool is absent and references are not required (TICKLINE_REQUIRE_REFERENCES=1),
/// else whether it passed and what it said.
public func promtoolCheck(_ exposition: String) -> (passed: Bool, output: String)? {
    let promtool = "/usr/bin/promtool"
    guard FileManager.default.isExecutableFile(atPath: promtool)
        || ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1" else { return nil }
    let file = NSTemporaryDirectory() + "tickline-metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).prom"
    guard (try? exposition.write(toFile: file, atomically: true, encoding: .utf8)) != nil else { return (false, "cannot write \(file)") }
    defer { unlink(file) }
    let check = ChildProcess(executable: "/bin/sh", arguments: ["-c", "\(promtool) check metrics < \(file)"])
    guard check.start(), let status = check.wait(seconds: 30) else { return (false, "promtool did not run") }
    return (status == 0, check.output + check.errors)
}
