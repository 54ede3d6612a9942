import Testing
import TicklineCore
import TicklineIndicators
import TicklineStrategy

/// A strategy that buys on every bar, so every closed bar yields a signal to look at.
struct BuysEveryBar: SymbolStrategy {
    var common: StrategyCommon
    func makeState() -> Int { 0 }
    func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout Int) -> StrategyDecision? {
        StrategyDecision(side: .buy, entry: bar.close, takeProfit: bar.close * 1.01, stopLoss: bar.close * 0.99, confidence: 0.5)
    }
}

/// Bars and signals carry the venue their instrument trades on, from the settings.
@Suite struct VenueStampTests {
    @Test func barsAndSignalsCarryTheVenueOfTheirInstrument() {
        var s = StrategySettings()
        s.symbolCount = 3
        s.timeBars = [.seconds1]
        s.tickBarTrades = 2
        // Instrument 2 is beyond the list: it trades on the first venue.
        s.instrumentVenues = [0, 1]
        var e = StrategyEngine<BuysEveryBar>(settings: s, custom: [BuysEveryBar(common: StrategyCommon(id: 9, timeframe: .seconds1))])
        var out = Collected()
        for (k, instrument) in [InstrumentId(1), 0, 2, 1, 0, 2].enumerated() {
            // The market events name no venue: the stamp comes from the settings.
            e.process(trade(instrument, priceUnits: 10_000 + Int64(k), wallNs: epoch2024Ns + Nanos(k)), nowNs: 1)
        }
        // A trade in the next second closes instrument 1's time bar on the event path; the clock closes the others.
        e.process(trade(1, priceUnits: 10_100, wallNs: epoch2024Ns + second + 1), nowNs: 2)
        _ = e.advanceTime(wallNs: epoch2024Ns + second + 2, nowNs: 3)
        out.drain(&e)
        let venueOf: [InstrumentId: VenueId] = [0: 0, 1: 1, 2: 0]
        #expect(out.bars(of: .tick).count == 3 && out.bars(of: .seconds1).count == 3)
        #expect(out.signals.count == 3 && Set(out.signals.map(\.instrument)) == [0, 1, 2])
        for b in out.bars { #expect(b.venue == venueOf[b.instrument], "bar of instrument \(b.instrument)") }
        for signal in out.signals { #expect(signal.venue == venueOf[signal.instrument], "signal of instrument \(signal.instrument)") }
        #expect(out.bars.contains { $0.venue == 1 } && out.signals.contains { $0.venue == 1 })
    }
}
