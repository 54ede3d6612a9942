// Recursive (windowless) indicators on closes: EMA, MACD, RSI.
//
// Drift: these are contractive recursions (each update multiplies the old state by a factor
// below 1), so a rounding error made at one update decays geometrically; they need no
// compensation and do not drift over 10^8 updates. Operations follow TA-Lib's order so that
// results agree with it to a few ulps.

/// Exponential moving average (TA-Lib `EMA`): k = 2 / (period + 1), seeded with the simple
/// average of the first `period` values, so the first value is at index `period − 1`.
///
/// O(1) per update, no allocation. A value type owned by one thread.
public struct ExponentialMovingAverage: Sendable {
    /// Number of values in the seed average.
    public let period: Int
    /// The smoothing factor k = 2 / (period + 1).
    public let smoothing: Double
    @usableFromInline var seen: Int
    /// The sum of the values seen while seeding, then the average itself.
    @usableFromInline var state: Double

    /// A fresh average. Traps if `period` < 1.
    @inlinable
    public init(period: Int) {
        precondition(period >= 1, "ExponentialMovingAverage period \(period) must be at least 1")
        self.period = period
        smoothing = 2 / Double(period + 1)
        seen = 0
        state = 0
    }

    /// Whether `period` values have been seen.
    @inlinable public var isReady: Bool { seen >= period }

    /// The average; NaN until ready.
    @inlinable public var value: Double { isReady ? state : .nan }

    /// Adds one value.
    @inlinable
    public mutating func update(_ x: Double) {
        if seen >= period {
            state = (x - state) * smoothing + state
        } else {
            state += x
            seen += 1
            if seen == period { state /= Double(period) }
        }
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        seen = 0
        state = 0
    }
}

/// MACD exactly as TA-Lib's `MACD` (default 12/26/9): both EMAs start on the same bar,
/// index `slow − 1`, the slow one seeded with the average of the first `slow` closes and the
/// fast one with the average of the last `fast` of those (TA-Lib does not start the fast EMA
/// at index `fast − 1`, so a plain EMA(12) − EMA(26) differs for ~200 bars). The signal is an
/// EMA of the MACD line seeded with the average of its first `signal` values. All three
/// outputs are first available at index `slow + signal − 2` (33 by default).
///
/// O(1) per update, no allocation. A value type owned by one thread.
public struct MovingAverageConvergenceDivergence: Sendable {
    public let fastPeriod: Int
    public let slowPeriod: Int
    public let signalPeriod: Int
    @usableFromInline let fastSmoothing: Double
    @usableFromInline let slowSmoothing: Double
    @usableFromInline let signalSmoothing: Double
    @usableFromInline var seen: Int
    /// Seed sums while warming up, then the EMAs.
    @usableFromInline var fastAverage: Double
    @usableFromInline var slowAverage: Double
    @usableFromInline var signalAverage: Double
    @usableFromInline var macdLine: Double

    /// A fresh MACD. Traps unless 1 <= `fast` < `slow` and `signal` >= 1.
    @inlinable
    public init(fast: Int = 12, slow: Int = 26, signal: Int = 9) {
        precondition(fast >= 1 && fast < slow,
                     "MACD periods fast \(fast), slow \(slow): need 1 <= fast < slow")
        precondition(signal >= 1, "MACD signal period \(signal) must be at least 1")
        fastPeriod = fast
        slowPeriod = slow
        signalPeriod = signal
        fastSmoothing = 2 / Double(fast + 1)
        slowSmoothing = 2 / Double(slow + 1)
        signalSmoothing = 2 / Double(signal + 1)
        seen = 0
        fastAverage = 0
        slowAverage = 0
        signalAverage = 0
        macdLine = 0
    }

    /// Index of the first bar with a value (TA-Lib's lookback).
    @inlinable public var warmUpBars: Int { slowPeriod + signalPeriod - 2 }

    /// Whether line, signal and histogram have values (TA-Lib outputs all three together).
    @inlinable public var isReady: Bool { seen > warmUpBars }

    /// Fast EMA − slow EMA; NaN until ready.
    @inlinable public var line: Double { isReady ? macdLine : .nan }

    /// EMA(signal) of the MACD line; NaN until ready.
    @inlinable public var signal: Double { isReady ? signalAverage : .nan }

    /// line − signal; NaN until ready.
    @inlinable public var histogram: Double { isReady ? macdLine - signalAverage : .nan }

    /// Adds one close.
    @inlinable
    public mutating func update(_ close: Double) {
        if seen > warmUpBars {
            fastAverage = (close - fastAverage) * fastSmoothing + fastAverage
            slowAverage = (close - slowAverage) * slowSmoothing + slowAverage
            macdLine = fastAverage - slowAverage
            signalAverage = (macdLine - signalAverage) * signalSmoothing + signalAverage
            return
        }
        warmUp(close)
    }

    @inlinable
    mutating func warmUp(_ close: Double) {
        let index = seen
        seen += 1
        if index < slowPeriod {
            slowAverage += close
            if index >= slowPeriod - fastPeriod { fastAverage += close }
            guard index == slowPeriod - 1 else { return }
            slowAverage /= Double(slowPeriod)
            fastAverage /= Double(fastPeriod)
        } else {
            fastAverage = (close - fastAverage) * fastSmoothing + fastAverage
            slowAverage = (close - slowAverage) * slowSmoothing + slowAverage
        }
        macdLine = fastAverage - slowAverage
        signalAverage += macdLine
        if index == warmUpBars { signalAverage /= Double(signalPeriod) }
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        seen = 0
        fastAverage = 0
        slowAverage = 0
        signalAverage = 0
        macdLine = 0
    }
}

/// Relative Strength Index with Wilder smoothing (TA-Lib `RSI`): the average gain and loss
/// are seeded with the simple averages of the first `period` close-to-close changes, then
/// avg = (avg × (period − 1) + change) / period. First value at index `period`.
/// RSI = 100 × gain / (gain + loss), and 0 when both are 0 (a flat series), as TA-Lib does.
///
/// O(1) per update, no allocation. A value type owned by one thread.
public struct RelativeStrengthIndex: Sendable {
    public let period: Int
    @usableFromInline var seen: Int
    @usableFromInline var previousClose: Double
    /// Seed sums while warming up, then the Wilder averages.
    @usableFromInline var averageGain: Double
    @usableFromInline var averageLoss: Double

    /// A fresh RSI. Traps if `period` < 1.
    @inlinable
    public init(period: Int = 14) {
        precondition(period >= 1, "RelativeStrengthIndex period \(period) must be at least 1")
        self.period = period
        seen = 0
        previousClose = 0
        averageGain = 0
        averageLoss = 0
    }

    /// Whether `period` changes (period + 1 closes) have been seen.
    @inlinable public var isReady: Bool { seen > period }

    /// The RSI in [0, 100]; NaN until ready.
    @inlinable
    public var value: Double {
        guard isReady else { return .nan }
        let total = averageGain + averageLoss
        return total != 0 ? 100 * (averageGain / total) : 0
    }

    /// Adds one close.
    @inlinable
    public mutating func update(_ close: Double) {
        let change = close - previousClose
        previousClose = close
        if seen > period {
            let n = Double(period)
            averageGain *= n - 1
            averageLoss *= n - 1
            if change < 0 { averageLoss -= change } else { averageGain += change }
            averageGain /= n
            averageLoss /= n
            return
        }
        seen += 1
        if seen == 1 { return }
        if change < 0 { averageLoss -= change } else { averageGain += change }
        if seen > period {
            averageGain /= Double(period)
            averageLoss /= Double(period)
        }
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        seen = 0
        previousClose = 0
        averageGain = 0
        averageLoss = 0
    }
}
