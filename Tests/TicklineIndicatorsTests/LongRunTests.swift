import Foundation
import Testing
import TicklineIndicators
import TicklineTestSupport

/// Drift over 10^8 updates. Slow: run in release with `TICKLINE_LONG_TESTS=1 swift test -c release`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TICKLINE_LONG_TESTS"] == "1",
                "long drift tests run only with TICKLINE_LONG_TESTS=1 (use -c release)"))
struct LongRunTests {
    static let updates = 100_000_000

    @Test
    func windowedIndicatorsDoNotDriftOver100MillionUpdates() {
        var random = SeededGenerator(seed: 2024)
        var sma = SimpleMovingAverage<20>()
        var moments = RollingMoments<20>()
        var naiveSum = 0.0
        var naiveSquares = 0.0
        var recent = RingWindow<20>()
        var price = 1e6
        for _ in 0..<Self.updates {
            // A random walk around 1e6 with a spread of ~1: the hard case for running sums.
            price += Double(Int64(bitPattern: random.next()) >> 40) * 0x1p-23
            sma.update(price)
            moments.update(price)
            if let evicted = recent.push(price) {
                naiveSum -= evicted
                naiveSquares -= evicted * evicted
            }
            naiveSum += price
            naiveSquares += price * price
        }
        var window: [Double] = []
        for age in (0..<20).reversed() { window.append(recent[age: age]) }
        let mean = window.reduce(0, +) / 20
        let deviation = (window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20).squareRoot()
        let naiveMean = naiveSum / 20
        let naiveDeviation = max(naiveSquares / 20 - naiveMean * naiveMean, 0).squareRoot()
        print("after \(Self.updates): mean \(mean) sma error \(abs(sma.value - mean)) moments error \(abs(moments.mean - mean)) naive error \(abs(naiveMean - mean))")
        print("stddev \(deviation): moments error \(abs(moments.standardDeviation - deviation)) naive error \(abs(naiveDeviation - deviation))")
        #expect(abs(sma.value - mean) <= 1e-12 * abs(mean))
        #expect(abs(moments.mean - mean) <= 1e-12 * abs(mean))
        #expect(abs(moments.standardDeviation - deviation) <= 1e-6 * deviation)
    }

    @Test
    func cumulativeVWAPDoesNotDriftOver100MillionBars() {
        // Prices k/2^20 and integer volumes make every price × volume exact, so integer sums
        // give the exact VWAP to compare with.
        var random = SeededGenerator(seed: 5)
        var vwap = VolumeWeightedAveragePrice(session: .never)
        var exactPriceVolume: Int64 = 0  // Σ k × volume
        var exactVolume: Int64 = 0
        var plainPriceVolume = 0.0
        var plainVolume = 0.0
        for index in 0..<Self.updates {
            let k = 100_000_000 + Int64(random.next() % 10_000_000)
            let volume = 1 + Int64(random.next() % 100)
            let price = Double(k) * 0x1p-20
            vwap.update(timestampNs: Int64(index), high: price, low: price, close: price, volume: Double(volume))
            exactPriceVolume += k * volume
            exactVolume += volume
            plainPriceVolume += price * Double(volume)
            plainVolume += Double(volume)
        }
        let exact = Double(exactPriceVolume) * 0x1p-20 / Double(exactVolume)
        let plain = plainPriceVolume / plainVolume
        print("VWAP after \(Self.updates): compensated relative error \(abs(vwap.value - exact) / exact), plain-sum relative error \(abs(plain - exact) / exact)")
        #expect(abs(vwap.value - exact) <= 1e-15 * exact)
    }

    @Test
    func fullSetStaysFiniteOver100MillionBars() {
        var random = SeededGenerator(seed: 77)
        var set = IndicatorSet(vwapSession: .utcDay)
        var close = 100.0
        let start = ContinuousClock.now
        for index in 0..<Self.updates {
            let open = close
            close = max(open * (1 + Double(Int64(bitPattern: random.next()) >> 11) * 0x1p-62), 1e-3)
            let high = max(open, close) * 1.001
            let low = min(open, close) * 0.999
            set.update(OHLCVBar(timestampNs: Int64(index) * 1_000_000_000, open: open, high: high, low: low,
                                close: close, volume: 1 + Double(index & 7)))
        }
        let elapsed = ContinuousClock.now - start
        print("IndicatorSet: \(Self.updates) bars in \(elapsed) (\(elapsed / Self.updates) per bar incl. generation)")
        let values = IndicatorBehaviourTests.outputs(set)
        #expect(values.allSatisfy { $0.isFinite }, "\(values)")
    }
}
