#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineExecution
import TicklineRing
import TicklineRisk

/// The risk and execution stages over real rings in a real region.
@Suite(.serialized) struct RiskExecutionTests {
    static func instance(_ tag: String) -> String { "rx\(tag)\(getpid())" }
    static func tempPath(_ name: String) -> String { "/tmp/tickline-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    /// Runs both stages (`execution`, else the pipeline's own) until `done` or 10 s.
    static func run(_ p: EnginePeerPipeline, execution: ExecutionAgent? = nil, until done: () -> Bool) -> Bool {
        let execution = execution ?? p.execution
        let deadline = Clock.monotonic() + 10_000_000_000
        while !done() && Clock.monotonic() < deadline {
            _ = p.risk.doWork(now: .now())
            _ = execution?.doWork(now: .now())
        }
        return done()
    }

    @Test func aSignalBecomesAJournaledOrderAFillAndAPosition() throws {
        let name = Self.instance("a")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let journal = Self.tempPath("journal")
        defer { unlink(journal) }
        let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1_000_000)
        var writerOrders = try region.consumer(of: OrderEvent.self, ring: "journal.orders")
        var writerFills = try region.consumer(of: FillEvent.self, ring: "journal.fills")
        var writerSignals = try region.consumer(of: SignalEvent.self, ring: "journal.signals")
        p.publishBook(nowNs: Clock.monotonic())
        p.sendSignal()
        #expect(Self.run(p) { p.risk.counters.fills > 0 })
        #expect(p.risk.counters.signals == 1 && p.risk.counters.orders == 1 && p.risk.counters.denials == 0)
        #expect(p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100)  // 0.100 bought at the ask
        #expect(p.execution!.paperVenue()?.fillCount == 1)
        // The writer's copies: the signal, the order, every venue report (the fill and the
        // acknowledgement), each numbered by the stage that produced it.
        let reports = p.risk.counters.fills + p.risk.counters.reports.total
        #expect(p.risk.counters.fills == 1 && p.risk.counters.reports.accepted == 1)
        #expect(writerSignals.available() == 1 && writerOrders.available() == 1 && writerFills.available() == Int(reports))
        let order = writerOrders.peek(0).pointee
        #expect(order.sequence == 1 && order.stage == .risk)
        let journaled = (0..<writerFills.available()).map { writerFills.peek($0).pointee }
        #expect(journaled.map(\.sequence) == Array(1...UInt64(journaled.count)) && journaled.allSatisfy { $0.stage == .execution })
        #expect(journaled.filter(\.isExecution).count == 1 && journaled.first?.status == .accepted)
        // The journal file holds the order and the fill, and rebuilds the same position.
        let (fresh, _) = try SharedRegion.create(instance: name + "b", rings: EnginePeerPipeline.smallRings)
        defer { fresh.unlink() }
        let again = try EnginePeerPipeline(region: fresh, journal: journal, venueLatencyNs: 1_000_000)
        #expect(again.risk.recovered?.orders == 1 && again.risk.recovered?.reports == Int(reports))
        #expect(again.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100)
        #expect(again.risk.table.openCount == 0)
        #expect(again.risk.exits.watchedQuantity(strategy: 1, instrument: 0) == 100)  // its stop is armed again
    }

    @Test func aPriceThroughTheStopExitsThePositionWithAReduceOnlyMarketOrder() throws {
        let name = Self.instance("s")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1_000_000)
        p.publishBook(nowNs: Clock.monotonic())
        p.sendSignal()
        #expect(Self.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100 })
        // The market falls 150.00: through the 100.00 stop.
        p.publishBook(nowNs: Clock.monotonic(), bid: 6_085_000, ask: 6_085_010)
        #expect(Self.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 0 })
        #expect(p.risk.counters.exits == 1 && p.risk.counters.orders == 2)
        #expect(p.risk.counters.exitsByTrigger[.stopLoss] == 1 && p.risk.counters.exitsByTrigger[.takeProfit] == 0)
        #expect(p.risk.risk.positions.realisedMoney < 0)  // sold at 60,850.00 after buying at 61,000.10
    }

    @Test func flattenClosesPositionsPastLoweredLimitsInAsManyOrdersAsTheMaximumQuantityNeeds() throws {
        let name = Self.instance("f")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        var spec = EnginePeerPipeline.spec
        spec.maxOrderQuantityUnits = 40
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1_000_000, spec: spec)
        var control = try region.producer(of: ControlCommand.self, ring: "control.risk")
        p.publishBook(nowNs: Clock.monotonic())
        for _ in 0..<3 { p.sendSignal(quantityUnits: 40) }
        #expect(Self.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 120 })
        // Every limit an exit could trip, lowered below the position: 0.040 × 61,000.00 is 2,440
        // a part; the entries' token bucket emptied.
        for (key, value) in [("max_order_notional", 1_000.0), ("submit_burst", 0), ("price_collar_pct", 0)] {
            let code = RiskLimitCode.entry(key: key)!.code
            _ = control.tryPush(ControlCommand(kind: .setLimit, limitId: code, value: RiskLimitCode.internalValue(value, unit: RiskLimitCode.entry(key: key)!.unit)!))
        }
        _ = control.tryPush(ControlCommand(kind: .flatten))
        #expect(Self.run(p) { p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 0 })
        #expect(p.risk.counters.exits == 3 && p.risk.counters.exitsByTrigger[.flatten] == 3)
        #expect(p.risk.counters.orders == 6 && p.risk.counters.denials == 0)
        p.sendSignal(quantityUnits: 40)
        #expect(Self.run(p) { p.risk.counters.denials == 1 })  // entries are still held to the limits
    }

    @Test func controlCommandsHaltResumeAndChangeLimits() throws {
        let name = Self.instance("c")
        let (region, _) = try SharedRegion.create(instance: name, rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1_000_000)
        var control = try region.producer(of: ControlCommand.self, ring: "control.risk")
        var riskEvents = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
        p.publishBook(nowNs: Clock.monotonic())
        _ = control.tryPush(ControlCommand(kind: .halt))
        p.sendSignal()
        #expect(Self.run(p) { p.risk.counters.denials == 1 })
        #expect(p.risk.risk.globalState == .halted)
        _ = control.tryPush(ControlCommand(kind: .resume))
        let code = RiskLimitCode.entry(key: "max_order_notional")!.code
        _ = control.tryPush(ControlCommand(kind: .setLimit, limitId: code, value: RiskLimitCode.internalValue(1_000, unit: .money)!))
        p.sendSignal()  // 0.100 × 61,000.10 = 6,100.01 > 1,000 now
        #expect(Self.run(p) { p.risk.counters.denials == 2 })
        #expect(p.risk.risk.globalState == .active)
        #expect(p.risk.risk.limits.maxOrderNotionalMoney == MoneyScale.money(1_000))
        #expect(p.risk.counters.orders == 0 && p.risk.counters.badCommands == 0)
        _ = control.tryPush(ControlCommand(kind: .setLimit, limitId: 999, value: 1))
        #expect(Self.run(p) { p.risk.counters.badCommands == 1 })
        // State changes name the real state before: active → halted, then halted → active.
        var changes: [(TradingState?, TradingState?)] = []
        while let e = riskEvents.tryPop() {
            if e.kind == .stateChange || e.kind == .limitChanged { changes.append((e.fromState, e.toState)) }
        }
        let kinds = changes.map { "\($0.0.map { "\($0)" } ?? "none")->\($0.1.map { "\($0)" } ?? "none")" }
        #expect(kinds.contains("active->halted") && kinds.contains("halted->active") && kinds.contains("none->none"), "\(kinds)")
    }

    /// Issue 5: kill the process between order and fill; the restarted stage rebuilds the
    /// open order from the journal, and the venue's late fill then lands exactly once.
    @Test func rebuildsTheOpenOrderAfterTheProcessIsKilledBetweenOrderAndFill() throws {
        let journal = Self.tempPath("journal-kill")
        defer { unlink(journal) }
        let peerInstance = Self.instance("k")
        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: WriterSupervisor.besideThisProgram("tickline-engine-peer"))
        peer.arguments = [peerInstance, journal]
        let out = Pipe()
        peer.standardOutput = out
        try peer.run()
        defer { if peer.isRunning { kill(peer.processIdentifier, SIGKILL) }; unlink("/dev/shm/tickline-\(peerInstance)") }
        // Its first line: "order <id>" once the order is journaled and in the venue's hands.
        var line = ""
        let handle = out.fileHandleForReading
        while !line.contains("\n") {
            let data = handle.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        #expect(line.hasPrefix("order "))
        let orderId = UInt64(line.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        kill(peer.processIdentifier, SIGKILL)
        peer.waitUntilExit()
        #expect(peer.terminationReason == .uncaughtSignal)

        let (region, _) = try SharedRegion.create(instance: Self.instance("k2"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1_000_000, withVenue: false)
        #expect(p.risk.recovered?.orders == 1 && p.risk.recovered?.reports == 0)
        #expect(p.risk.table.openCount == 1)
        #expect(p.risk.table.state(clientOrderId: orderId) != nil)
        #expect(p.risk.risk.openQuantity(strategy: 1, instrument: 0, side: .buy) == 100)  // reserved against limits
        #expect(p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 0)
        // The venue reports the fill after the restart (twice: a repeat must change nothing).
        var fills = try region.producer(of: FillEvent.self, ring: "fills")
        let report = FillEvent(clientOrderId: orderId, instrument: 0, strategy: 1, side: .buy, price: Price(units: 6_100_010),
                               quantity: Quantity(units: 100), fee: 0, venueTradeId: 77, status: .filled,
                               priceDecimals: 2, quantityDecimals: 3)
        _ = fills.tryPush(report)
        _ = fills.tryPush(report)
        #expect(Self.run(p) { p.risk.counters.fills + p.risk.counters.refusedReports == 2 })
        #expect(p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100)
        #expect(p.risk.counters.fills == 1 && p.risk.table.openCount == 0)
        // New client order ids continue above the recovered one.
        p.publishBook(nowNs: Clock.monotonic())
        p.sendSignal()
        #expect(Self.run(p) { p.risk.counters.orders == 1 })
        var newest: UInt64 = 0
        p.risk.table.forEachOpen { newest = max(newest, $0.clientOrderId) }
        #expect(newest > orderId)
    }

    @Test func refusesToTradeOnACorruptJournal() throws {
        let journal = Self.tempPath("journal-corrupt")
        defer { unlink(journal) }
        do {
            let (region, _) = try SharedRegion.create(instance: Self.instance("j"), rings: EnginePeerPipeline.smallRings)
            defer { region.unlink() }
            let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1_000_000)
            p.publishBook(nowNs: Clock.monotonic())
            p.sendSignal()
            #expect(Self.run(p) { p.risk.counters.fills > 0 })
        }
        // Flip a byte inside the first record (not a torn tail: the second record follows).
        let fd = open(journal, O_RDWR)
        var b: UInt8 = 0
        pread(fd, &b, 1, 20)
        b ^= 0xFF
        pwrite(fd, &b, 1, 20)
        close(fd)
        let (region, _) = try SharedRegion.create(instance: Self.instance("j2"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        #expect(throws: EngineError.self) { _ = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1) }
        do { _ = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1) } catch let e as EngineError {
            // It names the file and the offset of the damaged record (the first, at byte 0).
            #expect(e.description.contains("corrupt") && e.description.contains("refusing to trade"))
            #expect(e.description.contains(journal) && e.description.contains("at byte 0 ") && e.description.contains("checksumMismatch"), "\(e)")
        }
    }
}
