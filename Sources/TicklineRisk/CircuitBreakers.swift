import TicklineCore

/// Circuit breakers on account equity:
/// - daily loss ≥ `dailyLossPartsPerMillion` of the UTC day's starting equity → reducing,
///   lifted by the next UTC day or a manual resume;
/// - weekly loss ≥ `weeklyLossPartsPerMillion` of the week's (Monday 00:00 UTC) starting
///   equity → halted until a manual resume;
/// - drawdown ≥ `drawdownPartsPerMillion` of the peak → halted until a manual resume;
/// - the kill switch → halted until a manual resume.
/// A manual resume rebases the day, week and peak at the current equity. Every transition is
/// returned as a `RiskEvent` (scope global, reason a `BreakerReason`, observed/limit in money
/// units); the caller journals it and applies `toState` to `PreTradeRisk.setGlobalState`.
/// Cancelling open orders and flattening are the execution stage's part (not here).
/// Owned by one agent thread; not thread-safe; no allocation.
public struct CircuitBreakers: Sendable {
    public static let nanosPerDay: Int64 = 86_400_000_000_000

    public var limits: RiskLimits
    public private(set) var state: TradingState = .active
    public private(set) var killSwitchEngaged = false
    public private(set) var dayIndex: Int64
    public private(set) var weekIndex: Int64
    public private(set) var dayStartEquityMoney: Int64
    public private(set) var weekStartEquityMoney: Int64
    public private(set) var peakEquityMoney: Int64
    /// The reason of the current non-active state.
    public private(set) var cause: BreakerReason?

    public init(limits: RiskLimits = RiskLimits(), equityMoney: Int64, wallNs: WallNanos) {
        self.limits = limits
        dayIndex = Self.utcDay(wallNs)
        weekIndex = Self.utcWeek(dayIndex)
        dayStartEquityMoney = equityMoney
        weekStartEquityMoney = equityMoney
        peakEquityMoney = equityMoney
    }

    /// Days since the epoch (floor).
    @inlinable public static func utcDay(_ wallNs: WallNanos) -> Int64 {
        let ns = wallNs.ns
        return ns >= 0 ? ns / nanosPerDay : (ns - nanosPerDay + 1) / nanosPerDay
    }
    /// Weeks starting Monday 00:00 UTC (1970-01-01 was a Thursday).
    @inlinable public static func utcWeek(_ day: Int64) -> Int64 {
        let d = day + 3
        return d >= 0 ? d / 7 : (d - 6) / 7
    }

    /// Feeds the current equity (call on every mark and fill). Returns the transition, if any:
    /// the most severe breaker that trips, else a lifted daily reduction on a new UTC day.
    public mutating func observe(equityMoney: Int64, wallNs: WallNanos) -> RiskEvent? {
        var lifted = false
        let day = Self.utcDay(wallNs)
        if day > dayIndex {
            dayIndex = day
            dayStartEquityMoney = equityMoney
            if state == .reducing && cause == .dailyLoss { lifted = true }
            let week = Self.utcWeek(day)
            if week > weekIndex {
                weekIndex = week
                weekStartEquityMoney = equityMoney
            }
        }
        if equityMoney > peakEquityMoney { peakEquityMoney = equityMoney }
        if state != .halted {
            if let e = trip(.drawdown, base: peakEquityMoney, equity: equityMoney, ppm: limits.drawdownPartsPerMillion, to: .halted, wallNs) { return e }
            if let e = trip(.weeklyLoss, base: weekStartEquityMoney, equity: equityMoney, ppm: limits.weeklyLossPartsPerMillion, to: .halted, wallNs) { return e }
            if state == .active || lifted,
               let e = trip(.dailyLoss, base: dayStartEquityMoney, equity: equityMoney, ppm: limits.dailyLossPartsPerMillion, to: .reducing, wallNs) {
                return e
            }
        }
        if lifted {
            let from = state
            state = .active
            cause = nil
            return event(.stateChange, .newTradingDay, from: from, observed: equityMoney, limit: 0, wallNs)
        }
        return nil
    }

    /// Engages the kill switch: halted until `resume`. Always returns the event.
    public mutating func engageKillSwitch(equityMoney: Int64, wallNs: WallNanos) -> RiskEvent {
        let from = state
        state = .halted
        cause = .killSwitch
        killSwitchEngaged = true
        return event(.killSwitch, .killSwitch, from: from, observed: equityMoney, limit: 0, wallNs)
    }

    /// Manual resume: back to active, day/week/peak rebased at `equityMoney`. nil when already active.
    public mutating func resume(equityMoney: Int64, wallNs: WallNanos) -> RiskEvent? {
        dayIndex = max(dayIndex, Self.utcDay(wallNs))
        weekIndex = max(weekIndex, Self.utcWeek(dayIndex))
        dayStartEquityMoney = equityMoney
        weekStartEquityMoney = equityMoney
        peakEquityMoney = equityMoney
        guard state != .active else { return nil }
        let from = state
        state = .active
        cause = nil
        killSwitchEngaged = false
        return event(.stateChange, .manualResume, from: from, observed: equityMoney, limit: 0, wallNs)
    }

    private mutating func trip(_ reason: BreakerReason, base: Int64, equity: Int64, ppm: Int64, to: TradingState, _ wallNs: WallNanos) -> RiskEvent? {
        let loss = Int128(base) - Int128(equity)
        guard base > 0, loss > 0, loss * 1_000_000 >= Int128(base) * Int128(ppm) else { return nil }
        let from = state
        state = to
        cause = reason
        return event(.breakerTripped, reason, from: from, observed: MoneyScale.saturate(loss),
                     limit: MoneyScale.saturate(Int128(base) * Int128(ppm) / 1_000_000), wallNs)
    }

    private func event(_ kind: RiskEventKind, _ reason: BreakerReason, from: TradingState, observed: Int64, limit: Int64, _ wallNs: WallNanos) -> RiskEvent {
        RiskEvent(kind: kind, scope: .global, reason: reason.rawValue, fromState: from, toState: state,
                  observed: observed, limit: limit, receiveWallNs: wallNs)
    }
}
