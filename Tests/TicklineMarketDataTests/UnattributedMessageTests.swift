import Testing
import TicklineCore
@testable import TicklineMarketData

/// A message that names no symbol is attributed to an instrument only when its schema has no
/// symbol by design (a depth snapshot); anything else is a counted `noSymbol` error, also on a
/// one-instrument table, where the processor's fallback is that instrument.
@Suite struct UnattributedMessageTests {
    static let bareTrade = #"{"e":"trade","E":1,"t":7,"p":"1.00","q":"2.00000000","T":1,"m":true}"#
    static let bareBookTicker = #"{"u":400900217,"b":"25.35","B":"31.21000000","a":"25.36","A":"40.66000000"}"#
    static let bareDepth = #"{"e":"depthUpdate","E":1,"U":5,"u":6,"b":[["1.00","1.00000000"]],"a":[]}"#
    static let restSnapshot = #"{"lastUpdateId":10,"bids":[["1.00","1.00000000"]],"asks":[["1.10","1.00000000"]]}"#

    func process(_ processor: BinanceFeedProcessor, _ text: String) -> ProcessOutcome {
        let bytes = Array(text.utf8)
        return unsafe bytes.withUnsafeBytes { unsafe processor.process($0, receiveWallNs: 0, timestamps: TimestampChain()) }
    }

    @Test(arguments: [1, 2])
    func refusesStreamMessagesWithoutASymbolAndCountsThem(instruments: Int) {
        let table = TestData.table(Array([("BTCUSDT", UInt8(2), UInt8(8)), ("ETHUSDT", 2, 8)].prefix(instruments)))
        let processor = BinanceFeedProcessor(instruments: table)
        #expect(processor.fallbackInstrumentIndex == (instruments == 1 ? 0 : -1))
        for text in [Self.bareTrade, Self.bareBookTicker, Self.bareDepth] {
            #expect(process(processor, text) == .decodeFailed, "\(text)")
        }
        #expect(processor.decoder.counters[.noSymbol] == 3)
        #expect(processor.decoder.counters.totalErrors == 3)
        // Nothing reached a book.
        #expect(processor.books.allSatisfy { $0.counters.appliedDiffs == 0 })
    }

    @Test func aRestSnapshotStillTakesTheFallbackInstrument() {
        let processor = BinanceFeedProcessor(instruments: TestData.table())
        #expect(process(processor, Self.restSnapshot) == .snapshotLoaded)
        #expect(processor.message.instrumentIndex == 0 && processor.decoder.counters.totalErrors == 0)
        // On a table of two, nothing says whose it is: counted, not guessed.
        let two = BinanceFeedProcessor(instruments: TestData.table([("BTCUSDT", 2, 8), ("ETHUSDT", 2, 8)]))
        #expect(process(two, Self.restSnapshot) == .decodeFailed)
        #expect(two.decoder.counters[.noSymbol] == 1)
    }

    @Test func aStreamNameOutsideTheTableIsAnUnknownSymbolNotAMissingOne() {
        let processor = BinanceFeedProcessor(instruments: TestData.table())
        let wrapped = #"{"stream":"dogeusdt@depth5","data":{"lastUpdateId":10,"bids":[["1.00","1.00000000"]],"asks":[]}}"#
        #expect(process(processor, wrapped) == .decodeFailed)
        #expect(processor.decoder.counters[.unknownSymbol] == 1 && processor.decoder.counters[.noSymbol] == 0)
    }
}
