import TicklineCore
import TicklineRing

/// The feed stage's output: the producer ends of its rings and the one sequence its events
/// carry. Every feed of an engine runs on the feed stage's thread (the `feed` role is placed
/// on one runner), so they share one outlet: each ring keeps a single producer, and
/// strategy, risk and the paper venues read every feed's events from the same rings with
/// nothing in between.
///
/// - `market`: trades, quotes, book tops and status events (drop-newest, counted);
/// - `journal.market`: a copy of each for the writer (drop-newest, counted);
/// - `depth`: a top-N `DepthSnapshot` per book change, numbered like the book-top event
///   published just before it;
/// - with `venueCopies`, `market.venue` (trades) and `depth.venue`: the paper venues' own
///   copies (one SPSC ring per consumer, so they never share risk's).
///
/// Owned by the feed stage's thread; no allocation per event.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class FeedOutlet {
    @exclusivity(unchecked) var market: RingProducer<MarketEvent>
    @exclusivity(unchecked) var depth: RingProducer<DepthSnapshot>
    @exclusivity(unchecked) var journal: RingProducer<MarketEvent>
    let copies: VenueTap?
    /// The sequence of the last market event published (monotonic over every feed).
    @exclusivity(unchecked) public private(set) var sequence: UInt64 = 0
    /// Events the paper venues' rings refused.
    public var venueDropped: UInt64 { copies?.dropped ?? 0 }

    public init(region: SharedRegion, venueCopies: Bool) throws(RegionError) {
        market = try region.producer(of: MarketEvent.self, ring: "market")
        depth = try region.producer(of: DepthSnapshot.self, ring: "depth")
        journal = try region.producer(of: MarketEvent.self, ring: "journal.market")
        copies = venueCopies ? try VenueTap(region: region) : nil
    }

    /// Numbers `event`, names its venue and pushes it; `counters` are the publishing feed's.
    @inline(__always)
    func publish(_ event: MarketEvent, venue: VenueId, counters: inout FeedCounters) {
        sequence &+= 1
        var stamped = event
        stamped.sequence = sequence
        stamped.venue = venue
        if market.tryPush(stamped) { counters.marketEvents &+= 1 } else { counters.marketDropped &+= 1 }
        if !journal.tryPush(stamped) { counters.journalDropped &+= 1 }
        if stamped.kind == .trade, let copies { copies.trade(stamped) }
    }

    /// Pushes a top-N snapshot numbered like the book-top event published just before it.
    @inline(__always)
    func publishDepth(_ snapshot: DepthSnapshot, venue: VenueId, decodedNs: MonotonicNanos, counters: inout FeedCounters) {
        var stamped = snapshot
        stamped.sequence = sequence
        stamped.venue = venue
        stamped.decodedNs = decodedNs
        if depth.tryPush(stamped) { counters.depthSnapshots &+= 1 } else { counters.depthDropped &+= 1 }
        copies?.book(stamped)
    }
}

/// The producer ends of the paper venues' rings (`depth.venue`, `market.venue`). Drop-newest, counted.
final class VenueTap {
    var books: RingProducer<DepthSnapshot>
    var trades: RingProducer<MarketEvent>
    private(set) var dropped: UInt64 = 0

    init(region: SharedRegion) throws(RegionError) {
        books = try region.producer(of: DepthSnapshot.self, ring: "depth.venue")
        trades = try region.producer(of: MarketEvent.self, ring: "market.venue")
    }

    @inline(__always) func book(_ d: DepthSnapshot) { if !books.tryPush(d) { dropped &+= 1 } }
    @inline(__always) func trade(_ e: MarketEvent) { if !trades.tryPush(e) { dropped &+= 1 } }
}
