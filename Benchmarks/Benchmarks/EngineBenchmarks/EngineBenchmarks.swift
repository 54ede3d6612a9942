// The engine's agents during a replay, with the allocation gate (`mallocCountTotal` p90
// threshold 0, and every sample checked by Tools/alloc-gate; wall clock reported, never
// gated: the machines are shared).
//
// - Engine.replayPerMessage: one recorded message per iteration through exactly what
//   `tickline replay` runs (`ReplayEngine.runStages`): the feed's decode and book, the
//   market/depth rings, the strategy agent (bars, indicators, the built-in strategies on
//   1 s bars), the risk agent (pre-trade checks, orders, exits, journal records), the paper
//   venue's execution agent, and the journal rings drained. Only the report's bookkeeping
//   (its equity curve grows) is left out. The first half of the recording warms the stages
//   up once (books synced, indicators primed, positions open); iterations then cycle
//   through the second half, with time carried forward at each wrap.
// Messages: both files of ../shared/data/binance_spot_btcusdt; when absent, a synthetic
// four-symbol stream (trades and quotes) from `SyntheticFeed`.
// With `scalingFactor: .kilo`, the wall clock is ns per message.

import Benchmark
import BenchmarkGate
import Foundation
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineFeed
import TicklineMarketData
import TicklineRisk

let dataFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/data/binance_spot_btcusdt").path

func recording() -> (symbols: [String], lines: [UInt8])? {
    let files = ["btcusdt_20240808.gz", "btcusdt_20240809.gz"].map { "\(dataFolder)/\($0)" }
    guard files.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else { return nil }
    guard let lines = try? files.flatMap({ try RecordingFile.load($0) }) else { return nil }
    return (["BTCUSDT"], lines)
}

/// A synthetic recording: `<receive ns> <json>` lines, 2 ms apart.
func syntheticRecording() -> (symbols: [String], lines: [UInt8]) {
    var feed = SyntheticFeed(symbols: 4)
    var text = ""
    let start: Int64 = 1_723_075_200_000_000_000
    for i in 0..<100_000 {
        let ns = start + Int64(i) * 2_000_000
        text += "\(ns) \(feed.message(venueTimeMs: ns / 1_000_000))\n"
    }
    return (feed.symbols, Array(text.utf8))
}

/// The engine, warmed up, and the messages it cycles through.
final class Replay {
    let engine: ReplayEngine
    let messages: DecodeWorkload  // used for its parsed lines only
    let first: Int
    var next: Int
    var offsetNs: Int64 = 0
    let spanNs: Int64

    init() {
        let source = recording()
        let (symbols, lines) = source ?? syntheticRecording()
        print("engine benchmark: \(source == nil ? "synthetic messages (\(dataFolder) absent)" : "recorded BTCUSDT from \(dataFolder)")")
        let table = try! InstrumentTable(symbols.enumerated().map {
            InstrumentSpec(symbol: $0.element, id: InstrumentId($0.offset), priceDecimals: 2, quantityDecimals: 8)
        })
        messages = DecodeWorkload(recording: lines, instruments: table)
        let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                      positionLimitUnits: 25_000_000)
        engine = try! ReplayEngine(symbols: symbols, config: EngineConfig(), fallbackSpec: spec)
        first = messages.count / 2
        next = first
        spanNs = messages.receiveNs[messages.count - 1] - messages.receiveNs[first] + 1_000_000
        for i in 0..<first { step(i) }
        let r = engine.current(elapsedSeconds: 1)
        print("engine benchmark: warmed up on \(first) messages: \(r.events) events, \(r.signals) signals, \(r.orders) orders, \(r.fills) fills")
    }

    @inline(__always)
    func step(_ i: Int) {
        let ns = messages.receiveNs[i] + offsetNs
        messages.payloads.withUnsafeBytes { all in
            engine.runStages(UnsafeRawBufferPointer(rebasing: all[messages.starts[i]..<messages.ends[i]]), receiveWallNs: WallNanos(ns))
        }
    }

    @inline(__always)
    func stepNext() {
        if next == messages.count {
            next = first
            offsetNs += spanNs
        }
        step(next)
        next += 1
    }
}

nonisolated(unsafe) let configuration = gatedConfiguration()

let benchmarks: @Sendable () -> Void = {
    nonisolated(unsafe) let replay = Replay()
    Benchmark("Engine.replayPerMessage", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations { replay.stepNext() }
    }
}
