import Foundation
import Testing
import TicklineIndicators

struct IndicatorCSVTests {
    static let header = "timestamp,open,high,low,close,volume"

    static func csv(_ bars: [OHLCVBar], timestamp: (OHLCVBar) -> String = { String($0.timestampNs) }) -> String {
        var text = header + "\n"
        for bar in bars {
            text += "\(timestamp(bar)),\(bar.open),\(bar.high),\(bar.low),\(bar.close),\(bar.volume)\n"
        }
        return text
    }

    static func rows(_ output: String) -> [[Substring]] {
        output.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    }

    /// The error `transform` throws for `input`, or nil.
    static func error(_ input: String) -> IndicatorCSVError? {
        do {
            _ = try IndicatorCSV.transform(input)
            return nil
        } catch {
            return error
        }
    }

    @Test
    func outputHeaderIsExactlyTheDocumentedOne() throws {
        let output = try IndicatorCSV.transform(Self.header + "\n")
        #expect(output == "timestamp,close,sma_20,ema_20,rsi_14,macd,macd_signal,macd_hist,bb_upper,bb_middle,bb_lower,atr_14,adx_14,plus_di_14,minus_di_14,stoch_k,stoch_d,vwap,zscore_20\n")
    }

    @Test
    func oneRowPerBarWithEmptyCellsWhileWarmingUp() throws {
        let bars = Array(TestSeries.all[0].bars.prefix(40))
        let rows = Self.rows(try IndicatorCSV.transform(Self.csv(bars)))
        #expect(rows.count == 40)
        let names = IndicatorCSV.outputHeader.split(separator: ",").map(String.init)
        // First row (index) with a value, per column (TA-Lib's lookbacks; VWAP from the first bar).
        let firstValue = [
            "timestamp": 0, "close": 0, "sma_20": 19, "ema_20": 19, "rsi_14": 14, "macd": 33, "macd_signal": 33,
            "macd_hist": 33, "bb_upper": 19, "bb_middle": 19, "bb_lower": 19, "atr_14": 14, "adx_14": 27,
            "plus_di_14": 14, "minus_di_14": 14, "stoch_k": 17, "stoch_d": 17, "vwap": 0, "zscore_20": 19,
        ]
        for (column, name) in names.enumerated() {
            let first = rows.firstIndex { !$0[column].isEmpty }
            #expect(first == firstValue[name], "\(name) first value at row \(String(describing: first))")
            if let first { #expect(rows[first...].allSatisfy { !$0[column].isEmpty }, "\(name) has a gap") }
        }
        #expect(rows.allSatisfy { $0.count == names.count })
        #expect(rows[0][0] == Substring(String(bars[0].timestampNs)))
        #expect(rows[0][1] == Substring(bars[0].close.description))
    }

    @Test
    func cellsRoundTripToTheIndicatorSetValues() throws {
        let bars = TestSeries.all[2].bars
        let rows = Self.rows(try IndicatorCSV.transform(Self.csv(bars)))
        var set = IndicatorSet()
        for (index, bar) in bars.enumerated() {
            set.update(bar)
            let expected = [bar.close, set.sma20, set.ema.value, set.rsi.value, set.macd.line, set.macd.signal,
                            set.macd.histogram, set.bollinger.upper, set.bollinger.middle, set.bollinger.lower,
                            set.atr.value, set.adx.value, set.adx.plusDI, set.adx.minusDI, set.stochastic.k,
                            set.stochastic.d, set.vwap.value, set.zScore20]
            let cells = rows[index].dropFirst().map { $0.isEmpty ? Double.nan : Double($0)! }
            #expect(zip(cells, expected).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) },
                    "row \(index + 2) does not round-trip")
        }
    }

    @Test
    func zScoreCellIsEmptyOnAFlatWindow() throws {
        let bars = TestSeries.all[2].bars  // flat from bar 200 to 259
        let rows = Self.rows(try IndicatorCSV.transform(Self.csv(bars)))
        let zColumn = 18
        #expect(!rows[210][zColumn].isEmpty)  // window still spans the last move
        #expect(rows[219][zColumn].isEmpty)   // 20 equal closes (199...218 plus 219)
        #expect(rows[259][zColumn].isEmpty)
        #expect(!rows[261][zColumn].isEmpty)
    }

    @Test
    func secondsMillisecondsMicrosecondsNanosecondsAndISO8601GiveTheSameRows() throws {
        let bars = Array(TestSeries.walk(name: "t", count: 200, start: 100, volatility: 0.01, seed: 3, stepNs: 600_000_000_000).bars)
        func iso(_ ns: Int64) -> String {
            // 2024-01-01T22:00:00Z + whole minutes: build the text by hand.
            let seconds = ns / 1_000_000_000 - 1_704_067_200  // since 2024-01-01T00:00:00Z
            let day = 1 + seconds / 86_400
            let hour = (seconds % 86_400) / 3_600
            let minute = (seconds % 3_600) / 60
            func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
            return "2024-01-\(two(day))T\(two(hour)):\(two(minute)):00Z"
        }
        let variants = [
            Self.csv(bars) { String($0.timestampNs) },
            Self.csv(bars) { String($0.timestampNs / 1_000) },
            Self.csv(bars) { String($0.timestampNs / 1_000_000) },
            Self.csv(bars) { String($0.timestampNs / 1_000_000_000) },
            Self.csv(bars) { iso($0.timestampNs) },
            Self.csv(bars) { iso($0.timestampNs).replacingOccurrences(of: "Z", with: ".000+00:00") },
        ]
        let outputs = try variants.map { try Self.rows(IndicatorCSV.transform($0)).map { Array($0.dropFirst()) } }
        for output in outputs.dropFirst() { #expect(output == outputs[0]) }
        #expect(iso(bars[12].timestampNs) == "2024-01-02T00:00:00Z")  // the VWAP reset is inside the data
    }

    @Test
    func iso8601OffsetsAndFractionsAreHonoured() throws {
        let lines = [
            "2024-02-29T23:59:59.5Z,1,1,1,1,1",
            "2024-03-01T01:00:00+01:00,3,3,3,3,1",   // = 2024-03-01T00:00:00Z: a new VWAP day
            "2024-03-01 00:30:00.123456789,5,5,5,5,1",
        ]
        let rows = Self.rows(try IndicatorCSV.transform(Self.header + "\n" + lines.joined(separator: "\n")))
        #expect(rows.map { $0[17] } == ["1.0", "3.0", "4.0"])
        #expect(rows[1][0] == "2024-03-01T01:00:00+01:00")
    }

    @Test
    func crlfLineEndingsBlankLinesAndAByteOrderMarkAreAccepted() throws {
        let bars = Array(TestSeries.all[0].bars.prefix(30))
        let plain = try IndicatorCSV.transform(Self.csv(bars))
        let windows = "\u{FEFF}" + Self.csv(bars).replacingOccurrences(of: "\n", with: "\r\n")
            .replacingOccurrences(of: "open,high", with: " Open , HIGH ") + "\r\n\r\n"
        #expect(try IndicatorCSV.transform(windows) == plain)
        let noFinalNewline = String(Self.csv(bars).dropLast())
        #expect(try IndicatorCSV.transform(noFinalNewline) == plain)
    }

    @Test
    func streamingLineByLineMatchesTheWholeTransform() throws {
        let input = Self.csv(TestSeries.all[1].bars)
        var stream = IndicatorCSVStream()
        var output = ""
        for line in input.split(separator: "\n", omittingEmptySubsequences: false) {
            try stream.process(line: line, into: &output)
        }
        try stream.finish()
        #expect(output == (try IndicatorCSV.transform(input)))
    }

    // MARK: Errors name the line and column

    @Test
    func emptyInputIsAMissingHeader() {
        let error = Self.error("")
        #expect(error == IndicatorCSVError(line: 1, column: 1, reason: .missingHeader))
        #expect(error?.description.hasPrefix("line 1, column 1 (timestamp): missing header") == true)
    }

    @Test
    func dataOnTheFirstLineIsAMissingHeader() {
        let error = Self.error("1704067200,1,2,0.5,1.5,10\n")
        #expect(error?.reason == .missingHeader)
        #expect(error?.line == 1)
    }

    @Test
    func aWrongHeaderFieldIsNamed() {
        let error = Self.error("timestamp,open,high,low,price,volume\n")
        #expect(error == IndicatorCSVError(line: 1, column: 5, reason: .unexpectedHeaderField(expected: "close", found: "price")))
        #expect(error?.description.contains("line 1, column 5 (close): header field is 'price', expected 'close'") == true)
    }

    @Test
    func aWrongColumnCountNamesLineAndFirstMissingOrExtraColumn() {
        let short = Self.error(Self.header + "\n1704067200,1,2,0.5,1.5,10\n1704067260,1,2,0.5,1.5\n")
        #expect(short == IndicatorCSVError(line: 3, column: 6, reason: .wrongColumnCount(expected: 6, found: 5)))
        #expect(short?.description == "line 3, column 6: expected 6 columns, found 5")
        let long = Self.error(Self.header + "\n1704067200,1,2,0.5,1.5,10,7\n")
        #expect(long == IndicatorCSVError(line: 2, column: 7, reason: .wrongColumnCount(expected: 6, found: 7)))
    }

    @Test
    func aNonNumericValueIsNamedWithItsLineAndColumn() {
        let error = Self.error(Self.header + "\n1704067200,1,2,0.5,1.5,10\n\n1704067320,1,2,0.5,abc,10\n")
        #expect(error == IndicatorCSVError(line: 4, column: 5, reason: .notANumber("abc")))
        #expect(error?.description == "line 4, column 5 (close): 'abc' is not a number")
        for bad in ["nan", "inf", "0x1p3", "1e", ".", "", "1,5"] {
            let text = Self.header + "\n1704067200,1,2,0.5,\(bad),10\n"
            #expect(Self.error(text)?.line == 2, "'\(bad)' was accepted")
        }
        #expect(Self.error(Self.header + "\n1704067200,1,2,0.5,1e400,10\n")?.reason == .notFinite("1e400"))
    }

    @Test
    func highBelowLowIsRejected() {
        let error = Self.error(Self.header + "\n1704067200,1,0.5,2,1,10\n")
        #expect(error == IndicatorCSVError(line: 2, column: 3, reason: .highBelowLow(high: 0.5, low: 2)))
        #expect(error?.description == "line 2, column 3 (high): high 0.5 is below low 2.0")
    }

    @Test
    func openOrCloseOutsideTheBarAndNegativeVolumeAreRejected() {
        #expect(Self.error(Self.header + "\n1704067200,3,2,0.5,1,10\n")
            == IndicatorCSVError(line: 2, column: 2, reason: .outsideRange(field: "open", value: 3, low: 0.5, high: 2)))
        #expect(Self.error(Self.header + "\n1704067200,1,2,0.5,0.4,10\n")
            == IndicatorCSVError(line: 2, column: 5, reason: .outsideRange(field: "close", value: 0.4, low: 0.5, high: 2)))
        let volume = Self.error(Self.header + "\n1704067200,1,2,0.5,1,-3\n")
        #expect(volume == IndicatorCSVError(line: 2, column: 6, reason: .negativeVolume(-3)))
        #expect(volume?.description == "line 2, column 6 (volume): volume -3.0 is negative")
    }

    @Test
    func badOrBackwardTimestampsAreRejected() {
        for bad in ["yesterday", "2024-02-30T00:00:00Z", "2024-01-01T25:00:00Z", "1.5", "2024-01-01T00:00:00.1234567891Z",
                    "99999999999999999999"] {
            let error = Self.error(Self.header + "\n\(bad),1,2,0.5,1,10\n")
            #expect(error == IndicatorCSVError(line: 2, column: 1, reason: .badTimestamp(bad)), "'\(bad)'")
        }
        let backwards = Self.error(Self.header + "\n1704067260,1,2,0.5,1,10\n1704067200,1,2,0.5,1,10\n")
        #expect(backwards == IndicatorCSVError(line: 3, column: 1,
                                               reason: .timestampBeforePrevious("1704067200", previous: "1704067260")))
        #expect(backwards?.description.hasPrefix("line 3, column 1 (timestamp): timestamp '1704067200' is before") == true)
    }
}
