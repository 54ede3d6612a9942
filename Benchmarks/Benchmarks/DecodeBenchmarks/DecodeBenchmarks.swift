// The Binance feed's per-message cost, with the allocation gate (`mallocCountTotal` p90
// threshold 0; wall clock reported, never gated: the machines are shared).
//
// - Decode.binancePerMessage: one recorded message per iteration through the feed's real
//   per-message work (`BinanceFeedProcessor.process`: decode, L2 book update, top-of-book
//   event and depth snapshot), cycling through the recording; at the end of the recording
//   the books are cleared and the next cycle starts from its snapshot again.
// - Decode.binanceDecodeOnly: the decoder alone over the same messages.
// Messages: the first file of ../shared/data/binance_spot_btcusdt (trade, bookTicker,
// depthUpdate@100ms and the REST snapshot, as recorded); when that folder is absent, a
// synthetic set embedded below, so the gate always has something to measure.
// With `scalingFactor: .kilo`, the wall clock is ns per message.

import Benchmark
import BenchmarkGate
import Foundation
import TicklineCore
import TicklineFeed
import TicklineMarketData

let recordedFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/data/binance_spot_btcusdt/btcusdt_20240808.gz").path

/// The recording's lines, or nil when the data folder is absent (or TICKLINE_DECODE_SYNTHETIC=1
/// asks for the synthetic set, to check that path).
func recordedLines() -> [UInt8]? {
    guard ProcessInfo.processInfo.environment["TICKLINE_DECODE_SYNTHETIC"] != "1",
          FileManager.default.fileExists(atPath: recordedFile) else { return nil }
    return try? RecordingFile.load(recordedFile)
}

/// A synthetic stream in the recording's shapes: a snapshot, then chained diffs, trades and tickers.
func syntheticMessages() -> [String] {
    var messages: [String] = []
    let bids = (0..<100).map { #"["\#(60_000 - $0).\#(10 + $0 % 80)000000","0.\#(10_000 + $0)000""# + "]" }
    let asks = (0..<100).map { #"["\#(60_001 + $0).\#(10 + $0 % 80)000000","1.\#(20_000 + $0)000""# + "]" }
    messages.append(#"{"lastUpdateId":1000,"bids":["# + bids.joined(separator: ",") + #"],"asks":["# + asks.joined(separator: ",") + "]}")
    var updateId = 1_000
    for i in 0..<2_000 {
        let trade = #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":\#(3_735_683_259 + i),"p":"\#(60_000 + i % 7).63000000","q":"0.0\#(2_000 + i % 900)000","T":1723161255342,"m":\#(i % 2 == 0),"M":true}}"#
        let ticker = #"{"stream":"btcusdt@bookTicker","data":{"u":\#(updateId + 3),"s":"BTCUSDT","b":"\#(60_000 - i % 3).63000000","B":"3.78826000","a":"\#(60_001 + i % 3).64000000","A":"1.54698000"}}"#
        messages.append(trade)
        messages.append(ticker)
        messages.append(ticker)
        if i % 4 == 0 {
            let levels = (0..<8).map { (j: Int) -> String in
                let quantity = j % 3 == 0 ? "0.00000000" : "0.5\(j)000000"
                return #"[""# + "\(59_990 - (j + i) % 40).\(10 + j)000000" + #"",""# + quantity + #""]"#
            }
            messages.append(#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255408,"s":"BTCUSDT","U":\#(updateId + 1),"u":\#(updateId + 10),"b":["# + levels.joined(separator: ",") + #"],"a":[["\#(60_050 + i % 30).00000000","0.25000000"]]}}"#)
            updateId += 10
        }
    }
    return messages
}

nonisolated(unsafe) let workload: DecodeWorkload = {
    let table = try! InstrumentTable([InstrumentSpec(symbol: "BTCUSDT", id: 1, priceDecimals: 8, quantityDecimals: 8)])
    if let recording = recordedLines() {
        print("decode benchmarks: recorded messages from \(recordedFile)")
        return DecodeWorkload(recording: recording, instruments: table)
    }
    print("decode benchmarks: synthetic messages (\(recordedFile) absent or TICKLINE_DECODE_SYNTHETIC=1)")
    return DecodeWorkload(messages: syntheticMessages(), instruments: table)
}()

nonisolated(unsafe) let configuration = gatedConfiguration()

let benchmarks: @Sendable () -> Void = {
    let messages = workload.count
    precondition(messages > 0, "decode benchmarks: no messages")
    // Every message must decode: a benchmark of error paths would measure the wrong thing.
    _ = workload.runPass()
    precondition(workload.processor.decoder.counters.totalErrors == 0, "decode benchmarks: messages fail to decode")

    Benchmark("Decode.binancePerMessage", configuration: configuration) { benchmark in
        var next = 0
        workload.reset()
        for _ in benchmark.scaledIterations {
            if next == messages {
                workload.reset()
                next = 0
            }
            blackHole(workload.process(next))
            next += 1
        }
    }

    Benchmark("Decode.binanceDecodeOnly", configuration: configuration) { benchmark in
        let decoder = workload.processor.decoder
        var message = BinanceMessage()
        var next = 0
        workload.payloads.withUnsafeBytes { all in
            for _ in benchmark.scaledIterations {
                if next == messages { next = 0 }
                let bytes = UnsafeRawBufferPointer(rebasing: all[workload.starts[next]..<workload.ends[next]])
                blackHole(decoder.decode(bytes, into: &message, fallbackInstrumentIndex: 0))
                next += 1
            }
        }
    }
}
