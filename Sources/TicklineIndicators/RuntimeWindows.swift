// Runtime-period variants of the windowed statistics, for strategies whose periods come
// from the config file (the value-generic types in RollingStatistics.swift need the period
// at compile time).
//
// Storage decision: the window is a `[Double]` allocated once in `init` with exactly
// `period` slots and then only mutated in place (subscript writes on a uniquely referenced
// buffer never reallocate), so `update` does not allocate and needs no `unsafe` code. The
// state is therefore a small inline part plus one heap buffer of `8 × period` bytes
// (`heapBytes`). Do not keep copies of these values alive while updating the original:
// the first write to a shared buffer would copy it (copy-on-write).
//
// Numerics are the same as the value-generic types (see RollingStatistics.swift): running
// sums refreshed exactly once per lap of the ring, variance with a shift re-centred on the
// window mean, and an equal-run counter so a flat window reports variance exactly 0.

/// The most recent `capacity` values in a buffer allocated once; oldest overwritten first.
///
/// A value type owned by one thread. `push` is O(1) and never allocates.
public struct DynamicRingWindow: Sendable {
    @usableFromInline var storage: [Double]
    @usableFromInline var nextSlot: Int
    @usableFromInline var filled: Int
    /// Number of slots.
    public let capacity: Int

    /// An empty window of `capacity` slots (allocated here, once). Traps if `capacity` < 1.
    @inlinable
    public init(capacity: Int) {
        precondition(capacity >= 1, "DynamicRingWindow capacity \(capacity) must be at least 1")
        self.capacity = capacity
        storage = [Double](repeating: 0, count: capacity)
        nextSlot = 0
        filled = 0
    }

    /// Number of values held (at most `capacity`).
    @inlinable public var count: Int { filled }

    /// Whether the window holds `capacity` values.
    @inlinable public var isFull: Bool { filled == capacity }

    /// Whether the last `push` wrote the last slot (the window is exactly the last lap).
    @inlinable public var completedLap: Bool { nextSlot == 0 && filled == capacity }

    /// Bytes of heap this window owns (its buffer, without the allocator's header).
    @inlinable public var heapBytes: Int { capacity * MemoryLayout<Double>.stride }

    /// Appends `value` and returns the value it evicted, or `nil` while the window was not full.
    @inlinable
    public mutating func push(_ value: Double) -> Double? {
        let slot = nextSlot
        let evicted = storage[slot]
        storage[slot] = value
        nextSlot = slot + 1 == capacity ? 0 : slot + 1
        if filled == capacity { return evicted }
        filled += 1
        return nil
    }

    /// The value pushed `age` pushes ago (0 = newest). Traps if `age` >= `count`.
    @inlinable
    public subscript(age age: Int) -> Double {
        precondition(age >= 0 && age < filled, "DynamicRingWindow age \(age) out of range 0..<\(filled)")
        var slot = nextSlot - 1 - age
        if slot < 0 { slot += capacity }
        return storage[slot]
    }

    /// Empties the window (O(1); the buffer is kept).
    @inlinable
    public mutating func reset() {
        nextSlot = 0
        filled = 0
    }
}

/// Simple moving average of the last `period` values (TA-Lib `SMA`), period chosen at run
/// time. First value at index `period − 1`. O(1) per update, no allocation after `init`.
/// A value type owned by one thread.
public struct DynamicSimpleMovingAverage: Sendable {
    @usableFromInline var window: DynamicRingWindow
    @usableFromInline var sum: Double
    @usableFromInline var lapSum: Double

    /// A fresh average (allocates its window). Traps if `period` < 1.
    @inlinable
    public init(period: Int) {
        window = DynamicRingWindow(capacity: period)
        sum = 0
        lapSum = 0
    }

    /// The window length.
    @inlinable public var period: Int { window.capacity }

    /// Whether `period` values have been seen.
    @inlinable public var isReady: Bool { window.isFull }

    /// The average of the last `period` values; NaN until ready.
    @inlinable public var value: Double { isReady ? sum / Double(period) : .nan }

    /// Heap bytes owned (the window buffer).
    @inlinable public var heapBytes: Int { window.heapBytes }

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

    /// Back to the initial state (the buffer is kept).
    @inlinable
    public mutating func reset() {
        window.reset()
        sum = 0
        lapSum = 0
    }
}

/// Mean and population variance of the last `period` values, period chosen at run time:
/// the core of `DynamicStandardDeviation`, `DynamicZScore` and `DynamicBollingerBands`.
/// Ready after `period` updates. O(1) per update, no allocation after `init`.
/// A value type owned by one thread.
public struct DynamicRollingMoments: Sendable {
    @usableFromInline var window: DynamicRingWindow
    @usableFromInline var shift: Double
    @usableFromInline var sum1: Double
    @usableFromInline var sum2: Double
    @usableFromInline var lapShift: Double
    @usableFromInline var lapSum1: Double
    @usableFromInline var lapSum2: Double
    @usableFromInline var newest: Double
    @usableFromInline var equalRun: Int

    /// Empty moments (allocates the window). Traps if `period` < 1.
    @inlinable
    public init(period: Int) {
        window = DynamicRingWindow(capacity: period)
        shift = 0
        sum1 = 0
        sum2 = 0
        lapShift = 0
        lapSum1 = 0
        lapSum2 = 0
        newest = .nan
        equalRun = 0
    }

    /// The window length.
    @inlinable public var period: Int { window.capacity }

    /// Whether `period` values have been seen.
    @inlinable public var isReady: Bool { window.isFull }

    /// The newest value pushed (NaN before the first).
    @inlinable public var latest: Double { newest }

    /// Heap bytes owned (the window buffer).
    @inlinable public var heapBytes: Int { window.heapBytes }

    /// Mean of the window; NaN until ready.
    @inlinable
    public var mean: Double {
        guard isReady else { return .nan }
        if equalRun == period { return newest }
        return shift + sum1 / Double(period)
    }

    /// Population variance of the window (divides by `period`); NaN until ready.
    @inlinable
    public var variance: Double {
        guard isReady else { return .nan }
        if equalRun == period { return 0 }
        let n = Double(period)
        let centredMean = sum1 / n
        return max(sum2 / n - centredMean * centredMean, 0)
    }

    /// Population standard deviation of the window; NaN until ready.
    @inlinable public var standardDeviation: Double { variance.squareRoot() }

    /// (latest − mean) / standard deviation; NaN until ready and when the deviation is 0.
    @inlinable
    public var zScore: Double {
        let deviation = standardDeviation
        guard deviation > 0 else { return .nan }
        return (newest - mean) / deviation
    }

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

    /// Back to the initial state (the buffer is kept, so no allocation).
    @inlinable
    public mutating func reset() {
        window.reset()
        shift = 0
        sum1 = 0
        sum2 = 0
        lapShift = 0
        lapSum1 = 0
        lapSum2 = 0
        newest = .nan
        equalRun = 0
    }
}

/// Population standard deviation of the last `period` values (TA-Lib `STDDEV`, nbdev = 1),
/// period chosen at run time. First value at index `period − 1`. No allocation after `init`.
public struct DynamicStandardDeviation: Sendable {
    @usableFromInline var core: DynamicRollingMoments

    /// A fresh indicator (allocates its window). Traps if `period` < 1.
    @inlinable public init(period: Int) { core = DynamicRollingMoments(period: period) }
    @inlinable public var isReady: Bool { core.isReady }
    /// The standard deviation; NaN until ready.
    @inlinable public var value: Double { core.standardDeviation }
    @inlinable public var heapBytes: Int { core.heapBytes }
    @inlinable public mutating func update(_ x: Double) { core.update(x) }
    @inlinable public mutating func reset() { core.reset() }
}

/// Z-score of the newest value against the last `period` values, (x − SMA) / population
/// stddev, period chosen at run time. NaN while warming up and when the deviation is 0.
/// No allocation after `init`.
public struct DynamicZScore: Sendable {
    @usableFromInline var core: DynamicRollingMoments

    /// A fresh indicator (allocates its window). Traps if `period` < 1.
    @inlinable public init(period: Int) { core = DynamicRollingMoments(period: period) }
    @inlinable public var isReady: Bool { core.isReady }
    /// The z-score of the newest value; NaN until ready or when the deviation is 0.
    @inlinable public var value: Double { core.zScore }
    /// The window mean (the SMA); NaN until ready.
    @inlinable public var mean: Double { core.mean }
    /// The window's population standard deviation; NaN until ready.
    @inlinable public var standardDeviation: Double { core.standardDeviation }
    @inlinable public var heapBytes: Int { core.heapBytes }
    @inlinable public mutating func update(_ x: Double) { core.update(x) }
    @inlinable public mutating func reset() { core.reset() }
}

/// Bollinger Bands (TA-Lib `BBANDS`, SMA middle band) with the period chosen at run time:
/// middle = SMA(period), upper/lower = middle ± `deviations` × population stddev.
/// First value at index `period − 1`. No allocation after `init`.
public struct DynamicBollingerBands: Sendable {
    @usableFromInline var core: DynamicRollingMoments
    /// Width of each band in standard deviations.
    public let deviations: Double

    /// Fresh bands (allocates the window). Traps if `period` < 1 or `deviations` is negative
    /// or not finite.
    @inlinable
    public init(period: Int, deviations: Double = 2) {
        precondition(deviations >= 0 && deviations.isFinite,
                     "DynamicBollingerBands deviations \(deviations) must be finite and >= 0")
        core = DynamicRollingMoments(period: period)
        self.deviations = deviations
    }

    @inlinable public var isReady: Bool { core.isReady }
    /// The middle band (SMA); NaN until ready.
    @inlinable public var middle: Double { core.mean }
    /// The upper band; NaN until ready.
    @inlinable public var upper: Double { core.mean + deviations * core.standardDeviation }
    /// The lower band; NaN until ready.
    @inlinable public var lower: Double { core.mean - deviations * core.standardDeviation }
    /// The newest value pushed.
    @inlinable public var latest: Double { core.latest }
    @inlinable public var heapBytes: Int { core.heapBytes }
    @inlinable public mutating func update(_ x: Double) { core.update(x) }
    @inlinable public mutating func reset() { core.reset() }
}
