#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineCore
import TicklineEngine
import TicklineExecution
import TicklineRing

/// A venue that is not the paper venue: it accepts every new order and fills it whole at its
/// limit (or at `marketPrice`) the next time it advances, refuses cancels and replaces. The
/// execution stage must drive it through `ExecutionVenue` alone.
struct FillAtOnceVenue: ExecutionVenue {
    let venueId: VenueId
    var marketPrice: Price
    var queue: [FillEvent] = []
    var taken: [OrderEvent] = []
    var position: [Int64] = [0, 0]

    init(venueId: VenueId, marketPrice: Price) {
        self.venueId = venueId
        self.marketPrice = marketPrice
        queue.reserveCapacity(64)
        taken.reserveCapacity(64)
    }

    var canTakeOrder: Bool { taken.count < 64 }

    mutating func submit(_ order: OrderEvent, nowNs: WallNanos) -> Bool {
        taken.append(order)
        return true
    }

    mutating func advance(nowNs: WallNanos) -> Int {
        let work = taken.count
        for o in taken {
            var r = FillEvent(clientOrderId: o.clientOrderId, instrument: o.instrument, strategy: o.strategy, side: o.side ?? .buy,
                              priceDecimals: o.priceDecimals, quantityDecimals: o.quantityDecimals, venue: venueId, venueTimeNs: nowNs,
                              receiveWallNs: nowNs, timestamps: o.timestamps)
            guard o.action == .new else {
                r.statusRaw = OrderStatus.rejected.rawValue
                r.flags = VenueReportFlags.cancelRejected
                queue.append(r)
                continue
            }
            r.statusRaw = OrderStatus.accepted.rawValue
            r.leavesQuantity = o.quantity
            queue.append(r)
            r.statusRaw = OrderStatus.filled.rawValue
            r.price = o.type == .limit ? o.price : marketPrice
            r.quantity = o.quantity
            r.leavesQuantity = .zero
            r.venueTradeId = UInt64(queue.count)
            queue.append(r)
            position[Int(o.strategy)] += (o.side == .sell ? -1 : 1) * o.quantity.units
        }
        taken.removeAll(keepingCapacity: true)
        return work
    }

    mutating func nextReport() -> FillEvent? {
        guard !queue.isEmpty else { return nil }
        return queue.removeFirst()
    }

    mutating func onDepth(_ snapshot: DepthSnapshot, nowNs: WallNanos) {}
    mutating func onTrade(_ trade: MarketEvent, nowNs: WallNanos) {}

    func holdings() -> VenueHoldings {
        var h = VenueHoldings()
        for (s, q) in position.enumerated() where q != 0 {
            h.positions.append(.init(strategy: StrategyId(s), instrument: 0, quantityUnits: q))
        }
        return h
    }

    mutating func restore(strategy: StrategyId, instrument: InstrumentId, quantityUnits: Int64) {
        position[Int(strategy)] = quantityUnits
    }
}

@Suite(.serialized) struct ExecutionVenueTests {
    @Test func theExecutionStageDrivesAnyExecutionVenueAndRiskSeesItsFills() throws {
        let name = RiskExecutionTests.instance("ev")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let journal = RiskExecutionTests.tempPath("journal")
        defer { unlink(journal) }
        let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 0, withVenue: false)
        let venue = FillAtOnceVenue(venueId: 0, marketPrice: Price(units: 6_100_010))
        let execution = try ExecutionAgent(venues: [venue], instrumentVenues: [0], holding: p.risk, region: region)
        p.publishBook(nowNs: Clock.monotonic())
        p.sendSignal(quantityUnits: 100)
        #expect(RiskExecutionTests.run(p, execution: execution) { p.risk.counters.fills > 0 })
        #expect(p.risk.counters.orders == 1 && p.risk.counters.fills == 1 && p.risk.counters.reports.accepted == 1)
        #expect(p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100)
        #expect(execution.ordersReceived == 1 && execution.reportsSent == 2 && execution.paperVenue() == nil)
        // Venue and risk agree; the same query finds a position the venue holds and risk does not.
        #expect(execution.reconcile(with: p.risk).isEmpty)
    }

    @Test func reconciliationNamesAPositionAndAnOpenOrderRiskDoesNotHold() throws {
        let name = RiskExecutionTests.instance("er")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 0, withVenue: false)
        var paper = PaperVenue(config: PaperVenueConfig(), instrumentCapacity: 1, strategyCapacity: 2)
        paper.restore(strategy: 1, instrument: 0, quantityUnits: 700)
        var book = DepthSnapshot(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        book.bids[0] = BookLevel(price: Price(units: 6_100_000), quantity: Quantity(units: 5_000))
        book.asks[0] = BookLevel(price: Price(units: 6_100_010), quantity: Quantity(units: 5_000))
        book.bidLevels = 1
        book.askLevels = 1
        paper.onDepth(book, nowNs: 0)
        _ = paper.submit(OrderEvent(clientOrderId: 42, instrument: 0, strategy: 0, side: .buy, type: .limit, price: Price(units: 6_000_000),
                                    quantity: Quantity(units: 100), priceDecimals: 2, quantityDecimals: 3), nowNs: 0)
        paper.advance(nowNs: 10_000_000_000)
        let execution = try ExecutionAgent(venues: [paper], instrumentVenues: [0], holding: p.risk, region: region)
        let found = execution.reconcile(with: p.risk)
        #expect(found == [.position(venue: 0, strategy: 1, instrument: 0, risk: 0, held: 700),
                          .unknownOpenOrder(venue: 0, clientOrderId: 42)])
        #expect(found[0].description.contains("the venue holds 700 units, risk holds 0"))
    }

    @Test func aVenueListedOutOfItsIdOrderIsRefused() throws {
        let name = RiskExecutionTests.instance("eo")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 0, withVenue: false)
        #expect(throws: EngineError.self) {
            try ExecutionAgent(venues: [FillAtOnceVenue(venueId: 1, marketPrice: .zero)], instrumentVenues: [0], holding: p.risk, region: region)
        }
    }
}
