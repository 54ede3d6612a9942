import Testing
import TicklineCore
import TicklineExecution
import TicklineRisk
import TicklineTestSupport

@Suite struct VenuePositionLimitPropertyTests {
    /// 2,000 random sequences of 40 steps through the whole loop (signals → risk → order
    /// table → paper venue with latency → reports → order table → risk): entries and exits
    /// of every size, market/limit/IOC orders, cancels, new books and trades that fill
    /// resting orders. After every step no symbol's net position, nor any strategy's
    /// worst case (position plus the open orders that grow it, from the order table), is
    /// past the limit; and no report was refused or overfilled (the venue and the table agree).
    @Test func noSequenceOfSignalsAndPaperFillsTakesAPositionPastItsLimit() {
        var rng = SeededGenerator(seed: 0x5EED_0006)
        let limit: Int64 = 3_000
        let strategies = 3
        var violations = 0, approvals = 0, fills: UInt64 = 0, faults = 0
        var maxSeen: Int64 = 0
        var firstViolation = ""
        var cfg = PaperVenueConfig()
        cfg.latencyFixedNs = 1_000
        cfg.latencyJitterNs = 2_000
        cfg.startingCapitalMoney = MoneyScale.money(10_000_000)
        var limits = journalLimits()
        limits.submitBurst = 1_000_000
        limits.submitPerSecond = 1_000_000
        limits.maxOpenSwingPositions = 100
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, stepSizeUnits: 10, venueMinQuantityUnits: 10,
                                      maxOrderQuantityUnits: 2_500, positionLimitUnits: limit)
        for sequence in 0..<2_000 {
            cfg.seed = UInt64(sequence)
            var h = Harness(strategies: strategies, instruments: 1, spec: spec, limits: limits, venue: cfg)
            var mid: Int64 = 10_000
            var now: Nanos = 0
            h.book(randomBook(mid: mid, &rng), nowNs: now)
            var sent: [UInt64] = []
            for step in 0..<40 {
                now += Int64.random(in: 0...3_000, using: &rng)
                let action = Int.random(in: 0..<10, using: &rng)
                if action < 5 {
                    let side: Side = Bool.random(using: &rng) ? .buy : .sell
                    let entryUnits = mid + Int64.random(in: -30...30, using: &rng)
                    var s = SignalEvent(strategy: StrategyId.random(in: 0..<StrategyId(strategies), using: &rng), side: side,
                                        quantity: Quantity(units: 10 * Int64.random(in: 1...300, using: &rng)), entryPrice: Price(units: entryUnits),
                                        takeProfit: Price(units: entryUnits + side.sign * 300), stopLoss: Price(units: entryUnits - side.sign * 100),
                                        priceDecimals: 2, quantityDecimals: 3)
                    if Int.random(in: 0..<3, using: &rng) == 0 { s.flags = SignalEvent.flagReduceOnly }
                    let type: OrderType = Int.random(in: 0..<3, using: &rng) == 0 ? .market : .limit
                    let tif: TimeInForce = Int.random(in: 0..<4, using: &rng) == 0 ? .immediateOrCancel : .goodTillCancel
                    if let o = h.signal(s, nowNs: now, type: type, timeInForce: tif) { sent.append(o.clientOrderId); approvals += 1 }
                } else if action == 5, !sent.isEmpty {
                    h.cancel(sent[Int.random(in: 0..<sent.count, using: &rng)], nowNs: now)
                } else if action < 8 {
                    mid = max(9_000, min(11_000, mid + Int64.random(in: -20...20, using: &rng)))
                    h.book(randomBook(mid: mid, &rng), nowNs: now)
                } else {
                    let px = mid + Int64.random(in: -10...10, using: &rng)
                    h.trade(price: px, quantity: 10 * Int64.random(in: 1...200, using: &rng), aggressorSold: Bool.random(using: &rng), nowNs: now)
                }
                h.pump(nowNs: now)
                // Independent check from the order table's open orders and the booked positions.
                var worst: Int64 = 0
                for st in 0..<strategies {
                    let q = h.risk.positions.quantity(strategy: StrategyId(st), instrument: 0)
                    var buys: Int64 = 0, sells: Int64 = 0
                    h.orders.forEachOpen { r in
                        guard Int(r.order.strategy) == st else { return }
                        if r.order.side == .buy { buys += r.leavesUnits } else { sells += r.leavesUnits }
                    }
                    worst += max(abs(q + buys), abs(q - sells))
                }
                let net = abs(h.risk.positions.quantity(instrument: 0))
                maxSeen = max(maxSeen, worst)
                if worst > limit || net > limit || worst != h.risk.worstCaseGross(instrument: 0) {
                    if violations == 0 { firstViolation = "sequence \(sequence) step \(step): worst \(worst) net \(net) risk's \(h.risk.worstCaseGross(instrument: 0))" }
                    violations += 1
                }
            }
            fills &+= h.venue.fillCount
            faults += h.faults.filter { $0.reason != .illegalTransition || $0.input != .requestCancel }.count
        }
        #expect(violations == 0, "\(firstViolation)")
        #expect(faults == 0)
        #expect(maxSeen == limit)  // the limit was reached, so the test exercised it
        #expect(approvals > 10_000 && fills > 10_000)
    }

    func randomBook(mid: Int64, _ rng: inout SeededGenerator) -> DepthSnapshot {
        var b = DepthSnapshot(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        let levels = Int.random(in: 1...DepthSnapshot.depth, using: &rng)
        for n in 0..<levels {
            b.bids[n] = BookLevel(price: Price(units: mid - 1 - Int64(n)), quantity: Quantity(units: 10 * Int64.random(in: 1...100, using: &rng)))
            b.asks[n] = BookLevel(price: Price(units: mid + 1 + Int64(n)), quantity: Quantity(units: 10 * Int64.random(in: 1...100, using: &rng)))
        }
        b.bidLevels = UInt8(levels)
        b.askLevels = UInt8(levels)
        return b
    }
}
