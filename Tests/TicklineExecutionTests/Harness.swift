import TicklineCore
import TicklineExecution
import TicklineRisk

/// The risk → execution → venue loop on one thread, as the engine will wire it: signals go
/// through pre-trade risk, approved orders into the order table and the journal and on to
/// the paper venue; venue reports through the order table into risk and the journal.
/// Its time is one number that both clocks read (the venue's wall clock, risk's and the
/// order table's monotonic clock), as under a simulated clock.
struct Harness {
    var risk: PreTradeRisk
    var orders: OrderTable
    var venue: PaperVenue
    var encoder = JournalEncoder()
    var journal: [UInt8] = []
    var faults: [OrderFault] = []
    var denials: [Denial] = []

    init(strategies: Int = 2, instruments: Int = 1, spec: InstrumentRiskSpec, limits: RiskLimits, venue config: PaperVenueConfig) {
        risk = PreTradeRisk(strategyCapacity: strategies, instrumentCapacity: instruments, limits: limits)
        for i in 0..<instruments { risk.register(instrument: InstrumentId(i), spec: spec) }
        orders = OrderTable(capacity: 256)
        venue = PaperVenue(config: config, instrumentCapacity: instruments)
    }

    /// A book for the venue, its mid as the reference price for risk.
    mutating func book(_ b: DepthSnapshot, nowNs: Nanos) {
        venue.onDepth(b, nowNs: WallNanos(nowNs))
        risk.updatePrice(instrument: b.instrument, price: b.bids[0].price, nowNs: MonotonicNanos(nowNs))
        pump(nowNs: nowNs)
    }

    @discardableResult
    mutating func signal(_ s: SignalEvent, nowNs: Nanos, type: OrderType = .limit, timeInForce: TimeInForce = .goodTillCancel) -> OrderEvent? {
        switch risk.decide(signal: s, nowNs: MonotonicNanos(nowNs), stampNs: MonotonicNanos(nowNs)) {
        case .denied(let d):
            denials.append(d)
            return nil
        case .order(var o):
            o.typeRaw = type.rawValue
            o.timeInForceRaw = timeInForce.rawValue
            if let f = orders.insert(o, nowNs: MonotonicNanos(nowNs)) { faults.append(f); return nil }
            encoder.append(order: o, to: &journal)
            _ = orders.markSent(clientOrderId: o.clientOrderId, nowNs: MonotonicNanos(nowNs))
            precondition(venue.submit(o, nowNs: WallNanos(nowNs)), "venue queue full")
            return o
        }
    }

    mutating func cancel(_ id: UInt64, nowNs: Nanos) {
        if case .success(let c) = orders.requestCancel(clientOrderId: id, nowNs: MonotonicNanos(nowNs)) {
            encoder.append(order: c, to: &journal)
            _ = venue.submit(c, nowNs: WallNanos(nowNs))
        }
    }

    mutating func trade(instrument: InstrumentId = 0, price: Int64, quantity: Int64, aggressorSold: Bool, nowNs: Nanos) {
        venue.onTrade(instrument: instrument, price: Price(units: price), quantity: Quantity(units: quantity), aggressorSold: aggressorSold, nowNs: WallNanos(nowNs))
        risk.updatePrice(instrument: instrument, price: Price(units: price), nowNs: MonotonicNanos(nowNs))
        pump(nowNs: nowNs)
    }

    /// Lets the venue process arrivals and applies every report.
    mutating func pump(nowNs: Nanos) {
        venue.advance(nowNs: WallNanos(nowNs))
        while let r = venue.nextReport() {
            if r.flags & VenueReportFlags.cancelRejected != 0 {
                if let f = orders.cancelRejected(clientOrderId: r.clientOrderId, nowNs: MonotonicNanos(nowNs)) { faults.append(f) } else { encoder.append(report: r, to: &journal) }
                continue
            }
            switch orders.apply(report: r, nowNs: MonotonicNanos(nowNs)) {
            case .applied(let fill), .overfilled(let fill, _):
                encoder.append(report: fill, to: &journal)
                risk.apply(fill: fill)
            case .refused(let f):
                faults.append(f)
            }
        }
    }
}
