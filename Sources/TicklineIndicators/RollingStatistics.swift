// Windowed statistics over the last `period` values: SMA, mean/variance, standard deviation,
// z-score and Bollinger Bands.
//
// Drift: running sums updated with "+ new − old" accumulate one rounding error per update,
// which over 10^8 updates can grow without bound (and a NaN or huge outlier would stay in the
// sum forever). These types instead refresh their sums exactly once per lap of the ring: next
// to the running sums they keep "lap" sums of the values written since the ring last wrapped;
// when the ring wraps, the window holds exactly those values, so the lap sums *are* a fresh
// recomputation of the window and replace the running sums. This is exact recomputation from
// the window at O(1) worst-case cost per update (no O(period) rescan), and the error of any
// value is bounded by the rounding of at most 2·period additions, whatever the stream length.
//
// Variance uses sums of (x − K) and (x − K)² with a shift K re-centred on the window mean at
// every lap, so that prices around 1e6 with a small spread do not lose their variance to
// cancellation (the naive E[x²] − E[x]² loses ~all digits there). A window whose values are
// all equal reports variance exactly 0 and mean exactly that value (tracked by the length of
// the current run of equal values), as TA-Lib does.

/// Simple moving average of the last `period` values (TA-Lib `SMA`).
///
/// First value after `period` updates (index `period − 1`). O(1) per update, no allocation.
/// A value type owned by one thread.
public struct SimpleMovingAverage<let period: Int>: Sendable {
    @usableFromInline var window: RingWindow<period>
    /// Σ of the window (refreshed exactly at every lap of the ring).
    @usableFromInline var sum: Double
    /// Σ of the values written since the ring last wrapped.
    @usableFromInline var lapSum: Double

    /// A fresh average. Traps if `period` < 1.
    @inlinable
    public init() {
        window = RingWindow()
        sum = 0
        lapSum = 0
    }

    /// Whether `period` values have been seen.
    @inlinable @inline(__always) public var isReady: Bool { window.isFull }

    /// The average of the last `period` values; NaN until ready.
    @inlinable @inline(__always) public var value: Double { isReady ? sum / Double(period) : .nan }

    /// Adds one value.
    @inlinable
    public mutating func update(_ x: Double) {
        let evicted = window.push(x)
        lapSum += x
        if window.completedLap {
            sum = lapSum
            lapSum = 0
        } else if let evicted {
            sum += x - evicted
        } else {
            sum += x
        }
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        window.reset()
        sum = 0
        lapSum = 0
    }
}

/// Mean and population variance of the last `period` values, the shared core of
/// `RollingStandardDeviation`, `ZScore` and `BollingerBands`.
///
/// Ready after `period` updates. O(1) per update, no allocation. A value type owned by one
/// thread.
public struct RollingMoments<let period: Int>: Sendable {
    @usableFromInline var window: RingWindow<period>
    /// K: the running sums are sums of (x − K). Re-centred on the window mean every lap.
    @usableFromInline var shift: Double
    @usableFromInline var sum1: Double
    @usableFromInline var sum2: Double
    /// The shift of the lap sums (the window mean when the current lap began).
    @usableFromInline var lapShift: Double
    @usableFromInline var lapSum1: Double
    @usableFromInline var lapSum2: Double
    /// The newest value and how many times in a row it has been pushed (capped at `period`).
    @usableFromInline var newest: Double
    @usableFromInline var equalRun: Int

    /// Empty moments. Traps if `period` < 1.
    @inlinable
    public init() {
        window = RingWindow()
        shift = 0
        sum1 = 0
        sum2 = 0
        lapShift = 0
        lapSum1 = 0
        lapSum2 = 0
        newest = .nan
        equalRun = 0
    }

    /// Whether `period` values have been seen.
    @inlinable @inline(__always) public var isReady: Bool { window.isFull }

    /// The newest value pushed (NaN before the first).
    @inlinable @inline(__always) public var latest: Double { newest }

    /// Mean of the window; NaN until ready.
    @inlinable @inline(__always)
    public var mean: Double {
        guard isReady else { return .nan }
        if equalRun == period { return newest }
        return shift + sum1 / Double(period)
    }

    /// Population variance of the window (divides by `period`); NaN until ready.
    @inlinable @inline(__always)
    public var variance: Double {
        guard isReady else { return .nan }
        if equalRun == period { return 0 }
        let n = Double(period)
        let centredMean = sum1 / n
        return max(sum2 / n - centredMean * centredMean, 0)
    }

    /// Population standard deviation of the window; NaN until ready.
    @inlinable @inline(__always) public var standardDeviation: Double { variance.squareRoot() }

    /// Adds one value.
    @inlinable
    public mutating func update(_ x: Double) {
        if window.count == 0 {
            shift = x
            lapShift = x
        }
        if x == newest {
            if equalRun < period { equalRun += 1 }
        } else {
            newest = x
            equalRun = 1
        }
        let evicted = window.push(x)
        let lapDelta = x - lapShift
        lapSum1 += lapDelta
        lapSum2 += lapDelta * lapDelta
        if window.completedLap {
            // The window is exactly the lap: recompute from it and re-centre on its mean.
            let lapMean = lapSum1 / Double(period)
            shift = lapShift + lapMean
            sum1 = 0
            sum2 = max(lapSum2 - lapSum1 * lapMean, 0)
            lapShift = shift
            lapSum1 = 0
            lapSum2 = 0
        } else {
            let delta = x - shift
            if let evicted {
                let evictedDelta = evicted - shift
                sum1 += delta - evictedDelta
                sum2 += (delta - evictedDelta) * (delta + evictedDelta)
            } else {
                sum1 += delta
                sum2 += delta * delta
            }
        }
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        self = RollingMoments()
    }
}

/// Population standard deviation of the last `period` values (TA-Lib `STDDEV` with
/// nbdev = 1). First value at index `period − 1`; exactly 0 for a window of equal values.
/// O(1) per update, no allocation. A value type owned by one thread.
public struct RollingStandardDeviation<let period: Int>: Sendable {
    @usableFromInline var core: RollingMoments<period>

    /// The underlying mean/variance.
    @inlinable @inline(__always) public var moments: RollingMoments<period> { core }

    /// A fresh indicator. Traps if `period` < 1.
    @inlinable public init() { core = RollingMoments() }

    /// Whether `period` values have been seen.
    @inlinable @inline(__always) public var isReady: Bool { core.isReady }

    /// The standard deviation; NaN until ready.
    @inlinable @inline(__always) public var value: Double { core.standardDeviation }

    /// Adds one value.
    @inlinable public mutating func update(_ x: Double) { core.update(x) }

    /// Back to the initial state.
    @inlinable public mutating func reset() { core.reset() }
}

/// Z-score of the newest value against the last `period` values:
/// (x − SMA(period)) / population stddev(period), i.e. TA-Lib `(x − SMA) / STDDEV(nbdev=1)`.
///
/// Ready at index `period − 1`; `value` is NaN while warming up and whenever the standard
/// deviation is 0 (a flat window). O(1) per update, no allocation. A value type owned by one
/// thread.
public struct ZScore<let period: Int>: Sendable {
    @usableFromInline var core: RollingMoments<period>

    /// The underlying mean/variance.
    @inlinable @inline(__always) public var moments: RollingMoments<period> { core }

    /// A fresh indicator. Traps if `period` < 1.
    @inlinable public init() { core = RollingMoments() }

    /// Whether `period` values have been seen (the value may still be NaN: flat window).
    @inlinable @inline(__always) public var isReady: Bool { core.isReady }

    /// The z-score of the newest value; NaN until ready or when the standard deviation is 0.
    @inlinable @inline(__always)
    public var value: Double {
        let deviation = core.standardDeviation
        guard deviation > 0 else { return .nan }
        return (core.latest - core.mean) / deviation
    }

    /// Adds one value.
    @inlinable public mutating func update(_ x: Double) { core.update(x) }

    /// Back to the initial state.
    @inlinable public mutating func reset() { core.reset() }
}

/// Bollinger Bands (TA-Lib `BBANDS` with an SMA middle band): middle = SMA(period),
/// upper/lower = middle ± `deviations` × population stddev(period).
///
/// First value at index `period − 1`. O(1) per update, no allocation. A value type owned by
/// one thread.
public struct BollingerBands<let period: Int>: Sendable {
    @usableFromInline var core: RollingMoments<period>
    /// Width of each band in standard deviations (TA-Lib nbdevup = nbdevdn).
    public let deviations: Double

    /// Fresh bands. Traps if `period` < 1 or `deviations` is negative or not finite.
    @inlinable
    public init(deviations: Double = 2) {
        precondition(deviations >= 0 && deviations.isFinite,
                     "BollingerBands deviations \(deviations) must be finite and >= 0")
        core = RollingMoments()
        self.deviations = deviations
    }

    /// The underlying mean/variance (its mean is the middle band).
    @inlinable @inline(__always) public var moments: RollingMoments<period> { core }

    /// Whether `period` values have been seen.
    @inlinable @inline(__always) public var isReady: Bool { core.isReady }

    /// The middle band (SMA); NaN until ready.
    @inlinable @inline(__always) public var middle: Double { core.mean }

    /// The upper band; NaN until ready.
    @inlinable @inline(__always) public var upper: Double { core.mean + deviations * core.standardDeviation }

    /// The lower band; NaN until ready.
    @inlinable @inline(__always) public var lower: Double { core.mean - deviations * core.standardDeviation }

    /// Adds one value (normally the close).
    @inlinable public mutating func update(_ x: Double) { core.update(x) }

    /// Back to the initial state.
    @inlinable public mutating func reset() { core.reset() }
}
