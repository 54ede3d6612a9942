#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import TicklineEngine
import TicklineControl
import TicklineCore
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineTestSupport

/// The risk stage's seqlock-protected view, its translation into the control plane's
/// snapshot, and `tickline run`'s control source built on it.
@Suite(.serialized) struct EngineViewTests {
    static func instance(_ tag: String) -> String { "ev\(tag)\(getpid())" }

    /// Duty cycles of the risk stage (and the venue, when there is one) on a manual clock.
    static func cycles(_ p: EnginePeerPipeline, _ n: Int = 8, now: inout DutyCycleTime) {
        for _ in 0..<n {
            now = now.advanced(by: 1_000_000)
            _ = p.risk.doWork(now: now)
            _ = p.execution?.doWork(now: now)
        }
    }

    @Test func storageIsPlainData() {
        // No references, no Strings: a reader can copy it byte for byte.
        #expect(_isPOD(EngineViewData.self))
        #expect(MemoryLayout<EngineViewData>.size < 64 * 1024)
    }

    @Test func showsThePositionTheOpenOrderAndRecentSignalTradeAndDenial() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("p"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        // The test plays the venue on the `fills` ring.
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false)
        var fills = try region.producer(of: FillEvent.self, ring: "fills")
        var control = try region.producer(of: ControlCommand.self, ring: "control.risk")
        var now = DutyCycleTime.now()
        p.publishBook(nowNs: now.monotonic)
        p.sendSignal()  // buy 0.100 at 61,000.10, GTC
        Self.cycles(p, now: &now)
        var order: UInt64 = 0
        p.risk.table.forEachOpen { order = $0.clientOrderId }
        #expect(order != 0)
        // Half of it fills.
        _ = fills.tryPush(FillEvent(clientOrderId: order, instrument: 0, strategy: 1, side: .buy, liquidity: .maker,
                                    price: Price(units: 6_100_010), quantity: Quantity(units: 50), leavesQuantity: Quantity(units: 50),
                                    venueTradeId: 9, status: .partiallyFilled, priceDecimals: 2, quantityDecimals: 3, receiveWallNs: 42))
        Self.cycles(p, now: &now)
        // Halted: the next signal is denied.
        _ = control.tryPush(ControlCommand(kind: .halt))
        Self.cycles(p, now: &now)
        p.sendSignal()
        Self.cycles(p, now: &now)
        #expect(p.risk.counters.denials == 1)

        p.risk.publishView(nowNs: now.monotonic)
        let v = try #require(p.risk.view.read())
        #expect(v.positionCount == 1 && v.positionsTotal == 1)
        #expect(v.positions[0].strategy == 1 && v.positions[0].instrument == 0 && v.positions[0].quantityUnits == 50)
        #expect(v.positions[0].averagePriceUnits == 6_100_010 && v.positions[0].markPriceUnits == 6_100_005)
        #expect(v.openOrderCount == 1 && v.openOrders[0].clientOrderId == order && v.openOrders[0].filledUnits == 50)
        #expect(v.recentSignals.count == 2 && v.recentTrades.count == 1 && v.recentDenials.count == 1)
        #expect(v.counters.signals == 2 && v.counters.orders == 1 && v.counters.denials == 1)
        #expect(v.deniedByReason[Int(DenialReason.globalNotActive.rawValue)] == 1)
        #expect(v.globalStateRaw == TradingState.halted.rawValue)
        #expect(v.account.equityMoney == p.risk.risk.positions.equityMoney)

        let s = EngineSnapshotBuilder.snapshot(instance: "t", view: v, symbols: ["BTCUSDT"], stats: nil, wallNs: 1)
        #expect(s.tradingState == "halted")
        let position = try #require(s.positions.first)
        #expect(s.positions.count == 1 && position.symbol == "BTCUSDT" && position.strategy == "1")
        #expect(position.quantity == 0.05 && position.averagePrice == 61_000.10 && position.markPrice == 61_000.05)
        #expect(position.realisedPnl == 0 && position.unrealisedPnl == -0.0025)
        #expect(position.moneyAtRisk > 0)  // the stop 100.00 below the entry
        #expect(s.openOrders.count == 1 && s.openOrders[0].side == "buy" && s.openOrders[0].filled == 0.05
                && s.openOrders[0].state == "partiallyFilled")
        #expect(s.recentTrades.first.map { $0.wallNs == 42 && $0.price == 61_000.10 && $0.quantity == 0.05 && $0.detail == "maker" } == true)
        #expect(s.recentDenials.first?.detail == "globalNotActive" && s.recentDenials.first?.symbol == "BTCUSDT")
        #expect(s.recentSignals.count == 2 && s.recentSignals[0].side == "buy")
        #expect(s.limits["max_order_notional"] == 10_000)
    }

    @Test func publishesOnItsOwnAtTheIntervalOfItsClock() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("i"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false)
        #expect(p.risk.view.publishes == 1)  // init publishes
        var now = DutyCycleTime(simulatedNs: 1_000_000_000)
        _ = p.risk.doWork(now: now)
        #expect(p.risk.view.publishes == 2)  // so does the first cycle (2 slots: one cycle)
        now = now.advanced(by: 99_000_000)
        _ = p.risk.doWork(now: now)
        #expect(p.risk.view.publishes == 2)
        now = now.advanced(by: 1_000_000)
        _ = p.risk.doWork(now: now)
        #expect(p.risk.view.publishes == 3)
    }

    @Test func spreadsTheScanOfManySlotsOverDutyCycles() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("m"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        var settings = RiskStageSettings(instruments: Array(repeating: EnginePeerPipeline.spec, count: 100), strategyCapacity: 25)
        settings.viewSlotsPerCycle = 1_000
        let risk = try RiskAgent(settings: settings, region: region)
        // 2,500 slots at 1,000 per cycle: the third cycle publishes.
        #expect(risk.view.publishes == 1)  // init publishes at once
        _ = risk.doWork(now: DutyCycleTime(simulatedNs: 1))
        _ = risk.doWork(now: DutyCycleTime(simulatedNs: 2))
        #expect(risk.view.publishes == 1)
        _ = risk.doWork(now: DutyCycleTime(simulatedNs: 3))
        #expect(risk.view.publishes == 2)
    }

    /// A writer thread publishes views whose fields all carry the same number; the reader
    /// must never copy a mix of two publishes.
    @Test func aConcurrentReaderNeverSeesATornView() {
        let view = EngineView()
        let publishes: Int64 = 20_000
        let done = Atomic<Bool>(false)
        let writer = Thread {
            for k in 1...publishes {
                view.publish { d in
                    d.publishedNs = MonotonicNanos(k)
                    d.account.equityMoney = k
                    d.positions[0].quantityUnits = k
                    d.positions[EngineViewCapacity.positions - 1].quantityUnits = k
                    d.openOrders[EngineViewCapacity.openOrders - 1].clientOrderId = UInt64(k)
                    var a = ViewActivity()
                    a.wallNs = WallNanos(k)
                    d.recentTrades.append(a)
                    d.sampleEquity(wallNs: WallNanos(k), money: k)
                }
            }
            done.store(true, ordering: .releasing)
        }
        writer.start()
        var whole = 0, torn = 0, previous: Int64 = 0, backwards = 0
        // Bounded: the writer ends after `publishes`; the reader stops then (and at 10 M reads).
        var reads = 0
        while !done.load(ordering: .acquiring) && reads < 10_000_000 {
            reads += 1
            guard let v = view.read(maxAttempts: 64) else { continue }
            let k = v.publishedNs.ns
            var newestTrade: Int64 = -1
            v.recentTrades.forEach { newestTrade = $0.wallNs.ns }
            var newestSample: Int64 = -1
            v.forEachEquitySample { wall, _ in newestSample = wall }
            let agree = v.account.equityMoney == k && v.positions[0].quantityUnits == k
                && v.positions[EngineViewCapacity.positions - 1].quantityUnits == k
                && v.openOrders[EngineViewCapacity.openOrders - 1].clientOrderId == UInt64(k)
                && (k == 0 ? newestTrade == -1 : newestTrade == k) && (k == 0 ? newestSample == -1 : newestSample == k)
            if agree { whole += 1 } else { torn += 1 }
            if k < previous { backwards += 1 }
            previous = k
        }
        while !done.load(ordering: .acquiring) { usleep(1_000) }
        #expect(torn == 0)
        #expect(backwards == 0)
        #expect(whole > 0)
        let last = view.read()
        #expect(last?.publishedNs == MonotonicNanos(publishes) && last?.recentTrades.count == EngineViewCapacity.recent)
    }

    @Test func runsControlSourceShowsPositionsAndMetricsThatPromtoolAccepts() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("c"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1_000_000)
        let source = LiveControlSource(instance: "t", symbols: ["BTCUSDT"], view: p.risk.view,
                                       control: try region.producer(of: ControlCommand.self, ring: "control.risk"), acks: p.risk.acks,
                                       writerMetricsPath: "/nonexistent/none.prom")
        source.refresh(region: region, stats: StatsBoard(), writerRestarts: 0, writerRunning: false)
        #expect(source.snapshot().positions.isEmpty)
        p.publishBook(nowNs: Clock.monotonic())
        p.sendSignal()
        let deadline = Clock.monotonic() + 10_000_000_000
        while p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 0 && Clock.monotonic() < deadline {
            _ = p.risk.doWork(now: .now())
            _ = p.execution?.doWork(now: .now())
        }
        p.risk.publishView(nowNs: Clock.monotonic())
        source.refresh(region: region, stats: StatsBoard(), writerRestarts: 0, writerRunning: false)
        let s = source.snapshot()
        #expect(s.positions.count == 1 && s.positions.first?.quantity == 0.1 && s.positions.first?.symbol == "BTCUSDT")
        #expect(s.orders == 1 && s.fills == 1 && s.reports["accepted"] == 1 && s.exits == 0 && s.exitsByTrigger["take_profit"] == 0)
        #expect(s.recentTrades.count == 1 && s.recentSignals.count == 1)
        // The breakers: active from the starting capital, today (UTC) and this month.
        let today = CircuitBreakers.civil(CircuitBreakers.utcDay(Clock.wall()))
        #expect(s.breakers.state == "active" && s.breakers.cause == "" && !s.killSwitchEngaged)
        #expect(s.breakers.dayStartEquity == 50_000 && s.breakers.weekStartEquity == 50_000 && s.breakers.monthStartEquity == 50_000)
        #expect(s.breakers.drawdownPeakEquity == 50_000)
        #expect(s.breakers.day == String(format: "%04lld-%02lld-%02lld", today.year, today.month, today.day), "\(s.breakers)")
        #expect(s.breakers.month == String(format: "%04lld-%02lld", today.year, today.month), "\(s.breakers)")
        let text = source.prometheusMetrics()
        for name in ["tickline_orders_total{kind=\"entry\"} 1", "tickline_orders_total{kind=\"exit\"} 0", "tickline_fills_total 1",
                     "tickline_reports_total{kind=\"accepted\"} 1", "tickline_exits_total{trigger=\"stop_loss\"} 0", "tickline_denials_total{reason=", "tickline_equity ", "tickline_realised_pnl ",
                     "tickline_unrealised_pnl ", "process_cpu_seconds_total ", "process_resident_memory_bytes ",
                     "tickline_breaker_state 1", "tickline_kill_switch_engaged 0", "tickline_breaker_start_equity{window=\"day\"} 50000",
                     "tickline_breaker_start_equity{window=\"month\"} 50000", "tickline_breaker_drawdown_peak_equity 50000"] {
            #expect(text.contains(name), "\(name) missing")
        }
        if let check = promtoolCheck(text) { #expect(check.passed, "promtool: \(check.output)") }
    }
}
