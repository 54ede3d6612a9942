#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineExecution
import TicklineRing
import TicklineRisk

/// Trailing and time stops through the risk stage over real rings: from the signal to the
/// order, the position's exit plan and the journal, and back after a restart.
@Suite(.serialized) struct ExitPlanTests {
    static func instance(_ tag: String) -> String { "xp\(tag)\(getpid())" }

    /// Both stages over a fresh region (`tag`) and journal file, for `body`; both removed after.
    static func withPipeline(_ tag: String, _ body: (EnginePeerPipeline, SharedRegion, String) throws -> Void) throws {
        let (region, _) = try SharedRegion.create(instance: instance(tag), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let journal = RiskExecutionTests.tempPath("journal")
        defer { unlink(journal) }
        try body(try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1_000_000), region, journal)
    }

    static func exitStates(_ path: String) -> [ExitStateRecord] {
        RunCommandTests.journalRecords(path).compactMap { if case .exitState(let e) = $0 { e } else { nil } }
    }

    /// A sell entry that only reduces a long (a reversal partly filled) leaves the rest of the
    /// long under the long's plan: the sell's plan has its stop above the price, which for a
    /// long would fire at once as a stop loss.
    @Test func anOppositeEntryThatOnlyReducesAPositionKeepsThePositionsPlan() throws {
        try Self.withPipeline("o") { p, _, _ in
            p.publishBook(nowNs: Clock.monotonic())
            p.sendSignal(side: .buy, sequence: 1, quantityUnits: 100)
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100 })
            let longPlan = p.risk.exits.plan(strategy: 1, instrument: 0)
            #expect(longPlan.stopLoss.units == 6_090_010)
            p.sendSignal(side: .sell, sequence: 2, quantityUnits: 60)
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 40 })
            #expect(p.risk.exits.plan(strategy: 1, instrument: 0) == longPlan)
            // A new price (the position marked at it) is checked against the plan: nothing triggers.
            let marked = p.risk.risk.positions.unrealisedMoney
            p.publishBook(nowNs: Clock.monotonic(), bid: 6_100_010, ask: 6_100_020)
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.unrealisedMoney != marked })
            _ = p.risk.doWork(now: .now())
            #expect(p.risk.counters.exits == 0 && p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 40)
            // A sell that reverses the long takes the sell's plan for the short it leaves.
            p.sendSignal(side: .sell, sequence: 3, quantityUnits: 100)
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == -60 })
            #expect(p.risk.exits.plan(strategy: 1, instrument: 0).stopLoss.units == 6_110_000)
        }
    }

    @Test func anEntrysTrailingStopReachesItsPlanAndTheJournalAndFiresAsAReduceOnlyOrder() throws {
        try Self.withPipeline("t") { p, region, journal in
            var writerOrders = try region.consumer(of: OrderEvent.self, ring: "journal.orders")
            p.publishBook(nowNs: Clock.monotonic())
            let sentWall = Clock.wall()
            p.sendSignal(trailingUnits: 5_000, maxHoldNs: 3_600_000_000_000)  // 50.00 behind the best; an hour
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100 })
            let filledWall = Clock.wall()
            let plan = p.risk.exits.plan(strategy: 1, instrument: 0)
            #expect(plan.trailingDistanceUnits == 5_000 && plan.maxHoldNs == 3_600_000_000_000 && plan.stopLoss.units == 6_090_010)
            let deadline = p.risk.exits.timeStopDeadline(strategy: 1, instrument: 0)
            #expect(deadline >= sentWall + 3_600_000_000_000 && deadline <= filledWall + 3_600_000_000_000)
            try #require(writerOrders.available() == 1)
            let entry = writerOrders.peek(0).pointee
            #expect(entry.trailingDistance.units == 5_000 && entry.maxHoldNs == 3_600_000_000_000)
            writerOrders.advance(by: 1)

            // Up 100.00 (the best moves), then back 60.00: 10.00 past the trailing stop, far above the stop-loss.
            p.publishBook(nowNs: Clock.monotonic(), bid: 6_110_000, ask: 6_110_010)
            #expect(RiskExecutionTests.run(p) { p.risk.exits.bestPrice(strategy: 1, instrument: 0) == 6_110_005 })
            p.publishBook(nowNs: Clock.monotonic(), bid: 6_104_000, ask: 6_104_010)
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 0 })
            #expect(p.risk.counters.exitsByTrigger[.trailingStop] == 1 && p.risk.counters.exits == 1)
            #expect(p.risk.counters.exitsByTrigger[.stopLoss] == 0 && p.risk.counters.exitsByTrigger[.timeStop] == 0)
            try #require(writerOrders.available() == 1)
            let exit = writerOrders.peek(0).pointee
            #expect(exit.flags & OrderEvent.flagReduceOnly != 0 && exit.type == .market && exit.side == .sell && exit.quantity.units == 100)
            #expect(exit.trailingDistance.units == 0 && exit.maxHoldNs == 0)

            // The journal: the entry with its plan; the position's states opened, fired, closed.
            let orders = RunCommandTests.journalRecords(journal).compactMap { if case .order(let o) = $0 { o } else { nil } }
            #expect(orders.count == 2 && orders[0].trailingDistance.units == 5_000 && orders[0].maxHoldNs == 3_600_000_000_000)
            let states = Self.exitStates(journal)
            #expect(states.map(\.cause) == [.opened, .fired, .closed], "\(states)")
            #expect(states.first?.bestPriceUnits == 6_100_010 && states.first?.deadlineWallNs == deadline)
            #expect(states.count == 3 && states[1].trigger == .trailingStop && states[1].bestPriceUnits == 6_110_005)
        }
    }

    /// The process dies with a position open: the restarted stage has the journaled best and
    /// the deadline of the entry's fill (not the restart's time + max hold), and the time stop
    /// fires at it.
    @Test func aRestartRestoresTheTrailingBestAndTheDeadlineAndTheTimeStopFiresAtIt() throws {
        try Self.withPipeline("r") { p, _, journal in
            p.publishBook(nowNs: Clock.monotonic())
            p.sendSignal(trailingUnits: 50_000, maxHoldNs: 3_000_000_000)  // 500.00 behind; 3 s
            #expect(RiskExecutionTests.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100 })
            let deadline = p.risk.exits.timeStopDeadline(strategy: 1, instrument: 0)
            // A new best, journaled once a second has passed since the opening.
            p.publishBook(nowNs: Clock.monotonic(), bid: 6_102_000, ask: 6_102_010)
            #expect(RiskExecutionTests.run(p) { Self.exitStates(journal).contains { $0.cause == .moved } })
            #expect(Self.exitStates(journal).last?.bestPriceUnits == 6_102_005)
            #expect(p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100, "the time stop fired before the restart")

            // The "crash": a new stage on a new region and the same journal.
            let (fresh, _) = try SharedRegion.create(instance: Self.instance("r2"), rings: EnginePeerPipeline.smallRings)
            defer { fresh.unlink() }
            let restartWall = Clock.wall()
            let again = try EnginePeerPipeline(region: fresh, journal: journal, venueLatencyNs: 1_000_000)
            #expect(again.risk.exits.watchedQuantity(strategy: 1, instrument: 0) == 100)
            #expect(again.risk.exits.bestPrice(strategy: 1, instrument: 0) == 6_102_005)
            #expect(again.risk.exits.timeStopDeadline(strategy: 1, instrument: 0) == deadline)
            #expect(deadline < restartWall + 3_000_000_000, "the deadline is the entry's, before the restart's time + max hold")
            again.publishBook(nowNs: Clock.monotonic(), bid: 6_101_000, ask: 6_101_010)
            #expect(RiskExecutionTests.run(again) { again.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 0 })
            #expect(again.risk.counters.exitsByTrigger[.timeStop] == 1 && again.risk.counters.exits == 1)
            let fired = try #require(Self.exitStates(journal).last { $0.cause == .fired })
            #expect(fired.trigger == .timeStop && fired.deadlineWallNs == deadline && fired.wallNs >= deadline)
        }
    }
}
