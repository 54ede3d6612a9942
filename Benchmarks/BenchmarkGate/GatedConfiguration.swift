import Benchmark

/// The configuration of every benchmark in the allocation gate. Allocations are the gate:
/// `mallocCountTotal` has a p90 threshold of 0 (checked against Benchmarks/Thresholds), and
/// `Tools/alloc-gate` then checks every sample. The wall clock is reported, never gated: the
/// machines are shared. With `scalingFactor: .kilo` a sample is 1,000 iterations, so the wall
/// clock reads as ns per iteration.
public func gatedConfiguration(maxDuration: Duration = .seconds(1)) -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: maxDuration,
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])
}
