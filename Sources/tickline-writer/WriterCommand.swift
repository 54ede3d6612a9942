#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CTicklineLinux
import TicklineConfig
import TicklineWriter

/// `tickline-writer --instance NAME [--config FILE] [--parent-pid PID]`: drains the
/// engine's journal rings into InfluxDB and Redis. Exit status: 0 stopped by SIGTERM/SIGINT,
/// its parent gone, or the engine gone with `on_region_gone: exit`; 2 a region this build
/// cannot read (wrong layout); 3 no region, or another writer still holding the instance,
/// within `attach_timeout_ms`; 78 a configuration error; 1 the writer lock cannot be made.
@main
struct WriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickline-writer",
        abstract: "Drain an engine's journal rings into InfluxDB and Redis, losing nothing.",
        discussion: """
            Sinks come from the config's writer: section; TICKLINE_INFLUX_URL (e.g. \
            http://127.0.0.1:8086/write?db=tickline) and TICKLINE_REDIS_URL (e.g. \
            redis://:password@127.0.0.1:6379/0) override them.
            """)

    @Option(help: "The engine instance whose region (/dev/shm/tickline-<instance>) to drain.")
    var instance: String

    @Option(help: "The engine's YAML config file (its writer: section); defaults apply without one.")
    var config: String?

    @Option(help: """
        Stop (writing what the rings hold first, as on SIGTERM) when this process is no longer \
        the parent: a supervising engine passes its pid, so its writer does not outlive it.
        """)
    var parentPid: Int32?

    func run() throws {
        // First, so a supervisor's SIGTERM during start-up still means "stop cleanly" (it
        // also unblocks SIGTERM/SIGINT, which a parent may hand down blocked).
        _ = tl_install_signal_handlers()
        var writerConfig = WriterConfig()
        var instruments: [WriterInstrument] = []
        if let path = config {
            do {
                let engine = try EngineConfig.load(path: path)
                writerConfig = engine.writer
                instruments = WriterInstrument.all(in: engine)
            } catch {
                writerLog("\(error.description)")
                throw ExitCode(78)
            }
        }
        var environment: [String: String] = [:]
        for name in ["TICKLINE_INFLUX_URL", "TICKLINE_REDIS_URL"] {
            if let v = getenv(name) { environment[name] = String(cString: v) }
        }
        writerConfig = writerConfig.applyingEnvironment(environment)
        if !writerConfig.cores.isEmpty {
            let rc = writerConfig.cores.map { Int32($0) }.withUnsafeBufferPointer {
                tl_pin_current_thread_to_set($0.baseAddress, Int32($0.count))
            }
            writerLog(rc == 0 ? "pinned to cores \(writerConfig.cores)" : "could not pin to cores \(writerConfig.cores) (continuing unpinned)")
        }
        _ = tl_name_current_thread("writer")
        let shouldStop = stopCondition()
        // Before the sinks are set up: a second writer must not touch the spill files either.
        let lock: WriterLock?
        do {
            lock = try WriterLock.acquire(instance: instance, timeoutMs: writerConfig.attachTimeoutMs, shouldStop: shouldStop)
        } catch {
            writerLog(error.description)
            throw ExitCode(1)
        }
        guard let lock else {
            if shouldStop() { return }
            writerLog("instance '\(instance)' still had another writer after \(writerConfig.attachTimeoutMs) ms (attach_timeout_ms)")
            throw ExitCode(3)
        }
        defer { withExtendedLifetime(lock) {} }
        let writer: JournalWriter
        do {
            writer = try JournalWriter(config: writerConfig, instance: instance, instruments: instruments)
        } catch {
            writerLog(error.description)
            throw ExitCode(78)
        }
        do {
            switch try writer.run(shouldStop: shouldStop) {
            case .stopped, .regionGone: return
            case .attachTimeout:
                writerLog("no region for instance '\(instance)' appeared within \(writerConfig.attachTimeoutMs) ms")
                throw ExitCode(3)
            }
        } catch let error as WriterError {
            writerLog("cannot drain: \(error.description)")
            throw ExitCode(2)
        }
    }

    /// SIGTERM/SIGINT, or (with `--parent-pid`) the parent gone: the process was reparented.
    func stopCondition() -> () -> Bool {
        guard let parentPid else { return { tl_shutdown_signal() != 0 } }
        var reported = false
        return {
            if tl_shutdown_signal() != 0 { return true }
            guard getppid() != parentPid else { return false }
            if !reported {
                writerLog("parent pid \(parentPid) is gone: writing what the rings hold, then exiting")
                reported = true
            }
            return true
        }
    }
}
