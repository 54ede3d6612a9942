#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineConfig
import TicklineCore
import TicklineIndicators
import TicklineRing
import TicklineRuntime
import TicklineStrategy
import TicklineEngine

/// A region with a unique instance name, unlinked when the test is done with it.
final class EngineTestRegion {
    nonisolated(unsafe) private static var counter = 0
    let instance: String
    let region: SharedRegion

    init(market: Int = 1024, signals: Int = 1024, bars: Int = 1024, tag: String = #function) throws {
        Self.counter += 1
        let cleanTag = String(tag.prefix { $0.isLetter || $0.isNumber }.prefix(16))
        instance = "e-\(getpid())-\(Self.counter)-\(UInt32.random(in: 0...UInt32.max))-\(cleanTag)"
        let rings = [
            RingSpec.of(MarketEvent.self, name: "market", capacity: market, overflow: .dropNewest),
            RingSpec.of(SignalEvent.self, name: "signals", capacity: signals, overflow: .refuse),
            RingSpec.of(BarEvent.self, name: "journal.bars", capacity: bars, overflow: .dropNewest),
        ]
        (region, _) = try SharedRegion.create(instance: instance, rings: rings, options: RegionOptions(lockMemory: false, hugePages: false))
    }

    deinit { SharedRegion.unlink(instance: instance) }

    /// A strategy agent on this region's rings with one `EveryBar` strategy (id `strategy`, 1 s bars).
    func everyBarAgent(_ settings: StrategySettings = everyBarSettings(), strategy: StrategyId = 42) throws -> StrategyAgent<EveryBar> {
        StrategyAgent<EveryBar>(
            settings: settings, custom: [EveryBar(common: StrategyCommon(id: strategy, timeframe: .seconds1))],
            market: try region.consumer(of: MarketEvent.self, ring: "market"),
            signals: try region.producer(of: SignalEvent.self, ring: "signals"),
            barJournal: try region.producer(of: BarEvent.self, ring: "journal.bars"))
    }
}

/// A test strategy that buys on every bar: makes signal traffic deterministic.
struct EveryBar: SymbolStrategy {
    struct State: Sendable { var bars = 0 }
    var common: StrategyCommon
    func makeState() -> State { State() }
    func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision? {
        state.bars += 1
        return StrategyDecision(side: .buy, entry: bar.close, takeProfit: bar.close * 1.01, stopLoss: bar.close * 0.99, confidence: 0.75)
    }
}

let t0 = WallNanos(1_704_067_200_000_000_000)
let oneSecond: Nanos = 1_000_000_000

func tradeEvent(_ instrument: InstrumentId = 0, price: Int64, at wallNs: WallNanos, sequence: UInt64) -> MarketEvent {
    MarketEvent(sequence: sequence, instrument: instrument, kind: .trade, priceDecimals: 2, price: Price(units: price),
                quantity: Quantity(units: 1), receiveWallNs: wallNs, timestamps: TimestampChain(socketReadNs: MonotonicNanos(wallNs.ns - 10), decodedNs: MonotonicNanos(wallNs.ns - 5)))
}

func everyBarSettings(pendingSignals: Int = 64) -> StrategySettings {
    var s = StrategySettings()
    s.symbolCount = 2
    s.timeBars = [.seconds1]
    s.pendingSignals = pendingSignals
    return s
}

@Suite(.serialized) struct StrategyAgentTests {
    @Test func movesTradesThroughBarsAndStrategiesIntoTheSignalsRingAndTheBarJournal() throws {
        let test = try EngineTestRegion()
        var feed = try test.region.producer(of: MarketEvent.self, ring: "market")
        var risk = try test.region.consumer(of: SignalEvent.self, ring: "signals")
        var journal = try test.region.consumer(of: BarEvent.self, ring: "journal.bars")
        let agent = try test.everyBarAgent()
        let invoker = AgentInvoker([agent])
        invoker.start()
        defer { invoker.close() }
        var clock = ManualClock(startNs: t0.ns)

        for event in [tradeEvent(price: 100, at: t0 + 100, sequence: 1), tradeEvent(1, price: 200, at: t0 + 200, sequence: 2),
                      tradeEvent(price: 110, at: t0 + 300, sequence: 3)] {
            let pushed = feed.tryPush(event)
            #expect(pushed)
        }
        invoker.invokeUntilIdle(now: clock.now, maxCycles: 10)
        #expect(risk.tryPop() == nil)
        #expect(journal.tryPop() == nil)

        // No further trade: the clock alone closes both symbols' bars.
        clock.set(wall: t0 + oneSecond)
        let before = Clock.monotonic()
        invoker.invokeUntilIdle(now: clock.now, maxCycles: 10)
        let after = Clock.monotonic()
        var bars: [BarEvent] = []
        while let b = journal.tryPop() { bars.append(b) }
        #expect(bars.count == 2)
        #expect(bars.first { $0.instrument == 0 }?.close.units == 110)
        #expect(bars.first { $0.instrument == 1 }?.close.units == 200)
        var signals: [SignalEvent] = []
        while let s = risk.tryPop() { signals.append(s) }
        #expect(signals.count == 2)
        let first = try #require(signals.first { $0.instrument == 0 })
        #expect(first.strategy == 42 && first.side == .buy && first.entryPrice.units == 110)
        #expect(first.marketSequence == 3)
        // The bar closed on the manual clock, with no trade behind it: its cause is the batch
        // seeing it due and its latency stamp comes after the scan, both on the real clock.
        #expect(first.timestamps.socketReadNs == first.timestamps.decodedNs)
        #expect(first.timestamps.decodedNs >= before && first.timestamps.signalNs >= first.timestamps.decodedNs)
        #expect(first.timestamps.signalNs <= after)
        #expect(bars.allSatisfy { $0.endWallNs == t0 + oneSecond })
        #expect(agent.stats.signalsPushed == 2 && agent.stats.barsJournaled == 2 && agent.stats.events == 3)
        #expect(agent.engineCounters.barsClosedByTimer == 2)
    }

    /// Two instruments on two venues: the stage stamps every bar and signal it emits with
    /// its instrument's venue from the settings, whether a trade or the clock closed the bar.
    @Test func stampsBarsAndSignalsWithTheVenueOfTheirInstrument() throws {
        let test = try EngineTestRegion()
        var feed = try test.region.producer(of: MarketEvent.self, ring: "market")
        var risk = try test.region.consumer(of: SignalEvent.self, ring: "signals")
        var journal = try test.region.consumer(of: BarEvent.self, ring: "journal.bars")
        var settings = everyBarSettings()
        settings.instrumentVenues = [0, 1]
        let agent = try test.everyBarAgent(settings)
        let invoker = AgentInvoker([agent])
        invoker.start()
        defer { invoker.close() }
        var clock = ManualClock(startNs: t0.ns)
        // Instrument 1's bar is closed by its next trade, instrument 0's by the clock.
        for event in [tradeEvent(price: 100, at: t0 + 100, sequence: 1), tradeEvent(1, price: 200, at: t0 + 200, sequence: 2),
                      tradeEvent(1, price: 210, at: t0 + oneSecond + 10, sequence: 3)] {
            let pushed = feed.tryPush(event)
            #expect(pushed)
        }
        clock.set(wall: t0 + oneSecond + 20)
        invoker.invokeUntilIdle(now: clock.now, maxCycles: 10)
        var bars: [BarEvent] = []
        while let b = journal.tryPop() { bars.append(b) }
        var signals: [SignalEvent] = []
        while let s = risk.tryPop() { signals.append(s) }
        #expect(bars.map(\.instrument).sorted() == [0, 1] && signals.map(\.instrument).sorted() == [0, 1])
        #expect(bars.allSatisfy { $0.venue == VenueId($0.instrument) } && signals.allSatisfy { $0.venue == VenueId($0.instrument) })
        #expect(agent.engineCounters.barsClosedByTimer == 1)
    }

    @Test func keepsSignalsPendingWhenTheSignalsRingIsFullAndDeliversThemAllInOrder() throws {
        let test = try EngineTestRegion(signals: 4)
        var feed = try test.region.producer(of: MarketEvent.self, ring: "market")
        var risk = try test.region.consumer(of: SignalEvent.self, ring: "signals")
        let agent = try test.everyBarAgent(everyBarSettings(pendingSignals: 8), strategy: 7)
        let invoker = AgentInvoker([agent])
        invoker.start()
        defer { invoker.close() }
        // 30 one-second bars, each giving one signal; nobody reads the signals ring yet.
        for i in 0..<31 {
            let pushed = feed.tryPush(tradeEvent(price: 100 + Int64(i), at: t0 + Nanos(i) * oneSecond, sequence: UInt64(i + 1)))
            #expect(pushed)
        }
        invoker.invokeUntilIdle(now: DutyCycleTime(simulatedNs: (t0 + 31 * oneSecond).ns), maxCycles: 50)
        #expect(agent.stats.signalsPushed == 4)
        #expect(agent.stats.signalsRefused > 0)
        #expect(agent.pendingSignals <= 8)
        #expect(agent.stats.backpressuredCycles > 0)
        // Now risk reads; bounded number of duty cycles.
        var received: [SignalEvent] = []
        var cycles = 0
        while received.count < 31 && cycles < 1_000 {
            while let s = risk.tryPop() { received.append(s) }
            invoker.invoke(now: DutyCycleTime(simulatedNs: (t0 + 32 * oneSecond).ns))
            cycles += 1
        }
        while let s = risk.tryPop() { received.append(s) }
        #expect(received.count == 31)
        #expect(received.map(\.sequence) == (1...31).map { UInt64($0) })
        #expect(received.map(\.entryPrice.units) == (0..<31).map { 100 + Int64($0) })
        #expect(try test.region.stats(ring: "signals").refused > 0)
        #expect(try test.region.stats(ring: "signals").dropped == 0)
    }

    @Test func dropsAndCountsBarsWhenTheBarJournalIsFull() throws {
        let test = try EngineTestRegion(bars: 2)
        var feed = try test.region.producer(of: MarketEvent.self, ring: "market")
        let agent = BuiltInStrategyAgent(
            settings: everyBarSettings(), market: try test.region.consumer(of: MarketEvent.self, ring: "market"),
            signals: try test.region.producer(of: SignalEvent.self, ring: "signals"),
            barJournal: try test.region.producer(of: BarEvent.self, ring: "journal.bars"))
        let invoker = AgentInvoker([agent])
        invoker.start()
        defer { invoker.close() }
        for i in 0..<6 {
            let pushed = feed.tryPush(tradeEvent(price: 100, at: t0 + Nanos(i) * oneSecond, sequence: UInt64(i + 1)))
            #expect(pushed)
        }
        invoker.invokeUntilIdle(now: DutyCycleTime(simulatedNs: (t0 + 6 * oneSecond).ns), maxCycles: 10)
        #expect(agent.stats.barsJournaled == 2)
        #expect(agent.stats.barsDropped == 4)
        #expect(try test.region.stats(ring: "journal.bars").dropped == 4)
    }

    @Test func buildsFromTheStrategiesSectionOfTheConfig() throws {
        let config = try EngineConfig.parse("""
            strategies:
              symbols: 2
              bars: { time: [1s] }
              instances:
                - { id: 3, type: zscore_reversion, timeframe: 1s, period: 20 }
            """, file: "t.yaml", onlineCpus: 2)
        let test = try EngineTestRegion()
        var feed = try test.region.producer(of: MarketEvent.self, ring: "market")
        var risk = try test.region.consumer(of: SignalEvent.self, ring: "signals")
        let agent = try BuiltInStrategyAgent(config: config.strategies, region: test.region)
        let invoker = AgentInvoker([agent])
        invoker.start()
        defer { invoker.close() }
        for i in 0..<41 {
            let price: Int64 = i == 40 ? 9_500 : (i % 2 == 0 ? 10_050 : 9_950)
            let pushed = feed.tryPush(tradeEvent(price: price, at: t0 + Nanos(i) * oneSecond, sequence: UInt64(i + 1)))
            #expect(pushed)
        }
        invoker.invokeUntilIdle(now: DutyCycleTime(simulatedNs: (t0 + 41 * oneSecond).ns), maxCycles: 10)
        let popped = risk.tryPop()
        let signal = try #require(popped)
        #expect(signal.strategy == 3 && signal.side == .buy)
        #expect(risk.tryPop() == nil)
        #expect(agent.memory.perSymbol > 0)
    }
}
