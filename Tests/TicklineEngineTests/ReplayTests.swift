import Foundation
import Testing
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineFeed
import TicklineRisk

/// `tickline replay`'s engine over the recorded BTCUSDT data: the live stages, one thread.
@Suite struct ReplayEngineTests {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/binance_spot_btcusdt")
    static var available: Bool { FileManager.default.fileExists(atPath: data.appendingPathComponent("btcusdt_20240808.gz").path) }

    static func recording() throws -> [UInt8] {
        try ["btcusdt_20240808.gz", "btcusdt_20240809.gz"].flatMap { try RecordingFile.load(data.appendingPathComponent($0).path) }
    }

    @Test(.enabled(if: ReplayEngineTests.available, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func tradesTheRecordedDayWithinItsLimitsAndAccountsForEveryDecision() throws {
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                      positionLimitUnits: 25_000_000)
        let engine = try ReplayEngine(symbols: ["BTCUSDT"], config: EngineConfig(), fallbackSpec: spec)
        var fractions: [Double] = []
        let r = engine.run(try Self.recording()) { fractions.append($0) }
        #expect(r.messages == 99_574)
        #expect(r.decodeErrors == 0 && r.depthGaps == 0)
        #expect(r.events > 90_000)
        #expect(r.signals > 0 && r.orders > 0 && r.fills > 0)
        // Every signal became an order or a denial (exits are orders risk made itself).
        #expect(r.orders - r.exits + r.denials >= r.signals)
        #expect(r.denialsByReason.values.reduce(0, +) == r.denials)
        #expect(r.maxAbsPosition["BTCUSDT"]! > 0 && r.maxAbsPosition["BTCUSDT"]! <= r.positionLimit["BTCUSDT"]!)
        #expect(r.positionLimit["BTCUSDT"] == 0.25)
        #expect(r.fees > 0 && abs(r.finalEquity - (r.startingEquity + r.realisedPnl + r.unrealisedPnl - r.fees)) < 0.01)
        #expect(r.maxDrawdown >= 0 && r.maxDrawdown < 0.1)
        #expect(fractions.last == 1 && fractions == fractions.sorted())
        #expect(r.equityCurve.count >= 10)  // one point per replayed minute
        // The view the demo and the control plane show, published at the end of the run.
        let v = try #require(engine.view.read())
        #expect(v.counters.orders == r.orders && v.counters.fills == r.fills && v.counters.denials == r.denials)
        #expect(v.recentSignals.count > 0 && v.recentTrades.count > 0)
        #expect(abs(Double(v.account.equityMoney) / Double(MoneyScale.one) - r.finalEquity) < 1e-9)
    }
}
