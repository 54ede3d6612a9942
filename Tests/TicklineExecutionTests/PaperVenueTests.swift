import Testing
import TicklineCore
import TicklineExecution
import TicklineRisk

/// asks 100.01 × 1.000, 100.02 × 2.000, 100.05 × 3.000; bids 100.00 × 1.500, 99.99 × 2.000, 99.98 × 1.000.
func syntheticBook(instrument: InstrumentId = 0) -> DepthSnapshot {
    var b = DepthSnapshot(instrument: instrument, priceDecimals: 2, quantityDecimals: 3)
    let asks: [(Int64, Int64)] = [(10_001, 1_000), (10_002, 2_000), (10_005, 3_000)]
    let bids: [(Int64, Int64)] = [(10_000, 1_500), (9_999, 2_000), (9_998, 1_000)]
    for (n, l) in asks.enumerated() { b.asks[n] = BookLevel(price: Price(units: l.0), quantity: Quantity(units: l.1)) }
    for (n, l) in bids.enumerated() { b.bids[n] = BookLevel(price: Price(units: l.0), quantity: Quantity(units: l.1)) }
    b.askLevels = 3
    b.bidLevels = 3
    return b
}

func noLatency(_ configure: (inout PaperVenueConfig) -> Void = { _ in }) -> PaperVenueConfig {
    var c = PaperVenueConfig()
    c.latencyFixedNs = 0
    c.latencyJitterNs = 0
    configure(&c)
    return c
}

extension PaperVenue {
    mutating func drain() -> [FillEvent] {
        var out: [FillEvent] = []
        while let r = nextReport() { out.append(r) }
        return out
    }

    /// Submits and processes at once (zero latency configs).
    mutating func run(_ o: OrderEvent, nowNs: WallNanos = 0) -> [FillEvent] {
        _ = submit(o, nowNs: nowNs)
        advance(nowNs: nowNs)
        return drain()
    }
}

@Suite struct PaperVenueTests {
    @Test func aMarketBuyWalksTheAsksOneFillPerLevel() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let r = v.run(order(1, quantity: 2_500, type: .market))
        #expect(r.map(\.status) == [.accepted, .partiallyFilled, .filled])
        #expect(r[1].price.units == 10_001 && r[1].quantity.units == 1_000 && r[1].liquidity == .taker)
        #expect(r[2].price.units == 10_002 && r[2].quantity.units == 1_500 && r[2].leavesQuantity.units == 0)
        #expect(r[1].venueTradeId != r[2].venueTradeId && r[1].venueTradeId != 0)
        // The taken liquidity is gone from the venue's book until the next snapshot.
        let book = v.book(instrument: 0)!
        #expect(book.asks[0].quantity.units == 0 && book.asks[1].quantity.units == 500)
        let next = v.run(order(2, quantity: 600, type: .market))
        #expect(next.dropFirst().map(\.price.units) == [10_002, 10_005])
    }

    @Test func beyondVisibleDepthTheRemainderExpiresByDefault() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let r = v.run(order(1, side: .sell, quantity: 5_000, type: .market))
        #expect(r.map(\.status) == [.accepted, .partiallyFilled, .partiallyFilled, .partiallyFilled, .expired])
        #expect(r.last?.leavesQuantity.units == 500)
        #expect(r.dropFirst().reduce(0) { $0 + $1.quantity.units } == 4_500)
    }

    @Test func beyondVisibleDepthCanFillAtTheWorstLevel() {
        var v = PaperVenue(config: noLatency { $0.beyondDepth = .fillAtWorstLevel }, instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let r = v.run(order(1, side: .sell, quantity: 5_000, type: .market))
        #expect(r.last?.status == .filled && r.last?.price.units == 9_998 && r.last?.quantity.units == 500)
    }

    @Test func feesAreChargedPerFillRoundedUpAndMoveTheCash() {
        var v = PaperVenue(config: noLatency { $0.takerFeePartsPerMillion = 1_000 }, instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let r = v.run(order(1, quantity: 1_000, type: .market))
        // 100.01 × 1.000 = 100.01; 0.1 % = 0.10001 → 0.11 rounded up to the price unit.
        #expect(r[1].fee == 11)
        #expect(v.cashMoney == MoneyScale.money(50_000) - MoneyScale.money(100) - 1_000_000 - 11_000_000)
    }

    @Test func buysBeyondTheCashAreRejected() {
        var v = PaperVenue(config: noLatency { $0.startingCapitalMoney = MoneyScale.money(100) }, instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        #expect(v.run(order(1, quantity: 1_000, price: 10_001)).map(\.status) == [.rejected])
        #expect(v.rejectsByReason[Int(PaperRejectReason.insufficientFunds.rawValue)] == 1)
        #expect(v.run(order(2, quantity: 900, price: 10_001)).last?.status == .filled)
    }

    /// An entry that filled first can take the position an exit was sent to close: the exit
    /// then arrives to find less (or nothing) on its side and is refused whole, never filled
    /// into a new position. Positions are per strategy.
    @Test func aReduceOnlyOrderLargerThanThePositionItReducesIsRejected() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1, strategyCapacity: 4)
        v.onDepth(syntheticBook(), nowNs: 0)
        #expect(v.run(order(1, side: .sell, quantity: 500, type: .market, reduceOnly: true)).map(\.status) == [.rejected])
        #expect(v.run(order(2, quantity: 1_000, type: .market, strategy: 1)).last?.status == .filled)
        #expect(v.position(strategy: 1, instrument: 0) == 1_000 && v.position(strategy: 0, instrument: 0) == 0)
        // Strategy 0 holds nothing; strategy 1 cannot sell more than it holds, nor buy to reduce a long.
        #expect(v.run(order(3, side: .sell, quantity: 500, type: .market, reduceOnly: true)).map(\.status) == [.rejected])
        #expect(v.run(order(4, side: .sell, quantity: 1_001, type: .market, strategy: 1, reduceOnly: true)).map(\.status) == [.rejected])
        #expect(v.run(order(5, quantity: 100, type: .market, strategy: 1, reduceOnly: true)).map(\.status) == [.rejected])
        #expect(v.rejectsByReason[Int(PaperRejectReason.reduceOnlyWouldIncrease.rawValue)] == 4)
        #expect(v.position(strategy: 1, instrument: 0) == 1_000)
        // What it holds, it can close, in parts.
        #expect(v.run(order(6, side: .sell, quantity: 400, type: .market, strategy: 1, reduceOnly: true)).last?.status == .filled)
        #expect(v.run(order(7, side: .sell, quantity: 600, type: .market, strategy: 1, reduceOnly: true)).last?.status == .filled)
        #expect(v.position(strategy: 1, instrument: 0) == 0)
    }

    @Test func ordersWithoutABookOrWithWrongDecimalsAreRejected() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 2)
        #expect(v.run(order(1, instrument: 1)).map(\.status) == [.rejected])
        #expect(v.run(order(2, instrument: 7)).map(\.status) == [.rejected])
        v.onDepth(syntheticBook(), nowNs: 0)
        var o = order(3)
        o.quantityDecimals = 8
        #expect(v.run(o).map(\.status) == [.rejected])
        #expect(v.rejectsByReason[Int(PaperRejectReason.noBook.rawValue)] == 1
                && v.rejectsByReason[Int(PaperRejectReason.unknownInstrument.rawValue)] == 1
                && v.rejectsByReason[Int(PaperRejectReason.malformedOrder.rawValue)] == 1)
    }

    @Test func aMarketableLimitTakesUpToItsPriceAndRestsTheRest() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let r = v.run(order(1, quantity: 4_000, price: 10_002))
        #expect(r.map(\.status) == [.accepted, .partiallyFilled, .partiallyFilled])
        #expect(r.last?.leavesQuantity.units == 1_000 && v.restingCount == 1)
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == 0)  // it is now the best bid
        let ioc = v.run(order(2, quantity: 4_000, price: 10_005, timeInForce: .immediateOrCancel))
        #expect(ioc.last?.status == .expired && ioc.last?.leavesQuantity.units == 1_000)
        let fok = v.run(order(3, side: .sell, quantity: 10_000, price: 9_000, timeInForce: .fillOrKill))
        #expect(fok.map(\.status) == [.accepted, .expired])
    }

    @Test func aRestingLimitFillsWhenATradePrintsThroughIt() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        _ = v.run(order(1, quantity: 700, price: 9_999))
        v.onTrade(instrument: 0, price: Price(units: 9_999), quantity: Quantity(units: 100), aggressorSold: false, nowNs: 1)  // buyers: no effect
        #expect(v.drain().isEmpty)
        v.onTrade(instrument: 0, price: Price(units: 9_998), quantity: Quantity(units: 1), aggressorSold: true, nowNs: 2)
        let r = v.drain()
        #expect(r.count == 1 && r[0].status == .filled && r[0].price.units == 9_999 && r[0].quantity.units == 700 && r[0].liquidity == .maker)
        #expect(v.restingCount == 0)
    }

    @Test func aRestingLimitWaitsForTheQueueAheadOfIt() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        _ = v.run(order(1, quantity: 500, price: 9_999))  // 2.000 ahead at 99.99
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == 2_000)
        v.onTrade(instrument: 0, price: Price(units: 9_999), quantity: Quantity(units: 1_800), aggressorSold: true, nowNs: 1)
        #expect(v.drain().isEmpty && v.queueAhead(clientOrderId: 1, instrument: 0) == 200)
        // The level shrinks to 0.100 (cancels): the queue ahead cannot be longer than the level.
        var b = syntheticBook()
        b.bids[1].quantity.units = 100
        v.onDepth(b, nowNs: 2)
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == 100)
        v.onTrade(instrument: 0, price: Price(units: 9_999), quantity: Quantity(units: 400), aggressorSold: true, nowNs: 3)
        let r = v.drain()
        #expect(r.count == 1 && r[0].quantity.units == 300 && r[0].status == .partiallyFilled && r[0].leavesQuantity.units == 200)
    }

    @Test func aBookThatCrossesARestingOrderFillsIt() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        _ = v.run(order(1, side: .sell, quantity: 2_000, price: 10_003))
        var b = syntheticBook()
        b.bids[0] = BookLevel(price: Price(units: 10_004), quantity: Quantity(units: 500))
        v.onDepth(b, nowNs: 1)
        let r = v.drain()
        #expect(r.count == 1 && r[0].price.units == 10_003 && r[0].quantity.units == 500 && r[0].liquidity == .maker)
    }

    @Test func aPriceBeyondVisibleDepthHasAnUnknownQueue() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        var b = syntheticBook()
        for n in 0..<DepthSnapshot.depth { b.bids[n] = BookLevel(price: Price(units: 10_000 - Int64(n)), quantity: Quantity(units: 100)) }
        b.bidLevels = UInt8(DepthSnapshot.depth)
        v.onDepth(b, nowNs: 0)
        _ = v.run(order(1, quantity: 100, price: 9_900))
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == Int64.max)
        v.onTrade(instrument: 0, price: Price(units: 9_900), quantity: Quantity(units: 1_000_000), aggressorSold: true, nowNs: 1)
        #expect(v.drain().isEmpty)
    }

    @Test func cancelsRemoveRestingOrdersAndAreRefusedForOthers() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let o = order(1, quantity: 500, price: 9_990)
        _ = v.run(o)
        var c = o
        c.actionRaw = OrderAction.cancel.rawValue
        let r = v.run(c)
        #expect(r.count == 1 && r[0].status == .cancelled && r[0].leavesQuantity.units == 500 && v.restingCount == 0)
        let again = v.run(c)
        #expect(again.count == 1 && again[0].status == .rejected && again[0].flags == VenueReportFlags.cancelRejected)
    }

    @Test func aReplaceDownInQuantityKeepsTheQueueAndANewPriceLosesIt() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let o = order(1, quantity: 500, price: 9_999)  // 2.000 ahead at 99.99
        _ = v.run(o)
        v.onTrade(instrument: 0, price: Price(units: 9_999), quantity: Quantity(units: 1_500), aggressorSold: true, nowNs: 1)
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == 500)
        var smaller = o
        smaller.actionRaw = OrderAction.replace.rawValue
        smaller.quantity = Quantity(units: 300)
        let r = v.run(smaller, nowNs: 2)
        #expect(r.count == 1 && r[0].status == .accepted && r[0].leavesQuantity.units == 300)
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == 500 && v.restingCount == 1)
        // A new price: to the back of the queue at 100.00 (1.500 ahead), same order id.
        var moved = smaller
        moved.price = Price(units: 10_000)
        let m = v.run(moved, nowNs: 3)
        #expect(m.count == 1 && m[0].status == .accepted && m[0].leavesQuantity.units == 300)
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == 1_500 && v.restingCount == 1)
        #expect(v.holdings().openOrders == [.init(clientOrderId: 1, strategy: 0, instrument: 0, side: .buy,
                                                  price: Price(units: 10_000), leavesQuantity: Quantity(units: 300))])
        // A price that crosses the asks fills as a taker at once.
        var crossing = moved
        crossing.price = Price(units: 10_001)
        let c = v.run(crossing, nowNs: 4)
        #expect(c.map(\.status) == [.accepted, .filled] && c[1].price.units == 10_001 && c[1].liquidity == .taker)
        #expect(v.restingCount == 0 && v.holdings().positions == [.init(strategy: 0, instrument: 0, quantityUnits: 300)])
        // Nothing rests any more: the replace is refused, the order's own reports stand.
        let refused = v.run(crossing, nowNs: 5)
        #expect(refused.count == 1 && refused[0].status == .rejected && refused[0].flags == VenueReportFlags.cancelRejected)
    }

    @Test func aReplaceWithNoQuantityOrNoPriceIsRefusedAndTheOrderRests() {
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 0)
        let o = order(1, quantity: 500, price: 9_990)
        _ = v.run(o)
        for (price, quantity): (Int64, Int64) in [(9_990, 0), (0, 500)] {
            var bad = o
            bad.actionRaw = OrderAction.replace.rawValue
            bad.price = Price(units: price)
            bad.quantity = Quantity(units: quantity)
            let r = v.run(bad)
            #expect(r.count == 1 && r[0].status == .rejected && r[0].flags == VenueReportFlags.cancelRejected)
        }
        #expect(v.restingCount == 1 && v.holdings().openOrders.first?.leavesQuantity.units == 500)
    }

    @Test func neverAnswersAnOrderBeforeTheWallTimeItCarries() {
        // The execution stage's duty-cycle time can be older than an order handed over by
        // another runner in the same cycle: its reports still come at or after the order.
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(syntheticBook(), nowNs: 1_000)
        var o = order(1, quantity: 10, price: 9_000)
        o.receiveWallNs = 5_000
        let queued = v.submit(o, nowNs: 1_000)
        #expect(queued)
        let early = v.advance(nowNs: 4_999)
        #expect(early == 0 && v.drain().isEmpty)
        let onTime = v.advance(nowNs: 5_000)
        #expect(onTime == 1)
        let reports = v.drain()
        #expect(!reports.isEmpty && reports.allSatisfy { $0.receiveWallNs >= o.receiveWallNs && $0.venueTimeNs >= o.receiveWallNs })
    }

    @Test func latencyIsFixedPlusSeededJitterAndOrdersArriveInTheOrderSent() {
        var c = PaperVenueConfig()
        c.latencyFixedNs = 1_000
        c.latencyJitterNs = 500
        func arrivals(seed: UInt64) -> [Nanos] {
            var cfg = c
            cfg.seed = seed
            var v = PaperVenue(config: cfg, instrumentCapacity: 1)
            v.onDepth(syntheticBook(), nowNs: 0)
            for id in UInt64(1)...20 { _ = v.submit(order(id, quantity: 10, price: 9_000), nowNs: 0) }
            var seen: [Nanos] = []
            for t in stride(from: Nanos(0), through: 2_000, by: 1) {
                if v.advance(nowNs: WallNanos(t)) > 0 { while let r = v.nextReport() { seen.append(r.venueTimeNs.ns); #expect(r.clientOrderId == UInt64(seen.count)) } }
            }
            return seen
        }
        let a = arrivals(seed: 7), b = arrivals(seed: 7), other = arrivals(seed: 8)
        #expect(a.count == 20 && a == b && a != other)
        #expect(a.allSatisfy { $0 >= 1_000 && $0 <= 1_500 } && a == a.sorted())
        #expect(Set(a).count > 1)  // jitter did something
    }
}

@Suite struct RecordedBookPaperFillTests {
    @Test(.enabled(if: RecordedBook.isAvailable, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func aMarketSellWalksTheRecordedBTCUSDTBookWithSlippageFromDepth() throws {
        let (book, _) = try RecordedBook.snapshotAndTrades(following: 20)
        #expect(book.bidLevels == 10 && book.askLevels == 10)
        #expect(book.bids[0].price.units == 6_183_763 && book.asks[0].price.units == 6_183_764)  // 61837.63 / 61837.64
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(book, nowNs: 0)
        // Sell 5 BTC: more than the best bid's 3.78826, so it walks down.
        let quantity: Int64 = 500_000_000
        let r = v.run(OrderEvent(clientOrderId: 1, side: .sell, type: .market, quantity: Quantity(units: quantity),
                                 priceDecimals: 2, quantityDecimals: 8))
        let fills = r.filter { $0.quantity.units > 0 }
        var expected: [(Int64, Int64)] = []
        var left = quantity
        for n in 0..<10 where left > 0 {
            let q = min(left, book.bids[n].quantity.units)
            expected.append((book.bids[n].price.units, q))
            left -= q
        }
        #expect(fills.map { [$0.price.units, $0.quantity.units] } == expected.map { [$0.0, $0.1] })
        let filled = fills.reduce(Int64(0)) { $0 + $1.quantity.units }
        let value = fills.reduce(Int128(0)) { $0 + Int128($1.price.units) * Int128($1.quantity.units) }
        let averageUnits = Double(value) / Double(filled)
        // Slippage: the average is below the best bid, and no fill is below the last level walked.
        #expect(averageUnits < Double(book.bids[0].price.units))
        #expect(fills.allSatisfy { $0.price.units >= expected.last!.0 })
        #expect(filled == quantity - left && (left == 0) == (r.last?.status == .filled))
    }

    @Test(.enabled(if: RecordedBook.isAvailable, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func aBidAtTheRecordedBestBidFillsOnlyAfterTheQueueAheadTrades() throws {
        let (book, trades) = try RecordedBook.snapshotAndTrades(following: 6_000)
        let best = book.bids[0]
        var v = PaperVenue(config: noLatency(), instrumentCapacity: 1)
        v.onDepth(book, nowNs: 0)
        let quantity: Int64 = 10_000_000  // 0.1 BTC
        let placed = v.run(OrderEvent(clientOrderId: 1, side: .buy, type: .limit, price: best.price, quantity: Quantity(units: quantity),
                                      timeInForce: .goodTillCancel, priceDecimals: 2, quantityDecimals: 8))
        #expect(placed.map(\.status) == [.accepted])
        #expect(v.queueAhead(clientOrderId: 1, instrument: 0) == best.quantity.units)
        // Independent model: sells at our price use up the queue, then fill us; any sell below fills us whole.
        var ahead = best.quantity.units, leaves = quantity
        var expectedFills: [Int64] = []
        var filled: [Int64] = []
        for t in trades where leaves > 0 {
            if t.aggressorSold && t.price < best.price.units {
                expectedFills.append(leaves)
                leaves = 0
            } else if t.aggressorSold && t.price == best.price.units {
                let used = min(ahead, t.quantity)
                ahead -= used
                let q = min(t.quantity - used, leaves)
                if q > 0 { expectedFills.append(q); leaves -= q }
            }
            v.onTrade(instrument: 0, price: Price(units: t.price), quantity: Quantity(units: t.quantity), aggressorSold: t.aggressorSold, nowNs: WallNanos(t.receiveNs))
            while let r = v.nextReport() {
                #expect(r.price == best.price && r.liquidity == .maker)
                filled.append(r.quantity.units)
            }
        }
        #expect(filled == expectedFills && !filled.isEmpty)
        #expect(!trades.isEmpty)
    }
}
