#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import TicklineCore
@testable import TicklineRuntime

/// Counts its lifecycle calls; does `budget` units of work, one per duty cycle.
final class CountingAgent: Agent, @unchecked Sendable {
    let roleName: String
    private(set) var started = 0
    private(set) var closed = 0
    private(set) var calls = 0
    /// Work units done, readable from the test thread while the runner runs.
    let workDone = Atomic<Int>(0)
    private(set) var lastNow = DutyCycleTime(monotonic: -1, wall: -1)
    let threadCpu = Atomic<Int32>(-1)
    var budget: Int

    init(_ name: String, budget: Int = 0) {
        roleName = name
        self.budget = budget
    }

    func onStart() {
        started += 1
        threadCpu.store(currentCpu(), ordering: .releasing)
    }

    func doWork(now: DutyCycleTime) -> Int {
        calls += 1
        lastNow = now
        if budget > 0 {
            budget -= 1
            workDone.add(1, ordering: .releasing)
            return 1
        }
        return 0
    }

    func onClose() { closed += 1 }
}



@Suite(.serialized) struct RuntimeTests {
    @Test func invokerRunsAgentsInOrderWithTheGivenTime() {
        let a = CountingAgent("a", budget: 3)
        let b = CountingAgent("b")
        let invoker = AgentInvoker([a, b])
        invoker.start()
        #expect(a.started == 1 && b.started == 1)
        let first = DutyCycleTime(monotonic: 1_000, wall: 1_700_000_000_000_000_000)
        #expect(invoker.invoke(now: first) == 1)
        #expect(a.lastNow == first && b.lastNow == first)
        let cycles = invoker.invokeUntilIdle(now: first.advanced(by: 1_000))
        #expect(cycles == 3)  // two with work, then one idle
        #expect(a.calls == 4 && b.calls == 4)
        invoker.close()
        invoker.close()
        #expect(a.closed == 1 && b.closed == 1)
    }

    @Test func runnerRunsAgentsOnAPinnedThreadAndClosesThem() throws {
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let core = cpus - 1
        let a = CountingAgent("a", budget: 1_000)
        let runner = AgentRunner(name: "test.runner", cores: [core], idle: .parking, agents: [a])
        runner.start()
        #expect(a.started == 1)
        var waited = 0
        while a.workDone.load(ordering: .acquiring) < 1_000 && waited < 5_000 {  // bounded wait (≤ 5 s)
            usleep(1_000)
            waited += 1
        }
        runner.stop()
        #expect(runner.pinResult == 0)
        #expect(runner.cpuAtStart == Int32(core))
        #expect(a.threadCpu.load(ordering: .acquiring) == Int32(core))
        #expect(a.closed == 1)
        #expect(a.budget == 0)
        #expect(runner.cycles >= 1_000)
    }

    @Test func runnerReportsAPinFailureInsteadOfCrashing() {
        let a = CountingAgent("a")
        let runner = AgentRunner(name: "bad.pin", cores: [4_000], idle: .parking, agents: [a])
        runner.start()
        runner.stop()
        #expect(runner.pinResult == EINVAL)
        #expect(a.closed == 1)
    }

    @Test func backoffSpinsThenYieldsThenParksWithGrowingPauses() {
        var idle = IdleStrategy(.backoff(spins: 2, yields: 1, minParkNs: 1_000, maxParkNs: 4_000))
        for _ in 0..<3 { idle.idle(workCount: 0) }  // 2 spins, 1 yield
        #expect(idle.parkNs == 1_000)
        idle.idle(workCount: 0)  // first park
        #expect(idle.parkNs == 2_000)
        idle.idle(workCount: 0)
        idle.idle(workCount: 0)
        #expect(idle.parkNs == 4_000)  // capped
        idle.idle(workCount: 1)  // work resets the backoff
        #expect(idle.idleCycles == 0 && idle.parkNs == 1_000)
    }

    /// After `install`, writing to a pipe whose reader is gone fails with EPIPE; without it,
    /// SIGPIPE would kill this test process.
    @Test func aWriteToAClosedPipeFailsWithEPIPEInsteadOfKillingTheProcess() {
        #expect(ShutdownSignal.install())
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])
        var byte: UInt8 = 1
        let written = write(fds[1], &byte, 1)
        let error = errno
        close(fds[1])
        #expect(written == -1 && error == EPIPE)
        ShutdownSignal.clear()
    }

    @Test func sigtermRequestsAShutdownThatStopsRunners() {
        ShutdownSignal.clear()
        #expect(ShutdownSignal.install())
        let a = CountingAgent("a")
        let runner = AgentRunner(name: "sig.runner", cores: [], idle: .parking, agents: [a])
        let t = Thread {
            usleep(50_000)
            kill(getpid(), SIGTERM)  // process-directed, as `kill` or systemd sends it
        }
        t.start()
        let signal = runUntilShutdown([runner], timeoutNs: 10_000_000_000)
        #expect(signal == SIGTERM)
        #expect(a.started == 1 && a.closed == 1)
        #expect(!runner.isRunning)
        ShutdownSignal.clear()
    }

    @Test func waitTimesOutWithoutASignal() {
        ShutdownSignal.clear()
        #expect(ShutdownSignal.wait(timeoutNs: 20_000_000, pollNs: 1_000_000) == nil)
    }
}
