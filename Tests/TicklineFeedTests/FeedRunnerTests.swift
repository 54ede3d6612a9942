#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineFeed
import TicklineMarketData
import TicklineRing
import TicklineRuntime

/// The feed agent on a runner thread of its own, as the engine runs it; the test thread
/// consumes the rings as the strategy and risk stages would.
@Suite(.serialized, .needsFeedServer)
struct FeedRunnerTests {
    @Test func runsOnAnAgentRunnerThreadAndFeedsConsumersOnAnotherThread() throws {
        let server = try FeedServerProcess(symbols: 2)
        let symbols = [syntheticSymbol(0), syntheticSymbol(1)]
        let config = testConfig(server: server, symbols: symbols)
        let instance = "feedrunner-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let region = try SharedRegion.create(
            instance: instance,
            rings: [
                RingSpec.of(MarketEvent.self, name: "market", capacity: 1 << 14, overflow: .dropNewest),
                RingSpec.of(DepthSnapshot.self, name: "depth", capacity: 1 << 12, overflow: .dropNewest),
                RingSpec.of(MarketEvent.self, name: "journal.market", capacity: 1 << 14, overflow: .dropNewest),
            ], options: RegionOptions(lockMemory: false, hugePages: false)).0
        defer { region.unlink() }
        var market = try region.consumer(of: MarketEvent.self, ring: "market")
        var depth = try region.consumer(of: DepthSnapshot.self, ring: "depth")
        let agent = try FeedAgent(config: config, instruments: try syntheticTable(2), region: region)
        #expect(agent.roleName == "feed.test")
        let runner = AgentRunner(name: agent.roleName, cores: [], idle: .parking, agents: [agent])
        runner.start()
        var trades = 0
        var tops = 0
        var snapshots = 0
        var lastSequence: UInt64 = 0
        var ordered = true
        let deadline = Date().addingTimeInterval(20)
        while (trades < 20 || tops < 20 || snapshots < 20) && Date() < deadline {
            let n = market.drain(limit: 1_024) { event, _ in
                if event.pointee.sequence != lastSequence + 1 { ordered = false }
                lastSequence = event.pointee.sequence
                if event.pointee.kind == .trade { trades += 1 }
                if event.pointee.kind == .bookTop { tops += 1 }
            }
            snapshots += depth.drain(limit: 1_024) { _, _ in }
            if n == 0 { usleep(1_000) }
        }
        runner.stop()
        #expect(trades >= 20 && tops >= 20 && snapshots >= 20, "trades \(trades), tops \(tops), snapshots \(snapshots)")
        #expect(ordered)
        // onClose closed the connection and stopped the snapshot thread.
        #expect(agent.connections.allSatisfy { $0.phase == .down })
        #expect(agent.counters.decodeErrors == 0)
        withExtendedLifetime(server) {}
    }
}

/// The watchdog on a manual clock: no server needed (connects are refused and retried).
@Suite struct StaleWatchdogTests {
    @Test func publishesStaleOnceWhenNoDataArrivesForStaleAfterMs() throws {
        var config = FeedConfig()
        config.name = "manual"
        config.streamAddress = "127.0.0.1:1"  // nothing listens: every connect fails
        config.symbols = [syntheticSymbol(0), syntheticSymbol(1)]
        config.staleAfterMs = 1_000
        config.backoffInitialMs = 1
        config.backoffMaxMs = 1
        let harness = try FeedHarness(config: config, instruments: try syntheticTable(3))
        var clock = ManualClock(startNs: 5_000_000_000)
        func step(_ ms: Int64) {
            clock.advance(byNs: ms * 1_000_000)
            harness.invoker.invoke(now: clock.now)
            harness.drain()
        }
        step(0)
        step(999)
        #expect(harness.market.isEmpty)
        step(101)
        #expect(harness.market.map(\.kind) == [.stale, .stale])
        #expect(Set(harness.market.map(\.instrument)) == [100, 101])
        #expect(harness.market.allSatisfy { $0.priceDecimals == 8 })
        // Reported once, not every cycle.
        step(500)
        step(500)
        #expect(harness.market.count == 2)
        #expect(harness.counters.staleEvents == 2)
        // A symbol subscribed later starts its own wait.
        #expect(harness.agent.subscribe(syntheticSymbol(2)))
        step(900)
        #expect(harness.market.count == 2)
        step(200)
        #expect(harness.market.count == 3 && harness.market.last?.instrument == 102)
        #expect(harness.counters.connectFailures >= 1)
    }
}
