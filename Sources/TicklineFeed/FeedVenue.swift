import TicklineCore
import TicklineMarketData

/// A market-data venue as the feed stage speaks to it: how its streams are named and
/// subscribed, within which limits, where a book's snapshot comes from, and the decoder that
/// turns its messages into the normalised events and books. The feed agent knows a venue
/// only through this; Binance spot and USD-M futures (`BinanceMarket`) implement it.
/// Every call is on setup or a cold path except the decoder's.
public protocol FeedVenue: Sendable {
    /// Streams one connection may carry, and control messages (subscribe, unsubscribe and
    /// our own pings) per connection in any one second: the venue drops a connection above
    /// either. A feed config beyond them is refused at setup.
    var maxStreamsPerConnection: Int { get }
    var maxControlMessagesPerSecond: Int { get }
    /// A symbol as stream names spell it (computed once per symbol at setup).
    func streamSymbol(_ symbol: String) -> [UInt8]
    /// Appends the name of `symbol`'s stream `suffix` (one entry of the feed's `streams:`).
    func appendStreamName(symbol: [UInt8], suffix: [UInt8], to out: inout [UInt8])
    /// Appends one request that subscribes (or unsubscribes) `count` streams; `stream(k, &out)`
    /// appends the name of the k-th. `id` tells the venue's reply to it apart.
    func appendSubscriptionRequest(subscribe: Bool, count: Int, id: Int64, to out: inout [UInt8],
                                   stream: (Int, inout [UInt8]) -> Void)
    /// The REST path and query of a book snapshot of `symbol` with `limit` levels a side.
    func snapshotPath(symbol: String, limit: Int) -> String
    /// The request weight the venue charges for such a snapshot.
    func snapshotWeight(limit: Int) -> Int
    /// The decoder of this venue's messages, with one book per instrument of `instruments`.
    func makeDecoder(instruments: InstrumentTable, config: FeedConfig) -> any FeedDecoder
}

/// A venue's decoder as the feed agent uses it, owned by the agent's thread: each message
/// becomes a normalised event, a book change, a control message or a counted error; books
/// are kept per instrument (table index) and synced from snapshots. No allocation per message.
public protocol FeedDecoder: AnyObject {
    /// Decodes one message; `event` and `depth` then hold what to publish (see `ProcessOutcome`).
    func process(_ bytes: UnsafeRawBufferPointer, receiveWallNs: WallNanos, timestamps: TimestampChain) -> ProcessOutcome
    var event: MarketEvent { get }
    var depth: DepthSnapshot { get }
    /// The table index of the instrument of the last message (-1: none).
    var instrumentIndex: Int { get }
    /// What the last `.control` message was.
    var control: FeedControlMessage { get }
    /// Messages by outcome, as verify and replay report them.
    var counters: ProcessCounters { get }
    /// Books that received depth diffs but were never synced.
    var booksUnsynced: Int { get }
    /// The book of instrument `index` (nil: the venue keeps none for it).
    func book(at index: Int) -> OrderBook?
    /// Whether book `index` waits for a snapshot before it can sync.
    func awaitsSnapshot(_ index: Int) -> Bool
    /// Clears book `index`: it waits for a snapshot again.
    func invalidateBook(_ index: Int)
    /// Loads a snapshot fetched for book `index` (`body` as the venue sent it). On `.synced`,
    /// `event` and `depth` hold the book's new top and depth, stamped with the times given.
    func loadSnapshot(_ body: UnsafeRawBufferPointer, index: Int, receiveWallNs: WallNanos, timestamps: TimestampChain) -> SnapshotLoad
}

/// What a control message of the venue was.
public enum FeedControlMessage: Sendable, Equatable {
    /// A reply to one of our requests.
    case reply
    /// An error reply.
    case error
    /// The venue is about to close the connection: reconnect now.
    case serverShutdown
}

extension BinanceMarket: FeedVenue {
    public var maxStreamsPerConnection: Int { 1_024 }
    /// Spot allows 5 incoming messages a second per connection, USD-M futures 10.
    public var maxControlMessagesPerSecond: Int { self == .spot ? 5 : 10 }

    public func streamSymbol(_ symbol: String) -> [UInt8] { Array(symbol.lowercased().utf8) }

    public func appendStreamName(symbol: [UInt8], suffix: [UInt8], to out: inout [UInt8]) {
        out.append(contentsOf: symbol)
        out.append(UInt8(ascii: "@"))
        out.append(contentsOf: suffix)
    }

    /// `{"method":"SUBSCRIBE","params":["btcusdt@trade",…],"id":7}` (or `UNSUBSCRIBE`).
    public func appendSubscriptionRequest(subscribe: Bool, count: Int, id: Int64, to out: inout [UInt8],
                                          stream: (Int, inout [UInt8]) -> Void) {
        let head: StaticString = subscribe ? "{\"method\":\"SUBSCRIBE\",\"params\":[" : "{\"method\":\"UNSUBSCRIBE\",\"params\":["
        head.withUTF8Buffer { out.append(contentsOf: $0) }
        for k in 0..<count {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            stream(k, &out)
            out.append(UInt8(ascii: "\""))
        }
        let tail: StaticString = "],\"id\":"
        tail.withUTF8Buffer { out.append(contentsOf: $0) }
        var digits: InlineArray<20, UInt8> = .init(repeating: 0)
        var v = UInt64(max(id, 0))
        var n = 0
        repeat {
            digits[n] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
            n += 1
        } while v > 0
        while n > 0 {
            n -= 1
            out.append(digits[n])
        }
        out.append(UInt8(ascii: "}"))
    }

    public func snapshotPath(symbol: String, limit: Int) -> String {
        let path = self == .spot ? "/api/v3/depth" : "/fapi/v1/depth"
        return "\(path)?symbol=\(symbol.uppercased())&limit=\(limit)"
    }

    public func snapshotWeight(limit: Int) -> Int {
        switch self {
        case .spot:
            switch limit {
            case ...100: 5
            case ...500: 25
            case ...1_000: 50
            default: 250
            }
        case .usdmFutures:
            switch limit {
            case ...50: 2
            case ...100: 5
            case ...500: 10
            default: 20
            }
        }
    }

    /// REST snapshots name no symbol: the feed loads each into the book it asked for. A
    /// replay's snapshots come on the stream; with one symbol they belong to it.
    public func makeDecoder(instruments: InstrumentTable, config: FeedConfig) -> any FeedDecoder {
        let processor = BinanceFeedProcessor(instruments: instruments, bookCapacityPerSide: config.bookLevelsPerSide,
                                             pendingDiffs: config.pendingDiffs, pendingLevels: config.pendingLevels,
                                             levelCapacity: max(config.snapshotLimit, 5_000))
        processor.fallbackInstrumentIndex = config.snapshotsOnStream && instruments.count == 1 ? 0 : -1
        return processor
    }
}

extension BinanceFeedProcessor: FeedDecoder {
    public var instrumentIndex: Int { Int(message.instrumentIndex) }

    public var control: FeedControlMessage {
        switch message.kind {
        case .serverShutdown: .serverShutdown
        case .errorReply: .error
        default: .reply
        }
    }

    public func book(at index: Int) -> OrderBook? { index >= 0 && index < books.count ? books[index] : nil }

    public func awaitsSnapshot(_ index: Int) -> Bool { books[index].state == .awaitingSnapshot }

    public func invalidateBook(_ index: Int) { books[index].invalidate() }
}
