import Testing
import TicklineIndicators

/// Every indicator against the Python `ta-lib` package (0.8.x) on every `TestSeries`: same
/// first valid bar, values within 1e-9 × price level (price-unit indicators) or 1e-7
/// (oscillators). Default and non-default parameters.
@Suite(.needsTALib)
struct TALibAgreementTests {
    @Test(arguments: TestSeries.all)
    func smaMatchesTALib(series: TestSeries) throws {
        var sma20 = SimpleMovingAverage<20>()
        var sma7 = SimpleMovingAverage<7>()
        var out20: [Double] = []
        var out7: [Double] = []
        for close in series.closes {
            sma20.update(close)
            sma7.update(close)
            out20.append(sma20.value)
            out7.append(sma7.value)
        }
        expectAgreement(out20, try TALib.column("sma20", of: series), tolerance: priceTolerance(series), "SMA20 \(series.name)")
        expectAgreement(out7, try TALib.column("sma7", of: series), tolerance: priceTolerance(series), "SMA7 \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func emaMatchesTALib(series: TestSeries) throws {
        var ema20 = ExponentialMovingAverage(period: 20)
        var ema5 = ExponentialMovingAverage(period: 5)
        var out20: [Double] = []
        var out5: [Double] = []
        for close in series.closes {
            ema20.update(close)
            ema5.update(close)
            out20.append(ema20.value)
            out5.append(ema5.value)
        }
        expectAgreement(out20, try TALib.column("ema20", of: series), tolerance: priceTolerance(series), "EMA20 \(series.name)")
        expectAgreement(out5, try TALib.column("ema5", of: series), tolerance: priceTolerance(series), "EMA5 \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func rsiMatchesTALib(series: TestSeries) throws {
        var rsi14 = RelativeStrengthIndex(period: 14)
        var rsi5 = RelativeStrengthIndex(period: 5)
        var out14: [Double] = []
        var out5: [Double] = []
        for close in series.closes {
            rsi14.update(close)
            rsi5.update(close)
            out14.append(rsi14.value)
            out5.append(rsi5.value)
        }
        expectAgreement(out14, try TALib.column("rsi14", of: series), tolerance: oscillatorTolerance, "RSI14 \(series.name)")
        expectAgreement(out5, try TALib.column("rsi5", of: series), tolerance: oscillatorTolerance, "RSI5 \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func macdMatchesTALib(series: TestSeries) throws {
        for (prefix, fast, slow, signal) in [("macd", 12, 26, 9), ("macd_5_13_4", 5, 13, 4)] {
            var macd = MovingAverageConvergenceDivergence(fast: fast, slow: slow, signal: signal)
            var line: [Double] = []
            var signalLine: [Double] = []
            var histogram: [Double] = []
            for close in series.closes {
                macd.update(close)
                line.append(macd.line)
                signalLine.append(macd.signal)
                histogram.append(macd.histogram)
            }
            let tolerance = priceTolerance(series)
            expectAgreement(line, try TALib.column(prefix, of: series), tolerance: tolerance, "\(prefix) line \(series.name)")
            expectAgreement(signalLine, try TALib.column(prefix + "_signal", of: series), tolerance: tolerance,
                            "\(prefix) signal \(series.name)")
            expectAgreement(histogram, try TALib.column(prefix + "_hist", of: series), tolerance: tolerance,
                            "\(prefix) histogram \(series.name)")
        }
    }

    @Test(arguments: TestSeries.all)
    func bollingerBandsMatchTALib(series: TestSeries) throws {
        var bands20 = BollingerBands<20>(deviations: 2)
        var bands10 = BollingerBands<10>(deviations: 1.5)
        var out20: (upper: [Double], middle: [Double], lower: [Double]) = ([], [], [])
        var out10: (upper: [Double], middle: [Double], lower: [Double]) = ([], [], [])
        for close in series.closes {
            bands20.update(close)
            bands10.update(close)
            out20.upper.append(bands20.upper)
            out20.middle.append(bands20.middle)
            out20.lower.append(bands20.lower)
            out10.upper.append(bands10.upper)
            out10.middle.append(bands10.middle)
            out10.lower.append(bands10.lower)
        }
        let tolerance = priceTolerance(series)
        expectAgreement(out20.upper, try TALib.column("bb20_upper", of: series), tolerance: tolerance, "BB20 upper \(series.name)")
        expectAgreement(out20.middle, try TALib.column("bb20_middle", of: series), tolerance: tolerance, "BB20 middle \(series.name)")
        expectAgreement(out20.lower, try TALib.column("bb20_lower", of: series), tolerance: tolerance, "BB20 lower \(series.name)")
        expectAgreement(out10.upper, try TALib.column("bb10_upper", of: series), tolerance: tolerance, "BB10 upper \(series.name)")
        expectAgreement(out10.middle, try TALib.column("bb10_middle", of: series), tolerance: tolerance, "BB10 middle \(series.name)")
        expectAgreement(out10.lower, try TALib.column("bb10_lower", of: series), tolerance: tolerance, "BB10 lower \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func rollingStandardDeviationMatchesTALibSTDDEV(series: TestSeries) throws {
        var deviation20 = RollingStandardDeviation<20>()
        var deviation7 = RollingStandardDeviation<7>()
        var out20: [Double] = []
        var out7: [Double] = []
        for close in series.closes {
            deviation20.update(close)
            deviation7.update(close)
            out20.append(deviation20.value)
            out7.append(deviation7.value)
        }
        expectAgreement(out20, try TALib.column("stddev20", of: series), tolerance: priceTolerance(series), "STDDEV20 \(series.name)")
        expectAgreement(out7, try TALib.column("stddev7", of: series), tolerance: priceTolerance(series), "STDDEV7 \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func zScoreMatchesTALibSMAOverSTDDEV(series: TestSeries) throws {
        let sma = try TALib.column("sma20", of: series)
        let deviation = try TALib.column("stddev20", of: series)
        var zScore = ZScore<20>()
        var reportedMismatches = 0
        for (index, close) in series.closes.enumerated() {
            zScore.update(close)
            let ours = zScore.value
            let expected = deviation[index] > 0 ? (close - sma[index]) / deviation[index] : Double.nan
            #expect(zScore.isReady == !sma[index].isNaN, "z-score readiness at \(index)")
            if ours.isNaN || expected.isNaN {
                #expect(ours.isNaN == expected.isNaN, "z-score at \(index): ours \(ours), TA-Lib \(expected)")
                continue
            }
            // Propagate the price tolerance through the division.
            let tolerance = priceTolerance(series) * (2 + 2 * abs(expected)) / deviation[index] + 1e-12
            if abs(ours - expected) > tolerance && reportedMismatches < 3 {
                reportedMismatches += 1
                Issue.record("z-score \(series.name)[\(index)]: ours \(ours), TA-Lib \(expected), tolerance \(tolerance)")
            }
        }
    }

    @Test(arguments: TestSeries.all)
    func atrMatchesTALib(series: TestSeries) throws {
        var atr14 = AverageTrueRange(period: 14)
        var atr5 = AverageTrueRange(period: 5)
        var out14: [Double] = []
        var out5: [Double] = []
        for bar in series.bars {
            atr14.update(bar)
            atr5.update(bar)
            out14.append(atr14.value)
            out5.append(atr5.value)
        }
        expectAgreement(out14, try TALib.column("atr14", of: series), tolerance: priceTolerance(series), "ATR14 \(series.name)")
        expectAgreement(out5, try TALib.column("atr5", of: series), tolerance: priceTolerance(series), "ATR5 \(series.name)")
    }

    @Test(arguments: TestSeries.all)
    func adxAndDirectionalIndicatorsMatchTALib(series: TestSeries) throws {
        for period in [14, 5] {
            var adx = AverageDirectionalIndex(period: period)
            var value: [Double] = []
            var plus: [Double] = []
            var minus: [Double] = []
            for bar in series.bars {
                adx.update(bar)
                value.append(adx.value)
                plus.append(adx.plusDI)
                minus.append(adx.minusDI)
            }
            expectAgreement(value, try TALib.column("adx\(period)", of: series), tolerance: oscillatorTolerance,
                            "ADX\(period) \(series.name)")
            expectAgreement(plus, try TALib.column("plus_di\(period)", of: series), tolerance: oscillatorTolerance,
                            "+DI\(period) \(series.name)")
            expectAgreement(minus, try TALib.column("minus_di\(period)", of: series), tolerance: oscillatorTolerance,
                            "-DI\(period) \(series.name)")
        }
    }

    @Test(arguments: TestSeries.all)
    func stochasticMatchesTALibSTOCH(series: TestSeries) throws {
        var standard = Stochastic<14, 3, 3>()
        var other = Stochastic<5, 2, 4>()
        var k: [Double] = []
        var d: [Double] = []
        var otherK: [Double] = []
        var otherD: [Double] = []
        for bar in series.bars {
            standard.update(bar)
            other.update(bar)
            k.append(standard.k)
            d.append(standard.d)
            otherK.append(other.k)
            otherD.append(other.d)
        }
        expectAgreement(k, try TALib.column("stoch_k", of: series), tolerance: oscillatorTolerance, "STOCH %K \(series.name)")
        expectAgreement(d, try TALib.column("stoch_d", of: series), tolerance: oscillatorTolerance, "STOCH %D \(series.name)")
        expectAgreement(otherK, try TALib.column("stoch_5_2_4_k", of: series), tolerance: oscillatorTolerance,
                        "STOCH(5,2,4) %K \(series.name)")
        expectAgreement(otherD, try TALib.column("stoch_5_2_4_d", of: series), tolerance: oscillatorTolerance,
                        "STOCH(5,2,4) %D \(series.name)")
    }

    /// The CSV command end to end: every TA-Lib column of its output agrees with TA-Lib.
    @Test(arguments: [TestSeries.all[0], TestSeries.all[2], TestSeries.all[5]])
    func csvOutputMatchesTALib(series: TestSeries) throws {
        var input = IndicatorCSV.inputHeader + "\n"
        for bar in series.bars {
            input += "\(bar.timestampNs),\(bar.open),\(bar.high),\(bar.low),\(bar.close),\(bar.volume)\n"
        }
        let rows = try IndicatorCSV.transform(input).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan } }
        #expect(rows.count == series.bars.count)
        let columns = IndicatorCSV.outputHeader.split(separator: ",").map(String.init)
        let referenceNames = [
            "sma_20": "sma20", "ema_20": "ema20", "rsi_14": "rsi14", "macd": "macd", "macd_signal": "macd_signal",
            "macd_hist": "macd_hist", "bb_upper": "bb20_upper", "bb_middle": "bb20_middle", "bb_lower": "bb20_lower",
            "atr_14": "atr14", "adx_14": "adx14", "plus_di_14": "plus_di14", "minus_di_14": "minus_di14",
            "stoch_k": "stoch_k", "stoch_d": "stoch_d",
        ]
        let priceColumns: Set = ["sma_20", "ema_20", "macd", "macd_signal", "macd_hist", "bb_upper", "bb_middle", "bb_lower", "atr_14"]
        for (offset, column) in columns.enumerated() {
            guard let name = referenceNames[column] else { continue }
            let tolerance = priceColumns.contains(column) ? priceTolerance(series) : oscillatorTolerance
            expectAgreement(rows.map { $0[offset] }, try TALib.column(name, of: series), tolerance: tolerance,
                            "CSV \(column) \(series.name)")
        }
    }
}
