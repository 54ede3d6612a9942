import Foundation
import Testing
import TicklineCore
@testable import TicklineMarketData

@Suite struct RecordingVerifierTests {
    @Test(.enabled(if: TestData.binanceAvailable, "needs ../shared/data/binance_spot_btcusdt"))
    func realRecordingChainsAndMatchesEveryTicker() throws {
        let recording = try TestData.binanceRecording()
        #expect(RecordingVerifier.symbols(in: recording) == ["BTCUSDT"])
        let verifier = RecordingVerifier(instruments: TestData.table())
        verifier.consume(recording: recording)
        let r = verifier.report
        #expect(r.messages == 99_574)
        #expect(r.depthGaps == 0)
        #expect(r.bookChecks == 1_072)
        #expect(r.bookMismatches == 0)
        #expect(r.tradeIdGaps == 0)
        #expect(r.decodeErrors == 0)
        #expect(r.snapshotsLoaded == 1)
    }
}

@Suite struct DoctoredRecordingTests {
    /// Writes `lines` to a file in a fresh temp folder, reads it back and verifies it.
    func verify(_ lines: [ArraySlice<UInt8>], table: InstrumentTable = TestData.table()) throws -> VerifyReport {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tickline-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("doctored.txt")
        var bytes: [UInt8] = []
        for line in lines { bytes += line; bytes.append(0x0A) }
        try Data(bytes).write(to: file)
        let verifier = RecordingVerifier(instruments: table)
        verifier.consume(recording: try TestData.contents(of: file.path))
        return verifier.report
    }

    /// Index of the `n`th line containing `marker`.
    func index(of marker: String, nth n: Int, in lines: [ArraySlice<UInt8>]) -> Int {
        let needle = Array(marker.utf8)
        var seen = 0
        for (i, line) in lines.enumerated() where line.count >= needle.count {
            let text = Array(line)
            if (0...(text.count - needle.count)).contains(where: { text[$0..<$0 + needle.count].elementsEqual(needle) }) {
                seen += 1
                if seen == n { return i }
            }
        }
        return -1
    }

    @Test(.enabled(if: TestData.binanceAvailable, "needs ../shared/data/binance_spot_btcusdt"))
    func detectsARemovedDepthDiffAndARemovedTrade() throws {
        let first = try TestData.contents(of: TestData.binanceFiles[0])
        let lines = first.split(separator: 0x0A, omittingEmptySubsequences: true)
        let clean = try verify(lines)
        #expect(clean.depthGaps == 0 && clean.tradeIdGaps == 0 && clean.bookMismatches == 0 && clean.bookChecks > 0)

        var noDepth = lines
        noDepth.remove(at: index(of: "depthUpdate", nth: 100, in: lines))
        let depthReport = try verify(noDepth)
        #expect(depthReport.depthGaps == 1)
        #expect(depthReport.messages == clean.messages - 1)

        var noTrade = lines
        noTrade.remove(at: index(of: "@trade", nth: 500, in: lines))
        let tradeReport = try verify(noTrade)
        #expect(tradeReport.tradeIdGaps == 1)
        #expect(tradeReport.depthGaps == 0)
        #expect(tradeReport.bookChecks == clean.bookChecks && tradeReport.bookMismatches == 0)
    }

    @Test func detectsGapsAndMismatchesInASyntheticRecording() throws {
        let recording = """
        1 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":90,"u":99,"b":[],"a":[]}}
        2 {"stream":"btcusdt@bookTicker","data":{"u":101,"s":"BTCUSDT","b":"10.00","B":"2","a":"11.00","A":"1"}}
        3 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":100,"u":101,"b":[["10.00","2"]],"a":[]}}
        4 {"lastUpdateId":100,"bids":[["10.00","1"],["9.00","1"]],"asks":[["11.00","1"]]}
        5 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"10.00","q":"1","T":1,"m":true}}
        6 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":9,"p":"10.00","q":"1","T":1,"m":true}}
        7 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":102,"u":103,"b":[["10.00","3"]],"a":[]}}
        8 {"stream":"btcusdt@bookTicker","data":{"u":103,"s":"BTCUSDT","b":"10.00","B":"4","a":"11.00","A":"1"}}
        9 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":105,"u":106,"b":[],"a":[]}}
        10 garbage
        """
        let verifier = RecordingVerifier(instruments: TestData.table())
        verifier.consume(recording: Array(recording.utf8))
        let r = verifier.report
        #expect(r.messages == 10)
        #expect(r.snapshotsLoaded == 1)
        #expect(r.bookChecks == 2)      // line 2 once the book reaches 101 (line 4), line 8 at once
        #expect(r.bookMismatches == 1)  // line 8 says 4, the book holds 3
        #expect(r.tradeIdGaps == 1)     // 7 → 9
        #expect(r.depthGaps == 1)       // 103 → 105
        #expect(r.decodeErrors == 1)
        #expect(r.json == #"{"messages":10,"depth_gaps":1,"book_checks":2,"book_mismatches":1,"trade_id_gaps":1,"decode_errors":1,"snapshots_loaded":1}"#)
    }

    /// USD-M futures lines: ids jump between diffs and `pu` chains them; the first diff ends
    /// exactly at the snapshot's lastUpdateId.
    static let futuresRecording = """
        1 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":90,"u":99,"pu":85,"b":[],"a":[]}}
        2 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":2,"T":2,"s":"BTCUSDT","U":103,"u":110,"pu":99,"b":[["10.00","2"]],"a":[]}}
        3 {"lastUpdateId":110,"E":3,"T":3,"bids":[["10.00","2"],["9.00","1"]],"asks":[["11.00","1"]]}
        4 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":110,"E":4,"T":4,"s":"BTCUSDT","b":"10.00","B":"2","a":"11.00","A":"1"}}
        5 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":5,"T":5,"s":"BTCUSDT","U":114,"u":120,"pu":110,"b":[["10.00","3"]],"a":[]}}
        6 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":120,"E":6,"T":6,"s":"BTCUSDT","b":"10.00","B":"3","a":"11.00","A":"1"}}
        7 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":7,"T":7,"s":"BTCUSDT","U":125,"u":130,"pu":120,"b":[],"a":[["11.00","2"]]}}
        """

    @Test(arguments: [DepthContinuity.detect, .futures])
    func checksAFuturesRecordingWithoutBeingTold(_ continuity: DepthContinuity) {
        let verifier = RecordingVerifier(instruments: TestData.table(), continuity: continuity)
        verifier.consume(recording: Array(Self.futuresRecording.utf8))
        let r = verifier.report
        #expect(r.messages == 7 && r.decodeErrors == 0)
        #expect(r.snapshotsLoaded == 1 && r.depthGaps == 0)
        #expect(r.bookChecks == 2 && r.bookMismatches == 0)  // the tickers at 110 and 120
        let book = verifier.processor.books[0]
        #expect(book.rules == .futures && book.state == .synced && book.lastUpdateId == 130)
        #expect(book.asks.best == BookLevel(price: Price(units: 1_100), quantity: Quantity(units: 200_000_000)))
    }

    @Test func spotRulesForcedOnAFuturesRecordingSeeAGap() {
        let verifier = RecordingVerifier(instruments: TestData.table(), continuity: .spot)
        verifier.consume(recording: Array(Self.futuresRecording.utf8))
        let r = verifier.report
        #expect(r.snapshotsLoaded == 1)
        #expect(r.depthGaps == 1)  // 114 does not follow 110 + 1
        #expect(verifier.processor.books[0].state == .awaitingSnapshot)
    }
}
