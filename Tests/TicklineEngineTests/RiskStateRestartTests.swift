#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineCore
import TicklineEngine
import TicklineExecution
import TicklineRing
import TicklineRisk

/// The risk stage journals its breakers' state when it changes and a new stage on the same
/// journal starts from it: driven by hand on a manual clock (risk and venue on one thread).
@Suite struct RiskStateRestartTests {
    static func breakerRecords(_ path: String) throws -> [BreakerSnapshot] {
        var found: [BreakerSnapshot] = []
        let bytes = try JournalFile(path: path).readAll()
        _ = try JournalReader.read(bytes) { if case .riskState(let b) = $0 { found.append(b) } }.get()
        return found
    }

    /// A fresh journal gets the starting state at once; a climbing peak alone waits a second;
    /// a daily trip is written at once; a second stage on the journal starts reducing from
    /// the same baselines; a new UTC day (the risk clock a day on) lifts it, as live, and
    /// that too is what a third stage starts from.
    @Test func theBreakersStateIsJournaledWhenItChangesAndRestoredByTheNextStart() throws {
        let journal = "/tmp/tickline-riskstate-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).journal"
        defer { unlink(journal) }
        let second: Nanos = 1_000_000_000
        var clock = DutyCycleTime(simulatedNs: 1_000 * second)
        func settings(_ s: inout RiskStageSettings) {
            s.limits.dailyLossPartsPerMillion = 200  // 0.02 %: 10.00 of 50,000
            s.limits.riskPartsPerMillion = 1_000_000
            s.limits.minRewardRiskMilli = 0
            s.limits.maxOrderNotionalMoney = MoneyScale.money(1_000_000)
            s.limits.maxGrossExposureMoney = MoneyScale.money(1_000_000)
            s.limits.maxNetExposureMoney = MoneyScale.money(1_000_000)
            s.limits.strategyBudgetMoney = MoneyScale.money(1_000_000)
        }
        let (region, _) = try SharedRegion.create(instance: "rs\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1, now: clock, configure: settings)
        func cycle(_ pipeline: EnginePeerPipeline, _ n: Int = 3) {
            for _ in 0..<n {
                clock = clock.advanced(by: 1_000_000)
                _ = pipeline.risk.doWork(now: clock)
                _ = pipeline.execution?.doWork(now: clock)
            }
        }
        p.publishBook(nowNs: clock.monotonic)
        cycle(p)
        var records = try Self.breakerRecords(journal)
        #expect(records.count == 1 && records.last == p.risk.breakers.snapshot && records.last?.peakEquityMoney == MoneyScale.money(50_000))

        // Long 0.100 at 61,000.10 (paper fee 6.10: equity 49,993.9), then the price climbs 100.00 in
        // 10 ms: the peak moves past 50,000, unjournaled.
        p.sendSignal(side: .buy, quantityUnits: 100)
        cycle(p)
        try #require(p.risk.risk.positions.quantity(instrument: 0) == 100, "the entry did not fill")
        for k in Int64(1)...10 {
            p.publishBook(nowNs: clock.monotonic, bid: 6_100_000 + k * 1_000, ask: 6_100_010 + k * 1_000)
            cycle(p, 1)
        }
        let peak = p.risk.breakers.peakEquityMoney
        #expect(peak > MoneyScale.money(50_000))
        records = try Self.breakerRecords(journal)
        #expect(records.count == 1, "a peak move within the second is not journaled: \(records)")
        clock = clock.advanced(by: second)
        cycle(p, 1)
        records = try Self.breakerRecords(journal)
        #expect(records.count == 2 && records.last?.peakEquityMoney == peak && records.last == p.risk.breakers.snapshot)

        // A fall to 60,940.05: 6.00 unrealised and the 6.10 fee below the day's start (the limit is
        // 10.00; the stop at 60,900.10 stays untouched): reducing, journaled at once.
        p.publishBook(nowNs: clock.monotonic, bid: 6_094_000, ask: 6_094_010)
        cycle(p, 1)
        #expect(p.risk.breakers.state == .reducing && p.risk.breakers.cause == .dailyLoss && p.risk.risk.globalState == .reducing)
        records = try Self.breakerRecords(journal)
        #expect(records.count == 3 && records.last == p.risk.breakers.snapshot)
        let tripped = p.risk.breakers.snapshot

        // A restart (same UTC day): reducing, every baseline and the peak as they were.
        let (region2, _) = try SharedRegion.create(instance: "rs2\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region2.unlink() }
        clock = clock.advanced(by: second)
        let q = try EnginePeerPipeline(region: region2, journal: journal, venueLatencyNs: 1, now: clock, configure: settings)
        #expect(q.risk.breakers.snapshot == tripped && q.risk.risk.globalState == .reducing)
        q.publishBook(nowNs: clock.monotonic, bid: 6_094_000, ask: 6_094_010)
        cycle(q)
        #expect(q.risk.breakers.snapshot == tripped, "the same day: nothing rolls")
        #expect(try Self.breakerRecords(journal).count == 3, "an unchanged state is not journaled again")

        // A day later on the risk clock (so on the wall clock): the reduction is lifted, the day rebased.
        clock = clock.advanced(by: CircuitBreakers.nanosPerDay)
        q.publishBook(nowNs: clock.monotonic, bid: 6_094_000, ask: 6_094_010)
        cycle(q, 1)
        #expect(q.risk.breakers.state == .active && q.risk.risk.globalState == .active)
        #expect(q.risk.breakers.dayIndex == tripped.dayIndex + 1 && q.risk.breakers.dayStartEquityMoney == q.risk.risk.positions.equityMoney)
        let lifted = q.risk.breakers.snapshot
        #expect(try Self.breakerRecords(journal).last == lifted)
        let (region3, _) = try SharedRegion.create(instance: "rs3\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region3.unlink() }
        let r = try EnginePeerPipeline(region: region3, journal: journal, venueLatencyNs: 1, now: clock, configure: settings)
        #expect(r.risk.breakers.snapshot == lifted && r.risk.risk.globalState == .active)
    }

    /// Manual halts of the engine, a strategy and a symbol, and a kill, through the control
    /// ring: a new stage on the journal starts with each of them in force and the kill latched.
    @Test func manualHaltsAndTheKillLatchAreInForceAfterARestart() throws {
        let journal = "/tmp/tickline-riskstate-halts-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).journal"
        defer { unlink(journal) }
        var clock = DutyCycleTime(simulatedNs: 1_000_000_000_000)
        let (region, _) = try SharedRegion.create(instance: "rh\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1, withVenue: false, now: clock)
        var control = try region.producer(of: ControlCommand.self, ring: "control.risk")
        for (k, c) in [ControlCommand(kind: .halt, scope: .strategy, strategy: 1), ControlCommand(kind: .reduce, scope: .symbol, instrument: 0),
                       ControlCommand(kind: .killSwitch)].enumerated() {
            var command = c
            command.sequence = UInt64(k + 1)
            let pushed = control.tryPush(command)
            #expect(pushed)
            clock = clock.advanced(by: 1_000_000)
            _ = p.risk.doWork(now: clock)
        }
        #expect(p.risk.risk.state(strategy: 1) == .halted && p.risk.risk.state(instrument: 0) == .reducing)
        #expect(p.risk.breakers.killSwitchEngaged && p.risk.risk.globalState == .halted)

        let (region2, _) = try SharedRegion.create(instance: "rh2\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region2.unlink() }
        let q = try EnginePeerPipeline(region: region2, journal: journal, venueLatencyNs: 1, withVenue: false, now: clock)
        #expect(q.risk.risk.state(strategy: 1) == .halted && q.risk.risk.state(strategy: 0) == .active)
        #expect(q.risk.risk.state(instrument: 0) == .reducing)
        #expect(q.risk.breakers.snapshot == p.risk.breakers.snapshot && q.risk.breakers.killSwitchEngaged)
        #expect(q.risk.risk.globalState == .halted && q.risk.breakers.cause == .killSwitch)
    }
}
