import TicklineCore

/// One closed round trip: a quantity of one strategy's position on one symbol, from the
/// fill that opened the position to the fill that reduced it. Money in `MoneyScale` units.
///
/// Every reducing fill closes one round trip for the quantity it closes (as pyfolio splits
/// round trips at each closing transaction), priced at the position's average cost, so
/// `grossMoney` is exactly the PnL `Positions` realised on that fill and every realised
/// unit belongs to one round trip. A partial close is a round trip for the closed part;
/// a fill through zero closes the whole position and opens the rest as a new one; an exit
/// filled at several price levels is one round trip per fill.
public struct RoundTrip: Sendable, BitwiseCopyable, Equatable {
    /// 1 for the first round trip closed, then 2, 3, ...
    public var sequence: UInt64 = 0
    public var strategy: StrategyId = 0
    public var instrument: InstrumentId = 0
    /// The position's side: `Side.buy` = long.
    public var sideRaw: UInt8 = 0
    public var priceDecimals: UInt8 = 0
    public var quantityDecimals: UInt8 = 0
    /// Wall time of the fill that opened the position from flat (its first entry).
    public var entryWallNs: WallNanos = 0
    /// Wall time of the reducing fill.
    public var exitWallNs: WallNanos = 0
    public var quantityUnits: Int64 = 0
    /// Σ price × quantity in price units × quantity units: at the average cost for the
    /// entry, at the fill price for the exit (the prices are these over `quantityUnits`).
    public var entryNotional: Int128 = 0
    public var exitNotional: Int128 = 0
    /// This quantity's share of the fees paid opening the position, and the fee of the fill
    /// that closed it (its share, for a fill through zero).
    public var openingFeesMoney: Int64 = 0
    public var closingFeesMoney: Int64 = 0
    /// Realised PnL before fees.
    public var grossMoney: Int64 = 0

    public init() {}

    @inlinable public var side: Side? { Side(rawValue: sideRaw) }
    @inlinable public var feesMoney: Int64 { openingFeesMoney &+ closingFeesMoney }
    @inlinable public var netMoney: Int64 { grossMoney &- feesMoney }
}

/// The round trips of every (strategy, symbol) position, fed by `Positions.apply(fill:)`:
/// per pair, when its position opened and the opening fees its open quantity still
/// carries; the last `capacity` closed round trips in a ring. Storage is allocated in
/// `init`; recording does not allocate. Owned by one agent thread; not thread-safe.
public struct RoundTrips: Sendable {
    public let capacity: Int
    var entryWallNs: [WallNanos]
    var openingFees: [Int64]
    var ring: [RoundTrip]
    /// Round trips closed so far (the newest has this sequence), and per strategy id.
    public private(set) var closed: UInt64 = 0
    public private(set) var closedByStrategy: [UInt64]
    /// Fees paid on positions still open (the opening fees of their open quantity).
    public private(set) var openFeesMoney: Int64 = 0

    /// Traps if a count is < 1.
    public init(strategies: Int, pairs: Int, capacity: Int) {
        precondition(strategies >= 1 && pairs >= 1 && capacity >= 1,
                     "round trips: strategies \(strategies), pairs \(pairs) and capacity \(capacity) must be ≥ 1")
        closedByStrategy = Array(repeating: 0, count: strategies)
        self.capacity = capacity
        entryWallNs = Array(repeating: 0, count: pairs)
        openingFees = Array(repeating: 0, count: pairs)
        ring = Array(repeating: RoundTrip(), count: capacity)
    }

    /// A fill that opened or grew pair `p`'s position (`fromFlat`: it was flat before).
    mutating func recordOpen(pair p: Int, fromFlat: Bool, wallNs: WallNanos, feeMoney: Int64) {
        if fromFlat { entryWallNs[p] = wallNs }
        openingFees[p] &+= feeMoney
        openFeesMoney &+= feeMoney
    }

    /// A fill that closed `trip.quantityUnits` of pair `p`'s position of `heldUnits`: takes
    /// that share of the open quantity's opening fees (all of it when the position is
    /// closed, so the shares add up to what was paid) and records the round trip.
    mutating func recordClose(pair p: Int, heldUnits: Int64, _ trip: RoundTrip) {
        var t = trip
        let fees = openingFees[p]
        let share = t.quantityUnits >= heldUnits ? fees
            : MoneyScale.saturate(Int128(fees) * Int128(t.quantityUnits) / Int128(heldUnits))
        openingFees[p] &-= share
        openFeesMoney &-= share
        t.openingFeesMoney = share
        t.entryWallNs = entryWallNs[p]
        closed &+= 1
        if Int(t.strategy) < closedByStrategy.count { closedByStrategy[Int(t.strategy)] &+= 1 }
        t.sequence = closed
        ring[Int((closed &- 1) % UInt64(capacity))] = t
    }

    /// Opening fees still carried by the open quantity of `pairs` (cold path).
    public func openFeesMoney(pairs: Range<Int>) -> Int64 {
        var total: Int64 = 0
        for p in pairs { total &+= openingFees[p] }
        return total
    }

    /// The round trip with `sequence`, if the ring still holds it.
    public func trip(sequence: UInt64) -> RoundTrip? {
        guard sequence >= 1, sequence <= closed, closed - sequence < UInt64(capacity) else { return nil }
        return ring[Int((sequence - 1) % UInt64(capacity))]
    }

    /// Calls `body` with each round trip closed after `sequence` that the ring still holds,
    /// oldest first. Returns how many closed after `sequence` the ring no longer holds
    /// (a reader that fell more than `capacity` behind).
    @discardableResult
    public func forEach(after sequence: UInt64, _ body: (RoundTrip) -> Void) -> UInt64 {
        guard closed > sequence else { return 0 }
        let first = max(sequence + 1, closed > UInt64(capacity) ? closed - UInt64(capacity) + 1 : 1)
        for s in first...closed { body(ring[Int((s - 1) % UInt64(capacity))]) }
        return first - (sequence + 1)
    }
}
