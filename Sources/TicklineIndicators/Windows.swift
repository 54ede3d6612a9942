// Fixed-capacity windows stored inline (no heap): the building blocks of the windowed
// indicators.
//
// Storage decision: every window is an `InlineArray<capacity, Double>` whose capacity is a
// value-generic parameter, so an indicator's whole state lives inside the struct (one
// contiguous block per symbol, `MemoryLayout<T>.size` bytes, no pointer to chase, nothing to
// free, copies are independent values) and no `unsafe` code is needed. The price is that a
// window length is a compile-time constant (`SimpleMovingAverage<20>`); indicators that need
// no window (EMA, RSI, ATR, ADX, MACD, VWAP) take their periods at run time.

/// The most recent `capacity` values, oldest overwritten first.
///
/// A value type owned by one thread. `push` is O(1) and never allocates.
public struct RingWindow<let capacity: Int>: Sendable {
    @usableFromInline var storage: InlineArray<capacity, Double>
    /// Slot the next `push` writes; 0 right after a push means the ring just completed a lap.
    @usableFromInline var nextSlot: Int
    @usableFromInline var filled: Int

    /// An empty window. Traps if `capacity` < 1.
    @inlinable
    public init() {
        precondition(capacity >= 1, "RingWindow capacity \(capacity) must be at least 1")
        storage = InlineArray(repeating: 0)
        nextSlot = 0
        filled = 0
    }

    /// Number of values held (at most `capacity`).
    @inlinable public var count: Int { filled }

    /// Whether the window holds `capacity` values.
    @inlinable public var isFull: Bool { filled == capacity }

    /// Whether the last `push` wrote the last slot, so that the window now holds exactly
    /// the values pushed since the previous lap ended (used for exact recomputation).
    @inlinable public var completedLap: Bool { nextSlot == 0 && filled == capacity }

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
        precondition(age >= 0 && age < filled, "RingWindow age out of range")
        var slot = nextSlot - 1 - age
        if slot < 0 { slot += capacity }
        return storage[slot]
    }

    /// Empties the window (O(1): old slots are overwritten before they are read again).
    @inlinable
    public mutating func reset() {
        nextSlot = 0
        filled = 0
    }
}

/// The maximum of the last `capacity` values: a monotonic deque of candidates, so `push` is
/// amortised O(1) (each value enters and leaves the deque once; one push may drop several
/// dominated candidates) and `value` is O(1).
///
/// A value type owned by one thread; never allocates.
public struct RollingMaximum<let capacity: Int>: Sendable {
    /// Candidate values, strictly decreasing from front to back, in a circular deque.
    @usableFromInline var values: InlineArray<capacity, Double>
    /// The push count at which each candidate arrived (to expire it when it leaves the window).
    @usableFromInline var arrivals: InlineArray<capacity, Int>
    @usableFromInline var front: Int
    @usableFromInline var size: Int
    @usableFromInline var pushes: Int
    /// values[front], cached: a non-mutating read of an `InlineArray` element through a getter
    /// made the optimiser copy the whole struct (measured: 22 ns per push instead of ~5).
    @usableFromInline var maximum: Double

    /// An empty window. Traps if `capacity` < 1.
    @inlinable
    public init() {
        precondition(capacity >= 1, "RollingMaximum capacity \(capacity) must be at least 1")
        values = InlineArray(repeating: 0)
        arrivals = InlineArray(repeating: 0)
        front = 0
        size = 0
        pushes = 0
        maximum = .nan
    }

    /// Whether `capacity` values have been pushed since init/reset.
    @inlinable public var isFull: Bool { pushes >= capacity }

    /// The maximum of the last `capacity` values (of fewer before the window is full);
    /// NaN when empty.
    @inlinable public var value: Double { maximum }

    /// Adds `value` to the window, dropping the value that leaves it.
    @inlinable
    public mutating func push(_ value: Double) {
        pushes += 1
        // Expire first: at most one candidate (the one that arrived `capacity` pushes ago)
        // leaves per push, and expiring before appending keeps size <= capacity.
        if size > 0 && arrivals[front] <= pushes - capacity {
            front = front + 1 == capacity ? 0 : front + 1
            size -= 1
        }
        // Drop candidates the new value dominates.
        while size > 0 {
            var back = front + size - 1
            if back >= capacity { back -= capacity }
            if values[back] > value { break }
            size -= 1
        }
        var slot = front + size
        if slot >= capacity { slot -= capacity }
        values[slot] = value
        arrivals[slot] = pushes
        size += 1
        maximum = values[front]
    }

    /// Empties the window.
    @inlinable
    public mutating func reset() {
        front = 0
        size = 0
        pushes = 0
        maximum = .nan
    }
}

/// The minimum of the last `capacity` values (a `RollingMaximum` of the negated values;
/// negation is exact). Amortised O(1) per push; never allocates.
public struct RollingMinimum<let capacity: Int>: Sendable {
    @usableFromInline var negated: RollingMaximum<capacity>

    /// An empty window. Traps if `capacity` < 1.
    @inlinable public init() { negated = RollingMaximum() }

    /// Whether `capacity` values have been pushed since init/reset.
    @inlinable public var isFull: Bool { negated.isFull }

    /// The minimum of the last `capacity` values; NaN when empty.
    @inlinable public var value: Double { -negated.value }

    /// Adds `value` to the window, dropping the value that leaves it.
    @inlinable public mutating func push(_ value: Double) { negated.push(-value) }

    /// Empties the window.
    @inlinable public mutating func reset() { negated.reset() }
}

/// A sum that carries the rounding error of each addition (Neumaier's variant of Kahan
/// summation), so that a running total over 10^8+ terms stays within a few ulps of the exact
/// sum. Used where no window exists to recompute from (VWAP's cumulative sums).
public struct CompensatedSum: Sendable {
    @usableFromInline var sum: Double
    @usableFromInline var compensation: Double

    @inlinable public init() {
        sum = 0
        compensation = 0
    }

    /// The compensated total.
    @inlinable public var value: Double { sum + compensation }

    /// Adds `x`.
    @inlinable
    public mutating func add(_ x: Double) {
        let total = sum + x
        if abs(sum) >= abs(x) {
            compensation += (sum - total) + x
        } else {
            compensation += (x - total) + sum
        }
        sum = total
    }

    /// Back to zero.
    @inlinable
    public mutating func reset() {
        sum = 0
        compensation = 0
    }
}
