#if canImport(Glibc)
import Glibc
#endif
import TicklineConfig
import TicklineCore

/// Why the writer could not be started.
public struct SupervisorError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// Starts `tickline-writer` for an instance and restarts it whenever it exits, until
/// `stop`. Cold path: called from the control plane's thread (`poll` about every 100 ms),
/// never from a pinned stage. A writer that dies within a minute of its start is restarted
/// after a delay that doubles each time (`restart_delay_ms` … `restart_delay_max_ms`), so a
/// writer that cannot start (bad config, missing binary) does not spin.
///
/// Nothing is lost across a restart: the writer resumes at the ring cursors kept in the
/// region and replays its spill (see Sources/TicklineWriter/README.md).
public final class WriterSupervisor {
    public let instance: String
    public let executable: String
    public let arguments: [String]
    /// Where the writer's output and this supervisor's lines go (nil: this process's stderr).
    public let logPath: String?
    let initialDelayNs: Int64
    let maxDelayNs: Int64
    /// The running writer, nil while waiting to restart or stopped.
    public private(set) var pid: pid_t?
    /// Restarts after the first start.
    public private(set) var restarts = 0
    /// How the last writer ended ("exit 1", "signal 9 (Killed)"), empty before any ended.
    public private(set) var lastExit = ""
    var startedNs: MonotonicNanos = 0
    var delayNs: Int64
    var restartAtNs: MonotonicNanos?
    var stopped = false

    /// - Parameters:
    ///   - configPath: the engine's config file, passed on as `--config` (nil: writer defaults).
    ///   - config: the `writer:` section (binary and restart delays).
    ///   - executable: overrides `config.binary` and the default location (tests).
    ///   - logPath: a file for the writer's stdout/stderr and the supervisor's own lines,
    ///     appended to (nil: this process's stderr). The demo's live view owns its terminal.
    public init(instance: String, configPath: String?, config: WriterConfig, executable: String? = nil, logPath: String? = nil) {
        self.instance = instance
        self.logPath = logPath
        self.executable = executable ?? (config.binary.isEmpty ? Self.besideThisProgram("tickline-writer") : config.binary)
        // --parent-pid: a writer whose engine dies (SIGKILL, crash) writes what the rings hold
        // and exits instead of lingering beside the next engine's writer.
        var args = ["--instance", instance, "--parent-pid", "\(getpid())"]
        if let configPath { args += ["--config", configPath] }
        arguments = args
        initialDelayNs = Int64(config.restartDelayMs) * 1_000_000
        maxDelayNs = Int64(config.restartDelayMaxMs) * 1_000_000
        delayNs = initialDelayNs
    }

    /// `name` in the folder of the running executable (`/proc/self/exe`).
    public static func besideThisProgram(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return name }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return name }
        return String(path[..<slash]) + "/" + name
    }

    /// Starts the writer. Throws when it cannot be spawned at all (no such executable).
    public func start(nowNs: MonotonicNanos = Clock.monotonic()) throws(SupervisorError) {
        guard access(executable, X_OK) == 0 else {
            throw SupervisorError(description: "writer executable \(executable) is missing or not executable (set writer.binary)")
        }
        stopped = false
        try spawn(nowNs: nowNs)
    }

    func spawn(nowNs: MonotonicNanos) throws(SupervisorError) {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let logPath {
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // A process group of its own: Ctrl-C at the terminal reaches the engine alone, which
        // stops its stages first and then the writer, so the writer drains everything.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw SupervisorError(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        startedNs = nowNs
        restartAtNs = nil
        log("writer started: pid \(child) (\(executable) \(arguments.joined(separator: " ")))")
    }

    /// Reaps a writer that exited and restarts it when its delay has passed. Returns true
    /// while a writer runs.
    @discardableResult
    public func poll(nowNs: MonotonicNanos = Clock.monotonic()) -> Bool {
        guard !stopped else { return false }
        if let p = pid {
            var status: Int32 = 0
            let r = waitpid(p, &status, WNOHANG)
            guard r == p else { return true }  // still running (or EINTR: look again next poll)
            pid = nil
            lastExit = Self.describe(status)
            // A writer that ran a minute is healthy: start over at the initial delay.
            delayNs = nowNs - startedNs > 60_000_000_000 ? initialDelayNs : delayNs
            restartAtNs = nowNs + delayNs
            log("writer pid \(p) ended (\(lastExit)); restarting in \(delayNs / 1_000_000) ms")
            delayNs = min(delayNs * 2, maxDelayNs)
            return false
        }
        if let at = restartAtNs, nowNs >= at {
            do throws(SupervisorError) {
                try spawn(nowNs: nowNs)
                restarts += 1
            } catch {
                lastExit = error.description
                restartAtNs = nowNs + delayNs
                delayNs = min(delayNs * 2, maxDelayNs)
            }
        }
        return pid != nil
    }

    /// Stops the writer: SIGTERM (it finishes the batch in hand and publishes its metrics),
    /// then SIGKILL after `timeoutMs`. Returns how it ended ("" when none ran).
    @discardableResult
    public func stop(timeoutMs: Int = 10_000) -> String {
        stopped = true
        restartAtNs = nil
        guard let p = pid else { return "" }
        kill(p, SIGTERM)
        var status: Int32 = 0
        let deadline = Clock.monotonic() + Int64(timeoutMs) * 1_000_000
        while waitpid(p, &status, WNOHANG) == 0 {
            if Clock.monotonic() > deadline {
                log("writer pid \(p) did not stop in \(timeoutMs) ms: SIGKILL (it resumes at the cursors)")
                kill(p, SIGKILL)
                waitpid(p, &status, 0)
                break
            }
            usleep(10_000)
        }
        pid = nil
        lastExit = Self.describe(status)
        return lastExit
    }

    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exit \((status >> 8) & 0xff)" }
        return "signal \(signal) (\(String(cString: strsignal(signal))))"
    }
}

extension WriterSupervisor {
    func log(_ message: String) {
        var line = "tickline: " + message + "\n"
        let fd = logPath.map { open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) } ?? 2
        line.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
        if fd != 2 && fd >= 0 { close(fd) }
    }
}
