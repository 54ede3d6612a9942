import Foundation
import Testing
import TicklineConfig
import TicklineCore
@testable import TicklineEngine
import TicklineFeed
import TicklineMarketData
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

/// Replay of USD-M futures lines, with no flag or config naming the venue's rules.
@Suite struct FuturesReplayTests {
    @Test func replaySyncsAFuturesBookWithoutBeingTold() throws {
        // Ids jump between diffs and `pu` chains them; the diff that ends at the snapshot's
        // lastUpdateId is the first event after it.
        let lines = """
            1000000000 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":90,"u":99,"pu":85,"b":[],"a":[]}}
            1100000000 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":2,"T":2,"s":"BTCUSDT","U":103,"u":110,"pu":99,"b":[["10.00","2"]],"a":[]}}
            1200000000 {"lastUpdateId":110,"E":3,"T":3,"bids":[["10.00","2"],["9.00","1"]],"asks":[["11.00","1"]]}
            1300000000 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":110,"E":4,"T":4,"s":"BTCUSDT","b":"10.00","B":"2","a":"11.00","A":"1"}}
            1400000000 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":5,"T":5,"s":"BTCUSDT","U":114,"u":120,"pu":110,"b":[["10.00","3"]],"a":[]}}
            1500000000 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":6,"T":6,"s":"BTCUSDT","U":125,"u":130,"pu":120,"b":[],"a":[["11.00","2"]]}}

            """
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                      positionLimitUnits: 25_000_000)
        let engine = try ReplayEngine(symbols: ["BTCUSDT"], config: EngineConfig(), fallbackSpec: spec)
        let r = engine.run(Array(lines.utf8))
        #expect(r.messages == 6 && r.decodeErrors == 0 && r.depthGaps == 0)
        // The snapshot's top, the quote, and the two diffs after it.
        #expect(r.events == 4)
        let book = (engine.feed.processor as! BinanceFeedProcessor).books[0]
        #expect(book.rules == .futures && book.state == .synced && book.lastUpdateId == 130)
        #expect(book.counters.gaps == 0 && book.counters.snapshotsSynced == 1 && book.counters.appliedDiffs == 3)
        #expect(book.bids.best == BookLevel(price: Price(units: 1_000), quantity: Quantity(units: 300_000_000)))
        #expect(book.asks.best == BookLevel(price: Price(units: 1_100), quantity: Quantity(units: 200_000_000)))
    }
}
