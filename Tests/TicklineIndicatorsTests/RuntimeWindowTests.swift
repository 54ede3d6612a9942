import Testing
import TicklineIndicators

/// The runtime-period windows (periods from the config file) against the Python `ta-lib`
/// package on every `TestSeries`, with the same tolerances and warm-up checks as the
/// value-generic indicators, plus equality with those indicators.
@Suite(.needsTALib)
struct RuntimeWindowAgreementTests {
    @Test(arguments: TestSeries.all)
    func dynamicSMAMatchesTALib(series: TestSeries) throws {
        var sma20 = DynamicSimpleMovingAverage(period: 20)
        var sma7 = DynamicSimpleMovingAverage(period: 7)
        var out20: [Double] = []
        var out7: [Double] = []
        for close in series.closes {
            sma20.update(close)
            sma7.update(close)
            out20.append(sma20.value)
            out7.append(sma7.value)
        }
        expectAgreement(out20, try TALib.column("sma20", of: series), tolerance: priceTolerance(series), "dynamic SMA20 \(series.name)")
        expectAgreement(out7, try TALib.column("sma7", of: series), tolerance: priceTolerance(series), "dynamic SMA7 \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func dynamicBollingerBandsMatchTALib(series: TestSeries) throws {
        for (prefix, period, deviations) in [("bb20", 20, 2.0), ("bb10", 10, 1.5)] {
            var bands = DynamicBollingerBands(period: period, deviations: deviations)
            var upper: [Double] = []
            var middle: [Double] = []
            var lower: [Double] = []
            for close in series.closes {
                bands.update(close)
                upper.append(bands.upper)
                middle.append(bands.middle)
                lower.append(bands.lower)
            }
            let tolerance = priceTolerance(series)
            expectAgreement(upper, try TALib.column(prefix + "_upper", of: series), tolerance: tolerance, "dynamic \(prefix) upper \(series.name)")
            expectAgreement(middle, try TALib.column(prefix + "_middle", of: series), tolerance: tolerance, "dynamic \(prefix) middle \(series.name)")
            expectAgreement(lower, try TALib.column(prefix + "_lower", of: series), tolerance: tolerance, "dynamic \(prefix) lower \(series.name)")
        }
    }

    @Test(arguments: TestSeries.all)
    func dynamicStandardDeviationMatchesTALibSTDDEV(series: TestSeries) throws {
        for (column, period) in [("stddev20", 20), ("stddev7", 7)] {
            var deviation = DynamicStandardDeviation(period: period)
            var out: [Double] = []
            for close in series.closes {
                deviation.update(close)
                out.append(deviation.value)
            }
            expectAgreement(out, try TALib.column(column, of: series), tolerance: priceTolerance(series), "dynamic \(column) \(series.name)")
        }
    }

    @Test(arguments: TestSeries.all)
    func dynamicZScoreMatchesTALibSMAOverSTDDEV(series: TestSeries) throws {
        let sma = try TALib.column("sma20", of: series)
        let deviation = try TALib.column("stddev20", of: series)
        var zScore = DynamicZScore(period: 20)
        var reported = 0
        for (index, close) in series.closes.enumerated() {
            zScore.update(close)
            let ours = zScore.value
            let expected = deviation[index] > 0 ? (close - sma[index]) / deviation[index] : Double.nan
            #expect(zScore.isReady == !sma[index].isNaN, "dynamic z-score readiness at \(index)")
            if ours.isNaN || expected.isNaN {
                #expect(ours.isNaN == expected.isNaN, "dynamic z-score at \(index): ours \(ours), TA-Lib \(expected)")
                continue
            }
            let tolerance = priceTolerance(series) * (2 + 2 * abs(expected)) / deviation[index] + 1e-12
            if abs(ours - expected) > tolerance && reported < 3 {
                reported += 1
                Issue.record("dynamic z-score \(series.name)[\(index)]: ours \(ours), TA-Lib \(expected), tolerance \(tolerance)")
            }
        }
    }
}

@Suite struct RuntimeWindowBehaviourTests {
    @Test func dynamicMomentsEqualTheValueGenericOnesBitForBit() {
        let series = TestSeries.walk(name: "equal", count: 700, start: 100, volatility: 0.01, seed: 11, flat: [300..<340])
        var generic = RollingMoments<20>()
        var dynamic = DynamicRollingMoments(period: 20)
        var genericSMA = SimpleMovingAverage<20>()
        var dynamicSMA = DynamicSimpleMovingAverage(period: 20)
        for close in series.closes {
            generic.update(close)
            dynamic.update(close)
            genericSMA.update(close)
            dynamicSMA.update(close)
            #expect(generic.mean.bitPattern == dynamic.mean.bitPattern)
            #expect(generic.variance.bitPattern == dynamic.variance.bitPattern)
            #expect(genericSMA.value.bitPattern == dynamicSMA.value.bitPattern)
        }
    }

    @Test func resetKeepsTheBufferAndStartsTheWarmUpAgain() {
        var bands = DynamicBollingerBands(period: 5)
        for x in [1.0, 2, 3, 4, 5, 6] { bands.update(x) }
        #expect(bands.isReady)
        bands.reset()
        #expect(!bands.isReady)
        #expect(bands.middle.isNaN)
        for x in [2.0, 2, 2, 2, 2] { bands.update(x) }
        #expect(bands.middle == 2)
        #expect(bands.upper == 2)
        #expect(bands.heapBytes == 40)
    }

    @Test func windowReportsValuesByAge() {
        var window = DynamicRingWindow(capacity: 3)
        #expect(window.push(1) == nil)
        #expect(window.push(2) == nil)
        #expect(window.push(3) == nil)
        #expect(window.push(4) == 1)
        #expect(window[age: 0] == 4)
        #expect(window[age: 2] == 2)
    }
}
