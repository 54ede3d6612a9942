#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineConfig
import TicklineCore
import TicklineEngine

/// The real `tickline-writer` (built beside the test runner) under the supervisor. No
/// engine region exists for these instances, so the writer waits for one and stays up
/// without connecting anywhere.
@Suite(.serialized) struct WriterSupervisorTests {
    static let writer = WriterSupervisor.besideThisProgram("tickline-writer")

    /// A config whose spill folder is writable here; `extra` lines go into `writer:`.
    static func config(_ extra: String = "") -> (path: String, writer: WriterConfig) {
        let dir = "/tmp/tickline-supervisor-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        let path = dir + "/engine.yaml"
        let text = "writer:\n  spill_dir: \(dir)\n  restart_delay_ms: 50\n  restart_delay_max_ms: 400\n" + extra
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        return (path, WriterConfig(restartDelayMs: 50, restartDelayMaxMs: 400))
    }

    /// Polls every 10 ms until `condition` holds or `seconds` pass.
    static func pollUntil(_ s: WriterSupervisor, seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Clock.monotonic() + Int64(seconds * 1e9)
        while Clock.monotonic() < deadline {
            s.poll()
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    static func alive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    @Test func restartsAWriterKilledWithSigkillAndStopsItCleanly() throws {
        let (path, config) = Self.config()
        let s = WriterSupervisor(instance: "sup\(getpid())", configPath: path, config: config, executable: Self.writer)
        try s.start()
        let first = try #require(s.pid)
        #expect(Self.pollUntil(s, seconds: 0.3) { false } == false)  // stays up while it waits for the region
        #expect(s.pid == first && s.restarts == 0)

        kill(first, SIGKILL)
        #expect(Self.pollUntil(s, seconds: 10) { s.restarts == 1 && s.pid != nil })
        let second = try #require(s.pid)
        #expect(second != first)
        #expect(s.lastExit.hasPrefix("signal 9"))
        #expect(Self.alive(second))

        _ = Self.pollUntil(s, seconds: 0.5) { false }  // past its start-up (signal handlers installed)
        let ended = s.stop(timeoutMs: 5_000)
        #expect(ended == "exit 0")  // SIGTERM: the writer finishes and exits 0
        #expect(s.pid == nil)
        #expect(!Self.alive(second))
        s.poll()
        #expect(s.pid == nil && s.restarts == 1)  // stopped means stopped
    }

    @Test func backsOffWhenTheWriterKeepsFailingAtStart() throws {
        // An unknown key: the writer refuses the config (exit 78) every time.
        let (path, config) = Self.config("  no_such_key: 1\n")
        let s = WriterSupervisor(instance: "bad\(getpid())", configPath: path, config: config, executable: Self.writer)
        try s.start()
        #expect(Self.pollUntil(s, seconds: 10) { s.restarts >= 3 })
        #expect(s.lastExit == "exit 78")
        // Delays double from 50 ms (50, 100, 200, 400 capped): four restarts need > 0.7 s,
        // so within 0.5 s of the third at most one more happens.
        let third = s.restarts
        _ = Self.pollUntil(s, seconds: 0.5) { false }
        #expect(s.restarts <= third + 1)
        s.stop()
    }

    @Test func namesAMissingExecutable() {
        let s = WriterSupervisor(instance: "x", configPath: nil, config: WriterConfig(), executable: "/nonexistent/tickline-writer")
        #expect(throws: SupervisorError.self) { try s.start() }
        do { try s.start() } catch { #expect(error.description.contains("/nonexistent/tickline-writer")) }
    }
}
