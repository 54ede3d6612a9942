// Event layouts carried by the rings. Every type here is fixed-size plain data whose
// layout crosses a process boundary (the writer maps the same memory), so:
// - fields are declared in offset order with natural alignment and explicit padding,
//   and `Tests/TicklineCoreTests/EventLayoutTests.swift` pins every size and offset;
// - enums are stored as their raw bytes (`sideRaw`), never as Swift enums, whose in-memory
//   tag is not the raw value; typed accessors decode them;
// - any change bumps `LayoutManifest.version`.
// Prices and quantities are fixed-point units at the decimals each event names.

/// The latency stamps of one event's path through the pipeline, all CLOCK_MONOTONIC ns
/// (0 = stage not reached). Copied forward from event to event so tick-to-order latency
/// can be measured at the end.
public struct TimestampChain: Sendable, BitwiseCopyable, Equatable {
    /// When the bytes were read from the socket (or the replay clock).
    public var socketReadNs: MonotonicNanos
    /// When the venue message became an event.
    public var decodedNs: MonotonicNanos
    /// When a strategy emitted a signal from it.
    public var signalNs: MonotonicNanos
    /// When pre-trade risk approved or denied it.
    public var riskDecidedNs: MonotonicNanos
    /// When the order reached the venue ring.
    public var orderSentNs: MonotonicNanos

    @inlinable
    public init(socketReadNs: MonotonicNanos = 0, decodedNs: MonotonicNanos = 0, signalNs: MonotonicNanos = 0, riskDecidedNs: MonotonicNanos = 0, orderSentNs: MonotonicNanos = 0) {
        self.socketReadNs = socketReadNs
        self.decodedNs = decodedNs
        self.signalNs = signalNs
        self.riskDecidedNs = riskDecidedNs
        self.orderSentNs = orderSentNs
    }
}

public enum MarketEventKind: UInt8, Sendable {
    /// A trade: `price`, `quantity`, `venueSequence` = trade id, flag `aggressorSold`.
    case trade = 1
    /// Best bid/ask from the venue's ticker: the bid/ask fields.
    case quote = 2
    /// Top of book from the local L2 book after a diff: the bid/ask fields, `venueSequence` = update id.
    case bookTop = 3
    /// No data for the configured time: trading this symbol must stop.
    case stale = 4
    /// Data flows again after `stale`.
    case fresh = 5
}

/// One market-data event (136 bytes). Producer: the feed stage. Consumers: strategy stage,
/// market-data journal. The venue sits after the timestamps, so the fields every consumer
/// reads keep their offsets within the first 128 bytes.
public struct MarketEvent: Sendable, BitwiseCopyable {
    /// Monotonic sequence assigned by the producer (per ring).
    public var sequence: UInt64
    public var instrument: InstrumentId
    public var kindRaw: UInt8
    /// Bit 0: the aggressor sold (Binance `m` = buyer is maker).
    public var flags: UInt8
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    public var price: Price
    public var quantity: Quantity
    public var bidPrice: Price
    public var bidQuantity: Quantity
    public var askPrice: Price
    public var askQuantity: Quantity
    /// Trade id or book update id, as the venue numbers them.
    public var venueSequence: UInt64
    /// The venue's own event time in ns since the epoch (0 when the venue gives none).
    public var venueTimeNs: WallNanos
    /// CLOCK_REALTIME at receive: the time stored points carry.
    public var receiveWallNs: WallNanos
    public var timestamps: TimestampChain
    /// The venue the instrument trades on.
    public var venue: VenueId
    public var reserved0: UInt16
    public var reserved1: UInt32

    public static let flagAggressorSold: UInt8 = 1

    @inlinable
    public init(sequence: UInt64 = 0, instrument: InstrumentId = 0, venue: VenueId = 0, kind: MarketEventKind = .trade, flags: UInt8 = 0,
                priceDecimals: UInt8 = 0, quantityDecimals: UInt8 = 0, price: Price = .zero, quantity: Quantity = .zero,
                bidPrice: Price = .zero, bidQuantity: Quantity = .zero, askPrice: Price = .zero, askQuantity: Quantity = .zero,
                venueSequence: UInt64 = 0, venueTimeNs: WallNanos = 0, receiveWallNs: WallNanos = 0, timestamps: TimestampChain = .init()) {
        self.sequence = sequence
        self.instrument = instrument
        self.kindRaw = kind.rawValue
        self.flags = flags
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.price = price
        self.quantity = quantity
        self.bidPrice = bidPrice
        self.bidQuantity = bidQuantity
        self.askPrice = askPrice
        self.askQuantity = askQuantity
        self.venueSequence = venueSequence
        self.venueTimeNs = venueTimeNs
        self.receiveWallNs = receiveWallNs
        self.timestamps = timestamps
        self.venue = venue
        self.reserved0 = 0
        self.reserved1 = 0
    }

    /// nil when the byte holds no known kind (a newer layout or a corrupt record).
    @inlinable public var kind: MarketEventKind? { MarketEventKind(rawValue: kindRaw) }
}

/// One price level of a depth snapshot.
public struct BookLevel: Sendable, BitwiseCopyable, Equatable {
    public var price: Price
    public var quantity: Quantity
    @inlinable public init(price: Price = .zero, quantity: Quantity = .zero) {
        self.price = price
        self.quantity = quantity
    }
}

/// Top of book and the top `DepthSnapshot.depth` levels per side after a book update
/// (384 bytes). Producer: the feed stage. Consumer: risk/execution (collar, marking, paper fills).
public struct DepthSnapshot: Sendable, BitwiseCopyable {
    public static let depth = 10

    public var sequence: UInt64
    public var instrument: InstrumentId
    /// Number of valid entries in `bids` / `asks` (≤ `depth`).
    public var bidLevels: UInt8
    public var askLevels: UInt8
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    /// The book's last applied update id.
    public var updateId: UInt64
    public var receiveWallNs: WallNanos
    public var venueTimeNs: WallNanos
    public var socketReadNs: MonotonicNanos
    public var decodedNs: MonotonicNanos
    /// The venue the instrument trades on.
    public var venue: VenueId
    public var reserved0: UInt16
    public var reserved1: UInt32
    /// Best first.
    public var bids: InlineArray<10, BookLevel>
    /// Best first.
    public var asks: InlineArray<10, BookLevel>

    @inlinable
    public init(sequence: UInt64 = 0, instrument: InstrumentId = 0, venue: VenueId = 0, priceDecimals: UInt8 = 0,
                quantityDecimals: UInt8 = 0) {
        self.sequence = sequence
        self.instrument = instrument
        self.bidLevels = 0
        self.askLevels = 0
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.updateId = 0
        self.receiveWallNs = 0
        self.venueTimeNs = 0
        self.socketReadNs = 0
        self.decodedNs = 0
        self.venue = venue
        self.reserved0 = 0
        self.reserved1 = 0
        self.bids = InlineArray(repeating: BookLevel())
        self.asks = InlineArray(repeating: BookLevel())
    }
}

/// Bar timeframes and the non-time bar kinds.
public enum BarKind: UInt8, Sendable {
    case seconds1 = 1, minutes1 = 2, minutes5 = 3, minutes15 = 4, hours1 = 5, days1 = 6
    case tick = 16, volume = 17
}

/// A closed bar (128 bytes). Producer: the strategy stage. Consumer: the bar journal.
public struct BarEvent: Sendable, BitwiseCopyable {
    public var sequence: UInt64
    public var instrument: InstrumentId
    public var kindRaw: UInt8
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    public var flags: UInt8
    public var startWallNs: WallNanos
    public var endWallNs: WallNanos
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    public var volume: Quantity
    public var tradeCount: UInt64
    /// The venue the instrument trades on.
    public var venue: VenueId
    public var reserved0: UInt16
    public var reserved1: UInt32
    public var reserved2: UInt64
    public var reserved3: UInt64
    public var reserved4: UInt64
    public var reserved5: UInt64
    public var reserved6: UInt64

    @inlinable
    public init(sequence: UInt64 = 0, instrument: InstrumentId = 0, venue: VenueId = 0, kind: BarKind = .minutes1, priceDecimals: UInt8 = 0,
                quantityDecimals: UInt8 = 0, startWallNs: WallNanos = 0, endWallNs: WallNanos = 0, open: Price = .zero,
                high: Price = .zero, low: Price = .zero, close: Price = .zero, volume: Quantity = .zero, tradeCount: UInt64 = 0) {
        self.sequence = sequence
        self.instrument = instrument
        self.kindRaw = kind.rawValue
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.flags = 0
        self.startWallNs = startWallNs
        self.endWallNs = endWallNs
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.tradeCount = tradeCount
        self.venue = venue
        self.reserved0 = 0
        self.reserved1 = 0
        self.reserved2 = 0
        self.reserved3 = 0
        self.reserved4 = 0
        self.reserved5 = 0
        self.reserved6 = 0
    }

    @inlinable public var kind: BarKind? { BarKind(rawValue: kindRaw) }
}

/// How a signal asks for its size.
public enum SignalSizing: UInt8, Sendable {
    /// `quantity` is the size.
    case quantity = 1
    /// Size from risk: `riskPartsPerMillion` of capital between entry and stop (0 = the configured default).
    case riskFraction = 2
}

/// How long a strategy means to hold: intraday positions are closed at the session end.
public enum Horizon: UInt8, Sendable {
    case intraday = 1
    case swing = 2
}

/// A strategy's trading intent (192 bytes). Producer: strategy stage. Consumers: risk, journal.
public struct SignalEvent: Sendable, BitwiseCopyable {
    public var sequence: UInt64
    public var instrument: InstrumentId
    public var strategy: StrategyId
    public var sideRaw: UInt8
    public var sizingRaw: UInt8
    public var quantity: Quantity
    /// The price the strategy saw when deciding (collar and risk sizing use it).
    public var entryPrice: Price
    /// Naive take-profit and stop-loss levels (0 = none).
    public var takeProfit: Price
    public var stopLoss: Price
    public var riskPartsPerMillion: UInt32
    /// 0…10,000 basis points.
    public var confidenceBasisPoints: UInt16
    public var horizonRaw: UInt8
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    /// Bit 0: an exit (reduce-only).
    public var flags: UInt8
    /// The venue the instrument trades on.
    public var venue: VenueId
    public var reserved1: UInt32
    /// The market event that triggered it.
    public var marketSequence: UInt64
    public var venueTimeNs: WallNanos
    public var receiveWallNs: WallNanos
    public var timestamps: TimestampChain
    /// Trailing stop of the position an entry opens: exit when the price comes back this far
    /// from its best since entry, in price units (0 = none). The strategy stage turns the
    /// configured ticks, percent or ATR multiple into this distance when it emits the entry.
    public var trailingDistance: Price
    /// Time stop of the position an entry opens: exit this long after it opened (0 = none).
    public var maxHoldNs: Nanos
    public var reserved2: UInt64
    public var reserved3: UInt64
    public var reserved4: UInt64
    public var reserved5: UInt64
    public var reserved6: UInt64
    public var reserved7: UInt64

    public static let flagReduceOnly: UInt8 = 1

    @inlinable
    public init(sequence: UInt64 = 0, instrument: InstrumentId = 0, venue: VenueId = 0, strategy: StrategyId = 0, side: Side = .buy,
                sizing: SignalSizing = .quantity, quantity: Quantity = .zero, entryPrice: Price = .zero,
                takeProfit: Price = .zero, stopLoss: Price = .zero, riskPartsPerMillion: UInt32 = 0,
                confidenceBasisPoints: UInt16 = 0, horizon: Horizon = .swing, priceDecimals: UInt8 = 0,
                quantityDecimals: UInt8 = 0, flags: UInt8 = 0, marketSequence: UInt64 = 0, venueTimeNs: WallNanos = 0,
                receiveWallNs: WallNanos = 0, timestamps: TimestampChain = .init(), trailingDistance: Price = .zero,
                maxHoldNs: Nanos = 0) {
        self.sequence = sequence
        self.instrument = instrument
        self.strategy = strategy
        self.sideRaw = side.rawValue
        self.sizingRaw = sizing.rawValue
        self.quantity = quantity
        self.entryPrice = entryPrice
        self.takeProfit = takeProfit
        self.stopLoss = stopLoss
        self.riskPartsPerMillion = riskPartsPerMillion
        self.confidenceBasisPoints = confidenceBasisPoints
        self.horizonRaw = horizon.rawValue
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.flags = flags
        self.venue = venue
        self.reserved1 = 0
        self.marketSequence = marketSequence
        self.venueTimeNs = venueTimeNs
        self.receiveWallNs = receiveWallNs
        self.timestamps = timestamps
        self.trailingDistance = trailingDistance
        self.maxHoldNs = maxHoldNs
        self.reserved2 = 0
        self.reserved3 = 0
        self.reserved4 = 0
        self.reserved5 = 0
        self.reserved6 = 0
        self.reserved7 = 0
    }

    @inlinable public var side: Side? { Side(rawValue: sideRaw) }
    @inlinable public var sizing: SignalSizing? { SignalSizing(rawValue: sizingRaw) }
    @inlinable public var horizon: Horizon? { Horizon(rawValue: horizonRaw) }
}

/// The pipeline stage that produced a record. With the record's venue and its `sequence`,
/// it is the record's identity: the writer recognises a record delivered twice by it. A
/// stage numbers its records either once for all venues (the risk stage's orders and risk
/// events, the strategy stage's signals) or once per venue (each paper venue of the
/// execution stage numbers its own reports from 1); either way the sequences of one stage
/// and venue increase in the order the records are published.
public enum StageId: UInt8, Sendable {
    case feed = 1
    case strategy = 2
    case risk = 3
    case execution = 4
}

/// A small integer id for a venue: the index of the venue in the engine's `venues:` list;
/// 0 = the first.
public typealias VenueId = UInt16

public enum OrderType: UInt8, Sendable {
    case market = 1
    case limit = 2
}

public enum TimeInForce: UInt8, Sendable {
    case goodTillCancel = 1
    case immediateOrCancel = 2
    case fillOrKill = 3
}

public enum OrderAction: UInt8, Sendable {
    case new = 1
    case cancel = 2
    /// A new limit price and open quantity for a resting order (named by `clientOrderId`).
    case replace = 3

    /// The name records use.
    public var label: StaticString {
        switch self {
        case .new: return "new"
        case .cancel: return "cancel"
        case .replace: return "replace"
        }
    }
}

/// An order request or cancel (192 bytes). Producer: risk stage. Consumers: execution, journal.
public struct OrderEvent: Sendable, BitwiseCopyable {
    /// Assigned by the risk stage, monotonic in the order orders are sent (identity with
    /// `stage` and `venue`).
    public var sequence: UInt64
    public var clientOrderId: UInt64
    public var instrument: InstrumentId
    public var strategy: StrategyId
    public var sideRaw: UInt8
    public var typeRaw: UInt8
    /// Limit price (0 for market orders).
    public var price: Price
    public var quantity: Quantity
    public var takeProfit: Price
    public var stopLoss: Price
    /// The signal it came from.
    public var signalSequence: UInt64
    public var timeInForceRaw: UInt8
    /// Bit 0: reduce-only (an exit).
    public var flags: UInt8
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    public var actionRaw: UInt8
    /// The producing stage (`StageId` raw; 0 in records written before it existed).
    public var stageRaw: UInt8
    /// The venue the order is for.
    public var venue: VenueId
    public var reserved2: UInt64
    public var receiveWallNs: WallNanos
    public var timestamps: TimestampChain
    /// The trailing stop the position an entry opens gets (its signal's; 0 = none).
    public var trailingDistance: Price
    /// The time stop the position an entry opens gets (its signal's; 0 = none).
    public var maxHoldNs: Nanos
    public var reserved3: UInt64
    public var reserved4: UInt64
    public var reserved5: UInt64
    public var reserved6: UInt64
    public var reserved7: UInt64
    public var reserved8: UInt64

    public static let flagReduceOnly: UInt8 = 1

    @inlinable
    public init(sequence: UInt64 = 0, clientOrderId: UInt64 = 0, instrument: InstrumentId = 0, strategy: StrategyId = 0,
                side: Side = .buy, type: OrderType = .market, price: Price = .zero, quantity: Quantity = .zero,
                takeProfit: Price = .zero, stopLoss: Price = .zero, signalSequence: UInt64 = 0,
                timeInForce: TimeInForce = .goodTillCancel, flags: UInt8 = 0, priceDecimals: UInt8 = 0,
                quantityDecimals: UInt8 = 0, action: OrderAction = .new, stage: StageId = .risk, venue: VenueId = 0,
                receiveWallNs: WallNanos = 0, timestamps: TimestampChain = .init(), trailingDistance: Price = .zero,
                maxHoldNs: Nanos = 0) {
        self.sequence = sequence
        self.clientOrderId = clientOrderId
        self.instrument = instrument
        self.strategy = strategy
        self.sideRaw = side.rawValue
        self.typeRaw = type.rawValue
        self.price = price
        self.quantity = quantity
        self.takeProfit = takeProfit
        self.stopLoss = stopLoss
        self.signalSequence = signalSequence
        self.timeInForceRaw = timeInForce.rawValue
        self.flags = flags
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.actionRaw = action.rawValue
        self.stageRaw = stage.rawValue
        self.venue = venue
        self.reserved2 = 0
        self.receiveWallNs = receiveWallNs
        self.timestamps = timestamps
        self.trailingDistance = trailingDistance
        self.maxHoldNs = maxHoldNs
        self.reserved3 = 0
        self.reserved4 = 0
        self.reserved5 = 0
        self.reserved6 = 0
        self.reserved7 = 0
        self.reserved8 = 0
    }

    @inlinable public var side: Side? { Side(rawValue: sideRaw) }
    @inlinable public var type: OrderType? { OrderType(rawValue: typeRaw) }
    @inlinable public var timeInForce: TimeInForce? { TimeInForce(rawValue: timeInForceRaw) }
    @inlinable public var action: OrderAction? { OrderAction(rawValue: actionRaw) }
    @inlinable public var stage: StageId? { StageId(rawValue: stageRaw) }
}

public enum Liquidity: UInt8, Sendable {
    case maker = 1
    case taker = 2
}

public enum OrderStatus: UInt8, Sendable, CaseIterable {
    case new = 1, accepted, partiallyFilled, filled, cancelled, rejected, expired

    /// The name records, counts and metrics use.
    public var label: StaticString {
        switch self {
        case .new: return "new"
        case .accepted: return "accepted"
        case .partiallyFilled: return "partially_filled"
        case .filled: return "filled"
        case .cancelled: return "cancelled"
        case .rejected: return "rejected"
        case .expired: return "expired"
        }
    }
}

/// A venue report (128 bytes): an execution (`quantity` > 0, a fill) or an order status
/// change (`quantity` 0: accepted, cancelled, expired, rejected). Producer: execution.
/// Consumers: risk (positions), journal.
public struct FillEvent: Sendable, BitwiseCopyable {
    /// Assigned by the producing stage, monotonic in the order reports are published
    /// (identity with `stage` and `venue`).
    public var sequence: UInt64
    public var clientOrderId: UInt64
    public var instrument: InstrumentId
    public var strategy: StrategyId
    public var sideRaw: UInt8
    public var liquidityRaw: UInt8
    public var price: Price
    public var quantity: Quantity
    /// Fee in quote-currency units at `priceDecimals`.
    public var fee: Int64
    public var leavesQuantity: Quantity
    /// The venue's trade id: fills are deduplicated on it.
    public var venueTradeId: UInt64
    public var statusRaw: UInt8
    public var flags: UInt8
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    /// The producing stage (`StageId` raw; 0 in records written before it existed).
    public var stageRaw: UInt8
    public var reserved0: UInt8
    /// The venue that reported it.
    public var venue: VenueId
    public var venueTimeNs: WallNanos
    public var receiveWallNs: WallNanos
    public var timestamps: TimestampChain

    @inlinable
    public init(sequence: UInt64 = 0, clientOrderId: UInt64 = 0, instrument: InstrumentId = 0, strategy: StrategyId = 0,
                side: Side = .buy, liquidity: Liquidity = .taker, price: Price = .zero, quantity: Quantity = .zero,
                fee: Int64 = 0, leavesQuantity: Quantity = .zero, venueTradeId: UInt64 = 0, status: OrderStatus = .filled,
                priceDecimals: UInt8 = 0, quantityDecimals: UInt8 = 0, stage: StageId = .execution, venue: VenueId = 0,
                venueTimeNs: WallNanos = 0, receiveWallNs: WallNanos = 0, timestamps: TimestampChain = .init()) {
        self.sequence = sequence
        self.clientOrderId = clientOrderId
        self.instrument = instrument
        self.strategy = strategy
        self.sideRaw = side.rawValue
        self.liquidityRaw = liquidity.rawValue
        self.price = price
        self.quantity = quantity
        self.fee = fee
        self.leavesQuantity = leavesQuantity
        self.venueTradeId = venueTradeId
        self.statusRaw = status.rawValue
        self.flags = 0
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.stageRaw = stage.rawValue
        self.reserved0 = 0
        self.venue = venue
        self.venueTimeNs = venueTimeNs
        self.receiveWallNs = receiveWallNs
        self.timestamps = timestamps
    }

    /// An execution (a fill), not a status change.
    @inlinable public var isExecution: Bool { quantity.units > 0 }
    @inlinable public var stage: StageId? { StageId(rawValue: stageRaw) }
    @inlinable public var side: Side? { Side(rawValue: sideRaw) }
    @inlinable public var liquidity: Liquidity? { Liquidity(rawValue: liquidityRaw) }
    @inlinable public var status: OrderStatus? { OrderStatus(rawValue: statusRaw) }
}

public enum RiskEventKind: UInt8, Sendable {
    case denial = 1
    case stateChange = 2
    case breakerTripped = 3
    case killSwitch = 4
    case overfill = 5
    case limitChanged = 6
    case stale = 7
}

public enum RiskScope: UInt8, Sendable {
    case global = 1
    case strategy = 2
    case symbol = 3
}

/// A risk decision or state transition (128 bytes): denials with their reason, trading-state
/// changes, breaker trips. `fromState`/`toState` are the state before and after for events
/// that change one (0 = none: denials, limit changes). Producer: risk stage. Consumer: journal. `reason` codes are
/// defined by the risk module.
public struct RiskEvent: Sendable, BitwiseCopyable {
    public var sequence: UInt64
    public var kindRaw: UInt8
    public var scopeRaw: UInt8
    public var reason: UInt16
    public var instrument: InstrumentId
    public var strategy: StrategyId
    public var fromStateRaw: UInt8
    public var toStateRaw: UInt8
    /// The venue it concerns (a denial: its signal's venue; 0 for events of no one venue).
    public var venue: VenueId
    public var reserved0: UInt16
    /// The signal or order it concerns.
    public var referenceSequence: UInt64
    /// The value that was checked, and the limit it was checked against (units per check).
    public var observed: Int64
    public var limit: Int64
    public var clientOrderId: UInt64
    public var reserved1: UInt64
    public var reserved2: UInt64
    public var venueTimeNs: WallNanos
    public var receiveWallNs: WallNanos
    public var timestamps: TimestampChain

    @inlinable
    public init(sequence: UInt64 = 0, kind: RiskEventKind = .denial, scope: RiskScope = .global, reason: UInt16 = 0,
                instrument: InstrumentId = 0, venue: VenueId = 0, strategy: StrategyId = 0, fromState: TradingState? = nil,
                toState: TradingState? = nil, referenceSequence: UInt64 = 0, observed: Int64 = 0, limit: Int64 = 0,
                clientOrderId: UInt64 = 0, venueTimeNs: WallNanos = 0, receiveWallNs: WallNanos = 0,
                timestamps: TimestampChain = .init()) {
        self.sequence = sequence
        self.kindRaw = kind.rawValue
        self.scopeRaw = scope.rawValue
        self.reason = reason
        self.instrument = instrument
        self.strategy = strategy
        self.fromStateRaw = fromState?.rawValue ?? 0
        self.toStateRaw = toState?.rawValue ?? 0
        self.venue = venue
        self.reserved0 = 0
        self.referenceSequence = referenceSequence
        self.observed = observed
        self.limit = limit
        self.clientOrderId = clientOrderId
        self.reserved1 = 0
        self.reserved2 = 0
        self.venueTimeNs = venueTimeNs
        self.receiveWallNs = receiveWallNs
        self.timestamps = timestamps
    }

    @inlinable public var kind: RiskEventKind? { RiskEventKind(rawValue: kindRaw) }
    @inlinable public var scope: RiskScope? { RiskScope(rawValue: scopeRaw) }
    @inlinable public var fromState: TradingState? { TradingState(rawValue: fromStateRaw) }
    @inlinable public var toState: TradingState? { TradingState(rawValue: toStateRaw) }
}

public enum TelemetryKind: UInt8, Sendable {
    /// `value` is a latency in ns for `stage`.
    case latency = 1
    /// `value` is a monotonically increasing count.
    case counter = 2
    /// `value` is a level (ring depth, equity units…).
    case gauge = 3
}

/// A latency sample or a counter/gauge reading (64 bytes). Producers: any stage. Consumer: journal.
public struct TelemetryRecord: Sendable, BitwiseCopyable {
    public var sequence: UInt64
    public var kindRaw: UInt8
    public var stage: UInt8
    public var metric: UInt16
    public var instrument: InstrumentId
    public var value: Int64
    public var wallNs: WallNanos
    public var monotonicNs: MonotonicNanos
    public var reserved0: UInt64
    public var reserved1: UInt64
    public var reserved2: UInt64

    @inlinable
    public init(sequence: UInt64 = 0, kind: TelemetryKind = .counter, stage: UInt8 = 0, metric: UInt16 = 0,
                instrument: InstrumentId = 0, value: Int64 = 0, wallNs: WallNanos = 0, monotonicNs: MonotonicNanos = 0) {
        self.sequence = sequence
        self.kindRaw = kind.rawValue
        self.stage = stage
        self.metric = metric
        self.instrument = instrument
        self.value = value
        self.wallNs = wallNs
        self.monotonicNs = monotonicNs
        self.reserved0 = 0
        self.reserved1 = 0
        self.reserved2 = 0
    }

    @inlinable public var kind: TelemetryKind? { TelemetryKind(rawValue: kindRaw) }
}

public enum ControlCommandKind: UInt8, Sendable {
    case halt = 1, reduce, resume, flatten, killSwitch
    // 16, 17 were subscribe/unsubscribe: those go to the feed as `FeedCommand` on `control.feed`.
    case setLimit = 32
    case shutdown = 48
}

/// A command from the control plane to the hot path (128 bytes). Producer: control plane.
/// Consumers: the stages it addresses.
public struct ControlCommand: Sendable, BitwiseCopyable {
    public static let maxSymbolBytes = 32
    /// `value` of a global `resume` that also lifts the latched kill switch; a resume
    /// without it is refused while the kill switch is engaged.
    public static let resumeLiftsKillSwitch: Int64 = 1

    public var sequence: UInt64
    public var kindRaw: UInt8
    public var scopeRaw: UInt8
    /// Which limit `setLimit` changes (codes defined by the risk module).
    public var limitId: UInt16
    public var instrument: InstrumentId
    public var strategy: StrategyId
    public var symbolLength: UInt8
    public var reserved0: UInt8
    public var reserved1: UInt32
    public var value: Int64
    public var issuedWallNs: WallNanos
    public var reserved2: UInt64
    /// Venue symbol bytes for subscribe/unsubscribe (`symbolLength` valid).
    public var symbol: InlineArray<32, UInt8>
    public var reserved3: UInt64
    public var reserved4: UInt64
    public var reserved5: UInt64
    public var reserved6: UInt64
    public var reserved7: UInt64
    public var reserved8: UInt64

    @inlinable
    public init(sequence: UInt64 = 0, kind: ControlCommandKind, scope: RiskScope = .global, limitId: UInt16 = 0,
                instrument: InstrumentId = 0, strategy: StrategyId = 0, value: Int64 = 0, issuedWallNs: WallNanos = 0) {
        self.sequence = sequence
        self.kindRaw = kind.rawValue
        self.scopeRaw = scope.rawValue
        self.limitId = limitId
        self.instrument = instrument
        self.strategy = strategy
        self.symbolLength = 0
        self.reserved0 = 0
        self.reserved1 = 0
        self.value = value
        self.issuedWallNs = issuedWallNs
        self.reserved2 = 0
        self.symbol = InlineArray(repeating: 0)
        self.reserved3 = 0
        self.reserved4 = 0
        self.reserved5 = 0
        self.reserved6 = 0
        self.reserved7 = 0
        self.reserved8 = 0
    }

    /// Sets the venue symbol (cold path: the control plane). Returns false when it is longer
    /// than `maxSymbolBytes`.
    public mutating func setSymbol(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maxSymbolBytes else { return false }
        for i in 0..<Self.maxSymbolBytes { symbol[i] = i < bytes.count ? bytes[i] : 0 }
        symbolLength = UInt8(bytes.count)
        return true
    }

    /// The venue symbol as text (cold path).
    public var symbolText: String {
        var bytes: [UInt8] = []
        for i in 0..<min(Int(symbolLength), Self.maxSymbolBytes) { bytes.append(symbol[i]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    @inlinable public var kind: ControlCommandKind? { ControlCommandKind(rawValue: kindRaw) }
    @inlinable public var scope: RiskScope? { RiskScope(rawValue: scopeRaw) }
}
