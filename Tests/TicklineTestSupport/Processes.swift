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
/// `maxTime` seconds: (status, body); status 0 when nothing answered.
public func httpRequest(port: Int, path: String, method: String = "GET", token: String? = nil, body: String? = nil,
                        maxTime: Double = 5) -> (Int, String) {
    var args = ["-s", "--max-time", "\(maxTime)", "-X", method, "-w", "\n%{http_code}"]
    if let token { args += ["-H", "Authorization: Bearer \(token)"] }
    if let body { args += ["-H", "Content-Type: application/json", "--data", body] }
    let out = runCommand("/usr/bin/curl", args + ["http://127.0.0.1:\(port)\(path)"], seconds: maxTime + 5).output
    let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

/// Runs a command to completion, at most `seconds` (then it is killed): its exit status
/// (128 + signal; -1 when it could not start or was killed for time) and its stdout.
@discardableResult
public func runCommand(_ path: String, _ args: [String], seconds: Double = 60) -> (status: Int32, output: String) {
    let p = ChildProcess(executable: path, arguments: args)
    guard p.start() else { return (-1, "") }
    guard let status = p.wait(seconds: seconds) else {
        p.signal(SIGKILL)
        p.wait(seconds: 5)
        return (-1, p.output)
    }
    return (status, p.output)
}

/// A child process whose stdout and stderr go to files (never a pipe: a child that writes
/// more than a pipe holds while nobody reads would block, and the test with it), started
/// with every signal unblocked and at its default action (the test runner blocks some, and
/// a child inheriting that mask could not be stopped with SIGTERM). Every wait is bounded;
/// a child still running when this is released is killed.
public final class ChildProcess {
    public let executable: String
    public let arguments: [String]
    public private(set) var pid: pid_t = 0
    /// How it ended: its exit code, or 128 + the signal that killed it; nil while it runs.
    public private(set) var exitStatus: Int32?
    let environment: [String: String]?
    let outputPath: String
    let errorPath: String
    /// Files this object made up (removed with it); files the caller named are the caller's.
    let ownsFiles: Bool

    /// - Parameters:
    ///   - environment: the child's whole environment (nil: this process's).
    ///   - outputPath, errorPath: where stdout/stderr go, appended to (nil: temp files,
    ///     truncated at start and removed with this object).
    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
                outputPath: String? = nil, errorPath: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        let stem = NSTemporaryDirectory() + "tickline-child-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ownsFiles = outputPath == nil && errorPath == nil
        self.outputPath = outputPath ?? (errorPath == nil ? stem + ".out" : "/dev/null")
        self.errorPath = errorPath ?? (outputPath == nil ? stem + ".err" : "/dev/null")
    }

    /// Starts it at once; throws when it cannot be spawned.
    public convenience init(launching executable: String, _ arguments: [String], environment: [String: String]? = nil,
                            outputPath: String? = nil, errorPath: String? = nil) throws {
        self.init(executable: executable, arguments: arguments, environment: environment, outputPath: outputPath, errorPath: errorPath)
        let rc = spawn()
        guard rc == 0 else { throw ChildProcessError(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
    }

    deinit {
        if pid > 0 && exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        if ownsFiles {
            unlink(outputPath)
            unlink(errorPath)
        }
    }

    /// Starts the child; false when it cannot be spawned.
    @discardableResult
    public func start() -> Bool { spawn() == 0 }

    /// posix_spawn's result (0 or an errno).
    func spawn() -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let mode = ownsFiles ? O_TRUNC : O_APPEND
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | mode, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | mode, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        guard let environment else { return posix_spawn(&pid, executable, &actions, &attributes, argv, environ) }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        return posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    }

    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    public var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { if pid > 0 && exitStatus == nil { kill(pid, signal) } }

    /// Reaps it if it ended (never blocks).
    public var isRunning: Bool {
        guard pid > 0, exitStatus == nil else { return false }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return true }
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return false
    }

    /// Waits at most `seconds` for the child to end: its exit status (128 + signal when
    /// killed by one), nil while it still runs.
    @discardableResult
    public func wait(seconds: Double) -> Int32? {
        _ = waitUntil(seconds, pollUs: 20_000) { !isRunning }
        return exitStatus
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

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
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
    let check = runCommand("/bin/sh", ["-c", "\(promtool) check metrics < \(file) 2>&1"], seconds: 30)
    return check.status == -1 ? (false, "promtool did not run: \(check.output)") : (check.status == 0, check.output)
}
