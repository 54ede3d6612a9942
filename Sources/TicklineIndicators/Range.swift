// Indicators on high/low/close: true range, ATR, ADX with ±DI, Stochastic.

/// True range: max(high − low, |high − previous close|, |low − previous close|)
/// (TA-Lib `TRANGE`).
@inlinable
public func trueRange(high: Double, low: Double, previousClose: Double) -> Double {
    var range = high - low
    let up = abs(high - previousClose)
    if up > range { range = up }
    let down = abs(low - previousClose)
    if down > range { range = down }
    return range
}

/// Average True Range with Wilder smoothing (TA-Lib `ATR`): the true range starts at index 1
/// (it needs the previous close); the first ATR, at index `period`, is the simple average of
/// the first `period` true ranges, then atr = (atr × (period − 1) + tr) / period.
///
/// O(1) per update, no allocation. A value type owned by one thread.
public struct AverageTrueRange: Sendable {
    public let period: Int
    @usableFromInline var seen: Int
    @usableFromInline var previousClose: Double
    /// Sum of true ranges while seeding, then the ATR.
    @usableFromInline var state: Double

    /// A fresh ATR. Traps if `period` < 1.
    @inlinable
    public init(period: Int = 14) {
        precondition(period >= 1, "AverageTrueRange period \(period) must be at least 1")
        self.period = period
        seen = 0
        previousClose = 0
        state = 0
    }

    /// Whether `period` true ranges (period + 1 bars) have been seen.
    @inlinable public var isReady: Bool { seen > period }

    /// The ATR; NaN until ready.
    @inlinable public var value: Double { isReady ? state : .nan }

    /// Adds one bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) {
        let range = trueRange(high: high, low: low, previousClose: previousClose)
        previousClose = close
        if seen > period {
            let n = Double(period)
            state = (state * (n - 1) + range) / n
            return
        }
        seen += 1
        if seen == 1 { return }
        state += range
        if seen > period { state /= Double(period) }
    }

    /// Adds one bar.
    @inlinable
    public mutating func update(_ bar: OHLCVBar) {
        update(high: bar.high, low: bar.low, close: bar.close)
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        seen = 0
        previousClose = 0
        state = 0
    }
}

/// Wilder's directional movement system exactly as TA-Lib computes it: `ADX`, `PLUS_DI`,
/// `MINUS_DI` (and DX).
///
/// +DM = high − previous high when that exceeds both 0 and previous low − low (and −DM the
/// mirror case; ties give neither). From index 1 the DMs and the true range are summed for
/// `period − 1` bars; from index `period` on, each sum is smoothed as
/// s = s − s / period + today's value, and ±DI = 100 × s(±DM) / s(TR) (0 when s(TR) is 0),
/// DX = 100 × |+DI − −DI| / (+DI + −DI). So ±DI start at index `period`. The first ADX, at
/// index 2 × period − 1, is the average of the first `period` DX values (a DX that cannot be
/// computed, +DI + −DI = 0, counts as 0); then ADX = (ADX × (period − 1) + DX) / period, and
/// a bar whose DX cannot be computed leaves the ADX unchanged (TA-Lib's rule).
///
/// O(1) per update, no allocation. A value type owned by one thread.
public struct AverageDirectionalIndex: Sendable {
    public let period: Int
    @usableFromInline var seen: Int
    @usableFromInline var previousHigh: Double
    @usableFromInline var previousLow: Double
    @usableFromInline var previousClose: Double
    @usableFromInline var smoothedPlusDM: Double
    @usableFromInline var smoothedMinusDM: Double
    @usableFromInline var smoothedRange: Double
    @usableFromInline var plusIndicator: Double
    @usableFromInline var minusIndicator: Double
    @usableFromInline var directionalIndex: Double
    /// Sum of DX while seeding, then the ADX.
    @usableFromInline var average: Double

    /// A fresh indicator. Traps if `period` < 1.
    @inlinable
    public init(period: Int = 14) {
        precondition(period >= 1, "AverageDirectionalIndex period \(period) must be at least 1")
        self.period = period
        seen = 0
        previousHigh = 0
        previousLow = 0
        previousClose = 0
        smoothedPlusDM = 0
        smoothedMinusDM = 0
        smoothedRange = 0
        plusIndicator = 0
        minusIndicator = 0
        directionalIndex = .nan
        average = 0
    }

    /// Whether the ADX has a value (from index 2 × period − 1).
    @inlinable public var isReady: Bool { seen >= 2 * period }

    /// Whether +DI, −DI and DX have values (from index `period`).
    @inlinable public var isDirectionalReady: Bool { seen > period }

    /// The ADX in [0, 100]; NaN until ready.
    @inlinable public var value: Double { isReady ? average : .nan }

    /// +DI in [0, 100]; NaN until `isDirectionalReady`.
    @inlinable public var plusDI: Double { isDirectionalReady ? plusIndicator : .nan }

    /// −DI in [0, 100]; NaN until `isDirectionalReady`.
    @inlinable public var minusDI: Double { isDirectionalReady ? minusIndicator : .nan }

    /// DX of the newest bar; NaN until `isDirectionalReady` or when +DI + −DI = 0.
    @inlinable public var dx: Double { isDirectionalReady ? directionalIndex : .nan }

    /// Adds one bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) {
        let index = seen
        if index == 0 {
            previousHigh = high
            previousLow = low
            previousClose = close
            seen = 1
            return
        }
        let upMove = high - previousHigh
        let downMove = previousLow - low
        var plusDM = 0.0
        var minusDM = 0.0
        if downMove > 0 && upMove < downMove {
            minusDM = downMove
        } else if upMove > 0 && upMove > downMove {
            plusDM = upMove
        }
        let range = trueRange(high: high, low: low, previousClose: previousClose)
        previousHigh = high
        previousLow = low
        previousClose = close
        if index < period {
            smoothedPlusDM += plusDM
            smoothedMinusDM += minusDM
            smoothedRange += range
            seen = index + 1
            return
        }
        let n = Double(period)
        smoothedMinusDM = smoothedMinusDM - smoothedMinusDM / n + minusDM
        smoothedPlusDM = smoothedPlusDM - smoothedPlusDM / n + plusDM
        smoothedRange = smoothedRange - smoothedRange / n + range
        directionalIndex = .nan
        if smoothedRange != 0 {
            minusIndicator = 100 * (smoothedMinusDM / smoothedRange)
            plusIndicator = 100 * (smoothedPlusDM / smoothedRange)
            let sum = minusIndicator + plusIndicator
            if sum != 0 {
                directionalIndex = 100 * (abs(minusIndicator - plusIndicator) / sum)
            }
        } else {
            minusIndicator = 0
            plusIndicator = 0
        }
        if index >= 2 * period {
            if !directionalIndex.isNaN {
                average = (average * (n - 1) + directionalIndex) / n
            }
            return
        }
        if !directionalIndex.isNaN { average += directionalIndex }
        if index == 2 * period - 1 { average /= n }
        seen = index + 1
    }

    /// Adds one bar.
    @inlinable
    public mutating func update(_ bar: OHLCVBar) {
        update(high: bar.high, low: bar.low, close: bar.close)
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        self = AverageDirectionalIndex(period: period)
    }
}

/// Slow stochastic oscillator exactly as TA-Lib's `STOCH` with SMA smoothing (default
/// 14/3/3): fast %K = 100 × (close − lowest low) / (highest high − lowest low) over
/// `fastKPeriod` bars (0 when the range is 0), slow %K = SMA(`slowKPeriod`) of fast %K,
/// %D = SMA(`slowDPeriod`) of slow %K. Both outputs start at index
/// fastK + slowK + slowD − 3 (17 by default), as TA-Lib outputs them together.
///
/// Highest/lowest use monotonic deques: amortised O(1) per update. No allocation. A value
/// type owned by one thread.
public struct Stochastic<let fastKPeriod: Int, let slowKPeriod: Int, let slowDPeriod: Int>: Sendable {
    @usableFromInline var highest: RollingMaximum<fastKPeriod>
    @usableFromInline var lowest: RollingMinimum<fastKPeriod>
    @usableFromInline var slowKAverage: SimpleMovingAverage<slowKPeriod>
    @usableFromInline var slowDAverage: SimpleMovingAverage<slowDPeriod>
    @usableFromInline var fastKValue: Double

    /// A fresh oscillator. Traps if a period is < 1.
    @inlinable
    public init() {
        highest = RollingMaximum()
        lowest = RollingMinimum()
        slowKAverage = SimpleMovingAverage()
        slowDAverage = SimpleMovingAverage()
        fastKValue = .nan
    }

    /// Whether %K and %D have values.
    @inlinable public var isReady: Bool { slowDAverage.isReady }

    /// Slow %K in [0, 100]; NaN until ready.
    @inlinable public var k: Double { isReady ? slowKAverage.value : .nan }

    /// %D in [0, 100]; NaN until ready.
    @inlinable public var d: Double { slowDAverage.value }

    /// Fast %K of the newest bar (TA-Lib `STOCHF` %K); NaN for the first fastKPeriod − 1 bars.
    @inlinable public var fastK: Double { fastKValue }

    /// Adds one bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) {
        highest.push(high)
        lowest.push(low)
        guard highest.isFull else { return }
        let lowestLow = lowest.value
        let scaledRange = (highest.value - lowestLow) / 100
        fastKValue = scaledRange != 0 ? (close - lowestLow) / scaledRange : 0
        slowKAverage.update(fastKValue)
        guard slowKAverage.isReady else { return }
        slowDAverage.update(slowKAverage.value)
    }

    /// Adds one bar.
    @inlinable
    public mutating func update(_ bar: OHLCVBar) {
        update(high: bar.high, low: bar.low, close: bar.close)
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        highest.reset()
        lowest.reset()
        slowKAverage.reset()
        slowDAverage.reset()
        fastKValue = .nan
    }
}
