import Synchronization
import TicklineCore
import TicklineMarketData
import TicklineRing

/// Why a feed refused a `control.feed` command (counted by reason in
/// `FeedCounters.commandRefusals`).
public enum FeedCommandRefusal: UInt8, CaseIterable, Sendable {
    /// The command names another feed of the engine.
    case wrongFeed = 0
    /// A kind byte this build does not know.
    case unknownKind = 1
    /// The symbol is not in the feed's instrument table, or its id there differs from the
    /// command's (control plane and feed built from different universes).
    case unknownSymbol = 2
    case alreadySubscribed = 3
    case notSubscribed = 4
    /// Every connection already carries `streams_per_connection` streams.
    case noRoom = 5
}

/// Why the control plane refused a subscription request (the API answers with `message`).
public struct FeedSubscriptionRefusal: Error, Sendable, Equatable {
    public let message: String
}

/// The control plane's end of the `control.feed` ring.
///
/// Checks each subscribe/unsubscribe request against the feed's universe (the instrument
/// table the feed is built with: its venue's instruments) and against the feed's current subscriptions and
/// capacity, so the HTTP caller gets the reason of a refusal; then queues one `FeedCommand`
/// per symbol. A request is all or nothing: any bad symbol refuses all of it. Its view of
/// the subscriptions starts from each feed's configured `symbols` and follows the commands
/// it queued; the feed applies them in order and, given the same table and capacity, agrees
/// (what it refuses anyway is counted in `FeedCounters.commandRefusals`).
///
/// Thread-safe: one lock around the ring's producer and the view (HTTP threads call it). Cold path.
public final class FeedSubscriptionDesk: Sendable {
    // Only ever touched under `state`'s lock (the ring end holds raw pointers, hence unchecked).
    private struct State: ~Copyable, @unchecked Sendable {
        var ring: RingProducer<FeedCommand>
        /// Per feed, per table entry: subscribed.
        var subscribed: [[Bool]]
        var nextRequestId: UInt64 = 1
    }

    /// Per feed: the table it was built with.
    public let universes: [InstrumentTable]
    public let feedNames: [String]
    /// Symbols each feed can hold: connections × ⌊streams_per_connection / streams per symbol⌋.
    public let capacities: [Int]
    private let state: Mutex<State>

    /// - Parameters:
    ///   - universes: per feed, the table it was built with.
    ///   - feeds: the engine's feeds, in order (the index is `FeedCommand.feed`).
    ///   - ring: the producer end of `control.feed`.
    public init(universes: [InstrumentTable], feeds: [FeedConfig], ring: consuming RingProducer<FeedCommand>) throws(FeedSetupError) {
        precondition(feeds.count <= Int(UInt8.max) + 1, "\(feeds.count) feeds: a command addresses at most 256")
        precondition(universes.count == feeds.count, "\(universes.count) universes for \(feeds.count) feeds")
        var subscribed: [[Bool]] = []
        for (f, universe) in zip(feeds, universes) {
            var flags = [Bool](repeating: false, count: universe.count)
            for symbol in f.symbols {
                guard let entry = universe.entry(forSymbol: symbol) else { throw .unknownSymbol(symbol) }
                flags[Int(entry.index)] = true
            }
            subscribed.append(flags)
        }
        self.universes = universes
        feedNames = feeds.map(\.name)
        capacities = feeds.map { $0.connections * ($0.streamsPerConnection / max(1, $0.streams.count)) }
        state = Mutex(State(ring: ring, subscribed: subscribed))
    }

    /// Queues a subscribe of every symbol for feed `feed`; the text says what was queued.
    public func subscribe(_ symbols: [String], feed: Int = 0) -> Result<String, FeedSubscriptionRefusal> {
        change(.subscribe, symbols, feed: feed)
    }

    /// Queues an unsubscribe of every symbol for feed `feed`.
    public func unsubscribe(_ symbols: [String], feed: Int = 0) -> Result<String, FeedSubscriptionRefusal> {
        change(.unsubscribe, symbols, feed: feed)
    }

    /// The feed's subscriptions as this desk knows them (configured, plus the changes queued), in table order.
    public func subscribedSymbols(feed: Int = 0) -> [String] {
        state.withLock { s in
            guard feed >= 0 && feed < s.subscribed.count else { return [] }
            return s.subscribed[feed].indices.filter { s.subscribed[feed][$0] }.map { universes[feed].specs[$0].symbol }
        }
    }

    private func change(_ kind: FeedCommandKind, _ symbols: [String], feed: Int) -> Result<String, FeedSubscriptionRefusal> {
        func refuse(_ text: String) -> Result<String, FeedSubscriptionRefusal> { .failure(FeedSubscriptionRefusal(message: text)) }
        guard feed >= 0 && feed < feedNames.count else { return refuse("no feed \(feed) (the engine has \(feedNames.count))") }
        guard !symbols.isEmpty else { return refuse("name at least one symbol") }
        let name = feedNames[feed]
        let universe = universes[feed]
        var entries: [InstrumentEntry] = []
        for symbol in symbols {
            guard symbol.utf8.count <= FeedCommand.maxSymbolBytes, let entry = universe.entry(forSymbol: symbol) else {
                return refuse("unknown symbol '\(symbol)': not an instrument of feed '\(name)''s venue (risk.instruments)")
            }
            guard !entries.contains(where: { $0.index == entry.index }) else { return refuse("'\(symbol)' is named twice") }
            entries.append(entry)
        }
        return state.withLock { s in
            for (symbol, entry) in zip(symbols, entries) {
                let on = s.subscribed[feed][Int(entry.index)]
                if kind == .subscribe && on { return refuse("'\(symbol)' is already subscribed on feed '\(name)'") }
                if kind == .unsubscribe && !on { return refuse("'\(symbol)' is not subscribed on feed '\(name)'") }
            }
            if kind == .subscribe {
                let count = s.subscribed[feed].reduce(0) { $0 + ($1 ? 1 : 0) }
                if count + entries.count > capacities[feed] {
                    return refuse("feed '\(name)' has room for \(capacities[feed]) symbols (connections × streams_per_connection "
                                  + "/ streams) and carries \(count): \(entries.count) more do not fit")
                }
            }
            let wallNs = Clock.wall()
            var queued: [String] = []
            for entry in entries {
                let spec = universe.specs[Int(entry.index)]
                let command = FeedCommand(kind: kind, feed: UInt8(feed), symbol: spec.symbol, instrument: entry.id,
                                          requestId: s.nextRequestId, issuedWallNs: wallNs)!  // length checked above
                // `control.feed` refuses when full (never drops): the rest of the request is not queued.
                guard s.ring.tryPush(command) else {
                    let done = queued.isEmpty ? "nothing was queued" : "queued only \(queued.joined(separator: ", "))"
                    return refuse("the feed control ring is full (the feed is not draining it): \(done)")
                }
                s.nextRequestId &+= 1
                s.subscribed[feed][Int(entry.index)] = kind == .subscribe
                queued.append(spec.symbol)
            }
            let now = s.subscribed[feed].reduce(0) { $0 + ($1 ? 1 : 0) }
            return .success("queued \(kind == .subscribe ? "subscribe" : "unsubscribe") of \(queued.joined(separator: ", ")) "
                            + "for feed '\(name)' (\(now) symbols subscribed)")
        }
    }
}
