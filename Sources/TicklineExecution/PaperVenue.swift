import TicklineCore
import TicklineRisk

/// What a market order (or the marketable part of an IOC/GTC limit) does with the quantity
/// left after walking every visible level of the book.
public enum BeyondDepthPolicy: UInt8, Sendable {
    /// The remainder expires (as Binance reports a market order that ran out of liquidity).
    /// The default: the simulator never invents liquidity it has not seen.
    case expireRemainder = 1
    /// The remainder fills at the worst visible level's price (optimistic; for thin test books).
    case fillAtWorstLevel = 2
}

/// Paper venue settings. Defaults: 1 ms ± 0.5 ms one-way latency, 0.1 % maker and taker fee
/// (Binance spot's base rate), starting capital 50,000, the remainder beyond visible depth expires.
public struct PaperVenueConfig: Sendable, Equatable {
    /// Fixed one-way latency: an order reaches the simulated matching engine this long after `submit`.
    public var latencyFixedNs: Nanos = 1_000_000
    /// Uniform jitter added to it, in [0, latencyJitterNs], from the seeded generator.
    public var latencyJitterNs: Nanos = 500_000
    public var seed: UInt64 = 0x7_1C_C1_1E
    /// Fees as parts per million of the notional (1,000 = 0.1 % = 10 bps), rounded up to a price unit.
    public var makerFeePartsPerMillion: Int64 = 1_000
    public var takerFeePartsPerMillion: Int64 = 1_000
    public var startingCapitalMoney: Int64 = MoneyScale.money(50_000)
    public var beyondDepth: BeyondDepthPolicy = .expireRemainder
    /// Orders in flight (submitted, not yet arrived), resting orders, and unread reports.
    public var inFlightCapacity = 1024
    public var restingCapacity = 4096
    public var reportCapacity = 4096
    /// The venue id its reports carry.
    public var venueId: VenueId = 0

    public init() {}
}

/// Why the paper venue rejected an order (counted in `PaperVenue.rejectsByReason`).
public enum PaperRejectReason: UInt8, Sendable, CaseIterable {
    case unknownInstrument = 1
    /// No depth snapshot yet for the instrument.
    case noBook = 2
    case malformedOrder = 3
    /// A buy whose notional plus fee exceeds the cash balance.
    case insufficientFunds = 4
    /// A market order with no level on the other side.
    case noLiquidity = 5
    case restingTableFull = 6
    /// A reduce-only order for more than the strategy's position on the other side (or with
    /// none): filling it would grow or flip the position, so it is refused whole, as
    /// derivatives venues refuse it (an entry that filled first can take a position an exit
    /// was sent to close).
    case reduceOnlyWouldIncrease = 7
}

/// Flags on the paper venue's reports (`FillEvent.flags`).
public enum VenueReportFlags {
    /// A status report (`rejected`) that refuses a cancel or a replace, not the order: the
    /// order lives on.
    /// Pass it to `OrderTable.cancelRejected`, not `apply(report:)`.
    public static let cancelRejected: UInt8 = 1
}

/// A deterministic simulated venue (pure: an injected clock, seeded latency jitter).
/// Its clock is the wall clock the caller passes (the duty cycle's): latency, arrival and
/// the reports' venue and receive times are all on it, so a report is never stamped before
/// the order it answers. Arrivals never move backwards (see `submit`), even if the wall
/// clock is stepped back.
///
/// - `submit` queues an order (new, cancel or replace); it reaches the matching engine after the
///   configured latency, in submission order (`advance(nowNs:)` processes what has arrived).
/// - Market orders walk the current book (`DepthSnapshot`, top 10 per side), one fill per
///   level at that level's price, so slippage comes from depth; liquidity they take is
///   removed from the venue's copy of the book until the next snapshot. What remains
///   beyond the visible depth follows `BeyondDepthPolicy`.
/// - Limit orders: the marketable part walks the book up to the limit (taker); the rest
///   rests (GTC) or expires (IOC; FOK expires whole unless fully fillable at arrival). A
///   resting order fills as maker at its own price when a trade prints through it (a worse
///   price: the whole order fills) or when the book crosses it (up to the crossing
///   quantity), or by queue position: the quantity ahead at its price when it arrived,
///   shrunk by trades at that price on the other side and by the level shrinking; once the
///   queue ahead is used up, further traded quantity fills it. A price beyond the visible
///   depth has an unknown queue and fills only by trading through.
/// - Every accepted order gets an `accepted` report, then its fills; fees per fill, rounded
///   up; cash is debited by buys and credited by sells (buys beyond the cash are rejected).
///
/// Reports are read with `nextReport()`. All storage is allocated in `init`; nothing
/// allocates afterwards. Owned by one agent thread; not thread-safe.
public struct PaperVenue: Sendable {
    public let config: PaperVenueConfig
    public let instrumentCapacity: Int
    public let strategyCapacity: Int

    private var books: [DepthSnapshot]
    private var hasBook: [Bool]

    private var inFlight: [OrderEvent]
    private var inFlightArrival: [WallNanos]
    private var inFlightHead = 0
    private var inFlightCount = 0
    private var lastArrivalNs: WallNanos = .min

    private var resting: [RestingOrder]
    /// Per instrument, oldest first (time priority among our own orders).
    private var restingHead: [Int32]
    private var restingTail: [Int32]
    private var freeResting: [Int32]

    private var reports: [FillEvent]
    private var reportHead = 0
    private var reportCount = 0

    /// Each (strategy, instrument)'s position from the venue's own fills, quantity units
    /// (strategy × instrumentCapacity + instrument): what reduce-only orders are checked against.
    private var positions: [Int64]

    private var rng: UInt64
    private var nextTradeId: UInt64 = 1
    /// The sequence of the last report queued: reports are numbered 1, 2, 3, … in the order
    /// `nextReport()` hands them out.
    public private(set) var reportSequence: UInt64 = 0

    /// Cash in money units: starting capital − buys − fees + sells.
    public private(set) var cashMoney: Int64
    public private(set) var rejectsByReason: [UInt64]
    public private(set) var fillCount: UInt64 = 0
    public private(set) var restingCount = 0

    struct RestingOrder: Sendable {
        var order: OrderEvent
        var leaves: Int64
        /// Quantity ahead of us at our price (Int64.max: unknown, fill only by trading through).
        var queueAhead: Int64
        var next: Int32
        var prev: Int32
    }

    public init(config: PaperVenueConfig = PaperVenueConfig(), instrumentCapacity: Int, strategyCapacity: Int = 64) {
        precondition(instrumentCapacity >= 1, "instrument capacity \(instrumentCapacity) must be ≥ 1")
        precondition(strategyCapacity >= 1, "strategy capacity \(strategyCapacity) must be ≥ 1")
        precondition(config.inFlightCapacity >= 1 && config.restingCapacity >= 1 && config.reportCapacity >= 2 * DepthSnapshot.depth + 4,
                     "paper venue capacities \(config.inFlightCapacity)/\(config.restingCapacity)/\(config.reportCapacity) too small")
        precondition(config.latencyFixedNs >= 0 && config.latencyJitterNs >= 0, "latency must be ≥ 0")
        self.config = config
        self.instrumentCapacity = instrumentCapacity
        self.strategyCapacity = strategyCapacity
        positions = Array(repeating: 0, count: strategyCapacity * instrumentCapacity)
        books = Array(repeating: DepthSnapshot(), count: instrumentCapacity)
        hasBook = Array(repeating: false, count: instrumentCapacity)
        inFlight = Array(repeating: OrderEvent(), count: config.inFlightCapacity)
        inFlightArrival = Array(repeating: 0, count: config.inFlightCapacity)
        resting = Array(repeating: RestingOrder(order: OrderEvent(), leaves: 0, queueAhead: 0, next: -1, prev: -1),
                        count: config.restingCapacity)
        restingHead = Array(repeating: -1, count: instrumentCapacity)
        restingTail = Array(repeating: -1, count: instrumentCapacity)
        freeResting = (0..<config.restingCapacity).reversed().map { Int32($0) }
        reports = Array(repeating: FillEvent(), count: config.reportCapacity)
        rng = config.seed
        cashMoney = config.startingCapitalMoney
        rejectsByReason = Array(repeating: 0, count: 8)
    }

    // MARK: Inputs

    /// Queues an order, a cancel or a replace; it arrives after the latency. Returns false when the
    /// in-flight queue is full (nothing queued).
    public mutating func submit(_ order: OrderEvent, nowNs: WallNanos) -> Bool {
        guard inFlightCount < inFlight.count else { return false }
        var arrival = nowNs &+ config.latencyFixedNs
        if config.latencyJitterNs > 0 { arrival &+= Int64(nextRandom() % UInt64(config.latencyJitterNs + 1)) }
        arrival = max(arrival, lastArrivalNs)  // one connection: orders arrive in the order sent
        // Nor before the wall time the order carries: on a runner of its own, the caller's
        // duty-cycle time may have been read before that order's market event arrived.
        arrival = max(arrival, order.receiveWallNs)
        lastArrivalNs = arrival
        let tail = (inFlightHead + inFlightCount) % inFlight.count
        inFlight[tail] = order
        inFlightArrival[tail] = arrival
        inFlightCount += 1
        return true
    }

    /// Processes every order that has arrived by `nowNs`. Returns how many were processed
    /// (an arrival waits while the report queue could not take its reports).
    @discardableResult
    public mutating func advance(nowNs: WallNanos) -> Int {
        var processed = 0
        while inFlightCount > 0, inFlightArrival[inFlightHead] <= nowNs, freeReports >= DepthSnapshot.depth + 3 {
            let order = inFlight[inFlightHead]
            let at = inFlightArrival[inFlightHead]
            inFlightHead = (inFlightHead + 1) % inFlight.count
            inFlightCount -= 1
            switch order.action {
            case .cancel: cancel(order, at)
            case .replace: replace(order, at)
            case .new, nil: arrive(order, at)
            }
            processed += 1
        }
        return processed
    }

    /// A new book for `snapshot.instrument` (replaces the venue's copy): resting orders it
    /// crosses fill, queues ahead shrink to the level's quantity. A book of an instrument
    /// outside the capacity is ignored.
    public mutating func onDepth(_ snapshot: DepthSnapshot, nowNs: WallNanos) {
        let i = Int(snapshot.instrument)
        guard i < instrumentCapacity else { return }
        books[i] = snapshot
        hasBook[i] = true
        var slot = restingHead[i]
        while slot >= 0, freeReports > 0 {
            let next = resting[Int(slot)].next
            let r = resting[Int(slot)]
            let side = r.order.side ?? .buy
            let limit = r.order.price.units
            // Liquidity on the other side at or better than our price: it would have hit us.
            var crossing: Int64 = 0
            let levels = side == .buy ? Int(snapshot.askLevels) : Int(snapshot.bidLevels)
            for l in 0..<levels {
                let level = side == .buy ? snapshot.asks[l] : snapshot.bids[l]
                guard side == .buy ? level.price.units <= limit : level.price.units >= limit else { break }
                crossing &+= level.quantity.units
            }
            if crossing > 0 {
                fillResting(slot, quantity: min(crossing, r.leaves), nowNs)
            } else if r.queueAhead != Int64.max {
                let atLevel = quantityAt(price: limit, side: side, book: snapshot)
                if atLevel < r.queueAhead { resting[Int(slot)].queueAhead = atLevel }
            }
            slot = next
        }
    }

    /// A public trade: resting orders it trades through fill whole; at their own price, a
    /// trade by the other side uses up the queue ahead and then fills them.
    public mutating func onTrade(instrument: InstrumentId, price: Price, quantity: Quantity, aggressorSold: Bool, nowNs: WallNanos) {
        let i = Int(instrument)
        guard i < instrumentCapacity else { return }
        var slot = restingHead[i]
        var remaining = quantity.units
        while slot >= 0, freeReports > 0 {
            let next = resting[Int(slot)].next
            let r = resting[Int(slot)]
            let side = r.order.side ?? .buy
            let limit = r.order.price.units
            if side == .buy ? price.units < limit : price.units > limit {
                fillResting(slot, quantity: r.leaves, nowNs)
            } else if price.units == limit, aggressorSold == (side == .buy), remaining > 0, r.queueAhead != Int64.max {
                let used = min(r.queueAhead, remaining)
                resting[Int(slot)].queueAhead -= used
                let left = remaining - used
                if left > 0 {
                    let q = min(left, r.leaves)
                    fillResting(slot, quantity: q, nowNs)
                    remaining = left - q  // what this trade filled of ours is not available to later orders
                }
            }
            slot = next
        }
    }

    /// The oldest unread report.
    public mutating func nextReport() -> FillEvent? {
        guard reportCount > 0 else { return nil }
        let r = reports[reportHead]
        reportHead = (reportHead + 1) % reports.count
        reportCount -= 1
        return r
    }

    /// A strategy's position on an instrument from the venue's fills, signed quantity units
    /// (0 for ids outside the capacities).
    public func position(strategy: StrategyId, instrument: InstrumentId) -> Int64 {
        let s = Int(strategy), i = Int(instrument)
        return s < strategyCapacity && i < instrumentCapacity ? positions[s * instrumentCapacity + i] : 0
    }

    /// Sets a position the venue holds without a fill: at a restart, what the account held
    /// before it (a real venue keeps it). Cold path; ids outside the capacities are ignored.
    public mutating func restore(strategy: StrategyId, instrument: InstrumentId, quantityUnits: Int64) {
        let s = Int(strategy), i = Int(instrument)
        guard s < strategyCapacity, i < instrumentCapacity else { return }
        positions[s * instrumentCapacity + i] = quantityUnits
    }

    /// Every non-zero position and every resting order (a reconciliation query). Cold path.
    public func holdings() -> VenueHoldings {
        var h = VenueHoldings()
        for s in 0..<strategyCapacity {
            for i in 0..<instrumentCapacity where positions[s * instrumentCapacity + i] != 0 {
                h.positions.append(.init(strategy: StrategyId(s), instrument: InstrumentId(i),
                                         quantityUnits: positions[s * instrumentCapacity + i]))
            }
        }
        for i in 0..<instrumentCapacity {
            var slot = restingHead[i]
            while slot >= 0 {
                let r = resting[Int(slot)]
                h.openOrders.append(.init(clientOrderId: r.order.clientOrderId, strategy: r.order.strategy, instrument: r.order.instrument,
                                          side: r.order.side ?? .buy, price: r.order.price, leavesQuantity: Quantity(units: r.leaves)))
                slot = r.next
            }
        }
        return h
    }

    /// The venue's copy of a book (after what our taker fills took from it).
    public func book(instrument: InstrumentId) -> DepthSnapshot? {
        Int(instrument) < instrumentCapacity && hasBook[Int(instrument)] ? books[Int(instrument)] : nil
    }

    /// A resting order's estimated quantity ahead (nil when not resting).
    public func queueAhead(clientOrderId: UInt64, instrument: InstrumentId) -> Int64? {
        guard let slot = findResting(clientOrderId, Int(instrument)) else { return nil }
        return resting[Int(slot)].queueAhead
    }

    public var inFlightOrders: Int { inFlightCount }
    public var unreadReports: Int { reportCount }

    // MARK: Matching

    private mutating func arrive(_ order: OrderEvent, _ nowNs: WallNanos) {
        let i = Int(order.instrument)
        guard let side = order.side, let type = order.type, let tif = order.timeInForce, order.quantity.units > 0,
              type == .market || order.price.units > 0 else { return reject(order, .malformedOrder, nowNs) }
        guard i < instrumentCapacity else { return reject(order, .unknownInstrument, nowNs) }
        guard hasBook[i] else { return reject(order, .noBook, nowNs) }
        if order.flags & OrderEvent.flagReduceOnly != 0 {
            // Checked on arrival: exits are market orders, filled (or expired) at once.
            let held = position(strategy: order.strategy, instrument: order.instrument)
            guard order.quantity.units <= (side == .buy ? -held : held) else { return reject(order, .reduceOnlyWouldIncrease, nowNs) }
        }
        let book = books[i]
        guard order.priceDecimals == book.priceDecimals, order.quantityDecimals == book.quantityDecimals else {
            return reject(order, .malformedOrder, nowNs)
        }
        let limit: Int64? = type == .limit ? order.price.units : nil
        // What the walk would take, and at what cost (for FOK and the cash check).
        let (available, cost) = walkable(book, side, limit, order.quantity.units)
        if side == .buy {
            let basis: Int128 = type == .market ? cost : Int128(order.price.units) * Int128(order.quantity.units)
            let notional = MoneyScale.fromPriceQuantity(basis, priceDecimals: book.priceDecimals, quantityDecimals: book.quantityDecimals)
            let fee = MoneyScale.saturate(Int128(notional) * Int128(max(config.takerFeePartsPerMillion, config.makerFeePartsPerMillion)) / 1_000_000)
            guard Int128(notional) + Int128(fee) <= Int128(cashMoney) else { return reject(order, .insufficientFunds, nowNs) }
        }
        if type == .market, available == 0, config.beyondDepth == .expireRemainder || (side == .buy ? book.askLevels : book.bidLevels) == 0 {
            return reject(order, .noLiquidity, nowNs)
        }
        if type == .limit, tif == .goodTillCancel, available < order.quantity.units, freeResting.isEmpty {
            return reject(order, .restingTableFull, nowNs)
        }
        emit(order, status: .accepted, price: 0, quantity: 0, fee: 0, liquidity: .taker, leaves: order.quantity.units, nowNs)
        if tif == .fillOrKill && available < order.quantity.units {
            return emit(order, status: .expired, price: 0, quantity: 0, fee: 0, liquidity: .taker, leaves: order.quantity.units, nowNs)
        }
        var leaves = takeLiquidity(order, side, limit, order.quantity.units, nowNs)
        guard leaves > 0 else { return }
        if type == .market {
            let levels = side == .buy ? Int(books[i].askLevels) : Int(books[i].bidLevels)
            if config.beyondDepth == .fillAtWorstLevel, levels > 0 {
                let worst = side == .buy ? book.asks[levels - 1].price.units : book.bids[levels - 1].price.units
                leaves = fill(order, price: worst, quantity: leaves, leaves: leaves, liquidity: .taker, nowNs)
            } else {
                emit(order, status: .expired, price: 0, quantity: 0, fee: 0, liquidity: .taker, leaves: leaves, nowNs)
            }
            return
        }
        if tif != .goodTillCancel {
            return emit(order, status: .expired, price: 0, quantity: 0, fee: 0, liquidity: .taker, leaves: leaves, nowNs)
        }
        rest(order, leaves: leaves, book: books[i])
    }

    /// Σ quantity and Σ price×quantity the order could take from the book (limit: up to its price).
    private func walkable(_ book: DepthSnapshot, _ side: Side, _ limit: Int64?, _ wanted: Int64) -> (Int64, Int128) {
        var available: Int64 = 0
        var cost: Int128 = 0
        let levels = side == .buy ? Int(book.askLevels) : Int(book.bidLevels)
        for l in 0..<levels where available < wanted {
            let level = side == .buy ? book.asks[l] : book.bids[l]
            if let limit, side == .buy ? level.price.units > limit : level.price.units < limit { break }
            let q = min(level.quantity.units, wanted - available)
            available += q
            cost += Int128(level.price.units) * Int128(q)
        }
        return (available, cost)
    }

    /// Walks the venue's book as taker, one fill per level, removing what it takes. Returns the leaves.
    private mutating func takeLiquidity(_ order: OrderEvent, _ side: Side, _ limit: Int64?, _ quantity: Int64, _ nowNs: WallNanos) -> Int64 {
        let i = Int(order.instrument)
        var leaves = quantity
        var l = 0
        while leaves > 0 {
            let levels = side == .buy ? Int(books[i].askLevels) : Int(books[i].bidLevels)
            guard l < levels else { break }
            let level = side == .buy ? books[i].asks[l] : books[i].bids[l]
            if let limit, side == .buy ? level.price.units > limit : level.price.units < limit { break }
            let q = min(level.quantity.units, leaves)
            if q > 0 {
                leaves = fill(order, price: level.price.units, quantity: q, leaves: leaves, liquidity: .taker, nowNs)
                if side == .buy { books[i].asks[l].quantity.units -= q } else { books[i].bids[l].quantity.units -= q }
            }
            l += 1
        }
        return leaves
    }

    private mutating func rest(_ order: OrderEvent, leaves: Int64, book: DepthSnapshot) {
        guard let slot = freeResting.popLast() else { return }  // checked on arrival
        let side = order.side ?? .buy
        let price = order.price.units
        let levels = side == .buy ? Int(book.bidLevels) : Int(book.askLevels)
        var ahead = quantityAt(price: price, side: side, book: book)
        if ahead == 0, levels == DepthSnapshot.depth {
            let worst = side == .buy ? book.bids[levels - 1].price.units : book.asks[levels - 1].price.units
            if side == .buy ? price < worst : price > worst { ahead = Int64.max }  // beyond visible depth: unknown queue
        }
        let i = Int(order.instrument)
        let tail = restingTail[i]
        resting[Int(slot)] = RestingOrder(order: order, leaves: leaves, queueAhead: ahead, next: -1, prev: tail)
        if tail >= 0 { resting[Int(tail)].next = slot } else { restingHead[i] = slot }
        restingTail[i] = slot
        restingCount += 1
    }

    private mutating func cancel(_ request: OrderEvent, _ nowNs: WallNanos) {
        guard let slot = findResting(request.clientOrderId, Int(request.instrument)) else { return refuse(request, nowNs) }
        let r = resting[Int(slot)]
        unlink(slot)
        emit(r.order, status: .cancelled, price: 0, quantity: 0, fee: 0, liquidity: .maker, leaves: r.leaves, nowNs)
    }

    /// A replace of a resting order (`request`: its new price and open quantity). At the same
    /// price with less quantity it keeps its place in the queue; otherwise it leaves the book
    /// and arrives again as a new order at the new price (taking what it crosses, or rejected
    /// as a new order would be, which ends it).
    private mutating func replace(_ request: OrderEvent, _ nowNs: WallNanos) {
        guard request.quantity.units > 0, request.price.units > 0,
              let slot = findResting(request.clientOrderId, Int(request.instrument)) else { return refuse(request, nowNs) }
        let r = resting[Int(slot)]
        if request.price == r.order.price, request.quantity.units <= r.leaves {
            resting[Int(slot)].leaves = request.quantity.units
            return emit(r.order, status: .accepted, price: 0, quantity: 0, fee: 0, liquidity: .maker, leaves: request.quantity.units, nowNs)
        }
        unlink(slot)
        var order = r.order
        order.price = request.price
        order.quantity = request.quantity
        arrive(order, nowNs)
    }

    /// A cancel or replace of an order that is not resting (filled, expired, never arrived)
    /// is refused; the order's own reports tell the rest.
    private mutating func refuse(_ request: OrderEvent, _ nowNs: WallNanos) {
        var r = FillEvent(clientOrderId: request.clientOrderId, instrument: request.instrument, strategy: request.strategy,
                          side: request.side ?? .buy, status: .rejected, priceDecimals: request.priceDecimals,
                          quantityDecimals: request.quantityDecimals, venueTimeNs: nowNs)
        r.flags = VenueReportFlags.cancelRejected
        push(r)
    }

    private mutating func fillResting(_ slot: Int32, quantity: Int64, _ nowNs: WallNanos) {
        let r = resting[Int(slot)]
        let leaves = fill(r.order, price: r.order.price.units, quantity: quantity, leaves: r.leaves, liquidity: .maker, nowNs)
        resting[Int(slot)].leaves = leaves
        if leaves == 0 { unlink(slot) }
    }

    /// Emits one fill; returns the leaves after it.
    private mutating func fill(_ order: OrderEvent, price: Int64, quantity: Int64, leaves: Int64, liquidity: Liquidity, _ nowNs: WallNanos) -> Int64 {
        let pd = order.priceDecimals, qd = order.quantityDecimals
        let pq = Int128(price) * Int128(quantity)
        let ppm = liquidity == .maker ? config.makerFeePartsPerMillion : config.takerFeePartsPerMillion
        // Fee in price units: pq / 10^qd × ppm / 10^6, rounded up.
        let denominator = MoneyScale.power(Int(qd)) * 1_000_000
        let fee = MoneyScale.saturate((pq * Int128(ppm) + denominator - 1) / denominator)
        let notional = MoneyScale.fromPriceQuantity(pq, priceDecimals: pd, quantityDecimals: qd)
        let feeMoney = MoneyScale.fromQuote(fee, priceDecimals: pd)
        cashMoney = (order.side == .buy) ? cashMoney &- notional &- feeMoney : cashMoney &+ notional &- feeMoney
        let s = Int(order.strategy), i = Int(order.instrument)
        if s < strategyCapacity { positions[s * instrumentCapacity + i] &+= order.side == .buy ? quantity : -quantity }
        let after = leaves - quantity
        emit(order, status: after == 0 ? .filled : .partiallyFilled, price: price, quantity: quantity, fee: fee,
             liquidity: liquidity, leaves: after, nowNs)
        fillCount &+= 1
        return after
    }

    private mutating func reject(_ order: OrderEvent, _ reason: PaperRejectReason, _ nowNs: WallNanos) {
        rejectsByReason[Int(reason.rawValue)] &+= 1
        emit(order, status: .rejected, price: 0, quantity: 0, fee: 0, liquidity: .taker, leaves: order.quantity.units, nowNs)
    }

    private mutating func emit(_ order: OrderEvent, status: OrderStatus, price: Int64, quantity: Int64, fee: Int64,
                               liquidity: Liquidity, leaves: Int64, _ nowNs: WallNanos) {
        var tradeId: UInt64 = 0
        if quantity > 0 {
            tradeId = nextTradeId
            nextTradeId &+= 1
        }
        push(FillEvent(clientOrderId: order.clientOrderId, instrument: order.instrument, strategy: order.strategy,
                       side: order.side ?? .buy, liquidity: liquidity, price: Price(units: price), quantity: Quantity(units: quantity),
                       fee: fee, leavesQuantity: Quantity(units: leaves), venueTradeId: tradeId, status: status,
                       priceDecimals: order.priceDecimals, quantityDecimals: order.quantityDecimals, venueTimeNs: nowNs,
                       receiveWallNs: nowNs, timestamps: order.timestamps))
    }

    private mutating func push(_ report: FillEvent) {
        // Callers leave room (advance checks before each arrival; book events stop at a full queue).
        precondition(reportCount < reports.count, "paper venue report queue full (\(reports.count)): read nextReport()")
        reportSequence &+= 1
        var r = report
        r.sequence = reportSequence
        r.stageRaw = StageId.execution.rawValue
        r.venue = config.venueId
        reports[(reportHead + reportCount) % reports.count] = r
        reportCount += 1
    }

    private var freeReports: Int { reports.count - reportCount }

    private func quantityAt(price: Int64, side: Side, book: DepthSnapshot) -> Int64 {
        let levels = side == .buy ? Int(book.bidLevels) : Int(book.askLevels)
        for l in 0..<levels {
            let level = side == .buy ? book.bids[l] : book.asks[l]
            if level.price.units == price { return level.quantity.units }
        }
        return 0
    }

    private func findResting(_ clientOrderId: UInt64, _ i: Int) -> Int32? {
        guard i < instrumentCapacity else { return nil }
        var slot = restingHead[i]
        while slot >= 0 {
            if resting[Int(slot)].order.clientOrderId == clientOrderId { return slot }
            slot = resting[Int(slot)].next
        }
        return nil
    }

    private mutating func unlink(_ slot: Int32) {
        let r = resting[Int(slot)]
        if r.prev >= 0 { resting[Int(r.prev)].next = r.next } else { restingHead[Int(r.order.instrument)] = r.next }
        if r.next >= 0 { resting[Int(r.next)].prev = r.prev } else { restingTail[Int(r.order.instrument)] = r.prev }
        resting[Int(slot)].next = -1
        resting[Int(slot)].prev = -1
        freeResting.append(slot)
        restingCount -= 1
    }

    /// SplitMix64.
    private mutating func nextRandom() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
