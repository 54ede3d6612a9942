import Testing
import TicklineCore
import TicklineRisk
import TicklineTestSupport

@Suite struct PositionLimitPropertyTests {
    /// 20,000 random sequences of 12 steps each (signals of every kind and size, partial
    /// fills, cancels, price moves) over 3 strategies and 2 symbols. After every step, the
    /// test recomputes from its own list of open orders and the booked positions that
    /// Σ over strategies of worst-case |position| (filled plus open orders that grow it) stays
    /// within the symbol's limit: no fill sequence can then take a position past it; and
    /// that the running exposure and budget sums equal a recomputation from scratch.
    @Test func noSequenceOfSignalsAndFillsTakesAPositionPastItsLimit() {
        var rng = SeededGenerator(seed: 0x5EED_0005)
        let limit: Int64 = 1_000
        let strategies = 3, instruments = 2
        var violations = 0, approvals = 0, denials = 0, fills = 0
        var maxWorstSeen: Int64 = 0
        var firstViolation = ""
        var sumMismatches = 0
        var firstSumMismatch = ""
        for sequence in 0..<20_000 {
            var risk = makeRisk(strategies: strategies, instruments: instruments,
                                spec: fixtureSpec(minNotional: 0, maxOrder: 1_500, positionLimit: limit))
            var open: [OrderEvent] = []
            var price = [referenceUnits, referenceUnits]
            var now = startNs
            for step in 0..<12 {
                now += Int64.random(in: 0...1_000_000, using: &rng)
                let action = Int.random(in: 0..<10, using: &rng)
                if action < 5 {
                    let i = Int.random(in: 0..<instruments, using: &rng)
                    let side: Side = Bool.random(using: &rng) ? .buy : .sell
                    let entryUnits = price[i] + Int64.random(in: -100...100, using: &rng)
                    let distance = Int64.random(in: 1...300, using: &rng)
                    var s = entry(side, quantity: 10 * Int64.random(in: 0...150, using: &rng), price: entryUnits,
                                  stop: entryUnits - side.sign * distance, takeProfit: entryUnits + side.sign * distance * 2,
                                  strategy: StrategyId.random(in: 0..<StrategyId(strategies), using: &rng), instrument: InstrumentId(i))
                    if Int.random(in: 0..<5, using: &rng) == 0 { s.sizingRaw = SignalSizing.riskFraction.rawValue }
                    if Int.random(in: 0..<3, using: &rng) == 0 { s.flags = SignalEvent.flagReduceOnly }
                    switch risk.decide(signal: s, nowNs: now, stampNs: now) {
                    case .order(let o): open.append(o); approvals += 1
                    case .denied: denials += 1
                    }
                } else if action < 8, !open.isEmpty {
                    let k = Int.random(in: 0..<open.count, using: &rng)
                    let q = 10 * Int64.random(in: 1...(open[k].quantity.units / 10), using: &rng)
                    risk.apply(fill: fill(open[k], quantity: q))
                    fills += 1
                    open[k].quantity.units -= q
                    if open[k].quantity.units == 0 { open.remove(at: k) }
                } else if action == 8, !open.isEmpty {
                    let o = open.remove(at: Int.random(in: 0..<open.count, using: &rng))
                    risk.release(strategy: o.strategy, instrument: o.instrument, side: o.side!, quantity: o.quantity)
                } else {
                    let i = Int.random(in: 0..<instruments, using: &rng)
                    price[i] = max(1_000, price[i] + Int64.random(in: -50...50, using: &rng))
                    risk.updatePrice(instrument: InstrumentId(i), price: Price(units: price[i]), nowNs: now)
                }
                // The running exposure and budget sums `decide` uses equal a recomputation.
                let running = risk.exposureSums, recomputed = risk.recomputedExposureSums()
                if running.gross != recomputed.gross || running.netIfBuy != recomputed.netIfBuy
                    || running.netIfSell != recomputed.netIfSell || running.budgetUsed != recomputed.budgetUsed {
                    if sumMismatches == 0 { firstSumMismatch = "sequence \(sequence) step \(step): running \(running) recomputed \(recomputed)" }
                    sumMismatches += 1
                }
                for i in 0..<instruments {
                    var worst: Int64 = 0
                    for s in 0..<strategies {
                        let q = risk.positions.quantity(strategy: StrategyId(s), instrument: InstrumentId(i))
                        var buys: Int64 = 0, sells: Int64 = 0
                        for o in open where Int(o.strategy) == s && Int(o.instrument) == i {
                            if o.side == .buy { buys += o.quantity.units } else { sells += o.quantity.units }
                        }
                        worst += max(abs(q + buys), abs(q - sells))
                    }
                    maxWorstSeen = max(maxWorstSeen, worst)
                    if worst > limit || abs(risk.positions.quantity(instrument: InstrumentId(i))) > limit
                        || risk.worstCaseGross(instrument: InstrumentId(i)) != worst {
                        if violations == 0 { firstViolation = "sequence \(sequence) step \(step) instrument \(i): worst \(worst), risk's \(risk.worstCaseGross(instrument: InstrumentId(i)))" }
                        violations += 1
                    }
                }
            }
        }
        #expect(violations == 0, "\(firstViolation)")
        #expect(sumMismatches == 0, "\(firstSumMismatch)")
        #expect(maxWorstSeen == limit)  // the limit was reached, so the test exercised it
        #expect(approvals > 10_000 && denials > 10_000 && fills > 10_000)
    }
}
