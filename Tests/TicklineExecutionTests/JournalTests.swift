import Testing
import TicklineCore
import TicklineExecution
import TicklineRisk

func journalLimits() -> RiskLimits {
    var l = RiskLimits()
    l.riskPartsPerMillion = 1_000_000
    l.minRewardRiskMilli = 0
    l.maxOrderNotionalMoney = MoneyScale.money(1_000_000)
    l.maxGrossExposureMoney = MoneyScale.money(1_000_000)
    l.maxNetExposureMoney = MoneyScale.money(1_000_000)
    l.strategyBudgetMoney = MoneyScale.money(1_000_000)
    return l
}

let journalSpec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, maxOrderQuantityUnits: 100_000, positionLimitUnits: 100_000)

func buySignal(_ strategy: StrategyId, quantity: Int64, price: Int64, side: Side = .buy) -> SignalEvent {
    SignalEvent(strategy: strategy, side: side, quantity: Quantity(units: quantity), entryPrice: Price(units: price),
                takeProfit: Price(units: price + side.sign * 300), stopLoss: Price(units: price - side.sign * 100),
                priceDecimals: 2, quantityDecimals: 3)
}

@Suite struct JournalTests {
    @Test func recordsRoundTripFieldForField() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        let o = OrderEvent(sequence: 9, clientOrderId: 77, instrument: 3, strategy: 2, side: .sell, type: .limit, price: Price(units: 123),
                           quantity: Quantity(units: 456), takeProfit: Price(units: 100), stopLoss: Price(units: 150), signalSequence: 5,
                           timeInForce: .immediateOrCancel, flags: 1, priceDecimals: 2, quantityDecimals: 3, action: .cancel,
                           receiveWallNs: -4, timestamps: TimestampChain(socketReadNs: 1, decodedNs: 2, signalNs: 3, riskDecidedNs: 4, orderSentNs: 5))
        var f = FillEvent(sequence: 1, clientOrderId: 77, instrument: 3, strategy: 2, side: .sell, liquidity: .maker, price: Price(units: 124),
                          quantity: Quantity(units: 6), fee: 7, leavesQuantity: Quantity(units: 450), venueTradeId: .max, status: .partiallyFilled,
                          priceDecimals: 2, quantityDecimals: 3, venueTimeNs: 8, receiveWallNs: 9)
        f.flags = 1
        let r = RiskEvent(sequence: 3, kind: .killSwitch, scope: .strategy, reason: 103, instrument: 3, strategy: 2, fromState: .active,
                          toState: .halted, referenceSequence: 4, observed: -5, limit: 6, clientOrderId: 7, venueTimeNs: 8, receiveWallNs: 9)
        enc.append(order: o, to: &bytes)
        #expect(bytes.count == JournalFormat.headerBytes + JournalFormat.orderPayloadBytes + JournalFormat.checksumBytes)
        enc.append(report: f, to: &bytes)
        enc.append(risk: r, to: &bytes)
        #expect(bytes.count == 3 * (JournalFormat.headerBytes + JournalFormat.checksumBytes) + JournalFormat.orderPayloadBytes
                + JournalFormat.reportPayloadBytes + JournalFormat.riskPayloadBytes)
        var seen: [JournalRecord] = []
        let scan = try JournalReader.read(bytes) { seen.append($0) }.get()
        #expect(scan == JournalScan(records: 3, validBytes: bytes.count, tornBytes: 0, lastSequence: 3))
        guard seen.count == 3, case .order(let o2) = seen[0], case .report(let f2) = seen[1], case .risk(let r2) = seen[2] else {
            Issue.record("records \(seen)"); return
        }
        #expect(o2.clientOrderId == 77 && o2.instrument == 3 && o2.strategy == 2 && o2.side == .sell && o2.type == .limit)
        #expect(o2.price.units == 123 && o2.quantity.units == 456 && o2.takeProfit.units == 100 && o2.stopLoss.units == 150)
        #expect(o2.signalSequence == 5 && o2.timeInForce == .immediateOrCancel && o2.flags == 1 && o2.action == .cancel)
        #expect(o2.receiveWallNs == -4 && o2.timestamps == o.timestamps && o2.sequence == 9)
        #expect(f2.venueTradeId == .max && f2.fee == 7 && f2.leavesQuantity.units == 450 && f2.status == .partiallyFilled)
        #expect(f2.liquidity == .maker && f2.flags == 1 && f2.venueTimeNs == 8 && f2.receiveWallNs == 9 && f2.price.units == 124)
        #expect(r2.kind == .killSwitch && r2.scope == .strategy && r2.reason == 103 && r2.toState == .halted && r2.observed == -5)
        #expect(r2.clientOrderId == 7 && r2.referenceSequence == 4)
    }

    func threeRecords() -> [UInt8] {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        for id in UInt64(1)...3 { enc.append(order: order(id), to: &bytes) }
        return bytes
    }

    @Test func aTornLastRecordIsIgnoredAndReported() throws {
        let bytes = threeRecords()
        let one = bytes.count / 3
        for cut in [1, 10, JournalFormat.headerBytes, one - 1] {
            let scan = try JournalReader.read(Array(bytes.prefix(bytes.count - cut))).get()
            #expect(scan.records == 2 && scan.validBytes == 2 * one && scan.tornBytes == one - cut && scan.lastSequence == 2)
        }
        // Complete in length but garbage at the very end: torn as well.
        var garbled = bytes
        garbled[bytes.count - 2] ^= 0xFF
        #expect(try JournalReader.read(garbled).get().records == 2)
    }

    @Test func corruptionBeforeTheLastRecordIsRefused() {
        let bytes = threeRecords()
        let one = bytes.count / 3
        var flipped = bytes
        flipped[one + 40] ^= 1
        #expect(JournalReader.read(flipped).failure == JournalCorruption(error: .checksumMismatch, offset: one, sequence: 2))
        var magic = bytes
        magic[one] = 0
        #expect(JournalReader.read(magic).failure?.error == .badMagic)
        var kind = bytes
        kind[one + 2] = 99
        #expect(JournalReader.read(kind).failure?.error == .unknownKind)
        var version = bytes
        version[one + 3] = 4
        #expect(JournalReader.read(version).failure?.error == .unsupportedVersion)
        var length = bytes
        length[one + 4] = 1
        #expect(JournalReader.read(length).failure?.error == .badLength)
        // A missing record: sequence 1 then 3.
        let gap = Array(bytes[0..<one]) + Array(bytes[(2 * one)...])
        #expect(JournalReader.read(gap).failure == JournalCorruption(error: .sequenceGap, offset: one, sequence: 3))
    }

    /// The engine "crashes" after sending orders whose fills have not all arrived: rebuilt
    /// from the journal, a fresh risk and order table hold the same positions, open
    /// quantities, open orders and trading state.
    @Test func restartRecoveryRebuildsPositionsAndOpenOrdersFromTheJournal() throws {
        var cfg = PaperVenueConfig()
        cfg.latencyFixedNs = 1_000
        cfg.latencyJitterNs = 0
        var h = Harness(strategies: 2, instruments: 1, spec: journalSpec, limits: journalLimits(), venue: cfg)
        h.book(syntheticBook(), nowNs: 0)
        // A: a marketable buy, filled.  C: a sell by strategy 1, filled.  B: rests at 99.99, partly
        // filled by a trade.  E: rests, then a cancel in flight.  D: a reduce-only buy after a
        // breaker moved the engine to reducing, sent: the crash comes before it reaches the venue.
        let aSent = h.signal(buySignal(0, quantity: 1_500, price: 10_002), nowNs: 10)
        let a = try #require(aSent)
        h.pump(nowNs: 2_000)
        let cSent = h.signal(buySignal(1, quantity: 400, price: 10_000, side: .sell), nowNs: 2_500)
        let c = try #require(cSent)
        h.pump(nowNs: 4_000)
        let bSent = h.signal(buySignal(0, quantity: 700, price: 9_999), nowNs: 4_500)
        let b = try #require(bSent)
        h.pump(nowNs: 6_000)
        h.trade(price: 9_999, quantity: 2_300, aggressorSold: true, nowNs: 6_500)  // 2.000 ahead, then 0.300 of B
        let eSent = h.signal(buySignal(1, quantity: 300, price: 9_990), nowNs: 9_500)
        let e = try #require(eSent)
        h.pump(nowNs: 11_000)
        h.cancel(e.clientOrderId, nowNs: 11_500)
        var halt = RiskEvent(kind: .breakerTripped, scope: .global, reason: BreakerReason.dailyLoss.rawValue, fromState: .active, toState: .reducing)
        halt.receiveWallNs = 11_600
        h.encoder.append(risk: halt, to: &h.journal)
        h.risk.setGlobalState(.reducing)
        let dSent = h.signal(SignalEvent(strategy: 1, side: .buy, quantity: Quantity(units: 300), entryPrice: Price(units: 9_999),
                                         priceDecimals: 2, quantityDecimals: 3, flags: SignalEvent.flagReduceOnly), nowNs: 12_000)
        let d = try #require(dSent)
        #expect(h.faults.isEmpty && h.denials.isEmpty)
        #expect(h.orders.state(clientOrderId: a.clientOrderId) == .filled && h.orders.state(clientOrderId: b.clientOrderId) == .partiallyFilled)
        #expect(h.orders.state(clientOrderId: c.clientOrderId) == .filled && h.orders.state(clientOrderId: d.clientOrderId) == .pendingNew)
        #expect(h.orders.state(clientOrderId: e.clientOrderId) == .pendingCancel)

        // Crash: only the journal survives.
        var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: journalLimits())
        risk.register(instrument: 0, spec: journalSpec)
        var table = OrderTable(capacity: 256)
        let summary = try JournalRecovery.recover(h.journal, risk: &risk, orders: &table, nowNs: 20_000).get()
        #expect(summary.refusedReports == 0 && summary.orders == 5 && summary.cancelRequests == 1 && summary.riskEvents == 1)
        #expect(summary.scan.tornBytes == 0 && summary.openOrders == 3)
        // Prices are not journaled (the feed brings them back): mark both at the same price.
        risk.updatePrice(instrument: 0, price: Price(units: 10_003), nowNs: 20_000)
        h.risk.updatePrice(instrument: 0, price: Price(units: 10_003), nowNs: 20_000)
        for s in StrategyId(0)...1 {
            #expect(risk.positions.position(strategy: s, instrument: 0) == h.risk.positions.position(strategy: s, instrument: 0))
            for side in [Side.buy, .sell] {
                #expect(risk.openQuantity(strategy: s, instrument: 0, side: side) == h.risk.openQuantity(strategy: s, instrument: 0, side: side))
            }
        }
        #expect(risk.positions.quantity(strategy: 0, instrument: 0) == 1_800 && risk.positions.quantity(strategy: 1, instrument: 0) == -400)
        #expect(risk.openQuantity(strategy: 0, instrument: 0, side: .buy) == 400 && risk.openQuantity(strategy: 1, instrument: 0, side: .buy) == 400)
        #expect(d.quantity.units == 100)  // capped to what is reducible beside E
        #expect(risk.worstCaseGross(instrument: 0) == h.risk.worstCaseGross(instrument: 0))
        #expect(risk.globalState == .reducing)
        #expect(risk.nextClientOrderId == h.risk.nextClientOrderId)
        var before: [String] = [], after: [String] = []
        h.orders.forEachOpen { before.append("\($0.clientOrderId) \($0.state) \($0.filledUnits)") }
        table.forEachOpen { after.append("\($0.clientOrderId) \($0.state) \($0.filledUnits)") }
        #expect(before.sorted() == after.sorted() && after.count == 3)

        // Exits come back too: strategy 0's long with the levels of its last filled entry (B, filled
        // in part after A), strategy 1's short with C's (E never filled).
        var exits = ExitMonitor(strategyCapacity: 2, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        let watched = try JournalRecovery.rebuildExits(h.journal, risk: risk, exits: &exits, nowNs: 20_000).get()
        #expect(watched == 2 && exits.watchedQuantity(strategy: 0, instrument: 0) == 1_800 && exits.watchedQuantity(strategy: 1, instrument: 0) == -400)
        // C: short 0.400 at 100.00, stop 101.00 → 0.40 at risk; strategy 0 against B's stop 98.99.
        #expect(exits.moneyAtRisk(strategy: 0, instrument: 0) > 0 && exits.moneyAtRisk(strategy: 1, instrument: 0) == MoneyScale.money(4) / 10)
        var fired: [ExitReason] = []
        exits.onPrice(instrument: 0, price: Price(units: b.stopLoss.units), nowNs: 20_001) { _, r in fired.append(r) }
        #expect(fired == [.stopLoss])
    }

    @Test func recoveryRefusesACorruptJournalAndChangesNothing() throws {
        var h = Harness(spec: journalSpec, limits: journalLimits(), venue: noLatency())
        h.book(syntheticBook(), nowNs: 0)
        for k in 0..<3 { h.signal(buySignal(0, quantity: 100, price: 10_001), nowNs: Nanos(k)); h.pump(nowNs: Nanos(k)) }
        var bytes = h.journal
        bytes[bytes.count / 2] ^= 0x10
        var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: journalLimits())
        risk.register(instrument: 0, spec: journalSpec)
        var table = OrderTable(capacity: 16)
        let result = JournalRecovery.recover(bytes, risk: &risk, orders: &table, nowNs: 0)
        #expect(result.failure?.error == .checksumMismatch)
        #expect(risk.positions.quantity(instrument: 0) == 0 && table.openCount == 0 && risk.nextClientOrderId == 1)
        // The intact journal, with its last record torn, recovers all but that record.
        let torn = Array(h.journal.dropLast(5))
        let summary = try JournalRecovery.recover(torn, risk: &risk, orders: &table, nowNs: 0).get()
        #expect(summary.scan.tornBytes > 0 && summary.scan.records == summary.orders + summary.reports)
        #expect(risk.positions.quantity(instrument: 0) == 200)  // the last fill was the torn record
    }
}

/// The breakers' state record: written, read back, restored, and torn at the tail.
@Suite struct RiskStateJournalTests {
    func snapshot(peak: Int64 = 7) -> BreakerSnapshot {
        var b = BreakerSnapshot(dayIndex: -2, weekIndex: 3, monthIndex: 4, equityMoney: 5)
        b.state = .halted
        b.causeRaw = BreakerReason.monthlyLoss.rawValue
        b.killSwitchEngaged = true
        b.weekStartEquityMoney = -6
        b.monthStartEquityMoney = Int64.max
        b.peakEquityMoney = peak
        return b
    }

    @Test func theBreakersStateRoundTripsFieldForField() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        enc.append(riskState: snapshot(), to: &bytes)
        #expect(bytes.count == JournalFormat.headerBytes + JournalFormat.riskStatePayloadBytes + JournalFormat.checksumBytes)
        #expect(bytes[2] == JournalRecordKind.riskState.rawValue && JournalRecordKind.riskState.rawValue == 4)
        var seen: [JournalRecord] = []
        let scan = try JournalReader.read(bytes) { seen.append($0) }.get()
        #expect(scan == JournalScan(records: 1, validBytes: bytes.count, tornBytes: 0, lastSequence: 1))
        guard seen.count == 1, case .riskState(let b) = seen[0] else { Issue.record("records \(seen)"); return }
        #expect(b == snapshot())
        #expect(b.state == .halted && b.cause == .monthlyLoss && b.killSwitchEngaged && b.dayIndex == -2 && b.weekIndex == 3)
        #expect(b.monthIndex == 4 && b.dayStartEquityMoney == 5 && b.weekStartEquityMoney == -6 && b.monthStartEquityMoney == Int64.max)
        #expect(b.peakEquityMoney == 7)
    }

    /// A journal with orders, manual halts (engine, strategy, symbol), a kill and two state
    /// records: recovery re-applies the states and returns the last record; restored into
    /// fresh breakers, every field is back.
    @Test func recoveryRestoresTheLastStateAndEveryHalt() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        enc.append(order: order(1), to: &bytes)
        enc.append(riskState: snapshot(peak: 1), to: &bytes)
        enc.append(risk: RiskEvent(kind: .stateChange, scope: .strategy, reason: 0, strategy: 1, fromState: .active, toState: .halted), to: &bytes)
        enc.append(risk: RiskEvent(kind: .stateChange, scope: .symbol, reason: 0, instrument: 0, fromState: .active, toState: .reducing), to: &bytes)
        enc.append(risk: RiskEvent(kind: .killSwitch, scope: .global, reason: BreakerReason.killSwitch.rawValue, fromState: .active,
                                   toState: .halted), to: &bytes)
        enc.append(riskState: snapshot(), to: &bytes)
        enc.append(order: order(2), to: &bytes)
        var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: journalLimits())
        risk.register(instrument: 0, spec: journalSpec)
        var table = OrderTable(capacity: 16)
        let summary = try JournalRecovery.recover(bytes, risk: &risk, orders: &table, nowNs: 0).get()
        #expect(summary.breakers == snapshot() && summary.riskEvents == 3 && summary.orders == 2 && summary.scan.records == 7)
        #expect(risk.globalState == .halted && risk.state(strategy: 1) == .halted && risk.state(strategy: 0) == .active)
        #expect(risk.state(instrument: 0) == .reducing)
        var breakers = CircuitBreakers(equityMoney: MoneyScale.money(50_000), wallNs: 0)
        breakers.restore(try #require(summary.breakers))
        #expect(breakers.snapshot == snapshot() && breakers.killSwitchEngaged && breakers.state == .halted && breakers.cause == .monthlyLoss)
        #expect(breakers.dayIndex == -2 && breakers.weekIndex == 3 && breakers.monthIndex == 4 && breakers.dayStartEquityMoney == 5)
        #expect(breakers.weekStartEquityMoney == -6 && breakers.monthStartEquityMoney == Int64.max && breakers.peakEquityMoney == 7)
    }

    /// A state record cut short at the end of the journal (a crash mid-write) is ignored like
    /// any torn record: the one before it is restored. A journal without any starts with none.
    @Test func aTornStateRecordAtTheTailIsIgnored() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        enc.append(order: order(1), to: &bytes)
        enc.append(riskState: snapshot(peak: 1), to: &bytes)
        let whole = bytes.count
        enc.append(riskState: snapshot(peak: 2), to: &bytes)
        for cut in [1, 10, JournalFormat.riskStatePayloadBytes] {
            var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: journalLimits())
            risk.register(instrument: 0, spec: journalSpec)
            var table = OrderTable(capacity: 16)
            let summary = try JournalRecovery.recover(Array(bytes.dropLast(cut)), risk: &risk, orders: &table, nowNs: 0).get()
            #expect(summary.scan.validBytes == whole && summary.scan.tornBytes == bytes.count - whole - cut && summary.scan.records == 2)
            #expect(summary.breakers == snapshot(peak: 1))
        }
        var garbled = bytes
        garbled[bytes.count - 1] ^= 0xFF  // whole in length, bad checksum at the very end
        var risk = PreTradeRisk(strategyCapacity: 2, instrumentCapacity: 1, limits: journalLimits())
        risk.register(instrument: 0, spec: journalSpec)
        var table = OrderTable(capacity: 16)
        #expect(try JournalRecovery.recover(garbled, risk: &risk, orders: &table, nowNs: 0).get().breakers == snapshot(peak: 1))
        // The kill's event whole, the state record of its batch torn: the kill stays latched.
        var active = BreakerSnapshot(dayIndex: 1, weekIndex: 2, monthIndex: 3, equityMoney: 4)
        var killed = JournalEncoder()
        var cut: [UInt8] = []
        killed.append(riskState: active, to: &cut)
        killed.append(risk: RiskEvent(kind: .killSwitch, scope: .global, reason: BreakerReason.killSwitch.rawValue, fromState: .active,
                                      toState: .halted), to: &cut)
        killed.append(riskState: snapshot(), to: &cut)
        let latched = try JournalRecovery.recover(Array(cut.dropLast(3)), risk: &risk, orders: &table, nowNs: 0).get().breakers
        active.state = .halted
        active.causeRaw = BreakerReason.killSwitch.rawValue
        active.killSwitchEngaged = true
        #expect(latched == active)
        var older = JournalEncoder()
        var old: [UInt8] = []
        older.append(order: order(1), to: &old)
        #expect(try JournalRecovery.recover(old, risk: &risk, orders: &table, nowNs: 0).get().breakers == nil)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let f) = self { f } else { nil } }
}
