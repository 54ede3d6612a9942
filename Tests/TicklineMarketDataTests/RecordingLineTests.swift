import Testing
@testable import TicklineMarketData

@Suite struct RecordingLineTests {
    func parse(_ text: String) -> RecordingLine.Parsed { RecordingLine.parse(ArraySlice(Array(text.utf8))) }

    func payload(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard case .message(_, let range) = RecordingLine.parse(bytes[...]) else { return nil }
        return String(decoding: bytes[range], as: UTF8.self)
    }

    @Test func splitsTheReceiveTimeFromThePayloadAfterASpaceOrATab() {
        #expect(parse("17 {\"a\":1}") == .message(receiveNs: 17, payload: 3..<10))
        #expect(payload("17\t{\"a\":1}") == "{\"a\":1}")
        #expect(payload("17 \t {\"a\":1}") == "{\"a\":1}")
        #expect(payload("17 {\"a\":1}\r") == "{\"a\":1}")
        #expect(payload("17 {\"a\":1} \t\r") == "{\"a\":1}")
        #expect(parse("9223372036854775807 x") == .message(receiveNs: .max, payload: 20..<21))
    }

    @Test func refusesAReceiveTimePastInt64MaxInsteadOfWrappingIt() {
        #expect(parse("9223372036854775808 {}") == .malformed(.receiveTimeOverflow))
        #expect(parse("1234567890123456789012345 {}") == .malformed(.receiveTimeOverflow))
    }

    @Test func namesWhatIsWrongWithALineThatIsNotAMessage() {
        #expect(parse("") == .blank)
        #expect(parse(" \t\r") == .blank)
        #expect(parse("{\"a\":1}") == .malformed(.noReceiveTime))
        #expect(parse("-5 {}") == .malformed(.noReceiveTime))
        #expect(parse("17") == .malformed(.noPayload))
        #expect(parse("17 \r") == .malformed(.noPayload))
        #expect(parse("17{}") == .malformed(.noSeparator))
        #expect(parse("17,{}") == .malformed(.noSeparator))
    }

    @Test func payloadRangeIsInTheSlicesIndices() {
        let bytes = Array("xx 5 ab".utf8)
        #expect(RecordingLine.parse(bytes[3...]) == .message(receiveNs: 5, payload: 5..<7))
    }

    /// Verify counts every non-blank line as a message, and a line it cannot split as a
    /// decode error (as replay does).
    @Test func verifierCountsMalformedLinesAsMessagesThatDidNotDecode() {
        let verifier = RecordingVerifier(instruments: TestData.table())
        let trade = #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"10.00","q":"1","T":1,"m":true}}"#
        verifier.consume(recording: Array("1\t\(trade)\r\n\r\n99999999999999999999 \(trade)\n3\n\n".utf8))
        #expect(verifier.report.messages == 3)
        #expect(verifier.report.decodeErrors == 2)
    }

    @Test func symbolsThatAreNotUTF8AreNotFound() {
        let recording = Array(#"1 {"stream":"btcusdt@trade","data":{"e":"trade","s":"BTC"#.utf8) + [0xFF, 0xFE]
            + Array(#"USDT"}}"#.utf8) + [0x0A] + Array(#"2 {"e":"trade","s":"ethusdt"}"#.utf8)
        #expect(RecordingVerifier.symbols(in: recording) == ["BTCUSDT", "ETHUSDT"])
    }
}
