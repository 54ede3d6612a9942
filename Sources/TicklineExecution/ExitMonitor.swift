import TicklineCore
import TicklineRisk

/// How one position is to be exited. Price levels in the instrument's price units (0 = none).
public struct ExitPlan: Sendable, Equatable {
    public var takeProfit: Price
    public var stopLoss: Price
    /// Trailing stop: exit when the price falls this far from the best price since entry
    /// (longs; rises, for shorts), or since it was set on a position that had none. 0 = none.
    public var trailingDistanceUnits: Int64
    /// Time stop: exit this long after entry. 0 = none.
    public var maxHoldNs: Nanos
    /// Intraday positions are also closed at the session end.
    public var horizon: Horizon

    public init(takeProfit: Price = .zero, stopLoss: Price = .zero, trailingDistanceUnits: Int64 = 0, maxHoldNs: Nanos = 0,
                horizon: Horizon = .swing) {
        self.takeProfit = takeProfit
        self.stopLoss = stopLoss
        self.trailingDistanceUnits = trailingDistanceUnits
        self.maxHoldNs = maxHoldNs
        self.horizon = horizon
    }
}

extension ExitPlan {
    /// Whether the position's trailing best and time-stop deadline are journaled (so that a
    /// restart restores them).
    public var journalsExitState: Bool { trailingDistanceUnits > 0 || maxHoldNs > 0 }
}

public enum ExitReason: UInt8, Sendable, CaseIterable {
    case takeProfit = 1
    case stopLoss = 2
    case trailingStop = 3
    case timeStop = 4
    case sessionEnd = 5
    /// A flatten command.
    case flatten = 6
    /// The kill switch flattening every position.
    case killSwitch = 7

    /// The name counts and metrics use.
    public var label: StaticString {
        switch self {
        case .takeProfit: return "take_profit"
        case .stopLoss: return "stop_loss"
        case .trailingStop: return "trailing_stop"
        case .timeStop: return "time_stop"
        case .sessionEnd: return "session_end"
        case .flatten: return "flatten"
        case .killSwitch: return "kill_switch"
        }
    }
}

public struct ExitMonitorConfig: Sendable, Equatable {
    /// Time of day (ns after 00:00 UTC) when the session ends and intraday positions are
    /// closed. Default 23:55 UTC (crypto trades around the clock; the UTC day is the session).
    public var sessionEndUtcNs: Nanos = (23 * 3_600 + 55 * 60) * 1_000_000_000
    /// After an exit is emitted, the position is not exited again for this long (the exit
    /// order is in flight or was denied); then it is retried if still open. Default 1 s.
    public var retryNs: Nanos = 1_000_000_000

    public init() {}
}

/// Post-trade exits: take-profit, stop-loss, trailing stop, time stop and
/// intraday session end for every open position (strategy × symbol), checked on every
/// price update. Exits are reduce-only `SignalEvent`s for `PreTradeRisk.decide` (which lets
/// them through when reducing or halted).
///
/// Cost per price update: positions are indexed by instrument, and each instrument keeps the
/// band of prices inside which none of its positions can trigger (the nearest take-profit,
/// stop and trailing-stop levels on each side, the lowest best-price a trailing stop would
/// move with, the earliest deadline). An update inside the band is O(1) whatever the number
/// of positions; one outside it scans that instrument's positions only (O(k) for k on the
/// symbol), exits what triggered and recomputes the band. A trailing stop moves the band
/// only when the price makes a new best since the last scan.
///
/// `nowNs` is wall-clock time (session ends are times of day). Storage is allocated in `init`
/// (strategies × instruments slots); nothing allocates afterwards. Owned by one agent
/// thread; not thread-safe.
public struct ExitMonitor: Sendable {
    public let strategyCapacity: Int
    public let instrumentCapacity: Int
    public var config: ExitMonitorConfig

    // Per pair (strategy × instrumentCapacity + instrument).
    private var quantity: [Int64]
    private var plan: [ExitPlan]
    /// Best price since entry: highest for longs, lowest for shorts.
    private var best: [Int64]
    private var deadline: [WallNanos]
    private var sessionDeadline: [WallNanos]
    private var pendingUntil: [WallNanos]
    /// Money at risk between entry and the stop-loss, money units (0 without a stop or when the stop is past entry).
    private var pairMoneyAtRisk: [Int64]
    private var strategyMoneyAtRisk: [Int64]
    /// Σ money at risk over every open position with a stop-loss, money units.
    public private(set) var moneyAtRiskMoney: Int64 = 0
    private var next: [Int32]
    private var prev: [Int32]
    /// Positions whose trailing best moved since `takeMovedBests` last reported them:
    /// `moved[0..<movedCount]`, each at most once (`isMoved`).
    private var moved: [Int32]
    private var movedCount = 0
    /// The earliest time a position in `moved` is due for a report (`.min`: one may be due now).
    private var movedDueNs: WallNanos = .min
    private var isMoved: [Bool]
    private var bestReportedNs: [WallNanos]
    /// Positions with a trailing or time stop an exit was emitted for since `takeFired`:
    /// `fired[0..<firedCount]`, each at most once, with the last reason (`firedReason`, 0 = none).
    private var fired: [Int32]
    private var firedCount = 0
    private var firedReason: [UInt8]
    // Per instrument.
    private var head: [Int32]
    private var priceDecimals: [UInt8]
    private var quantityDecimals: [UInt8]
    private var lastPrice: [Int64]
    private var upTrigger: [Int64]
    private var downTrigger: [Int64]
    private var longBestFloor: [Int64]
    private var shortBestCeiling: [Int64]
    private var earliest: [WallNanos]
    /// A lower bound of every instrument's earliest deadline (for `checkTime`).
    private var globalEarliest: WallNanos = .max

    public private(set) var openPositions = 0
    /// Instrument scans (updates outside the band).
    public private(set) var scans: UInt64 = 0

    public init(strategyCapacity: Int, instrumentCapacity: Int, config: ExitMonitorConfig = ExitMonitorConfig()) {
        precondition(strategyCapacity >= 1 && instrumentCapacity >= 1 && strategyCapacity * instrumentCapacity < Int(Int32.max),
                     "exit monitor capacities \(strategyCapacity) × \(instrumentCapacity) out of range")
        self.strategyCapacity = strategyCapacity
        self.instrumentCapacity = instrumentCapacity
        self.config = config
        let pairs = strategyCapacity * instrumentCapacity
        quantity = Array(repeating: 0, count: pairs)
        plan = Array(repeating: ExitPlan(), count: pairs)
        best = Array(repeating: 0, count: pairs)
        deadline = Array(repeating: .max, count: pairs)
        sessionDeadline = Array(repeating: .max, count: pairs)
        pendingUntil = Array(repeating: 0, count: pairs)
        pairMoneyAtRisk = Array(repeating: 0, count: pairs)
        strategyMoneyAtRisk = Array(repeating: 0, count: strategyCapacity)
        next = Array(repeating: -1, count: pairs)
        prev = Array(repeating: -1, count: pairs)
        moved = Array(repeating: -1, count: pairs)
        isMoved = Array(repeating: false, count: pairs)
        bestReportedNs = Array(repeating: .min, count: pairs)
        fired = Array(repeating: -1, count: pairs)
        firedReason = Array(repeating: 0, count: pairs)
        head = Array(repeating: -1, count: instrumentCapacity)
        priceDecimals = Array(repeating: 0, count: instrumentCapacity)
        quantityDecimals = Array(repeating: 0, count: instrumentCapacity)
        lastPrice = Array(repeating: 0, count: instrumentCapacity)
        upTrigger = Array(repeating: .max, count: instrumentCapacity)
        downTrigger = Array(repeating: .min, count: instrumentCapacity)
        longBestFloor = Array(repeating: .max, count: instrumentCapacity)
        shortBestCeiling = Array(repeating: .min, count: instrumentCapacity)
        earliest = Array(repeating: .max, count: instrumentCapacity)
    }

    /// Declares an instrument's decimals (cold path; exits carry them). Traps out of range.
    public mutating func register(instrument: InstrumentId, priceDecimals pd: UInt8, quantityDecimals qd: UInt8) {
        precondition(Int(instrument) < instrumentCapacity, "instrument \(instrument) ≥ capacity \(instrumentCapacity)")
        priceDecimals[Int(instrument)] = pd
        quantityDecimals[Int(instrument)] = qd
    }

    /// The next session end strictly after `wallNs`.
    public func sessionEnd(after wallNs: WallNanos) -> WallNanos {
        let day = 86_400_000_000_000 as Nanos
        let ns = wallNs.ns
        let midnight = ns >= 0 ? ns - ns % day : ns - ((ns % day) + day) % day
        let end = midnight + config.sessionEndUtcNs
        return WallNanos(end > ns ? end : end + day)
    }

    /// A strategy's position on a symbol changed (after a fill): `quantityUnits` signed (0 =
    /// flat: stop watching), `entryPriceUnits` its average price, `plan` its exits. A new
    /// position or a reversal starts its trailing best and its time stop now; a position
    /// that grows or shrinks keeps them. Any pending exit is re-armed. O(1): the band only
    /// tightens here (a stale, tighter band costs one scan, which recomputes it).
    /// Returns false for out-of-range ids.
    @discardableResult
    public mutating func setPosition(strategy: StrategyId, instrument: InstrumentId, quantityUnits: Int64,
                                     entryPriceUnits: Int64, plan newPlan: ExitPlan, nowNs: WallNanos) -> Bool {
        let s = Int(strategy), i = Int(instrument)
        guard s < strategyCapacity, i < instrumentCapacity else { return false }
        let p = s * instrumentCapacity + i
        let was = quantity[p]
        setMoneyAtRisk(p, s, i, quantityUnits, entryPriceUnits, newPlan.stopLoss.units)
        if quantityUnits == 0 {
            if was != 0 { unlink(p, i) }
            quantity[p] = 0
            return true  // the band stays as it was: tighter than needed, so at worst one extra scan recomputes it
        }
        let fresh = was == 0 || (was > 0) != (quantityUnits > 0)
        if was == 0 { link(p, i) }
        // The best price is followed only while a trailing stop is set: one set on a position
        // that had none trails from the last price.
        if !fresh, plan[p].trailingDistanceUnits == 0, newPlan.trailingDistanceUnits > 0, lastPrice[i] > 0 { best[p] = lastPrice[i] }
        quantity[p] = quantityUnits
        plan[p] = newPlan
        pendingUntil[p] = 0
        if fresh {
            bestReportedNs[p] = nowNs  // the opening is journaled with its best
            best[p] = max(entryPriceUnits, 0)
            deadline[p] = newPlan.maxHoldNs > 0 ? nowNs &+ newPlan.maxHoldNs : .max
            sessionDeadline[p] = newPlan.horizon == .intraday ? sessionEnd(after: nowNs) : .max
        }
        tighten(p, i)
        return true
    }

    /// A restart: puts back the trailing best and the absolute time-stop deadline a position
    /// had (as journaled), after `setPosition` watched it again. `deadlineWallNs` `.max` = no
    /// time stop. Returns false for out-of-range ids or a position not watched. O(positions on
    /// the instrument).
    @discardableResult
    public mutating func restore(strategy: StrategyId, instrument: InstrumentId, bestPriceUnits: Int64, deadlineWallNs: WallNanos) -> Bool {
        let s = Int(strategy), i = Int(instrument)
        guard s < strategyCapacity, i < instrumentCapacity else { return false }
        let p = s * instrumentCapacity + i
        guard quantity[p] != 0 else { return false }
        if bestPriceUnits > 0 { best[p] = bestPriceUnits }
        deadline[p] = deadlineWallNs
        // Either may move the band either way: recomputed from every position of the instrument.
        recomputeBand(i)
        return true
    }

    /// The plan a position is watched with (the empty plan when flat or out of range).
    public func plan(strategy: StrategyId, instrument: InstrumentId) -> ExitPlan {
        guard let p = pair(strategy, instrument), quantity[p] != 0 else { return ExitPlan() }
        return plan[p]
    }

    /// When a position's time stop fires, wall ns (`.max` without one, when flat or out of range).
    public func timeStopDeadline(strategy: StrategyId, instrument: InstrumentId) -> WallNanos {
        guard let p = pair(strategy, instrument), quantity[p] != 0 else { return .max }
        return deadline[p]
    }

    /// The slot of a (strategy, instrument) pair; nil out of range.
    private func pair(_ strategy: StrategyId, _ instrument: InstrumentId) -> Int? {
        let s = Int(strategy), i = Int(instrument)
        guard s < strategyCapacity, i < instrumentCapacity else { return nil }
        return s * instrumentCapacity + i
    }

    /// Calls `body` with each open position whose trailing best moved since it was last
    /// reported here, at most once per `intervalNs` per position and `limit` positions per
    /// call (the others stay for a later call). O(1) until one is due, then O(positions
    /// moved); no allocation.
    public mutating func takeMovedBests(nowNs: WallNanos, intervalNs: Nanos, limit: Int = .max,
                                        _ body: (_ strategy: StrategyId, _ instrument: InstrumentId, _ best: Int64, _ deadline: WallNanos) -> Void) {
        guard movedCount > 0, nowNs >= movedDueNs else { return }
        var kept = 0
        var reported = 0
        var due = WallNanos.max
        for k in 0..<movedCount {
            let p = Int(moved[k])
            if quantity[p] == 0 {
                isMoved[p] = false
            } else if reported < limit && (nowNs &- bestReportedNs[p] >= intervalNs || bestReportedNs[p] == .min) {
                reported += 1
                isMoved[p] = false
                bestReportedNs[p] = nowNs
                body(StrategyId(p / instrumentCapacity), InstrumentId(p % instrumentCapacity), best[p], deadline[p])
            } else {
                moved[kept] = Int32(p)
                kept += 1
                due = reported < limit ? min(due, bestReportedNs[p] &+ intervalNs) : .min
            }
        }
        movedCount = kept
        movedDueNs = due
    }

    /// Calls `body` once for each position with a trailing or time stop that an exit was
    /// emitted for since the last call (the last reason, its best and deadline now). O(exits
    /// emitted); no allocation.
    public mutating func takeFired(_ body: (_ strategy: StrategyId, _ instrument: InstrumentId, _ reason: ExitReason, _ best: Int64,
                                            _ deadline: WallNanos) -> Void) {
        for k in 0..<firedCount {
            let p = Int(fired[k])
            if let reason = ExitReason(rawValue: firedReason[p]) {
                body(StrategyId(p / instrumentCapacity), InstrumentId(p % instrumentCapacity), reason, best[p], deadline[p])
            }
            firedReason[p] = 0
        }
        firedCount = 0
    }

    /// A new price for `instrument`: exits every position whose take-profit, stop, trailing
    /// stop or time stop it triggers (calls `emit` with the reduce-only signal and the
    /// reason). O(1) inside the instrument's band, O(positions on it) outside. Returns the
    /// number of exits emitted.
    @discardableResult
    public mutating func onPrice(instrument: InstrumentId, price: Price, nowNs: WallNanos,
                                 emit: (SignalEvent, ExitReason) -> Void) -> Int {
        let i = Int(instrument)
        guard i < instrumentCapacity, price.units > 0 else { return 0 }
        let px = price.units
        lastPrice[i] = px
        if px < upTrigger[i], px > downTrigger[i], px <= longBestFloor[i], px >= shortBestCeiling[i], nowNs < earliest[i] {
            return 0
        }
        return scan(i, px, nowNs, emit)
    }

    /// Time passes without prices: exits positions whose time stop or session end has come
    /// (at the instrument's last price). O(1) when nothing is due, else O(instruments).
    @discardableResult
    public mutating func checkTime(nowNs: WallNanos, emit: (SignalEvent, ExitReason) -> Void) -> Int {
        guard nowNs >= globalEarliest else { return 0 }
        var exits = 0
        var nextEarliest: WallNanos = .max
        for i in 0..<instrumentCapacity where head[i] >= 0 {
            if nowNs >= earliest[i], lastPrice[i] > 0 { exits += scan(i, lastPrice[i], nowNs, emit) }
            nextEarliest = min(nextEarliest, earliest[i])
        }
        globalEarliest = nextEarliest
        return exits
    }

    /// Kill switch / flatten: a reduce-only exit for every open position, at each
    /// instrument's last price (positions on instruments without a price yet are skipped
    /// and counted in the return's second value). O(instruments + positions).
    @discardableResult
    public mutating func flattenAll(nowNs: WallNanos, emit: (SignalEvent, ExitReason) -> Void) -> (exits: Int, withoutPrice: Int) {
        var exits = 0, skipped = 0
        for i in 0..<instrumentCapacity {
            var p = head[i]
            while p >= 0 {
                if lastPrice[i] > 0 {
                    emitExit(Int(p), i, lastPrice[i], .flatten, nowNs, emit)
                    exits += 1
                } else {
                    skipped += 1
                }
                p = next[Int(p)]
            }
            recomputeBand(i)
        }
        return (exits, skipped)
    }

    /// The watched quantity of a position (0 when flat or out of range).
    public func watchedQuantity(strategy: StrategyId, instrument: InstrumentId) -> Int64 {
        guard let p = pair(strategy, instrument) else { return 0 }
        return quantity[p]
    }

    /// Money at risk of one position: |quantity| × (entry − stop) for a long, (stop − entry)
    /// for a short, in money units; 0 without a stop-loss or with the stop past entry (a
    /// trailing stop is not counted). O(1).
    public func moneyAtRisk(strategy: StrategyId, instrument: InstrumentId) -> Int64 {
        pairMoneyAtRisk[Int(strategy) * instrumentCapacity + Int(instrument)]
    }

    /// Σ money at risk of one strategy's positions. O(1).
    public func moneyAtRisk(strategy: StrategyId) -> Int64 { strategyMoneyAtRisk[Int(strategy)] }

    /// The trailing best price of a position (highest since entry for longs, lowest for shorts;
    /// 0 out of range).
    public func bestPrice(strategy: StrategyId, instrument: InstrumentId) -> Int64 {
        guard let p = pair(strategy, instrument) else { return 0 }
        return best[p]
    }

    // MARK: Internals

    private mutating func setMoneyAtRisk(_ p: Int, _ s: Int, _ i: Int, _ q: Int64, _ entry: Int64, _ stop: Int64) {
        var value: Int64 = 0
        if q != 0, stop > 0 {
            let distance = q > 0 ? entry - stop : stop - entry
            if distance > 0 {
                value = MoneyScale.notional(priceUnits: distance, quantityUnits: q > 0 ? q : -q,
                                            priceDecimals: priceDecimals[i], quantityDecimals: quantityDecimals[i])
            }
        }
        let delta = value &- pairMoneyAtRisk[p]
        pairMoneyAtRisk[p] = value
        strategyMoneyAtRisk[s] &+= delta
        moneyAtRiskMoney &+= delta
    }

    private mutating func scan(_ i: Int, _ px: Int64, _ nowNs: WallNanos, _ emit: (SignalEvent, ExitReason) -> Void) -> Int {
        scans &+= 1
        var exits = 0
        var p = head[i]
        while p >= 0 {
            let k = Int(p)
            p = next[k]
            let q = quantity[k]
            let pl = plan[k]
            if q > 0 ? px > best[k] : px < best[k] || best[k] == 0 {
                best[k] = px
                if pl.trailingDistanceUnits > 0 && !isMoved[k] {
                    isMoved[k] = true
                    moved[movedCount] = Int32(k)
                    movedCount += 1
                    movedDueNs = .min  // checked at the next call
                }
            }
            guard nowNs >= pendingUntil[k] else { continue }
            var reason: ExitReason?
            let tp = pl.takeProfit.units, sl = pl.stopLoss.units, trail = pl.trailingDistanceUnits
            if q > 0 {
                if sl > 0 && px <= sl { reason = .stopLoss }
                else if trail > 0 && px <= best[k] - trail { reason = .trailingStop }
                else if tp > 0 && px >= tp { reason = .takeProfit }
            } else {
                if sl > 0 && px >= sl { reason = .stopLoss }
                else if trail > 0 && px >= best[k] + trail { reason = .trailingStop }
                else if tp > 0 && px <= tp { reason = .takeProfit }
            }
            if reason == nil {
                if nowNs >= sessionDeadline[k] { reason = .sessionEnd } else if nowNs >= deadline[k] { reason = .timeStop }
            }
            if let reason {
                emitExit(k, i, px, reason, nowNs, emit)
                exits += 1
            } else {
                pendingUntil[k] = 0  // retry time passed and nothing triggers: armed again
            }
        }
        recomputeBand(i)
        return exits
    }

    private mutating func emitExit(_ k: Int, _ i: Int, _ px: Int64, _ reason: ExitReason, _ nowNs: WallNanos,
                                   _ emit: (SignalEvent, ExitReason) -> Void) {
        let q = quantity[k]
        pendingUntil[k] = nowNs &+ config.retryNs
        if plan[k].journalsExitState {
            if firedReason[k] == 0 {
                fired[firedCount] = Int32(k)
                firedCount += 1
            }
            firedReason[k] = reason.rawValue
        }
        emit(SignalEvent(instrument: InstrumentId(i), strategy: StrategyId(k / instrumentCapacity), side: q > 0 ? .sell : .buy,
                         sizing: .quantity, quantity: Quantity(units: q > 0 ? q : -q), entryPrice: Price(units: px),
                         horizon: plan[k].horizon, priceDecimals: priceDecimals[i], quantityDecimals: quantityDecimals[i],
                         flags: SignalEvent.flagReduceOnly, receiveWallNs: nowNs), reason)
    }

    /// The instrument's band: the nearest trigger on each side among armed positions, the
    /// trailing bests a new extreme would move, and the earliest time anything is due.
    private mutating func recomputeBand(_ i: Int) {
        var up = Int64.max, down = Int64.min, longFloor = Int64.max, shortCeiling = Int64.min, due = WallNanos.max
        var p = head[i]
        while p >= 0 {
            let k = Int(p)
            p = next[k]
            if pendingUntil[k] > 0 {
                // An exit is in flight: only its retry time matters until then, and its
                // trailing best, which must keep following the price.
                due = min(due, pendingUntil[k])
                if plan[k].trailingDistanceUnits > 0 {
                    if quantity[k] > 0 { longFloor = min(longFloor, best[k]) } else { shortCeiling = max(shortCeiling, best[k]) }
                }
                continue
            }
            bounds(k, &up, &down, &longFloor, &shortCeiling, &due)
        }
        upTrigger[i] = up
        downTrigger[i] = down
        longBestFloor[i] = longFloor
        shortBestCeiling[i] = shortCeiling
        earliest[i] = due
        globalEarliest = min(globalEarliest, due)
    }

    /// Narrows the instrument's band by one position (O(1)).
    private mutating func tighten(_ k: Int, _ i: Int) {
        // Through locals: passing `&upTrigger[i]` to a method of `self` keeps a second
        // reference to the array for the call, so the write copied it (an allocation per fill).
        var up = upTrigger[i], down = downTrigger[i], longFloor = longBestFloor[i], shortCeiling = shortBestCeiling[i]
        var due = earliest[i]
        bounds(k, &up, &down, &longFloor, &shortCeiling, &due)
        upTrigger[i] = up
        downTrigger[i] = down
        longBestFloor[i] = longFloor
        shortBestCeiling[i] = shortCeiling
        earliest[i] = due
        globalEarliest = min(globalEarliest, due)
    }

    private func bounds(_ k: Int, _ up: inout Int64, _ down: inout Int64, _ longFloor: inout Int64, _ shortCeiling: inout Int64,
                        _ due: inout WallNanos) {
        let pl = plan[k]
        due = min(due, min(deadline[k], sessionDeadline[k]))  // not the variadic min: it builds an array
        let tp = pl.takeProfit.units, sl = pl.stopLoss.units, trail = pl.trailingDistanceUnits
        if quantity[k] > 0 {
            if tp > 0 { up = min(up, tp) }
            if sl > 0 { down = max(down, sl) }
            if trail > 0 {
                down = max(down, best[k] - trail)
                longFloor = min(longFloor, best[k])
            }
        } else {
            if tp > 0 { down = max(down, tp) }
            if sl > 0 { up = min(up, sl) }
            if trail > 0 {
                up = min(up, best[k] + trail)
                shortCeiling = max(shortCeiling, best[k])
            }
        }
    }

    private mutating func link(_ p: Int, _ i: Int) {
        let h = head[i]
        next[p] = h
        prev[p] = -1
        if h >= 0 { prev[Int(h)] = Int32(p) }
        head[i] = Int32(p)
        openPositions += 1
    }

    private mutating func unlink(_ p: Int, _ i: Int) {
        if prev[p] >= 0 { next[Int(prev[p])] = next[p] } else { head[i] = next[p] }
        if next[p] >= 0 { prev[Int(next[p])] = prev[p] }
        next[p] = -1
        prev[p] = -1
        pendingUntil[p] = 0
        openPositions -= 1
    }
}
