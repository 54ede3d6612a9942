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
        #expect(r.snapshotsSynced == 1)
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
        #expect(r.snapshotsSynced == 1)
        #expect(r.bookChecks == 2)      // line 2 once the book reaches 101 (line 4), line 8 at once
        #expect(r.bookMismatches == 1)  // line 8 says 4, the book holds 3
        #expect(r.tradeIdGaps == 1)     // 7 → 9
        #expect(r.depthGaps == 1)       // 103 → 105
        #expect(r.decodeErrors == 1)
        #expect(r.tradeIdChecks == 1)
        #expect(r.json == #"{"messages":10,"depth_gaps":1,"book_checks":2,"book_mismatches":1,"trade_id_checks":1,"trade_id_gaps":1,"#
                + #""decode_errors":1,"unsupported_messages":0,"snapshots_synced":1,"snapshots_too_old":0,"snapshots_with_gap":0,"#
                + #""snapshots_without_symbol":0,"books_unsynced":0,"complete":true}"#)
        #expect(r.failed && r.incomplete.isEmpty)
    }

    /// Valid events of streams Tickline does not use are counted apart, never as decode errors.
    @Test func streamsTicklineDoesNotUseAreUnsupportedNotErrors() {
        let recording = """
        1 {"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}
        2 {"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}}
        3 {"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}}
        4 {"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":1672515782136,"s":"BTCUSDT","p":"-94.99999800","P":"-95.960","w":"0.29628482","x":"0.10000000","c":"4.00000200","Q":"10","b":"4.00000000","B":"10","a":"4.00000200","A":"100","o":"99.00000000","h":"100.00000000","l":"0.10000000","v":"8913.30000000","q":"15.30000000","O":0,"C":86400000,"F":0,"L":18150,"n":18151}}
        5 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"10.00","q":"1","T":1,"m":true}}
        6 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":8,"p":"10.00","q":"1","T":1,"m":true}}
        """
        let verifier = RecordingVerifier(instruments: TestData.table())
        verifier.consume(recording: Array(recording.utf8))
        let r = verifier.report
        #expect(r.messages == 6 && r.processed.unsupportedMessages == 4 && r.decodeErrors == 0, "\(r)")
        #expect(!r.failed && r.incomplete.isEmpty && r.tradeIdChecks == 1, "\(r.text)")
    }

    /// Each snapshot's outcome is counted; a book whose diffs no snapshot synced, and a
    /// recording where nothing could be compared, make the report incomplete, saying why.
    @Test func snapshotsThatDoNotSyncLeaveTheReportIncomplete() {
        let diff = { (u0: Int, u1: Int) in
            #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":\#(u0),"u":\#(u1),"b":[["10.00","2"]],"a":[]}}"#
        }
        let snapshot = { (id: Int) in #"{"lastUpdateId":\#(id),"bids":[["10.00","1"]],"asks":[["11.00","1"]]}"# }
        // Too old: the first buffered diff starts at 110, the snapshot ends at 100.
        let tooOld = RecordingVerifier(instruments: TestData.table())
        tooOld.consume(recording: Array("1 \(diff(110, 120))\n2 \(snapshot(100))\n".utf8))
        let a = tooOld.report
        #expect(a.processed.snapshotsTooOld == 1 && a.snapshotsSynced == 0 && a.booksUnsynced == 1, "\(a.text)")
        #expect(a.incomplete.count == 2 && a.incomplete[0].contains("1 of 1 books") && a.incomplete[1].contains("nothing was checked"),
                "\(a.incomplete)")
        #expect(a.json.hasSuffix(#""snapshots_too_old":1,"snapshots_with_gap":0,"snapshots_without_symbol":0,"books_unsynced":1,"complete":false}"#))
        // A gap among the buffered diffs: 100-101 then 105-106.
        let gap = RecordingVerifier(instruments: TestData.table())
        gap.consume(recording: Array("1 \(diff(100, 101))\n2 \(diff(105, 106))\n3 \(snapshot(100))\n".utf8))
        #expect(gap.report.processed.snapshotsWithGap == 1 && gap.report.booksUnsynced == 1, "\(gap.report.text)")
        // Synced, then checked.
        let ok = RecordingVerifier(instruments: TestData.table())
        ok.consume(recording: Array(("1 \(diff(100, 101))\n2 \(snapshot(100))\n"
            + #"3 {"stream":"btcusdt@bookTicker","data":{"u":101,"s":"BTCUSDT","b":"10.00","B":"2","a":"11.00","A":"1"}}"#).utf8))
        #expect(ok.report.snapshotsSynced == 1 && ok.report.bookChecks == 1 && ok.report.incomplete.isEmpty, "\(ok.report.text)")
    }

    /// A bare REST body in a recording of several symbols cannot be given to a book: counted,
    /// and the report says how to write it.
    @Test func aSnapshotNamingNoSymbolInAMultiSymbolRecordingSaysHowToFixIt() throws {
        let table = try InstrumentTable([InstrumentSpec(symbol: "BTCUSDT", id: 1, priceDecimals: 2, quantityDecimals: 8),
                                         InstrumentSpec(symbol: "ETHUSDT", id: 2, priceDecimals: 2, quantityDecimals: 8)])
        let verifier = RecordingVerifier(instruments: table)
        verifier.consume(recording: Array(("""
            1 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":100,"u":101,"b":[],"a":[]}}
            2 {"lastUpdateId":100,"bids":[["10.00","1"]],"asks":[["11.00","1"]]}
            """).utf8))
        let r = verifier.report
        #expect(r.processed.snapshotsWithoutSymbol == 1 && r.decodeErrors == 1 && r.booksUnsynced == 1, "\(r.text)")
        #expect(r.incomplete.first?.contains(#"{"stream":"<symbol>@depth","data":<snapshot>}"#) == true, "\(r.incomplete)")
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
        #expect(r.snapshotsSynced == 1 && r.depthGaps == 0)
        #expect(r.bookChecks == 2 && r.bookMismatches == 0)  // the tickers at 110 and 120
        let book = verifier.processor.books[0]
        #expect(book.rules == .futures && book.state == .synced && book.lastUpdateId == 130)
        #expect(book.asks.best == BookLevel(price: Price(units: 1_100), quantity: Quantity(units: 200_000_000)))
    }

    @Test func spotRulesForcedOnAFuturesRecordingSeeAGap() {
        let verifier = RecordingVerifier(instruments: TestData.table(), continuity: .spot)
        verifier.consume(recording: Array(Self.futuresRecording.utf8))
        let r = verifier.report
        #expect(r.snapshotsSynced == 1)
        #expect(r.depthGaps == 1)  // 114 does not follow 110 + 1
        #expect(verifier.processor.books[0].state == .awaitingSnapshot)
    }
}
