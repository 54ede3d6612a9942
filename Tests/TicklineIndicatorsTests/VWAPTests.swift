import Testing
import TicklineIndicators

/// VWAP against its direct formula: Σ(typical × volume) / Σ volume over the bars of the
/// current session, typical = (high + low + close) / 3.
struct VWAPTests {
    static let minuteNs: Int64 = 60_000_000_000
    static let dayNs = VWAPSession.nanosPerDay

    /// The direct formula over bars[sessionStart...index] for every index, where a session
    /// starts whenever `sessionOf` changes.
    static func direct(_ bars: [OHLCVBar], sessionOf: (Int64) -> Int64) -> [Double] {
        var result: [Double] = []
        var start = 0
        for index in bars.indices {
            if index > 0 && sessionOf(bars[index].timestampNs) != sessionOf(bars[index - 1].timestampNs) { start = index }
            let session = bars[start...index]
            let priceVolume = session.reduce(0.0) { $0 + ($1.high + $1.low + $1.close) / 3 * $1.volume }
            let volume = session.reduce(0.0) { $0 + $1.volume }
            result.append(volume > 0 ? priceVolume / volume : .nan)
        }
        return result
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func expectClose(_ ours: [Double], _ expected: [Double], _ what: String) {
        for (index, (a, b)) in zip(ours, expected).enumerated() {
            if a.isNaN || b.isNaN {
                #expect(a.isNaN == b.isNaN, "\(what)[\(index)]: \(a) vs \(b)")
            } else if abs(a - b) > 1e-12 * abs(b) {
                Issue.record("\(what)[\(index)]: \(a) vs direct \(b)")
                return
            }
        }
    }

    @Test
    func vwapMatchesTheDirectFormulaAndResetsAtEachUTCMidnight() {
        // 7-minute bars from 22:00 UTC over ~3 days.
        let series = TestSeries.walk(name: "vwap", count: 700, start: 100, volatility: 0.01, seed: 11, stepNs: 7 * Self.minuteNs)
        var vwap = VolumeWeightedAveragePrice()
        var ours: [Double] = []
        var resets = 0
        var previousVolume = 0.0
        for bar in series.bars {
            vwap.update(bar)
            if vwap.sessionVolume < previousVolume { resets += 1 }
            previousVolume = vwap.sessionVolume
            ours.append(vwap.value)
        }
        Self.expectClose(ours, Self.direct(series.bars) { Self.floorDiv($0, Self.dayNs) }, "VWAP utcDay")
        #expect(resets >= 3)
    }

    @Test
    func vwapResetsExactlyAtMidnight() {
        let midnight: Int64 = 19_723 * Self.dayNs  // 2024-01-01T00:00:00Z
        var vwap = VolumeWeightedAveragePrice()
        vwap.update(timestampNs: midnight - 1, high: 11, low: 9, close: 10, volume: 5)
        vwap.update(timestampNs: midnight - 1, high: 21, low: 19, close: 20, volume: 5)
        #expect(vwap.value == 15)
        vwap.update(timestampNs: midnight, high: 31, low: 29, close: 30, volume: 1)
        #expect(vwap.value == 30)
        #expect(vwap.sessionVolume == 1)
    }

    @Test
    func vwapSessionsCanBeFixedOrNever() {
        let series = TestSeries.walk(name: "vwap", count: 500, start: 100, volatility: 0.01, seed: 12, stepNs: 13 * Self.minuteNs)
        let length: Int64 = 6 * 3_600_000_000_000
        let offset: Int64 = 13 * 3_600_000_000_000 + 30 * Self.minuteNs
        var fixed = VolumeWeightedAveragePrice(session: .fixed(lengthNs: length, offsetNs: offset))
        var never = VolumeWeightedAveragePrice(session: .never)
        var fixedValues: [Double] = []
        var neverValues: [Double] = []
        for bar in series.bars {
            fixed.update(bar)
            never.update(bar)
            fixedValues.append(fixed.value)
            neverValues.append(never.value)
        }
        Self.expectClose(fixedValues, Self.direct(series.bars) { Self.floorDiv($0 - offset, length) }, "VWAP fixed")
        Self.expectClose(neverValues, Self.direct(series.bars) { _ in 0 }, "VWAP never")
    }

    @Test
    func vwapHandlesTimestampsBefore1970() {
        var vwap = VolumeWeightedAveragePrice()
        vwap.update(timestampNs: -Self.dayNs - 1, high: 2, low: 2, close: 2, volume: 1)  // 1969-12-30
        vwap.update(timestampNs: -Self.dayNs, high: 4, low: 4, close: 4, volume: 1)      // 1969-12-31 00:00
        #expect(vwap.value == 4)
        vwap.update(timestampNs: -1, high: 6, low: 6, close: 6, volume: 1)               // still 12-31
        #expect(vwap.value == 5)
        vwap.update(timestampNs: 0, high: 8, low: 8, close: 8, volume: 1)                // 1970-01-01
        #expect(vwap.value == 8)
    }

    @Test
    func vwapIsNotReadyWithoutVolume() {
        var vwap = VolumeWeightedAveragePrice()
        vwap.update(timestampNs: 0, high: 2, low: 1, close: 1.5, volume: 0)
        #expect(!vwap.isReady && vwap.value.isNaN)
        vwap.update(timestampNs: 1, high: 2, low: 1, close: 1.5, volume: 3)
        #expect(vwap.isReady && vwap.value == 1.5)
    }

    @Test
    func vwapStartsANewSessionWhenTimeGoesBackADay() {
        var vwap = VolumeWeightedAveragePrice()
        vwap.update(timestampNs: 2 * Self.dayNs, high: 10, low: 10, close: 10, volume: 1)
        vwap.update(timestampNs: Self.dayNs, high: 20, low: 20, close: 20, volume: 1)
        #expect(vwap.value == 20)
    }
}
