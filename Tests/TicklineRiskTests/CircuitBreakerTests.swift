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

    /// Only the monthly breaker: the others at 100 % (they trip at zero equity).
    func monthlyOnly() -> RiskLimits {
        var l = RiskLimits()
        l.dailyLossPartsPerMillion = 1_000_000
        l.weeklyLossPartsPerMillion = 1_000_000
        l.drawdownPartsPerMillion = 1_000_000
        l.monthlyLossPartsPerMillion = 80_000
        return l
    }

    @Test func theMonthlyLossHaltsAtTheMonthsThresholdUntilAResume() throws {
        var b = CircuitBreakers(limits: monthlyOnly(), equityMoney: m(50_000), wallNs: monday + 9 * day)
        #expect(b.observe(equityMoney: m(46_001), wallNs: monday + 10 * day) == nil)
        let tripped = b.observe(equityMoney: m(46_000), wallNs: monday + 10 * day + hour)
        let e = try #require(tripped)
        #expect(e.kind == .breakerTripped && e.reason == BreakerReason.monthlyLoss.rawValue && e.toState == .halted)
        #expect(e.observed == m(4_000) && e.limit == m(4_000) && b.cause == .monthlyLoss)
        // Neither a new day nor a new month lifts it.
        #expect(b.observe(equityMoney: m(46_000), wallNs: monday + 40 * day) == nil)
        #expect(b.state == .halted && b.monthIndex == CircuitBreakers.utcMonth(CircuitBreakers.utcDay(monday + 40 * day)))
        #expect(b.resume(equityMoney: m(46_000), wallNs: monday + 40 * day + hour)?.toState == .active)
        #expect(b.monthStartEquityMoney == m(46_000))
    }

    /// 2024-01-31 → 2024-02-01: the month's baseline moves to the equity of the first
    /// observation in February, so a loss measured from January's start no longer counts.
    @Test func theMonthRollsAtTheCalendarMonthInUTC() throws {
        let jan31 = monday + 30 * day, feb1 = monday + 31 * day
        var b = CircuitBreakers(limits: monthlyOnly(), equityMoney: m(50_000), wallNs: jan31 + 10 * hour)
        #expect(b.monthIndex == (2024 - 1970) * 12)
        #expect(b.observe(equityMoney: m(47_000), wallNs: feb1 - 1) == nil)
        #expect(b.monthIndex == (2024 - 1970) * 12 && b.monthStartEquityMoney == m(50_000))
        #expect(b.observe(equityMoney: m(47_000), wallNs: feb1) == nil)
        #expect(b.monthIndex == (2024 - 1970) * 12 + 1 && b.monthStartEquityMoney == m(47_000))
        #expect(b.observe(equityMoney: m(43_241), wallNs: feb1 + hour) == nil)  // 3,759 of 47,000's 3,760
        #expect(b.observe(equityMoney: m(43_240), wallNs: feb1 + 2 * hour)?.reason == BreakerReason.monthlyLoss.rawValue)
    }

    /// A leap year: February 29 is still February; March 1 starts a new month.
    @Test func februaryTheTwentyNinthOfALeapYearRollsIntoMarch() throws {
        let feb28 = monday + 58 * day, feb29 = monday + 59 * day, mar1 = monday + 60 * day
        #expect(CircuitBreakers.civil(CircuitBreakers.utcDay(feb29)) == (2024, 2, 29))
        #expect(CircuitBreakers.civil(CircuitBreakers.utcDay(mar1)) == (2024, 3, 1))
        var b = CircuitBreakers(limits: monthlyOnly(), equityMoney: m(50_000), wallNs: feb28)
        #expect(b.observe(equityMoney: m(47_000), wallNs: feb29 + 23 * hour) == nil)
        #expect(b.monthIndex == (2024 - 1970) * 12 + 1 && b.monthStartEquityMoney == m(50_000) && b.dayStartEquityMoney == m(47_000))
        #expect(b.observe(equityMoney: m(46_001), wallNs: mar1 - 1) == nil)
        #expect(b.observe(equityMoney: m(46_001), wallNs: mar1) == nil)
        #expect(b.monthIndex == (2024 - 1970) * 12 + 2 && b.monthStartEquityMoney == m(46_001))
    }

    @Test func civilDatesAcrossCenturiesAndBeforeTheEpoch() {
        func dayOf(_ seconds: Int64) -> Int64 { CircuitBreakers.utcDay(WallNanos(seconds * 1_000_000_000)) }
        #expect(CircuitBreakers.civil(0) == (1970, 1, 1))
        #expect(CircuitBreakers.civil(-1) == (1969, 12, 31))
        #expect(CircuitBreakers.civil(dayOf(951_782_400)) == (2000, 2, 29))  // a leap century
        #expect(CircuitBreakers.civil(dayOf(4_107_542_400)) == (2100, 3, 1))  // 2100 is not a leap year
        #expect(CircuitBreakers.civil(dayOf(4_107_542_400) - 1) == (2100, 2, 28))
        #expect(CircuitBreakers.utcMonth(-1) == -1 && CircuitBreakers.utcMonth(0) == 0)
        let sunday = CircuitBreakers.utcDay(monday + 6 * day)
        #expect(CircuitBreakers.civil(CircuitBreakers.firstDay(ofWeek: CircuitBreakers.utcWeek(sunday))) == (2024, 1, 1))
    }

    /// Everything but the limits comes back through `snapshot` and `restore`; a restored
    /// daily reduction is lifted by the first observation on a later day, as live.
    @Test func aRestoredSnapshotCarriesOnAsLive() throws {
        var b = CircuitBreakers(equityMoney: m(50_000), wallNs: monday + hour)
        #expect(b.observe(equityMoney: m(51_000), wallNs: monday + 2 * hour) == nil)
        #expect(b.observe(equityMoney: m(48_500), wallNs: monday + 3 * hour)?.toState == .reducing)  // 3 % of 50,000
        var restarted = CircuitBreakers(equityMoney: m(50_000), wallNs: monday + 5 * hour)
        restarted.restore(b.snapshot)
        #expect(restarted.snapshot == b.snapshot && restarted.state == .reducing && restarted.cause == .dailyLoss)
        #expect(restarted.peakEquityMoney == m(51_000) && restarted.dayStartEquityMoney == m(50_000))
        #expect(restarted.observe(equityMoney: m(48_500), wallNs: monday + 6 * hour) == nil)  // the same day: still reducing
        let lifted = restarted.observe(equityMoney: m(48_500), wallNs: monday + day)
        #expect(lifted?.reason == BreakerReason.newTradingDay.rawValue && restarted.state == .active)
        #expect(restarted.dayStartEquityMoney == m(48_500) && restarted.weekStartEquityMoney == m(50_000))
    }

    /// A snapshot follows the breaker events after it (trip, kill, resume, new day) in state,
    /// cause and latch, and keeps its baselines; other events leave it as it is.
    @Test func aSnapshotFollowsTheBreakerEventsAfterIt() {
        var b = CircuitBreakers(equityMoney: m(50_000), wallNs: monday)
        var s = b.snapshot
        let daily = b.observe(equityMoney: m(48_000), wallNs: monday + hour)!
        s.follow(daily)
        #expect(s == b.snapshot)
        let kill = b.engageKillSwitch(equityMoney: m(48_000), wallNs: monday + 2 * hour)
        s.follow(RiskEvent(kind: .stateChange, scope: .strategy, reason: 0, strategy: 1, fromState: .active, toState: .halted))
        s.follow(RiskEvent(kind: .stateChange, scope: .global, reason: BreakerReason.journalUnwritable.rawValue, fromState: .reducing,
                           toState: .halted))
        #expect(s.state == .reducing && !s.killSwitchEngaged)
        s.follow(kill)
        #expect(s == b.snapshot && s.killSwitchEngaged && s.cause == .killSwitch)
        let resumed = b.resume(equityMoney: m(48_000), wallNs: monday + 3 * hour)!
        s.follow(resumed)
        #expect(s.state == .active && s.cause == nil && !s.killSwitchEngaged && s.dayStartEquityMoney == m(50_000))
    }
}
