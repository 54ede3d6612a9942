import TicklineCore
import TicklineExecution
import TicklineRing
import TicklineRuntime

/// The execution stage with one paper venue per configured venue: orders (and cancels)
/// from `orders`, books from `depth.venue` (market orders walk them), trades from
/// `market.venue` (resting limits fill when the price trades through them or their queue is
/// worked off), each routed to the venue its instrument trades on; reports to `fills` after
/// the venue's simulated latency, carrying that venue's id. A real broker adapter takes a
/// paper venue's place. Owned by one runner thread; no allocation per event.
public final class ExecutionAgent: Agent {
    public let roleName = "execution"
    var orders: RingConsumer<OrderEvent>
    var books: RingConsumer<DepthSnapshot>
    var trades: RingConsumer<MarketEvent>
    var reports: RingProducer<FillEvent>
    /// Indexed by `VenueId`.
    public private(set) var venues: [PaperVenue]
    /// The venue of each instrument (index = `InstrumentId`).
    let venueOf: [Int]
    /// A report the fills ring refused, sent first next cycle (reports are never dropped).
    var held: FillEvent?
    let batchLimit: Int
    public private(set) var ordersReceived: UInt64 = 0
    public private(set) var ordersRefused: UInt64 = 0
    public private(set) var reportsSent: UInt64 = 0
    /// Optional telemetry: order sent (by risk) to taken here, per order.
    let stats: StatsBoard?
    let executionLatency: StatsBoard.Histogram?

    /// - Parameters:
    ///   - venues: one paper venue each, in `VenueId` order (each reports with its position
    ///     as `venueId`, whatever the config says).
    ///   - instrumentVenues: the venue of each instrument (index = instrument id); an id
    ///     beyond it trades on venue 0, which refuses it as an unknown instrument.
    /// Each venue starts holding the positions `risk` holds on it (restored from its journal
    /// at a restart), as a real venue would: its reduce-only checks need them.
    public init(venues configs: [PaperVenueConfig], instrumentVenues: [VenueId], holding risk: RiskAgent, region: SharedRegion,
                batchLimit: Int = 256, stats: StatsBoard? = nil) throws(EngineError) {
        precondition(!configs.isEmpty, "the execution stage needs at least one venue")
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
        for (i, v) in instrumentVenues.enumerated() where Int(v) >= configs.count {
            throw EngineError(description: "execution stage: instrument \(i) trades on venue \(v), but only \(configs.count) are configured")
        }
        let instrumentCapacity = max(instrumentVenues.count, 1)
        let strategies = risk.risk.strategyCapacity
        venueOf = instrumentVenues.map(Int.init)
        venues = configs.enumerated().map { k, c in
            var config = c
            config.venueId = VenueId(k)
            return PaperVenue(config: config, instrumentCapacity: instrumentCapacity, strategyCapacity: strategies)
        }
        for s in 0..<strategies {
            for i in instrumentVenues.indices {
                let held = risk.risk.positions.quantity(strategy: StrategyId(s), instrument: InstrumentId(i))
                if held != 0 { venues[venueOf[i]].setPosition(strategy: StrategyId(s), instrument: InstrumentId(i), quantityUnits: held) }
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

    /// The first venue (the only one of a single-venue engine).
    public var venue: PaperVenue { venues[0] }

    @inline(__always)
    func venueIndex(_ instrument: InstrumentId) -> Int {
        Int(instrument) < venueOf.count ? venueOf[Int(instrument)] : 0
    }

    /// The paper venues run on the duty cycle's wall time: their latency, fills and the
    /// reports' times are on the same clock as the market events and orders they answer.
    public func doWork(now: DutyCycleTime) -> Int {
        let nowNs = now.wall
        var work = books.drain(limit: batchLimit) { b, _ in _ = venues[venueIndex(b.pointee.instrument)].onDepth(b.pointee, nowNs: nowNs) }
        work += trades.drain(limit: batchLimit) { t, _ in
            let e = t.pointee
            guard e.kind == .trade else { return }
            venues[venueIndex(e.instrument)].onTrade(instrument: e.instrument, price: e.price, quantity: e.quantity,
                                                     aggressorSold: e.flags & MarketEvent.flagAggressorSold != 0, nowNs: nowNs)
        }
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
        for k in venues.indices where venues[k].inFlightOrders >= venues[k].config.inFlightCapacity { return false }
        return true
    }
}
