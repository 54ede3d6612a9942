import Testing
import TicklineCore
import TicklineIndicators
import TicklineStrategy

@Suite struct StrategySignalTests {
    let common = StrategyCommon(id: 9, timeframe: .minutes1)

    @Test func smaCrossoverBuysOnTheGoldenCrossAndSellsOnTheDeathCross() {
        // Down 30 bars, up 30 bars, down 30 bars.
        var closes: [Double] = []
        var x = 100.0
        for i in 0..<90 {
            x += i < 30 ? -1 : i < 60 ? 1 : -1
            closes.append(x)
        }
        let decisions = run(SMACrossover(common: common, fastPeriod: 3, slowPeriod: 10), barsFrom(closes: closes))
        #expect(decisions.map(\.1.side) == [.buy, .sell])
        let buy = decisions[0]
        #expect(buy.0 > 30 && buy.0 < 45)
        #expect(buy.1.stopLoss < buy.1.entry && buy.1.takeProfit > buy.1.entry)
        #expect(abs((buy.1.takeProfit - buy.1.entry) - 2 * (buy.1.entry - buy.1.stopLoss)) < 1e-9)
        #expect(decisions[1].0 > 60)
    }

    @Test func emaADXTrendEntersWhenATrendIsStrongAndAligned() {
        var closes: [Double] = []
        var x = 100.0
        for i in 0..<200 {
            x += i < 100 ? 0.6 * (i % 2 == 0 ? 1 : -1) : 0.8  // chop, then a steady rise
            closes.append(x)
        }
        let decisions = run(EMAADXTrend(common: common, fastPeriod: 5, slowPeriod: 20, adxPeriod: 14, adxThreshold: 25), barsFrom(closes: closes))
        let inTrend = decisions.filter { $0.0 >= 100 }
        #expect(inTrend.count == 1)
        #expect(inTrend.first?.1.side == .buy)
        #expect((inTrend.first?.1.confidence ?? 0) >= 0.5)
    }

    @Test func zScoreReversionBuysADropAndTargetsTheMean() {
        var closes = (0..<40).map { 100 + ($0 % 2 == 0 ? 0.5 : -0.5) }
        closes.append(95)  // far below the mean
        closes += [95.5, 96, 97, 99, 100, 100.5, 99.5, 100]
        closes.append(106)  // far above
        let decisions = run(ZScoreMeanReversion(common: common, period: 20), barsFrom(closes: closes))
        #expect(decisions.map(\.1.side) == [.buy, .sell])
        let buy = decisions[0].1
        #expect(decisions[0].0 == 40)
        #expect(buy.takeProfit > buy.entry && buy.stopLoss < buy.entry)
        #expect(buy.confidence > 0.66)
    }

    @Test func zScoreReversionSignalsOncePerExcursion() {
        var closes = (0..<40).map { 100 + ($0 % 2 == 0 ? 0.5 : -0.5) }
        closes += [95, 94, 93]  // stays stretched: one signal only
        #expect(run(ZScoreMeanReversion(common: common, period: 20), barsFrom(closes: closes)).count == 1)
    }

    @Test func rsiBollingerReversalNeedsBothConditions() {
        // A slow decline drives RSI low but stays inside the bands; then a sharp drop breaks
        // below the lower band.
        var closes: [Double] = (0..<30).map { 100 + ($0 % 2 == 0 ? 0.3 : -0.3) }
        var x = 100.0
        for _ in 0..<6 { x -= 0.2; closes.append(x) }
        let before = run(RSIBollingerReversal(common: common), barsFrom(closes: closes))
        closes.append(x - 4)
        let after = run(RSIBollingerReversal(common: common), barsFrom(closes: closes))
        #expect(before.isEmpty)
        #expect(after.count == 1)
        #expect(after.first?.1.side == .buy)
        #expect((after.first?.1.takeProfit ?? 0) > x - 4)
    }

    @Test func pairsSellsAWideSpreadAndClosesItWhenItConverges() {
        let pair = PairsTrading(common: StrategyCommon(id: 6), legA: 0, legB: 1, lookback: 30)
        var state = pair.makeState()
        var actions: [(Int, PairsTrading.LegDecisions)] = []
        func feed(_ i: Int, _ a: Double, _ b: Double) {
            let t = epoch2024Ns + Nanos(i) * 60 * second
            let barA = OHLCVBar(timestampNs: t.ns, open: a, high: a, low: a, close: a, volume: 1)
            let barB = OHLCVBar(timestampNs: t.ns, open: b, high: b, low: b, close: b, volume: 1)
            if let d = pair.onBar(leg: 0, bar: barA, state: &state) { actions.append((i, d)) }
            if let d = pair.onBar(leg: 1, bar: barB, state: &state) { actions.append((i, d)) }
        }
        for i in 0..<40 { feed(i, 100 * (1 + (i % 2 == 0 ? 0.001 : -0.001)), 50) }
        feed(40, 103, 50)  // A rich against B
        for i in 41..<60 { feed(i, 100, 50) }
        #expect(actions.count == 2)
        #expect(actions[0].0 == 40)
        #expect(actions[0].1.a.side == .sell && actions[0].1.b.side == .buy)
        #expect(actions[0].1.a.takeProfit < 103 && actions[0].1.a.stopLoss > 103)
        #expect(actions[1].1.a.reduceOnly && actions[1].1.a.side == .buy && actions[1].1.b.side == .sell)
    }

    @Test func pairsIgnoresBarsOfDifferentStarts() {
        let pair = PairsTrading(common: StrategyCommon(id: 6), legA: 0, legB: 1, lookback: 5)
        var state = pair.makeState()
        for i in 0..<20 {
            let bar = OHLCVBar(timestampNs: Nanos(i), open: 1, high: 1, low: 1, close: 1 + Double(i), volume: 1)
            _ = pair.onBar(leg: i % 2, bar: bar, state: &state)
        }
        #expect(!state.zScore.isReady)
    }

    @Test func engineCopiesTheTimestampChainAndSizingIntoSignals() {
        var s = StrategySettings()
        s.symbolCount = 1
        s.timeBars = [.seconds1]
        s.zScoreMeanReversion = [ZScoreMeanReversion(common: StrategyCommon(id: 3, timeframe: .seconds1, sizing: .quantity(units: 7),
                                                                             horizon: .intraday), period: 20)]
        var e = StrategyEngine<NoCustomStrategy>(settings: s)
        var out = Collected()
        for i in 0..<41 {
            let t = epoch2024Ns + Nanos(i) * second
            let price: Int64 = i == 40 ? 9_500 : (i % 2 == 0 ? 10_050 : 9_950)
            e.process(trade(priceUnits: price, wallNs: t, sequence: UInt64(100 + i)), nowNs: 5_000 + Nanos(i))
        }
        // The same engine again, its bar closed by the next trade instead of the clock.
        var byTrade = e
        _ = e.advanceTime(wallNs: epoch2024Ns + 41 * second, nowNs: 9_999)
        out.drain(&e)
        #expect(out.signals.count == 1)
        let signal = out.signals[0]
        #expect(signal.strategy == 3 && signal.side == .buy && signal.sizing == .quantity && signal.quantity.units == 7)
        #expect(signal.horizon == .intraday)
        #expect(signal.entryPrice.units == 9_500 && signal.priceDecimals == 2)
        #expect(signal.marketSequence == 140)
        // Closed by the clock: the tick is its cause, seen at the stamp given (also the signal's
        // own stamp until the agent stamps it again), not the last trade's read and decode.
        #expect(signal.timestamps.socketReadNs == 9_999 && signal.timestamps.decodedNs == 9_999)
        #expect(signal.timestamps.signalNs == 9_999)
        #expect(signal.confidenceBasisPoints > 6_000 && signal.confidenceBasisPoints <= 10_000)
        #expect(signal.sequence == 1)

        // Closed by a trade: the signal copies that trade's chain and the stamp given.
        var byTradeOut = Collected()
        byTrade.process(trade(priceUnits: 9_500, wallNs: epoch2024Ns + 41 * second, sequence: 141), nowNs: 7_777)
        byTradeOut.drain(&byTrade)
        #expect(byTradeOut.signals.count == 1)
        let traded = byTradeOut.signals[0]
        #expect(traded.marketSequence == 141)
        #expect(traded.timestamps.socketReadNs == mono(epoch2024Ns + 41 * second))
        #expect(traded.timestamps.decodedNs == mono(epoch2024Ns + 41 * second) + 1)
        #expect(traded.timestamps.signalNs == 7_777)
    }

    @Test func staleSymbolsEmitNoSignals() {
        var s = StrategySettings()
        s.symbolCount = 1
        s.timeBars = [.seconds1]
        s.zScoreMeanReversion = [ZScoreMeanReversion(common: StrategyCommon(id: 3, timeframe: .seconds1), period: 20)]
        var e = StrategyEngine<NoCustomStrategy>(settings: s)
        var out = Collected()
        for i in 0..<41 {
            if i == 35 { e.process(MarketEvent(kind: .stale), nowNs: 0) }
            let price: Int64 = i == 40 ? 9_500 : (i % 2 == 0 ? 10_050 : 9_950)
            e.process(trade(priceUnits: price, wallNs: epoch2024Ns + Nanos(i) * second), nowNs: 0)
        }
        _ = e.advanceTime(wallNs: epoch2024Ns + 41 * second, nowNs: 0)
        out.drain(&e)
        #expect(out.signals.isEmpty)
    }
}

@Suite struct WeightedVoteTests {
    let common = StrategyCommon(id: 5, timeframe: .minutes1)

    func falling(_ count: Int = 60) -> [OHLCVBar] {
        var closes: [Double] = []
        var x = 100.0
        for i in 0..<count {
            x -= i % 5 == 4 ? -0.2 : 0.5
            closes.append(x)
        }
        return barsFrom(closes: closes)
    }

    @Test func theDefaultWeightsSumToOne() {
        let w = VoteWeights()
        #expect(abs(w.total - 1) < 1e-12)
        #expect([w.rsi, w.macd, w.bollinger, w.adx, w.stochastic, w.atr] == [0.25, 0.25, 0.20, 0.15, 0.10, 0.05])
        let vote = WeightedVote(common: common)
        #expect(vote.minConfidence == 0.6 && vote.minRewardRisk == 1.5)
    }

    @Test func oneHeavyVoteDecidesAndConfidenceIsItsShare() {
        var weights = VoteWeights()
        weights = VoteWeights()
        weights.rsi = 1
        weights.macd = 0
        weights.bollinger = 0
        weights.adx = 0
        weights.stochastic = 0
        weights.atr = 0
        let vote = WeightedVote(common: common, weights: weights, minRewardRisk: 0)
        let decisions = run(vote, falling())
        #expect(decisions.count == 1)  // one signal per run of agreeing bars
        #expect(decisions.first?.1.side == .buy)
        #expect(decisions.first?.1.confidence == 1)
    }

    @Test func opposingVotesCancelBelowTheMinimumConfidence() {
        var weights = VoteWeights()
        weights.rsi = 0.5
        weights.macd = 0
        weights.bollinger = 0
        weights.adx = 0.5
        weights.stochastic = 0
        weights.atr = 0
        // Falling: RSI says buy (oversold), ADX says sell (strong trend, −DI > +DI): net 0.
        #expect(run(WeightedVote(common: common, weights: weights, minRewardRisk: 0), falling()).isEmpty)
    }

    @Test func theRewardToRiskMinimumRejectsPoorTrades() {
        var weights = VoteWeights()
        weights.rsi = 1
        weights.macd = 0
        weights.bollinger = 0
        weights.adx = 0
        weights.stochastic = 0
        weights.atr = 0
        #expect(run(WeightedVote(common: common, weights: weights, minRewardRisk: 1_000), falling()).isEmpty)
    }

    @Test func scoresEveryIndicatorWithItsWeight() {
        // A steady fall: RSI, Bollinger (close below the lower band is not guaranteed), ADX
        // and stochastic all lean the same way; check the score against the votes computed by hand.
        let bars = falling(80)
        var set = IndicatorSet()
        var previous = Double.nan
        let vote = WeightedVote(common: common)
        for (i, bar) in bars.enumerated() {
            set.update(bar)
            let score = vote.score(set, previousClose: previous)
            if i == bars.count - 1 {
                var expected = 0.0
                if set.rsi.value < 30 { expected += 0.25 } else if set.rsi.value > 70 { expected -= 0.25 }
                if set.macd.histogram > 0 { expected += 0.25 } else if set.macd.histogram < 0 { expected -= 0.25 }
                if bar.close < set.bollinger.lower { expected += 0.2 } else if bar.close > set.bollinger.upper { expected -= 0.2 }
                if set.adx.value >= 25 { expected += set.adx.plusDI > set.adx.minusDI ? 0.15 : -0.15 }
                if set.stochastic.k < 20 { expected += 0.1 } else if set.stochastic.k > 80 { expected -= 0.1 }
                let move = bar.close - previous
                if abs(move) >= set.atr.value { expected += move > 0 ? 0.05 : -0.05 }
                #expect(abs(score - expected) < 1e-12)
            }
            previous = bar.close
        }
    }
}

/// A strategy's decision with a value no signal can carry is refused and counted, never a
/// trap (a NaN confidence used to trap converting to basis points).
@Suite struct SignalOutboxTests {
    @Test func refusesNonFiniteAndOutOfRangeDecisionsAndCountsThem() {
        var outbox = SignalOutbox(capacity: 16)
        let common = StrategyCommon(id: 3, timeframe: .minutes1)
        let origin = SignalOrigin(instrument: 1, priceDecimals: 2, quantityDecimals: 3, priceScale: 100)
        let bad: [StrategyDecision] = [
            StrategyDecision(side: .buy, entry: 100, takeProfit: 102, stopLoss: 99, confidence: .nan),
            StrategyDecision(side: .buy, entry: 100, takeProfit: 102, stopLoss: 99, confidence: -0.5),
            StrategyDecision(side: .buy, entry: 100, takeProfit: 102, stopLoss: 99, confidence: 7),
            StrategyDecision(side: .buy, entry: .nan, takeProfit: 102, stopLoss: 99, confidence: 0.7),
            StrategyDecision(side: .buy, entry: -3, takeProfit: 102, stopLoss: 99, confidence: 0.7),
            StrategyDecision(side: .buy, entry: 100, takeProfit: .infinity, stopLoss: 99, confidence: 0.7),
            StrategyDecision(side: .sell, entry: 100, takeProfit: -2, stopLoss: 101, confidence: 0.7),
            StrategyDecision(side: .buy, entry: 1e300, takeProfit: 102, stopLoss: 99, confidence: 0.7),
            StrategyDecision.bracket(side: .buy, entry: 100, risk: 1, rewardRisk: 2, confidence: .nan),
        ]
        for d in bad { outbox.emit(d, common: common, origin: origin, nowNs: 5) }
        #expect(outbox.refused == UInt64(bad.count))
        #expect(outbox.emitted == 0 && outbox.queue.isEmpty)
        outbox.emit(StrategyDecision(side: .buy, entry: 100, takeProfit: 102, stopLoss: 99, confidence: 0.7), common: common, origin: origin, nowNs: 5)
        #expect(outbox.emitted == 1 && outbox.refused == UInt64(bad.count))
        #expect(outbox.queue.first?.entryPrice.units == 10_000 && outbox.queue.first?.confidenceBasisPoints == 7_000)
    }

    /// An entry carries its strategy's exits as a distance in price units and a max hold; an
    /// exit carries none; a trailing stop that cannot be computed refuses the entry.
    @Test func anEntryCarriesTheTrailingDistanceInPriceUnitsAndTheMaxHold() {
        var outbox = SignalOutbox(capacity: 16)
        let origin = SignalOrigin(instrument: 1, priceDecimals: 2, quantityDecimals: 3, priceScale: 100, tickUnits: 5)
        let entry = StrategyDecision(side: .buy, entry: 100, takeProfit: 102, stopLoss: 99, confidence: 0.7)
        func common(_ trailing: TrailingDistance?, hold: Nanos = 0) -> StrategyCommon {
            StrategyCommon(id: 3, timeframe: .minutes1, exits: StrategyExits(trailing: trailing, maxHoldNs: hold))
        }
        outbox.emit(entry, common: common(.ticks(20), hold: 7_000_000_000), origin: origin, nowNs: 5)
        outbox.emit(entry, common: common(.percent(0.5)), origin: origin, nowNs: 5)
        outbox.emit(entry, common: common(.atr(2)), origin: origin, nowNs: 5, atr: 1.25)
        outbox.emit(entry, common: common(.atr(2)), origin: origin, nowNs: 5, atr: .nan)  // ATR not ready: refused
        var exit = entry
        exit.reduceOnly = true
        outbox.emit(exit, common: common(.ticks(20), hold: 7_000_000_000), origin: origin, nowNs: 5)
        #expect(outbox.emitted == 4 && outbox.refused == 1)
        #expect(outbox.queue[0].trailingDistance.units == 100 && outbox.queue[0].maxHoldNs == 7_000_000_000)  // 20 ticks of 5 units
        #expect(outbox.queue[1].trailingDistance.units == 50 && outbox.queue[1].maxHoldNs == 0)  // 0.5 % of 100.00
        #expect(outbox.queue[2].trailingDistance.units == 250)  // 2 × 1.25
        #expect(outbox.queue[3].trailingDistance.units == 0 && outbox.queue[3].maxHoldNs == 0
                    && outbox.queue[3].flags & SignalEvent.flagReduceOnly != 0)
    }
}
