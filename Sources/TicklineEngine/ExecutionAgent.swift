import TicklineCore
import TicklineExecution
import TicklineRing
import TicklineRuntime

/// The execution stage: orders (new, cancel, replace) from `orders`, each routed to the
/// venue its instrument trades on; books from `depth.venue` and trades from `market.venue`
/// for venues that simulate matching against them; every venue's reports to `fills`, each
/// carrying that venue's id. A venue is an `ExecutionVenue`: a paper venue per configured
/// venue today, a broker adapter in its place. Owned by one runner thread; no allocation
/// per event.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class ExecutionAgent: Agent {
    public let roleName = "execution"
    @exclusivity(unchecked) var orders: RingConsumer<OrderEvent>
    @exclusivity(unchecked) var books: RingConsumer<DepthSnapshot>
    @exclusivity(unchecked) var trades: RingConsumer<MarketEvent>
    @exclusivity(unchecked) var reports: RingProducer<FillEvent>
    /// Indexed by `VenueId`.
    @exclusivity(unchecked) public private(set) var venues: [any ExecutionVenue]
    /// The venue of each instrument (index = `InstrumentId`).
    let venueOf: [Int]
    /// A report the fills ring refused, sent first next cycle (reports are never dropped).
    @exclusivity(unchecked) var held: FillEvent?
    let batchLimit: Int
    @exclusivity(unchecked) public private(set) var ordersReceived: UInt64 = 0
    @exclusivity(unchecked) public private(set) var ordersRefused: UInt64 = 0
    @exclusivity(unchecked) public private(set) var reportsSent: UInt64 = 0
    /// Optional telemetry: order sent (by risk) to taken here, per order.
    let stats: StatsBoard?
    let executionLatency: StatsBoard.Histogram?

    /// Paper venues from their configs (each reports with its position as `venueId`,
    /// whatever the config says).
    public convenience init(venues configs: [PaperVenueConfig], instrumentVenues: [VenueId], holding risk: RiskAgent,
                            region: SharedRegion, batchLimit: Int = 256, stats: StatsBoard? = nil) throws(EngineError) {
        let capacity = max(instrumentVenues.count, 1)
        let venues: [any ExecutionVenue] = configs.enumerated().map { k, c in
            var config = c
            config.venueId = VenueId(k)
            return PaperVenue(config: config, instrumentCapacity: capacity, strategyCapacity: risk.risk.strategyCapacity)
        }
        try self.init(venues: venues, instrumentVenues: instrumentVenues, holding: risk, region: region, batchLimit: batchLimit, stats: stats)
    }

    /// - Parameters:
    ///   - venues: in `VenueId` order (venue k reports with id k).
    ///   - instrumentVenues: the venue of each instrument (index = instrument id); an id
    ///     beyond it trades on venue 0, which refuses it as an unknown instrument.
    /// Each venue starts holding the positions `risk` holds on it (restored from its journal
    /// at a restart), as a real venue would: its reduce-only checks need them.
    public init(venues: [any ExecutionVenue], instrumentVenues: [VenueId], holding risk: RiskAgent, region: SharedRegion,
                batchLimit: Int = 256, stats: StatsBoard? = nil) throws(EngineError) {
        precondition(!venues.isEmpty, "the execution stage needs at least one venue")
        for (k, v) in venues.enumerated() where Int(v.venueId) != k {
            throw EngineError(description: "execution stage: venue \(k) reports as venue \(v.venueId)")
        }
        self.stats = stats
        executionLatency = stats?.stageLatency("execution")
        do {
            orders = try region.consumer(of: OrderEvent.self, ring: "orders")
            books = try region.consumer(of: DepthSnapshot.self, ring: "depth.venue")
            trades = try region.consumer(of: MarketEvent.self, ring: "market.venue")
            reports = try region.producer(of: FillEvent.self, ring: "fills")
        } catch {
            throw EngineError(description: "execution stage: \(error.description)")
        }
        for (i, v) in instrumentVenues.enumerated() where Int(v) >= venues.count {
            throw EngineError(description: "execution stage: instrument \(i) trades on venue \(v), but only \(venues.count) are configured")
        }
        venueOf = instrumentVenues.map(Int.init)
        self.venues = venues
        for s in 0..<risk.risk.strategyCapacity {
            for i in instrumentVenues.indices {
                let held = risk.risk.positions.quantity(strategy: StrategyId(s), instrument: InstrumentId(i))
                if held != 0 { self.venues[venueOf[i]].restore(strategy: StrategyId(s), instrument: InstrumentId(i), quantityUnits: held) }
            }
        }
        self.batchLimit = batchLimit
    }

    /// One paper venue for every instrument (tests and tools with a single venue).
    public convenience init(venue config: PaperVenueConfig, instrumentCapacity: Int, holding risk: RiskAgent, region: SharedRegion,
                            batchLimit: Int = 256, stats: StatsBoard? = nil) throws(EngineError) {
        try self.init(venues: [config], instrumentVenues: Array(repeating: 0, count: instrumentCapacity), holding: risk,
                      region: region, batchLimit: batchLimit, stats: stats)
    }

    /// Venue `k` when it is a paper venue (tests and reports).
    public func paperVenue(_ k: Int = 0) -> PaperVenue? { k < venues.count ? venues[k] as? PaperVenue : nil }

    @inline(__always)
    func venueIndex(_ instrument: InstrumentId) -> Int {
        Int(instrument) < venueOf.count ? venueOf[Int(instrument)] : 0
    }

    /// The venues run on the duty cycle's wall time: a paper venue's latency, fills and
    /// reports' times are on the same clock as the market events and orders they answer.
    public func doWork(now: DutyCycleTime) -> Int {
        let nowNs = now.wall
        var work = books.drain(limit: batchLimit) { b, _ in venues[venueIndex(b.pointee.instrument)].onDepth(b.pointee, nowNs: nowNs) }
        work += trades.drain(limit: batchLimit) { t, _ in venues[venueIndex(t.pointee.instrument)].onTrade(t.pointee, nowNs: nowNs) }
        // Take orders only while every venue has room (the next order's venue is unknown
        // until it is taken); the rest wait in the ring (never dropped). The latency stamp of
        // the batch: the real clock, read once, when orders wait.
        var takenNs: MonotonicNanos = 0
        while venuesHaveRoom, let o = orders.tryPop() {
            ordersReceived &+= 1
            if let stats, let h = executionLatency, o.timestamps.orderSentNs > 0 {
                if takenNs == 0 { takenNs = Clock.monotonic() }
                stats.record(h, takenNs - o.timestamps.orderSentNs)
            }
            if !venues[venueIndex(o.instrument)].submit(o, nowNs: nowNs) { ordersRefused &+= 1 }
            work += 1
        }
        for k in venues.indices { work += venues[k].advance(nowNs: nowNs) }
        if let h = held {
            guard reports.tryPush(h) else { return work }
            held = nil
            reportsSent &+= 1
        }
        for k in venues.indices {
            while let r = venues[k].nextReport() {
                guard reports.tryPush(r) else { held = r; return work }
                reportsSent &+= 1
                work += 1
            }
        }
        return work
    }

    private var venuesHaveRoom: Bool {
        for k in venues.indices where !venues[k].canTakeOrder { return false }
        return true
    }

    /// Where a venue and the risk stage disagree: a position one holds and the other does not
    /// (or in another size), or an order open at the venue that risk holds no open order
    /// for. Read on the stage's thread (or before it starts). Cold path.
    public func reconcile(with risk: RiskAgent) -> [ReconciliationMismatch] {
        var found: [ReconciliationMismatch] = []
        for (k, venue) in venues.enumerated() {
            let holdings = venue.holdings()
            for s in 0..<risk.risk.strategyCapacity {
                for i in venueOf.indices where venueOf[i] == k {
                    let ours = risk.risk.positions.quantity(strategy: StrategyId(s), instrument: InstrumentId(i))
                    let theirs = holdings.positions.first { $0.strategy == StrategyId(s) && $0.instrument == InstrumentId(i) }?.quantityUnits ?? 0
                    if ours != theirs {
                        found.append(.position(venue: VenueId(k), strategy: StrategyId(s), instrument: InstrumentId(i), risk: ours, held: theirs))
                    }
                }
            }
            for o in holdings.openOrders where risk.table.state(clientOrderId: o.clientOrderId)?.isTerminal ?? true {
                found.append(.unknownOpenOrder(venue: VenueId(k), clientOrderId: o.clientOrderId))
            }
        }
        return found
    }
}

/// One disagreement a reconciliation found (see `ExecutionAgent.reconcile`).
public enum ReconciliationMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The position risk holds and the one the venue holds (`held`), quantity units.
    case position(venue: VenueId, strategy: StrategyId, instrument: InstrumentId, risk: Int64, held: Int64)
    case unknownOpenOrder(venue: VenueId, clientOrderId: UInt64)

    public var description: String {
        switch self {
        case .position(let v, let s, let i, let ours, let theirs):
            "venue \(v): strategy \(s) instrument \(i): the venue holds \(theirs) units, risk holds \(ours)"
        case .unknownOpenOrder(let v, let id):
            "venue \(v): order \(id) is open at the venue, but not in the risk stage's order table"
        }
    }
}
