import Testing
import TicklineCore
import TicklineRisk

@Suite struct CircuitBreakerTests {
    /// Monday 2024-01-01 00:00 UTC.
    let monday = WallNanos(1_704_067_200 * 1_000_000_000)
    let hour: Nanos = 3_600_000_000_000
    let day: Nanos = CircuitBreakers.nanosPerDay
    func m(_ whole: Int64) -> Int64 { MoneyScale.money(whole) }

    @Test func tripsReducesLiftsOnANewDayHaltsWeeklyResumesAndHaltsOnDrawdown() throws {
        var b = CircuitBreakers(equityMoney: m(50_000), wallNs: monday + 10 * hour)
        #expect(b.observe(equityMoney: m(48_501), wallNs: monday + 11 * hour) == nil)
        let dailyEvent = b.observe(equityMoney: m(48_500), wallNs: monday + 12 * hour)
        let daily = try #require(dailyEvent)
        #expect(daily.kind == .breakerTripped && daily.reason == BreakerReason.dailyLoss.rawValue)
        #expect(daily.fromState == .active && daily.toState == .reducing && daily.observed == m(1_500) && daily.limit == m(1_500))
        #expect(b.observe(equityMoney: m(48_400), wallNs: monday + 20 * hour) == nil)
        #expect(b.state == .reducing)

        let liftedEvent = b.observe(equityMoney: m(48_400), wallNs: monday + day)
        let lifted = try #require(liftedEvent)
        #expect(lifted.kind == .stateChange && lifted.reason == BreakerReason.newTradingDay.rawValue && lifted.toState == .active)

        #expect(b.observe(equityMoney: m(47_001), wallNs: monday + day + hour) == nil)
        let weeklyEvent = b.observe(equityMoney: m(47_000), wallNs: monday + day + 2 * hour)
        let weekly = try #require(weeklyEvent)
        #expect(weekly.reason == BreakerReason.weeklyLoss.rawValue && weekly.toState == .halted && weekly.observed == m(3_000))
        #expect(b.observe(equityMoney: m(47_000), wallNs: monday + 2 * day) == nil)  // a new day does not lift a halt
        #expect(b.state == .halted)

        let resumedEvent = b.resume(equityMoney: m(47_000), wallNs: monday + 2 * day + hour)
        let resumed = try #require(resumedEvent)
        #expect(resumed.reason == BreakerReason.manualResume.rawValue && resumed.fromState == .halted && resumed.toState == .active)
        #expect(b.observe(equityMoney: m(55_000), wallNs: monday + 2 * day + 2 * hour) == nil)
        #expect(b.observe(equityMoney: m(49_501), wallNs: monday + 2 * day + 3 * hour) == nil)
        let drawdownEvent = b.observe(equityMoney: m(49_500), wallNs: monday + 2 * day + 4 * hour)
        let drawdown = try #require(drawdownEvent)
        #expect(drawdown.reason == BreakerReason.drawdown.rawValue && drawdown.toState == .halted)
        #expect(drawdown.observed == m(5_500) && drawdown.limit == m(5_500))
        #expect(b.observe(equityMoney: m(49_500), wallNs: monday + 8 * day) == nil)
        #expect(b.state == .halted)
    }

    @Test func escalatesFromReducingToHaltedWhenTheWeeklyLossTrips() throws {
        var b = CircuitBreakers(equityMoney: m(50_000), wallNs: monday)
        #expect(b.observe(equityMoney: m(48_000), wallNs: monday + hour)?.toState == .reducing)
        let escalation = b.observe(equityMoney: m(47_000), wallNs: monday + 2 * hour)
        let e = try #require(escalation)
        #expect(e.fromState == .reducing && e.toState == .halted && e.reason == BreakerReason.weeklyLoss.rawValue)
    }

    @Test func aManualResumeLiftsADailyReductionTheSameDay() throws {
        var b = CircuitBreakers(equityMoney: m(50_000), wallNs: monday)
        #expect(b.observe(equityMoney: m(48_500), wallNs: monday + hour)?.toState == .reducing)
        #expect(b.resume(equityMoney: m(48_500), wallNs: monday + 2 * hour)?.toState == .active)
        #expect(b.observe(equityMoney: m(48_000), wallNs: monday + 3 * hour) == nil)  // rebased at 48,500
        #expect(b.resume(equityMoney: m(48_000), wallNs: monday + 3 * hour) == nil)  // already active
    }

    @Test func theKillSwitchHaltsUntilAManualResume() throws {
        var b = CircuitBreakers(equityMoney: m(50_000), wallNs: monday)
        let k = b.engageKillSwitch(equityMoney: m(50_000), wallNs: monday + hour)
        #expect(k.kind == .killSwitch && k.reason == BreakerReason.killSwitch.rawValue && k.toState == .halted)
        #expect(b.killSwitchEngaged && b.state == .halted)
        #expect(b.observe(equityMoney: m(10_000), wallNs: monday + 2 * hour) == nil)
        #expect(b.observe(equityMoney: m(60_000), wallNs: monday + 3 * day) == nil)
        #expect(b.state == .halted)
        let resumption = b.resume(equityMoney: m(50_000), wallNs: monday + 3 * day)
        let r = try #require(resumption)
        #expect(r.fromState == .halted && r.toState == .active && !b.killSwitchEngaged)
    }

    @Test func aTrippedBreakerStopsEntriesButLetsExitsThrough() throws {
        var risk = makeRisk()
        try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
        var b = CircuitBreakers(limits: risk.limits, equityMoney: risk.positions.equityMoney, wallNs: monday)
        // A 0.10 fall: equity stays well inside the breakers; the kill switch halts anyway.
        risk.updatePrice(instrument: 0, price: Price(units: 9_990), nowNs: startNs)
        #expect(b.observe(equityMoney: risk.positions.equityMoney, wallNs: monday + hour) == nil)
        let e = b.engageKillSwitch(equityMoney: risk.positions.equityMoney, wallNs: monday + hour)
        let halted = try #require(e.toState)
        risk.setGlobalState(halted)
        #expect(risk.check(entry(price: 9_990)).denial?.reason == .globalNotActive)
        #expect(risk.check(exit(.sell)).order?.quantity.units == 1_000)
    }
}
