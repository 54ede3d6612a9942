import Foundation
import Testing
import TicklineCore
import TicklineTestSupport
@testable import TicklineMarketData

// MARK: - Helpers

/// Where the real packets live: `<package root>/../shared/data/kite_ticker`.
enum KiteFixtures {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/kite_ticker")
    static var present: Bool { FileManager.default.fileExists(atPath: directory.appendingPathComponent("fullMode_binary.packet").path) }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// TICKLINE_PYTHON, else `<package root>/.venv/bin/python`.
    static var python: String? {
        if let path = ProcessInfo.processInfo.environment["TICKLINE_PYTHON"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        let venv = packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }
    static var pythonRequired: Bool { ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1" }
}

extension Trait where Self == ConditionTrait {
    static var needsKitePackets: Self {
        .enabled(if: KiteFixtures.present, "Kite packets skipped: ../shared/data/kite_ticker is absent")
    }
    static var needsKitePython: Self {
        .enabled(if: KiteFixtures.present && (KiteFixtures.python != nil || KiteFixtures.pythonRequired),
                 "Kite struct.unpack reference skipped: no packets, or no TICKLINE_PYTHON / <repo>/.venv/bin/python")
    }
}

/// Builds Kite messages big-endian by hand: an encoder independent of the decoder under test.
struct KiteMessageBuilder {
    var packets: [[UInt8]] = []

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    mutating func add(words: [UInt32], tail: [UInt8] = []) {
        packets.append(words.flatMap(Self.be32) + tail)
    }

    func message(countOverride: Int? = nil) -> [UInt8] {
        var out = Self.be16(UInt16(countOverride ?? packets.count))
        for p in packets { out += Self.be16(UInt16(p.count)) + p }
        return out
    }

    /// 120 bytes of depth: `levels` (quantity, price, orders), padded to 10 entries.
    static func depth(_ levels: [(UInt32, UInt32, UInt16)]) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<10 {
            let (q, p, o) = i < levels.count ? levels[i] : (0, 0, 0)
            out += be32(q) + be32(p) + be16(o) + [0, 0]
        }
        return out
    }
}

func decode(_ bytes: [UInt8], capacity: Int = 16, decoder: inout KiteTickerDecoder) -> (KiteBinaryOutcome, KiteTickBuffer) {
    var buffer = KiteTickBuffer(capacity: capacity)
    let outcome = decoder.decodeBinary(bytes.span, into: &buffer)
    return (outcome, buffer)
}

// MARK: - Real packets

@Suite struct KiteRealPacketTests {
    @Test func decodesLtpVectorFromSpecs() {
        // The documented LTP packet: 00 01 | 00 08 | 00 0d 80 01 | 00 00 99 7f → token 884737, 392.95.
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode([0x00, 0x01, 0x00, 0x08, 0x00, 0x0D, 0x80, 0x01, 0x00, 0x00, 0x99, 0x7F], decoder: &decoder)
        #expect(outcome == .decoded(decoded: 1, skipped: 0))
        #expect(ticks.count == 1)
        #expect(ticks[0].kind == .ltp)
        #expect(ticks[0].instrumentToken == 884_737)
        #expect(ticks[0].lastPrice == 39_295)
        #expect(ticks[0].priceDecimals == 2)
        #expect(decoder.counters.packets(.ltp) == 1)
    }

    @Test(.needsKitePackets) func filesHoldWholeMessagesWithHeader() throws {
        // 2-byte count, 2-byte length, then exactly one packet of that length.
        for (name, length) in [("ltpMode_binary.packet", 8), ("quoteMode_binary.packet", 44), ("fullMode_binary.packet", 184)] {
            let bytes = try KiteFixtures.bytes(name)
            #expect(bytes.count == 4 + length, "\(name)")
            #expect(bytes[0] == 0 && bytes[1] == 1, "\(name): one packet")
            #expect(Int(bytes[2]) << 8 | Int(bytes[3]) == length, "\(name)")
        }
    }

    /// Expected values read off `xxd` of the files (TATAMOTORS, 2022-06-16); the OHLC also
    /// appears in SPECS.md's test-vector index (420.00/420.90/390.10/414.10).
    @Test(.needsKitePackets) func decodesRealQuoteAndFullPackets() throws {
        var decoder = KiteTickerDecoder()
        let (quoteOutcome, quote) = decode(try KiteFixtures.bytes("quoteMode_binary.packet"), decoder: &decoder)
        #expect(quoteOutcome == .decoded(decoded: 1, skipped: 0))
        let q = quote[0]
        #expect(q.kind == .quote)
        #expect(q.instrumentToken == 884_737)  // 0x000d8001, segment 1 (NSE)
        #expect(q.segment == 1 && q.isTradable)
        #expect(q.lastPrice == 39_295)  // 0x997f
        #expect(q.lastQuantity == 2)
        #expect(q.averagePrice == 40_307)  // 0x9d73 → 403.07
        #expect(q.volumeTraded == 22_261_032)  // 0x0153ad28
        #expect(q.totalBuyQuantity == 5_617)  // 0x15f1
        #expect(q.totalSellQuantity == 0)
        #expect([q.open, q.high, q.low, q.close] == [42_000, 42_090, 39_010, 41_410])
        #expect(q.lastTradeTime == 0 && q.exchangeTime == 0 && q.bidLevels == 0)

        let (fullOutcome, full) = decode(try KiteFixtures.bytes("fullMode_binary.packet"), decoder: &decoder)
        #expect(fullOutcome == .decoded(decoded: 1, skipped: 0))
        let f = full[0]
        #expect(f.kind == .full)
        #expect(f.instrumentToken == 884_737 && f.lastPrice == 39_295 && f.volumeTraded == 22_261_032)
        #expect([f.open, f.high, f.low, f.close] == [42_000, 42_090, 39_010, 41_410])
        #expect(f.lastTradeTime == 1_655_375_264)  // 0x62ab05a0 = 2022-06-16 10:27:44 UTC
        #expect(f.exchangeTime == 1_655_378_328)  // 0x62ab1198
        #expect(f.openInterest == 0 && f.openInterestDayHigh == 0 && f.openInterestDayLow == 0)
        // One bid (5617 @ 392.95, 30 orders); the ask side is all zeros (an upper-circuit book).
        #expect(f.bidLevels == 1 && f.askLevels == 0)
        #expect(f.bids[0] == KiteDepthLevel(quantity: 5_617, price: 39_295, orders: 30))
        #expect(f.bids[1] == KiteDepthLevel())
        #expect(f.asks[0] == KiteDepthLevel())

        let (ltpOutcome, ltp) = decode(try KiteFixtures.bytes("ltpMode_binary.packet"), decoder: &decoder)
        #expect(ltpOutcome == .decoded(decoded: 1, skipped: 0))
        #expect(ltp[0].kind == .ltp && ltp[0].lastPrice == 39_295 && ltp[0].volumeTraded == 0)
        #expect(decoder.counters.packets(.quote) == 1 && decoder.counters.packets(.full) == 1 && decoder.counters.packets(.ltp) == 1)
        #expect(decoder.counters.binaryMessages == 3)
    }

    /// Every field of every packet file against Python's `struct.unpack` (an independent parser).
    @Test(.needsKitePython) func agreesWithPythonStructUnpack() throws {
        guard let python = KiteFixtures.python else {
            throw KiteReferenceMissing(description: "TICKLINE_REQUIRE_REFERENCES=1 but no python (set TICKLINE_PYTHON or run Tools/python-env)")
        }
        let script = """
        import json, struct, sys
        out = {}
        for path in sys.argv[1:]:
            b = open(path, 'rb').read()
            n, = struct.unpack('>H', b[:2])
            ticks, off = [], 2
            for _ in range(n):
                ln, = struct.unpack('>H', b[off:off+2]); off += 2
                p = b[off:off+ln]; off += ln
                w = list(struct.unpack('>%dI' % min(ln // 4, 16), p[:min(ln, 64)]))
                depth = [list(struct.unpack('>IIH', p[64+12*i:74+12*i])) for i in range(10)] if ln == 184 else []
                ticks.append({'len': ln, 'words': w, 'depth': depth})
            out[path.rsplit('/', 1)[-1]] = ticks
        print(json.dumps(out))
        """
        let names = ["ltpMode_binary.packet", "quoteMode_binary.packet", "fullMode_binary.packet"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + names.map { KiteFixtures.directory.appendingPathComponent($0).path }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]])

        var decoder = KiteTickerDecoder()
        for name in names {
            let (outcome, ticks) = decode(try KiteFixtures.bytes(name), decoder: &decoder)
            let expected = try #require(reference[name])
            #expect(outcome == .decoded(decoded: expected.count, skipped: 0), "\(name)")
            for (i, packet) in expected.enumerated() {
                let words = (packet["words"] as? [Int] ?? []).map(Int64.init)
                let t = ticks[i]
                // Wire order of the equity fields.
                let ours: [Int64] = [Int64(t.instrumentToken), t.lastPrice, t.lastQuantity, t.averagePrice, t.volumeTraded,
                                     t.totalBuyQuantity, t.totalSellQuantity, t.open, t.high, t.low, t.close,
                                     t.lastTradeTime, t.openInterest, t.openInterestDayHigh, t.openInterestDayLow, t.exchangeTime]
                #expect(Array(ours.prefix(words.count)) == words, "\(name) packet \(i)")
                let depth = packet["depth"] as? [[Int]] ?? []
                for (level, entry) in depth.enumerated() {
                    let d = level < 5 ? t.bids[level] : t.asks[level - 5]
                    #expect([Int(d.quantity), Int(d.price), Int(d.orders)] == entry, "\(name) depth \(level)")
                }
            }
        }
    }

    @Test(.needsKitePackets) func realFullPacketBecomesTradeQuoteAndDepth() throws {
        var decoder = KiteTickerDecoder()
        var events = KiteEventBuffer(maxTicks: 4, lookup: KiteTokenAsInstrument())
        events.stamps = KiteMessageStamps(receiveWallNs: 11, socketReadNs: 22, decodedNs: 33)
        let bytes = try KiteFixtures.bytes("fullMode_binary.packet")
        #expect(decoder.decodeBinary(bytes.span, into: &events) == .decoded(decoded: 1, skipped: 0))
        #expect(events.eventCount == 2 && events.depthCount == 1)

        let trade = events.event(0)
        #expect(trade.kind == .trade)
        #expect(trade.instrument == 884_737)
        #expect(trade.price == Price(units: 39_295) && trade.priceDecimals == 2)
        #expect(trade.quantity == Quantity(units: 2) && trade.quantityDecimals == 0)
        #expect(trade.venueSequence == 22_261_032)
        #expect(trade.venueTimeNs == WallNanos(1_655_375_264 * 1_000_000_000))
        #expect(trade.receiveWallNs == 11 && trade.timestamps.socketReadNs == 22 && trade.timestamps.decodedNs == 33)
        #expect(trade.price.doubleValue(decimals: trade.priceDecimals) == 392.95)

        let quote = events.event(1)
        #expect(quote.kind == .quote)
        #expect(quote.bidPrice == Price(units: 39_295) && quote.bidQuantity == Quantity(units: 5_617))
        #expect(quote.askPrice == .zero && quote.askQuantity == .zero)
        #expect(quote.venueTimeNs == WallNanos(1_655_378_328 * 1_000_000_000))

        let depth = events.depth(0)
        #expect(depth.instrument == 884_737 && depth.bidLevels == 1 && depth.askLevels == 0)
        #expect(depth.bids[0] == BookLevel(price: Price(units: 39_295), quantity: Quantity(units: 5_617)))
        #expect(depth.priceDecimals == 2 && depth.socketReadNs == 22)
    }
}

struct KiteReferenceMissing: Error, CustomStringConvertible { let description: String }

// MARK: - Synthetic messages: every packet kind, scales, and the index field order

@Suite struct KiteSyntheticTests {
    @Test func decodesEveryPacketKindInOneMessage() {
        var builder = KiteMessageBuilder()
        builder.add(words: [0x0000_0103, 1_234_567])  // LTP, CDS (segment 3): 7 decimals
        builder.add(words: [0x0001_0009, 2_500_000, 2_510_000, 2_480_000, 2_490_000, 2_495_000, UInt32(bitPattern: -5_000)])  // index quote
        builder.add(words: [0x0001_0109, 100, 130, 90, 110, 105, 5, 1_700_000_000])  // index full
        builder.add(words: [0x0000_0206, 50_000, 10, 49_990, 777, 1, 2, 49_000, 51_000, 48_000, 49_500])  // quote, BCD (6): 4 decimals
        builder.add(
            words: [0x0000_0502, 20_000, 3, 19_990, 9_999, 100, 200, 19_000, 21_000, 18_500, 19_800, 1_700_000_001, 4, 6, 2, 1_700_000_002],
            tail: KiteMessageBuilder.depth([(10, 19_995, 1), (20, 19_990, 2), (30, 19_985, 3), (0, 0, 0), (0, 0, 0),
                                            (11, 20_000, 4), (22, 20_005, 5), (33, 20_010, 6), (44, 20_015, 7), (55, 20_020, 8)]))
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode(builder.message(), decoder: &decoder)
        #expect(outcome == .decoded(decoded: 5, skipped: 0))

        #expect(ticks[0].kind == .ltp && ticks[0].priceDecimals == 7 && ticks[0].lastPrice == 1_234_567)

        let iq = ticks[1]
        #expect(iq.kind == .indexQuote && !iq.isTradable && iq.priceDecimals == 2)
        // Wire order high, low, open, close.
        #expect(iq.high == 2_510_000 && iq.low == 2_480_000 && iq.open == 2_490_000 && iq.close == 2_495_000)
        #expect(iq.indexChange == -5_000)
        #expect(iq.exchangeTime == 0)

        let ifull = ticks[2]
        #expect(ifull.kind == .indexFull && ifull.exchangeTime == 1_700_000_000 && ifull.indexChange == 5)

        let q = ticks[3]
        #expect(q.kind == .quote && q.priceDecimals == 4 && q.volumeTraded == 777 && q.close == 49_500)

        let f = ticks[4]
        #expect(f.kind == .full && f.segment == 2)
        #expect(f.openInterest == 4 && f.openInterestDayHigh == 6 && f.openInterestDayLow == 2)
        #expect(f.bidLevels == 3 && f.askLevels == 5)
        #expect(f.bids[2] == KiteDepthLevel(quantity: 30, price: 19_985, orders: 3))
        #expect(f.asks[4] == KiteDepthLevel(quantity: 55, price: 20_020, orders: 8))
        for kind in KitePacketKind.allCases { #expect(decoder.counters.packets(kind) == 1, "\(kind)") }
    }

    @Test func largestWireValuesStayPositive() {
        var builder = KiteMessageBuilder()
        builder.add(words: [0xFFFF_FF01, 0xFFFF_FFFF])
        var decoder = KiteTickerDecoder()
        let (_, ticks) = decode(builder.message(), decoder: &decoder)
        #expect(ticks[0].instrumentToken == 0xFFFF_FF01 && ticks[0].lastPrice == 4_294_967_295)
    }

    @Test func emptyMessageDecodesNothing() {
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode([0, 0], decoder: &decoder)
        #expect(outcome == .decoded(decoded: 0, skipped: 0) && ticks.count == 0)
    }
}

// MARK: - Malformed input: each case is a counted reason

@Suite struct KiteMalformedTests {
    static func twoLtp() -> KiteMessageBuilder {
        var b = KiteMessageBuilder()
        b.add(words: [0x0000_0101, 100])
        b.add(words: [0x0000_0201, 200])
        return b
    }

    @Test func shortMessagesAreHeartbeats() {
        var decoder = KiteTickerDecoder()
        #expect(decode([], decoder: &decoder).0 == .heartbeat)
        #expect(decode([0x7F], decoder: &decoder).0 == .heartbeat)
        #expect(decoder.counters.heartbeats == 2 && decoder.counters.binaryMessages == 2)
    }

    @Test func countLargerThanPacketsIsRejectedWhole() {
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode(Self.twoLtp().message(countOverride: 3), decoder: &decoder)
        #expect(outcome == .rejected(.truncatedPacketHeader))
        #expect(ticks.count == 0)
        #expect(decoder.counters.errors(.truncatedPacketHeader) == 1)
        #expect(decoder.counters.packets(.ltp) == 0)
    }

    @Test func countSmallerThanPacketsIsRejectedWhole() {
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode(Self.twoLtp().message(countOverride: 1), decoder: &decoder)
        #expect(outcome == .rejected(.trailingBytes) && ticks.count == 0)
        #expect(decoder.counters.errors(.trailingBytes) == 1)
    }

    @Test func packetRunningPastTheEndIsRejected() {
        var decoder = KiteTickerDecoder()
        var bytes = Self.twoLtp().message()
        bytes.removeLast()
        #expect(decode(bytes, decoder: &decoder).0 == .rejected(.packetOverrunsMessage))
        // A length field claiming more than the message holds.
        var lying = Self.twoLtp().message()
        lying[2] = 0x01
        #expect(decode(lying, decoder: &decoder).0 == .rejected(.packetOverrunsMessage))
        #expect(decoder.counters.errors(.packetOverrunsMessage) == 2)
    }

    @Test func unknownPacketLengthIsSkippedAndTheRestKept() {
        var b = KiteMessageBuilder()
        b.add(words: [0x0000_0101, 100])
        b.packets.append([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])  // 12 bytes: no such kind
        b.add(words: [0x0000_0201, 200])
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode(b.message(), decoder: &decoder)
        #expect(outcome == .decoded(decoded: 2, skipped: 1))
        #expect(ticks.count == 2 && ticks[1].lastPrice == 200)
        #expect(decoder.counters.errors(.unknownPacketLength) == 1)
    }

    @Test func tooSmallStorageRejectsTheWholeMessage() {
        var decoder = KiteTickerDecoder()
        let (outcome, ticks) = decode(Self.twoLtp().message(), capacity: 1, decoder: &decoder)
        #expect(outcome == .rejected(.storageFull) && ticks.count == 0)
        #expect(decoder.counters.errors(.storageFull) == 1)
    }

    struct OnlyToken257: KiteInstrumentLookup {
        func instrument(forToken token: UInt32) -> InstrumentId? { token == 257 ? 7 : nil }
    }

    @Test func unknownInstrumentIsSkippedAndCounted() {
        var decoder = KiteTickerDecoder()
        var events = KiteEventBuffer(maxTicks: 4, lookup: OnlyToken257())
        let bytes = Self.twoLtp().message()
        #expect(decoder.decodeBinary(bytes.span, into: &events) == .decoded(decoded: 1, skipped: 1))
        #expect(events.eventCount == 1 && events.event(0).instrument == 7 && events.event(0).price == Price(units: 100))
        #expect(decoder.counters.errors(.unknownInstrument) == 1)
    }
}

// MARK: - Text frames

@Suite struct KiteTextTests {
    func classify(_ text: String, decoder: inout KiteTickerDecoder) -> (KiteTextMessage, String) {
        let bytes = Array(text.utf8)
        let result = decoder.classifyText(bytes.span)
        let clamped = result.dataRange.clamped(to: 0..<bytes.count)
        return (result, String(decoding: bytes[clamped], as: UTF8.self))
    }

    @Test func classifiesPostbacksErrorsAndMessages() {
        var decoder = KiteTickerDecoder()
        let order = #"{"type":"order","data":{"order_id":"220616000123","status":"COMPLETE","tag":"a\"}b","filled_quantity":1,"average_price":392.95}}"#
        let (o, oData) = classify(order, decoder: &decoder)
        #expect(o.kind == .order)
        #expect(oData.hasPrefix(#"{"order_id""#) && oData.hasSuffix("392.95}"))

        let (e, eData) = classify(#" { "data" : "Invalid access token" , "type" : "error" } "#, decoder: &decoder)
        #expect(e.kind == .error && eData == #""Invalid access token""#)

        #expect(classify(#"{"type":"message","data":"Market closes early"}"#, decoder: &decoder).0.kind == .message)
        #expect(classify(#"{"type":"instruments_meta","data":{"count":1}}"#, decoder: &decoder).0.kind == .unknownType)
        #expect(classify(#"{"data":[1,2,{"x":"]"}]}"#, decoder: &decoder).0.kind == .unknownType)
        #expect(classify("{}", decoder: &decoder).0.kind == .unknownType)
        #expect(classify(#"{"type":1}"#, decoder: &decoder).0.kind == .unknownType)

        for bad in ["", "   ", "[]", "{", #"{"type":"order""#, #"{"type" "order"}"#, #"{"type":"order",}"#,
                    #"{"type":"order"} x"#, #"{"data":{"a":1}"#, #"{"type":"ord"#, #"{type:"order"}"#, "\u{0}"] {
            #expect(classify(bad, decoder: &decoder).0.kind == .malformed, "\(bad.debugDescription)")
        }
        #expect(decoder.counters.texts(.order) == 1 && decoder.counters.texts(.error) == 1 && decoder.counters.texts(.message) == 1)
        #expect(decoder.counters.texts(.unknownType) == 4 && decoder.counters.texts(.malformed) == 12)
        #expect(decoder.counters.textMessages == 19)
    }
}

// MARK: - Fuzz

@Suite struct KiteFuzzTests {
    /// 200,000 seeded mutations of valid messages and text frames: every input ends in a
    /// counted outcome, written ticks stay within the packet count and the storage, nothing traps.
    @Test func survivesRandomMutations() throws {
        var rng = SeededGenerator(seed: 0x4B17E)
        var seeds: [[UInt8]] = []
        if KiteFixtures.present {
            for name in ["ltpMode_binary.packet", "quoteMode_binary.packet", "fullMode_binary.packet"] {
                seeds.append(try KiteFixtures.bytes(name))
            }
        }
        var builder = KiteMessageBuilder()
        builder.add(words: [0x0000_0103, 1])
        builder.add(words: [0x0001_0009, 1, 2, 3, 4, 5, 6])
        builder.add(words: [0x0001_0109, 1, 2, 3, 4, 5, 6, 7])
        builder.add(words: Array(repeating: 9, count: 11))
        builder.add(words: Array(repeating: 7, count: 16), tail: KiteMessageBuilder.depth([(1, 2, 3)]))
        seeds.append(builder.message())
        let texts = [#"{"type":"order","data":{"order_id":"1","x":[1,{"y":"}"}]}}"#, #"{"type":"error","data":"bad \"token\""}"#]

        var decoder = KiteTickerDecoder()
        var ticks = KiteTickBuffer(capacity: 8)
        var events = KiteEventBuffer(maxTicks: 8, lookup: KiteTokenAsInstrument())
        let iterations = 200_000
        var decodedTotal = 0
        var rejectedTotal = 0
        for iteration in 0..<iterations {
            let useText = iteration % 10 == 9
            var bytes = useText ? Array(texts[Int(rng.next() % 2)].utf8) : seeds[Int(rng.next() % UInt64(seeds.count))]
            let mutations = 1 + Int(rng.next() % 4)
            for _ in 0..<mutations { Self.mutate(&bytes, &rng) }

            if useText {
                let result = decoder.classifyText(bytes.span)
                #expect(result.dataRange.upperBound <= bytes.count)
                continue
            }
            ticks.removeAll()
            events.removeAll()
            let packetCount = bytes.count >= 2 ? Int(bytes[0]) << 8 | Int(bytes[1]) : 0
            let outcome = iteration % 2 == 0
                ? decoder.decodeBinary(bytes.span, into: &ticks)
                : decoder.decodeBinary(bytes.span, into: &events)
            switch outcome {
            case .heartbeat:
                #expect(bytes.count < 2)
            case let .decoded(decoded, skipped):
                #expect(decoded + skipped == packetCount)
                #expect(ticks.count == (iteration % 2 == 0 ? decoded : 0))
                decodedTotal += decoded
            case .rejected:
                #expect(ticks.count == 0 && events.eventCount == 0)
                rejectedTotal += 1
            }
        }
        let c = decoder.counters
        #expect(c.binaryMessages + c.textMessages == UInt64(iterations))
        #expect(c.textMessages == UInt64(iterations / 10))
        // Both paths were exercised, so the test can fail either way.
        #expect(decodedTotal > 0 && rejectedTotal > 0)
        let packetSum = KitePacketKind.allCases.reduce(UInt64(0)) { $0 + c.packets($1) }
        #expect(packetSum == UInt64(decodedTotal))
    }

    static func mutate(_ bytes: inout [UInt8], _ rng: inout SeededGenerator) {
        let n = bytes.count
        switch rng.next() % 7 {
        case 0 where n > 0:  // flip a bit
            let i = Int(rng.next() % UInt64(n))
            bytes[i] ^= UInt8(1) << UInt8(rng.next() % 8)
        case 1 where n > 0:  // random byte
            bytes[Int(rng.next() % UInt64(n))] = UInt8(truncatingIfNeeded: rng.next())
        case 2 where n > 0:  // truncate
            bytes.removeLast(Int(rng.next() % UInt64(n)) + 1)
        case 3:  // insert bytes
            let at = n == 0 ? 0 : Int(rng.next() % UInt64(n + 1))
            let count = 1 + Int(rng.next() % 8)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case 4 where n >= 2:  // lie about the packet count
            bytes[0] = UInt8(truncatingIfNeeded: rng.next() % 3)
            bytes[1] = UInt8(truncatingIfNeeded: rng.next())
        case 5 where n >= 4:  // rewrite the first packet length
            let lengths: [UInt16] = [0, 8, 28, 32, 44, 184, 0xFFFF, UInt16(truncatingIfNeeded: rng.next())]
            let l = lengths[Int(rng.next() % UInt64(lengths.count))]
            bytes[2] = UInt8(l >> 8)
            bytes[3] = UInt8(l & 0xFF)
        default:  // delete one byte
            if n > 0 { bytes.remove(at: Int(rng.next() % UInt64(n))) }
        }
    }
}
