import TicklineCore

/// One stage of the pipeline, run by a runner's duty cycle (as in Agrona's Agent).
/// Agents are final classes owned by exactly one runner thread after `onStart`; they keep
/// all their state preallocated and never block in `doWork`.
public protocol Agent: AnyObject {
    /// The agent's role, also used as the thread name (e.g. `feed.binance`).
    var roleName: String { get }
    /// Called once on the runner thread before the first `doWork`: allocate here.
    func onStart()
    /// Does a bounded amount of work and returns how much (0 = idle). `now` is both clocks
    /// read once for this duty cycle (given by the caller under the invoker: a manual clock
    /// in tests, the simulated market clock in replay and demo): every decision uses it.
    /// Latency stamps are not decisions: the agent reads `Clock.monotonic()` for those.
    func doWork(now: DutyCycleTime) -> Int
    /// Called once on the runner thread after the last `doWork`: flush and release here.
    func onClose()
}

extension Agent {
    public func onStart() {}
    public func onClose() {}
}

/// Runs agents on the caller's thread, one duty cycle per `invoke`, with the time the
/// caller gives: deterministic tests and single-threaded replay use the same agents as the
/// threaded runners. Not thread-safe.
public final class AgentInvoker {
    public let agents: [any Agent]
    public private(set) var isStarted = false
    public private(set) var isClosed = false

    public init(_ agents: [any Agent]) {
        self.agents = agents
    }

    /// Calls `onStart` on every agent (once).
    public func start() {
        precondition(!isStarted, "AgentInvoker started twice")
        isStarted = true
        for a in agents { a.onStart() }
    }

    /// One duty cycle: `doWork` on every agent in order; returns the total work count.
    @discardableResult
    public func invoke(now: DutyCycleTime) -> Int {
        precondition(isStarted && !isClosed, "AgentInvoker.invoke outside start()/close()")
        var work = 0
        for a in agents { work += a.doWork(now: now) }
        return work
    }

    /// Runs duty cycles until one does no work (or `maxCycles` pass); returns the cycles run.
    @discardableResult
    public func invokeUntilIdle(now: DutyCycleTime, maxCycles: Int = 1_000_000) -> Int {
        var cycles = 0
        while cycles < maxCycles {
            cycles += 1
            if invoke(now: now) == 0 { break }
        }
        return cycles
    }

    /// Calls `onClose` on every agent (once).
    public func close() {
        guard isStarted, !isClosed else { return }
        isClosed = true
        for a in agents { a.onClose() }
    }
}
