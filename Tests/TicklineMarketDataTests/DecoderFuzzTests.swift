import Testing
import TicklineCore
import TicklineTestSupport
@testable import TicklineMarketData

/// A long seeded randomized test: valid messages of every kind, mutated by byte flips,
/// truncations, insertions of JSON-significant bytes, deletions and duplicated slices, go
/// through the decoder and the books. Nothing may crash or hang, and every message must end
/// up either decoded or counted under one reason.
@Suite struct DecoderFuzzTests {
    static let corpus: [String] = [
        realTrade, realBookTicker, realDepth,
        #"{"e":"aggTrade","E":123456789,"s":"ETHUSDT","a":5933014,"p":"0.01","q":"100","f":100,"l":105,"T":123456785,"m":true,"M":true}"#,
        #"{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BTCUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}"#,
        #"{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.02","10"]],"a":[["0.03","1"]]}"#,
        #"{"data":{"lastUpdateId":160,"bids":[["0.01","1.5"]],"asks":[["0.02","2"]]},"stream":"ethusdt@depth5@100ms"}"#,
        #"{"lastUpdateId":1027024,"bids":[["4.00","431.00000000"],["3.99","1"]],"asks":[["4.01","12.00000000"]]}"#,
        #"{"result":null,"id":312}"#, #"{"result":["btcusdt@aggTrade"],"id":3}"#,
        #"{"code":2,"msg":"Invalid request: \"x\"","id":"a1"}"#,
        #"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1723161255343}}"#,
        #"{"p":"61837.63","q":"0.5","e":"trade","t":9,"m":false,"s":"BTC\u0055SDT","x":{"y":[1,{"z":"\ud83d\ude00"}]},"E":1.5e3}"#,
    ]
    static let significant: [UInt8] = Array(#"{}[]":,\"-.eE0123456789 tfnu"#.utf8) + [0x00, 0x0A, 0x1F, 0x80, 0xC3, 0xFF]

    @Test func survivesTwoHundredThousandMutatedMessages() {
        var rng = SeededGenerator(seed: 0x0F0F_2026)
        let table = TestData.table([("BTCUSDT", 2, 5), ("ETHUSDT", 2, 4)])
        let processor = BinanceFeedProcessor(instruments: table, bookCapacityPerSide: 16, pendingDiffs: 4, pendingLevels: 64,
                                             levelCapacity: 64)
        processor.fallbackInstrumentIndex = 0  // the REST snapshot names no symbol
        let corpus = Self.corpus.map { Array($0.utf8) }
        for text in corpus {
            let outcome = text.withUnsafeBytes { processor.process($0, receiveWallNs: 0, timestamps: TimestampChain()) }
            #expect(outcome != .decodeFailed, "\(String(decoding: text, as: UTF8.self))")
        }
        let iterations = 200_000
        var outcomes = [Int](repeating: 0, count: 16)
        for _ in 0..<iterations {
            var bytes = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 6 {
                case 0: if !bytes.isEmpty { bytes[at] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8)) }
                case 1: bytes.removeSubrange(at..<bytes.count)
                case 2: bytes.insert(Self.significant[Int(rng.next() % UInt64(Self.significant.count))], at: at)
                case 3: if !bytes.isEmpty { bytes.remove(at: at) }
                case 4:
                    let end = min(bytes.count, at + Int(rng.next() % 24))
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                default: if !bytes.isEmpty { bytes[at] = Self.significant[Int(rng.next() % UInt64(Self.significant.count))] }
                }
            }
            let outcome = bytes.withUnsafeBytes { processor.process($0, receiveWallNs: 0, timestamps: TimestampChain()) }
            outcomes[Int(outcome.rawValue)] += 1
        }
        let counters = processor.decoder.counters
        #expect(counters.decoded + counters.totalErrors == UInt64(iterations + corpus.count))
        // The decoder counts an unsupported event among its refusals; the processor tells it apart.
        let failed = outcomes[Int(ProcessOutcome.decodeFailed.rawValue)], unsupported = outcomes[Int(ProcessOutcome.unsupported.rawValue)]
        #expect(counters.totalErrors == UInt64(failed + unsupported) && counters[.unsupportedEvent] == UInt64(unsupported))
        #expect(processor.counters.decodeErrors == UInt64(failed) && processor.counters.unsupportedMessages == UInt64(unsupported))
        // The mutations must reach both sides: plenty decode, plenty fail, for several reasons.
        #expect(counters.decoded > 10_000 && counters.totalErrors > 100_000)
        #expect(BinanceDecodeError.allCases.filter { counters[$0] > 0 }.count >= 10)
    }
}
