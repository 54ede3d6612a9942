import Testing
import TicklineCore
import TicklineRisk

/// One test per check, each at both edges: the last value allowed and the first denied.
@Suite struct PreTradeCheckTests {
    @Test func approvesAnOrdinaryEntryAsALimitOrderAtTheEntryPrice() throws {
        var risk = makeRisk()
        let o = try #require(risk.check(entry(quantity: 1_230)).order)
        #expect(o.side == .buy && o.type == .limit && o.price.units == referenceUnits && o.quantity.units == 1_230)
        #expect(o.clientOrderId == 1 && o.timestamps.riskDecidedNs == startNs && o.flags == 0)
        #expect(risk.openQuantity(strategy: 0, instrument: 0, side: .buy) == 1_230)
    }

    @Test func deniesMalformedSignalBytes() {
        var risk = makeRisk()
        var s = entry()
        s.sideRaw = 9
        #expect(risk.check(s).denial?.reason == .malformedSignal)
    }

    /// Values no order can carry are denied and counted, never computed with (a stop at
    /// Int64.min would overflow the entry-to-stop distance).
    @Test func deniesOutOfRangeSignalValuesAndCountsThem() {
        var risk = makeRisk()
        var cases: [SignalEvent] = []
        cases.append(entry(stop: Int64.min))
        cases.append(entry(takeProfit: -5))
        var s = entry()
        s.confidenceBasisPoints = 10_001
        cases.append(s)
        s = entry()
        s.riskPartsPerMillion = 1_000_001
        cases.append(s)
        for c in cases { #expect(risk.check(c).denial?.reason == .valueOutOfRange) }
        #expect(risk.deniedByReason[Int(DenialReason.valueOutOfRange.rawValue)] == 4)
        #expect(risk.openQuantity(strategy: 0, instrument: 0, side: .buy) == 0)
    }

    @Test func deniesEntriesButPassesExitsWhenGlobalStateIsReducingOrHalted() throws {
        for state in [TradingState.reducing, .halted] {
            var risk = makeRisk()
            try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
            risk.setGlobalState(state)
            let d = try #require(risk.check(entry()).denial)
            #expect(d.reason == .globalNotActive && d.observed == Int64(state.rawValue))
            let exitOrder = try #require(risk.check(exit(.sell)).order)
            #expect(exitOrder.quantity.units == 1_000 && exitOrder.flags == OrderEvent.flagReduceOnly)
            risk.setGlobalState(.active)
            risk.release(strategy: 0, instrument: 0, side: .sell, quantity: exitOrder.quantity)
            #expect(risk.check(entry()).order != nil)
        }
    }

    @Test func deniesEntriesWhenTheStrategyOrSymbolIsNotActive() throws {
        var risk = makeRisk()
        try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
        risk.setState(.halted, strategy: 0)
        #expect(risk.check(entry()).denial?.reason == .strategyNotActive)
        #expect(risk.check(entry(strategy: 1, instrument: 1)).order != nil)
        #expect(risk.check(exit(.sell, quantity: 500)).order?.quantity.units == 500)
        risk.setState(.active, strategy: 0)
        risk.setState(.reducing, instrument: 0)
        #expect(risk.check(entry()).denial?.reason == .symbolNotActive)
        #expect(risk.check(entry(instrument: 1)).order != nil)
    }

    @Test func capsAReduceOnlyExitToWhatIsLeftAndDeniesWhenNothingIsLeft() throws {
        var risk = makeRisk()
        #expect(risk.check(exit(.sell)).denial?.reason == .nothingToReduce)
        try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
        #expect(risk.check(exit(.buy)).denial?.reason == .nothingToReduce)  // would grow the long
        #expect(risk.check(exit(.sell, quantity: 5_000)).order?.quantity.units == 1_000)
        #expect(risk.check(exit(.sell)).denial?.reason == .nothingToReduce)  // the sell above already covers it
    }

    @Test func capsAnExitAtTheMaximumOrderQuantityInsteadOfDenyingIt() throws {
        var risk = makeRisk(spec: fixtureSpec(maxOrder: 1_000))
        try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
        try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
        risk.setState(.halted, instrument: 0)
        #expect(risk.check(exit(.sell)).order?.quantity.units == 1_000)
        #expect(risk.check(exit(.sell)).order?.quantity.units == 1_000)
        #expect(risk.check(exit(.sell)).denial?.reason == .nothingToReduce)
    }

    @Test func letsExitsThroughTheNotionalCapTheCollarAndAStaleBook() throws {
        // The position was opened under a generous notional cap; then the cap is lowered below
        // it, the price moves outside the collar and the book goes stale.
        var risk = makeRisk()
        try #require(risk.enterAndFill(entry(quantity: 100_000)) != nil)  // 100.000 × 100.00 = 10,000
        risk.limits.maxOrderNotionalMoney = MoneyScale.money(2_500)
        #expect(risk.check(entry(quantity: 100_000, strategy: 1)).denial?.reason == .orderNotionalAboveMaximum)
        var far = exit(.sell)
        far.entryPrice = Price(units: referenceUnits * 9 / 10)  // 10 % below the reference: outside the 2 % collar
        let stale = startNs + risk.limits.maxReferencePriceAgeNs + 1
        #expect(risk.check(entry(quantity: 10, strategy: 1), nowNs: stale).denial?.reason == .staleReferencePrice)
        let o = try #require(risk.check(far, nowNs: stale).order)
        #expect(o.quantity.units == 100_000 && o.flags == OrderEvent.flagReduceOnly)
        #expect(risk.referenceAgeNs(instrument: 0, nowNs: stale) > risk.limits.maxReferencePriceAgeNs)
        #expect(risk.referenceAgeNs(instrument: 1, nowNs: startNs) == 0)
    }

    @Test func roundsAnExitPriceBetweenTicksToTheTickThatStillCrosses() throws {
        var risk = makeRisk(spec: fixtureSpec(tick: 5))
        try #require(risk.enterAndFill(entry(quantity: 1_000)) != nil)
        try #require(risk.enterAndFill(entry(.sell, quantity: 1_000, strategy: 1, instrument: 1)) != nil)
        var sell = exit(.sell)
        sell.entryPrice = Price(units: 10_003)
        #expect(risk.check(sell).order?.price.units == 10_000)
        var buy = exit(.buy, strategy: 1, instrument: 1)
        buy.entryPrice = Price(units: 10_003)
        #expect(risk.check(buy).order?.price.units == 10_005)
        #expect(risk.check(entry(.sell, price: 10_003, strategy: 2)).denial?.reason == .priceOffTick)  // entries are not rounded
    }

    @Test func givesExitsTheirOwnSubmitBudget() throws {
        var risk = makeRisk {
            $0.submitBurst = 2; $0.submitPerSecond = 1
            $0.exitSubmitBurst = 2; $0.exitSubmitPerSecond = 1
        }
        let t = startNs + 1
        try #require(risk.enterAndFill(entry(quantity: 1_000), nowNs: t) != nil)
        try #require(risk.enterAndFill(entry(quantity: 1_000, strategy: 1), nowNs: t) != nil)
        #expect(risk.check(entry(strategy: 2), nowNs: t).denial?.reason == .submitRate)
        // The entries' bucket is empty; exits still go, from their own bucket.
        #expect(risk.check(exit(.sell, quantity: 500), nowNs: t).order != nil)
        #expect(risk.check(exit(.sell, quantity: 500, strategy: 1), nowNs: t).order != nil)
        let d = try #require(risk.check(exit(.sell, quantity: 500), nowNs: t).denial)
        #expect(d.reason == .exitSubmitRate && d.limit == 1_000)
        #expect(risk.check(exit(.sell, quantity: 500), nowNs: t + 1_000_000_000).order != nil)
        // Exits took none of the entries' tokens (instrument 1: our exit sells rest on 0).
        #expect(risk.check(entry(strategy: 2, instrument: 1), nowNs: t + 1_000_000_000).order != nil)
    }

    @Test func tellsWhatAnExitCanStillReduce() throws {
        var risk = makeRisk(spec: fixtureSpec(maxOrder: 400))
        #expect(risk.reducibleQuantity(strategy: 0, instrument: 0, side: .sell) == 0)
        for _ in 0..<3 { try #require(risk.enterAndFill(entry(quantity: 400)) != nil) }
        #expect(risk.reducibleQuantity(strategy: 0, instrument: 0, side: .sell) == 1_200)
        #expect(risk.reducibleQuantity(strategy: 0, instrument: 0, side: .buy) == 0)
        var sent: [Int64] = []
        while risk.reducibleQuantity(strategy: 0, instrument: 0, side: .sell) > 0, let o = risk.check(exit(.sell)).order {
            sent.append(o.quantity.units)
        }
        #expect(sent == [400, 400, 400])
        #expect(risk.reducibleQuantity(strategy: 0, instrument: 0, side: .sell) == 0)
    }

    @Test func failsClosedOnUnknownIdsAndMissingOrStalePrices() throws {
        var risk = makeRisk(strategies: 2, instruments: 3)
        #expect(risk.check(entry(strategy: 2)).denial?.reason == .unknownStrategy)
        #expect(risk.check(entry(instrument: 7)).denial?.reason == .unknownInstrument)
        var unregistered = PreTradeRisk(strategyCapacity: 1, instrumentCapacity: 2, limits: generousLimits())
        #expect(unregistered.check(entry()).denial?.reason == .unknownInstrument)
        unregistered.register(instrument: 0, spec: fixtureSpec())
        #expect(unregistered.check(entry()).denial?.reason == .noReferencePrice)
        let maxAge = risk.limits.maxReferencePriceAgeNs
        #expect(risk.check(entry(), nowNs: startNs + maxAge).order != nil)
        let d = try #require(risk.check(entry(), nowNs: startNs + maxAge + 1).denial)
        #expect(d.reason == .staleReferencePrice && d.observed == maxAge + 1 && d.limit == maxAge)
    }

    @Test func deniesPricesOffTheTickAndMismatchedDecimals() {
        var risk = makeRisk(spec: fixtureSpec(tick: 5))
        #expect(risk.check(entry(price: 10_005)).order != nil)
        #expect(risk.check(entry(price: 10_003)).denial?.reason == .priceOffTick)
        var s = entry()
        s.quantityDecimals = 4
        #expect(risk.check(s).denial?.reason == .precisionMismatch)
    }

    @Test func deniesQuantitiesOffTheStepAndOutsideTheVenueRange() {
        var risk = makeRisk(spec: fixtureSpec(step: 10, venueMin: 20, venueMax: 5_000))
        #expect(risk.check(entry(quantity: 20)).order != nil)
        #expect(risk.check(entry(quantity: 10)).denial?.reason == .quantityBelowVenueMinimum)
        #expect(risk.check(entry(quantity: 25)).denial?.reason == .quantityOffStep)
        #expect(risk.check(entry(quantity: 5_000)).order != nil)
        #expect(risk.check(entry(quantity: 5_010)).denial?.reason == .quantityAboveVenueMaximum)
    }

    @Test func deniesNotionalBelowTheVenueMinimum() throws {
        var risk = makeRisk(spec: fixtureSpec(minNotional: MoneyScale.money(5)))
        #expect(risk.check(entry(quantity: 50)).order != nil)  // 0.050 × 100.00 = 5.00
        let d = try #require(risk.check(entry(quantity: 40)).denial)
        #expect(d.reason == .notionalBelowVenueMinimum && d.observed == MoneyScale.money(4))
    }

    @Test func deniesEntriesOutsideThePriceCollar() throws {
        var risk = makeRisk()
        #expect(risk.check(entry(price: 10_200)).order != nil)
        let d = try #require(risk.check(entry(price: 10_201)).denial)
        #expect(d.reason == .priceOutsideCollar && d.observed == 201 && d.limit == 200)
        #expect(risk.check(entry(.sell, price: 9_800)).denial?.reason == .selfTrade)  // in the collar; stopped by our resting buy
        #expect(risk.check(entry(.sell, price: 9_799)).denial?.reason == .priceOutsideCollar)
    }

    @Test func deniesOrdersAboveTheMaximumQuantity() {
        var risk = makeRisk(spec: fixtureSpec(maxOrder: 100_000))
        #expect(risk.check(entry(quantity: 100_000)).order != nil)
        #expect(risk.check(entry(quantity: 100_010)).denial?.reason == .orderQuantityAboveMaximum)
    }

    @Test func deniesOrdersAboveTheMaximumNotional() throws {
        var risk = makeRisk { $0.maxOrderNotionalMoney = MoneyScale.money(1_000) }
        #expect(risk.check(entry(quantity: 10_000)).order != nil)
        let d = try #require(risk.check(entry(quantity: 10_010)).denial)
        #expect(d.reason == .orderNotionalAboveMaximum && d.observed == MoneyScale.money(1_001) && d.limit == MoneyScale.money(1_000))
    }

    @Test func countsOpenOrdersAndPositionsAgainstThePositionLimit() throws {
        var risk = makeRisk(spec: fixtureSpec(positionLimit: 20_000))
        try #require(risk.enterAndFill(entry(quantity: 10_000)) != nil)
        #expect(risk.check(entry(quantity: 5_000, strategy: 1)).order != nil)  // open, not filled
        #expect(risk.check(entry(quantity: 5_000, strategy: 2)).order != nil)  // exactly at the limit
        let d = try #require(risk.check(entry(quantity: 10, strategy: 3)).denial)
        #expect(d.reason == .positionLimit && d.observed == 20_010 && d.limit == 20_000)
        // Another strategy's short does not free room: each strategy's |position| counts.
        #expect(risk.check(entry(.sell, quantity: 10, strategy: 3)).denial?.reason == .positionLimit)
    }

    @Test func deniesEntriesPastTheGrossExposure() throws {
        var risk = makeRisk { $0.maxGrossExposureMoney = MoneyScale.money(2_000) }
        try #require(risk.enterAndFill(entry(quantity: 10_000, instrument: 0)) != nil)
        #expect(risk.check(entry(.sell, quantity: 10_000, instrument: 1)).order != nil)  // gross 2,000, net 0
        // A buy on instrument 1 would not grow its worst case (the open sell is larger): test on instrument 0.
        let d = try #require(risk.check(entry(quantity: 10, instrument: 0)).denial)
        #expect(d.reason == .grossExposure && d.observed == MoneyScale.money(2_001) && d.limit == MoneyScale.money(2_000))
    }

    @Test func deniesEntriesPastTheNetExposureButNotAHedge() throws {
        var risk = makeRisk { $0.maxNetExposureMoney = MoneyScale.money(1_000) }
        try #require(risk.enterAndFill(entry(quantity: 10_000, instrument: 0)) != nil)
        let d = try #require(risk.check(entry(quantity: 10, instrument: 1)).denial)
        #expect(d.reason == .netExposure && d.observed == MoneyScale.money(1_001))
        #expect(risk.check(entry(.sell, quantity: 10_000, instrument: 1)).order != nil)
    }

    @Test func limitsOpenPositionsByHorizon() throws {
        var risk = makeRisk { $0.maxOpenIntradayPositions = 2; $0.maxOpenSwingPositions = 1 }
        #expect(risk.check(entry(strategy: 0, horizon: .intraday)).order != nil)
        #expect(risk.check(entry(strategy: 1, horizon: .intraday)).order != nil)
        let d = try #require(risk.check(entry(strategy: 2, horizon: .intraday)).denial)
        #expect(d.reason == .maxOpenPositions && d.observed == 2 && d.limit == 2)
        #expect(risk.check(entry(strategy: 0, horizon: .intraday)).order != nil)  // adding to an open one
        #expect(risk.check(entry(strategy: 2, horizon: .swing)).order != nil)
        #expect(risk.check(entry(strategy: 3, horizon: .swing)).denial?.reason == .maxOpenPositions)
        // Releasing strategy 1's order frees its slot.
        risk.release(strategy: 1, instrument: 0, side: .buy, quantity: Quantity(units: 1_000))
        #expect(risk.openIntradayPositions == 1)
        #expect(risk.check(entry(strategy: 3, horizon: .intraday)).order != nil)
    }

    @Test func deniesSubmitsPastTheTokenBucketAndRefillsOverTime() throws {
        var risk = makeRisk { $0.submitBurst = 2; $0.submitPerSecond = 1 }
        let t = startNs + 1
        #expect(risk.check(entry(), nowNs: t).order != nil)
        #expect(risk.check(entry(), nowNs: t).order != nil)
        let d = try #require(risk.check(entry(), nowNs: t).denial)
        #expect(d.reason == .submitRate && d.limit == 1_000)
        #expect(risk.check(entry(), nowNs: t + 999_999_999).denial?.reason == .submitRate)
        #expect(risk.check(entry(), nowNs: t + 1_000_000_000).order != nil)
        // Denials by later checks do not use up tokens.
        #expect(risk.check(entry(takeProfit: referenceUnits + 1), nowNs: t + 2_000_000_000).denial?.reason == .rewardRisk)
        #expect(risk.check(entry(), nowNs: t + 2_000_000_000).order != nil)
    }

    @Test func deniesEntriesPastTheStrategyBudget() throws {
        var risk = makeRisk()
        risk.setBudget(strategy: 0, money: MoneyScale.money(1_000))
        #expect(risk.check(entry(quantity: 10_000)).order != nil)
        let d = try #require(risk.check(entry(quantity: 10)).denial)
        #expect(d.reason == .strategyBudget && d.observed == MoneyScale.money(1_001))
        #expect(risk.check(entry(quantity: 10, strategy: 1)).order != nil)
    }

    @Test func sizesFromRiskRoundingDownToTheStep() throws {
        var risk = makeRisk { $0.riskPartsPerMillion = 10_000 }
        // 1 % of 50,000 = 500 at risk over 3.00 → 166.666… → 166.660 at a 0.010 step.
        var s = entry(stop: referenceUnits - 300, takeProfit: referenceUnits + 600)
        s.sizingRaw = SignalSizing.riskFraction.rawValue
        let o = try #require(risk.check(s).order)
        #expect(o.quantity.units == 166_660)
        s.stopLoss = Price(units: referenceUnits + 300)  // wrong side
        #expect(risk.check(s).denial?.reason == .cannotSizeFromRisk)
        s.stopLoss = .zero
        #expect(risk.check(s).denial?.reason == .cannotSizeFromRisk)
    }

    @Test func deniesFixedQuantitiesRiskingMoreThanTheRiskFraction() throws {
        var risk = makeRisk { $0.riskPartsPerMillion = 10_000 }
        // 500 at risk allowed; stop 10.00 away → 50.000 just allowed.
        let stop = referenceUnits - 1_000, tp = referenceUnits + 1_500
        #expect(risk.check(entry(quantity: 50_000, stop: stop, takeProfit: tp)).order != nil)
        let d = try #require(risk.check(entry(quantity: 50_010, stop: stop, takeProfit: tp, strategy: 1)).denial)
        #expect(d.reason == .riskPerTrade && d.observed == MoneyScale.money(500) + 10_000_000 && d.limit == MoneyScale.money(500))
        #expect(risk.check(entry(quantity: 10, stop: 0, takeProfit: tp, strategy: 1)).denial?.reason == .riskPerTrade)
    }

    @Test func deniesRewardRiskBelowTheMinimum() throws {
        var risk = makeRisk()
        #expect(risk.check(entry(stop: referenceUnits - 100, takeProfit: referenceUnits + 150)).order != nil)
        let d = try #require(risk.check(entry(stop: referenceUnits - 100, takeProfit: referenceUnits + 149)).denial)
        #expect(d.reason == .rewardRisk && d.observed == 1_490 && d.limit == 1_500)
        #expect(risk.check(entry(stop: referenceUnits - 100, takeProfit: referenceUnits - 300)).denial?.reason == .rewardRisk)
    }

    @Test func countsARoundTripsFeesAtTheInstrumentsVenueInRewardRiskAndSendsTheOrderThere() throws {
        // 0.1 % per side at 100.00: 0.10 a side. Target 3.00 above, stop 1.00 below, min 1.5:
        // without fees 3.0; with them (3.00 − 0.100 − 0.103) / (1.00 + 0.100 + 0.099) = 2.33.
        // The fee is the instrument's venue's: instrument 0 pays it, instrument 1 (another venue) does not.
        var spec = fixtureSpec()
        spec.feePartsPerMillion = 1_000
        var risk = makeRisk(spec: spec)
        var free = fixtureSpec()
        free.venue = 1
        risk.register(instrument: 1, spec: free)
        let order = try #require(risk.check(entry(stop: referenceUnits - 100, takeProfit: referenceUnits + 300)).order)
        #expect(order.venue == 0)
        // 1.60 above passes without fees (1.6) but not with them: (1.60 − 0.2016) / 1.199 = 1.166.
        let d = try #require(risk.check(entry(stop: referenceUnits - 100, takeProfit: referenceUnits + 160, strategy: 1)).denial)
        #expect(d.reason == .rewardRisk && d.observed == 1_166 && d.limit == 1_500)
        var other = entry(stop: referenceUnits - 100, takeProfit: referenceUnits + 160, strategy: 1)
        other.instrument = 1
        let approved = try #require(risk.check(other).order)
        #expect(approved.venue == 1, "an order goes to its instrument's venue")
    }

    @Test func preventsSelfTradeAgainstARestingOppositeOrder() throws {
        var risk = makeRisk()
        #expect(risk.check(entry(.buy, quantity: 1_000, strategy: 0)).order != nil)
        let d = try #require(risk.check(entry(.sell, strategy: 1)).denial)
        #expect(d.reason == .selfTrade && d.observed == 1_000)
        risk.release(strategy: 0, instrument: 0, side: .buy, quantity: Quantity(units: 1_000))
        #expect(risk.check(entry(.sell, strategy: 1)).order != nil)
    }

    @Test func releasesWhatACancelLeavesAndBooksWhatWasFilled() throws {
        var risk = makeRisk()
        let o = try #require(risk.check(entry(quantity: 1_000)).order)
        var partial = fill(o, quantity: 400)
        partial.statusRaw = OrderStatus.partiallyFilled.rawValue
        #expect(risk.apply(fill: partial) == true)
        #expect(risk.openQuantity(strategy: 0, instrument: 0, side: .buy) == 600)
        let cancel = FillEvent(clientOrderId: o.clientOrderId, instrument: 0, strategy: 0, side: .buy,
                               leavesQuantity: Quantity(units: 600), status: .cancelled, priceDecimals: 2, quantityDecimals: 3)
        #expect(risk.apply(fill: cancel) == true)
        #expect(risk.openQuantity(strategy: 0, instrument: 0, side: .buy) == 0)
        #expect(risk.positions.quantity(strategy: 0, instrument: 0) == 400 && risk.worstCaseGross(instrument: 0) == 400)
        #expect(risk.openSwingPositions == 1)
    }

    @Test func saturatesInsteadOfOverflowingAtExtremeScales() {
        // 10^18 price units × 10^18 quantity units at 0 decimals: far past Int64 money.
        let big = MoneyScale.notional(priceUnits: 1_000_000_000_000_000_000, quantityUnits: 1_000_000_000_000_000_000,
                                      priceDecimals: 0, quantityDecimals: 0)
        #expect(big == Int64.max)
        #expect(MoneyScale.notional(priceUnits: -5, quantityUnits: Int64.max, priceDecimals: 0, quantityDecimals: 0) == -Int64.max)
        #expect(PreTradeRisk.quantityForRisk(riskMoney: Int64.max, distanceUnits: 1, priceDecimals: 18, quantityDecimals: 18) == Int64.max)
        #expect(PreTradeRisk.quantityForRisk(riskMoney: MoneyScale.money(500), distanceUnits: 300, priceDecimals: 2, quantityDecimals: 3) == 166_666)
    }

    @Test func turnsADenialIntoARiskEventWithItsReasonAndValues() throws {
        var risk = makeRisk(spec: fixtureSpec(maxOrder: 100))
        let s = entry(quantity: 110)
        let d = try #require(risk.check(s).denial)
        let e = d.riskEvent(for: s, sequence: 9, stampNs: 77)
        #expect(e.kind == .denial && e.scope == .symbol && e.reason == DenialReason.orderQuantityAboveMaximum.rawValue)
        #expect(e.observed == 110 && e.limit == 100 && e.timestamps.riskDecidedNs == 77 && e.referenceSequence == s.sequence)
        #expect(risk.deniedByReason[Int(DenialReason.orderQuantityAboveMaximum.rawValue)] == 1)
    }
}
