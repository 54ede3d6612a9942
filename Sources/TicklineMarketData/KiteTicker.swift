// Zerodha Kite Connect v3 ticker: binary market-data messages and JSON text frames
// (Kite's documented packet layouts). Pure and allocation-free per message: the framing is walked over a
// `Span<UInt8>` and ticks are written into storage the caller allocated up front.
import TicklineCore

// MARK: - Packets

/// The packet kinds of a binary message; Kite identifies them by their length alone.
public enum KitePacketKind: UInt8, Sendable, CaseIterable {
    /// 8 bytes: token, last price.
    case ltp = 1
    /// 28 bytes: an index with last price, high, low, open, close, change.
    case indexQuote = 2
    /// 32 bytes: an index quote plus the exchange timestamp.
    case indexFull = 3
    /// 44 bytes: last trade, average price, volume, buy/sell totals, OHLC.
    case quote = 4
    /// 184 bytes: a quote plus timestamps, open interest and 5 + 5 depth levels.
    case full = 5

    /// The kind a packet of `length` bytes carries, or nil for a length Kite does not define.
    @inlinable
    public init?(packetLength length: Int) {
        switch length {
        case 8: self = .ltp
        case 28: self = .indexQuote
        case 32: self = .indexFull
        case 44: self = .quote
        case 184: self = .full
        default: return nil
        }
    }

    /// The packet's length on the wire.
    @inlinable
    public var packetLength: Int {
        switch self {
        case .ltp: 8
        case .indexQuote: 28
        case .indexFull: 32
        case .quote: 44
        case .full: 184
        }
    }
}

/// Kite's price scale for an instrument: the exchange segment is the low byte of the token.
public enum KitePriceScale {
    /// Segment numbers whose wire prices are not in paise (see `priceDecimals`).
    public static let currencySegment: UInt32 = 3  // CDS
    public static let bseCurrencySegment: UInt32 = 6  // BCD
    /// Indices: not tradable.
    public static let indicesSegment: UInt32 = 9

    /// Decimals of the fixed-point prices of `token`: wire prices are integers at this scale,
    /// so no division is needed. CDS divides by 10^7, BCD by 10^4 (as pykiteconnect does),
    /// everything else by 100 (paise).
    @inlinable
    public static func priceDecimals(token: UInt32) -> UInt8 {
        switch token & 0xFF {
        case currencySegment: 7
        case bseCurrencySegment: 4
        default: 2
        }
    }
}

/// One level of full-mode market depth, as on the wire.
public struct KiteDepthLevel: Sendable, BitwiseCopyable, Equatable {
    public var quantity: UInt32
    /// Fixed-point units at the tick's `priceDecimals`.
    public var price: Int64
    public var orders: UInt16

    @inlinable
    public init(quantity: UInt32 = 0, price: Int64 = 0, orders: UInt16 = 0) {
        self.quantity = quantity
        self.price = price
        self.orders = orders
    }
}

/// One decoded packet. Fields the packet's kind does not carry are 0. Prices are fixed-point
/// units at `priceDecimals` (the wire's own integers); times are epoch seconds.
/// Kite ticks are snapshots, not trade prints: the same last trade repeats until
/// `volumeTraded` moves.
public struct KiteTick: Sendable, BitwiseCopyable {
    public static let depthLevels = 5

    public var kindRaw: UInt8
    public var priceDecimals: UInt8
    /// Depth levels present (leading levels with a non-zero quantity), ≤ 5 each.
    public var bidLevels: UInt8
    public var askLevels: UInt8
    public var instrumentToken: UInt32
    public var lastPrice: Int64
    public var lastQuantity: Int64
    public var averagePrice: Int64
    public var volumeTraded: Int64
    public var totalBuyQuantity: Int64
    public var totalSellQuantity: Int64
    public var open: Int64
    public var high: Int64
    public var low: Int64
    /// The previous day's close.
    public var close: Int64
    /// Index packets only: the price change the exchange sends (signed).
    public var indexChange: Int64
    public var lastTradeTime: Int64
    public var openInterest: Int64
    public var openInterestDayHigh: Int64
    public var openInterestDayLow: Int64
    public var exchangeTime: Int64
    /// Best first.
    public var bids: InlineArray<5, KiteDepthLevel>
    /// Best first.
    public var asks: InlineArray<5, KiteDepthLevel>

    @inlinable
    public init() {
        kindRaw = 0
        priceDecimals = 2
        bidLevels = 0
        askLevels = 0
        instrumentToken = 0
        lastPrice = 0
        lastQuantity = 0
        averagePrice = 0
        volumeTraded = 0
        totalBuyQuantity = 0
        totalSellQuantity = 0
        open = 0
        high = 0
        low = 0
        close = 0
        indexChange = 0
        lastTradeTime = 0
        openInterest = 0
        openInterestDayHigh = 0
        openInterestDayLow = 0
        exchangeTime = 0
        bids = InlineArray(repeating: KiteDepthLevel())
        asks = InlineArray(repeating: KiteDepthLevel())
    }

    @inlinable public var kind: KitePacketKind? { KitePacketKind(rawValue: kindRaw) }
    /// The exchange segment (nse = 1 … indices = 9).
    @inlinable public var segment: UInt8 { UInt8(truncatingIfNeeded: instrumentToken) }
    @inlinable public var isTradable: Bool { instrumentToken & 0xFF != KitePriceScale.indicesSegment }
}

// MARK: - Errors and results

/// Why a binary message (or one packet of it) was not decoded.
public enum KiteDecodeError: UInt8, Sendable, CaseIterable {
    /// Fewer than 2 bytes where a packet length was due: the packet count promised more
    /// packets than the message holds. The whole message is dropped.
    case truncatedPacketHeader = 1
    /// A packet's length runs past the end of the message. The whole message is dropped.
    case packetOverrunsMessage = 2
    /// Bytes remain after the announced packets: the count is too small. The whole message is dropped.
    case trailingBytes = 3
    /// A packet length Kite does not define: that packet is skipped, the others are kept.
    case unknownPacketLength = 4
    /// The caller's storage cannot hold every packet of the message. The whole message is dropped.
    case storageFull = 5
    /// The instrument lookup does not know the token: that packet is skipped.
    case unknownInstrument = 6
}

/// What one binary message produced.
public enum KiteBinaryOutcome: Sendable, Equatable {
    /// A message shorter than 2 bytes: the server's keep-alive.
    case heartbeat
    /// `decoded` packets were written; `skipped` packets were dropped for a per-packet
    /// reason (unknown length or instrument), each counted.
    case decoded(decoded: Int, skipped: Int)
    /// The framing is broken: nothing from the message was written.
    case rejected(KiteDecodeError)
}

/// Decoder statistics. Owned by the decoder's thread; read them from that thread (or copy out).
public struct KiteDecoderCounters: Sendable, Equatable {
    public var binaryMessages: UInt64 = 0
    public var heartbeats: UInt64 = 0
    public var textMessages: UInt64 = 0
    /// Packets decoded, by `KitePacketKind.rawValue` (index 0 unused).
    public var packets: InlineArray<6, UInt64> = InlineArray(repeating: 0)
    /// Errors, by `KiteDecodeError.rawValue` (index 0 unused).
    public var errors: InlineArray<7, UInt64> = InlineArray(repeating: 0)
    /// Text messages, by `KiteTextKind.rawValue` (index 0 unused).
    public var texts: InlineArray<6, UInt64> = InlineArray(repeating: 0)

    public init() {}

    @inlinable public func packets(_ kind: KitePacketKind) -> UInt64 { packets[Int(kind.rawValue)] }
    @inlinable public func errors(_ reason: KiteDecodeError) -> UInt64 { errors[Int(reason.rawValue)] }
    @inlinable public func texts(_ kind: KiteTextKind) -> UInt64 { texts[Int(kind.rawValue)] }

    public static func == (a: Self, b: Self) -> Bool {
        guard a.binaryMessages == b.binaryMessages, a.heartbeats == b.heartbeats, a.textMessages == b.textMessages
        else { return false }
        for i in 0..<6 where a.packets[i] != b.packets[i] || a.texts[i] != b.texts[i] { return false }
        for i in 0..<7 where a.errors[i] != b.errors[i] { return false }
        return true
    }
}

// MARK: - Where decoded packets go

/// A destination for decoded ticks: a preallocated buffer the decoder fills without calling
/// back into user code. The decoder checks `freeCapacity` for the whole message before it
/// writes, so a message lands entirely or not at all.
public protocol KiteTickSink {
    /// How many more ticks fit.
    var freeCapacity: Int { get }
    /// Stores one tick. Returns false (and counts `unknownInstrument`) when the sink cannot
    /// place it, e.g. its instrument is unknown. Never called beyond `freeCapacity`.
    mutating func append(_ tick: KiteTick) -> Bool
}

/// Ticks in caller-owned storage, allocated once in `init` and reused (`removeAll`).
/// Owned by one thread.
public struct KiteTickBuffer: KiteTickSink {
    var storage: [KiteTick]
    public private(set) var count: Int = 0

    /// Allocates room for `capacity` ticks (Kite allows 3000 instruments per connection).
    public init(capacity: Int) {
        precondition(capacity > 0, "KiteTickBuffer capacity \(capacity) must be positive")
        storage = Array(repeating: KiteTick(), count: capacity)
    }

    public var capacity: Int { storage.count }
    public var freeCapacity: Int { storage.count - count }
    public subscript(index: Int) -> KiteTick {
        precondition(index < count, "tick \(index) out of \(count)")
        return storage[index]
    }
    public mutating func removeAll() { count = 0 }

    public mutating func append(_ tick: KiteTick) -> Bool {
        storage[count] = tick
        count += 1
        return true
    }
}

// MARK: - Decoder

/// Decodes Kite ticker messages and counts every outcome. Stateless apart from its counters;
/// one instance per connection, owned by that connection's thread.
public struct KiteTickerDecoder: Sendable {
    public private(set) var counters = KiteDecoderCounters()

    public init() {}

    /// Decodes one binary WebSocket message into `sink`.
    ///
    /// The framing is validated before anything is written: a broken frame (`rejected`)
    /// leaves `sink` untouched. A packet with an unknown length is skipped and counted, as
    /// a newer packet kind would be. Never traps on any input.
    ///
    /// Allocation-free: `decodePacket` is checked by `@_noAllocation`; this generic framing
    /// loop is not (the checker rejects the unspecialised `Sink` in debug builds), and the
    /// sinks write into arrays allocated in their `init`.
    public mutating func decodeBinary<Sink: KiteTickSink>(_ message: Span<UInt8>, into sink: inout Sink) -> KiteBinaryOutcome {
        counters.binaryMessages &+= 1
        // "Ignore any binary message shorter than 2 bytes" (the heartbeat is 1 byte).
        if message.count < 2 {
            counters.heartbeats &+= 1
            return .heartbeat
        }
        let packetCount = Int(Self.uint16(message, 0))

        // Pass 1: the lengths must tile the message exactly.
        var offset = 2
        var known = 0
        for _ in 0..<packetCount {
            guard message.count - offset >= 2 else { return reject(.truncatedPacketHeader) }
            let length = Int(Self.uint16(message, offset))
            offset += 2
            guard message.count - offset >= length else { return reject(.packetOverrunsMessage) }
            if KitePacketKind(packetLength: length) != nil { known += 1 }
            offset += length
        }
        guard offset == message.count else { return reject(.trailingBytes) }
        guard known <= sink.freeCapacity else { return reject(.storageFull) }

        // Pass 2: decode, all bounds already proven.
        offset = 2
        var decoded = 0
        var skipped = 0
        var tick = KiteTick()
        for _ in 0..<packetCount {
            let length = Int(Self.uint16(message, offset))
            offset += 2
            if let kind = KitePacketKind(packetLength: length) {
                Self.decodePacket(message, at: offset, kind: kind, into: &tick)
                if sink.append(tick) {
                    counters.packets[Int(kind.rawValue)] &+= 1
                    decoded += 1
                } else {
                    count(.unknownInstrument)
                    skipped += 1
                }
            } else {
                count(.unknownPacketLength)
                skipped += 1
            }
            offset += length
        }
        return .decoded(decoded: decoded, skipped: skipped)
    }

    /// Classifies one text WebSocket message (order postback, error, broker message) and
    /// counts it. Text frames are never ticks.
    public mutating func classifyText(_ message: Span<UInt8>) -> KiteTextMessage {
        counters.textMessages &+= 1
        let result = KiteTextScanner.classify(message)
        counters.texts[Int(result.kind.rawValue)] &+= 1
        return result
    }

    @inline(__always)
    private mutating func reject(_ reason: KiteDecodeError) -> KiteBinaryOutcome {
        count(reason)
        return .rejected(reason)
    }

    @inline(__always)
    private mutating func count(_ reason: KiteDecodeError) {
        counters.errors[Int(reason.rawValue)] &+= 1
    }

    // MARK: Field access (big-endian)

    @inline(__always)
    static func uint16(_ bytes: Span<UInt8>, _ at: Int) -> UInt16 {
        UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }

    @inline(__always)
    static func uint32(_ bytes: Span<UInt8>, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// Most fields are unsigned on the wire (pykiteconnect reads them with ">I").
    @inline(__always)
    static func field(_ bytes: Span<UInt8>, _ packet: Int, _ at: Int) -> Int64 {
        Int64(uint32(bytes, packet + at))
    }

    /// Fills `tick` from the packet at `start` (its `kind.packetLength` bytes are in bounds).
    /// Checked allocation-free by the compiler.
    @_noAllocation
    static func decodePacket(_ bytes: Span<UInt8>, at start: Int, kind: KitePacketKind, into tick: inout KiteTick) {
        tick = KiteTick()
        tick.kindRaw = kind.rawValue
        let token = uint32(bytes, start)
        tick.instrumentToken = token
        tick.priceDecimals = KitePriceScale.priceDecimals(token: token)
        tick.lastPrice = field(bytes, start, 4)
        switch kind {
        case .ltp:
            break
        case .indexQuote, .indexFull:
            // Index OHLC order differs from equities: high, low, open, close.
            tick.high = field(bytes, start, 8)
            tick.low = field(bytes, start, 12)
            tick.open = field(bytes, start, 16)
            tick.close = field(bytes, start, 20)
            tick.indexChange = Int64(Int32(bitPattern: uint32(bytes, start + 24)))
            if kind == .indexFull { tick.exchangeTime = field(bytes, start, 28) }
        case .quote, .full:
            tick.lastQuantity = field(bytes, start, 8)
            tick.averagePrice = field(bytes, start, 12)
            tick.volumeTraded = field(bytes, start, 16)
            tick.totalBuyQuantity = field(bytes, start, 20)
            tick.totalSellQuantity = field(bytes, start, 24)
            tick.open = field(bytes, start, 28)
            tick.high = field(bytes, start, 32)
            tick.low = field(bytes, start, 36)
            tick.close = field(bytes, start, 40)
            guard kind == .full else { break }
            tick.lastTradeTime = field(bytes, start, 44)
            tick.openInterest = field(bytes, start, 48)
            tick.openInterestDayHigh = field(bytes, start, 52)
            tick.openInterestDayLow = field(bytes, start, 56)
            tick.exchangeTime = field(bytes, start, 60)
            // 10 entries of 12 bytes from 64: 5 bids then 5 asks.
            var bidLevels: UInt8 = 0
            var askLevels: UInt8 = 0
            var bidsContiguous = true
            var asksContiguous = true
            for i in 0..<KiteTick.depthLevels {
                let bid = depthLevel(bytes, start + 64 + 12 * i)
                let ask = depthLevel(bytes, start + 124 + 12 * i)
                tick.bids[i] = bid
                tick.asks[i] = ask
                // Empty levels are zero-filled; count the leading levels that hold size.
                if bid.quantity == 0 { bidsContiguous = false } else if bidsContiguous { bidLevels += 1 }
                if ask.quantity == 0 { asksContiguous = false } else if asksContiguous { askLevels += 1 }
            }
            tick.bidLevels = bidLevels
            tick.askLevels = askLevels
        }
    }

    @inline(__always)
    static func depthLevel(_ bytes: Span<UInt8>, _ at: Int) -> KiteDepthLevel {
        KiteDepthLevel(quantity: uint32(bytes, at), price: Int64(uint32(bytes, at + 4)), orders: uint16(bytes, at + 8))
    }
}
