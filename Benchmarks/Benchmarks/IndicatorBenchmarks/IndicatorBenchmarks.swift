// Per-update cost of each indicator and of the full set on one bar, with an allocation gate:
// `Tools/alloc-gate` checks every benchmark against `Benchmarks/Thresholds/*.json`, which hold
// only `mallocCountTotal: 0` (wall clock is reported, never gated: the machines are shared).
//
// Each iteration updates the indicator with the next bar of a precomputed random walk (4096
// bars, reused cyclically after a warm-up past every indicator's lookback) and adds the
// resulting value to a sum handed to `blackHole`, so no update can be optimised away.
// With `scalingFactor: .kilo`, the reported wall clock is ns per update.

import Benchmark
import BenchmarkGate
import TicklineIndicators

/// A deterministic random walk of 4096 one-minute bars (a power of two: indexed with a mask).
let sampleBars: [OHLCVBar] = {
    var state: UInt64 = 0x5EED
    func unit() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) * 0x1p-53
    }
    var bars: [OHLCVBar] = []
    bars.reserveCapacity(4096)
    var close = 100.0
    for index in 0..<4096 {
        let open = close
        close = open * (1 + (unit() - 0.5) * 0.02)
        let high = max(open, close) * (1 + unit() * 0.005)
        let low = min(open, close) * (1 - unit() * 0.005)
        bars.append(OHLCVBar(timestampNs: 1_704_067_200_000_000_000 + Int64(index) * 60_000_000_000,
                             open: open, high: high, low: low, close: close, volume: 1 + (unit() * 1000).rounded()))
    }
    return bars
}()

/// Warms `indicator` up, then measures `scaledIterations` calls of `step`, one bar each.
/// `step` updates the indicator in place and returns a value read from it (taking it
/// `inout` avoids copying the struct, up to 1.2 KB for the full set, on every read).
@inline(__always)
func measureUpdates<Indicator>(
    _ benchmark: Benchmark, _ initial: Indicator, step: (inout Indicator, OHLCVBar) -> Double
) {
    let bars = sampleBars
    let mask = bars.count - 1
    var indicator = initial
    var sink = 0.0
    for index in 0..<256 { sink += step(&indicator, bars[index]) }
    var cursor = 256
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        sink += step(&indicator, bars[cursor & mask])
        cursor &+= 1
    }
    benchmark.stopMeasurement()
    blackHole(sink)
}

let benchmarks: @Sendable () -> Void = {
    let configuration = gatedConfiguration()

    Benchmark("Indicators.fullSetPerBar", configuration: configuration) { benchmark in
        measureUpdates(benchmark, IndicatorSet()) { set, bar in
            set.update(bar)
            return set.sma20 + set.ema.value + set.rsi.value + set.macd.histogram + set.bollinger.upper
                + set.atr.value + set.adx.value + set.adx.plusDI + set.stochastic.d + set.vwap.value + set.zScore20
        }
    }
    Benchmark("Indicators.sma20PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, SimpleMovingAverage<20>()) { indicator, bar in
            indicator.update(bar.close)
            return indicator.value
        }
    }
    Benchmark("Indicators.ema20PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, ExponentialMovingAverage(period: 20)) { indicator, bar in
            indicator.update(bar.close)
            return indicator.value
        }
    }
    Benchmark("Indicators.rsi14PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, RelativeStrengthIndex(period: 14)) { indicator, bar in
            indicator.update(bar.close)
            return indicator.value
        }
    }
    Benchmark("Indicators.macd12_26_9PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, MovingAverageConvergenceDivergence()) { indicator, bar in
            indicator.update(bar.close)
            return indicator.histogram
        }
    }
    Benchmark("Indicators.bollinger20PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, BollingerBands<20>()) { indicator, bar in
            indicator.update(bar.close)
            return indicator.upper
        }
    }
    Benchmark("Indicators.stddev20PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, RollingStandardDeviation<20>()) { indicator, bar in
            indicator.update(bar.close)
            return indicator.value
        }
    }
    Benchmark("Indicators.zscore20PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, ZScore<20>()) { indicator, bar in
            indicator.update(bar.close)
            return indicator.value
        }
    }
    Benchmark("Indicators.atr14PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, AverageTrueRange(period: 14)) { indicator, bar in
            indicator.update(bar)
            return indicator.value
        }
    }
    Benchmark("Indicators.adx14PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, AverageDirectionalIndex(period: 14)) { indicator, bar in
            indicator.update(bar)
            return indicator.value + indicator.plusDI
        }
    }
    Benchmark("Indicators.stochastic14_3_3PerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, Stochastic<14, 3, 3>()) { indicator, bar in
            indicator.update(bar)
            return indicator.k + indicator.d
        }
    }
    Benchmark("Indicators.vwapPerUpdate", configuration: configuration) { benchmark in
        measureUpdates(benchmark, VolumeWeightedAveragePrice()) { indicator, bar in
            indicator.update(bar)
            return indicator.value
        }
    }
}
