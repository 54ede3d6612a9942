import Testing
import TicklineIndicators
import TicklineTestSupport

/// Warm-up boundaries, reset, windows and numerics, checked without TA-Lib.
struct IndicatorBehaviourTests {
    static let walk = TestSeries.all[0]

    /// Index of the first bar after which `isReady` holds, and whether it then stays true.
    static func firstReady(_ bars: [OHLCVBar], _ step: (OHLCVBar) -> Bool) -> (first: Int?, monotonic: Bool) {
        var first: Int?
        var monotonic = true
        for (index, bar) in bars.enumerated() {
            let ready = step(bar)
            if ready && first == nil { first = index }
            if !ready && first != nil { monotonic = false }
        }
        return (first, monotonic)
    }

    @Test
    func firstReadyIndicesEqualTALibLookbacks() {
        let bars = Self.walk.bars
        var sma = SimpleMovingAverage<20>()
        var ema = ExponentialMovingAverage(period: 20)
        var rsi = RelativeStrengthIndex(period: 14)
        var macd = MovingAverageConvergenceDivergence()
        var bands = BollingerBands<20>()
        var deviation = RollingStandardDeviation<20>()
        var zScore = ZScore<20>()
        var atr = AverageTrueRange(period: 14)
        var adx = AverageDirectionalIndex(period: 14)
        var directional = AverageDirectionalIndex(period: 14)
        var stochastic = Stochastic<14, 3, 3>()
        var vwap = VolumeWeightedAveragePrice()
        let expectations: [(String, (first: Int?, monotonic: Bool), Int)] = [
            ("SMA20", Self.firstReady(bars) { sma.update($0.close); return sma.isReady }, 19),
            ("EMA20", Self.firstReady(bars) { ema.update($0.close); return ema.isReady }, 19),
            ("RSI14", Self.firstReady(bars) { rsi.update($0.close); return rsi.isReady }, 14),
            ("MACD", Self.firstReady(bars) { macd.update($0.close); return macd.isReady }, 33),
            ("BBANDS20", Self.firstReady(bars) { bands.update($0.close); return bands.isReady }, 19),
            ("STDDEV20", Self.firstReady(bars) { deviation.update($0.close); return deviation.isReady }, 19),
            ("ZSCORE20", Self.firstReady(bars) { zScore.update($0.close); return zScore.isReady }, 19),
            ("ATR14", Self.firstReady(bars) { atr.update($0); return atr.isReady }, 14),
            ("ADX14", Self.firstReady(bars) { adx.update($0); return adx.isReady }, 27),
            ("DI14", Self.firstReady(bars) { directional.update($0); return directional.isDirectionalReady }, 14),
            ("STOCH", Self.firstReady(bars) { stochastic.update($0); return stochastic.isReady }, 17),
            ("VWAP", Self.firstReady(bars) { vwap.update($0); return vwap.isReady }, 0),
        ]
        for (name, observed, expected) in expectations {
            #expect(observed.first == expected, "\(name) first ready at \(String(describing: observed.first)), expected \(expected)")
            #expect(observed.monotonic, "\(name) became unready again")
        }
    }

    @Test
    func valuesAreNaNUntilReady() {
        var set = IndicatorSet()
        for bar in Self.walk.bars.prefix(40) {
            set.update(bar)
            #expect(set.sma20.isNaN == !set.bollinger.isReady)
            #expect(set.ema.value.isNaN == !set.ema.isReady)
            #expect(set.rsi.value.isNaN == !set.rsi.isReady)
            #expect(set.macd.line.isNaN == !set.macd.isReady)
            #expect(set.macd.signal.isNaN == !set.macd.isReady)
            #expect(set.atr.value.isNaN == !set.atr.isReady)
            #expect(set.adx.value.isNaN == !set.adx.isReady)
            #expect(set.adx.plusDI.isNaN == !set.adx.isDirectionalReady)
            #expect(set.stochastic.k.isNaN == !set.stochastic.isReady)
            #expect(set.stochastic.d.isNaN == !set.stochastic.isReady)
        }
    }

    /// All outputs of a set, bit for bit comparable (NaN compared as "no value").
    static func outputs(_ set: IndicatorSet) -> [Double] {
        [set.close, set.sma20, set.ema.value, set.rsi.value, set.macd.line, set.macd.signal, set.macd.histogram,
         set.bollinger.upper, set.bollinger.lower, set.atr.value, set.adx.value, set.adx.plusDI, set.adx.minusDI,
         set.stochastic.k, set.stochastic.d, set.vwap.value, set.zScore20]
    }

    static func sameOutputs(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    @Test
    func resetMakesEveryIndicatorBehaveLikeANewOne() {
        let first = TestSeries.all[1].bars
        let second = TestSeries.all[2].bars
        var reused = IndicatorSet()
        for bar in first.prefix(333) { reused.update(bar) }
        reused.reset()
        #expect(reused.barCount == 0)
        var fresh = IndicatorSet()
        for (index, bar) in second.enumerated() {
            reused.update(bar)
            fresh.update(bar)
            #expect(Self.sameOutputs(Self.outputs(reused), Self.outputs(fresh)), "bar \(index) differs after reset")
        }
    }

    @Test
    func resetOfEachIndicatorRestoresItsInitialState() {
        let closes = Self.walk.closes
        func check<T>(_ name: String, _ make: () -> T, update: (inout T, OHLCVBar) -> Void, reset: (inout T) -> Void,
                      value: (T) -> Double) {
            var reused = make()
            for bar in TestSeries.all[1].bars.prefix(97) { update(&reused, bar) }
            reset(&reused)
            var fresh = make()
            for bar in Self.walk.bars {
                update(&reused, bar)
                update(&fresh, bar)
                let a = value(reused)
                let b = value(fresh)
                if !(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN)) {
                    Issue.record("\(name): \(a) after reset vs \(b) fresh")
                    return
                }
            }
        }
        #expect(closes.count > 100)
        check("SMA", { SimpleMovingAverage<20>() }, update: { $0.update($1.close) }, reset: { $0.reset() }, value: { $0.value })
        check("EMA", { ExponentialMovingAverage(period: 20) }, update: { $0.update($1.close) }, reset: { $0.reset() }, value: { $0.value })
        check("RSI", { RelativeStrengthIndex() }, update: { $0.update($1.close) }, reset: { $0.reset() }, value: { $0.value })
        check("MACD", { MovingAverageConvergenceDivergence() }, update: { $0.update($1.close) }, reset: { $0.reset() },
              value: { $0.histogram })
        check("BBANDS", { BollingerBands<20>() }, update: { $0.update($1.close) }, reset: { $0.reset() }, value: { $0.upper })
        check("STDDEV", { RollingStandardDeviation<20>() }, update: { $0.update($1.close) }, reset: { $0.reset() }, value: { $0.value })
        check("ZSCORE", { ZScore<20>() }, update: { $0.update($1.close) }, reset: { $0.reset() }, value: { $0.value })
        check("ATR", { AverageTrueRange() }, update: { $0.update($1) }, reset: { $0.reset() }, value: { $0.value })
        check("ADX", { AverageDirectionalIndex() }, update: { $0.update($1) }, reset: { $0.reset() }, value: { $0.value })
        check("+DI", { AverageDirectionalIndex() }, update: { $0.update($1) }, reset: { $0.reset() }, value: { $0.plusDI })
        check("STOCH", { Stochastic<14, 3, 3>() }, update: { $0.update($1) }, reset: { $0.reset() }, value: { $0.d })
        check("VWAP", { VolumeWeightedAveragePrice() }, update: { $0.update($1) }, reset: { $0.reset() }, value: { $0.value })
    }

    @Test
    func indicatorSetAgreesWithTheIndividualIndicators() {
        var set = IndicatorSet()
        var sma = SimpleMovingAverage<20>()
        var ema = ExponentialMovingAverage(period: 20)
        var rsi = RelativeStrengthIndex(period: 14)
        var macd = MovingAverageConvergenceDivergence()
        var atr = AverageTrueRange(period: 14)
        var adx = AverageDirectionalIndex(period: 14)
        var stochastic = Stochastic<14, 3, 3>()
        var vwap = VolumeWeightedAveragePrice()
        var zScore = ZScore<20>()
        for bar in TestSeries.all[2].bars {
            set.update(bar)
            sma.update(bar.close)
            ema.update(bar.close)
            rsi.update(bar.close)
            macd.update(bar.close)
            atr.update(bar)
            adx.update(bar)
            stochastic.update(bar)
            vwap.update(bar)
            zScore.update(bar.close)
            let ours = Self.outputs(set)
            let individual = [bar.close, sma.value, ema.value, rsi.value, macd.line, macd.signal, macd.histogram,
                              ours[7], ours[8], atr.value, adx.value, adx.plusDI, adx.minusDI,
                              stochastic.k, stochastic.d, vwap.value, zScore.value]
            #expect(Self.sameOutputs(Array(ours[2...]), Array(individual[2...])))
            // The set's SMA is the shared window's mean: equal within rounding, not bit for bit.
            #expect(set.sma20.isNaN == sma.value.isNaN)
            if !sma.value.isNaN { #expect(abs(set.sma20 - sma.value) <= 1e-12 * abs(sma.value)) }
        }
    }

    @Test
    func bytesPerSymbolOfTheFullSetAreAllInline() {
        #expect(IndicatorSet.bytesPerSymbol == MemoryLayout<IndicatorSet>.size)
        #expect(IndicatorSet.bytesPerSymbol <= 2048, "IndicatorSet is \(IndicatorSet.bytesPerSymbol) bytes")
        print("IndicatorSet: \(IndicatorSet.bytesPerSymbol) bytes per symbol (stride \(MemoryLayout<IndicatorSet>.stride))")
    }

    // MARK: Windows

    @Test
    func ringWindowEvictsTheOldestValue() {
        var window = RingWindow<3>()
        #expect(window.push(1) == nil)
        #expect(window.push(2) == nil)
        #expect(!window.isFull)
        #expect(window.push(3) == nil)
        #expect(window.isFull && window.completedLap)
        #expect(window.push(4) == 1)
        #expect(window[age: 0] == 4 && window[age: 1] == 3 && window[age: 2] == 2)
        window.reset()
        #expect(window.count == 0 && window.push(9) == nil)
    }

    @Test
    func rollingExtremaMatchABruteForceScan() {
        var random = SeededGenerator(seed: 99)
        var maximum = RollingMaximum<7>()
        var minimum = RollingMinimum<7>()
        var values: [Double] = []
        for _ in 0..<5000 {
            // Few distinct values, so ties and long monotonic runs both occur.
            let value = (random.unit() * 6).rounded(.down) + (random.unit() < 0.1 ? 100 : 0)
            values.append(value)
            maximum.push(value)
            minimum.push(value)
            let window = values.suffix(7)
            #expect(maximum.value == window.max()!)
            #expect(minimum.value == window.min()!)
        }
    }

    @Test
    func rollingMomentsMatchATwoPassComputationAtLargePrices() {
        var random = SeededGenerator(seed: 7)
        var moments = RollingMoments<20>()
        var values: [Double] = []
        var price = 1e6
        var worstMean = 0.0
        var worstDeviation = 0.0
        for _ in 0..<20_000 {
            price += random.normal() * 0.01
            values.append(price)
            moments.update(price)
            guard values.count >= 20 else { continue }
            let window = values.suffix(20)
            let mean = window.reduce(0, +) / 20
            let deviation = (window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20).squareRoot()
            worstMean = max(worstMean, abs(moments.mean - mean))
            worstDeviation = max(worstDeviation, abs(moments.standardDeviation - deviation) / deviation)
        }
        // The naive E[x²] − E[x]² loses every digit of a 0.01 spread at 1e6; the shifted sums keep ~7.
        #expect(worstMean <= 1e-9)
        #expect(worstDeviation <= 1e-6, "relative stddev error \(worstDeviation)")
    }

    @Test
    func flatWindowHasZeroDeviationAndNoZScore() {
        var moments = RollingMoments<5>()
        var zScore = ZScore<5>()
        for value in [1.1, 2.7, 0.3, 1e6, 0.1, 0.1, 0.1, 0.1, 0.1] {
            moments.update(value)
            zScore.update(value)
        }
        #expect(moments.variance == 0)
        #expect(moments.standardDeviation == 0)
        #expect(moments.mean == 0.1)
        #expect(zScore.isReady && zScore.value.isNaN)
        moments.update(0.2)
        #expect(moments.variance > 0)
    }

    @Test
    func flatSeriesGiveTALibsZeroConventions() {
        var rsi = RelativeStrengthIndex(period: 14)
        var stochastic = Stochastic<14, 3, 3>()
        var adx = AverageDirectionalIndex(period: 14)
        let bar = OHLCVBar(timestampNs: 0, open: 5, high: 5, low: 5, close: 5, volume: 1)
        for _ in 0..<40 {
            rsi.update(bar.close)
            stochastic.update(bar)
            adx.update(bar)
        }
        #expect(rsi.value == 0)
        #expect(stochastic.k == 0 && stochastic.d == 0)
        #expect(adx.plusDI == 0 && adx.minusDI == 0 && adx.value == 0)
        #expect(adx.dx.isNaN)
    }

    @Test
    func compensatedSumKeepsTermsAPlainSumLoses() {
        var sum = CompensatedSum()
        var plain = 0.0
        sum.add(1e16)
        plain += 1e16
        for _ in 0..<1000 {
            sum.add(1)
            plain += 1
        }
        sum.add(-1e16)
        plain -= 1e16
        #expect(sum.value == 1000)
        #expect(plain != 1000)
    }
}
