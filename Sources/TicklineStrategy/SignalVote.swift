import TicklineCore
import TicklineIndicators

/// The weights of the indicator votes (any non-negative numbers; confidence divides by
/// their sum). Defaults: RSI 25 %, MACD 25 %, Bollinger 20 %, ADX 15 %, Stochastic 10 %, ATR 5 %.
public struct VoteWeights: Sendable, Equatable {
    public var rsi: Double = 0.25
    public var macd: Double = 0.25
    public var bollinger: Double = 0.20
    public var adx: Double = 0.15
    public var stochastic: Double = 0.10
    public var atr: Double = 0.05

    public init() {}

    @inlinable public var total: Double { rsi + macd + bollinger + adx + stochastic + atr }
}

/// The weighted vote across indicator signals, read from the standard `IndicatorSet` of its
/// timeframe on each closed bar. Each indicator votes +1 (buy), −1 (sell) or 0:
/// - RSI(14): +1 below `rsiOversold` (30), −1 above `rsiOverbought` (70);
/// - MACD(12, 26, 9): the sign of the histogram;
/// - Bollinger(20, 2): +1 for a close below the lower band, −1 above the upper band;
/// - ADX(14): when ADX ≥ `adxThreshold` (25), +1 if +DI > −DI, −1 if −DI > +DI;
/// - Stochastic(14, 3, 3): +1 for %K below `stochasticOversold` (20), −1 above
///   `stochasticOverbought` (80);
/// - ATR(14): the direction of the close-to-close move when it is at least
///   `atrBreakout` × ATR (a volatility breakout).
/// A vote not yet warmed up is 0. confidence = |Σ weight × vote| / Σ weights; the side is the
/// sign of the sum. A signal needs confidence ≥ `minConfidence` (0.60) and reward:risk ≥
/// `minRewardRisk` (1.5), where the stop is `stopATR` × ATR from the close and the target is
/// the far Bollinger band (upper for a buy, lower for a sell); no signal before ATR and the
/// bands are warm. One signal per run of bars voting the same way: the vote re-arms when the
/// confidence falls below the minimum or the side flips.
public struct WeightedVote: SymbolStrategy {
    public struct State: Sendable {
        public var previousClose: Double
        /// Side of the last signal while the vote still agrees (0 = armed).
        public var lastSide: Int8
    }

    public var common: StrategyCommon
    public var weights: VoteWeights
    public var minConfidence: Double
    public var minRewardRisk: Double
    public var rsiOversold: Double
    public var rsiOverbought: Double
    public var stochasticOversold: Double
    public var stochasticOverbought: Double
    public var adxThreshold: Double
    public var atrBreakout: Double
    public var stopATR: Double

    public init(common: StrategyCommon, weights: VoteWeights = VoteWeights(), minConfidence: Double = 0.6, minRewardRisk: Double = 1.5,
                rsiOversold: Double = 30, rsiOverbought: Double = 70, stochasticOversold: Double = 20, stochasticOverbought: Double = 80,
                adxThreshold: Double = 25, atrBreakout: Double = 1, stopATR: Double = 1) {
        precondition(weights.total > 0, "WeightedVote weights must not all be 0")
        self.common = common
        self.weights = weights
        self.minConfidence = minConfidence
        self.minRewardRisk = minRewardRisk
        self.rsiOversold = rsiOversold
        self.rsiOverbought = rsiOverbought
        self.stochasticOversold = stochasticOversold
        self.stochasticOverbought = stochasticOverbought
        self.adxThreshold = adxThreshold
        self.atrBreakout = atrBreakout
        self.stopATR = stopATR
    }

    public func makeState() -> State { State(previousClose: .nan, lastSide: 0) }

    /// The weighted sum of votes in −1…1 (positive = buy) for the set's latest bar.
    @inlinable
    public func score(_ indicators: borrowing IndicatorSet, previousClose: Double) -> Double {
        var sum = 0.0
        let rsi = indicators.rsi.value
        if rsi < rsiOversold { sum += weights.rsi } else if rsi > rsiOverbought { sum -= weights.rsi }
        let histogram = indicators.macd.histogram
        if histogram > 0 { sum += weights.macd } else if histogram < 0 { sum -= weights.macd }
        let close = indicators.close
        let bands = indicators.bollinger
        if close < bands.lower { sum += weights.bollinger } else if close > bands.upper { sum -= weights.bollinger }
        let adx = indicators.adx
        if adx.value >= adxThreshold {
            if adx.plusDI > adx.minusDI { sum += weights.adx } else if adx.minusDI > adx.plusDI { sum -= weights.adx }
        }
        let k = indicators.stochastic.k
        if k < stochasticOversold { sum += weights.stochastic } else if k > stochasticOverbought { sum -= weights.stochastic }
        let atr = indicators.atr.value
        let move = close - previousClose
        if atr > 0 && abs(move) >= atrBreakout * atr { sum += move > 0 ? weights.atr : -weights.atr }
        return sum / weights.total
    }

    @inlinable
    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision? {
        let score = score(indicators, previousClose: state.previousClose)
        state.previousClose = bar.close
        let confidence = abs(score)
        let side: Int8 = score > 0 ? 1 : -1
        guard confidence >= minConfidence else {
            state.lastSide = 0
            return nil
        }
        guard side != state.lastSide else { return nil }
        // Not armed off by a rejected trade: a later bar of the same run may qualify.
        let atr = indicators.atr.value
        let close = bar.close
        let risk = stopATR * atr
        let target = side > 0 ? indicators.bollinger.upper : indicators.bollinger.lower
        let reward = side > 0 ? target - close : close - target
        guard atr > 0, reward.isFinite, reward >= minRewardRisk * risk else { return nil }
        state.lastSide = side
        return StrategyDecision(side: side > 0 ? .buy : .sell, entry: close, takeProfit: target,
                                stopLoss: side > 0 ? close - risk : close + risk, confidence: confidence)
    }
}
