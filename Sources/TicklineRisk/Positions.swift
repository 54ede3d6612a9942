import TicklineCore

/// A read-out of one position (per strategy and symbol) or one aggregate (per symbol, per
/// strategy, account). Money fields in money units (`MoneyScale`).
public struct PositionView: Sendable, Equatable {
    /// Signed quantity units (+ long, − short). For per-strategy aggregates: 0 (mixed symbols).
    public var quantityUnits: Int64
    /// Average entry price units (0 when flat or mixed).
    public var averagePriceUnits: Int64
    public var realisedMoney: Int64
    public var unrealisedMoney: Int64
    public var feesMoney: Int64

    public init(quantityUnits: Int64 = 0, averagePriceUnits: Int64 = 0, realisedMoney: Int64 = 0, unrealisedMoney: Int64 = 0, feesMoney: Int64 = 0) {
        self.quantityUnits = quantityUnits
        self.averagePriceUnits = averagePriceUnits
        self.realisedMoney = realisedMoney
        self.unrealisedMoney = unrealisedMoney
        self.feesMoney = feesMoney
    }
}

/// Positions and PnL per strategy and symbol, per symbol, per strategy and for the account:
/// quantity, average price (exact: the cost basis is kept as Σ price×quantity in `Int128`),
/// realised PnL (on reductions), unrealised PnL marked on every price update, fees, equity,
/// peak equity and drawdown, and the round trips every fill closes (`roundTrips`). Storage is
/// allocated in `init` (strategies × instruments slots, `roundTripCapacity` closed round trips);
/// `apply(fill:)` and `mark` do not allocate. Owned by one agent thread; not thread-safe.
public struct Positions: Sendable {
    public let strategyCapacity: Int
    public let instrumentCapacity: Int
    public let startingCapitalMoney: Int64

    @usableFromInline var priceDecimals: [UInt8]
    @usableFromInline var quantityDecimals: [UInt8]
    @usableFromInline var registered: [Bool]
    /// Last mark per instrument, price units (0 = none yet).
    public private(set) var markPriceUnits: [Int64]

    // Per pair (index strategy × instrumentCapacity + instrument).
    @usableFromInline var pairQuantity: [Int64]
    @usableFromInline var pairCost: [Int128]
    @usableFromInline var pairRealised: [Int64]
    @usableFromInline var pairUnrealised: [Int64]
    @usableFromInline var pairFees: [Int64]
    // Per instrument.
    @usableFromInline var symbolQuantity: [Int64]
    @usableFromInline var symbolRealised: [Int64]
    @usableFromInline var symbolUnrealised: [Int64]
    @usableFromInline var symbolFees: [Int64]
    // Per strategy.
    @usableFromInline var strategyRealised: [Int64]
    @usableFromInline var strategyUnrealised: [Int64]
    @usableFromInline var strategyFees: [Int64]

    public private(set) var realisedMoney: Int64 = 0
    public private(set) var unrealisedMoney: Int64 = 0
    public private(set) var feesMoney: Int64 = 0
    public private(set) var peakEquityMoney: Int64
    /// Fills refused (unknown ids, side or decimals, non-positive quantity or price).
    public private(set) var rejectedFills: UInt64 = 0
    /// The round trips the fills closed (the last `roundTripCapacity`) and the opening fees
    /// of what is still open.
    public private(set) var roundTrips: RoundTrips

    /// Traps if a capacity is < 1. `roundTripCapacity`: closed round trips kept for readers
    /// (the risk view, a replay's report) between two reads.
    public init(strategyCapacity: Int, instrumentCapacity: Int, startingCapitalMoney: Int64, roundTripCapacity: Int = 1_024) {
        precondition(strategyCapacity >= 1 && instrumentCapacity >= 1,
                     "capacities strategies \(strategyCapacity) instruments \(instrumentCapacity) must be ≥ 1")
        self.strategyCapacity = strategyCapacity
        self.instrumentCapacity = instrumentCapacity
        self.startingCapitalMoney = startingCapitalMoney
        let pairs = strategyCapacity * instrumentCapacity
        priceDecimals = Array(repeating: 0, count: instrumentCapacity)
        quantityDecimals = Array(repeating: 0, count: instrumentCapacity)
        registered = Array(repeating: false, count: instrumentCapacity)
        markPriceUnits = Array(repeating: 0, count: instrumentCapacity)
        pairQuantity = Array(repeating: 0, count: pairs)
        pairCost = Array(repeating: 0, count: pairs)
        pairRealised = Array(repeating: 0, count: pairs)
        pairUnrealised = Array(repeating: 0, count: pairs)
        pairFees = Array(repeating: 0, count: pairs)
        symbolQuantity = Array(repeating: 0, count: instrumentCapacity)
        symbolRealised = Array(repeating: 0, count: instrumentCapacity)
        symbolUnrealised = Array(repeating: 0, count: instrumentCapacity)
        symbolFees = Array(repeating: 0, count: instrumentCapacity)
        strategyRealised = Array(repeating: 0, count: strategyCapacity)
        strategyUnrealised = Array(repeating: 0, count: strategyCapacity)
        strategyFees = Array(repeating: 0, count: strategyCapacity)
        peakEquityMoney = startingCapitalMoney
        roundTrips = RoundTrips(strategies: strategyCapacity, pairs: pairs, capacity: roundTripCapacity)
    }

    /// Declares an instrument's decimals (cold path). Traps if the id is out of range.
    public mutating func register(instrument: InstrumentId, priceDecimals pd: UInt8, quantityDecimals qd: UInt8) {
        let i = Int(instrument)
        precondition(i < instrumentCapacity, "instrument \(instrument) ≥ capacity \(instrumentCapacity)")
        priceDecimals[i] = pd
        quantityDecimals[i] = qd
        registered[i] = true
    }

    /// Account equity: capital + realised − fees + unrealised, money units.
    @inlinable public var equityMoney: Int64 {
        MoneyScale.saturate(Int128(startingCapitalMoney) + Int128(realisedMoney) - Int128(feesMoney) + Int128(unrealisedMoney))
    }
    /// Peak equity − equity, money units (≥ 0).
    @inlinable public var drawdownMoney: Int64 { max(0, peakEquityMoney - equityMoney) }
    /// Drawdown as parts per million of the peak.
    @inlinable public var drawdownPartsPerMillion: Int64 {
        peakEquityMoney <= 0 ? 0 : MoneyScale.saturate(Int128(drawdownMoney) * 1_000_000 / Int128(peakEquityMoney))
    }

    /// Signed quantity of one strategy on one symbol (0 for out-of-range ids).
    public func quantity(strategy: StrategyId, instrument: InstrumentId) -> Int64 {
        guard Int(strategy) < strategyCapacity, Int(instrument) < instrumentCapacity else { return 0 }
        return pairQuantity[Int(strategy) * instrumentCapacity + Int(instrument)]
    }

    /// Net signed quantity of a symbol over all strategies.
    public func quantity(instrument: InstrumentId) -> Int64 {
        Int(instrument) < instrumentCapacity ? symbolQuantity[Int(instrument)] : 0
    }

    /// One strategy's position on one symbol. Traps on out-of-range ids.
    public func position(strategy: StrategyId, instrument: InstrumentId) -> PositionView {
        let p = pairIndex(strategy, instrument)
        let q = pairQuantity[p]
        return PositionView(quantityUnits: q, averagePriceUnits: q == 0 ? 0 : MoneyScale.saturate(pairCost[p] / Int128(q)),
                            realisedMoney: pairRealised[p], unrealisedMoney: pairUnrealised[p], feesMoney: pairFees[p])
    }

    /// A symbol over all strategies (average price 0: strategies keep their own cost bases).
    public func symbol(_ instrument: InstrumentId) -> PositionView {
        let i = Int(instrument)
        precondition(i < instrumentCapacity, "instrument \(instrument) ≥ capacity \(instrumentCapacity)")
        return PositionView(quantityUnits: symbolQuantity[i], realisedMoney: symbolRealised[i],
                            unrealisedMoney: symbolUnrealised[i], feesMoney: symbolFees[i])
    }

    /// A strategy over all symbols.
    public func strategy(_ strategy: StrategyId) -> PositionView {
        let s = Int(strategy)
        precondition(s < strategyCapacity, "strategy \(strategy) ≥ capacity \(strategyCapacity)")
        return PositionView(realisedMoney: strategyRealised[s], unrealisedMoney: strategyUnrealised[s], feesMoney: strategyFees[s])
    }

    /// Fees one strategy paid on its positions still open (cold path: O(instruments)).
    public func openFeesMoney(strategy: StrategyId) -> Int64 {
        let s = Int(strategy)
        precondition(s < strategyCapacity, "strategy \(strategy) ≥ capacity \(strategyCapacity)")
        return roundTrips.openFeesMoney(pairs: (s * instrumentCapacity)..<((s + 1) * instrumentCapacity))
    }

    @inlinable
    func pairIndex(_ strategy: StrategyId, _ instrument: InstrumentId) -> Int {
        precondition(Int(strategy) < strategyCapacity && Int(instrument) < instrumentCapacity,
                     "strategy \(strategy) / instrument \(instrument) outside capacity")
        return Int(strategy) * instrumentCapacity + Int(instrument)
    }

    /// Applies one fill (quantity > 0): grows or reduces the strategy's position, books
    /// realised PnL on the reduced part (a fill through zero reverses the position at the
    /// fill price), adds the fee and re-marks. Status-only events (quantity 0) change nothing
    /// and return true. Returns false, changing nothing, for unknown ids/side, decimals that
    /// differ from the instrument's, or a non-positive price.
    @discardableResult
    public mutating func apply(fill: FillEvent) -> Bool {
        let i = Int(fill.instrument)
        guard Int(fill.strategy) < strategyCapacity, i < instrumentCapacity, registered[i], let side = fill.side,
              fill.priceDecimals == priceDecimals[i], fill.quantityDecimals == quantityDecimals[i],
              fill.quantity.units >= 0 else {
            rejectedFills &+= 1
            return false
        }
        let f = fill.quantity.units
        if f == 0 { return true }
        guard fill.price.units > 0 else {
            rejectedFills &+= 1
            return false
        }
        let s = Int(fill.strategy)
        let p = s * instrumentCapacity + i
        let price = Int128(fill.price.units)
        let pd = priceDecimals[i], qd = quantityDecimals[i]
        let q = pairQuantity[p]
        let d = side.sign * f
        let fee = MoneyScale.fromQuote(fill.fee, priceDecimals: pd)
        if q == 0 || (q > 0) == (d > 0) {
            pairQuantity[p] = q + d
            pairCost[p] += Int128(d) * price
            roundTrips.recordOpen(pair: p, fromFlat: q == 0, wallNs: fill.receiveWallNs, feeMoney: fee)
        } else {
            let closed = min(f, abs(q))
            let closedCost = pairCost[p] * Int128(closed) / Int128(abs(q))
            let qSign: Int128 = q > 0 ? 1 : -1
            let realisedPQ = qSign * price * Int128(closed) - closedCost
            let realised = MoneyScale.fromPriceQuantity(realisedPQ, priceDecimals: pd, quantityDecimals: qd)
            pairRealised[p] &+= realised
            symbolRealised[i] &+= realised
            strategyRealised[s] &+= realised
            realisedMoney &+= realised
            pairCost[p] -= closedCost
            let rest = f - closed
            // A fill through zero pays the closing part of its fee here, the rest opens.
            let closingFee = rest == 0 ? fee : MoneyScale.saturate(Int128(fee) * Int128(closed) / Int128(f))
            var trip = RoundTrip()
            trip.strategy = fill.strategy
            trip.instrument = fill.instrument
            trip.sideRaw = q > 0 ? Side.buy.rawValue : Side.sell.rawValue
            trip.priceDecimals = pd
            trip.quantityDecimals = qd
            trip.exitWallNs = fill.receiveWallNs
            trip.quantityUnits = closed
            trip.entryNotional = qSign * closedCost
            trip.exitNotional = price * Int128(closed)
            trip.closingFeesMoney = closingFee
            trip.grossMoney = realised
            roundTrips.recordClose(pair: p, heldUnits: abs(q), trip)
            if rest == 0 {
                pairQuantity[p] = q + side.sign * closed
                if pairQuantity[p] == 0 { pairCost[p] = 0 }
            } else {
                pairQuantity[p] = side.sign * rest
                pairCost[p] = Int128(side.sign * rest) * price
                roundTrips.recordOpen(pair: p, fromFlat: true, wallNs: fill.receiveWallNs, feeMoney: fee &- closingFee)
            }
        }
        symbolQuantity[i] &+= d
        pairFees[p] &+= fee
        symbolFees[i] &+= fee
        strategyFees[s] &+= fee
        feesMoney &+= fee
        if markPriceUnits[i] == 0 { markPriceUnits[i] = fill.price.units }
        remark(pair: p, strategy: s, instrument: i)
        updatePeak()
        return true
    }

    /// Marks every strategy's position on `instrument` at `price` (price update). O(strategies).
    /// Returns false for an unknown instrument or a non-positive price.
    @discardableResult
    public mutating func mark(instrument: InstrumentId, price: Price) -> Bool {
        let i = Int(instrument)
        guard i < instrumentCapacity, registered[i], price.units > 0 else { return false }
        markPriceUnits[i] = price.units
        for s in 0..<strategyCapacity {
            let p = s * instrumentCapacity + i
            if pairQuantity[p] != 0 || pairUnrealised[p] != 0 { remark(pair: p, strategy: s, instrument: i) }
        }
        updatePeak()
        return true
    }

    private mutating func remark(pair p: Int, strategy s: Int, instrument i: Int) {
        let pq = Int128(markPriceUnits[i]) * Int128(pairQuantity[p]) - pairCost[p]
        let value = pairQuantity[p] == 0 ? 0 : MoneyScale.fromPriceQuantity(pq, priceDecimals: priceDecimals[i], quantityDecimals: quantityDecimals[i])
        let delta = value &- pairUnrealised[p]
        pairUnrealised[p] = value
        symbolUnrealised[i] &+= delta
        strategyUnrealised[s] &+= delta
        unrealisedMoney &+= delta
    }

    private mutating func updatePeak() {
        let e = equityMoney
        if e > peakEquityMoney { peakEquityMoney = e }
    }
}
