import Testing
import TicklineCore
import TicklineExecution
import TicklineRisk
import TicklineTestSupport

@Suite struct ExitMonitorTests {
    typealias Exit = (signal: SignalEvent, reason: ExitReason)

    func monitor(strategies: Int = 2, instruments: Int = 2, _ configure: (inout ExitMonitorConfig) -> Void = { _ in }) -> ExitMonitor {
        var c = ExitMonitorConfig()
        configure(&c)
        var m = ExitMonitor(strategyCapacity: strategies, instrumentCapacity: instruments, config: c)
        for i in 0..<instruments { m.register(instrument: InstrumentId(i), priceDecimals: 2, quantityDecimals: 3) }
        return m
    }

    func price(_ m: inout ExitMonitor, _ px: Int64, at t: WallNanos = 0, instrument: InstrumentId = 0) -> [Exit] {
        var out: [Exit] = []
        m.onPrice(instrument: instrument, price: Price(units: px), nowNs: t) { out.append(($0, $1)) }
        return out
    }

    @Test func aLongTakesProfitAtItsLevelAndNotATickBefore() throws {
        var m = monitor()
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: 2_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(takeProfit: Price(units: 10_200), stopLoss: Price(units: 9_900)), nowNs: 0)
        #expect(price(&m, 10_199).isEmpty && price(&m, 9_901).isEmpty)
        let e = price(&m, 10_200)
        let exit = try #require(e.first)
        #expect(e.count == 1 && exit.reason == .takeProfit)
        #expect(exit.signal.side == .sell && exit.signal.quantity.units == 2_000 && exit.signal.strategy == 1)
        #expect(exit.signal.flags & SignalEvent.flagReduceOnly != 0 && exit.signal.entryPrice.units == 10_200)
        #expect(exit.signal.priceDecimals == 2 && exit.signal.quantityDecimals == 3)
    }

    @Test func aLongStopsOutAtItsStopAndAShortMirrorsBoth() {
        var m = monitor()
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(takeProfit: Price(units: 10_200), stopLoss: Price(units: 9_900)), nowNs: 0)
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: -1_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(takeProfit: Price(units: 9_800), stopLoss: Price(units: 10_100)), nowNs: 0)
        let down = price(&m, 9_900)
        #expect(down.count == 1 && down[0].reason == .stopLoss && down[0].signal.strategy == 0 && down[0].signal.side == .sell)
        let tp = price(&m, 9_800)
        #expect(tp.count == 1 && tp[0].reason == .takeProfit && tp[0].signal.strategy == 1 && tp[0].signal.side == .buy)
        var n = monitor()
        n.setPosition(strategy: 1, instrument: 0, quantityUnits: -1_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(takeProfit: Price(units: 9_800), stopLoss: Price(units: 10_100)), nowNs: 0)
        #expect(price(&n, 10_099).isEmpty)
        #expect(price(&n, 10_100).map(\.reason) == [.stopLoss])
    }

    @Test func moneyAtRiskIsTheDistanceToTheStopPerPositionStrategyAndAccount() {
        var m = monitor()
        // 2.000 long at 100.00, stop 99.00: 2.00 at risk.  1.000 short at 100.00, stop 100.50: 0.50.
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 2_000, entryPriceUnits: 10_000, plan: ExitPlan(stopLoss: Price(units: 9_900)), nowNs: 0)
        m.setPosition(strategy: 0, instrument: 1, quantityUnits: -1_000, entryPriceUnits: 10_000, plan: ExitPlan(stopLoss: Price(units: 10_050)), nowNs: 0)
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(), nowNs: 0)  // no stop
        #expect(m.moneyAtRisk(strategy: 0, instrument: 0) == MoneyScale.money(2))
        #expect(m.moneyAtRisk(strategy: 0, instrument: 1) == MoneyScale.money(1) / 2)
        #expect(m.moneyAtRisk(strategy: 0) == MoneyScale.money(2) + MoneyScale.money(1) / 2 && m.moneyAtRisk(strategy: 1) == 0)
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 0, entryPriceUnits: 0, plan: ExitPlan(), nowNs: 1)
        #expect(m.moneyAtRiskMoney == MoneyScale.money(1) / 2)
    }

    @Test func aTrailingStopFollowsTheBestPriceSinceEntry() {
        var m = monitor()
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(trailingDistanceUnits: 200), nowNs: 0)
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: -1_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(trailingDistanceUnits: 200), nowNs: 0)
        #expect(price(&m, 10_500).map(\.reason) == [.trailingStop])  // the short: 10,500 ≥ 10,000 + 200
        #expect(m.bestPrice(strategy: 0, instrument: 0) == 10_500)
        #expect(price(&m, 10_301).isEmpty)
        let e = price(&m, 10_300)
        #expect(e.count == 1 && e[0].reason == .trailingStop && e[0].signal.strategy == 0)
    }

    @Test func aTimeStopClosesAtItsDeadlineWithOrWithoutAPrice() {
        var m = monitor()
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(maxHoldNs: 1_000), nowNs: 5_000)
        #expect(price(&m, 10_000, at: 5_999).isEmpty)
        #expect(price(&m, 10_001, at: 6_000).map(\.reason) == [.timeStop])
        var n = monitor()
        n.setPosition(strategy: 0, instrument: 1, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(maxHoldNs: 1_000), nowNs: 0)
        _ = price(&n, 10_000, at: 10, instrument: 1)
        var out: [Exit] = []
        #expect(n.checkTime(nowNs: 999) { out.append(($0, $1)) } == 0)
        #expect(n.checkTime(nowNs: 1_000) { out.append(($0, $1)) } == 1)
        #expect(out.first?.reason == .timeStop && out.first?.signal.entryPrice.units == 10_000)
    }

    @Test func intradayPositionsCloseAtTheSessionEndSwingPositionsDoNot() {
        let monday = WallNanos(1_704_067_200 * 1_000_000_000)
        let hour: Nanos = 3_600_000_000_000
        var m = monitor { $0.sessionEndUtcNs = 16 * hour }
        #expect(m.sessionEnd(after: monday + 10 * hour) == monday + 16 * hour)
        #expect(m.sessionEnd(after: monday + 16 * hour) == monday + 40 * hour)
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(horizon: .intraday), nowNs: monday + 10 * hour)
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(horizon: .swing), nowNs: monday + 10 * hour)
        #expect(price(&m, 10_000, at: monday + 16 * hour - 1).isEmpty)
        let e = price(&m, 10_000, at: monday + 16 * hour)
        #expect(e.count == 1 && e[0].reason == .sessionEnd && e[0].signal.strategy == 0)
    }

    @Test func anEmittedExitIsNotRepeatedUntilTheRetryTimeThenItIs() {
        var m = monitor { $0.retryNs = 100 }
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(stopLoss: Price(units: 9_900)), nowNs: 0)
        #expect(price(&m, 9_800, at: 0).count == 1)
        #expect(price(&m, 9_700, at: 99).isEmpty)
        #expect(price(&m, 9_700, at: 100).count == 1)  // still open: retried
        // A partial exit fill shrinks the position and re-arms it at once.
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 400, entryPriceUnits: 10_000, plan: ExitPlan(stopLoss: Price(units: 9_900)), nowNs: 101)
        let e = price(&m, 9_700, at: 101)
        #expect(e.count == 1 && e[0].signal.quantity.units == 400)
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 0, entryPriceUnits: 0, plan: ExitPlan(), nowNs: 102)
        #expect(price(&m, 9_000, at: 500).isEmpty && m.openPositions == 0)
    }

    @Test func updatesInsideTheBandDoNotScanThePositions() {
        var m = monitor(strategies: 1_000, instruments: 1)
        for s in 0..<1_000 {
            m.setPosition(strategy: StrategyId(s), instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                          plan: ExitPlan(takeProfit: Price(units: 10_500 + Int64(s)), stopLoss: Price(units: 9_500 - Int64(s))), nowNs: 0)
        }
        for px in stride(from: Int64(9_501), through: 10_499, by: 7) { _ = price(&m, px) }
        #expect(m.scans == 0)
        #expect(price(&m, 10_500).count == 1 && m.scans == 1)
    }

    @Test func flattenExitsEveryPositionAtTheLastPrice() {
        var m = monitor()
        m.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000, plan: ExitPlan(), nowNs: 0)
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: -500, entryPriceUnits: 10_000, plan: ExitPlan(), nowNs: 0)
        m.setPosition(strategy: 1, instrument: 1, quantityUnits: 300, entryPriceUnits: 10_000, plan: ExitPlan(), nowNs: 0)
        _ = price(&m, 10_050)
        var out: [Exit] = []
        let r = m.flattenAll(nowNs: 1) { out.append(($0, $1)) }
        #expect(r.exits == 2 && r.withoutPrice == 1)
        #expect(Set(out.map { "\($0.signal.strategy)/\($0.signal.side == .buy ? "b" : "s")/\($0.signal.quantity.units)" }) == ["0/s/1000", "1/b/500"])
        #expect(out.allSatisfy { $0.reason == .flatten && $0.signal.entryPrice.units == 10_050 })
    }

    @Test func exitsPassPreTradeRiskWhenHaltedAndReduceOnlyTheHeldQuantity() throws {
        var limits = RiskLimits()
        limits.riskPartsPerMillion = 1_000_000
        limits.minRewardRiskMilli = 0
        var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: limits)
        risk.register(instrument: 0, spec: InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, maxOrderQuantityUnits: 1_000_000,
                                                            positionLimitUnits: 1_000_000))
        risk.updatePrice(instrument: 0, price: Price(units: 10_000), nowNs: 0)
        let entry = SignalEvent(strategy: 1, side: .buy, quantity: Quantity(units: 1_000), entryPrice: Price(units: 10_000),
                                takeProfit: Price(units: 10_200), stopLoss: Price(units: 9_900), priceDecimals: 2, quantityDecimals: 3)
        let o = try #require(risk.decide(signal: entry, nowNs: 0, stampNs: 0).order)
        risk.apply(fill: FillEvent(clientOrderId: o.clientOrderId, strategy: 1, side: .buy, price: o.price, quantity: o.quantity,
                                   priceDecimals: 2, quantityDecimals: 3))
        var m = monitor()
        m.setPosition(strategy: 1, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                      plan: ExitPlan(takeProfit: o.takeProfit, stopLoss: o.stopLoss), nowNs: 0)
        risk.setGlobalState(.halted)
        risk.updatePrice(instrument: 0, price: Price(units: 9_890), nowNs: 1)
        let e = price(&m, 9_890, at: 1)
        let exit = try #require(e.first?.signal)
        let decision = risk.decide(signal: exit, nowNs: 1, stampNs: 1)
        let order = try #require(decision.order, "denied: \(String(describing: decision.denial))")
        #expect(order.side == .sell && order.quantity.units == 1_000 && order.flags & OrderEvent.flagReduceOnly != 0)
        // A second exit while the first is open has nothing left to reduce.
        #expect(risk.decide(signal: exit, nowNs: 1, stampNs: 1).denial?.reason == .nothingToReduce)
        // Reducing state too.
        risk.setGlobalState(.reducing)
        #expect(risk.decide(signal: entry, nowNs: 1, stampNs: 1).denial?.reason == .globalNotActive)
    }

    /// The band is an optimisation only: over random price paths with many positions, the
    /// exits equal those of a brute-force model that checks every position on every update.
    @Test func theBandNeverMissesAnExitABruteForceCheckWouldTake() {
        var rng = SeededGenerator(seed: 0xE817)
        var mismatches = 0, total = 0
        for _ in 0..<200 {
            let strategies = 12
            var m = monitor(strategies: strategies, instruments: 1) { $0.retryNs = 50 }
            struct Model { var q: Int64 = 0; var plan = ExitPlan(); var best: Int64 = 0; var deadline: WallNanos = .max; var pending: WallNanos = 0 }
            var model = Array(repeating: Model(), count: strategies)
            var px: Int64 = 10_000
            var t: WallNanos = 0
            for _ in 0..<300 {
                t += Int64.random(in: 0...20, using: &rng)
                if Int.random(in: 0..<8, using: &rng) == 0 {
                    let s = Int.random(in: 0..<strategies, using: &rng)
                    let q: Int64 = Int.random(in: 0..<4, using: &rng) == 0 ? 0 : Int64.random(in: -3...3, using: &rng) * 100
                    let r = { (d: Int64) in Int64.random(in: 0...1, using: &rng) == 0 ? Int64(0) : d }
                    let plan = ExitPlan(takeProfit: Price(units: r(px + (q >= 0 ? 1 : -1) * Int64.random(in: 1...80, using: &rng))),
                                        stopLoss: Price(units: r(px - (q >= 0 ? 1 : -1) * Int64.random(in: 1...80, using: &rng))),
                                        trailingDistanceUnits: r(Int64.random(in: 1...60, using: &rng)),
                                        maxHoldNs: r(Int64.random(in: 1...500, using: &rng)))
                    m.setPosition(strategy: StrategyId(s), instrument: 0, quantityUnits: q, entryPriceUnits: px, plan: plan, nowNs: t)
                    let was = model[s].q
                    if q == 0 { model[s] = Model() } else {
                        let fresh = was == 0 || (was > 0) != (q > 0)
                        if !fresh, model[s].plan.trailingDistanceUnits == 0, plan.trailingDistanceUnits > 0 { model[s].best = px }
                        model[s].q = q
                        model[s].plan = plan
                        model[s].pending = 0
                        if fresh { model[s].best = px; model[s].deadline = plan.maxHoldNs > 0 ? t + plan.maxHoldNs : .max }
                    }
                    continue
                }
                px = max(100, px + Int64.random(in: -15...15, using: &rng))
                var expected: [String] = []
                for s in 0..<strategies where model[s].q != 0 {
                    var e = model[s]
                    if e.q > 0 { e.best = max(e.best, px) } else { e.best = min(e.best, px) }
                    if t >= e.pending {
                        let tp = e.plan.takeProfit.units, sl = e.plan.stopLoss.units, tr = e.plan.trailingDistanceUnits
                        var reason: ExitReason?
                        if e.q > 0 {
                            if sl > 0 && px <= sl { reason = .stopLoss } else if tr > 0 && px <= e.best - tr { reason = .trailingStop } else if tp > 0 && px >= tp { reason = .takeProfit }
                        } else {
                            if sl > 0 && px >= sl { reason = .stopLoss } else if tr > 0 && px >= e.best + tr { reason = .trailingStop } else if tp > 0 && px <= tp { reason = .takeProfit }
                        }
                        if reason == nil && t >= e.deadline { reason = .timeStop }
                        if let reason { expected.append("\(s):\(reason)"); e.pending = t + 50 }
                    }
                    model[s] = e
                }
                let got = price(&m, px, at: t).map { "\($0.signal.strategy):\($0.reason)" }
                total += got.count
                if got.sorted() != expected.sorted() {
                    if mismatches == 0 { Issue.record("t \(t) px \(px): got \(got) expected \(expected) model \(model.map { ($0.q, $0.plan.takeProfit.units, $0.plan.stopLoss.units, $0.plan.trailingDistanceUnits, $0.best, $0.pending, $0.deadline) })") }
                    mismatches += 1
                }
            }
        }
        #expect(mismatches == 0)
        #expect(total > 1_000)
    }
}
