#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux
import Synchronization
import TicklineCore

/// Runs one or more agents on a thread of its own, pinned to the cores it is given, with an
/// idle strategy between duty cycles. Several agents on one runner is how stages are fused
/// onto fewer cores on small machines. `start`/`stop` are called from one controlling
/// thread; the counters are readable from any thread.
public final class AgentRunner: @unchecked Sendable {
    public let name: String
    public let cores: [Int]
    public let agents: [any Agent]
    private let idleStrategy: IdleStrategy
    private let clock: DutyCycleClock
    private let running = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let dutyCycles = Atomic<UInt64>(0)
    private let pinErrno = Atomic<Int32>(-1)
    private let observedCpu = Atomic<Int32>(-1)
    private var thread: pthread_t?

    /// - Parameters:
    ///   - name: thread name (at most 15 bytes are kept by the kernel).
    ///   - cores: CPUs to pin to; empty = not pinned.
    ///   - idle: what to do after a duty cycle without work.
    ///   - agents: run in this order every duty cycle.
    ///   - clock: the time each duty cycle hands the agents (the real clocks by default).
    public init(name: String, cores: [Int], idle: IdleStrategy, agents: [any Agent], clock: DutyCycleClock = .real) {
        precondition(!agents.isEmpty, "AgentRunner \(name) has no agents")
        self.name = name
        self.cores = cores
        self.idleStrategy = idle
        self.agents = agents
        self.clock = clock
    }

    /// Duty cycles completed so far.
    public var cycles: UInt64 { dutyCycles.load(ordering: .relaxed) }
    /// 0 when pinning succeeded, an errno when it failed, −1 before start or when not pinned.
    public var pinResult: Int32 { pinErrno.load(ordering: .acquiring) }
    /// The CPU the thread ran on right after pinning (−1 before start).
    public var cpuAtStart: Int32 { observedCpu.load(ordering: .acquiring) }
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Starts the thread; agents get `onStart` on it before their first `doWork`.
    public func start() {
        precondition(thread == nil, "AgentRunner \(name) started twice")
        running.store(true, ordering: .releasing)
        let context = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { @Sendable arg in
            let runner = Unmanaged<AgentRunner>.fromOpaque(arg!).takeRetainedValue()
            runner.run()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed for runner \(name): errno \(rc)")
        thread = tid
        while !started.load(ordering: .acquiring) { sched_yield() }
    }

    /// Asks the duty cycle to end, waits for `onClose` on every agent, joins the thread.
    public func stop() {
        running.store(false, ordering: .releasing)
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
    }

    private func run() {
        _ = name.withCString { tl_name_current_thread($0) }
        if !cores.isEmpty {
            let cpus = cores.map { Int32($0) }
            pinErrno.store(cpus.withUnsafeBufferPointer { tl_pin_current_thread_to_set($0.baseAddress, Int32($0.count)) }, ordering: .releasing)
        }
        observedCpu.store(tl_current_cpu(), ordering: .releasing)
        for a in agents { a.onStart() }
        started.store(true, ordering: .releasing)

        var idle = idleStrategy
        let agents = self.agents
        var cycles: UInt64 = 0
        while running.load(ordering: .acquiring) {  // pairs with stop()'s releasing store
            var work = 0
            // Both clocks read once per duty cycle (not per event): every agent on this
            // runner decides on the same time. Latency stamps are each agent's own reads.
            let now = clock.now()
            for a in agents { work &+= a.doWork(now: now) }
            cycles &+= 1
            if cycles & 1023 == 0 { dutyCycles.store(cycles, ordering: .relaxed) }
            idle.idle(workCount: work)
        }
        dutyCycles.store(cycles, ordering: .relaxed)
        for a in agents { a.onClose() }
    }
}

/// SIGINT/SIGTERM as a flag the controlling thread polls: handlers only set an
/// async-signal-safe flag; shutdown work happens on ordinary threads.
public enum ShutdownSignal {
    /// Installs the handlers and ignores SIGPIPE (a peer that closed its socket gives the
    /// writing call EPIPE instead of killing the process). Returns false when `sigaction` fails.
    @discardableResult
    public static func install() -> Bool { tl_install_signal_handlers() == 0 }

    /// The signal that asked for shutdown, or nil.
    public static var requested: Int32? {
        let s = tl_shutdown_signal()
        return s == 0 ? nil : s
    }

    /// Requests shutdown as if `signal` had arrived (programmatic stop, tests).
    public static func request(_ signal: Int32 = SIGTERM) { tl_request_shutdown(signal) }

    /// Clears a request (tests).
    public static func clear() { tl_clear_shutdown() }

    /// Blocks the calling (non-hot-path) thread until shutdown is requested or `timeoutNs`
    /// passes, polling every `pollNs`. Returns the signal, or nil on timeout.
    @discardableResult
    public static func wait(timeoutNs: Int64 = .max, pollNs: Int64 = 10_000_000) -> Int32? {
        let deadline = timeoutNs == .max ? MonotonicNanos(.max) : Clock.monotonic() + timeoutNs
        while Clock.monotonic() < deadline {
            if let s = requested { return s }
            var ts = timespec(tv_sec: Int(pollNs / 1_000_000_000), tv_nsec: Int(pollNs % 1_000_000_000))
            nanosleep(&ts, nil)
        }
        return requested
    }
}

/// Starts runners, waits for SIGINT/SIGTERM (or `ShutdownSignal.request`), then stops them
/// in the order given (upstream stages first, so downstream ones drain what is left).
public func runUntilShutdown(_ runners: [AgentRunner], timeoutNs: Int64 = .max) -> Int32? {
    ShutdownSignal.install()
    for r in runners { r.start() }
    let signal = ShutdownSignal.wait(timeoutNs: timeoutNs)
    for r in runners { r.stop() }
    return signal
}

/// The CPU the calling thread runs on now (−1 if unknown). The corresponding C function is `sched_getcpu`.
public func currentCpu() -> Int32 { tl_current_cpu() }
