import Atomics
import TicklineCore

/// Counters, gauges and latency histograms that pinned stages write and the control plane
/// reads, without locks: every slot has exactly one writer (the stage that owns it), which
/// stores with relaxed atomics; readers load relaxed and may see a histogram mid-update
/// (one sample off), never a torn value. Slots are declared at start (cold), before the
/// stages run; recording allocates nothing.
///
/// Histograms are log-linear like HdrHistogram with 2 significant bits: values below 16 ns
/// have a bucket each, then every power of two is split into 4 buckets (≤ 25 % relative
/// error), up to 2^44 ns (about 4.9 hours); larger values land in the last bucket.
public final class StatsBoard: @unchecked Sendable {
    public struct Counter: Sendable, Hashable { let index: Int }
    public struct Histogram: Sendable, Hashable { let index: Int }

    public enum Kind: String, Sendable { case counter, gauge }

    /// A declared counter or gauge.
    public struct CounterInfo: Sendable {
        public let name: String
        public let help: String
        public let kind: Kind
        public let labels: [(String, String)]
    }

    /// A declared histogram (values in ns).
    public struct HistogramInfo: Sendable {
        public let name: String
        public let help: String
        public let labels: [(String, String)]
    }

    public static let bucketCount = 16 + (44 - 4) * 4 + 1

    public private(set) var counters: [CounterInfo] = []
    public private(set) var histograms: [HistogramInfo] = []
    let counterCapacity: Int
    let histogramCapacity: Int
    let values: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    /// Per histogram: bucketCount buckets, then count, sum, max.
    let buckets: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    var histogramStride: Int { Self.bucketCount + 3 }

    public init(counterCapacity: Int = 1_024, histogramCapacity: Int = 64) {
        self.counterCapacity = counterCapacity
        self.histogramCapacity = histogramCapacity
        values = .allocate(capacity: counterCapacity)
        values.initialize(repeating: .init(0), count: counterCapacity)
        let n = histogramCapacity * (Self.bucketCount + 3)
        buckets = .allocate(capacity: n)
        buckets.initialize(repeating: .init(0), count: n)
    }

    deinit {
        values.deallocate()
        buckets.deallocate()
    }

    // MARK: Declaring (cold, before the stages start)

    public func counter(_ name: String, _ help: String, kind: Kind = .counter, labels: [(String, String)] = []) -> Counter {
        precondition(counters.count < counterCapacity, "StatsBoard: more than \(counterCapacity) counters")
        counters.append(CounterInfo(name: name, help: help, kind: kind, labels: labels))
        return Counter(index: counters.count - 1)
    }

    public func histogram(_ name: String, _ help: String, labels: [(String, String)] = []) -> Histogram {
        precondition(histograms.count < histogramCapacity, "StatsBoard: more than \(histogramCapacity) histograms")
        histograms.append(HistogramInfo(name: name, help: help, labels: labels))
        return Histogram(index: histograms.count - 1)
    }

    // MARK: Writing (the slot's one owner)

    @inline(__always)
    func slot(_ c: Counter) -> UnsafeAtomic<UInt64> { UnsafeAtomic(at: values + c.index) }

    /// Adds to a counter (single writer: a relaxed load and store, no read-modify-write).
    @inline(__always)
    public func add(_ c: Counter, _ n: UInt64 = 1) {
        let s = slot(c)
        s.store(s.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    @inline(__always)
    public func set(_ c: Counter, _ v: UInt64) { slot(c).store(v, ordering: .relaxed) }

    /// Records one latency sample in ns (negative values count as 0).
    @inline(__always)
    public func record(_ h: Histogram, _ ns: Int64) {
        let v = UInt64(max(ns, 0))
        let base = buckets + h.index * histogramStride
        bump(UnsafeAtomic(at: base + Self.bucket(of: v)), 1)
        bump(UnsafeAtomic(at: base + Self.bucketCount), 1)
        bump(UnsafeAtomic(at: base + Self.bucketCount + 1), v)
        let mx = UnsafeAtomic<UInt64>(at: base + Self.bucketCount + 2)
        if v > mx.load(ordering: .relaxed) { mx.store(v, ordering: .relaxed) }
    }

    @inline(__always)
    func bump(_ a: UnsafeAtomic<UInt64>, _ n: UInt64) { a.store(a.load(ordering: .relaxed) &+ n, ordering: .relaxed) }

    /// The bucket a value falls in.
    @inlinable @inline(__always)
    public static func bucket(of v: UInt64) -> Int {
        if v < 16 { return Int(v) }
        let e = 63 - v.leadingZeroBitCount  // 4...63
        if e >= 44 { return bucketCount - 1 }
        let sub = Int((v >> UInt64(e - 2)) & 3)
        return 16 + (e - 4) * 4 + sub
    }

    /// The largest value of a bucket (what a percentile reports: never an underestimate).
    public static func upperBound(ofBucket i: Int) -> UInt64 {
        if i < 16 { return UInt64(i) }
        if i >= bucketCount - 1 { return UInt64.max }
        let e = (i - 16) / 4 + 4, sub = UInt64((i - 16) % 4)
        return (UInt64(1) << UInt64(e)) + (sub + 1) * (UInt64(1) << UInt64(e - 2)) - 1
    }

    // MARK: Reading (any thread)

    public func value(_ c: Counter) -> UInt64 { slot(c).load(ordering: .relaxed) }

    /// A histogram's state now.
    public struct HistogramSnapshot: Sendable, Equatable {
        public var buckets: [UInt64]
        public var count: UInt64
        public var sum: UInt64
        public var max: UInt64

        /// The value at or below which `fraction` (0...1) of the samples lie (bucket upper bound).
        public func percentile(_ fraction: Double) -> UInt64 {
            guard count > 0 else { return 0 }
            let rank = UInt64((Double(count) * fraction).rounded(.up))
            var seen: UInt64 = 0
            for (i, n) in buckets.enumerated() {
                seen += n
                if seen >= Swift.max(rank, 1) { return Swift.min(StatsBoard.upperBound(ofBucket: i), self.max) }
            }
            return self.max
        }
    }

    /// The snapshot of the `index`-th declared histogram (views that list them all).
    public func snapshot(histogramAt index: Int) -> HistogramSnapshot { snapshot(Histogram(index: index)) }

    public func snapshot(_ h: Histogram) -> HistogramSnapshot {
        let base = buckets + h.index * histogramStride
        var b = [UInt64](repeating: 0, count: Self.bucketCount)
        for i in 0..<Self.bucketCount { b[i] = UnsafeAtomic<UInt64>(at: base + i).load(ordering: .relaxed) }
        return HistogramSnapshot(buckets: b,
                                 count: UnsafeAtomic<UInt64>(at: base + Self.bucketCount).load(ordering: .relaxed),
                                 sum: UnsafeAtomic<UInt64>(at: base + Self.bucketCount + 1).load(ordering: .relaxed),
                                 max: UnsafeAtomic<UInt64>(at: base + Self.bucketCount + 2).load(ordering: .relaxed))
    }

    /// Every declared slot in the Prometheus text format (histograms in seconds, with
    /// power-of-two buckets from 1 µs to ~1.1 s), appended to `out`.
    public func prometheus(into out: inout PrometheusText) {
        for (i, c) in counters.enumerated() {
            out.single(c.name, c.kind == .gauge ? .gauge : .counter, c.help, c.labels, Double(value(Counter(index: i))))
        }
        for (i, h) in histograms.enumerated() {
            let s = snapshot(Histogram(index: i))
            var cumulative: UInt64 = 0
            var next = 0
            var buckets: [(Double, UInt64)] = []
            for e in 10...30 {  // le = 2^e ns: 1.024 µs ... 1.07 s
                let bound = UInt64(1) << UInt64(e)
                while next < Self.bucketCount && Self.upperBound(ofBucket: next) < bound {
                    cumulative += s.buckets[next]
                    next += 1
                }
                buckets.append((Double(bound) / 1e9, cumulative))
            }
            out.histogram(h.name, h.help, h.labels, buckets: buckets, sum: Double(s.sum) / 1e9, count: s.count)
        }
    }
}
