import Testing
import TicklineCore
import TicklineExecution
import TicklineRisk

/// A deep book around `mid`: 200.000 per level on each side.
func deepBook(mid: Int64) -> DepthSnapshot {
    var b = DepthSnapshot(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
    for n in 0..<DepthSnapshot.depth {
        b.bids[n] = BookLevel(price: Price(units: mid - 1 - Int64(n)), quantity: Quantity(units: 200_000))
        b.asks[n] = BookLevel(price: Price(units: mid + 1 + Int64(n)), quantity: Quantity(units: 200_000))
    }
    b.bidLevels = UInt8(DepthSnapshot.depth)
    b.askLevels = UInt8(DepthSnapshot.depth)
    return b
}

@Suite struct BreakerAndKillSwitchTests {
    let monday: Nanos = 1_704_067_200 * 1_000_000_000
    let hour: Nanos = 3_600_000_000_000

    /// Equity follows a real position marked by prices through the whole loop: the daily
    /// loss trips (reducing: entries denied, exits pass), the weekly loss halts, the kill
    /// switch cancels the open orders and flattens, a manual resume trades again.
    @Test func aScriptedEquityPathTripsReducesHaltsKillsAndResumes() throws {
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, maxOrderQuantityUnits: 1_000_000, positionLimitUnits: 1_000_000)
        var cfg = PaperVenueConfig()
        cfg.latencyFixedNs = 0
        cfg.latencyJitterNs = 0
        var limits = journalLimits()
        limits.priceCollarBasisPoints = 10_000
        limits.maxReferencePriceAgeNs = .max / 2
        var h = Harness(strategies: 2, instruments: 1, spec: spec, limits: limits, venue: cfg)
        var exits = ExitMonitor(strategyCapacity: 2, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        var t = monday + hour
        h.book(deepBook(mid: 10_000), nowNs: t)
        var breakers = CircuitBreakers(limits: h.risk.limits, equityMoney: h.risk.positions.equityMoney, wallNs: WallNanos(t))
        var events: [RiskEvent] = []
        func mark(_ mid: Int64) {
            t += hour / 4
            h.book(deepBook(mid: mid), nowNs: t)
            if let e = breakers.observe(equityMoney: h.risk.positions.equityMoney, wallNs: WallNanos(t)) {
                events.append(e)
                h.risk.setGlobalState(breakers.state)
            }
        }
        // 100.000 bought at 100.01 (fee 0.1 % ≈ 10.00).
        let entered = h.signal(buySignal(0, quantity: 100_000, price: 10_001), nowNs: t)
        h.pump(nowNs: t)
        let entry = try #require(entered)
        #expect(h.orders.state(clientOrderId: entry.clientOrderId) == .filled)
        exits.setPosition(strategy: 0, instrument: 0, quantityUnits: 100_000, entryPriceUnits: 10_001, plan: ExitPlan(), nowNs: WallNanos(t))
        // A resting entry of strategy 1 (a sell far above a falling market) that the kill switch will have to cancel.
        let rest = h.signal(buySignal(1, quantity: 1_000, price: 11_000, side: .sell), nowNs: t)
        h.pump(nowNs: t)
        let resting = try #require(rest)

        mark(9_000)  // −1,000 and fees: inside the 3 % (1,500)
        #expect(events.isEmpty && h.risk.globalState == .active)
        mark(8_500)  // −1,500 more than the day's start: reducing
        #expect(events.last?.reason == BreakerReason.dailyLoss.rawValue && events.last?.toState == .reducing)
        #expect(h.signal(buySignal(1, quantity: 100, price: 8_500), nowNs: t) == nil)
        #expect(h.denials.last?.reason == .globalNotActive)
        let partial = SignalEvent(strategy: 0, side: .sell, quantity: Quantity(units: 10_000), entryPrice: Price(units: 8_499),
                                  priceDecimals: 2, quantityDecimals: 3, flags: SignalEvent.flagReduceOnly)
        let exitOrder = h.signal(partial, nowNs: t)
        h.pump(nowNs: t)
        #expect(exitOrder != nil)  // exits pass when reducing
        exits.setPosition(strategy: 0, instrument: 0, quantityUnits: h.risk.positions.quantity(strategy: 0, instrument: 0),
                          entryPriceUnits: 10_001, plan: ExitPlan(), nowNs: WallNanos(t))
        mark(6_500)  // the week's loss passes 6 %: halted
        #expect(events.last?.reason == BreakerReason.weeklyLoss.rawValue && events.last?.toState == .halted)
        #expect(h.risk.globalState == .halted)

        // Kill switch: cancel all open orders, flatten.
        var cancels: [OrderEvent] = []
        var flattenSignals: [SignalEvent] = []
        _ = exits.onPrice(instrument: 0, price: Price(units: 6_499), nowNs: WallNanos(t)) { _, _ in }
        // (`h` is captured by `mark`, so two inout accesses into it would overlap: work on copies.)
        var risk = h.risk, orders = h.orders
        let kill = KillSwitch.engage(breakers: &breakers, risk: &risk, orders: &orders, exits: &exits, flatten: true, wallNs: WallNanos(t), nowNs: MonotonicNanos(t),
                                     sendCancel: { cancels.append($0) }, cancelled: { _ in }, exit: { s, _ in flattenSignals.append(s) })
        h.risk = risk
        h.orders = orders
        #expect(kill.kind == .killSwitch && kill.toState == .halted && breakers.killSwitchEngaged)
        #expect(cancels.map(\.clientOrderId) == [resting.clientOrderId])
        for c in cancels { _ = h.venue.submit(c, nowNs: WallNanos(t)) }
        h.pump(nowNs: t)
        #expect(h.orders.state(clientOrderId: resting.clientOrderId) == .cancelled && h.orders.openCount == 0)
        #expect(h.risk.openQuantity(strategy: 1, instrument: 0, side: .sell) == 0)
        #expect(flattenSignals.count == 1 && flattenSignals.first?.quantity.units == 90_000)
        for s in flattenSignals { _ = h.signal(s, nowNs: t) }  // halted: reduce-only passes
        h.pump(nowNs: t)
        #expect(h.risk.positions.quantity(instrument: 0) == 0)
        #expect(h.signal(buySignal(1, quantity: 100, price: 7_000), nowNs: t) == nil)

        // A new day does not lift a halt; a manual resume does.
        mark(7_000)
        t += 24 * hour
        #expect(breakers.observe(equityMoney: h.risk.positions.equityMoney, wallNs: WallNanos(t)) == nil && breakers.state == .halted)
        let resumed = breakers.resume(equityMoney: h.risk.positions.equityMoney, wallNs: WallNanos(t))
        #expect(resumed?.toState == .active)
        h.risk.setGlobalState(breakers.state)
        h.book(deepBook(mid: 7_000), nowNs: t)
        #expect(h.signal(buySignal(1, quantity: 100, price: 7_001), nowNs: t) != nil)
    }
}
