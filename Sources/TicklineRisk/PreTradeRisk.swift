import TicklineCore

/// A denial: which check, the value it saw and the limit it held against (units per
/// `DenialReason` case), and the scope the check belongs to.
public struct Denial: Sendable, Equatable {
    public var reason: DenialReason
    public var observed: Int64
    public var limit: Int64

    @inlinable
    public init(reason: DenialReason, observed: Int64, limit: Int64) {
        self.reason = reason
        self.observed = observed
        self.limit = limit
    }

    /// The scope the check belongs to (state checks and budget: strategy; symbol checks: symbol).
    @inlinable
    public var scope: RiskScope {
        switch reason {
        case .strategyNotActive, .unknownStrategy, .strategyBudget, .nothingToReduce: .strategy
        case .symbolNotActive, .unknownInstrument, .noReferencePrice, .staleReferencePrice, .precisionMismatch,
             .priceOffTick, .quantityOffStep, .quantityBelowVenueMinimum, .quantityAboveVenueMaximum,
             .notionalBelowVenueMinimum, .priceOutsideCollar, .orderQuantityAboveMaximum, .positionLimit, .selfTrade,
             .valueOutOfRange: .symbol
        default: .global
        }
    }

    /// The denial as the journal's `RiskEvent` for `signal`.
    /// `stampNs`: the risk stage's latency stamp (the real monotonic clock, read per batch).
    @inlinable
    public func riskEvent(for signal: SignalEvent, sequence: UInt64 = 0, stampNs: MonotonicNanos = 0) -> RiskEvent {
        var chain = signal.timestamps
        chain.riskDecidedNs = stampNs
        return RiskEvent(sequence: sequence, kind: .denial, scope: scope, reason: reason.rawValue,
                         instrument: signal.instrument, venue: signal.venue, strategy: signal.strategy, referenceSequence: signal.sequence,
                         observed: observed, limit: limit, venueTimeNs: signal.venueTimeNs,
                         receiveWallNs: signal.receiveWallNs, timestamps: chain)
    }
}

/// What pre-trade risk made of a signal: an order to send, or a denial. Never nothing.
public enum RiskDecision: Sendable {
    case order(OrderEvent)
    case denied(Denial)

    @inlinable public var order: OrderEvent? { if case .order(let o) = self { o } else { nil } }
    @inlinable public var denial: Denial? { if case .denied(let d) = self { d } else { nil } }
}

/// Pre-trade risk: turns every `SignalEvent` into an order or a denial, running the checks
/// in the order `decide` lists. It owns the `Positions` it checks against and
/// the open-order quantities per strategy and symbol (fed back through `apply(fill:)` and
/// `release`). All state is allocated in `init` for instrument ids 0..<instrumentCapacity
/// and strategy ids 0..<strategyCapacity; `decide`, `apply(fill:)` and `updatePrice` do not
/// allocate. Owned by one agent thread; not thread-safe.
///
/// Cost: `decide`, `apply(fill:)`, `release` and `restore` are O(1): the gross and net
/// exposure and each strategy's budget use are running sums of per-symbol (and per-pair)
/// contributions, refreshed when a symbol's price, position or open orders change.
/// `updatePrice` is O(strategies) (the marks and the budget contributions of the symbol).
public struct PreTradeRisk: Sendable {
    public let strategyCapacity: Int
    public let instrumentCapacity: Int
    /// Replaceable at run time (control ring); takes effect on the next decision.
    public var limits: RiskLimits
    public private(set) var positions: Positions

    public private(set) var globalState: TradingState = .active
    @usableFromInline var strategyStateRaw: [UInt8]
    @usableFromInline var symbolStateRaw: [UInt8]

    @usableFromInline var specs: [InstrumentRiskSpec]
    @usableFromInline var known: [Bool]
    @usableFromInline var lastPriceUnits: [Int64]
    @usableFromInline var lastPriceNs: [MonotonicNanos]

    // Per pair (strategy × instrumentCapacity + instrument).
    @usableFromInline var pairOpenBuy: [Int64]
    @usableFromInline var pairOpenSell: [Int64]
    @usableFromInline var pairHorizonRaw: [UInt8]
    @usableFromInline var pairOccupied: [Bool]
    // Per instrument.
    @usableFromInline var symbolOpenBuy: [Int64]
    @usableFromInline var symbolOpenSell: [Int64]
    /// Σ over strategies of worst-case |position| (position plus open orders that grow it).
    @usableFromInline var symbolGrossWorst: [Int64]
    // Per strategy.
    @usableFromInline var strategyBudget: [Int64]

    // Running sums for the exposure and budget checks (money units): each symbol's (pair's)
    // contribution at its last price, and their totals. Refreshed by `refreshSymbol`/`refreshPair`.
    /// notional(last, symbolGrossWorst) per instrument.
    @usableFromInline var grossContribution: [Int64]
    /// notional(last, quantity + open buys) and notional(last, quantity − open sells) per instrument (signed).
    @usableFromInline var netIfBuyContribution: [Int64]
    @usableFromInline var netIfSellContribution: [Int64]
    @usableFromInline var grossTotal: Int128 = 0
    @usableFromInline var netIfBuyTotal: Int128 = 0
    @usableFromInline var netIfSellTotal: Int128 = 0
    /// notional(last, pair worst case) per pair, and its sum per strategy.
    @usableFromInline var pairBudgetContribution: [Int64]
    @usableFromInline var strategyBudgetUsed: [Int128]

    public private(set) var openIntradayPositions: Int = 0
    public private(set) var openSwingPositions: Int = 0

    /// Entries' submit-rate bucket (`submitBurst`, `submitPerSecond`).
    @usableFromInline var entryBucket: TokenBucket
    /// Reduce-only orders' own bucket (`exitSubmitBurst`, `exitSubmitPerSecond`): a burst of
    /// entries never leaves the exits waiting, and exits never use up the entries' budget.
    @usableFromInline var exitBucket: TokenBucket
    public private(set) var nextClientOrderId: UInt64 = 1
    /// The sequence the last order (or cancel) built by this stage carries: orders are
    /// numbered in increasing order as they are built, which is the order they are sent; an
    /// approval taken back before it was sent (`withdraw`) leaves a gap.
    public private(set) var orderSequence: UInt64 = 0
    public private(set) var approved: UInt64 = 0
    /// Denials per `DenialReason.rawValue` (0..<64).
    public private(set) var deniedByReason: [UInt64]

    /// Traps if a capacity is < 1.
    public init(strategyCapacity: Int, instrumentCapacity: Int, limits: RiskLimits = RiskLimits()) {
        precondition(strategyCapacity >= 1 && instrumentCapacity >= 1,
                     "capacities strategies \(strategyCapacity) instruments \(instrumentCapacity) must be ≥ 1")
        self.strategyCapacity = strategyCapacity
        self.instrumentCapacity = instrumentCapacity
        self.limits = limits
        positions = Positions(strategyCapacity: strategyCapacity, instrumentCapacity: instrumentCapacity,
                              startingCapitalMoney: limits.startingCapitalMoney)
        strategyStateRaw = Array(repeating: TradingState.active.rawValue, count: strategyCapacity)
        symbolStateRaw = Array(repeating: TradingState.active.rawValue, count: instrumentCapacity)
        specs = Array(repeating: InstrumentRiskSpec(priceDecimals: 0, quantityDecimals: 0, maxOrderQuantityUnits: 0, positionLimitUnits: 0),
                      count: instrumentCapacity)
        known = Array(repeating: false, count: instrumentCapacity)
        lastPriceUnits = Array(repeating: 0, count: instrumentCapacity)
        lastPriceNs = Array(repeating: 0, count: instrumentCapacity)
        let pairs = strategyCapacity * instrumentCapacity
        pairOpenBuy = Array(repeating: 0, count: pairs)
        pairOpenSell = Array(repeating: 0, count: pairs)
        pairHorizonRaw = Array(repeating: 0, count: pairs)
        pairOccupied = Array(repeating: false, count: pairs)
        symbolOpenBuy = Array(repeating: 0, count: instrumentCapacity)
        symbolOpenSell = Array(repeating: 0, count: instrumentCapacity)
        symbolGrossWorst = Array(repeating: 0, count: instrumentCapacity)
        strategyBudget = Array(repeating: limits.strategyBudgetMoney, count: strategyCapacity)
        grossContribution = Array(repeating: 0, count: instrumentCapacity)
        netIfBuyContribution = Array(repeating: 0, count: instrumentCapacity)
        netIfSellContribution = Array(repeating: 0, count: instrumentCapacity)
        pairBudgetContribution = Array(repeating: 0, count: pairs)
        strategyBudgetUsed = Array(repeating: 0, count: strategyCapacity)
        entryBucket = TokenBucket(burst: limits.submitBurst)
        exitBucket = TokenBucket(burst: limits.exitSubmitBurst)
        deniedByReason = Array(repeating: 0, count: 64)
    }

    // MARK: Cold path: instruments, budgets, states

    /// Registers (or replaces) an instrument. Traps if the id is out of range.
    public mutating func register(instrument: InstrumentId, spec: InstrumentRiskSpec) {
        let i = Int(instrument)
        precondition(i < instrumentCapacity, "instrument \(instrument) ≥ capacity \(instrumentCapacity)")
        specs[i] = spec
        known[i] = true
        refreshSymbolAndPairs(i)
        positions.register(instrument: instrument, priceDecimals: spec.priceDecimals, quantityDecimals: spec.quantityDecimals)
    }

    /// Sets one strategy's budget, money units. Traps if the id is out of range.
    public mutating func setBudget(strategy: StrategyId, money: Int64) {
        precondition(Int(strategy) < strategyCapacity, "strategy \(strategy) ≥ capacity \(strategyCapacity)")
        strategyBudget[Int(strategy)] = money
    }

    public mutating func setGlobalState(_ state: TradingState) { globalState = state }

    /// One strategy's own state (nil for an out-of-range id).
    public func state(strategy: StrategyId) -> TradingState? {
        Int(strategy) < strategyCapacity ? TradingState(rawValue: strategyStateRaw[Int(strategy)]) : nil
    }

    /// One symbol's own state (nil for an out-of-range id).
    public func state(instrument: InstrumentId) -> TradingState? {
        Int(instrument) < instrumentCapacity ? TradingState(rawValue: symbolStateRaw[Int(instrument)]) : nil
    }

    /// Returns false for an out-of-range id.
    @discardableResult
    public mutating func setState(_ state: TradingState, strategy: StrategyId) -> Bool {
        guard Int(strategy) < strategyCapacity else { return false }
        strategyStateRaw[Int(strategy)] = state.rawValue
        return true
    }

    /// Returns false for an out-of-range id.
    @discardableResult
    public mutating func setState(_ state: TradingState, instrument: InstrumentId) -> Bool {
        guard Int(instrument) < instrumentCapacity else { return false }
        symbolStateRaw[Int(instrument)] = state.rawValue
        return true
    }

    // MARK: Hot path: prices, fills, releases

    /// A new last price: becomes the reference price (collar, freshness, exposure) and marks
    /// the positions. Returns false for an unknown instrument or a non-positive price.
    @discardableResult
    public mutating func updatePrice(instrument: InstrumentId, price: Price, nowNs: MonotonicNanos) -> Bool {
        let i = Int(instrument)
        guard i < instrumentCapacity, known[i], price.units > 0 else { return false }
        lastPriceUnits[i] = price.units
        lastPriceNs[i] = nowNs
        positions.mark(instrument: instrument, price: price)
        refreshSymbolAndPairs(i)
        return true
    }

    /// A fill or order status from execution: the filled quantity leaves the open orders and
    /// enters the position; a cancelled/rejected/expired status releases `leavesQuantity`.
    /// Returns false (nothing changed) when `Positions.apply` refuses the fill.
    @discardableResult
    public mutating func apply(fill: FillEvent) -> Bool {
        let i = Int(fill.instrument), s = Int(fill.strategy)
        guard s < strategyCapacity, i < instrumentCapacity, let side = fill.side else { return false }
        let p = s * instrumentCapacity + i
        let before = pairWorst(p, i)
        let wasOccupied = pairOccupied[p]
        guard positions.apply(fill: fill) else { return false }
        reduceOpen(p, i, side, fill.quantity.units)
        switch fill.status {
        case .cancelled, .rejected, .expired: reduceOpen(p, i, side, fill.leavesQuantity.units)
        default: break
        }
        settle(p, i, before: before, wasOccupied: wasOccupied, horizonIfNew: Horizon.swing.rawValue)
        return true
    }

    /// An order ended without a fill event (cancel acknowledged, reject): releases its open
    /// quantity. Returns false for out-of-range ids.
    @discardableResult
    public mutating func release(strategy: StrategyId, instrument: InstrumentId, side: Side, quantity: Quantity) -> Bool {
        let i = Int(instrument), s = Int(strategy)
        guard s < strategyCapacity, i < instrumentCapacity else { return false }
        let p = s * instrumentCapacity + i
        let before = pairWorst(p, i)
        let wasOccupied = pairOccupied[p]
        reduceOpen(p, i, side, quantity.units)
        settle(p, i, before: before, wasOccupied: wasOccupied, horizonIfNew: Horizon.swing.rawValue)
        return true
    }

    /// Takes back an approval `decide` gave for `order`, which will not be sent: its open
    /// quantity is released and it no longer counts as approved.
    public mutating func withdraw(_ order: OrderEvent) {
        release(strategy: order.strategy, instrument: order.instrument, side: order.side ?? .buy, quantity: order.quantity)
        approved &-= 1
        // The order never went out: its submit token goes back (a held signal decided again
        // takes one then).
        if order.flags & OrderEvent.flagReduceOnly != 0 { exitBucket.giveBack() } else { entryBucket.giveBack() }
    }

    /// `withdraw`, and the denial that replaces the approval, counted. Returns the denial.
    @discardableResult
    public mutating func revoke(_ order: OrderEvent, _ reason: DenialReason, observed: Int64, limit: Int64) -> Denial {
        withdraw(order)
        return count(Denial(reason: reason, observed: observed, limit: limit))
    }

    /// A denial decided outside `decide` (a held signal too old to decide again), counted
    /// like the others.
    @discardableResult
    public mutating func count(_ denial: Denial) -> Denial {
        deniedByReason[Int(denial.reason.rawValue) & 63] &+= 1
        return denial
    }

    /// Recovery (cold path): records an order the journal says was approved, exactly as
    /// `decide` records an approval but without checks or a token, and continues client
    /// order ids above it. Replaying a journal's orders and fills in sequence through
    /// `restore` and `apply(fill:)` rebuilds the open quantities and positions.
    /// Returns false (nothing changed) for out-of-range ids, an unknown side or a
    /// non-positive quantity.
    @discardableResult
    public mutating func restore(openOrder order: OrderEvent) -> Bool {
        let i = Int(order.instrument), s = Int(order.strategy)
        guard s < strategyCapacity, i < instrumentCapacity, let side = order.side, order.quantity.units > 0 else { return false }
        let p = s * instrumentCapacity + i
        let before = pairWorst(p, i)
        let wasOccupied = pairOccupied[p]
        if side == .buy {
            pairOpenBuy[p] += order.quantity.units
            symbolOpenBuy[i] += order.quantity.units
        } else {
            pairOpenSell[p] += order.quantity.units
            symbolOpenSell[i] += order.quantity.units
        }
        settle(p, i, before: before, wasOccupied: wasOccupied, horizonIfNew: Horizon.swing.rawValue)
        continueClientOrderIds(after: order.clientOrderId)
        return true
    }

    /// Client order ids continue above `id` (recovery: ids stay unique across restarts).
    public mutating func continueClientOrderIds(after id: UInt64) {
        if id >= nextClientOrderId { nextClientOrderId = id &+ 1 }
    }

    /// Numbers an order request this stage sends that `decide` did not build (a cancel):
    /// sets its `sequence` (the next in `orderSequence`) and its producing stage.
    public mutating func stamp(request order: inout OrderEvent) {
        orderSequence &+= 1
        order.sequence = orderSequence
        order.stageRaw = StageId.risk.rawValue
    }

    /// Open (sent, not yet filled or released) quantity of one strategy on one symbol.
    public func openQuantity(strategy: StrategyId, instrument: InstrumentId, side: Side) -> Int64 {
        let p = Int(strategy) * instrumentCapacity + Int(instrument)
        return side == .buy ? pairOpenBuy[p] : pairOpenSell[p]
    }

    /// Σ over strategies of worst-case |position| on the symbol (what the position limit bounds).
    public func worstCaseGross(instrument: InstrumentId) -> Int64 { symbolGrossWorst[Int(instrument)] }

    // MARK: The decision

    /// Decides one signal. Checks, in this order, the first failure denies:
    /// 0. malformed signal bytes;
    /// 1. trading state: global, strategy, symbol (reduce-only exits pass when reducing or halted);
    /// 2. strategy and instrument known, reference price present and fresh (fail closed);
    ///    a reduce-only exit must have something on the other side to reduce (it is capped to it);
    /// 3. precision (decimals, tick), risk sizing (quantity = risk × equity / |entry − stop|,
    ///    rounded down to the step), step, venue min/max quantity and min notional;
    /// 4. price collar around the reference price; 5. max order quantity; 6. max order notional;
    /// 7. position limit per symbol counting open orders; 8. gross and net exposure;
    /// 9. max open positions by horizon; 10. submit-rate token bucket (a token is taken only
    /// when the order is approved); 11. per-strategy budget; 12. risk per trade for
    /// fixed-quantity signals; 13. min reward:risk; 14. self-trade prevention.
    /// Reduce-only exits always go through when there is something to reduce: they skip the
    /// reference age of 2 (an exit on a stale book is still sent; `referenceAgeNs` tells the
    /// caller so it can say it), the collar (4), the max order notional (6) and 7–9, 11–13
    /// (they can only shrink positions and exposure); an off-tick price is rounded to the tick
    /// on the marketable side; they are capped, not denied, by the max quantities of 3 and 5
    /// (the caller sends the rest as further orders) and take their tokens from their own
    /// bucket (10).
    /// An approved signal becomes a GTC limit order at the entry price, recorded as open.
    ///
    /// Not marked `@_noAllocation`: the state lives in `Array`s allocated in `init`, and the
    /// checker rejects every `Array` element write (its copy-on-write path could allocate,
    /// though it never does here: the arrays are uniquely referenced). In debug builds it also
    /// cannot see calls across files. The allocation gate must be a benchmark (not yet written).
    ///
    /// - Parameters:
    ///   - nowNs: the duty cycle's monotonic time: rate limits and the reference price's age.
    ///   - stampNs: the latency stamp an order carries as `riskDecidedNs` (the real monotonic
    ///     clock read once per batch, even when `nowNs` is a simulated clock).
    public mutating func decide(signal: SignalEvent, nowNs: MonotonicNanos, stampNs: MonotonicNanos) -> RiskDecision {
        let decision = evaluate(signal, nowNs, stampNs)
        if case .denied(let d) = decision {
            deniedByReason[Int(d.reason.rawValue) & 63] &+= 1
        } else {
            approved &+= 1
        }
        return decision
    }

    @inline(__always)
    private static func deny(_ reason: DenialReason, _ observed: Int64, _ limit: Int64) -> RiskDecision {
        .denied(Denial(reason: reason, observed: observed, limit: limit))
    }

    private mutating func evaluate(_ signal: SignalEvent, _ nowNs: MonotonicNanos, _ stampNs: MonotonicNanos) -> RiskDecision {
        // 0. Malformed bytes.
        guard let side = signal.side else { return Self.deny(.malformedSignal, Int64(signal.sideRaw), 0) }
        guard let sizing = signal.sizing else { return Self.deny(.malformedSignal, Int64(signal.sizingRaw), 0) }
        guard let horizon = signal.horizon else { return Self.deny(.malformedSignal, Int64(signal.horizonRaw), 0) }
        let reduceOnly = signal.flags & SignalEvent.flagReduceOnly != 0
        let s = Int(signal.strategy), i = Int(signal.instrument)
        // Values no order can carry are refused, never computed with (an overflow traps).
        if signal.takeProfit.units < 0 { return Self.deny(.valueOutOfRange, signal.takeProfit.units, 0) }
        if signal.stopLoss.units < 0 { return Self.deny(.valueOutOfRange, signal.stopLoss.units, 0) }
        if signal.trailingDistance.units < 0 { return Self.deny(.valueOutOfRange, signal.trailingDistance.units, 0) }
        if signal.maxHoldNs < 0 { return Self.deny(.valueOutOfRange, signal.maxHoldNs, 0) }
        if signal.confidenceBasisPoints > 10_000 { return Self.deny(.valueOutOfRange, Int64(signal.confidenceBasisPoints), 10_000) }
        if signal.riskPartsPerMillion > 1_000_000 { return Self.deny(.valueOutOfRange, Int64(signal.riskPartsPerMillion), 1_000_000) }

        // 1. Trading state (ids out of range are left to step 2).
        if !reduceOnly {
            let active = Int64(TradingState.active.rawValue)
            if globalState != .active { return Self.deny(.globalNotActive, Int64(globalState.rawValue), active) }
            if s < strategyCapacity, strategyStateRaw[s] != TradingState.active.rawValue {
                return Self.deny(.strategyNotActive, Int64(strategyStateRaw[s]), active)
            }
            if i < instrumentCapacity, symbolStateRaw[i] != TradingState.active.rawValue {
                return Self.deny(.symbolNotActive, Int64(symbolStateRaw[i]), active)
            }
        }

        // 2. Known ids, fresh reference price (fail closed).
        guard s < strategyCapacity else { return Self.deny(.unknownStrategy, Int64(signal.strategy), Int64(strategyCapacity)) }
        guard i < instrumentCapacity, known[i] else { return Self.deny(.unknownInstrument, Int64(signal.instrument), Int64(instrumentCapacity)) }
        let reference = lastPriceUnits[i]
        guard reference > 0 else { return Self.deny(.noReferencePrice, 0, 0) }
        let age = nowNs &- lastPriceNs[i]
        guard age <= limits.maxReferencePriceAgeNs || reduceOnly else {
            return Self.deny(.staleReferencePrice, age, limits.maxReferencePriceAgeNs)
        }
        let p = s * instrumentCapacity + i
        let held = positions.pairQuantity[p]
        var reducible: Int64 = 0
        if reduceOnly {
            reducible = reducibleQuantity(strategy: signal.strategy, instrument: signal.instrument, side: side)
            guard reducible > 0 else { return Self.deny(.nothingToReduce, 0, 0) }
        }

        // 3. Precision, sizing, venue filters.
        let spec = specs[i]
        guard signal.priceDecimals == spec.priceDecimals, signal.quantityDecimals == spec.quantityDecimals else {
            return Self.deny(.precisionMismatch, Int64(signal.priceDecimals) << 8 | Int64(signal.quantityDecimals),
                        Int64(spec.priceDecimals) << 8 | Int64(spec.quantityDecimals))
        }
        var entry = signal.entryPrice.units
        if reduceOnly && entry > 0 && entry % spec.tickSizeUnits != 0 {
            // An exit's price is where it triggered (often a mid between two ticks): round it to
            // the tick on the side that still crosses, rather than keep the position open.
            entry -= entry % spec.tickSizeUnits
            if side == .buy { entry += spec.tickSizeUnits }
        }
        guard entry > 0, entry % spec.tickSizeUnits == 0 else { return Self.deny(.priceOffTick, entry, spec.tickSizeUnits) }
        let equity = positions.equityMoney
        let riskPpm = signal.riskPartsPerMillion > 0 ? Int64(signal.riskPartsPerMillion) : limits.riskPartsPerMillion
        let stop = signal.stopLoss.units
        let stopOnRightSide = stop > 0 && (side == .buy ? stop < entry : stop > entry)
        let distance = abs(entry - stop)
        var quantity: Int64
        if reduceOnly {
            // Capped (not denied) by our and the venue's max per order, rounded down to the step:
            // what is left is exited by the next signal.
            quantity = sizing == .quantity && signal.quantity.units > 0 ? min(signal.quantity.units, reducible) : reducible
            // Two-argument `min`s: the variadic one builds an array, which may be heap-allocated.
            quantity = min(quantity, min(spec.maxOrderQuantityUnits, spec.venueMaxQuantityUnits))
            quantity -= quantity % spec.stepSizeUnits
        } else if sizing == .quantity {
            quantity = signal.quantity.units
        } else {
            guard stopOnRightSide, equity > 0 else { return Self.deny(.cannotSizeFromRisk, stop, entry) }
            let raw = Self.quantityForRisk(riskMoney: Self.riskBudget(equity: equity, ppm: riskPpm), distanceUnits: distance,
                                           priceDecimals: spec.priceDecimals, quantityDecimals: spec.quantityDecimals)
            // The risk budget bounds the size from above; so do the per-order limits, which
            // cap it here rather than deny it (a tight stop must not turn every signal into
            // a denial). A strategy's explicit quantity is checked, not capped (steps 5, 6).
            let notionalCap = Self.quantityForRisk(riskMoney: limits.maxOrderNotionalMoney, distanceUnits: max(entry, 1),
                                                   priceDecimals: spec.priceDecimals, quantityDecimals: spec.quantityDecimals)
            let capped = min(min(raw, notionalCap), min(spec.maxOrderQuantityUnits, spec.venueMaxQuantityUnits))
            quantity = capped - capped % spec.stepSizeUnits
        }
        guard quantity % spec.stepSizeUnits == 0 else { return Self.deny(.quantityOffStep, quantity, spec.stepSizeUnits) }
        guard quantity > 0, quantity >= spec.venueMinQuantityUnits else {
            return Self.deny(.quantityBelowVenueMinimum, quantity, max(spec.venueMinQuantityUnits, 1))
        }
        guard quantity <= spec.venueMaxQuantityUnits else { return Self.deny(.quantityAboveVenueMaximum, quantity, spec.venueMaxQuantityUnits) }
        let notional = MoneyScale.notional(priceUnits: entry, quantityUnits: quantity,
                                           priceDecimals: spec.priceDecimals, quantityDecimals: spec.quantityDecimals)
        guard notional >= spec.venueMinNotionalMoney else { return Self.deny(.notionalBelowVenueMinimum, notional, spec.venueMinNotionalMoney) }

        // 4. Collar: |entry − reference| × 10,000 ≤ reference × bps.
        let deviation = Int128(abs(entry - reference)) * 10_000
        let allowed = Int128(reference) * Int128(limits.priceCollarBasisPoints)
        if deviation > allowed && !reduceOnly {
            let bps = (deviation + Int128(reference) - 1) / Int128(reference)
            return Self.deny(.priceOutsideCollar, MoneyScale.saturate(bps), limits.priceCollarBasisPoints)
        }
        // 5. Max order quantity. 6. Max order notional (an exit only lowers exposure).
        guard quantity <= spec.maxOrderQuantityUnits else { return Self.deny(.orderQuantityAboveMaximum, quantity, spec.maxOrderQuantityUnits) }
        guard notional <= limits.maxOrderNotionalMoney || reduceOnly else {
            return Self.deny(.orderNotionalAboveMaximum, notional, limits.maxOrderNotionalMoney)
        }

        let openBuy = pairOpenBuy[p] + (side == .buy ? quantity : 0)
        let openSell = pairOpenSell[p] + (side == .sell ? quantity : 0)
        let worstBefore = pairWorst(p, i)
        let worstAfter = max(abs(held + openBuy), abs(held - openSell))
        if !reduceOnly {
            // 7. Position limit: Σ worst-case |position| of the strategies on the symbol.
            let symbolWorst = symbolGrossWorst[i] - worstBefore + worstAfter
            guard symbolWorst <= spec.positionLimitUnits else { return Self.deny(.positionLimit, symbolWorst, spec.positionLimitUnits) }
            // 8. Gross and net exposure at the reference prices: the running sums with this
            // symbol's contribution replaced by its value after the order.
            let gross = grossTotal - Int128(grossContribution[i]) + Int128(notionalAtReference(i, symbolWorst))
            let q = positions.symbolQuantity[i]
            let netAfter = (side == .buy ? q + symbolOpenBuy[i] : q - symbolOpenSell[i]) + side.sign * quantity
            let net = (side == .buy ? netIfBuyTotal - Int128(netIfBuyContribution[i]) : netIfSellTotal - Int128(netIfSellContribution[i]))
                + Int128(notionalAtReference(i, netAfter))
            let grossMoney = MoneyScale.saturate(gross), netMoney = MoneyScale.saturate(net < 0 ? -net : net)
            guard grossMoney <= limits.maxGrossExposureMoney else { return Self.deny(.grossExposure, grossMoney, limits.maxGrossExposureMoney) }
            guard netMoney <= limits.maxNetExposureMoney else { return Self.deny(.netExposure, netMoney, limits.maxNetExposureMoney) }
            // 9. Max open positions by horizon (only a new position counts).
            if !pairOccupied[p] {
                let (open, maxOpen) = horizon == .intraday
                    ? (openIntradayPositions, limits.maxOpenIntradayPositions)
                    : (openSwingPositions, limits.maxOpenSwingPositions)
                guard open < maxOpen else { return Self.deny(.maxOpenPositions, Int64(open), Int64(maxOpen)) }
            }
        }
        // 10. Token bucket (refill now; the token is taken on approval). Exits have their own.
        if reduceOnly {
            exitBucket.refill(nowNs: nowNs, burst: limits.exitSubmitBurst, perSecond: limits.exitSubmitPerSecond)
            guard exitBucket.hasToken else { return Self.deny(.exitSubmitRate, exitBucket.tokensMilli, 1000) }
        } else {
            entryBucket.refill(nowNs: nowNs, burst: limits.submitBurst, perSecond: limits.submitPerSecond)
            guard entryBucket.hasToken else { return Self.deny(.submitRate, entryBucket.tokensMilli, 1000) }
        }
        if !reduceOnly {
            // 11. Strategy budget: Σ worst-case |position| × reference over its symbols.
            let used = strategyBudgetUsed[s] - Int128(pairBudgetContribution[p]) + Int128(notionalAtReference(i, worstAfter))
            let usedMoney = MoneyScale.saturate(used)
            guard usedMoney <= strategyBudget[s] else { return Self.deny(.strategyBudget, usedMoney, strategyBudget[s]) }
            // 12. Risk per trade: quantity × |entry − stop| ≤ risk fraction × equity.
            let riskLimit = Self.riskBudget(equity: equity, ppm: riskPpm)
            guard stopOnRightSide else { return Self.deny(.riskPerTrade, Int64.max, riskLimit) }
            let atRisk = MoneyScale.notional(priceUnits: distance, quantityUnits: quantity,
                                             priceDecimals: spec.priceDecimals, quantityDecimals: spec.quantityDecimals)
            guard atRisk <= riskLimit else { return Self.deny(.riskPerTrade, atRisk, riskLimit) }
            // 13. Reward:risk net of a round trip's fees: (|tp − entry| − fee(entry) − fee(tp)) × 1000
            // ≥ (|entry − stop| + fee(entry) + fee(stop)) × min, per unit of quantity, where
            // fee(p) = p × ppm / 10^6; exact, in millionths of a price unit (take-profit on the
            // right side; no take-profit: no reward).
            let tp = signal.takeProfit.units
            let ppm = Int128(spec.feePartsPerMillion)
            var reward: Int128 = 0
            if tp > 0 && (side == .buy ? tp > entry : tp < entry) {
                reward = Int128(abs(tp - entry)) * 1_000_000 - (Int128(entry) + Int128(tp)) * ppm
            }
            let risk = Int128(distance) * 1_000_000 + (Int128(entry) + Int128(max(stop, 0))) * ppm
            if reward * 1000 < risk * Int128(limits.minRewardRiskMilli) {
                return Self.deny(.rewardRisk, MoneyScale.saturate(max(reward, 0) * 1000 / max(risk, 1)), limits.minRewardRiskMilli)
            }
        }
        // 14. Self-trade prevention: one of our orders rests on the other side.
        let opposite = side == .buy ? symbolOpenSell[i] : symbolOpenBuy[i]
        guard opposite == 0 else { return Self.deny(.selfTrade, opposite, 0) }

        // Approved: take a token, record the open order.
        if reduceOnly { exitBucket.take() } else { entryBucket.take() }
        let wasOccupied = pairOccupied[p]
        if side == .buy {
            pairOpenBuy[p] += quantity
            symbolOpenBuy[i] += quantity
        } else {
            pairOpenSell[p] += quantity
            symbolOpenSell[i] += quantity
        }
        settle(p, i, before: worstBefore, wasOccupied: wasOccupied, horizonIfNew: horizon.rawValue)
        let id = nextClientOrderId
        nextClientOrderId &+= 1
        orderSequence &+= 1
        var chain = signal.timestamps
        chain.riskDecidedNs = stampNs
        return .order(OrderEvent(
            sequence: orderSequence, clientOrderId: id, instrument: signal.instrument, strategy: signal.strategy, side: side, type: .limit,
            price: Price(units: entry), quantity: Quantity(units: quantity), takeProfit: signal.takeProfit,
            stopLoss: signal.stopLoss, signalSequence: signal.sequence, timeInForce: .goodTillCancel,
            flags: reduceOnly ? OrderEvent.flagReduceOnly : 0, priceDecimals: spec.priceDecimals,
            quantityDecimals: spec.quantityDecimals, action: .new, stage: .risk, venue: spec.venue, receiveWallNs: signal.receiveWallNs,
            timestamps: chain, trailingDistance: reduceOnly ? .zero : signal.trailingDistance,
            maxHoldNs: reduceOnly ? 0 : signal.maxHoldNs))
    }

    // MARK: Helpers

    /// How old the instrument's reference price is at `nowNs` (Int64.max without one): an exit
    /// approved past `maxReferencePriceAgeNs` went out on a stale book, which the caller reports.
    public func referenceAgeNs(instrument: InstrumentId, nowNs: MonotonicNanos) -> Nanos {
        let i = Int(instrument)
        guard i < instrumentCapacity, known[i], lastPriceUnits[i] > 0 else { return Int64.max }
        return nowNs &- lastPriceNs[i]
    }

    /// What a reduce-only order could still take off the strategy's position on the symbol
    /// (its size on the `side` that reduces it, less the reduce orders already open; 0 when
    /// nothing is left or the ids are out of range).
    public func reducibleQuantity(strategy: StrategyId, instrument: InstrumentId, side: Side) -> Int64 {
        let s = Int(strategy), i = Int(instrument)
        guard s < strategyCapacity, i < instrumentCapacity else { return 0 }
        let p = s * instrumentCapacity + i
        let held = positions.pairQuantity[p]
        if held > 0 && side == .sell { return max(held - pairOpenSell[p], 0) }
        if held < 0 && side == .buy { return max(-held - pairOpenBuy[p], 0) }
        return 0
    }

    /// equity × ppm / 1,000,000, money units (0 for non-positive equity).
    @inlinable
    public static func riskBudget(equity: Int64, ppm: Int64) -> Int64 {
        equity <= 0 ? 0 : MoneyScale.saturate(Int128(equity) * Int128(ppm) / 1_000_000)
    }

    /// Quantity units whose loss over `distanceUnits` of price equals `riskMoney` (truncated,
    /// saturated to Int64.max): riskMoney × 10^(pd+qd) / (distance × 10^8), in `Int128`.
    @inlinable
    public static func quantityForRisk(riskMoney: Int64, distanceUnits: Int64, priceDecimals: UInt8, quantityDecimals: UInt8) -> Int64 {
        guard distanceUnits > 0, riskMoney > 0 else { return 0 }
        let e = Int(priceDecimals) + Int(quantityDecimals) - Int(MoneyScale.decimals)
        if e >= 0 {
            let (n, o) = Int128(riskMoney).multipliedReportingOverflow(by: MoneyScale.power(e))
            return o ? Int64.max : MoneyScale.saturate(n / Int128(distanceUnits))
        }
        return MoneyScale.saturate(Int128(riskMoney) / (Int128(distanceUnits) * MoneyScale.power(-e)))
    }

    @inline(__always)
    private func pairWorst(_ p: Int, _ i: Int) -> Int64 {
        let q = positions.pairQuantity[p]
        return max(abs(q + pairOpenBuy[p]), abs(q - pairOpenSell[p]))
    }

    private mutating func reduceOpen(_ p: Int, _ i: Int, _ side: Side, _ quantity: Int64) {
        guard quantity > 0 else { return }
        if side == .buy {
            let r = min(quantity, pairOpenBuy[p])
            pairOpenBuy[p] -= r
            symbolOpenBuy[i] -= r
        } else {
            let r = min(quantity, pairOpenSell[p])
            pairOpenSell[p] -= r
            symbolOpenSell[i] -= r
        }
    }

    /// After a pair changed: update the symbol's worst-case gross and the open-position counts.
    private mutating func settle(_ p: Int, _ i: Int, before: Int64, wasOccupied: Bool, horizonIfNew: UInt8) {
        symbolGrossWorst[i] += pairWorst(p, i) - before
        refreshSymbol(i)
        refreshPair(p, p / instrumentCapacity, i)
        let q = positions.pairQuantity[p]
        let occupied = q != 0 || pairOpenBuy[p] > 0 || pairOpenSell[p] > 0
        guard occupied != wasOccupied else { return }
        pairOccupied[p] = occupied
        if occupied { pairHorizonRaw[p] = horizonIfNew }
        let delta = occupied ? 1 : -1
        if pairHorizonRaw[p] == Horizon.intraday.rawValue { openIntradayPositions += delta } else { openSwingPositions += delta }
    }

    /// quantity × the reference price in money units; 0 without a registered instrument or a price.
    @inline(__always)
    private func notionalAtReference(_ j: Int, _ quantityUnits: Int64) -> Int64 {
        guard known[j], lastPriceUnits[j] > 0, quantityUnits != 0 else { return 0 }
        return MoneyScale.notional(priceUnits: lastPriceUnits[j], quantityUnits: quantityUnits,
                                   priceDecimals: specs[j].priceDecimals, quantityDecimals: specs[j].quantityDecimals)
    }

    /// Re-derives one symbol's exposure contributions and the running totals.
    private mutating func refreshSymbol(_ j: Int) {
        let q = positions.symbolQuantity[j]
        let g = notionalAtReference(j, symbolGrossWorst[j])
        let b = notionalAtReference(j, q + symbolOpenBuy[j])
        let s = notionalAtReference(j, q - symbolOpenSell[j])
        grossTotal += Int128(g) - Int128(grossContribution[j])
        netIfBuyTotal += Int128(b) - Int128(netIfBuyContribution[j])
        netIfSellTotal += Int128(s) - Int128(netIfSellContribution[j])
        grossContribution[j] = g
        netIfBuyContribution[j] = b
        netIfSellContribution[j] = s
    }

    /// Re-derives one pair's budget contribution and its strategy's running total.
    private mutating func refreshPair(_ p: Int, _ s: Int, _ j: Int) {
        let c = notionalAtReference(j, pairWorst(p, j))
        strategyBudgetUsed[s] += Int128(c) - Int128(pairBudgetContribution[p])
        pairBudgetContribution[p] = c
    }

    /// A symbol's price or spec changed: its contributions and every strategy's pair on it. O(strategies).
    private mutating func refreshSymbolAndPairs(_ j: Int) {
        refreshSymbol(j)
        for s in 0..<strategyCapacity { refreshPair(s * instrumentCapacity + j, s, j) }
    }

    /// The exposure and budget sums recomputed from scratch (O(strategies × instruments);
    /// diagnostics and tests: they must equal the running sums `exposureSums`).
    public func recomputedExposureSums() -> (gross: Int128, netIfBuy: Int128, netIfSell: Int128, budgetUsed: [Int128]) {
        var gross: Int128 = 0, buy: Int128 = 0, sell: Int128 = 0
        var used = Array(repeating: Int128(0), count: strategyCapacity)
        for j in 0..<instrumentCapacity {
            let q = positions.symbolQuantity[j]
            gross += Int128(notionalAtReference(j, symbolGrossWorst[j]))
            buy += Int128(notionalAtReference(j, q + symbolOpenBuy[j]))
            sell += Int128(notionalAtReference(j, q - symbolOpenSell[j]))
            for s in 0..<strategyCapacity { used[s] += Int128(notionalAtReference(j, pairWorst(s * instrumentCapacity + j, j))) }
        }
        return (gross, buy, sell, used)
    }

    /// The running exposure and budget sums `decide` checks against.
    public var exposureSums: (gross: Int128, netIfBuy: Int128, netIfSell: Int128, budgetUsed: [Int128]) {
        (grossTotal, netIfBuyTotal, netIfSellTotal, strategyBudgetUsed)
    }
}
