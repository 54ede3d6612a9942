import Testing
import TicklineCore
import TicklineTestSupport
@testable import TicklineMarketData

/// Decodes `text`, returning the message or the error.
func decode(_ text: String, _ decoder: BinanceDecoder, fallback: Int32 = -1) -> (BinanceMessage, BinanceDecodeError?) {
    var message = BinanceMessage()
    let error = decoder.decode(Array(text.utf8), into: &message, fallbackInstrumentIndex: fallback)
    return (message, error)
}

func btcDecoder(levelCapacity: Int = 5_000) -> BinanceDecoder {
    BinanceDecoder(instruments: TestData.table([("BTCUSDT", 2, 5), ("ETHUSDT", 2, 4)]), levelCapacity: levelCapacity)
}

let realTrade = #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#
let realBookTicker = #"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#
let realDepth = #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"],["61862.50000000","0.05019000"],["61862.51000000","0.00000000"]]}}"#

@Suite struct BinanceDecoderTests {
    @Test func decodesRealCombinedTrade() {
        let d = btcDecoder()
        let (m, error) = decode(realTrade, d)
        #expect(error == nil)
        #expect(m.kind == .trade)
        #expect(m.instrument == 1)
        #expect(m.instrumentIndex == 0)
        #expect(m.tradeId == 3_735_683_259)
        #expect(m.price == Price(units: 6_183_763))
        #expect(m.quantity == Quantity(units: 2_000))
        #expect(m.buyerIsMaker)
        #expect(m.eventTime == 1_723_161_255_343)
        #expect(m.venueTimeNs == 1_723_161_255_342_000_000)
        let event = m.marketEvent(sequence: 7, receiveWallNs: 5, timestamps: TimestampChain(socketReadNs: 3))
        #expect(event?.kind == .trade)
        #expect(event?.flags == MarketEvent.flagAggressorSold)
        #expect(event?.price == Price(units: 6_183_763))
        #expect(event?.venueSequence == 3_735_683_259)
        #expect(event?.priceDecimals == 2 && event?.quantityDecimals == 5)
        #expect(d.counters.decoded == 1 && d.counters.totalErrors == 0)
    }

    @Test func decodesAggregateTrade() {
        let (m, error) = decode(#"{"e":"aggTrade","E":123456789,"s":"ETHUSDT","a":5933014,"p":"0.01","q":"100","f":100,"l":105,"T":123456785,"m":false,"M":true}"#, btcDecoder())
        #expect(error == nil)
        #expect(m.kind == .aggTrade)
        #expect(m.instrument == 2)
        #expect(m.tradeId == 5_933_014 && m.firstTradeId == 100 && m.lastTradeId == 105)
        #expect(m.price == Price(units: 1) && m.quantity == Quantity(units: 1_000_000) && !m.buyerIsMaker)
        #expect(m.venueTimeNs == 123_456_785_000_000)
    }

    @Test func refusesPrecisionBeyondTheInstrumentScale() {
        let d = btcDecoder()
        let (_, error) = decode(#"{"e":"aggTrade","E":1,"s":"ETHUSDT","a":1,"p":"0.001","q":"100","m":false}"#, d)
        #expect(error == .badDecimal)
        let (m, ok) = decode(#"{"e":"aggTrade","E":1,"s":"ETHUSDT","a":1,"p":"0.01000000","q":"100.0000","m":false}"#, d)
        #expect(ok == nil)
        #expect(m.price == Price(units: 1) && m.quantity == Quantity(units: 1_000_000))
        #expect(d.counters[.badDecimal] == 1)
    }

    @Test func decodesSpotAndFuturesBookTicker() {
        let d = btcDecoder()
        let (spot, e1) = decode(realBookTicker, d)
        #expect(e1 == nil)
        #expect(spot.kind == .bookTicker)
        #expect(spot.updateId == 50_093_239_212)
        #expect(spot.bidPrice == Price(units: 6_183_763) && spot.bidQuantity == Quantity(units: 378_826))
        #expect(spot.askPrice == Price(units: 6_183_764) && spot.askQuantity == Quantity(units: 154_698))
        #expect(spot.venueTimeNs == 0)
        let (futures, e2) = decode(#"{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BTCUSDT","b":"25.35000000","B":"31.21000000","a":"25.36000000","A":"40.66000000"}"#, d)
        #expect(e2 == nil)
        #expect(futures.kind == .bookTicker)
        #expect(futures.updateId == 400_900_217 && futures.transactionTime == 1_568_014_460_891)
        #expect(futures.bidPrice == Price(units: 2_535) && futures.askQuantity == Quantity(units: 4_066_000))
        let event = futures.marketEvent(sequence: 1, receiveWallNs: 0, timestamps: TimestampChain())
        #expect(event?.kind == .quote && event?.venueSequence == 400_900_217)
    }

    @Test func decodesDepthUpdateIntoTheLevelBuffers() {
        let d = btcDecoder()
        let (m, error) = decode(realDepth, d)
        #expect(error == nil)
        #expect(m.kind == .depthUpdate)
        #expect(m.firstUpdateId == 50_093_239_203 && m.updateId == 50_093_239_207)
        #expect(!m.hasPreviousFinalUpdateId)
        #expect(d.bids.levels == [BookLevel(price: Price(units: 5_565_387), quantity: .zero)])
        #expect(d.asks.count == 4)
        #expect(d.asks[1] == BookLevel(price: Price(units: 6_184_430), quantity: Quantity(units: 40_163)))
        let (f, e2) = decode(#"{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.02","10"]],"a":[]}"#, btcDecoder())
        #expect(e2 == nil)
        #expect(f.hasPreviousFinalUpdateId && f.previousFinalUpdateId == 149)
    }

    @Test func refusesPriceWithDigitsBeyondScaleInsideLevels() {
        let d = btcDecoder()
        let (_, error) = decode(#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1.001","1"]],"a":[]}"#, d)
        #expect(error == .badDecimal)
    }

    @Test func countsTooManyLevels() {
        let d = btcDecoder(levelCapacity: 2)
        let (_, error) = decode(#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1","1"],["2","1"],["3","1"]],"a":[]}"#, d)
        #expect(error == .tooManyLevels)
        #expect(d.counters[.tooManyLevels] == 1)
    }

    @Test func decodesWrapperWithDataBeforeStream() {
        let d = btcDecoder()
        let (m, error) = decode(#"{"data":{"u":5,"s":"BTCUSDT","b":"1.00","B":"2","a":"1.01","A":"3"},"stream":"btcusdt@bookTicker"}"#, d)
        #expect(error == nil)
        #expect(m.kind == .bookTicker && m.bidPrice == Price(units: 100) && m.askQuantity == Quantity(units: 300_000))
        // Partial depth names no symbol: the stream does, even after the data.
        let (p, e2) = decode(#"{"data":{"lastUpdateId":160,"bids":[["0.01","1.5"]],"asks":[["0.02","2"]]},"stream":"ethusdt@depth5@100ms"}"#, d)
        #expect(e2 == nil)
        #expect(p.kind == .depthSnapshot && p.instrument == 2 && p.updateId == 160)
        #expect(d.bids.levels == [BookLevel(price: Price(units: 1), quantity: Quantity(units: 15_000))])
        #expect(d.asks.levels == [BookLevel(price: Price(units: 2), quantity: Quantity(units: 20_000))])
    }

    @Test func parsesPricesThatComeBeforeTheSymbol() {
        let d = btcDecoder()
        let (m, error) = decode(#"{"p":"61837.63","q":"0.5","b":[["1.5","2"]],"e":"trade","t":9,"m":false,"s":"BTCUSDT"}"#, d)
        #expect(error == nil)
        #expect(m.kind == .trade && m.price == Price(units: 6_183_763) && m.quantity == Quantity(units: 50_000))
        #expect(d.bids.count == 0)  // not a depth message: no levels linger
        let (depth, e2) = decode(#"{"b":[["1.5","2"]],"a":[["1.6","0"]],"U":1,"u":2,"e":"depthUpdate","s":"ETHUSDT"}"#, d)
        #expect(e2 == nil && depth.kind == .depthUpdate)
        #expect(d.bids.levels == [BookLevel(price: Price(units: 150), quantity: Quantity(units: 20_000))])
        #expect(d.asks.levels == [BookLevel(price: Price(units: 160), quantity: .zero)])
    }

    @Test func decodesRepliesAndServerShutdown() {
        let d = btcDecoder()
        let (ok, e1) = decode(#"{"result":null,"id":312}"#, d)
        #expect(e1 == nil && ok.kind == .controlReply && ok.resultIsNull && ok.requestId == 312 && ok.requestIdIsNumber)
        let (list, e2) = decode(#"{"result":["btcusdt@aggTrade",{"x":[1]}],"id":-3}"#, d)
        #expect(e2 == nil && list.kind == .controlReply && !list.resultIsNull && list.requestId == -3)
        let (err, e3) = decode(#"{"code": 2, "msg": "Invalid request: unknown variant \"SUB\"", "id": "abc-1"}"#, d)
        #expect(e3 == nil && err.kind == .errorReply && err.errorCode == 2 && !err.requestIdIsNumber)
        let (nullId, e4) = decode(#"{"result":null,"id":null}"#, d)
        #expect(e4 == nil && nullId.kind == .controlReply)
        let (bye, e5) = decode(#"{"e":"serverShutdown","E":1723161255343}"#, d)
        #expect(e5 == nil && bye.kind == .serverShutdown && bye.venueTimeNs == 1_723_161_255_343_000_000)
        let (bye2, e6) = decode(#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}"#, d)
        #expect(e6 == nil && bye2.kind == .serverShutdown)
        let (_, e7) = decode(#"{"result":null}"#, d)
        #expect(e7 == .missingField)
    }

    @Test func toleratesWhitespaceEscapesAndUnknownFields() {
        let d = btcDecoder()
        let text = "\n { \"stream\" : \"btcusdt@trade\" ,\t\"data\" :{ \"new\":{\"a\":[1,{\"b\":\"}]\\\"\"}],\"c\":null},"
            + #" "e" : "tr\u0061de" , "E":1, "\u0073":"BTC\u0055SDT", "t" : 12 , "p":"6\u0031.5", "q":"1e", "#
            + #""T":2,"m":false,"x":[[],[[true,false,-1.5e-3]]],"M":true, "X":"FILLED"} } "#
        var (m, error) = decode(text, d)
        #expect(error == .badDecimal)  // "1e" is no decimal
        (m, error) = decode(text.replacingOccurrences(of: #""q":"1e""#, with: #""q":"1.2""#), d)
        #expect(error == nil)
        #expect(m.kind == .trade && m.tradeId == 12 && m.price == Price(units: 6_150) && m.quantity == Quantity(units: 120_000))
    }

    @Test func acceptsIntegralNumbersWithFractionsOrExponents() {
        let d = btcDecoder()
        let (m, error) = decode(#"{"e":"trade","E":1.723161255343e12,"s":"BTCUSDT","t":37E2,"p":"1","q":"1","T":10.0,"m":true}"#, d)
        #expect(error == nil)
        #expect(m.eventTime == 1_723_161_255_343 && m.tradeId == 3_700 && m.transactionTime == 10)
        let (_, e2) = decode(#"{"e":"trade","s":"BTCUSDT","t":3.5,"p":"1","q":"1","m":true}"#, d)
        #expect(e2 == .badNumber)
        let (_, e3) = decode(#"{"e":"trade","s":"BTCUSDT","t":-1,"p":"1","q":"1","m":true}"#, d)
        #expect(e3 == .badNumber)
        let (_, e4) = decode(#"{"e":"trade","s":"BTCUSDT","t":99999999999999999999,"p":"1","q":"1","m":true}"#, d)
        #expect(e4 == .badNumber)
        let (_, e5) = decode(#"{"e":"trade","s":"BTCUSDT","t":"1","p":"1","q":"1","m":true}"#, d)
        #expect(e5 == .wrongType)
    }

    @Test func decodesEveryFieldOrder() {
        // Random permutations of a trade's fields, with random whitespace between tokens.
        var rng = SeededGenerator(seed: 42)
        let d = btcDecoder()
        let fields = [#""e":"trade""#, #""E":1723161255343"#, #""s":"BTCUSDT""#, #""t":3735683259"#, #""p":"61837.63000000""#,
                      #""q":"0.02000000""#, #""T":1723161255342"#, #""m":true"#, #""M":true"#, #""zz":{"k":[1,2,{"n":null}]}"#]
        let spaces = ["", " ", "\n", "\t ", "\r\n  "]
        for _ in 0..<500 {
            let order = fields.shuffled(using: &rng)
            var text = "{"
            for (i, field) in order.enumerated() {
                let sp = spaces[Int(rng.next() % UInt64(spaces.count))]
                text += (i == 0 ? sp : "," + sp) + field.replacingOccurrences(of: "\":", with: "\"" + sp + ":" + sp)
            }
            text += spaces[Int(rng.next() % UInt64(spaces.count))] + "}"
            let wrapped = rng.next() % 2 == 0 ? text : #"{"stream":"btcusdt@trade","data":"# + text + "}"
            let (m, error) = decode(wrapped, d)
            #expect(error == nil, "\(wrapped)")
            #expect(m.price == Price(units: 6_183_763) && m.tradeId == 3_735_683_259 && m.buyerIsMaker)
        }
    }

    @Test func countsEachKindOfBadMessageByReason() {
        let d = btcDecoder()
        let cases: [(String, BinanceDecodeError)] = [
            ("", .truncated),
            ("[1,2]", .notAnObject),
            ("{\"e\":\"trade\"", .truncated),
            (#"{"e":"trade","s":"DOGEUSDT","t":1,"p":"1","q":"1","m":true}"#, .unknownSymbol),
            (#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"ETHUSDT","t":1,"p":"1","q":"1","m":true}}"#, .unknownSymbol),
            (#"{"e":"24hrTicker","E":1,"s":"BTCUSDT"}"#, .unsupportedEvent),
            (#"{"hello":"world"}"#, .unknownMessage),
            (#"{"e":"trade","s":"BTCUSDT","p":"1","q":"1","m":true}"#, .missingField),
            (#"{"e":"trade","s":"BTCUSDT","t":1,"p":1.5,"q":"1","m":true}"#, .wrongType),
            (#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1.5.1","q":"1","m":true}"#, .badDecimal),
            (#"{"e":"trade","s":"BTC\x","t":1}"#, .badString),
            (#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1","q":"1","m":true} x"#, .trailingBytes),
            (#"{"e":"trade" "s":"BTCUSDT"}"#, .syntax),
            (#"{"x":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}", .nestingTooDeep),
            (#"{"x":[1}"#, .syntax),
        ]
        for (text, reason) in cases {
            let (_, error) = decode(text, d)
            #expect(error == reason, "\(text)")
        }
        #expect(d.counters.totalErrors == UInt64(cases.count))
        #expect(d.counters[.syntax] == 2)
        #expect(d.counters.decoded == 0)
    }

    @Test func usesTheFallbackInstrumentForARestSnapshot() {
        let d = btcDecoder()
        let text = #"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#
        let (_, noSymbol) = decode(text, d)
        #expect(noSymbol == .noSymbol)
        let (m, error) = decode(text.replacingOccurrences(of: "4.00000200", with: "4.01"), d, fallback: 0)
        #expect(error == nil && m.kind == .depthSnapshot && m.updateId == 1_027_024)
        #expect(d.bids.levels == [BookLevel(price: Price(units: 400), quantity: Quantity(units: 43_100_000))])
    }

    @Test func literalLayoutAndGeneralScannerAgree() {
        // The venue's exact layouts take the literal fast path; the same messages with one
        // space added take the general scanner. Both must give the same message.
        let d = btcDecoder()
        for text in [realTrade, realBookTicker, realDepth,
                     #"{"stream":"ethusdt@aggTrade","data":{"e":"aggTrade","E":123456789,"s":"ETHUSDT","a":5933014,"p":"0.01","q":"100","f":100,"l":105,"T":123456785,"m":true,"M":true}}"#] {
            let (fast, e1) = decode(text, d)
            let fastBids = d.bids.levels, fastAsks = d.asks.levels
            let (general, e2) = decode(text.replacingOccurrences(of: #""data":{"#, with: #""data": {"#), d)
            #expect(e1 == nil && e2 == nil)
            #expect(fast.kind == general.kind && fast.instrument == general.instrument)
            #expect(fast.price == general.price && fast.quantity == general.quantity && fast.tradeId == general.tradeId)
            #expect(fast.bidPrice == general.bidPrice && fast.askQuantity == general.askQuantity)
            #expect(fast.updateId == general.updateId && fast.firstUpdateId == general.firstUpdateId)
            #expect(fast.venueTimeNs == general.venueTimeNs && fast.buyerIsMaker == general.buyerIsMaker)
            #expect(fastBids == d.bids.levels && fastAsks == d.asks.levels)
        }
        #expect(d.counters.decoded == 8)
    }

    @Test(arguments: [
        ("61837.63000000", Int64(6_183_763), nil as BinanceDecodeError?), ("0.01000000", 1, nil), ("12345678.00000000", 1_234_567_800, nil),
        ("123456789.12", 12_345_678_912, nil), ("-1.50000000", 0, .badDecimal), ("-0.01", 0, .badDecimal), ("7", 700, nil), (".5", 50, nil), ("3.1", 310, nil),
        ("1.00000001", 0, .badDecimal), ("1.001", 0, .badDecimal), ("1.0000000a", 0, .badDecimal), ("", 0, .badDecimal),
        ("99999999999999999.00", 0, .badDecimal), ("1..0", 0, .badDecimal),
        ("1234567890123456789012345678901234567890", 0, .badDecimal), ("1234567890123456789012345678901234567890.00", 0, .badDecimal),
        ("92233720368547758.07", Int64.max, nil), ("92233720368547758.08", 0, .badDecimal),
    ])
    func parsesDecimalsOnEveryPath(text: String, units: Int64, error: BinanceDecodeError?) {
        let d = btcDecoder()
        let (m, e) = decode(#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"\#(text)","q":"1.00000000","T":1,"m":true,"M":true}}"#, d)
        #expect(e == error, "\(text)")
        if error == nil { #expect(m.price == Price(units: units), "\(text)") }
    }

    /// Prices and quantities are never negative or longer than an Int64 holds at the
    /// instrument's scale: in every field that carries one, on the fast and the careful path.
    @Test(arguments: ["-1.50000000", "-1.5", #"\u002d1.5"#, "1234567890123456789012345678901234567890"])
    func refusesNegativeAndOverlongPricesAndQuantitiesInEveryField(_ bad: String) {
        let d = btcDecoder()
        let messages = [
            #"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.00","q":"\#(bad)","T":1,"m":true}"#,
            #"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"\#(bad)","q":"1.00","T":1,"m":true}"#,
            #"{"u":1,"s":"BTCUSDT","b":"1.00","B":"\#(bad)","a":"2.00","A":"1"}"#,
            #"{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"2.00","A":"\#(bad)"}"#,
            #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.00","\#(bad)"]],"a":[]}"#,
            #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[["\#(bad)","1"]]}"#,
            #"{"lastUpdateId":5,"bids":[["1.00","\#(bad)"]],"asks":[]}"#,
        ]
        for text in messages {
            let (_, error) = decode(text, d, fallback: 0)
            #expect(error == .badDecimal, "\(text)")
        }
        #expect(d.counters[.badDecimal] == UInt64(messages.count))
    }

    /// Times and ids past what the events hold are refused, never wrapped: an event time whose
    /// nanoseconds pass Int64.max, 25-digit times and update ids, ids past Int64.max.
    @Test func refusesTimesAndIdsPastWhatTheEventsHold() {
        let d = btcDecoder()
        let d25 = "1234567890123456789012345"
        for text in [
            #"{"e":"trade","E":9223372036855,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}"#,
            #"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":\#(d25),"m":true}"#,
            #"{"e":"trade","E":\#(d25),"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}"#,
            #"{"e":"trade","E":1,"s":"BTCUSDT","t":18446744073709551615,"p":"1","q":"1","m":true}"#,
            #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":\#(d25),"u":2,"b":[],"a":[]}"#,
            #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":\#(d25),"b":[],"a":[]}"#,
            #"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":\#(d25),"b":[],"a":[]}"#,
            #"{"u":\#(d25),"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}"#,
            #"{"lastUpdateId":\#(d25),"bids":[],"asks":[]}"#,
        ] {
            let (_, error) = decode(text, d, fallback: 0)
            #expect(error == .badNumber, "\(text)")
        }
        // The largest that fit: an event time of 9223372036854 ms, ids of Int64.max.
        let (m, error) = decode(#"{"e":"depthUpdate","E":9223372036854,"s":"BTCUSDT","U":9223372036854775807,"u":9223372036854775807,"b":[],"a":[]}"#, d)
        #expect(error == nil && m.updateId == 9_223_372_036_854_775_807 && m.venueTimeNs == WallNanos(9_223_372_036_854_000_000))
    }

    @Test func parsesLevelsOfMixedShapes() {
        // The exact venue shape takes the fast per-level path; spaced, short or extra-element
        // levels in the same array take the general one.
        let d = btcDecoder()
        let (m, error) = decode(#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1.50000000","2.00000000"], [ "1.40000000" , "3" ],["1.3","0.00000000"],["1.20000000","1.00000000","x"]],"a":[ ]}"#, d)
        #expect(error == nil && m.kind == .depthUpdate)
        #expect(d.bids.levels == [
            BookLevel(price: Price(units: 150), quantity: Quantity(units: 200_000)),
            BookLevel(price: Price(units: 140), quantity: Quantity(units: 300_000)),
            BookLevel(price: Price(units: 130), quantity: .zero),
            BookLevel(price: Price(units: 120), quantity: Quantity(units: 100_000)),
        ])
        #expect(d.asks.count == 0)
    }
}

@Suite struct InstrumentTableTests {
    @Test func findsSymbolsIgnoringAsciiCase() throws {
        let table = TestData.table([("BTCUSDT", 2, 5), ("ETHUSDT", 2, 4), ("币安币USDT", 4, 1)])
        #expect(table.entry(forSymbol: "btcusdt")?.id == 1)
        #expect(table.entry(forSymbol: "ETHUSDT")?.quantityDecimals == 4)
        #expect(table.entry(forSymbol: "币安币USDT")?.index == 2)
        #expect(table.entry(forSymbol: "BTCUSD") == nil)
        #expect(table.entry(forSymbol: "") == nil)
    }

    @Test func refusesDuplicatesAndBadSpecs() {
        #expect(throws: InstrumentTableError.duplicateSymbol("btcusdt")) {
            try InstrumentTable([InstrumentSpec(symbol: "BTCUSDT", id: 1, priceDecimals: 2, quantityDecimals: 5),
                                 InstrumentSpec(symbol: "btcusdt", id: 2, priceDecimals: 2, quantityDecimals: 5)])
        }
        #expect(throws: InstrumentTableError.decimalsTooLarge("X")) {
            try InstrumentTable([InstrumentSpec(symbol: "X", id: 1, priceDecimals: 19, quantityDecimals: 5)])
        }
    }

    @Test func findsEveryOneOfManySymbols() throws {
        let specs = (0..<5_000).map { InstrumentSpec(symbol: "SYM\($0)USDT", id: InstrumentId($0 + 10), priceDecimals: 2, quantityDecimals: 3) }
        let table = try InstrumentTable(specs)
        for (i, spec) in specs.enumerated() {
            #expect(table.entry(forSymbol: spec.symbol)?.index == Int32(i))
        }
        #expect(table.entry(forSymbol: "SYM5000USDT") == nil)
    }
}
