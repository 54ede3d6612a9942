import Testing
import TicklineCore
import TicklineTestSupport
@testable import TicklineMarketData

func levels(_ pairs: [(Int64, Int64)], capacity: Int = 64) -> LevelBuffer {
    let buffer = LevelBuffer(capacity: max(capacity, pairs.count))
    for (p, q) in pairs { _ = buffer.append(BookLevel(price: Price(units: p), quantity: Quantity(units: q))) }
    return buffer
}

extension OrderBook {
    func diff(_ first: UInt64, _ final: UInt64, pu: UInt64? = nil, bids: [(Int64, Int64)] = [], asks: [(Int64, Int64)] = []) -> DiffOutcome {
        applyDiff(first: first, final: final, previous: pu ?? 0, hasPrevious: pu != nil, bids: levels(bids), asks: levels(asks))
    }

    func snapshot(_ id: UInt64, bids: [(Int64, Int64)], asks: [(Int64, Int64)]) -> SnapshotOutcome {
        loadSnapshot(lastUpdateId: id, bids: levels(bids), asks: levels(asks))
    }
}

@Suite struct OrderBookTests {
    func book(_ continuity: DepthContinuity = .spot, capacity: Int = 16) -> OrderBook {
        OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, continuity: continuity, capacityPerSide: capacity)
    }

    @Test func syncsFromSnapshotAndTheBufferedDiffsAsTheSpecSays() {
        // Binance's worked example of syncing a book (snapshot, buffered diffs) in small numbers.
        let b = book()
        #expect(b.diff(189, 202, bids: [(100, 5)]) == .buffered)
        #expect(b.diff(203, 207, asks: [(103, 1)]) == .buffered)
        #expect(b.diff(208, 224, bids: [(101, 2)], asks: [(102, 4)]) == .buffered)
        #expect(b.state == .awaitingSnapshot)
        #expect(b.snapshot(218, bids: [(101, 9), (100, 3)], asks: [(102, 1), (105, 1)]) == .synced)
        #expect(b.state == .synced)
        #expect(b.lastUpdateId == 224)
        #expect(b.counters.staleDiffs == 2 && b.counters.appliedDiffs == 1)
        #expect(b.bids.best == BookLevel(price: Price(units: 101), quantity: Quantity(units: 2)))
        #expect(b.asks.best == BookLevel(price: Price(units: 102), quantity: Quantity(units: 4)))
        #expect(b.bids.level(1) == BookLevel(price: Price(units: 100), quantity: Quantity(units: 3)))
        #expect(b.diff(225, 230, bids: [(101, 0)], asks: [(101, 1)]) == .applied)
        #expect(b.bids.best?.price == Price(units: 100))
        #expect(b.asks.best?.price == Price(units: 101))
        #expect(b.diff(220, 230) == .stale)
    }

    @Test func resyncsBookAfterSequenceGap() {
        let b = book()
        #expect(b.snapshot(100, bids: [(10, 1)], asks: [(11, 1)]) == .synced)
        #expect(b.diff(99, 101) == .applied)  // the first straddles
        #expect(b.diff(102, 105) == .applied)
        #expect(b.diff(107, 110, bids: [(9, 1)]) == .gap)  // 106 is missing
        #expect(b.counters.gaps == 1)
        #expect(b.state == .awaitingSnapshot)
        #expect(b.bids.count == 0 && b.asks.count == 0)
        #expect(b.bufferedDiffCount == 1)
        #expect(b.topEvent(sequence: 1, venueTimeNs: 0, receiveWallNs: 0, timestamps: TimestampChain()) == nil)
        #expect(b.diff(111, 112) == .buffered)
        #expect(b.snapshot(108, bids: [(9, 2)], asks: [(12, 3)]) == .synced)
        #expect(b.lastUpdateId == 112)
        #expect(b.bids.best == BookLevel(price: Price(units: 9), quantity: Quantity(units: 1)))
    }

    @Test func checksTheFirstDiffAfterASnapshotWithNoBufferedDiffs() {
        let b = book()
        #expect(b.snapshot(100, bids: [], asks: []) == .synced)
        #expect(b.diff(102, 105) == .gap)  // 101 missing: not straddling
    }

    @Test func asksForANewerSnapshotWhenTheSnapshotIsTooOld() {
        let b = book()
        #expect(b.diff(100, 110) == .buffered)
        #expect(b.diff(111, 120) == .buffered)
        #expect(b.snapshot(50, bids: [(1, 1)], asks: [(2, 1)]) == .tooOld)
        #expect(b.state == .awaitingSnapshot && b.bufferedDiffCount == 2 && b.counters.snapshotsTooOld == 1)
        #expect(b.snapshot(105, bids: [(1, 1)], asks: [(2, 1)]) == .synced)
        #expect(b.lastUpdateId == 120)
    }

    @Test func reportsAGapInsideTheBufferedDiffs() {
        let b = book()
        #expect(b.diff(100, 110) == .buffered)
        #expect(b.diff(115, 120) == .buffered)
        #expect(b.snapshot(105, bids: [(1, 1)], asks: [(2, 1)]) == .gapInBuffer)
        #expect(b.state == .awaitingSnapshot && b.counters.gaps == 1 && b.bufferedDiffCount == 0)
    }

    @Test func chainsFuturesDiffsOnPreviousFinalId() {
        let b = book(.futures)
        #expect(b.diff(90, 99, pu: 80) == .buffered)
        #expect(b.diff(100, 120, pu: 99) == .buffered)
        #expect(b.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)  // u == lastUpdateId is the first event
        #expect(b.lastUpdateId == 120 && b.counters.appliedDiffs == 1 && b.counters.staleDiffs == 1)
        #expect(b.diff(121, 130, pu: 120, bids: [(5, 2)]) == .applied)
        #expect(b.diff(135, 140, pu: 130) == .applied)  // futures ids need not be contiguous: pu chains
        #expect(b.diff(141, 150, pu: 139) == .gap)
        #expect(b.counters.gaps == 1)
    }

    // The futures cases below run on a book built without any rules given (detected from
    // `pu`), and again with spot forced: the same diffs must then get spot's answers.

    @Test func detectsFuturesAndSyncsOnAFirstDiffEndingAtTheSnapshotId() {
        let b = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(b.rules == .detect)
        #expect(b.diff(110, 120, pu: 105, bids: [(5, 2)]) == .buffered)
        #expect(b.rules == .futures)
        // U <= lastUpdateId <= u with lastUpdateId == u: this diff is the first event.
        #expect(b.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.state == .synced && b.lastUpdateId == 120)
        #expect(b.counters.appliedDiffs == 1 && b.counters.staleDiffs == 0 && b.counters.gaps == 0)
        #expect(b.bids.best == BookLevel(price: Price(units: 5), quantity: Quantity(units: 2)))
        #expect(b.diff(124, 130, pu: 120) == .applied)  // ids jump between futures diffs: pu chains them
        #expect(b.lastUpdateId == 130 && b.counters.gaps == 0)

        let spot = book(.spot)
        #expect(spot.diff(110, 120, pu: 105, bids: [(5, 2)]) == .buffered)
        #expect(spot.rules == .spot)
        #expect(spot.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(spot.counters.appliedDiffs == 0 && spot.counters.staleDiffs == 1)  // u <= lastUpdateId: dropped
        #expect(spot.bids.best == BookLevel(price: Price(units: 5), quantity: Quantity(units: 1)))
        #expect(spot.diff(124, 130, pu: 120) == .gap)  // 121 is missing by spot's rules
        #expect(spot.counters.gaps == 1 && spot.state == .awaitingSnapshot)
    }

    @Test func detectsFuturesFromALiveFirstDiffAfterTheSnapshot() {
        // No diff buffered: the snapshot loads first, the rules are decided by the diff after it.
        let b = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(b.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.rules == .detect)
        #expect(b.diff(110, 120, pu: 105, bids: [(5, 3)]) == .applied)
        #expect(b.rules == .futures && b.lastUpdateId == 120)
        #expect(b.bids.best?.quantity == Quantity(units: 3))

        let spot = book(.spot)
        #expect(spot.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(spot.diff(110, 120, pu: 105, bids: [(5, 3)]) == .stale)
        #expect(spot.bids.best?.quantity == Quantity(units: 1))
    }

    @Test func aBrokenPuChainIsAGapThatAwaitsASnapshot() {
        // Contiguous ids, but the third diff's pu names an id the book never applied.
        let diffs: [(UInt64, UInt64, UInt64)] = [(95, 100, 90), (101, 110, 100), (111, 120, 105)]
        let b = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(b.snapshot(100, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(diffs.map { b.diff($0.0, $0.1, pu: $0.2) } == [.applied, .applied, .gap])
        #expect(b.counters.gaps == 1 && b.state == .awaitingSnapshot && b.bufferedDiffCount == 1)
        #expect(b.bids.count == 0 && b.asks.count == 0)
        #expect(b.topEvent(sequence: 1, venueTimeNs: 0, receiveWallNs: 0, timestamps: TimestampChain()) == nil)

        // Spot forced: pu is ignored and the ids chain.
        let spot = book(.spot)
        #expect(spot.snapshot(100, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(diffs.map { spot.diff($0.0, $0.1, pu: $0.2) } == [.stale, .applied, .applied])
        #expect(spot.counters.gaps == 0 && spot.state == .synced && spot.lastUpdateId == 120)
    }

    @Test func aFuturesSnapshotOlderThanTheFirstBufferedDiffIsTooOld() {
        let b = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(b.diff(110, 120, pu: 100) == .buffered)
        #expect(b.diff(125, 130, pu: 120) == .buffered)
        // Futures: the first diff must have U <= lastUpdateId; 110 > 109.
        #expect(b.snapshot(109, bids: [(5, 1)], asks: [(6, 1)]) == .tooOld)
        #expect(b.state == .awaitingSnapshot && b.bufferedDiffCount == 2 && b.counters.snapshotsTooOld == 1)
        #expect(b.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.lastUpdateId == 130 && b.counters.gaps == 0)

        // Spot forced: 110 straddles 109 + 1, then 125 does not follow 120.
        let spot = book(.spot)
        #expect(spot.diff(110, 120, pu: 100) == .buffered)
        #expect(spot.diff(125, 130, pu: 120) == .buffered)
        #expect(spot.snapshot(109, bids: [(5, 1)], asks: [(6, 1)]) == .gapInBuffer)
        #expect(spot.counters.snapshotsTooOld == 0 && spot.counters.gaps == 1)
    }

    @Test func aFuturesSnapshotEndingWhereADiffEndedSyncsOnTheDiffThatFollows() {
        // A second snapshot of a synced book (a recording holds one per resync) at the id the
        // book already reached: the next diff starts past lastUpdateId + 1, pu names it.
        let b = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(b.diff(110, 120, pu: 105) == .buffered)
        #expect(b.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.diff(124, 130, pu: 120) == .applied)
        // Buffered: the diff that ended at the snapshot's id never came, the one after it did.
        #expect(b.diff(135, 140, pu: 133) == .gap)
        #expect(b.snapshot(133, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.lastUpdateId == 140 && b.counters.gaps == 1 && b.counters.snapshotsTooOld == 0)
        // Not a diff whose pu names another id.
        #expect(b.diff(150, 160, pu: 145) == .gap)
        #expect(b.snapshot(146, bids: [(5, 1)], asks: [(6, 1)]) == .tooOld)

        let spot = book(.spot)
        #expect(spot.snapshot(120, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(spot.diff(124, 130, pu: 120) == .gap)
    }

    @Test func aDiffWithoutPuInAFuturesBookIsAGapAndTheRulesStay() {
        let b = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(b.snapshot(100, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.diff(95, 100, pu: 90) == .applied)
        #expect(b.diff(101, 110) == .gap)  // cannot prove it continues the book
        #expect(b.rules == .futures && b.counters.gaps == 1 && b.state == .awaitingSnapshot)
        b.invalidate()
        #expect(b.rules == .futures)  // a reconnect keeps the venue's rules
        // Nor can the first diff after a snapshot, buffered or live.
        #expect(b.snapshot(110, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(b.diff(105, 112) == .gap)
        #expect(b.counters.gaps == 2)
        // A book detected as spot keeps spot's rules when pu shows up.
        let spot = OrderBook(instrument: 7, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16)
        #expect(spot.diff(101, 110) == .buffered)
        #expect(spot.rules == .spot)
        #expect(spot.snapshot(105, bids: [(5, 1)], asks: [(6, 1)]) == .synced)
        #expect(spot.diff(111, 120, pu: 90) == .applied)
    }

    @Test func emptiesThePendingBufferWhenFullAndCountsIt() {
        let b = OrderBook(instrument: 1, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 16, pendingDiffs: 2, pendingLevels: 64)
        #expect(b.diff(1, 1) == .buffered)
        #expect(b.diff(2, 2) == .buffered)
        #expect(b.diff(3, 3) == .buffered)
        #expect(b.counters.pendingOverflows == 1 && b.bufferedDiffCount == 1)
        #expect(b.snapshot(0, bids: [], asks: []) == .tooOld)  // diffs 1 and 2 were lost
    }

    @Test func publishesTopOfBookAndDepth() {
        let b = book()
        let bidLevels: [(Int64, Int64)] = (0..<12).map { (i: Int) -> (Int64, Int64) in (Int64(1_000 - i), Int64(i + 1)) }
        let askLevels: [(Int64, Int64)] = [(1_001, 10), (1_002, 20), (1_003, 30)]
        #expect(b.snapshot(5, bids: bidLevels, asks: askLevels) == .synced)
        let top = b.topEvent(sequence: 9, venueTimeNs: 1, receiveWallNs: 2, timestamps: TimestampChain(socketReadNs: 3))
        #expect(top?.kind == .bookTop && top?.venueSequence == 5 && top?.instrument == 7)
        #expect(top?.bidPrice == Price(units: 1_000) && top?.askQuantity == Quantity(units: 10))
        var depth = DepthSnapshot()
        #expect(b.fill(&depth, sequence: 9, venueTimeNs: 1, receiveWallNs: 2, socketReadNs: 3, decodedNs: 4))
        #expect(depth.bidLevels == 10 && depth.askLevels == 3 && depth.updateId == 5)
        #expect(depth.bids[9] == BookLevel(price: Price(units: 991), quantity: Quantity(units: 10)))
        #expect(depth.asks[2] == BookLevel(price: Price(units: 1_003), quantity: Quantity(units: 30)))
        #expect(depth.asks[3] == BookLevel())
    }

    @Test func appliesLevelsBeyondTheSnapshotAndAsksForASnapshotWhenTruncationThinsASide() {
        let b = OrderBook(instrument: 1, priceDecimals: 2, quantityDecimals: 3, capacityPerSide: 12)
        let bidLevels: [(Int64, Int64)] = (0..<12).map { (i: Int) -> (Int64, Int64) in (Int64(100 - i), 1) }
        #expect(b.snapshot(1, bids: bidLevels, asks: [(200, 1)]) == .synced)
        #expect(b.diff(2, 2, asks: [(300, 5)]) == .applied)  // beyond the snapshot's deepest ask: applied
        #expect(b.asks.count == 2)
        #expect(b.diff(3, 3, bids: [(101, 1)]) == .applied)  // full: drops bid 89, floor above it
        #expect(b.bids.floorKey == 90 && b.bids.truncatedLevels == 1)
        #expect(b.diff(4, 4, bids: [(50, 1)]) == .applied)   // below the floor: ignored
        #expect(b.bids.ignoredBelowFloor == 1 && b.bids.count == 12)
        #expect(b.diff(5, 5, bids: [(101, 0), (100, 0)]) == .applied)  // 10 left: still enough
        #expect(b.diff(6, 6, bids: [(99, 0)]) == .exhausted)  // 9 known levels < 10 published
        #expect(b.state == .awaitingSnapshot && b.counters.exhausted == 1 && b.counters.gaps == 0)
    }

    @Test(arguments: [(8, 4), (40, 4), (40, 6), (200, 8), (8, 64)])
    func ladderMatchesAReferenceAndTruncationNeverShowsAWrongLevel(capacity: Int, chunkSize: Int) {
        // Against a reference holding every level: wherever the ladder claims knowledge
        // (keys at or above its floor) it must agree with the reference exactly.
        var rng = SeededGenerator(seed: UInt64(capacity * 100 + chunkSize))
        for isBid in [true, false] {
            let ladder = PriceLadder(capacity: capacity, isBid: isBid, chunkSize: chunkSize)
            var reference: [Int64: Int64] = [:]
            let snapshot = levels((0..<(capacity * 3 / 4)).map { (i: Int) -> (Int64, Int64) in
                (isBid ? Int64(1_000 - i * 2) : Int64(1_000 + i * 2), Int64(i + 1))
            }, capacity: capacity)
            ladder.load(snapshot)
            for i in 0..<snapshot.count { reference[snapshot[i].price.units] = snapshot[i].quantity.units }
            #expect(ladder.isConsistent())
            let span = UInt64(capacity * 4)
            for step in 0..<3_000 {
                let price = Int64(1_000) - Int64(span / 2) + Int64(rng.next() % span)
                let quantity = rng.next() % 3 == 0 ? 0 : Int64(1 + rng.next() % 9)
                ladder.set(Price(units: price), Quantity(units: quantity))
                reference[price] = quantity == 0 ? nil : quantity
                let known = reference.filter { ladder.key(Price(units: $0.key)) >= ladder.floorKey }
                    .sorted { ladder.key(Price(units: $0.key)) > ladder.key(Price(units: $1.key)) }
                let held = (0..<ladder.count).map { ladder.level($0) }
                let expected = known.map { BookLevel(price: Price(units: $0.key), quantity: Quantity(units: $0.value)) }
                if held != expected || !ladder.isConsistent() || ladder.count > capacity {
                    Issue.record("step \(step) bid \(isBid): ladder \(held) reference \(expected)")
                    return
                }
                #expect(ladder.best == expected.first)
            }
            #expect(ladder.truncatedLevels > 0 && ladder.ignoredBelowFloor > 0)
            #expect(ladder.isThinnerThan(ladder.count + 1))
        }
    }

    @Test func snapshotLoadKeepsTheBestLevelsWhenOverCapacity() {
        let ladder = PriceLadder(capacity: 10, isBid: false, chunkSize: 4)
        ladder.load(levels((0..<25).map { (i: Int) -> (Int64, Int64) in (Int64(100 + i), i == 3 ? 0 : 1) }))
        #expect(ladder.count == 10 && ladder.isConsistent())
        #expect(ladder.best?.price == Price(units: 100))
        #expect(ladder.level(9).price == Price(units: 110))  // 103 had quantity 0
        #expect(ladder.floorKey == -110)  // 111 was the last dropped (ask keys are minus the price)
        let shuffled = PriceLadder(capacity: 10, isBid: true, chunkSize: 4)
        shuffled.load(levels([(5, 1), (9, 1), (7, 1), (1, 1)]))
        #expect(shuffled.count == 4 && shuffled.best?.price == Price(units: 9) && shuffled.isConsistent())
    }
}
