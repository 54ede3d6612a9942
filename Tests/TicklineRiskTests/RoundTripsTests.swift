import Testing
import TicklineCore
import TicklineRisk
import TicklineTestSupport

@Suite struct RoundTripsTests {
    func positions(capacity: Int = 16) -> Positions {
        var p = Positions(strategyCapacity: 3, instrumentCapacity: 2, startingCapitalMoney: MoneyScale.money(50_000),
                          roundTripCapacity: capacity)
        p.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        p.register(instrument: 1, priceDecimals: 2, quantityDecimals: 3)
        return p
    }

    func fill(_ side: Side, _ quantity: Int64, at price: Int64, strategy: StrategyId = 0, fee: Int64 = 0, wallNs: WallNanos = 0) -> FillEvent {
        FillEvent(strategy: strategy, side: side, price: Price(units: price), quantity: Quantity(units: quantity),
                  fee: fee, priceDecimals: 2, quantityDecimals: 3, receiveWallNs: wallNs)
    }

    func trips(_ p: Positions) -> [RoundTrip] {
        var out: [RoundTrip] = []
        p.roundTrips.forEach(after: 0) { out.append($0) }
        return out
    }

    /// Σ net of the closed round trips + unrealised − open fees = equity − capital, in money units.
    func identityHolds(_ p: Positions) -> Bool {
        trips(p).reduce(0) { $0 + $1.netMoney } + p.unrealisedMoney - p.roundTrips.openFeesMoney
            == p.equityMoney - p.startingCapitalMoney
    }

    @Test func chargesTheOpeningFeeOfARoundTripAsWellAsTheClosingOne() throws {
        var p = positions()
        p.apply(fill: fill(.buy, 2_000, at: 10_000, fee: 20, wallNs: 1_000))
        #expect(p.roundTrips.openFeesMoney == 20_000_000)
        p.apply(fill: fill(.sell, 2_000, at: 10_100, fee: 21, wallNs: 5_000))
        let t = try #require(trips(p).first)
        #expect(trips(p).count == 1 && t.sequence == 1)
        #expect(t.side == .buy && t.quantityUnits == 2_000 && t.entryWallNs == 1_000 && t.exitWallNs == 5_000)
        #expect(t.entryNotional == 20_000_000 && t.exitNotional == 20_200_000)  // 100.00 and 101.00 × 2.000
        #expect(t.grossMoney == MoneyScale.money(2))
        #expect(t.openingFeesMoney == 20_000_000 && t.closingFeesMoney == 21_000_000)
        #expect(t.netMoney == MoneyScale.money(2) - 41_000_000)
        #expect(p.roundTrips.openFeesMoney == 0)
        #expect(identityHolds(p))
    }

    @Test func aPartialCloseIsARoundTripForTheClosedPartWithItsShareOfTheOpeningFees() {
        var p = positions()
        p.apply(fill: fill(.sell, 3_000, at: 10_000, fee: 30, wallNs: 1))
        p.apply(fill: fill(.buy, 1_000, at: 9_900, fee: 7, wallNs: 2))
        var t = trips(p)
        #expect(t.count == 1 && t[0].side == .sell && t[0].quantityUnits == 1_000)
        #expect(t[0].openingFeesMoney == 10_000_000 && t[0].closingFeesMoney == 7_000_000)
        #expect(t[0].grossMoney == MoneyScale.money(1))  // short 1.000 from 100.00 to 99.00
        #expect(p.roundTrips.openFeesMoney == 20_000_000)
        p.mark(instrument: 0, price: Price(units: 9_950))
        #expect(identityHolds(p))
        p.apply(fill: fill(.buy, 2_000, at: 10_050, fee: 9, wallNs: 3))
        t = trips(p)
        #expect(t.count == 2 && t[1].quantityUnits == 2_000 && t[1].entryWallNs == 1 && t[1].exitWallNs == 3)
        #expect(t[1].openingFeesMoney == 20_000_000 && t[1].grossMoney == -MoneyScale.money(1))
        #expect(p.roundTrips.openFeesMoney == 0 && identityHolds(p))
    }

    @Test func aFillThroughZeroClosesThePositionAndOpensTheRestWithItsShareOfTheFee() {
        var p = positions()
        p.apply(fill: fill(.buy, 1_000, at: 10_000, fee: 10, wallNs: 1))
        p.apply(fill: fill(.sell, 4_000, at: 10_200, fee: 41, wallNs: 2))
        let t = trips(p)
        #expect(t.count == 1 && t[0].quantityUnits == 1_000 && t[0].side == .buy)
        #expect(t[0].closingFeesMoney == 10_250_000)  // a quarter of 0.41
        #expect(p.roundTrips.openFeesMoney == 30_750_000)  // the rest opened the short
        p.apply(fill: fill(.buy, 3_000, at: 10_100, fee: 30, wallNs: 9))
        let short = trips(p)[1]
        #expect(short.side == .sell && short.entryWallNs == 2 && short.quantityUnits == 3_000)
        #expect(short.grossMoney == MoneyScale.money(3) && short.openingFeesMoney == 30_750_000)
        #expect(identityHolds(p))
    }

    @Test func keepsOneStrategysTripsApartFromAnothersOnTheSameSymbol() {
        var p = positions()
        p.apply(fill: fill(.buy, 1_000, at: 10_000, strategy: 1, fee: 5))
        p.apply(fill: fill(.sell, 1_000, at: 10_000, strategy: 2, fee: 5))
        p.apply(fill: fill(.sell, 1_000, at: 10_100, strategy: 1, fee: 5))
        let t = trips(p)
        #expect(t.count == 1 && t[0].strategy == 1 && t[0].grossMoney == MoneyScale.money(1))
        #expect(p.roundTrips.openFeesMoney == 5_000_000)  // strategy 2's short
        #expect(identityHolds(p))
    }

    @Test func theIdentityHoldsToTheMoneyUnitOverManyUnevenFills() {
        var p = positions(capacity: 4_096)
        var rng = SeededGenerator(seed: 7)
        for k in 0..<2_000 {
            let side: Side = Bool.random(using: &rng) ? .buy : .sell
            p.apply(fill: fill(side, Int64.random(in: 1...3_333, using: &rng), at: Int64.random(in: 9_000...11_000, using: &rng),
                               strategy: StrategyId(k % 3), fee: Int64.random(in: 0...97, using: &rng), wallNs: WallNanos(Int64(k))))
            if k % 7 == 0 { p.mark(instrument: 0, price: Price(units: Int64.random(in: 9_000...11_000, using: &rng))) }
        }
        #expect(trips(p).count > 500)
        #expect(identityHolds(p))
        #expect(trips(p).allSatisfy { $0.exitWallNs >= $0.entryWallNs && $0.quantityUnits > 0 })
    }

    @Test func aReaderThatFellBehindTheRingIsToldHowManyItMissed() {
        var p = positions(capacity: 4)
        for k in 0..<6 {
            p.apply(fill: fill(.buy, 1_000, at: 10_000, wallNs: WallNanos(Int64(k))))
            p.apply(fill: fill(.sell, 1_000, at: 10_000, wallNs: WallNanos(Int64(k))))
        }
        var seen: [UInt64] = []
        let missed = p.roundTrips.forEach(after: 1) { seen.append($0.sequence) }
        #expect(missed == 1 && seen == [3, 4, 5, 6])
        #expect(p.roundTrips.trip(sequence: 2) == nil && p.roundTrips.trip(sequence: 6)?.sequence == 6)
        #expect(p.roundTrips.forEach(after: 6) { _ in Issue.record("nothing is newer") } == 0)
    }
}
