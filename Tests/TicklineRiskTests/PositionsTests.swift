import Testing
import TicklineCore
import TicklineRisk

@Suite struct PositionsTests {
    func positions() -> Positions {
        var p = Positions(strategyCapacity: 2, instrumentCapacity: 2, startingCapitalMoney: MoneyScale.money(50_000))
        p.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        p.register(instrument: 1, priceDecimals: 2, quantityDecimals: 3)
        return p
    }

    func fill(_ side: Side, _ quantity: Int64, at price: Int64, strategy: StrategyId = 0, instrument: InstrumentId = 0, fee: Int64 = 0) -> FillEvent {
        FillEvent(instrument: instrument, strategy: strategy, side: side, price: Price(units: price), quantity: Quantity(units: quantity),
                  fee: fee, priceDecimals: 2, quantityDecimals: 3)
    }

    @Test func averagesEntriesAndRealisesPnLOnReductions() {
        var p = positions()
        #expect(p.apply(fill: fill(.buy, 2_000, at: 10_000, fee: 10)) == true)
        #expect(p.apply(fill: fill(.buy, 2_000, at: 11_000, fee: 10)) == true)
        #expect(p.position(strategy: 0, instrument: 0).averagePriceUnits == 10_500)
        p.apply(fill: fill(.sell, 3_000, at: 12_000, fee: 10))
        let v = p.position(strategy: 0, instrument: 0)
        #expect(v.quantityUnits == 1_000 && v.averagePriceUnits == 10_500)
        #expect(v.realisedMoney == MoneyScale.money(45))
        #expect(v.feesMoney == 30_000_000)  // 3 × 0.10
        #expect(v.unrealisedMoney == -MoneyScale.money(5))  // fills do not move the mark: still 100.00 (seeded by the first fill)
        p.mark(instrument: 0, price: Price(units: 13_000))
        #expect(p.position(strategy: 0, instrument: 0).unrealisedMoney == MoneyScale.money(25))
        #expect(p.equityMoney == MoneyScale.money(50_000 + 45 + 25) - 30_000_000)
    }

    @Test func reversesThroughZeroAtTheFillPrice() {
        var p = positions()
        p.apply(fill: fill(.buy, 1_000, at: 10_500))
        p.apply(fill: fill(.sell, 3_000, at: 13_000))
        let v = p.position(strategy: 0, instrument: 0)
        #expect(v.quantityUnits == -2_000 && v.averagePriceUnits == 13_000 && v.realisedMoney == MoneyScale.money(25))
        p.mark(instrument: 0, price: Price(units: 12_500))
        #expect(p.position(strategy: 0, instrument: 0).unrealisedMoney == MoneyScale.money(10))
        p.apply(fill: fill(.buy, 2_000, at: 12_000))
        let flat = p.position(strategy: 0, instrument: 0)
        #expect(flat.quantityUnits == 0 && flat.unrealisedMoney == 0 && flat.realisedMoney == MoneyScale.money(45))
        #expect(p.unrealisedMoney == 0)
    }

    @Test func aggregatesPerSymbolPerStrategyAndTracksPeakAndDrawdown() {
        var p = positions()
        p.apply(fill: fill(.buy, 1_000, at: 10_000, strategy: 0))
        p.apply(fill: fill(.sell, 2_000, at: 10_000, strategy: 1))
        p.apply(fill: fill(.buy, 1_000, at: 10_000, strategy: 1, instrument: 1))
        #expect(p.quantity(instrument: 0) == -1_000)
        p.mark(instrument: 0, price: Price(units: 9_000))  // s0 −10, s1 +20
        #expect(p.symbol(0).unrealisedMoney == MoneyScale.money(10))
        #expect(p.strategy(1).unrealisedMoney == MoneyScale.money(20))
        #expect(p.peakEquityMoney == MoneyScale.money(50_010))
        p.mark(instrument: 1, price: Price(units: 7_000))  // s1 −30 on instrument 1
        #expect(p.equityMoney == MoneyScale.money(49_980))
        #expect(p.drawdownMoney == MoneyScale.money(30))
        #expect(p.drawdownPartsPerMillion == 599)  // 30 / 50,010
    }

    @Test func refusesFillsItCannotBook() {
        var p = positions()
        var bad = fill(.buy, 1_000, at: 10_000)
        bad.quantityDecimals = 4
        #expect(p.apply(fill: bad) == false)
        #expect(p.apply(fill: fill(.buy, 1_000, at: 10_000, instrument: 5)) == false)
        #expect(p.apply(fill: fill(.buy, 1_000, at: 0)) == false)
        #expect(p.rejectedFills == 3 && p.quantity(instrument: 0) == 0)
    }
}
