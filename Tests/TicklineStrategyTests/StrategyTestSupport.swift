import Foundation
import Testing
import TicklineCore
import TicklineIndicators
import TicklineFeed
import TicklineMarketData
import TicklineStrategy
import TicklineTestSupport

/// 2024-01-01T00:00:00Z in ns.
let epoch2024Ns = WallNanos(1_704_067_200_000_000_000)
let second: Nanos = 1_000_000_000

/// The monotonic reading of a test's simulated clock at wall time `w` (both read one number).
func mono(_ w: WallNanos) -> MonotonicNanos { MonotonicNanos(w.ns) }

func trade(_ instrument: InstrumentId = 0, priceUnits: Int64, quantityUnits: Int64 = 1, wallNs: WallNanos, sequence: UInt64 = 0,
           priceDecimals: UInt8 = 2, quantityDecimals: UInt8 = 0) -> MarketEvent {
    MarketEvent(sequence: sequence, instrument: instrument, kind: .trade, priceDecimals: priceDecimals, quantityDecimals: quantityDecimals,
                price: Price(units: priceUnits), quantity: Quantity(units: quantityUnits), receiveWallNs: wallNs,
                timestamps: TimestampChain(socketReadNs: mono(wallNs), decodedNs: mono(wallNs) + 1))
}

func quote(_ instrument: InstrumentId = 0, bidUnits: Int64, askUnits: Int64, wallNs: WallNanos) -> MarketEvent {
    MarketEvent(instrument: instrument, kind: .quote, priceDecimals: 2, bidPrice: Price(units: bidUnits), bidQuantity: Quantity(units: 1),
                askPrice: Price(units: askUnits), askQuantity: Quantity(units: 1), receiveWallNs: wallNs)
}

/// Collects what an engine leaves in its outboxes.
struct Collected {
    var signals: [SignalEvent] = []
    var bars: [BarEvent] = []

    mutating func drain<C>(_ engine: inout StrategyEngine<C>) {
        while let s = engine.signals.queue.first {
            signals.append(s)
            engine.signals.queue.removeFirst()
        }
        while let b = engine.bars.first {
            bars.append(b)
            engine.bars.removeFirst()
        }
    }

    func count(strategy: StrategyId) -> Int { signals.filter { $0.strategy == strategy }.count }
    func bars(of kind: BarKind) -> [BarEvent] { bars.filter { $0.kind == kind } }
}

/// Bars of a constructed close series (high/low a fixed fraction around the close).
func barsFrom(closes: [Double], spread: Double = 0.002, start: WallNanos = epoch2024Ns, step: Nanos = 60 * second) -> [OHLCVBar] {
    var previous = closes.first ?? 0
    return closes.enumerated().map { index, close in
        defer { previous = close }
        let open = previous
        return OHLCVBar(timestampNs: (start + Nanos(index) * step).ns, open: open, high: max(open, close) * (1 + spread),
                        low: min(open, close) * (1 - spread), close: close, volume: 100)
    }
}

/// Runs `strategy` over `bars` with a standard indicator set; returns (bar index, decision) pairs.
func run<S: SymbolStrategy>(_ strategy: S, _ bars: [OHLCVBar]) -> [(Int, StrategyDecision)] {
    var state = strategy.makeState()
    var set = IndicatorSet()
    var out: [(Int, StrategyDecision)] = []
    for (index, bar) in bars.enumerated() {
        set.update(bar)
        if let d = strategy.onBar(bar, indicators: set, state: &state) { out.append((index, d)) }
    }
    return out
}

// MARK: - Recorded data

enum RecordedData {
    static let folder = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/data/binance_spot_btcusdt")

    static var files: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".gz") }.sorted().map { folder.appendingPathComponent($0) }
    }

    static var isAvailable: Bool { !files.isEmpty }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The trades of every file, in order, as market events (price 2 decimals, quantity 8).
    static func trades() throws -> [MarketEvent] {
        var events: [MarketEvent] = []
        for file in files {
            let bytes = try RecordingFile.load(file.path)
            for line in bytes.split(separator: 0x0A) {
                guard case .message(let receive, let payload) = RecordingLine.parse(line) else { continue }
                let json = Data(bytes[payload])
                guard json.range(of: Data("@trade".utf8)) != nil else { continue }
                guard let root = try JSONSerialization.jsonObject(with: json) as? [String: Any],
                      let d = root["data"] as? [String: Any], let p = d["p"] as? String, let q = d["q"] as? String,
                      let price = DecimalScale.parse(p, decimals: 2), let quantity = DecimalScale.parse(q, decimals: 8)
                else { throw Failure(description: "bad trade line: \(String(decoding: line.prefix(200), as: UTF8.self))") }
                let eventMs = (d["E"] as? NSNumber)?.int64Value ?? 0
                let id = (d["t"] as? NSNumber)?.uint64Value ?? 0
                let sold = (d["m"] as? Bool) == true
                events.append(MarketEvent(sequence: UInt64(events.count + 1), instrument: 0, kind: .trade,
                                          flags: sold ? MarketEvent.flagAggressorSold : 0, priceDecimals: 2, quantityDecimals: 8,
                                          price: Price(units: price), quantity: Quantity(units: quantity), venueSequence: id,
                                          venueTimeNs: WallNanos(eventMs * 1_000_000), receiveWallNs: WallNanos(receive),
                                          timestamps: TimestampChain(socketReadNs: MonotonicNanos(receive), decodedNs: MonotonicNanos(receive))))
            }
        }
        return events
    }
}

/// Every built-in single-symbol strategy at its default parameters on `timeframe`, plus the vote.
func defaultSingleSymbolStrategies(timeframe: BarKind, symbols: [InstrumentId]? = nil) -> StrategySettings {
    var s = StrategySettings()
    s.smaCrossover = [SMACrossover(common: StrategyCommon(id: 1, timeframe: timeframe, symbols: symbols))]
    s.emaADXTrend = [EMAADXTrend(common: StrategyCommon(id: 2, timeframe: timeframe, symbols: symbols))]
    s.zScoreMeanReversion = [ZScoreMeanReversion(common: StrategyCommon(id: 3, timeframe: timeframe, symbols: symbols))]
    s.rsiBollingerReversal = [RSIBollingerReversal(common: StrategyCommon(id: 4, timeframe: timeframe, symbols: symbols))]
    s.vote = [WeightedVote(common: StrategyCommon(id: 5, timeframe: timeframe, symbols: symbols))]
    return s
}

let strategyNames: [StrategyId: String] = [1: "sma_crossover", 2: "ema_adx_trend", 3: "zscore_reversion", 4: "rsi_bollinger_reversal",
                                           5: "vote", 6: "pairs"]
