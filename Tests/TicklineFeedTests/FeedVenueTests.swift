#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineCore
import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRuntime

/// A venue that is not Binance, so the feed agent can only reach it through `FeedVenue`:
/// streams are `SYMBOL|suffix`, a request is `SUB a,b #id` (or `UNSUB`), and a message is
/// `T <table index> <price units> <quantity units>` (a trade) or `BYE` (the venue is closing).
struct PipeVenue: FeedVenue {
    var maxStreamsPerConnection: Int { 4 }
    var maxControlMessagesPerSecond: Int { 2 }
    func streamSymbol(_ symbol: String) -> [UInt8] { Array(symbol.utf8) }

    func appendStreamName(symbol: [UInt8], suffix: [UInt8], to out: inout [UInt8]) {
        out += symbol
        out.append(UInt8(ascii: "|"))
        out += suffix
    }

    func appendSubscriptionRequest(subscribe: Bool, count: Int, id: Int64, to out: inout [UInt8],
                                   stream: (Int, inout [UInt8]) -> Void) {
        out += Array((subscribe ? "SUB " : "UNSUB ").utf8)
        for k in 0..<count {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            stream(k, &out)
        }
        out += Array(" #\(id)".utf8)
    }

    func snapshotPath(symbol: String, limit: Int) -> String { "/book/\(symbol)" }
    func snapshotWeight(limit: Int) -> Int { 1 }
    func makeDecoder(instruments: InstrumentTable, config: FeedConfig) -> any FeedDecoder { PipeDecoder(instruments: instruments) }
}

final class PipeDecoder: FeedDecoder {
    let instruments: InstrumentTable
    var event = MarketEvent()
    var depth = DepthSnapshot()
    var instrumentIndex = -1
    var control = FeedControlMessage.reply
    var counters = ProcessCounters()
    var booksUnsynced: Int { 0 }

    init(instruments: InstrumentTable) { self.instruments = instruments }

    func process(_ bytes: UnsafeRawBufferPointer, receiveWallNs: WallNanos, timestamps: TimestampChain) -> ProcessOutcome {
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        if fields == ["BYE"] {
            control = .serverShutdown
            return .control
        }
        guard fields.count == 4, fields[0] == "T", let i = Int(fields[1]), i >= 0, i < instruments.count,
              let price = Int64(fields[2]), let quantity = Int64(fields[3]) else {
            counters.decodeErrors += 1
            return .decodeFailed
        }
        let entry = instruments.entry(at: i)
        instrumentIndex = i
        event = MarketEvent(instrument: entry.id, kind: .trade, priceDecimals: entry.priceDecimals, quantityDecimals: entry.quantityDecimals,
                            price: Price(units: price), quantity: Quantity(units: quantity), receiveWallNs: receiveWallNs,
                            timestamps: timestamps)
        return .marketEvent
    }

    func book(at index: Int) -> OrderBook? { nil }
    func awaitsSnapshot(_ index: Int) -> Bool { false }
    func invalidateBook(_ index: Int) {}
    func loadSnapshot(_ body: UnsafeRawBufferPointer, index: Int, receiveWallNs: WallNanos, timestamps: TimestampChain) -> SnapshotLoad {
        .malformed
    }
}

@Suite struct FeedVenueTests {
    @Test func binanceSubscriptionRequestsAndStreamNamesAreWhatTheVenueDocuments() {
        let names: [[UInt8]] = [Array("btcusdt@trade".utf8), Array("btcusdt@depth@100ms".utf8)]
        for (market, subscribe, id, expected) in [
            (BinanceMarket.spot, true, Int64(7), #"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth@100ms"],"id":7}"#),
            (BinanceMarket.usdmFutures, false, Int64(1_234_567_890_123), #"{"method":"UNSUBSCRIBE","params":["btcusdt@trade","btcusdt@depth@100ms"],"id":1234567890123}"#),
        ] {
            var out: [UInt8] = []
            market.appendSubscriptionRequest(subscribe: subscribe, count: 2, id: id, to: &out) { k, o in o += names[k] }
            #expect(String(decoding: out, as: UTF8.self) == expected)
        }
        var name: [UInt8] = []
        BinanceMarket.spot.appendStreamName(symbol: BinanceMarket.spot.streamSymbol("BTCUSDT"), suffix: Array("bookTicker".utf8), to: &name)
        #expect(String(decoding: name, as: UTF8.self) == "btcusdt@bookTicker")
        #expect(BinanceMarket.spot.snapshotPath(symbol: "btcusdt", limit: 100) == "/api/v3/depth?symbol=BTCUSDT&limit=100")
        #expect(BinanceMarket.usdmFutures.snapshotPath(symbol: "ETHUSDT", limit: 1_000) == "/fapi/v1/depth?symbol=ETHUSDT&limit=1000")
    }

    @Test func aFeedConfigIsCheckedAgainstItsVenuesLimits() {
        var config = FeedConfig()
        config.controlMessagesPerSecond = 6
        #expect(throws: FeedConfigError.invalid(field: "control_messages_per_second", value: "6", reason: "1…5 (the venue's limit is 5)")) {
            try config.validate()
        }
        config.market = .usdmFutures
        #expect(throws: Never.self) { try config.validate() }
        config.controlMessagesPerSecond = 11
        #expect(throws: FeedConfigError.self) { try config.validate() }
        config.controlMessagesPerSecond = 2
        config.streams = ["trade"]
        config.streamsPerConnection = 5
        #expect(throws: FeedConfigError.invalid(field: "streams_per_connection", value: "5",
                                                reason: "between the streams of one symbol (1) and 4 (the venue's limit)")) {
            try config.validate(venue: PipeVenue())
        }
    }

    @Test func theFeedAgentReachesAVenueOnlyThroughItsInterface() throws {
        let specs = [
            RingSpec.of(MarketEvent.self, name: "market", capacity: 1 << 8, overflow: .dropNewest),
            RingSpec.of(DepthSnapshot.self, name: "depth", capacity: 1 << 4, overflow: .dropNewest),
            RingSpec.of(MarketEvent.self, name: "journal.market", capacity: 1 << 8, overflow: .dropNewest),
        ]
        let region = try SharedRegion.create(instance: "pipevenue-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", rings: specs,
                                             options: RegionOptions(lockMemory: false, hugePages: false)).0
        region.unlink()
        var market = try region.consumer(of: MarketEvent.self, ring: "market")
        var config = FeedConfig()
        config.name = "pipe"
        config.symbols = [syntheticSymbol(0), syntheticSymbol(1)]
        config.streams = ["t"]
        config.streamsPerConnection = 4
        config.controlMessagesPerSecond = 2
        config.snapshotsOnStream = true
        let transport = RecordingTransport(maxMessageBytes: 1_024)
        let table = try syntheticTable(2)
        let agent = try FeedAgent(config: config, instruments: table, outlet: try FeedOutlet(region: region, venueCopies: false),
                                  transport: { _ in transport }, venue: PipeVenue())
        var clock = DutyCycleTime(simulatedNs: 1_700_000_000_000_000_000)
        for _ in 0..<8 where !transport.isOpen || transport.messagesFromFeed == 0 { _ = agent.doWork(now: clock) }
        // The subscription went out in the venue's own encoding.
        #expect(String(decoding: transport.lastMessageFromFeed, as: UTF8.self) == "SUB \(syntheticSymbol(0))|t,\(syntheticSymbol(1))|t #1")
        func play(_ line: String) {
            clock = clock.advanced(by: 1_000_000)
            var bytes = Array(line.utf8)
            let taken = bytes.withUnsafeMutableBytes { transport.deliver(UnsafeRawBufferPointer($0), receiveWallNs: clock.wall) }
            #expect(taken)
            _ = agent.doWork(now: clock)
        }
        play("T 1 123456 7")
        play("T 9 1 1")
        play("not a message")
        play("BYE")
        var events: [MarketEvent] = []
        _ = market.drain(limit: 1 << 8) { e, _ in events.append(e.pointee) }
        let trades = events.filter { $0.kind == .trade }
        #expect(trades.count == 1 && trades.first?.instrument == table.entry(at: 1).id && trades.first?.price.units == 123_456
                && trades.first?.quantity.units == 7)
        #expect(agent.counters.decodeErrors == 2 && agent.counters.serverShutdowns == 1 && agent.counters.marketEvents == 1)
    }
}
