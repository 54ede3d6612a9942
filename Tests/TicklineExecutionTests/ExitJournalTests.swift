import Testing
import TicklineCore
@testable import TicklineExecution
import TicklineRisk

/// Trailing and time stops in the journal: the entry order carries its exit plan, the
/// exit-state records carry the trailing best and the absolute deadline, and a restart puts
/// both back.
@Suite struct ExitJournalTests {
    func entry(_ id: UInt64, strategy: StrategyId = 0, trailing: Int64, maxHoldNs: Nanos) -> OrderEvent {
        OrderEvent(sequence: id, clientOrderId: id, instrument: 0, strategy: strategy, side: .buy, type: .limit, price: Price(units: 10_000),
                   quantity: Quantity(units: 1_000), takeProfit: Price(units: 10_300), stopLoss: Price(units: 9_900),
                   signalSequence: id, timeInForce: .immediateOrCancel, priceDecimals: 2, quantityDecimals: 3,
                   trailingDistance: Price(units: trailing), maxHoldNs: maxHoldNs)
    }

    func fill(_ id: UInt64, strategy: StrategyId = 0, side: Side = .buy, price: Int64 = 10_000) -> FillEvent {
        FillEvent(sequence: id, clientOrderId: id, instrument: 0, strategy: strategy, side: side, liquidity: .taker, price: Price(units: price),
                  quantity: Quantity(units: 1_000), fee: 0, leavesQuantity: .zero, venueTradeId: id, status: .filled,
                  priceDecimals: 2, quantityDecimals: 3)
    }

    @Test func theOrdersExitPlanAndTheExitStateRoundTrip() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        enc.append(order: entry(7, trailing: 250, maxHoldNs: 90_000_000_000), to: &bytes)
        let state = ExitStateRecord(instrument: 3, strategy: 2, cause: .fired, trigger: .trailingStop, bestPriceUnits: 10_420,
                                    deadlineWallNs: 1_700_000_090_000_000_000, wallNs: 1_700_000_001_000_000_000)
        enc.append(exitState: state, to: &bytes)
        #expect(bytes.count == 2 * (JournalFormat.headerBytes + JournalFormat.checksumBytes) + JournalFormat.orderPayloadBytes
                + JournalFormat.exitStatePayloadBytes)
        var seen: [JournalRecord] = []
        let scan = try JournalReader.read(bytes) { seen.append($0) }.get()
        #expect(scan.records == 2 && scan.tornBytes == 0)
        guard seen.count == 2, case .order(let o) = seen[0], case .exitState(let e) = seen[1] else { Issue.record("records \(seen)"); return }
        #expect(o.trailingDistance.units == 250 && o.maxHoldNs == 90_000_000_000 && o.clientOrderId == 7 && o.stopLoss.units == 9_900)
        #expect(e == state && e.cause == .fired && e.trigger == .trailingStop)
    }

    /// A journal written before the exit plan was journaled: its orders read with no
    /// trailing stop and no time stop, and new records follow them in the same file.
    @Test func versionOneOrderRecordsAreStillRead() throws {
        var enc = JournalEncoder()
        var current: [UInt8] = []
        enc.append(order: entry(1, trailing: 0, maxHoldNs: 0), to: &current)
        // The same record as version 1 wrote it: without the plan's 16 bytes, its own length and checksum.
        var old = Array(current[0..<(JournalFormat.headerBytes + JournalFormat.orderPayloadBytesVersionOne)])
        old[3] = JournalFormat.versionOne
        let length = UInt32(JournalFormat.orderPayloadBytesVersionOne)
        for k in 0..<4 { old[4 + k] = UInt8(truncatingIfNeeded: length >> (8 * k)) }
        let crc = CRC32C.checksum(old, from: 0, to: old.count)
        for k in 0..<4 { old.append(UInt8(truncatingIfNeeded: crc >> (8 * k))) }
        var next = JournalEncoder(after: 1)
        next.append(report: fill(1), to: &old)
        var seen: [JournalRecord] = []
        let scan = try JournalReader.read(old) { seen.append($0) }.get()
        #expect(scan.records == 2 && scan.tornBytes == 0 && scan.lastSequence == 2)
        guard case .order(let o)? = seen.first else { Issue.record("records \(seen)"); return }
        #expect(o.clientOrderId == 1 && o.quantity.units == 1_000 && o.takeProfit.units == 10_300)
        #expect(o.trailingDistance.units == 0 && o.maxHoldNs == 0)
        // Version 1 never had exit-state records: one claiming to be is refused.
        var bad: [UInt8] = []
        var e = JournalEncoder()
        e.append(exitState: ExitStateRecord(instrument: 0, strategy: 0, cause: .opened, bestPriceUnits: 1, deadlineWallNs: 2, wallNs: 3),
                 to: &bad)
        bad[3] = JournalFormat.versionOne
        #expect(JournalReader.read(bad + current).failure?.error == .badLength)
    }

    /// Strategy 0 opened a long with a trailing stop and a time stop; its best moved twice
    /// before the crash. Strategy 1's earlier position closed, and its new one has no stops
    /// of that kind: nothing of the old position is put on it.
    @Test func rebuildExitsRestoresTheTrailingBestAndTheAbsoluteDeadline() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        let openedAt: WallNanos = 1_000_000_000_000
        let deadline = openedAt + 60_000_000_000
        enc.append(order: entry(1, trailing: 200, maxHoldNs: 60_000_000_000), to: &bytes)
        enc.append(report: fill(1), to: &bytes)
        enc.append(exitState: ExitStateRecord(instrument: 0, strategy: 0, cause: .opened, bestPriceUnits: 10_000,
                                              deadlineWallNs: deadline, wallNs: openedAt), to: &bytes)
        enc.append(exitState: ExitStateRecord(instrument: 0, strategy: 0, cause: .moved, bestPriceUnits: 10_350,
                                              deadlineWallNs: deadline, wallNs: openedAt + 1_000_000_000), to: &bytes)
        enc.append(exitState: ExitStateRecord(instrument: 0, strategy: 0, cause: .moved, bestPriceUnits: 10_480,
                                              deadlineWallNs: deadline, wallNs: openedAt + 2_000_000_000), to: &bytes)
        // Strategy 1: a position with a time stop, closed, then a plain one.
        enc.append(order: entry(2, strategy: 1, trailing: 0, maxHoldNs: 5_000_000_000), to: &bytes)
        enc.append(report: fill(2, strategy: 1), to: &bytes)
        enc.append(exitState: ExitStateRecord(instrument: 0, strategy: 1, cause: .opened, bestPriceUnits: 10_000,
                                              deadlineWallNs: openedAt + 5_000_000_000, wallNs: openedAt), to: &bytes)
        var close = entry(3, strategy: 1, trailing: 0, maxHoldNs: 0)
        close.sideRaw = Side.sell.rawValue
        close.flags = OrderEvent.flagReduceOnly
        enc.append(order: close, to: &bytes)
        enc.append(report: fill(3, strategy: 1, side: .sell), to: &bytes)
        enc.append(exitState: ExitStateRecord(instrument: 0, strategy: 1, cause: .closed, bestPriceUnits: 10_000,
                                              deadlineWallNs: openedAt + 5_000_000_000, wallNs: openedAt + 1), to: &bytes)
        enc.append(order: entry(4, strategy: 1, trailing: 0, maxHoldNs: 0), to: &bytes)
        enc.append(report: fill(4, strategy: 1), to: &bytes)

        var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: journalLimits())
        risk.register(instrument: 0, spec: journalSpec)
        var table = OrderTable(capacity: 16)
        _ = try JournalRecovery.recover(bytes, risk: &risk, orders: &table, nowNs: 0).get()
        var exits = ExitMonitor(strategyCapacity: 2, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        let restartedAt = openedAt + 30_000_000_000
        let watched = try JournalRecovery.rebuildExits(bytes, risk: risk, exits: &exits, nowNs: restartedAt).get()
        #expect(watched == 2)
        let plan = exits.plan(strategy: 0, instrument: 0)
        #expect(plan.trailingDistanceUnits == 200 && plan.maxHoldNs == 60_000_000_000 && plan.stopLoss.units == 9_900)
        #expect(exits.bestPrice(strategy: 0, instrument: 0) == 10_480)
        #expect(exits.timeStopDeadline(strategy: 0, instrument: 0) == deadline)  // not restart + 60 s
        #expect(exits.timeStopDeadline(strategy: 1, instrument: 0) == .max && exits.plan(strategy: 1, instrument: 0).maxHoldNs == 0)
        // The restored best trails: 10,480 − 200 = 10,280 fires, 10,281 does not.
        var fired: [ExitReason] = []
        exits.onPrice(instrument: 0, price: Price(units: 10_281), nowNs: restartedAt) { _, r in fired.append(r) }
        #expect(fired.isEmpty)
        exits.onPrice(instrument: 0, price: Price(units: 10_280), nowNs: restartedAt + 1) { _, r in fired.append(r) }
        #expect(fired == [.trailingStop])
    }

    @Test func aRestoredDeadlineFiresAtItsTimeNotAMaxHoldAfterTheRestart() {
        var exits = ExitMonitor(strategyCapacity: 1, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        let restartedAt: WallNanos = 50_000
        exits.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                          plan: ExitPlan(maxHoldNs: 100_000), nowNs: restartedAt)
        #expect(exits.timeStopDeadline(strategy: 0, instrument: 0) == restartedAt + 100_000)
        let restored = exits.restore(strategy: 0, instrument: 0, bestPriceUnits: 10_000, deadlineWallNs: 60_000)
        #expect(restored)
        var fired: [ExitReason] = []
        exits.onPrice(instrument: 0, price: Price(units: 10_000), nowNs: 59_999) { _, r in fired.append(r) }
        exits.checkTime(nowNs: 59_999) { _, r in fired.append(r) }
        #expect(fired.isEmpty)
        exits.checkTime(nowNs: 60_000) { _, r in fired.append(r) }
        #expect(fired == [.timeStop])
        exits.setPosition(strategy: 0, instrument: 0, quantityUnits: 0, entryPriceUnits: 0, plan: ExitPlan(), nowNs: 60_001)
        let restoredFlat = exits.restore(strategy: 0, instrument: 0, bestPriceUnits: 1, deadlineWallNs: 1)
        #expect(!restoredFlat)  // nothing to restore on a flat position
    }

    /// What the risk stage journals: a moved best at most once per interval per position, and
    /// every position a trailing or time stop fired for, once per call.
    @Test func movedBestsAreReportedThrottledAndFiredExitsOnce() {
        var exits = ExitMonitor(strategyCapacity: 2, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        exits.setPosition(strategy: 0, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                          plan: ExitPlan(trailingDistanceUnits: 500), nowNs: 0)
        exits.setPosition(strategy: 1, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                          plan: ExitPlan(stopLoss: Price(units: 9_000)), nowNs: 0)  // no trailing: never reported
        var reported: [(StrategyId, Int64)] = []
        func take(_ t: WallNanos) { exits.takeMovedBests(nowNs: t, intervalNs: 1_000) { s, _, best, _ in reported.append((s, best)) } }
        exits.onPrice(instrument: 0, price: Price(units: 10_100), nowNs: 10) { _, _ in }
        take(10)
        #expect(reported.isEmpty)  // the opening at 0 was journaled: not yet an interval later
        exits.onPrice(instrument: 0, price: Price(units: 10_200), nowNs: 500) { _, _ in }
        take(1_000)
        #expect(reported.map(\.0) == [0] && reported.map(\.1) == [10_200])
        take(1_500)
        #expect(reported.count == 1)  // nothing moved since
        exits.onPrice(instrument: 0, price: Price(units: 10_300), nowNs: 1_600) { _, _ in }
        take(1_700)
        #expect(reported.count == 1)  // moved, but within the interval
        take(2_000)
        #expect(reported.count == 2 && reported[1].1 == 10_300)
        var fired: [(StrategyId, ExitReason, Int64)] = []
        exits.onPrice(instrument: 0, price: Price(units: 9_700), nowNs: 3_000) { _, _ in }  // trailing (0) and stop (1)
        exits.takeFired { s, _, reason, best, _ in fired.append((s, reason, best)) }
        #expect(fired.count == 1 && fired[0].0 == 0 && fired[0].1 == .trailingStop && fired[0].2 == 10_300)
        exits.takeFired { s, _, reason, best, _ in fired.append((s, reason, best)) }
        #expect(fired.count == 1)
    }

    @Test func movedBestsBeyondTheLimitWaitForTheNextCall() {
        var exits = ExitMonitor(strategyCapacity: 3, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        for s in StrategyId(0)..<3 {
            exits.setPosition(strategy: s, instrument: 0, quantityUnits: 1_000, entryPriceUnits: 10_000,
                              plan: ExitPlan(trailingDistanceUnits: 500), nowNs: 0)
        }
        exits.onPrice(instrument: 0, price: Price(units: 10_100), nowNs: 5_000) { _, _ in }
        var reported: [StrategyId] = []
        exits.takeMovedBests(nowNs: 5_000, intervalNs: 1_000, limit: 2) { s, _, _, _ in reported.append(s) }
        #expect(reported.count == 2)
        exits.takeMovedBests(nowNs: 5_000, intervalNs: 1_000, limit: 2) { s, _, _, _ in reported.append(s) }
        #expect(reported.sorted() == [0, 1, 2])
        exits.takeMovedBests(nowNs: 9_000, intervalNs: 1_000, limit: 2) { s, _, _, _ in reported.append(s) }
        #expect(reported.count == 3)  // nothing moved since
    }
}
