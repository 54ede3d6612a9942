import TicklineCore

/// Why a Binance message was not decoded. Each reason has its own counter
/// (`BinanceDecodeCounters`); the message is skipped, nothing traps.
public enum BinanceDecodeError: UInt8, CaseIterable, Sendable {
    /// The input ended inside a value.
    case truncated = 0
    /// A byte that cannot appear there in JSON.
    case syntax = 1
    /// The message is not a JSON object.
    case notAnObject = 2
    /// A known field holds the wrong JSON type (e.g. a number where a decimal string belongs).
    case wrongType = 3
    /// An id, time or code that is not an integer, is negative where it must not be, or overflows.
    case badNumber = 4
    /// A malformed decimal string, more fraction digits than the instrument's scale, or overflow.
    case badDecimal = 5
    /// A bad escape, a raw control character, or escaped text longer than the scratch space.
    case badString = 6
    /// The symbol is not in the instrument table (or `s` contradicts the stream name).
    case unknownSymbol = 7
    /// A well-formed event of a stream this decoder does not handle (e.g. `24hrTicker`).
    case unsupportedEvent = 8
    /// A well-formed object that matches no known schema.
    case unknownMessage = 9
    /// A known event without a field it needs.
    case missingField = 10
    /// More depth levels on one side than the level buffer holds.
    case tooManyLevels = 11
    /// An unknown value nested deeper than 64 levels.
    case nestingTooDeep = 12
    /// Bytes other than whitespace after the object.
    case trailingBytes = 13
    /// A market message naming no symbol (no `s`, no stream name) that no instrument may be
    /// assumed for: only a depth snapshot takes the caller's fallback instrument.
    case noSymbol = 14
}

/// Per-reason error counts and the count of decoded messages. Owned by the decoder's thread.
public struct BinanceDecodeCounters: Sendable {
    public internal(set) var decoded: UInt64 = 0
    var errors = InlineArray<15, UInt64>(repeating: 0)

    public init() {}

    /// Messages refused for `reason`.
    public subscript(reason: BinanceDecodeError) -> UInt64 { errors[Int(reason.rawValue)] }

    /// Messages refused for any reason.
    public var totalErrors: UInt64 {
        var total: UInt64 = 0
        for i in errors.indices { total &+= errors[i] }
        return total
    }

    @inline(__always)
    mutating func count(_ reason: BinanceDecodeError) { errors[Int(reason.rawValue)] &+= 1 }
}

/// What a Binance message turned out to be.
public enum BinanceMessageKind: UInt8, Sendable {
    case trade = 1
    case aggTrade = 2
    /// Spot shape (no `e`) or futures shape (`e`:"bookTicker" with `E`/`T`).
    case bookTicker = 3
    /// A diff: levels in the decoder's `bids`/`asks` buffers.
    case depthUpdate = 4
    /// REST `GET /api/v3/depth` or a partial-depth stream: levels in `bids`/`asks`.
    case depthSnapshot = 5
    /// `{"result":…,"id":…}`: reply to SUBSCRIBE/UNSUBSCRIBE (and the other control requests).
    case controlReply = 6
    /// `{"code":N,"msg":…,"id":…}`.
    case errorReply = 7
    /// `{"e":"serverShutdown"}`: reconnect now.
    case serverShutdown = 8
}

/// One decoded Binance message: fixed-size plain data, filled in place by `BinanceDecoder`.
/// Which fields are meaningful depends on `kind`; the others are zero. Depth levels are not
/// here but in the decoder's preallocated level buffers.
public struct BinanceMessage: Sendable, BitwiseCopyable {
    /// `BinanceMessageKind` raw value (stored as a byte so the struct stays plain data).
    public var kindRaw: UInt8 = 0
    /// nil only for a message that was never decoded.
    @inline(__always) public var kind: BinanceMessageKind? { BinanceMessageKind(rawValue: kindRaw) }
    /// Table position of the instrument (-1 when the message names none, e.g. a reply).
    public var instrumentIndex: Int32 = -1
    public var instrument: InstrumentId = 0
    public var priceDecimals: UInt8 = 0
    public var quantityDecimals: UInt8 = 0
    /// `m`: the buyer was the maker, so the aggressor sold.
    public var buyerIsMaker = false
    /// `pu` was present (futures diffs).
    public var hasPreviousFinalUpdateId = false
    /// `result` was null (success of SUBSCRIBE/UNSUBSCRIBE).
    public var resultIsNull = false
    /// The reply's `id` was a number (else a string or null; only numeric ids are kept).
    public var requestIdIsNumber = false
    /// `E` in the venue's unit (ms unless the URL asked for µs); 0 when absent.
    public var eventTime: UInt64 = 0
    /// `T` (trade or transaction time); 0 when absent.
    public var transactionTime: UInt64 = 0
    /// `T` when present, else `E`, in ns since the epoch (0 when neither).
    public var venueTimeNs: WallNanos = 0
    /// `t` for trades, `a` for aggregate trades.
    public var tradeId: UInt64 = 0
    /// `f`/`l` of an aggregate trade.
    public var firstTradeId: UInt64 = 0
    public var lastTradeId: UInt64 = 0
    public var price: Price = .zero
    public var quantity: Quantity = .zero
    public var bidPrice: Price = .zero
    public var bidQuantity: Quantity = .zero
    public var askPrice: Price = .zero
    public var askQuantity: Quantity = .zero
    /// `u` of a bookTicker or a diff; `lastUpdateId` of a snapshot.
    public var updateId: UInt64 = 0
    /// `U` of a diff.
    public var firstUpdateId: UInt64 = 0
    /// `pu` of a futures diff.
    public var previousFinalUpdateId: UInt64 = 0
    public var requestId: Int64 = 0
    public var errorCode: Int64 = 0

    public init() {}

    /// The market event for a trade, aggregate trade (kind `.trade`) or bookTicker (kind
    /// `.quote`); nil for the other kinds (depth goes through `OrderBook`).
    @inline(__always)
    public func marketEvent(sequence: UInt64, receiveWallNs: WallNanos, timestamps: TimestampChain) -> MarketEvent? {
        switch kind {
        case .trade, .aggTrade:
            return MarketEvent(
                sequence: sequence, instrument: instrument, kind: .trade,
                flags: buyerIsMaker ? MarketEvent.flagAggressorSold : 0,
                priceDecimals: priceDecimals, quantityDecimals: quantityDecimals, price: price, quantity: quantity,
                venueSequence: tradeId, venueTimeNs: venueTimeNs, receiveWallNs: receiveWallNs, timestamps: timestamps)
        case .bookTicker:
            return MarketEvent(
                sequence: sequence, instrument: instrument, kind: .quote, priceDecimals: priceDecimals,
                quantityDecimals: quantityDecimals, bidPrice: bidPrice, bidQuantity: bidQuantity, askPrice: askPrice,
                askQuantity: askQuantity, venueSequence: updateId, venueTimeNs: venueTimeNs,
                receiveWallNs: receiveWallNs, timestamps: timestamps)
        default:
            return nil
        }
    }
}
