// The strategy stage's per-event cost, with the allocation gate (`mallocCountTotal` p90
// threshold 0; wall clock reported, never gated: the machines are shared).
//
// - Strategy.agentPerTradeEvent: one trade event per iteration through the real path:
//   pushed into the market ring, `StrategyAgent.doWork` (ring → bars → indicators →
//   strategies → signals ring and bar journal), then the signals ring and the bar journal
//   are drained so no ring ever fills. Two symbols alternate; each has 1 s and 1 m bars,
//   the five built-in single-symbol strategies at their defaults on 1 s bars, the weighted
//   vote, and a pairs strategy on the two. Trades are 100 ms apart per symbol, so a 1 s bar
//   (with indicators and strategies) closes every 10 trades of a symbol.
// - Strategy.barAggregationPerTrade: bar builders only (1 s, 1 m, 5 m), one trade each.
// With `scalingFactor: .kilo`, the wall clock is ns per event. Memory per symbol and for
// 10,000 symbols is printed once.

import Benchmark
import BenchmarkGate
import Glibc
import TicklineCore
import TicklineEngine
import TicklineIndicators
import TicklineRing
import TicklineStrategy

let instance = "alloc-gate-strategy-\(getpid())"
nonisolated(unsafe) let region: SharedRegion = {
    SharedRegion.unlink(instance: instance)
    let (region, _) = try! SharedRegion.create(instance: instance, rings: [
        .of(MarketEvent.self, name: "market", capacity: 1024, overflow: .dropNewest),
        .of(SignalEvent.self, name: "signals", capacity: 1024, overflow: .refuse),
        .of(BarEvent.self, name: "journal.bars", capacity: 1024, overflow: .dropNewest),
    ], options: RegionOptions(lockMemory: false, hugePages: false))
    region.unlink()  // the mapping lives on; nothing is left in /dev/shm
    return region
}()

/// A deterministic random walk of 4096 prices in units at 2 decimals around 100.00.
let samplePrices: [Int64] = {
    var state: UInt64 = 0x5EED
    var price = 10_000.0
    return (0..<4096).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        price *= 1 + (Double(state >> 11) * 0x1p-53 - 0.5) * 0.004
        return Int64(price.rounded())
    }
}()

func benchmarkSettings(symbols: Int) -> StrategySettings {
    var s = StrategySettings()
    s.symbolCount = symbols
    s.timeBars = [.seconds1, .minutes1]
    let tf = BarKind.seconds1
    s.smaCrossover = [SMACrossover(common: StrategyCommon(id: 1, timeframe: tf))]
    s.emaADXTrend = [EMAADXTrend(common: StrategyCommon(id: 2, timeframe: tf))]
    s.zScoreMeanReversion = [ZScoreMeanReversion(common: StrategyCommon(id: 3, timeframe: tf))]
    s.rsiBollingerReversal = [RSIBollingerReversal(common: StrategyCommon(id: 4, timeframe: tf))]
    s.vote = [WeightedVote(common: StrategyCommon(id: 5, timeframe: tf))]
    s.pairs = [PairsTrading(common: StrategyCommon(id: 6, timeframe: tf), legA: 0, legB: 1)]
    return s
}

let startWallNs = WallNanos(1_704_067_200_000_000_000)

nonisolated(unsafe) let configuration = gatedConfiguration()

let benchmarks: @Sendable () -> Void = {
    do {
        let one = StrategyEngine<NoCustomStrategy>(settings: benchmarkSettings(symbols: 2))
        let perSymbol = one.bytesPerSymbol
        print("strategy memory: \(perSymbol) B per symbol (1s + 1m bars, 5 strategies + vote); 10,000 symbols: "
              + "\(perSymbol * 10_000 + one.fixedBytes) B (fixed part \(one.fixedBytes) B)")
    }

    Benchmark("Strategy.agentPerTradeEvent", configuration: configuration) { benchmark in
        var feed = try! region.producer(of: MarketEvent.self, ring: "market")
        var risk = try! region.consumer(of: SignalEvent.self, ring: "signals")
        var journal = try! region.consumer(of: BarEvent.self, ring: "journal.bars")
        let agent = BuiltInStrategyAgent(
            settings: benchmarkSettings(symbols: 2), market: try! region.consumer(of: MarketEvent.self, ring: "market"),
            signals: try! region.producer(of: SignalEvent.self, ring: "signals"),
            barJournal: try! region.producer(of: BarEvent.self, ring: "journal.bars"))
        agent.onStart()
        let prices = samplePrices
        let mask = prices.count - 1
        var sequence: UInt64 = 0
        var sink = 0
        func step(_ i: Int) {
            sequence &+= 1
            let wallNs = startWallNs &+ Nanos(i >> 1) &* 100_000_000
            let event = MarketEvent(sequence: sequence, instrument: InstrumentId(i & 1), kind: .trade, priceDecimals: 2,
                                    price: Price(units: prices[(i >> 1) & mask] &+ Int64(i & 1) &* 5), quantity: Quantity(units: 1),
                                    receiveWallNs: wallNs,
                                    timestamps: TimestampChain(socketReadNs: MonotonicNanos(wallNs.ns), decodedNs: MonotonicNanos(wallNs.ns)))
            _ = feed.tryPush(event)
            sink &+= agent.doWork(now: DutyCycleTime(simulatedNs: wallNs.ns))
            while let s = risk.tryPop() { sink &+= Int(s.side?.rawValue ?? 0) }
            while let b = journal.tryPop() { sink &+= Int(b.tradeCount) }
        }
        // Warm up past every lookback (200 one-second bars per symbol).
        var i = 0
        while i < 2 * 10 * 260 {
            step(i)
            i += 1
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            step(i)
            i += 1
        }
        benchmark.stopMeasurement()
        blackHole(sink)
        blackHole(agent.stats.signalsPushed)
    }

    Benchmark("Strategy.barAggregationPerTrade", configuration: configuration) { benchmark in
        var builders = [BarBuilder(kind: .seconds1), BarBuilder(kind: .minutes1), BarBuilder(kind: .minutes5)]
        let prices = samplePrices
        let mask = prices.count - 1
        var sink = 0.0
        var i = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let wallNs = startWallNs &+ Nanos(i) &* 100_000_000
            for k in 0..<3 {
                if builders[k].isDue(atWallNs: wallNs),
                   let closed = builders[k].close(instrument: 0, priceDecimals: 2, quantityDecimals: 0, priceScale: 100, quantityScale: 1) {
                    sink += closed.bar.close
                }
                _ = builders[k].addTrade(priceUnits: prices[i & mask], quantityUnits: 1, wallNs: wallNs)
            }
            i += 1
        }
        benchmark.stopMeasurement()
        blackHole(sink)
    }
}
