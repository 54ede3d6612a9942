import TicklineCore
import TicklineIndicators

/// Two-symbol spread (pairs) trading on closed bars of one timeframe: the spread is
/// ln(A) − `hedgeRatio` × ln(B), taken when both legs have closed a bar with the same start;
/// its z-score over `lookback` spreads drives the position. Flat: z ≥ `entryZ` sells the
/// spread (sell A, buy B), z ≤ −`entryZ` buys it (buy A, sell B). In a position: |z| ≤
/// `exitZ` (converged) or |z| ≥ `stopZ` (diverged) closes both legs with reduce-only signals.
/// Defaults: 100 spreads, 2 / 0.5 / 4 σ, hedge ratio 1 (a fixed ratio from the config; no
/// rolling regression). Targets and stops per leg are the prices at which the spread would
/// be back at its mean or (`stopZ` − `entryZ`) σ further out, the other leg unchanged.
public struct PairsTrading: Sendable, Equatable {
    public struct State: Sendable {
        public var zScore: DynamicZScore
        public var closeA: Double
        public var closeB: Double
        public var startA: Nanos
        public var startB: Nanos
        /// The bar start of the last spread taken (so each pair of bars counts once).
        public var lastSpreadStart: Nanos
        /// +1 long the spread, −1 short, 0 flat.
        public var position: Int8
    }

    /// Id, timeframe, sizing and horizon (`common.symbols` is ignored: the legs are below).
    public var common: StrategyCommon
    public var legA: InstrumentId
    public var legB: InstrumentId
    public var lookback: Int
    public var entryZ: Double
    public var exitZ: Double
    public var stopZ: Double
    public var hedgeRatio: Double

    public init(common: StrategyCommon, legA: InstrumentId, legB: InstrumentId, lookback: Int = 100, entryZ: Double = 2,
                exitZ: Double = 0.5, stopZ: Double = 4, hedgeRatio: Double = 1) {
        precondition(legA != legB, "PairsTrading legs must differ (both \(legA))")
        precondition(lookback >= 2, "PairsTrading lookback \(lookback) must be at least 2")
        precondition(exitZ >= 0 && exitZ < entryZ && entryZ < stopZ, "PairsTrading needs 0 <= exit < entry < stop z")
        precondition(hedgeRatio > 0 && hedgeRatio.isFinite, "PairsTrading hedge ratio \(hedgeRatio) must be positive")
        self.common = common
        self.legA = legA
        self.legB = legB
        self.lookback = lookback
        self.entryZ = entryZ
        self.exitZ = exitZ
        self.stopZ = stopZ
        self.hedgeRatio = hedgeRatio
    }

    public func makeState() -> State {
        State(zScore: DynamicZScore(period: lookback), closeA: .nan, closeB: .nan, startA: .min, startB: .min,
              lastSpreadStart: .min, position: 0)
    }

    /// Decisions for the two legs (A first), or nil.
    public typealias LegDecisions = (a: StrategyDecision, b: StrategyDecision)

    /// A bar of `leg` (0 = A, 1 = B) closed. Returns the two legs' decisions when the pair acts.
    @inlinable
    public func onBar(leg: Int, bar: OHLCVBar, state: inout State) -> LegDecisions? {
        guard bar.close > 0 else { return nil }
        if leg == 0 {
            state.closeA = bar.close
            state.startA = bar.timestampNs
        } else {
            state.closeB = bar.close
            state.startB = bar.timestampNs
        }
        guard state.startA == state.startB, state.startA != state.lastSpreadStart else { return nil }
        state.lastSpreadStart = state.startA
        let logA = state.closeA.logarithm
        let logB = state.closeB.logarithm
        let spread = logA - hedgeRatio * logB
        state.zScore.update(spread)
        let z = state.zScore.value
        guard !z.isNaN else { return nil }
        let mean = state.zScore.mean
        let deviation = state.zScore.standardDeviation
        // Leg prices at which the spread would be `level` with the other leg unchanged.
        func priceA(_ level: Double) -> Double { (level + hedgeRatio * logB).exponential }
        func priceB(_ level: Double) -> Double { ((logA - level) / hedgeRatio).exponential }
        if state.position == 0 {
            guard abs(z) >= entryZ else { return nil }
            let short = z > 0
            state.position = short ? -1 : 1
            // (stopZ − entryZ) σ beyond the current spread: always on the losing side.
            let room = (stopZ - entryZ) * deviation
            let stopLevel = short ? spread + room : spread - room
            let confidence = min(abs(z) / stopZ, 1)
            let a = StrategyDecision(side: short ? .sell : .buy, entry: state.closeA, takeProfit: priceA(mean),
                                     stopLoss: priceA(stopLevel), confidence: confidence)
            let b = StrategyDecision(side: short ? .buy : .sell, entry: state.closeB, takeProfit: priceB(mean),
                                     stopLoss: priceB(stopLevel), confidence: confidence)
            return (a, b)
        }
        guard abs(z) <= exitZ || abs(z) >= stopZ else { return nil }
        let wasShort = state.position < 0
        state.position = 0
        let a = StrategyDecision(side: wasShort ? .buy : .sell, entry: state.closeA, takeProfit: 0, stopLoss: 0, confidence: 1,
                                 reduceOnly: true)
        let b = StrategyDecision(side: wasShort ? .sell : .buy, entry: state.closeB, takeProfit: 0, stopLoss: 0, confidence: 1,
                                 reduceOnly: true)
        return (a, b)
    }
}

extension Double {
    /// Natural logarithm without Foundation (pure module): ln(x) = log2(x) × ln 2, with
    /// log2 from the exponent and a short series for the mantissa in [1, 2). Relative error
    /// below 1e-15 on positive finite inputs; NaN for x ≤ 0.
    @inlinable
    var logarithm: Double {
        guard self > 0, isFinite else { return self == 0 ? -.infinity : .nan }
        let e = Double(exponent)
        var m = significand  // [1, 2)
        var adjust = 0.0
        if m > 1.4142135623730951 {
            m /= 2
            adjust = 1
        }
        // ln(m) = 2 atanh((m − 1) / (m + 1)), |t| ≤ 0.1716.
        let t = (m - 1) / (m + 1)
        let t2 = t * t
        var term = t
        var sum = 0.0
        var k = 1.0
        while k < 40 {
            sum += term / k
            term *= t2
            k += 2
        }
        return 2 * sum + (e + adjust) * 0.6931471805599453
    }

    /// e^x without Foundation: 2^n × e^r with |r| ≤ ln2 / 2 and a Taylor series for e^r.
    @inlinable
    var exponential: Double {
        guard isFinite else { return self > 0 ? .infinity : (self < 0 ? 0 : .nan) }
        if self > 709 { return .infinity }
        if self < -745 { return 0 }
        let n = (self / 0.6931471805599453).rounded()
        let r = self - n * 0.6931471805599453
        var term = 1.0
        var sum = 1.0
        var k = 1.0
        while k < 25 {
            term *= r / k
            sum += term
            k += 1
        }
        return Double(sign: .plus, exponent: Int(n), significand: sum)
    }
}
