// Kite ticks as the pipeline's market events: every tick gives a `.trade` (the last trade it
// repeats), a full-mode tick also a `.quote` (best bid/ask) and a `DepthSnapshot` (5 + 5).
import TicklineCore

/// Maps a Kite instrument token to the engine's instrument id. Generic (not `any`) at its
/// use, so a lookup costs no allocation. Return nil for a token the engine did not subscribe.
public protocol KiteInstrumentLookup {
    func instrument(forToken token: UInt32) -> InstrumentId?
}

/// Uses the token itself as the instrument id: for tests and single-venue tools, until an
/// instrument table assigns ids.
public struct KiteTokenAsInstrument: KiteInstrumentLookup, Sendable {
    public init() {}
    @inlinable public func instrument(forToken token: UInt32) -> InstrumentId? { token }
}

/// The stamps every event of one message carries, read once per duty cycle by the caller.
public struct KiteMessageStamps: Sendable, Equatable {
    public var receiveWallNs: WallNanos
    public var socketReadNs: MonotonicNanos
    public var decodedNs: MonotonicNanos

    @inlinable
    public init(receiveWallNs: WallNanos = 0, socketReadNs: MonotonicNanos = 0, decodedNs: MonotonicNanos = 0) {
        self.receiveWallNs = receiveWallNs
        self.socketReadNs = socketReadNs
        self.decodedNs = decodedNs
    }
}

extension KiteTick {
    static let nanosPerSecond: Nanos = 1_000_000_000

    /// The last trade as a `.trade` event. Quantity is the last traded quantity (0 in LTP and
    /// index packets); `venueSequence` is the volume traded today, which only grows, so a
    /// consumer recognises a repeated trade by an unchanged value (0 when the packet has no
    /// volume). `venueTimeNs` is the last trade time (full mode), else the exchange time, else 0.
    public func tradeEvent(instrument: InstrumentId, stamps: KiteMessageStamps) -> MarketEvent {
        let seconds = lastTradeTime != 0 ? lastTradeTime : exchangeTime
        return MarketEvent(
            instrument: instrument, kind: .trade, priceDecimals: priceDecimals, quantityDecimals: 0,
            price: Price(units: lastPrice), quantity: Quantity(units: lastQuantity),
            venueSequence: UInt64(volumeTraded), venueTimeNs: WallNanos(seconds &* Self.nanosPerSecond),
            receiveWallNs: stamps.receiveWallNs, timestamps: Self.chain(stamps))
    }

    /// Best bid and ask from full-mode depth as a `.quote` event (zero on an empty side).
    /// `venueTimeNs` is the exchange time.
    public func quoteEvent(instrument: InstrumentId, stamps: KiteMessageStamps) -> MarketEvent {
        let bid = bidLevels > 0 ? bids[0] : KiteDepthLevel()
        let ask = askLevels > 0 ? asks[0] : KiteDepthLevel()
        return MarketEvent(
            instrument: instrument, kind: .quote, priceDecimals: priceDecimals, quantityDecimals: 0,
            bidPrice: Price(units: bid.price), bidQuantity: Quantity(units: Int64(bid.quantity)),
            askPrice: Price(units: ask.price), askQuantity: Quantity(units: Int64(ask.quantity)),
            venueTimeNs: WallNanos(exchangeTime &* Self.nanosPerSecond),
            receiveWallNs: stamps.receiveWallNs, timestamps: Self.chain(stamps))
    }

    /// Full-mode depth as a snapshot: the leading non-empty levels (≤ 5 a side), best first.
    /// Kite has no book update id: `updateId` is 0.
    public func depthSnapshot(instrument: InstrumentId, stamps: KiteMessageStamps) -> DepthSnapshot {
        var snapshot = DepthSnapshot(instrument: instrument, priceDecimals: priceDecimals, quantityDecimals: 0)
        snapshot.bidLevels = bidLevels
        snapshot.askLevels = askLevels
        for i in 0..<Int(bidLevels) {
            snapshot.bids[i] = BookLevel(price: Price(units: bids[i].price), quantity: Quantity(units: Int64(bids[i].quantity)))
        }
        for i in 0..<Int(askLevels) {
            snapshot.asks[i] = BookLevel(price: Price(units: asks[i].price), quantity: Quantity(units: Int64(asks[i].quantity)))
        }
        snapshot.receiveWallNs = stamps.receiveWallNs
        snapshot.venueTimeNs = WallNanos(exchangeTime &* Self.nanosPerSecond)
        snapshot.socketReadNs = stamps.socketReadNs
        snapshot.decodedNs = stamps.decodedNs
        return snapshot
    }

    static func chain(_ stamps: KiteMessageStamps) -> TimestampChain {
        TimestampChain(socketReadNs: stamps.socketReadNs, decodedNs: stamps.decodedNs)
    }
}

/// Market events and depth snapshots decoded from Kite messages, in storage allocated once
/// in `init` and reused (`removeAll`). Set `stamps` before each message. Owned by one thread.
public struct KiteEventBuffer<Lookup: KiteInstrumentLookup>: KiteTickSink {
    public var lookup: Lookup
    public var stamps = KiteMessageStamps()
    var eventStorage: [MarketEvent]
    var depthStorage: [DepthSnapshot]
    public private(set) var eventCount = 0
    public private(set) var depthCount = 0

    /// Room for `maxTicks` full-mode ticks (two events and one snapshot each).
    public init(maxTicks: Int, lookup: Lookup) {
        precondition(maxTicks > 0, "KiteEventBuffer maxTicks \(maxTicks) must be positive")
        self.lookup = lookup
        eventStorage = Array(repeating: MarketEvent(), count: 2 * maxTicks)
        depthStorage = Array(repeating: DepthSnapshot(), count: maxTicks)
    }

    public func event(_ index: Int) -> MarketEvent {
        precondition(index < eventCount, "event \(index) out of \(eventCount)")
        return eventStorage[index]
    }

    public func depth(_ index: Int) -> DepthSnapshot {
        precondition(index < depthCount, "depth snapshot \(index) out of \(depthCount)")
        return depthStorage[index]
    }

    public mutating func removeAll() {
        eventCount = 0
        depthCount = 0
    }

    /// Ticks that surely fit, whatever their kind.
    public var freeCapacity: Int { min((eventStorage.count - eventCount) / 2, depthStorage.count - depthCount) }

    public mutating func append(_ tick: KiteTick) -> Bool {
        guard let instrument = lookup.instrument(forToken: tick.instrumentToken) else { return false }
        eventStorage[eventCount] = tick.tradeEvent(instrument: instrument, stamps: stamps)
        eventCount += 1
        if tick.kind == .full {
            eventStorage[eventCount] = tick.quoteEvent(instrument: instrument, stamps: stamps)
            eventCount += 1
            depthStorage[depthCount] = tick.depthSnapshot(instrument: instrument, stamps: stamps)
            depthCount += 1
        }
        return true
    }
}
