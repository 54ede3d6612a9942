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
