import TicklineCore
import TicklineIndicators

/// Counts kept by the engine (read by the agent and tests; published by the agent).
public struct StrategyCounters: Sendable, Equatable {
    public var events: UInt64 = 0
    public var trades: UInt64 = 0
    public var quotes: UInt64 = 0
    /// Events whose instrument id is ≥ the configured symbol count (ignored).
    public var unknownInstrument: UInt64 = 0
    /// Events of an unknown kind (ignored).
    public var unknownKind: UInt64 = 0
    public var barsClosed: UInt64 = 0
    /// Bars closed by the clock (no event arrived after their end).
    public var barsClosedByTimer: UInt64 = 0
    /// Closed bars not journaled because the pending-bar buffer was full (drop-newest).
    public var barsDropped: UInt64 = 0
    /// Decisions not turned into signals because the symbol was stale.
    public var signalsSuppressedStale: UInt64 = 0
    /// Decisions refused for a non-finite or out-of-range value, or entries whose trailing
    /// stop could not be computed (`SignalOutbox.emit`).
    public var signalsRefusedBadValue: UInt64 = 0
    public init() {}
}

/// Per-symbol facts the signals copy: decimals and the last market event's stamps.
public struct SymbolContext: Sendable, BitwiseCopyable {
    public var origin: SignalOrigin
    public var quantityScale: Double
    public var stale: Bool

    public init(instrument: InstrumentId) {
        origin = SignalOrigin(instrument: instrument)
        quantityScale = 1
        stale = false
    }
}

/// The strategy stage's pure core: per-symbol bars of every configured kind, the standard
/// `IndicatorSet` of each bar series, and every strategy instance, all preallocated for
/// `symbolCount` symbols at init. Feed it market events (`process`) and the clock
/// (`advanceTime`); it leaves closed bars in `bars` and signals in `signals` for the caller
/// to push to rings. Single-symbol strategies run through `StrategyBank<S>` (specialised
/// generics, no existential call); `Custom` plugs a strategy type of your own in the same
/// way (`StrategyEngine<NoCustomStrategy>` for the built-ins only).
///
/// No allocation after init, provided the caller keeps room for `maxSignalsPerEvent`
/// signals (`hasRoomForEvent`) before each `process`; a signal is never dropped (the outbox
/// traps rather than drop). Owned by one thread; not thread-safe. Keep exactly one copy:
/// the per-symbol arrays are copy-on-write.
public struct StrategyEngine<Custom: SymbolStrategy>: Sendable {
    public let symbolCount: Int
    /// The bar kind of each slot (time bars, then tick, then volume).
    public let slotKinds: [BarKind]
    @usableFromInline let slotCount: Int
    @usableFromInline let tickBarTrades: Int64
    @usableFromInline let volumeBarUnits: Int64
    @usableFromInline var contexts: [SymbolContext]
    /// symbol * slotCount + slot.
    @usableFromInline var builders: [BarBuilder]
    @usableFromInline var indicatorSets: [IndicatorSet]
    @usableFromInline var sma: StrategyBank<SMACrossover>
    @usableFromInline var trend: StrategyBank<EMAADXTrend>
    @usableFromInline var meanReversion: StrategyBank<ZScoreMeanReversion>
    @usableFromInline var reversal: StrategyBank<RSIBollingerReversal>
    @usableFromInline var vote: StrategyBank<WeightedVote>
    @usableFromInline var custom: StrategyBank<Custom>
    @usableFromInline let pairs: [PairsTrading]
    @usableFromInline var pairStates: [PairsTrading.State]
    @usableFromInline let pairSlots: [Int]
    /// For symbol s: pairLegEntries[pairLegOffsets[s]..<pairLegOffsets[s + 1]], each pair * 2 + leg.
    @usableFromInline let pairLegOffsets: [Int]
    @usableFromInline let pairLegEntries: [Int]
    /// Signals waiting for the signals ring.
    public var signals: SignalOutbox
    /// Closed bars waiting for the bar journal.
    public var bars: FixedQueue<BarEvent>
    @usableFromInline var barSequence: UInt64
    @usableFromInline var _counters: StrategyCounters
    public var counters: StrategyCounters {
        var c = _counters
        c.signalsRefusedBadValue = signals.refused
        return c
    }
    /// The earliest end of an open time bar (or .max): the clock scan runs only once it passes.
    @usableFromInline var nextTimerDueNs: WallNanos
    @usableFromInline var timerCursor: Int
    @usableFromInline var scanNextDueNs: WallNanos
    /// The most signals one event (or one symbol's clock close) can produce.
    public let maxSignalsPerEvent: Int

    /// Builds everything for `settings` (cold path: allocates all state). Traps on an
    /// inconsistent configuration (`settings.problem()` names it; the config parser checks first).
    public init(settings: StrategySettings, custom: [Custom] = []) {
        if let problem = settings.problem() { preconditionFailure("StrategyEngine: \(problem)") }
        let symbolCount = settings.symbolCount
        self.symbolCount = symbolCount
        let kinds = settings.barSlots
        slotKinds = kinds
        slotCount = kinds.count
        tickBarTrades = Int64(settings.tickBarTrades)
        volumeBarUnits = settings.volumeBarUnits
        contexts = (0..<symbolCount).map { SymbolContext(instrument: InstrumentId($0)) }
        for (i, tick) in settings.tickUnits.prefix(symbolCount).enumerated() { contexts[i].origin.tickUnits = tick }
        for (i, venue) in settings.instrumentVenues.prefix(symbolCount).enumerated() { contexts[i].origin.venue = venue }
        var builders: [BarBuilder] = []
        builders.reserveCapacity(symbolCount * kinds.count)
        for _ in 0..<symbolCount {
            for kind in kinds {
                let threshold: Int64 = kind == .tick ? Int64(settings.tickBarTrades) : kind == .volume ? settings.volumeBarUnits : 0
                builders.append(BarBuilder(kind: kind, threshold: threshold))
            }
        }
        self.builders = builders
        indicatorSets = [IndicatorSet](repeating: IndicatorSet(), count: symbolCount * kinds.count)
        let slotOf: (BarKind) -> Int = { kind in kinds.firstIndex(of: kind)! }
        sma = StrategyBank(instances: settings.smaCrossover, symbolCount: symbolCount, slotOf: slotOf)
        trend = StrategyBank(instances: settings.emaADXTrend, symbolCount: symbolCount, slotOf: slotOf)
        meanReversion = StrategyBank(instances: settings.zScoreMeanReversion, symbolCount: symbolCount, slotOf: slotOf)
        reversal = StrategyBank(instances: settings.rsiBollingerReversal, symbolCount: symbolCount, slotOf: slotOf)
        vote = StrategyBank(instances: settings.vote, symbolCount: symbolCount, slotOf: slotOf)
        self.custom = StrategyBank(instances: custom, symbolCount: symbolCount, slotOf: slotOf)
        for c in custom {
            precondition(kinds.contains(c.common.timeframe), "custom strategy \(c.common.id) reads \(c.common.timeframe.configName) bars, which are not built")
        }
        pairs = settings.pairs
        pairStates = settings.pairs.map { $0.makeState() }
        pairSlots = settings.pairs.map { slotOf($0.common.timeframe) }
        var legs = [[Int]](repeating: [], count: symbolCount)
        for (p, pair) in settings.pairs.enumerated() {
            legs[Int(pair.legA)].append(p * 2)
            legs[Int(pair.legB)].append(p * 2 + 1)
        }
        var offsets = [0]
        var entries: [Int] = []
        for list in legs {
            entries += list
            offsets.append(entries.count)
        }
        pairLegOffsets = offsets
        pairLegEntries = entries
        let maxLegsPerSymbol = legs.map(\.count).max() ?? 0
        let perBar = settings.smaCrossover.count + settings.emaADXTrend.count + settings.zScoreMeanReversion.count
            + settings.rsiBollingerReversal.count + settings.vote.count + custom.count + 2 * maxLegsPerSymbol
        // Every slot may close on one event (and a tick strategy may act on it too).
        maxSignalsPerEvent = max(1, kinds.count * perBar + custom.count)
        precondition(settings.pendingSignals >= maxSignalsPerEvent,
                     "StrategyEngine: pending signal capacity \(settings.pendingSignals) is below the \(maxSignalsPerEvent) one event can produce")
        precondition(settings.pendingBars >= kinds.count,
                     "StrategyEngine: pending bar capacity \(settings.pendingBars) is below the \(kinds.count) one event can close")
        signals = SignalOutbox(capacity: settings.pendingSignals)
        bars = FixedQueue(capacity: settings.pendingBars, filler: BarEvent())
        barSequence = 1
        _counters = StrategyCounters()
        nextTimerDueNs = .max
        timerCursor = -1
        scanNextDueNs = .max
    }

    /// Whether the outboxes have room for everything one event can produce.
    @inlinable
    public var hasRoomForEvent: Bool {
        signals.queue.freeSlots >= maxSignalsPerEvent && bars.freeSlots >= slotCount
    }

    /// The standard indicators of `symbol`'s bars of `kind` (nil when that kind is not built).
    public func indicators(symbol: Int, kind: BarKind) -> IndicatorSet? {
        guard let slot = slotKinds.firstIndex(of: kind), symbol >= 0, symbol < symbolCount else { return nil }
        return indicatorSets[symbol * slotCount + slot]
    }

    /// Handles one market event. `nowNs` is only the latency stamp signals carry as
    /// `signalNs` (the real monotonic clock of the caller's batch); bars are cut on the
    /// event's wall time.
    /// The caller ensures `hasRoomForEvent` first.
    @inlinable
    public mutating func process(_ event: MarketEvent, nowNs: MonotonicNanos) {
        _counters.events &+= 1
        let symbol = Int(event.instrument)
        guard symbol < symbolCount else {
            _counters.unknownInstrument &+= 1
            return
        }
        guard let kind = event.kind else {
            _counters.unknownKind &+= 1
            return
        }
        updateContext(symbol, event)
        let wallNs = event.receiveWallNs != 0 ? event.receiveWallNs : event.venueTimeNs
        let base = symbol * slotCount
        switch kind {
        case .trade:
            _counters.trades &+= 1
            for slot in 0..<slotCount {
                if builders[base + slot].isDue(atWallNs: wallNs) { closeBar(symbol: symbol, slot: slot, nowNs: nowNs) }
                let wasOpen = builders[base + slot].isOpen
                if builders[base + slot].addTrade(priceUnits: event.price.units, quantityUnits: event.quantity.units, wallNs: wallNs) {
                    closeBar(symbol: symbol, slot: slot, nowNs: nowNs)
                } else if !wasOpen {
                    noteOpened(base + slot)
                }
            }
            if Custom.readsTicks {
                let context = contexts[symbol]
                custom.onTrade(symbol: symbol, price: Double(event.price.units) / context.origin.priceScale,
                               quantity: Double(event.quantity.units) / context.quantityScale, origin: context.origin, nowNs: nowNs,
                               enabledToSignal: !context.stale, indicators: indicatorSets, base: base, outbox: &signals)
            }
        case .quote, .bookTop:
            _counters.quotes &+= 1
            for slot in 0..<slotCount where slotKinds[slot].isTimeBar {
                if builders[base + slot].isDue(atWallNs: wallNs) { closeBar(symbol: symbol, slot: slot, nowNs: nowNs) }
                let wasOpen = builders[base + slot].isOpen
                builders[base + slot].addQuote(bidUnits: event.bidPrice.units, askUnits: event.askPrice.units, wallNs: wallNs)
                if !wasOpen && builders[base + slot].isOpen { noteOpened(base + slot) }
            }
            if Custom.readsTicks {
                let context = contexts[symbol]
                custom.onQuote(symbol: symbol, bid: Double(event.bidPrice.units) / context.origin.priceScale,
                               ask: Double(event.askPrice.units) / context.origin.priceScale, origin: context.origin, nowNs: nowNs,
                               enabledToSignal: !context.stale, indicators: indicatorSets, base: base, outbox: &signals)
            }
        case .stale:
            contexts[symbol].stale = true
        case .fresh:
            contexts[symbol].stale = false
        }
    }

    /// Closes every time bar whose interval ended by `wallNs` (the wall clock of this duty
    /// cycle), even when no event arrived. O(1) until the earliest open bar is due, then one
    /// pass over the symbols, which pauses (returning) when the outboxes lack room for one
    /// more symbol and resumes on the next call. Returns the bars closed. `nowNs` is the
    /// latency stamp signals from those bars carry.
    @inlinable
    public mutating func advanceTime(wallNs: WallNanos, nowNs: MonotonicNanos) -> Int {
        if timerCursor < 0 {
            guard wallNs >= nextTimerDueNs else { return 0 }
            timerCursor = 0
            scanNextDueNs = .max
            nextTimerDueNs = .max
        }
        var closed = 0
        while timerCursor < symbolCount {
            guard hasRoomForEvent else { return closed }
            let base = timerCursor * slotCount
            for slot in 0..<slotCount where slotKinds[slot].isTimeBar {
                if builders[base + slot].isDue(atWallNs: wallNs) {
                    closeBar(symbol: timerCursor, slot: slot, nowNs: nowNs, byClock: true)
                    _counters.barsClosedByTimer &+= 1
                    closed += 1
                } else if builders[base + slot].isOpen {
                    scanNextDueNs = min(scanNextDueNs, builders[base + slot].endNs)
                }
            }
            timerCursor += 1
        }
        timerCursor = -1
        nextTimerDueNs = min(nextTimerDueNs, scanNextDueNs)
        return closed
    }

    @inlinable
    mutating func noteOpened(_ index: Int) {
        let builder = builders[index]
        if builder.kind.isTimeBar && builder.endNs < nextTimerDueNs { nextTimerDueNs = builder.endNs }
    }

    @inlinable
    mutating func updateContext(_ symbol: Int, _ event: MarketEvent) {
        if contexts[symbol].origin.priceDecimals != event.priceDecimals || contexts[symbol].origin.priceScale == 0 {
            contexts[symbol].origin.priceDecimals = event.priceDecimals
            contexts[symbol].origin.priceScale = DecimalScale.powerOfTen(event.priceDecimals)
        }
        if contexts[symbol].origin.quantityDecimals != event.quantityDecimals {
            contexts[symbol].origin.quantityDecimals = event.quantityDecimals
            contexts[symbol].quantityScale = DecimalScale.powerOfTen(event.quantityDecimals)
        }
        contexts[symbol].origin.marketSequence = event.sequence
        contexts[symbol].origin.venueTimeNs = event.venueTimeNs
        contexts[symbol].origin.receiveWallNs = event.receiveWallNs
        contexts[symbol].origin.timestamps = event.timestamps
    }

    @inlinable
    mutating func closeBar(symbol: Int, slot: Int, nowNs: MonotonicNanos, byClock: Bool = false) {
        let index = symbol * slotCount + slot
        let context = contexts[symbol]
        guard var closed = builders[index].close(instrument: InstrumentId(symbol), priceDecimals: context.origin.priceDecimals,
                                                 quantityDecimals: context.origin.quantityDecimals,
                                                 priceScale: context.origin.priceScale, quantityScale: context.quantityScale)
        else { return }
        _counters.barsClosed &+= 1
        closed.event.sequence = barSequence
        closed.event.venue = context.origin.venue
        barSequence &+= 1
        if !bars.append(closed.event) { _counters.barsDropped &+= 1 }
        indicatorSets[index].update(closed.bar)
        let set = indicatorSets[index]
        let bar = closed.bar
        let live = !context.stale
        // A bar the clock closed has no market event behind it at this moment: the clock tick
        // is its cause, so its signals count (read and decode stamps) from the stage seeing
        // the bar due (`nowNs`), not from the symbol's last trade. The caller stamps them again
        // once its clock scan is done (`StrategyAgent`).
        let signalNs = nowNs
        let origin = byClock ? Self.clockOrigin(context.origin, seenNs: nowNs) : context.origin
        sma.onBar(slot: slot, symbol: symbol, bar: bar, indicators: set, origin: origin, nowNs: signalNs, enabledToSignal: live, outbox: &signals)
        trend.onBar(slot: slot, symbol: symbol, bar: bar, indicators: set, origin: origin, nowNs: signalNs, enabledToSignal: live, outbox: &signals)
        meanReversion.onBar(slot: slot, symbol: symbol, bar: bar, indicators: set, origin: origin, nowNs: signalNs, enabledToSignal: live,
                            outbox: &signals)
        reversal.onBar(slot: slot, symbol: symbol, bar: bar, indicators: set, origin: origin, nowNs: signalNs, enabledToSignal: live,
                       outbox: &signals)
        vote.onBar(slot: slot, symbol: symbol, bar: bar, indicators: set, origin: origin, nowNs: signalNs, enabledToSignal: live, outbox: &signals)
        custom.onBar(slot: slot, symbol: symbol, bar: bar, indicators: set, origin: origin, nowNs: signalNs, enabledToSignal: live,
                     outbox: &signals)
        let first = pairLegOffsets[symbol]
        let end = pairLegOffsets[symbol + 1]
        guard first < end else { return }
        for entry in first..<end {
            let p = pairLegEntries[entry] >> 1
            guard pairSlots[p] == slot else { continue }
            let pair = pairs[p]
            guard let legs = pair.onBar(leg: pairLegEntries[entry] & 1, bar: bar, state: &pairStates[p]) else { continue }
            let a = contexts[Int(pair.legA)]
            let b = contexts[Int(pair.legB)]
            let originA = byClock ? Self.clockOrigin(a.origin, seenNs: nowNs) : a.origin
            let originB = byClock ? Self.clockOrigin(b.origin, seenNs: nowNs) : b.origin
            guard !a.stale && !b.stale else {
                _counters.signalsSuppressedStale &+= 2
                continue
            }
            signals.emit(legs.a, common: pair.common, origin: originA, nowNs: signalNs,
                         atr: indicatorSets[Int(pair.legA) * slotCount + slot].atr.value)
            signals.emit(legs.b, common: pair.common, origin: originB, nowNs: signalNs,
                         atr: indicatorSets[Int(pair.legB) * slotCount + slot].atr.value)
        }
    }

    /// `origin` for a signal of a bar the clock closed, seen due at `seenNs`.
    @inlinable
    static func clockOrigin(_ origin: SignalOrigin, seenNs: MonotonicNanos) -> SignalOrigin {
        var o = origin
        o.timestamps.socketReadNs = seenNs
        o.timestamps.decodedNs = seenNs
        return o
    }

    /// Bytes of state per symbol: context, bar builders and indicator sets of every slot, and
    /// every strategy instance's state (inline and heap). Pairs state is per pair and counted
    /// in `fixedBytes`.
    public var bytesPerSymbol: Int {
        MemoryLayout<SymbolContext>.stride + slotCount * (MemoryLayout<BarBuilder>.stride + MemoryLayout<IndicatorSet>.stride)
            + sma.bytesPerSymbol + trend.bytesPerSymbol + meanReversion.bytesPerSymbol + reversal.bytesPerSymbol
            + vote.bytesPerSymbol + custom.bytesPerSymbol + 2 * MemoryLayout<Int>.stride
    }

    /// Bytes independent of the symbol count: outboxes and pairs state.
    public var fixedBytes: Int {
        signals.queue.capacity * MemoryLayout<SignalEvent>.stride + bars.capacity * MemoryLayout<BarEvent>.stride
            + pairs.reduce(0) { $0 + MemoryLayout<PairsTrading.State>.stride + $1.lookback * MemoryLayout<Double>.stride }
    }
}
