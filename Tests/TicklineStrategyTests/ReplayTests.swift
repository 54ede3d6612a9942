import Foundation
import Testing
import TicklineCore
import TicklineIndicators
import TicklineStrategy
import TicklineTestSupport

/// The must-show runs: recorded BTCUSDT trades through 1-second bars, and a generated
/// two-symbol series of 100,000 one-minute bars, each through every strategy at its default
/// parameters. The counts are printed (`swift test --filter ReplayTests` shows them).
@Suite struct ReplayTests {
    @Test(.enabled(if: RecordedData.isAvailable, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func recordedBTCUSDTTradesThroughOneSecondBarsGiveSignalsFromEveryStrategy() throws {
        let trades = try RecordedData.trades()
        #expect(trades.count == 19_904)
        var settings = defaultSingleSymbolStrategies(timeframe: .seconds1)
        settings.symbolCount = 1
        settings.timeBars = [.seconds1]
        var engine = StrategyEngine<NoCustomStrategy>(settings: settings)
        var out = Collected()
        for event in trades {
            // The duty cycle reads the clock before draining the ring: replay time = receive time.
            _ = engine.advanceTime(wallNs: event.receiveWallNs, nowNs: mono(event.receiveWallNs))
            #expect(engine.hasRoomForEvent)
            engine.process(event, nowNs: mono(event.receiveWallNs))
            out.drain(&engine)
        }
        _ = engine.advanceTime(wallNs: trades.last!.receiveWallNs + second, nowNs: mono(trades.last!.receiveWallNs + second))
        out.drain(&engine)
        let bars = out.bars(of: .seconds1)
        #expect(bars.count > 600 && bars.count < 700)
        #expect(bars.map(\.tradeCount).reduce(0, +) == 19_904)
        var line = "BTCUSDT replay: \(trades.count) trades, \(bars.count) 1s bars; signals:"
        for id: StrategyId in 1...5 {
            let n = out.count(strategy: id)
            line += " \(strategyNames[id]!)=\(n)"
            #expect(n > 0, "\(strategyNames[id]!) gave no signal on the BTCUSDT replay")
        }
        print(line)
        for signal in out.signals {
            #expect(signal.timestamps.decodedNs > 0 && signal.timestamps.signalNs >= signal.timestamps.decodedNs)
            #expect(signal.confidenceBasisPoints <= 10_000)
            #expect(signal.entryPrice.units > 5_000_000 && signal.entryPrice.units < 7_000_000)
        }
    }

    /// Two cointegrated symbols: a shared random walk with trending regimes, plus a
    /// mean-reverting (Ornstein–Uhlenbeck) spread on the first.
    static func generatedPair(bars: Int, seed: UInt64) -> [(a: OHLCVBar, b: OHLCVBar)] {
        var random = SeededGenerator(seed: seed)
        var factor = 0.0
        var spread = 0.0
        var drift = 0.0
        var previousA = 100.0
        var previousB = 50.0
        var out: [(OHLCVBar, OHLCVBar)] = []
        out.reserveCapacity(bars)
        for i in 0..<bars {
            if i % 500 == 0 { drift = (random.unit() - 0.5) * 0.0006 }
            factor += drift + 0.001 * random.normal()
            spread = 0.97 * spread + 0.0015 * random.normal()
            let closeA = 100 * Foundation.exp(factor + spread)
            let closeB = 50 * Foundation.exp(factor)
            func bar(_ open: Double, _ close: Double) -> OHLCVBar {
                let high = max(open, close) * (1 + 0.0004 * abs(random.normal()))
                let low = min(open, close) * (1 - 0.0004 * abs(random.normal()))
                return OHLCVBar(timestampNs: (epoch2024Ns + Nanos(i) * 60 * second).ns, open: open, high: high, low: low, close: close,
                                volume: 1 + (random.unit() * 100).rounded())
            }
            out.append((bar(previousA, closeA), bar(previousB, closeB)))
            previousA = closeA
            previousB = closeB
        }
        return out
    }

    @Test func aGeneratedPairOfHundredThousandMinuteBarsExercisesEveryStrategy() {
        let count = 100_000
        let series = Self.generatedPair(bars: count, seed: 42)
        var settings = defaultSingleSymbolStrategies(timeframe: .minutes1)
        settings.symbolCount = 2
        settings.timeBars = [.minutes1]
        settings.pairs = [PairsTrading(common: StrategyCommon(id: 6, timeframe: .minutes1), legA: 0, legB: 1)]
        var engine = StrategyEngine<NoCustomStrategy>(settings: settings)
        var signals = [Int](repeating: 0, count: 7)
        var barCount = 0
        var sequence: UInt64 = 0
        // Four trades per bar (open, high, low, close at :00, :15, :30, :45), both symbols;
        // the clock closes each bar at the minute.
        for (i, pair) in series.enumerated() {
            let start = epoch2024Ns + Nanos(i) * 60 * second
            for (symbol, bar) in [(InstrumentId(0), pair.a), (InstrumentId(1), pair.b)] {
                for (k, price) in [bar.open, bar.high, bar.low, bar.close].enumerated() {
                    sequence += 1
                    let t = start + Nanos(k) * 15 * second
                    let quantity = k == 3 ? Int64(bar.volume) - 3 : 1
                    engine.process(trade(symbol, priceUnits: Int64((price * 10_000).rounded()), quantityUnits: max(quantity, 1), wallNs: t,
                                         sequence: sequence, priceDecimals: 4), nowNs: mono(t))
                }
            }
            _ = engine.advanceTime(wallNs: start + 60 * second, nowNs: mono(start + 60 * second))
            while let s = engine.signals.queue.first {
                signals[Int(s.strategy)] += 1
                engine.signals.queue.removeFirst()
            }
            while !engine.bars.isEmpty {
                barCount += 1
                engine.bars.removeFirst()
            }
        }
        #expect(barCount == 2 * count)
        #expect(engine.counters.barsClosedByTimer == UInt64(2 * count))
        var line = "generated pair: \(count) 1m bars x 2 symbols; signals:"
        for id in 1...6 {
            line += " \(strategyNames[StrategyId(id)]!)=\(signals[id])"
            #expect(signals[id] > 0, "\(strategyNames[StrategyId(id)]!) gave no signal on the generated pair")
        }
        print(line)
        #expect(signals[6] % 2 == 0, "pairs signals come in legs of two")
    }

    @Test func reportsMemoryPerSymbolAndForTenThousandSymbols() {
        var settings = defaultSingleSymbolStrategies(timeframe: .minutes1)
        settings.timeBars = [.seconds1, .minutes1]
        settings.symbolCount = 10_000
        let engine = StrategyEngine<NoCustomStrategy>(settings: settings)
        let perSymbol = engine.bytesPerSymbol
        let total = perSymbol * 10_000 + engine.fixedBytes
        print("strategy memory: \(perSymbol) B per symbol (1s + 1m bars, IndicatorSet \(IndicatorSet.bytesPerSymbol) B per bar series, 5 strategies at defaults); 10,000 symbols: \(total) B = \(String(format: "%.1f", Double(total) / 1_048_576)) MiB")
        #expect(perSymbol > 2 * IndicatorSet.bytesPerSymbol)
        #expect(perSymbol < 16_384)
    }
}
