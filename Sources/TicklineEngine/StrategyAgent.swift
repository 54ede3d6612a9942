import TicklineConfig
import TicklineCore
import TicklineRing
import TicklineRuntime
import TicklineStrategy

/// Counts of the strategy agent's ring traffic. Read on the agent's thread (or after it stopped).
public struct StrategyAgentStats: Sendable, Equatable {
    /// Market events handed to the engine.
    public var events: UInt64 = 0
    public var signalsPushed: UInt64 = 0
    /// Pushes the signals ring refused (full): the signal stayed pending and was retried.
    public var signalsRefused: UInt64 = 0
    /// The most signals pending at once.
    public var pendingHighWater: Int = 0
    /// Duty cycles that left market events in the ring because the pending buffer lacked room.
    public var backpressuredCycles: UInt64 = 0
    public var barsJournaled: UInt64 = 0
    /// Closed bars the bar journal refused (full; drop-newest, also counted by the ring).
    public var barsDropped: UInt64 = 0
    public init() {}
}

/// The strategy stage: drains the market ring, updates that symbol's bars, indicators and
/// strategies (`StrategyEngine`), pushes signals into the signals ring and closed bars into
/// the bar journal. Closes time bars on the clock even when no event arrives.
///
/// Ring policies: the signals ring refuses when full, and a signal is never dropped: it
/// stays in the engine's preallocated pending buffer and is retried first thing next duty
/// cycle (counted in `signalsRefused`); while the buffer lacks room for what one more event
/// could produce, market events stay in the market ring (`backpressuredCycles`). The bar
/// journal drops the newest bar when full (counted in `barsDropped` and by the ring).
///
/// Time: bars are cut on the duty cycle's wall time (`doWork`'s `now.wall`); signals carry
/// as `signalNs` the real monotonic clock read once per batch of market events, so the
/// strategy's latency is measured even when `now` is a simulated clock.
///
/// A final class owned by one runner thread after `onStart`; not thread-safe. No allocation
/// in `doWork`.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class StrategyAgent<Custom: SymbolStrategy>: Agent {
    public let roleName: String
    @exclusivity(unchecked) @usableFromInline var market: RingConsumer<MarketEvent>
    @exclusivity(unchecked) @usableFromInline var signalRing: RingProducer<SignalEvent>
    @exclusivity(unchecked) @usableFromInline var barJournal: RingProducer<BarEvent>
    /// Moved out into a local for each duty cycle (one exclusivity check per cycle, not per event).
    @exclusivity(unchecked) @usableFromInline var engineSlot: StrategyEngine<Custom>?
    @usableFromInline let batchLimit: Int
    @exclusivity(unchecked) public private(set) var stats = StrategyAgentStats()

    /// An agent over the given ring ends, with `settings` (allocates all per-symbol state).
    public init(settings: StrategySettings, custom: [Custom] = [],
                market: consuming RingConsumer<MarketEvent>, signals: consuming RingProducer<SignalEvent>,
                barJournal: consuming RingProducer<BarEvent>, roleName: String = "strategy") {
        self.roleName = roleName
        self.market = market
        self.signalRing = signals
        self.barJournal = barJournal
        engineSlot = StrategyEngine(settings: settings, custom: custom)
        batchLimit = settings.batchLimit
    }

    /// An agent on `region`'s `market`, `signals` and `journal.bars` rings (the names of
    /// `RingCatalog`), configured by the `strategies:` section.
    public convenience init(config: StrategyConfig, custom: [Custom] = [], region: SharedRegion) throws(RegionError) {
        self.init(settings: config.settings, custom: custom,
                  market: try region.consumer(of: MarketEvent.self, ring: "market"),
                  signals: try region.producer(of: SignalEvent.self, ring: "signals"),
                  barJournal: try region.producer(of: BarEvent.self, ring: "journal.bars"))
    }

    /// The engine's counters (bars, trades, unknown instruments…).
    public var engineCounters: StrategyCounters { engineSlot?.counters ?? StrategyCounters() }

    /// Signals waiting for room in the signals ring.
    public var pendingSignals: Int { engineSlot?.signals.queue.count ?? 0 }

    /// Bytes of strategy state per symbol and independent of the symbol count.
    public var memory: (perSymbol: Int, fixed: Int) { (engineSlot?.bytesPerSymbol ?? 0, engineSlot?.fixedBytes ?? 0) }

    public func doWork(now: DutyCycleTime) -> Int {
        guard var engine = engineSlot.take() else { return 0 }
        var work = flush(&engine)
        // A bar closed by the clock counts from this cycle's stamp, and its signals are stamped
        // again when the clock scan is done, so the strategy row measures the scan; market
        // events carry the stamp of their batch (the real clock, read once when it is taken).
        var stampNs = Clock.monotonic()
        let queued = engine.signals.queue.count
        work += engine.advanceTime(wallNs: now.wall, nowNs: stampNs)
        if engine.signals.queue.count > queued {
            let scannedNs = Clock.monotonic()
            for k in queued..<engine.signals.queue.count { engine.signals.queue[k].timestamps.signalNs = scannedNs }
        }
        work += flush(&engine)
        var handled = 0
        while handled < batchLimit {
            let room = min(batchLimit - handled, engine.signals.queue.freeSlots / engine.maxSignalsPerEvent,
                           engine.bars.freeSlots / max(engine.slotKinds.count, 1))
            if room == 0 {
                if market.available(limit: 1) > 0 { stats.backpressuredCycles &+= 1 }
                break
            }
            if handled > 0 { stampNs = Clock.monotonic() }
            let n = market.drain(limit: room) { event, _ in
                engine.process(event.pointee, nowNs: stampNs)
            }
            if n == 0 { break }
            handled += n
            work += flush(&engine)
        }
        stats.events &+= UInt64(handled)
        engineSlot = consume engine
        return work + handled
    }

    /// Pushes pending signals (until the ring refuses) and pending bars (dropping refused ones).
    @inline(__always)
    func flush(_ engine: inout StrategyEngine<Custom>) -> Int {
        var done = 0
        let pending = engine.signals.queue.count
        if pending > stats.pendingHighWater { stats.pendingHighWater = pending }
        while let signal = engine.signals.queue.first {
            guard signalRing.tryPush(signal) else {
                stats.signalsRefused &+= 1
                break
            }
            engine.signals.queue.removeFirst()
            stats.signalsPushed &+= 1
            done += 1
        }
        while let bar = engine.bars.first {
            if barJournal.tryPush(bar) { stats.barsJournaled &+= 1 } else { stats.barsDropped &+= 1 }
            engine.bars.removeFirst()
            done += 1
        }
        return done
    }
}

/// The strategy agent with the built-in strategies only.
public typealias BuiltInStrategyAgent = StrategyAgent<NoCustomStrategy>
