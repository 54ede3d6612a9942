import TicklineCore
import TicklineIndicators

/// How a strategy's signals ask for their size.
public enum StrategySizing: Sendable, Equatable {
    /// A fixed size in quantity units of the instrument.
    case quantity(units: Int64)
    /// Sized by risk: `partsPerMillion` of capital between entry and stop (0 = risk's default).
    case riskFraction(partsPerMillion: UInt32)
}

/// How far a trailing stop stays behind the best price since entry.
public enum TrailingDistance: Sendable, Equatable {
    /// Whole ticks of the instrument.
    case ticks(Int64)
    /// Percent of the entry price.
    case percent(Double)
    /// A multiple of the ATR (14) of the strategy's bars when it enters.
    case atr(Double)
}

/// The exits every position a strategy opens gets besides its own take-profit and stop-loss.
public struct StrategyExits: Sendable, Equatable {
    /// nil: no trailing stop.
    public var trailing: TrailingDistance?
    /// Time stop: the position is closed this long after it opened (0: none).
    public var maxHoldNs: Nanos

    public init(trailing: TrailingDistance? = nil, maxHoldNs: Nanos = 0) {
        self.trailing = trailing
        self.maxHoldNs = maxHoldNs
    }
}

/// What every strategy instance has, whatever its type: its id, the bars it reads, the
/// symbols it trades, how it sizes, its horizon and its exits.
public struct StrategyCommon: Sendable, Equatable {
    public var id: StrategyId
    /// The bars the strategy reads (must be one of the bars the engine builds).
    public var timeframe: BarKind
    /// Instrument ids it trades; nil = every symbol (pairs name their legs instead).
    public var symbols: [InstrumentId]?
    public var sizing: StrategySizing
    public var horizon: Horizon
    public var exits: StrategyExits

    public init(id: StrategyId, timeframe: BarKind = .minutes1, symbols: [InstrumentId]? = nil,
                sizing: StrategySizing = .riskFraction(partsPerMillion: 0), horizon: Horizon = .swing,
                exits: StrategyExits = StrategyExits()) {
        self.id = id
        self.timeframe = timeframe
        self.symbols = symbols
        self.sizing = sizing
        self.horizon = horizon
        self.exits = exits
    }
}

/// A strategy's decision on one event: the engine turns it into a `SignalEvent` (symbol,
/// strategy id, sizing, timestamp chain, sequence numbers).
public struct StrategyDecision: Sendable, Equatable {
    public var side: Side
    /// The price the decision was made at (normally the bar close).
    public var entry: Double
    /// Naive take-profit and stop-loss levels (0 = none).
    public var takeProfit: Double
    public var stopLoss: Double
    /// 0…1.
    public var confidence: Double
    /// An exit: reduce the position only.
    public var reduceOnly: Bool

    @inlinable
    public init(side: Side, entry: Double, takeProfit: Double, stopLoss: Double, confidence: Double, reduceOnly: Bool = false) {
        self.side = side
        self.entry = entry
        self.takeProfit = takeProfit
        self.stopLoss = stopLoss
        self.confidence = confidence
        self.reduceOnly = reduceOnly
    }

    /// A bracket `risk` away from `entry` on the stop side and `risk × rewardRisk` on the
    /// profit side. When `risk` is not a positive number (e.g. ATR not ready or 0 on a flat
    /// series) it falls back to 0.5 % of the entry.
    @inlinable
    public static func bracket(side: Side, entry: Double, risk: Double, rewardRisk: Double, confidence: Double) -> StrategyDecision {
        let distance = risk > 0 && risk.isFinite ? risk : abs(entry) * 0.005
        let sign: Double = side == .buy ? 1 : -1
        return StrategyDecision(side: side, entry: entry, takeProfit: entry + sign * distance * rewardRisk,
                                stopLoss: entry - sign * distance, confidence: min(max(confidence, 0), 1))
    }
}

/// A single-symbol strategy, specialised at compile time: the engine holds each strategy
/// type in a `StrategyBank<S>` and calls it through generics, so there is no existential
/// call per event. The conforming value holds the (immutable) parameters of one instance;
/// `State` is its per-symbol state, made once per symbol at start (allocate there) and
/// mutated in place. Calls must not allocate.
public protocol SymbolStrategy: Sendable, Equatable {
    associatedtype State: Sendable
    var common: StrategyCommon { get }
    /// Whether `onTrade`/`onQuote` do anything (the engine skips the calls when false).
    static var readsTicks: Bool { get }
    /// The initial per-symbol state (cold path: may allocate).
    func makeState() -> State
    /// A bar of `common.timeframe` closed; `indicators` are that bar series' standard set,
    /// already updated with it.
    func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout State) -> StrategyDecision?
    /// A trade of the symbol (prices as Double).
    func onTrade(price: Double, quantity: Double, state: inout State) -> StrategyDecision?
    /// A best bid/ask of the symbol.
    func onQuote(bid: Double, ask: Double, state: inout State) -> StrategyDecision?
    /// Bytes of heap one `State` owns (for the memory report).
    func heapBytesPerState() -> Int
}

extension SymbolStrategy {
    public static var readsTicks: Bool { false }
    @inlinable public func onTrade(price: Double, quantity: Double, state: inout State) -> StrategyDecision? { nil }
    @inlinable public func onQuote(bid: Double, ask: Double, state: inout State) -> StrategyDecision? { nil }
    public func heapBytesPerState() -> Int { 0 }
}

/// The placeholder for "no custom strategy": `StrategyEngine<NoCustomStrategy>` runs the
/// built-ins only. It is never instantiated by the engine (no instances).
public struct NoCustomStrategy: SymbolStrategy {
    public typealias State = Void
    public var common: StrategyCommon { StrategyCommon(id: 0) }
    public init() {}
    public func makeState() {}
    @inlinable
    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout Void) -> StrategyDecision? { nil }
}

/// A first-in first-out queue over a buffer allocated once. Owned by one thread; `append`
/// and `removeFirst` are O(1) and never allocate.
public struct FixedQueue<Element: BitwiseCopyable & Sendable>: Sendable {
    @usableFromInline var storage: [Element]
    @usableFromInline var head: Int
    @usableFromInline var _count: Int
    public var count: Int { _count }

    /// A queue of `capacity` slots, filled with `filler`. Traps if `capacity` < 1.
    public init(capacity: Int, filler: Element) {
        precondition(capacity >= 1, "FixedQueue capacity \(capacity) must be at least 1")
        storage = [Element](repeating: filler, count: capacity)
        head = 0
        _count = 0
    }

    @inlinable public var capacity: Int { storage.count }
    @inlinable public var freeSlots: Int { storage.count - count }
    @inlinable public var isEmpty: Bool { count == 0 }

    /// Appends; returns false (and keeps nothing) when full.
    @inlinable
    public mutating func append(_ element: Element) -> Bool {
        guard count < storage.count else { return false }
        var slot = head + count
        if slot >= storage.count { slot -= storage.count }
        storage[slot] = element
        _count += 1
        return true
    }

    /// The oldest element, or nil.
    @inlinable
    public var first: Element? { count > 0 ? storage[head] : nil }

    /// Drops the oldest element. Traps when empty.
    @inlinable
    public mutating func removeFirst() {
        precondition(count > 0, "FixedQueue.removeFirst on an empty queue")
        head = head + 1 == storage.count ? 0 : head + 1
        _count -= 1
    }

    /// The `offset`-th oldest element. Traps past `count`.
    @inlinable
    public subscript(offset: Int) -> Element {
        get { storage[slot(offset)] }
        set { storage[slot(offset)] = newValue }
    }

    /// The storage index of the `offset`-th oldest element. Traps past `count`.
    @inlinable
    func slot(_ offset: Int) -> Int {
        precondition(offset >= 0 && offset < count, "FixedQueue offset \(offset) out of range 0..<\(count)")
        let slot = head + offset
        return slot >= storage.count ? slot - storage.count : slot
    }

    /// Empties the queue.
    @inlinable
    public mutating func removeAll() {
        head = 0
        _count = 0
    }
}

/// What a signal copies from the market event that caused it.
public struct SignalOrigin: Sendable, BitwiseCopyable {
    public var instrument: InstrumentId
    /// The venue the instrument trades on (from the settings, not the event).
    public var venue: VenueId
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    public var priceScale: Double
    /// The instrument's tick in price units (trailing stops in ticks).
    public var tickUnits: Int64
    public var marketSequence: UInt64
    public var venueTimeNs: WallNanos
    public var receiveWallNs: WallNanos
    public var timestamps: TimestampChain

    @inlinable
    public init(instrument: InstrumentId = 0, venue: VenueId = 0, priceDecimals: UInt8 = 0, quantityDecimals: UInt8 = 0,
                priceScale: Double = 1, tickUnits: Int64 = 1, marketSequence: UInt64 = 0, venueTimeNs: WallNanos = 0,
                receiveWallNs: WallNanos = 0, timestamps: TimestampChain = .init()) {
        self.instrument = instrument
        self.venue = venue
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.priceScale = priceScale
        self.tickUnits = tickUnits
        self.marketSequence = marketSequence
        self.venueTimeNs = venueTimeNs
        self.receiveWallNs = receiveWallNs
        self.timestamps = timestamps
    }
}

/// Signals waiting to be pushed to the signals ring: a preallocated queue that is never
/// allowed to overflow (the engine checks for room before it processes an event).
/// Owned by one thread.
public struct SignalOutbox: Sendable {
    public var queue: FixedQueue<SignalEvent>
    /// The next `SignalEvent.sequence`.
    @usableFromInline var _nextSequence: UInt64
    public var nextSequence: UInt64 { _nextSequence }
    /// Signals emitted so far.
    @usableFromInline var _emitted: UInt64
    public var emitted: UInt64 { _emitted }
    /// Decisions refused for a value no signal can carry (see `emit`).
    @usableFromInline var _refused: UInt64
    public var refused: UInt64 { _refused }

    public init(capacity: Int) {
        queue = FixedQueue(capacity: capacity, filler: SignalEvent())
        _nextSequence = 1
        _emitted = 0
        _refused = 0
    }

    /// Turns `decision` into a signal of `common`'s strategy for `origin`, stamped `nowNs`;
    /// an entry carries the strategy's exits (the trailing distance in price units, from
    /// ticks, percent of the entry or `atr` × the multiple). A decision with a value no signal
    /// can carry (confidence outside 0…1 or NaN, an entry that is not a positive price, a
    /// negative or non-finite take-profit or stop-loss, a price outside Int64 units, or a
    /// trailing distance that is not at least one price unit, e.g. with the ATR not ready) is
    /// refused and counted in `refused`. Traps when the queue is full (the engine reserves
    /// room first: a signal is never dropped).
    @inlinable
    public mutating func emit(_ decision: StrategyDecision, common: StrategyCommon, origin: SignalOrigin, nowNs: MonotonicNanos,
                              atr: Double = .nan) {
        let scale = origin.priceScale
        // A hair above 1 is rounding in a strategy's arithmetic, not a bad value.
        guard decision.confidence >= 0 && decision.confidence <= 1.000_001,
              let entry = Self.checkedUnits(decision.entry, scale), entry > 0,
              let takeProfit = Self.checkedUnits(decision.takeProfit, scale), takeProfit >= 0,
              let stopLoss = Self.checkedUnits(decision.stopLoss, scale), stopLoss >= 0 else {
            _refused &+= 1
            return
        }
        var trailing: Int64 = 0
        if !decision.reduceOnly, let t = common.exits.trailing {
            // An entry that asks for a trailing stop goes out with one or not at all.
            guard let units = Self.trailingUnits(t, entryUnits: entry, tickUnits: origin.tickUnits, atr: atr, scale: scale),
                  units > 0 else {
                _refused &+= 1
                return
            }
            trailing = units
        }
        var timestamps = origin.timestamps
        timestamps.signalNs = nowNs
        var signal = SignalEvent(
            sequence: nextSequence, instrument: origin.instrument, venue: origin.venue, strategy: common.id, side: decision.side,
            entryPrice: Price(units: entry), takeProfit: Price(units: takeProfit), stopLoss: Price(units: stopLoss),
            confidenceBasisPoints: UInt16((min(decision.confidence, 1) * 10_000).rounded()),
            horizon: common.horizon, priceDecimals: origin.priceDecimals, quantityDecimals: origin.quantityDecimals,
            flags: decision.reduceOnly ? SignalEvent.flagReduceOnly : 0, marketSequence: origin.marketSequence,
            venueTimeNs: origin.venueTimeNs, receiveWallNs: origin.receiveWallNs, timestamps: timestamps,
            trailingDistance: Price(units: trailing), maxHoldNs: decision.reduceOnly ? 0 : common.exits.maxHoldNs)
        switch common.sizing {
        case .quantity(let units):
            signal.sizingRaw = SignalSizing.quantity.rawValue
            signal.quantity = Quantity(units: units)
        case .riskFraction(let ppm):
            signal.sizingRaw = SignalSizing.riskFraction.rawValue
            signal.riskPartsPerMillion = ppm
        }
        let appended = queue.append(signal)
        precondition(appended, "SignalOutbox full (capacity \(queue.capacity)): the engine must reserve room before processing")
        _nextSequence &+= 1
        _emitted &+= 1
    }

    /// A trailing distance in price units; nil when it cannot be computed (an ATR not ready,
    /// an overflow).
    @inlinable
    static func trailingUnits(_ t: TrailingDistance, entryUnits: Int64, tickUnits: Int64, atr: Double, scale: Double) -> Int64? {
        switch t {
        case .ticks(let n):
            let (units, overflow) = n.multipliedReportingOverflow(by: max(tickUnits, 1))
            return overflow ? nil : units
        case .percent(let p):
            return checkedUnits(Double(entryUnits) * p / 100, 1)
        case .atr(let multiple):
            guard atr.isFinite, atr > 0 else { return nil }
            return checkedUnits(atr * multiple, scale)
        }
    }

    /// A price in units; nil for NaN, infinities or values outside Int64.
    @inlinable
    static func checkedUnits(_ value: Double, _ scale: Double) -> Int64? {
        let scaled = (value * scale).rounded()
        guard scaled.isFinite, scaled > -9.2e18, scaled < 9.2e18 else { return nil }
        return Int64(scaled)
    }
}

/// Every instance of one single-symbol strategy type with its per-symbol state: instance i
/// on symbol s keeps `states[i * symbolCount + s]`, made at init. Owned by one thread.
public struct StrategyBank<S: SymbolStrategy>: Sendable {
    public let instances: [S]
    /// The bar slot each instance reads (index into the engine's bar slots).
    @usableFromInline let slots: [Int]
    @usableFromInline var enabled: [Bool]
    @usableFromInline var states: [S.State]
    public let symbolCount: Int

    /// Allocates the state of every (instance, symbol). `slotOf` maps a timeframe to the
    /// engine's bar slot; traps when an instance names a symbol ≥ `symbolCount`.
    public init(instances: [S], symbolCount: Int, slotOf: (BarKind) -> Int) {
        self.instances = instances
        self.symbolCount = symbolCount
        slots = instances.map { slotOf($0.common.timeframe) }
        var enabled = [Bool](repeating: false, count: instances.count * symbolCount)
        var states: [S.State] = []
        states.reserveCapacity(instances.count * symbolCount)
        for (i, instance) in instances.enumerated() {
            if let symbols = instance.common.symbols {
                for s in symbols {
                    precondition(Int(s) < symbolCount, "strategy \(instance.common.id): symbol \(s) >= symbol count \(symbolCount)")
                    enabled[i * symbolCount + Int(s)] = true
                }
            } else {
                for s in 0..<symbolCount { enabled[i * symbolCount + s] = true }
            }
            for _ in 0..<symbolCount { states.append(instance.makeState()) }
        }
        self.enabled = enabled
        self.states = states
    }

    /// How many signals one call of `onBar` (one closed bar) can emit at most.
    @inlinable public var maxSignalsPerBar: Int { instances.count }

    /// A bar of `slot` closed for `symbol`: runs every enabled instance reading that slot.
    @inlinable
    public mutating func onBar(slot: Int, symbol: Int, bar: OHLCVBar, indicators: borrowing IndicatorSet,
                               origin: SignalOrigin, nowNs: MonotonicNanos, enabledToSignal: Bool, outbox: inout SignalOutbox) {
        for i in 0..<instances.count where slots[i] == slot && enabled[i * symbolCount + symbol] {
            let instance = instances[i]
            if let decision = instance.onBar(bar, indicators: indicators, state: &states[i * symbolCount + symbol]), enabledToSignal {
                outbox.emit(decision, common: instance.common, origin: origin, nowNs: nowNs, atr: indicators.atr.value)
            }
        }
    }

    /// A trade of `symbol` (skipped entirely unless `S.readsTicks`).
    @inlinable
    /// `indicators[base + slot]`: the symbol's indicators of each bar slot (the ATR a
    /// trailing stop in ATR multiples is taken from).
    public mutating func onTrade(symbol: Int, price: Double, quantity: Double, origin: SignalOrigin, nowNs: MonotonicNanos,
                                 enabledToSignal: Bool, indicators: borrowing [IndicatorSet], base: Int, outbox: inout SignalOutbox) {
        guard S.readsTicks else { return }
        for i in 0..<instances.count where enabled[i * symbolCount + symbol] {
            let instance = instances[i]
            if let decision = instance.onTrade(price: price, quantity: quantity, state: &states[i * symbolCount + symbol]), enabledToSignal {
                outbox.emit(decision, common: instance.common, origin: origin, nowNs: nowNs, atr: indicators[base + slots[i]].atr.value)
            }
        }
    }

    /// A best bid/ask of `symbol` (skipped entirely unless `S.readsTicks`).
    @inlinable
    public mutating func onQuote(symbol: Int, bid: Double, ask: Double, origin: SignalOrigin, nowNs: MonotonicNanos,
                                 enabledToSignal: Bool, indicators: borrowing [IndicatorSet], base: Int, outbox: inout SignalOutbox) {
        guard S.readsTicks else { return }
        for i in 0..<instances.count where enabled[i * symbolCount + symbol] {
            let instance = instances[i]
            if let decision = instance.onQuote(bid: bid, ask: ask, state: &states[i * symbolCount + symbol]), enabledToSignal {
                outbox.emit(decision, common: instance.common, origin: origin, nowNs: nowNs, atr: indicators[base + slots[i]].atr.value)
            }
        }
    }

    /// Bytes this bank holds per symbol: inline state plus the heap each state owns.
    public var bytesPerSymbol: Int {
        instances.reduce(0) { $0 + MemoryLayout<S.State>.stride + $1.heapBytesPerState() + MemoryLayout<Bool>.stride }
    }
}
