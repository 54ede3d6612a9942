import TicklineCore
import TicklineIndicators

// The built-in single-symbol strategies. Each is a value holding one instance's
// parameters; its `State` is per symbol. All read closed bars of their timeframe; stops and
// targets are naive brackets (ATR multiples or statistical levels), for risk to check.

/// SMA crossover: buy when the fast SMA crosses above the slow one, sell when it crosses
/// below (50/200 by default). Stop `stopATR` × ATR(14) away, target `rewardRisk` × that.
/// Confidence grows with the gap between the averages in ATRs (0.5 at a bare cross).
public struct SMACrossover: SymbolStrategy {
    public struct State: Sendable {
        public var fast: DynamicSimpleMovingAverage
        public var slow: DynamicSimpleMovingAverage
        /// Sign of fast − slow at the last bar where they differed (0 = not yet known).
        public var lastSign: Int8
    }

    public var common: StrategyCommon
    public var fastPeriod: Int
    public var slowPeriod: Int
    public var stopATR: Double
    public var rewardRisk: Double

    /// Traps unless 1 <= fast < slow (the config parser reports it first).
    public init(common: StrategyCommon, fastPeriod: Int = 50, slowPeriod: Int = 200, stopATR: Double = 2, rewardRisk: Double = 2) {
        precondition(fastPeriod >= 1 && fastPeriod < slowPeriod, "SMACrossover periods \(fastPeriod)/\(slowPeriod): need 1 <= fast < slow")
        self.common = common
        self.fastPeriod = fastPeriod
        self.slowPeriod = slowPeriod
        self.stopATR = stopATR
        self.rewardRisk = rewardRisk
    }

    public func makeState() -> State {
        State(fast: DynamicSimpleMovingAverage(period: fastPeriod), slow: DynamicSimpleMovingAverage(period: slowPeriod), lastSign: 0)
    }

    public func heapBytesPerState() -> Int { (fastPeriod + slowPeriod) * MemoryLayout<Double>.stride }

    @inlinable
    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision? {
        state.fast.update(bar.close)
        state.slow.update(bar.close)
        guard state.slow.isReady else { return nil }
        let gap = state.fast.value - state.slow.value
        let sign: Int8 = gap > 0 ? 1 : gap < 0 ? -1 : 0
        guard sign != 0 else { return nil }
        let previous = state.lastSign
        state.lastSign = sign
        guard previous != 0, previous != sign else { return nil }
        let atr = indicators.atr.value
        let strength = atr > 0 ? abs(gap) / atr : 0
        return .bracket(side: sign > 0 ? .buy : .sell, entry: bar.close, risk: stopATR * atr, rewardRisk: rewardRisk,
                        confidence: 0.5 + 0.5 * min(strength, 1))
    }
}

/// EMA + ADX trend following: the regime is long when EMA(fast) > EMA(slow), ADX ≥
/// `adxThreshold` and +DI > −DI, short in the mirror case, otherwise none; a signal is emitted
/// when the regime turns long or short (20/50 EMAs, ADX 14 ≥ 25 by default). Stop `stopATR` ×
/// ATR(14). Confidence = ADX / 50, capped at 1.
public struct EMAADXTrend: SymbolStrategy {
    public struct State: Sendable {
        public var fast: ExponentialMovingAverage
        public var slow: ExponentialMovingAverage
        public var adx: AverageDirectionalIndex
        public var regime: Int8
    }

    public var common: StrategyCommon
    public var fastPeriod: Int
    public var slowPeriod: Int
    public var adxPeriod: Int
    public var adxThreshold: Double
    public var stopATR: Double
    public var rewardRisk: Double

    public init(common: StrategyCommon, fastPeriod: Int = 20, slowPeriod: Int = 50, adxPeriod: Int = 14, adxThreshold: Double = 25,
                stopATR: Double = 2, rewardRisk: Double = 2) {
        precondition(fastPeriod >= 1 && fastPeriod < slowPeriod, "EMAADXTrend periods \(fastPeriod)/\(slowPeriod): need 1 <= fast < slow")
        precondition(adxPeriod >= 1, "EMAADXTrend ADX period \(adxPeriod) must be at least 1")
        self.common = common
        self.fastPeriod = fastPeriod
        self.slowPeriod = slowPeriod
        self.adxPeriod = adxPeriod
        self.adxThreshold = adxThreshold
        self.stopATR = stopATR
        self.rewardRisk = rewardRisk
    }

    public func makeState() -> State {
        State(fast: ExponentialMovingAverage(period: fastPeriod), slow: ExponentialMovingAverage(period: slowPeriod),
              adx: AverageDirectionalIndex(period: adxPeriod), regime: 0)
    }

    @inlinable
    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision? {
        state.fast.update(bar.close)
        state.slow.update(bar.close)
        state.adx.update(high: bar.high, low: bar.low, close: bar.close)
        guard state.slow.isReady, state.adx.isReady else { return nil }
        let adx = state.adx.value
        let fast = state.fast.value
        let slow = state.slow.value
        var regime: Int8 = 0
        if adx >= adxThreshold {
            if fast > slow && state.adx.plusDI > state.adx.minusDI { regime = 1 }
            if fast < slow && state.adx.minusDI > state.adx.plusDI { regime = -1 }
        }
        let previous = state.regime
        state.regime = regime
        guard regime != 0, regime != previous else { return nil }
        return .bracket(side: regime > 0 ? .buy : .sell, entry: bar.close, risk: stopATR * indicators.atr.value,
                        rewardRisk: rewardRisk, confidence: min(adx / 50, 1))
    }
}

/// Z-score mean reversion: buy when the close is `entryZ` population standard deviations
/// below its `period`-bar mean, sell when as far above (20 bars, 2σ by default); one signal
/// per excursion (re-armed once |z| ≤ `exitZ`). Target: the mean; stop: (`stopZ` − `entryZ`)
/// σ beyond the entry. Confidence = |z| / `stopZ`, capped at 1.
public struct ZScoreMeanReversion: SymbolStrategy {
    public struct State: Sendable {
        public var zScore: DynamicZScore
        public var armed: Bool
    }

    public var common: StrategyCommon
    public var period: Int
    public var entryZ: Double
    public var exitZ: Double
    public var stopZ: Double

    /// Traps unless period >= 2 and 0 <= exitZ < entryZ < stopZ.
    public init(common: StrategyCommon, period: Int = 20, entryZ: Double = 2, exitZ: Double = 0.5, stopZ: Double = 3) {
        precondition(period >= 2, "ZScoreMeanReversion period \(period) must be at least 2")
        precondition(exitZ >= 0 && exitZ < entryZ && entryZ < stopZ, "ZScoreMeanReversion needs 0 <= exit < entry < stop z")
        self.common = common
        self.period = period
        self.entryZ = entryZ
        self.exitZ = exitZ
        self.stopZ = stopZ
    }

    public func makeState() -> State { State(zScore: DynamicZScore(period: period), armed: true) }

    public func heapBytesPerState() -> Int { period * MemoryLayout<Double>.stride }

    @inlinable
    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision? {
        state.zScore.update(bar.close)
        let z = state.zScore.value
        guard !z.isNaN else { return nil }
        if abs(z) <= exitZ { state.armed = true }
        guard state.armed, abs(z) >= entryZ else { return nil }
        state.armed = false
        let mean = state.zScore.mean
        let deviation = state.zScore.standardDeviation
        let side: Side = z < 0 ? .buy : .sell
        // The stop is (stopZ − entryZ) σ beyond the entry, so it stays on the losing side
        // even when the close jumped past `stopZ` in one bar.
        let room = (stopZ - entryZ) * deviation
        let stop = side == .buy ? bar.close - room : bar.close + room
        return StrategyDecision(side: side, entry: bar.close, takeProfit: mean, stopLoss: stop, confidence: min(abs(z) / stopZ, 1))
    }
}

/// RSI/Bollinger reversal: buy when RSI < `oversold` and the close is below the lower
/// Bollinger band, sell when RSI > `overbought` and the close is above the upper band
/// (RSI 14 at 30/70, Bollinger 20 × 2σ by default); one signal per excursion (re-armed when
/// the RSI is back inside). Target: the middle band; stop `stopATR` × ATR(14) beyond the
/// entry. Confidence 0.5 + how deep the RSI is into its zone (full at half the threshold).
public struct RSIBollingerReversal: SymbolStrategy {
    public struct State: Sendable {
        public var rsi: RelativeStrengthIndex
        public var bands: DynamicBollingerBands
        public var armedLong: Bool
        public var armedShort: Bool
    }

    public var common: StrategyCommon
    public var rsiPeriod: Int
    public var oversold: Double
    public var overbought: Double
    public var bandPeriod: Int
    public var bandDeviations: Double
    public var stopATR: Double

    public init(common: StrategyCommon, rsiPeriod: Int = 14, oversold: Double = 30, overbought: Double = 70, bandPeriod: Int = 20,
                bandDeviations: Double = 2, stopATR: Double = 1.5) {
        precondition(rsiPeriod >= 1 && bandPeriod >= 2, "RSIBollingerReversal periods \(rsiPeriod)/\(bandPeriod) too small")
        precondition(oversold < overbought, "RSIBollingerReversal oversold \(oversold) must be below overbought \(overbought)")
        self.common = common
        self.rsiPeriod = rsiPeriod
        self.oversold = oversold
        self.overbought = overbought
        self.bandPeriod = bandPeriod
        self.bandDeviations = bandDeviations
        self.stopATR = stopATR
    }

    public func makeState() -> State {
        State(rsi: RelativeStrengthIndex(period: rsiPeriod), bands: DynamicBollingerBands(period: bandPeriod, deviations: bandDeviations),
              armedLong: true, armedShort: true)
    }

    public func heapBytesPerState() -> Int { bandPeriod * MemoryLayout<Double>.stride }

    @inlinable
    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision? {
        state.rsi.update(bar.close)
        state.bands.update(bar.close)
        guard state.rsi.isReady, state.bands.isReady else { return nil }
        let rsi = state.rsi.value
        if rsi >= oversold { state.armedLong = true }
        if rsi <= overbought { state.armedShort = true }
        let atr = indicators.atr.value
        let middle = state.bands.middle
        let close = bar.close
        let distance = atr > 0 ? stopATR * atr : abs(close) * 0.005
        if state.armedLong && rsi < oversold && close < state.bands.lower {
            state.armedLong = false
            return StrategyDecision(side: .buy, entry: close, takeProfit: middle, stopLoss: close - distance,
                                    confidence: 0.5 + 0.5 * min((oversold - rsi) / (oversold / 2), 1))
        }
        if state.armedShort && rsi > overbought && close > state.bands.upper {
            state.armedShort = false
            return StrategyDecision(side: .sell, entry: close, takeProfit: middle, stopLoss: close + distance,
                                    confidence: 0.5 + 0.5 * min((rsi - overbought) / ((100 - overbought) / 2), 1))
        }
        return nil
    }
}
