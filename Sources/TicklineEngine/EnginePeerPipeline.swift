import TicklineConfig
import TicklineCore
import TicklineExecution
import TicklineRing
import TicklineRisk

/// Risk and execution stages on one region with one BTCUSDT-like instrument (2 price and 3
/// quantity decimals), driven by hand: what the restart-recovery tests and their peer
/// process share. Not used by the product.
public final class EnginePeerPipeline {
    public let risk: RiskAgent
    /// Nil when built without (a test then plays the venue on the `fills` ring).
    public let execution: ExecutionAgent?
    var depth: RingProducer<DepthSnapshot>
    var venueDepth: RingProducer<DepthSnapshot>
    var signals: RingProducer<SignalEvent>

    /// The catalog's rings at test sizes (4,096 slots at most: the journal rings' default
    /// million slots would make every test region ~700 MiB).
    public static var smallRings: [RingSpec] { RegionPlan.small(capacity: 4_096).rings }

    public static let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, maxOrderQuantityUnits: 10_000,
                                                positionLimitUnits: 20_000)

    /// `configure` adjusts the risk stage's settings (journal policy, outbox size, limits).
    public init(region: SharedRegion, journal: String?, venueLatencyNs: Nanos, withVenue: Bool = true, now: DutyCycleTime = .now(),
                spec: InstrumentRiskSpec = EnginePeerPipeline.spec, configure: (inout RiskStageSettings) -> Void = { _ in }) throws {
        var settings = RiskStageSettings(instruments: [spec], strategyCapacity: 2)
        settings.journalPath = journal
        settings.entryTimeInForce = .goodTillCancel
        configure(&settings)
        risk = try RiskAgent(settings: settings, region: region, nowNs: now.monotonic, wallNs: now.wall)
        var venue = PaperVenueConfig()
        venue.latencyFixedNs = venueLatencyNs
        venue.latencyJitterNs = 0
        execution = withVenue ? try ExecutionAgent(venue: venue, instrumentCapacity: 1, holding: risk, region: region) : nil
        depth = try region.producer(of: DepthSnapshot.self, ring: "depth")
        venueDepth = try region.producer(of: DepthSnapshot.self, ring: "depth.venue")
        signals = try region.producer(of: SignalEvent.self, ring: "signals")
    }

    /// A one-level book (default bid 61,000.00 / ask 61,000.10, 5.000 each) to both rings.
    public func publishBook(nowNs: MonotonicNanos, bid: Int64 = 6_100_000, ask: Int64 = 6_100_010) {
        var b = DepthSnapshot(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        b.bids[0] = BookLevel(price: Price(units: bid), quantity: Quantity(units: 5_000))
        b.asks[0] = BookLevel(price: Price(units: ask), quantity: Quantity(units: 5_000))
        b.bidLevels = 1
        b.askLevels = 1
        b.socketReadNs = nowNs
        _ = depth.tryPush(b)
        _ = venueDepth.tryPush(b)
    }

    /// Buy `quantityUnits` (default 0.100) at the ask (61,000.10), stop 100.00 below,
    /// take-profit 300.00 above; or sell at the bid (61,000.00), stop 100.00 above,
    /// take-profit 300.00 below; with the trailing distance and max hold given (none by default).
    /// False when the signals ring is full.
    @discardableResult
    public func sendSignal(side: Side = .buy, strategy: StrategyId = 1, sequence: UInt64 = 1, quantityUnits: Int64 = 100,
                           trailingUnits: Int64 = 0, maxHoldNs: Nanos = 0) -> Bool {
        let entry: Int64 = side == .buy ? 6_100_010 : 6_100_000
        return signals.tryPush(SignalEvent(sequence: sequence, instrument: 0, strategy: strategy, side: side, sizing: .quantity,
                                           quantity: Quantity(units: quantityUnits), entryPrice: Price(units: entry),
                                           takeProfit: Price(units: entry + side.sign * 30_000), stopLoss: Price(units: entry - side.sign * 10_000),
                                           horizon: .swing, priceDecimals: 2, quantityDecimals: 3,
                                           trailingDistance: Price(units: trailingUnits), maxHoldNs: maxHoldNs))
    }
}
