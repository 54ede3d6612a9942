import Testing
import TicklineCore
import TicklineStrategy

@Suite struct BarAggregationTests {
    func engine(_ configure: (inout StrategySettings) -> Void = { _ in }) -> StrategyEngine<NoCustomStrategy> {
        var s = StrategySettings()
        s.symbolCount = 2
        configure(&s)
        return StrategyEngine(settings: s)
    }

    @Test func closesATimeBarOnTheClockWhenNoTradeArrives() {
        var e = engine { $0.timeBars = [.seconds1] }
        var out = Collected()
        e.process(trade(priceUnits: 10_000, quantityUnits: 2, wallNs: epoch2024Ns + 100_000_000), nowNs: 1)
        e.process(trade(priceUnits: 10_050, quantityUnits: 3, wallNs: epoch2024Ns + 400_000_000), nowNs: 2)
        e.process(trade(priceUnits: 9_990, quantityUnits: 1, wallNs: epoch2024Ns + 900_000_000), nowNs: 3)
        #expect(e.advanceTime(wallNs: epoch2024Ns + 999_999_999, nowNs: 4) == 0)
        out.drain(&e)
        #expect(out.bars.isEmpty)
        #expect(e.advanceTime(wallNs: epoch2024Ns + second, nowNs: 5) == 1)
        out.drain(&e)
        #expect(out.bars.count == 1)
        let bar = out.bars[0]
        #expect(bar.kind == .seconds1)
        #expect(bar.startWallNs == epoch2024Ns && bar.endWallNs == epoch2024Ns + second)
        #expect(bar.open.units == 10_000 && bar.high.units == 10_050 && bar.low.units == 9_990 && bar.close.units == 9_990)
        #expect(bar.volume.units == 6 && bar.tradeCount == 3)
        #expect(e.counters.barsClosedByTimer == 1)
        // Nothing open any more: the clock closes nothing else, however far it moves.
        #expect(e.advanceTime(wallNs: epoch2024Ns + 100 * second, nowNs: 6) == 0)
    }

    @Test func aTradeAfterTheEndClosesTheBarBeforeItCounts() {
        var e = engine { $0.timeBars = [.seconds1] }
        var out = Collected()
        e.process(trade(priceUnits: 100, wallNs: epoch2024Ns + 500_000_000), nowNs: 1)
        e.process(trade(priceUnits: 200, wallNs: epoch2024Ns + 2_500_000_000), nowNs: 2)
        out.drain(&e)
        #expect(out.bars.count == 1)
        #expect(out.bars[0].close.units == 100)
        #expect(e.counters.barsClosedByTimer == 0)
        _ = e.advanceTime(wallNs: epoch2024Ns + 3 * second, nowNs: 3)
        out.drain(&e)
        #expect(out.bars.map(\.startWallNs) == [epoch2024Ns, epoch2024Ns + 2 * second])
    }

    @Test func buildsSeveralTimeframesPerSymbolAtOnce() {
        var e = engine { $0.timeBars = [.seconds1, .minutes1, .minutes5] }
        var out = Collected()
        // One trade every 500 ms for 10 minutes, on two symbols.
        for i in 0..<1200 {
            let t = epoch2024Ns + Nanos(i) * 500_000_000
            e.process(trade(0, priceUnits: 1000 + Int64(i % 7), wallNs: t), nowNs: mono(t))
            e.process(trade(1, priceUnits: 2000 + Int64(i % 5), wallNs: t), nowNs: mono(t))
            _ = e.advanceTime(wallNs: t, nowNs: mono(t))
            out.drain(&e)
        }
        _ = e.advanceTime(wallNs: epoch2024Ns + 600 * second, nowNs: 0)
        out.drain(&e)
        for symbol: InstrumentId in [0, 1] {
            let mine = out.bars.filter { $0.instrument == symbol }
            #expect(mine.filter { $0.kind == .seconds1 }.count == 600)
            #expect(mine.filter { $0.kind == .minutes1 }.count == 10)
            #expect(mine.filter { $0.kind == .minutes5 }.count == 2)
            let minuteVolume = mine.filter { $0.kind == .minutes1 }.map(\.volume.units).reduce(Int64(0), +)
            #expect(minuteVolume == 1200)
        }
        #expect(e.indicators(symbol: 0, kind: .minutes1)?.barCount == 10)
    }

    @Test func buildsMinuteHourAndDayBarsAlignedOnUTC() {
        var e = engine { $0.timeBars = [.minutes15, .hours1, .days1] }
        var out = Collected()
        let start = epoch2024Ns + 23 * 3600 * second  // 23:00 UTC
        for i in 0..<8 {
            let t = start + Nanos(i) * 15 * 60 * second + 1
            e.process(trade(priceUnits: 100 + Int64(i), wallNs: t), nowNs: mono(t))
        }
        _ = e.advanceTime(wallNs: start + 3 * 3600 * second, nowNs: 0)
        out.drain(&e)
        #expect(out.bars(of: .minutes15).count == 8)
        #expect(out.bars(of: .hours1).map(\.startWallNs) == [start, start + 3600 * second])
        // The second day's bar is still open at 02:00.
        #expect(out.bars(of: .days1).map(\.startWallNs) == [epoch2024Ns])
    }

    @Test func closesTickBarsEveryNTrades() {
        var e = engine { $0.timeBars = []; $0.tickBarTrades = 3 }
        var out = Collected()
        for i in 0..<10 { e.process(trade(priceUnits: 100 + Int64(i), wallNs: epoch2024Ns + Nanos(i)), nowNs: 0) }
        out.drain(&e)
        #expect(out.bars.count == 3)
        #expect(out.bars.allSatisfy { $0.kind == .tick && $0.tradeCount == 3 })
        #expect(out.bars.map(\.close.units) == [102, 105, 108])
        // The clock never closes a tick bar.
        #expect(e.advanceTime(wallNs: epoch2024Ns + 1_000 * second, nowNs: 0) == 0)
    }

    @Test func closesVolumeBarsOnceTheirVolumeIsReached() {
        var e = engine { $0.timeBars = [.minutes1]; $0.volumeBarUnits = 10 }
        var out = Collected()
        for (i, q) in [4, 4, 4, 9, 1, 20].enumerated() {
            e.process(trade(priceUnits: 100, quantityUnits: Int64(q), wallNs: epoch2024Ns + Nanos(i) * second), nowNs: 0)
        }
        out.drain(&e)
        #expect(out.bars(of: .volume).map(\.volume.units) == [12, 10, 20])
    }

    @Test func buildsABarFromQuoteMidsWhenThereAreNoTrades() {
        var e = engine { $0.timeBars = [.seconds1] }
        var out = Collected()
        e.process(quote(bidUnits: 100, askUnits: 102, wallNs: epoch2024Ns + 1), nowNs: 0)  // mid 101
        e.process(quote(bidUnits: 104, askUnits: 107, wallNs: epoch2024Ns + 2), nowNs: 0)  // mid 105.5
        e.process(quote(bidUnits: 98, askUnits: 100, wallNs: epoch2024Ns + 3), nowNs: 0)  // mid 99
        _ = e.advanceTime(wallNs: epoch2024Ns + second, nowNs: 0)
        // A second with quotes and a trade reports the trade.
        e.process(quote(bidUnits: 200, askUnits: 202, wallNs: epoch2024Ns + second + 1), nowNs: 0)
        e.process(trade(priceUnits: 150, wallNs: epoch2024Ns + second + 2), nowNs: 0)
        _ = e.advanceTime(wallNs: epoch2024Ns + 2 * second, nowNs: 0)
        out.drain(&e)
        #expect(out.bars.count == 2)
        #expect(out.bars[0].flags == barFlagFromQuotes)
        #expect(out.bars[0].open.units == 101 && out.bars[0].high.units == 105 && out.bars[0].low.units == 99 && out.bars[0].close.units == 99)
        #expect(out.bars[0].volume.units == 0 && out.bars[0].tradeCount == 0)
        #expect(out.bars[1].flags == 0 && out.bars[1].close.units == 150)
        let set = e.indicators(symbol: 0, kind: .seconds1)!
        #expect(set.barCount == 2)
        #expect(set.close == 1.5)
    }

    @Test func ignoresInstrumentsBeyondTheConfiguredCount() {
        var e = engine()
        e.process(trade(7, priceUnits: 100, wallNs: epoch2024Ns), nowNs: 0)
        #expect(e.counters.unknownInstrument == 1)
        #expect(e.counters.trades == 0)
    }
}
