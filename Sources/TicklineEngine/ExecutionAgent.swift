import TicklineCore
import TicklineExecution
import TicklineRing
import TicklineRuntime

/// The execution stage with the paper venue: orders (and cancels) from `orders`, books from
/// `depth.venue` (market orders walk them), trades from `market.venue` (resting limits fill
/// when the price trades through them or their queue is worked off), reports to `fills`
/// after the venue's simulated latency. A real broker adapter takes this agent's place.
/// Owned by one runner thread; no allocation per event.
public final class ExecutionAgent: Agent {
    public let roleName = "execution"
    var orders: RingConsumer<OrderEvent>
    var books: RingConsumer<DepthSnapshot>
    var trades: RingConsumer<MarketEvent>
    var reports: RingProducer<FillEvent>
    public private(set) var venue: PaperVenue
    /// A report the fills ring refused, sent first next cycle (reports are never dropped).
    var held: FillEvent?
    let batchLimit: Int
    public private(set) var ordersReceived: UInt64 = 0
    public private(set) var ordersRefused: UInt64 = 0
    public private(set) var reportsSent: UInt64 = 0
    /// Optional telemetry: order sent (by risk) to taken here, per order.
    let stats: StatsBoard?
    let executionLatency: StatsBoard.Histogram?

    /// The venue starts holding the positions `risk` holds (restored from its journal at a
    /// restart), as a real venue would: its reduce-only checks need them.
    public init(venue config: PaperVenueConfig, instrumentCapacity: Int, holding risk: RiskAgent, region: SharedRegion, batchLimit: Int = 256,
                stats: StatsBoard? = nil) throws(EngineError) {
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
        let strategies = risk.risk.strategyCapacity
        venue = PaperVenue(config: config, instrumentCapacity: instrumentCapacity, strategyCapacity: strategies)
        for s in 0..<strategies {
            for i in 0..<instrumentCapacity {
                let held = risk.risk.positions.quantity(strategy: StrategyId(s), instrument: InstrumentId(i))
                if held != 0 { venue.setPosition(strategy: StrategyId(s), instrument: InstrumentId(i), quantityUnits: held) }
            }
        }
        self.batchLimit = batchLimit
    }

    /// The paper venue runs on the duty cycle's wall time: its latency, fills and the
    /// reports' times are on the same clock as the market events and orders it answers.
    public func doWork(now: DutyCycleTime) -> Int {
        let nowNs = now.wall
        var work = books.drain(limit: batchLimit) { b, _ in _ = venue.onDepth(b.pointee, nowNs: nowNs) }
        work += trades.drain(limit: batchLimit) { t, _ in
            let e = t.pointee
            guard e.kind == .trade else { return }
            venue.onTrade(instrument: e.instrument, price: e.price, quantity: e.quantity,
                          aggressorSold: e.flags & MarketEvent.flagAggressorSold != 0, nowNs: nowNs)
        }
        // Take orders only while the venue has room; the rest wait in the ring (never dropped).
        // The latency stamp of the batch: the real clock, read once, when orders wait.
        var takenNs: MonotonicNanos = 0
        while venue.inFlightOrders < venue.config.inFlightCapacity, let o = orders.tryPop() {
            ordersReceived &+= 1
            if let stats, let h = executionLatency, o.timestamps.orderSentNs > 0 {
                if takenNs == 0 { takenNs = Clock.monotonic() }
                stats.record(h, takenNs - o.timestamps.orderSentNs)
            }
            if !venue.submit(o, nowNs: nowNs) { ordersRefused &+= 1 }
            work += 1
        }
        work += venue.advance(nowNs: nowNs)
        if let h = held {
            guard reports.tryPush(h) else { return work }
            held = nil
            reportsSent &+= 1
        }
        while let r = venue.nextReport() {
            guard reports.tryPush(r) else { held = r; break }
            reportsSent &+= 1
            work += 1
        }
        return work
    }
}
