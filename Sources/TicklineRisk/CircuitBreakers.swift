import TicklineCore

/// Circuit breakers on account equity:
/// - daily loss ≥ `dailyLossPartsPerMillion` of the UTC day's starting equity → reducing,
///   lifted by the next UTC day or a manual resume;
/// - weekly loss ≥ `weeklyLossPartsPerMillion` of the week's (Monday 00:00 UTC) starting
///   equity → halted until a manual resume;
/// - monthly loss ≥ `monthlyLossPartsPerMillion` of the calendar month's (the 1st, 00:00 UTC)
///   starting equity → halted until a manual resume;
/// - drawdown ≥ `drawdownPartsPerMillion` of the peak → halted until a manual resume;
/// - the kill switch → halted until a manual resume.
/// A manual resume rebases the day, week, month and peak at the current equity. Every transition is
/// returned as a `RiskEvent` (scope global, reason a `BreakerReason`, observed/limit in money
/// units); the caller journals it and applies `toState` to `PreTradeRisk.setGlobalState`.
/// Cancelling open orders and flattening are the execution stage's part (not here).
/// Everything but the limits is `snapshot`, which the risk stage journals and `restore`
/// puts back at start, so baselines, a trip and the kill latch outlive a restart.
/// Owned by one agent thread; not thread-safe; no allocation.
public struct CircuitBreakers: Sendable {
    public static let nanosPerDay: Int64 = 86_400_000_000_000

    public var limits: RiskLimits
    /// The breakers' whole state (the limits aside).
    public private(set) var snapshot: BreakerSnapshot

    public var state: TradingState { snapshot.state }
    /// The kill switch is latched: only a manual resume lifts it.
    public var killSwitchEngaged: Bool { snapshot.killSwitchEngaged }
    /// The reason of the current non-active state.
    public var cause: BreakerReason? { snapshot.cause }
    public var dayIndex: Int64 { snapshot.dayIndex }
    public var weekIndex: Int64 { snapshot.weekIndex }
    public var monthIndex: Int64 { snapshot.monthIndex }
    public var dayStartEquityMoney: Int64 { snapshot.dayStartEquityMoney }
    public var weekStartEquityMoney: Int64 { snapshot.weekStartEquityMoney }
    public var monthStartEquityMoney: Int64 { snapshot.monthStartEquityMoney }
    public var peakEquityMoney: Int64 { snapshot.peakEquityMoney }

    public init(limits: RiskLimits = RiskLimits(), equityMoney: Int64, wallNs: WallNanos) {
        self.limits = limits
        let day = Self.utcDay(wallNs)
        snapshot = BreakerSnapshot(dayIndex: day, weekIndex: Self.utcWeek(day), monthIndex: Self.utcMonth(day), equityMoney: equityMoney)
    }

    /// Puts back a state `snapshot` took (read from the journal at start). The next
    /// `observe` rolls the day, week and month from there, as it would have live.
    public mutating func restore(_ saved: BreakerSnapshot) { snapshot = saved }

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
    /// The day (since the epoch) of `week`'s Monday.
    @inlinable public static func firstDay(ofWeek week: Int64) -> Int64 { week * 7 - 3 }
    /// Calendar months since January 1970 (UTC): `(year − 1970) × 12 + month − 1`.
    @inlinable public static func utcMonth(_ day: Int64) -> Int64 {
        let c = civil(day)
        return (c.year - 1970) * 12 + c.month - 1
    }

    /// The proleptic Gregorian date of `day` (days since 1970-01-01): year, month 1…12, day 1…31
    /// (H. Hinnant's `civil_from_days`, exact for every Int64 day a clock can give).
    @inlinable public static func civil(_ day: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Feeds the current equity (call on every mark and fill). Returns the transition, if any:
    /// the most severe breaker that trips, else a lifted daily reduction on a new UTC day.
    public mutating func observe(equityMoney: Int64, wallNs: WallNanos) -> RiskEvent? {
        var lifted = false
        let day = Self.utcDay(wallNs)
        if day > snapshot.dayIndex {
            snapshot.dayIndex = day
            snapshot.dayStartEquityMoney = equityMoney
            if state == .reducing && cause == .dailyLoss { lifted = true }
            let week = Self.utcWeek(day)
            if week > snapshot.weekIndex {
                snapshot.weekIndex = week
                snapshot.weekStartEquityMoney = equityMoney
            }
            let month = Self.utcMonth(day)
            if month > snapshot.monthIndex {
                snapshot.monthIndex = month
                snapshot.monthStartEquityMoney = equityMoney
            }
        }
        if equityMoney > snapshot.peakEquityMoney { snapshot.peakEquityMoney = equityMoney }
        if state != .halted {
            if let e = trip(.drawdown, base: peakEquityMoney, equity: equityMoney, ppm: limits.drawdownPartsPerMillion, to: .halted, wallNs) { return e }
            if let e = trip(.weeklyLoss, base: weekStartEquityMoney, equity: equityMoney, ppm: limits.weeklyLossPartsPerMillion, to: .halted, wallNs) { return e }
            if let e = trip(.monthlyLoss, base: monthStartEquityMoney, equity: equityMoney, ppm: limits.monthlyLossPartsPerMillion, to: .halted, wallNs) {
                return e
            }
            if state == .active || lifted,
               let e = trip(.dailyLoss, base: dayStartEquityMoney, equity: equityMoney, ppm: limits.dailyLossPartsPerMillion, to: .reducing, wallNs) {
                return e
            }
        }
        if lifted {
            let from = state
            snapshot.state = .active
            snapshot.causeRaw = 0
            return event(.stateChange, .newTradingDay, from: from, observed: equityMoney, limit: 0, wallNs)
        }
        return nil
    }

    /// Engages the kill switch: halted until `resume`. Always returns the event.
    public mutating func engageKillSwitch(equityMoney: Int64, wallNs: WallNanos) -> RiskEvent {
        let from = state
        snapshot.state = .halted
        snapshot.causeRaw = BreakerReason.killSwitch.rawValue
        snapshot.killSwitchEngaged = true
        return event(.killSwitch, .killSwitch, from: from, observed: equityMoney, limit: 0, wallNs)
    }

    /// Manual resume: back to active, day/week/month/peak rebased at `equityMoney`. nil when already active.
    public mutating func resume(equityMoney: Int64, wallNs: WallNanos) -> RiskEvent? {
        let day = max(snapshot.dayIndex, Self.utcDay(wallNs))
        let from = state
        snapshot = BreakerSnapshot(dayIndex: day, weekIndex: max(snapshot.weekIndex, Self.utcWeek(day)),
                                   monthIndex: max(snapshot.monthIndex, Self.utcMonth(day)), equityMoney: equityMoney)
        guard from != .active else { return nil }
        return event(.stateChange, .manualResume, from: from, observed: equityMoney, limit: 0, wallNs)
    }

    private mutating func trip(_ reason: BreakerReason, base: Int64, equity: Int64, ppm: Int64, to: TradingState, _ wallNs: WallNanos) -> RiskEvent? {
        let loss = Int128(base) - Int128(equity)
        guard base > 0, loss > 0, loss * 1_000_000 >= Int128(base) * Int128(ppm) else { return nil }
        let from = state
        snapshot.state = to
        snapshot.causeRaw = reason.rawValue
        return event(.breakerTripped, reason, from: from, observed: MoneyScale.saturate(loss),
                     limit: MoneyScale.saturate(Int128(base) * Int128(ppm) / 1_000_000), wallNs)
    }

    private func event(_ kind: RiskEventKind, _ reason: BreakerReason, from: TradingState, observed: Int64, limit: Int64, _ wallNs: WallNanos) -> RiskEvent {
        RiskEvent(kind: kind, scope: .global, reason: reason.rawValue, fromState: from, toState: state,
                  observed: observed, limit: limit, receiveWallNs: wallNs)
    }
}

/// The circuit breakers' state (limits aside): what the risk stage journals whenever it
/// changes and restores at start. Plain fixed-size value.
public struct BreakerSnapshot: Sendable, Equatable, BitwiseCopyable {
    public var stateRaw: UInt8 = TradingState.active.rawValue
    /// `BreakerReason.rawValue` of the current non-active state (0: none).
    public var causeRaw: UInt16 = 0
    public var killSwitchEngaged = false
    /// UTC days since 1970-01-01, weeks (from Monday) and calendar months since January 1970
    /// (`CircuitBreakers.utcDay`, `utcWeek`, `utcMonth`) whose start equity is below.
    public var dayIndex: Int64 = 0
    public var weekIndex: Int64 = 0
    public var monthIndex: Int64 = 0
    /// Equity when the day, week and month began (or at the last manual resume), money units.
    public var dayStartEquityMoney: Int64 = 0
    public var weekStartEquityMoney: Int64 = 0
    public var monthStartEquityMoney: Int64 = 0
    /// The drawdown breaker's base: the highest equity since start or the last manual resume.
    public var peakEquityMoney: Int64 = 0

    public init() {}

    /// Active, every baseline at `equityMoney`.
    public init(dayIndex: Int64, weekIndex: Int64, monthIndex: Int64, equityMoney: Int64) {
        self.dayIndex = dayIndex
        self.weekIndex = weekIndex
        self.monthIndex = monthIndex
        dayStartEquityMoney = equityMoney
        weekStartEquityMoney = equityMoney
        monthStartEquityMoney = equityMoney
        peakEquityMoney = equityMoney
    }

    /// `.active` for a byte that names no state (a snapshot never holds one).
    public var state: TradingState {
        get { TradingState(rawValue: stateRaw) ?? .active }
        set { stateRaw = newValue.rawValue }
    }

    public var cause: BreakerReason? { BreakerReason(rawValue: causeRaw) }

    /// Brings state, cause and kill latch up to a global breaker event journaled after this
    /// snapshot: the record of the event's own batch, appended after it, may be the torn
    /// last record of a journal a crash cut mid-write. Baselines stay as they are.
    public mutating func follow(_ e: RiskEvent) {
        guard e.scope == .global, let reason = BreakerReason(rawValue: e.reason), let to = e.toState else { return }
        switch reason {
        case .killSwitch:
            state = .halted
            causeRaw = reason.rawValue
            killSwitchEngaged = true
        case .dailyLoss, .weeklyLoss, .monthlyLoss, .drawdown:
            state = to
            causeRaw = reason.rawValue
        case .manualResume, .newTradingDay:
            state = .active
            causeRaw = 0
            killSwitchEngaged = false
        case .journalUnwritable, .journalWritable:
            break
        }
    }

    /// The same but for the peak: a peak move alone is journaled at most once a second.
    public func sameButPeak(_ other: BreakerSnapshot) -> Bool {
        var a = self
        a.peakEquityMoney = other.peakEquityMoney
        return a == other
    }
}
