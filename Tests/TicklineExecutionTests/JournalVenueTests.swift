import Testing
import TicklineCore
import TicklineExecution
import TicklineRisk

/// The venue of orders and reports in the journal (version 3), and journals written before
/// it was recorded (versions 1 and 2: every order went to the first venue).
@Suite struct JournalVenueTests {
    /// A journal the version 2 encoder wrote (`JournalEncoder` of the commit before the venue
    /// was journaled), appended in this order, hex dumped:
    /// 1. order: sequence 1, client order id 1, instrument 0, strategy 0, limit buy 1.000 at
    ///    100.00 (decimals 2/3), take-profit 103.00, stop-loss 99.00, signal 1, good till
    ///    cancel, receive 1 000 ns, trailing distance 2.00, max hold 60 s;
    /// 2. report of order 1: partially filled 0.400 at 100.00, maker, fee 4, leaves 0.600,
    ///    trade 11, venue time 2 000, receive 2 001;
    /// 3. report of order 1: filled 0.600 at 100.00, maker, fee 6, leaves 0, trade 12,
    ///    venue time 3 000, receive 3 001;
    /// 4. order: sequence 2, client order id 2, limit buy 0.500 at 99.50, take-profit 102.50,
    ///    stop-loss 98.50, signal 2, receive 4 000, no trailing or time stop;
    /// 5. riskState: `BreakerSnapshot(dayIndex: 1, weekIndex: 2, monthIndex: 3, equityMoney:
    ///    50 000)` with a peak of 50 100;
    /// 6. exitState: instrument 0, strategy 0, moved, best 100.80, deadline 60 000 003 001,
    ///    at 5 000.
    static let versionTwoJournal = bytes(fromHex: [
        "544a01028500000001000000000000000100000000000000010000000000000000000000000001021027000000000000",
        "e8030000000000003c28000000000000ac2600000000000001000000000000000100020301e803000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000c800000000000000005847",
        "f80d000000d87bd86f544a02027c00000002000000000000000100000000000000010000000000000000000000000001",
        "0110270000000000009001000000000000040000000000000058020000000000000b0000000000000003000203d00700",
        "0000000000d1070000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "000000000037a5ec55544a02027c00000003000000000000000200000000000000010000000000000000000000000001",
        "0110270000000000005802000000000000060000000000000000000000000000000c0000000000000004000203b80b00",
        "0000000000b90b0000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "0000000000e0b6d229544a01028500000004000000000000000200000000000000020000000000000000000000000001",
        "02de26000000000000f4010000000000000a280000000000007a2600000000000002000000000000000100020301a00f",
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000365b526d544a04023c00000005000000000000000100000001000000000000000200",
        "0000000000000300000000000000005039278c040000005039278c040000005039278c0400000034457b8e040000b31c",
        "b1aa544a050220000000060000000000000000000000000002006027000000000000b96347f80d000000881300000000",
        "00000e2f924b",
    ])

    static func bytes(fromHex lines: [String]) -> [UInt8] {
        let hex = Array(lines.joined().utf8)
        func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: hex.count, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
    }

    static func freshRisk() -> (PreTradeRisk, OrderTable) {
        var risk = PreTradeRisk(strategyCapacity: 1, instrumentCapacity: 1, limits: journalLimits())
        risk.register(instrument: 0, spec: journalSpec)
        return (risk, OrderTable(capacity: 16))
    }

    @Test func aVersionTwoJournalStillRestoresItsPositionsOpenOrdersAndStateOnTheFirstVenue() throws {
        let bytes = Self.versionTwoJournal
        #expect(bytes.count == 726 && bytes[3] == JournalFormat.versionTwo)
        var seen: [JournalRecord] = []
        let scan = try JournalReader.read(bytes) { seen.append($0) }.get()
        #expect(scan == JournalScan(records: 6, validBytes: 726, tornBytes: 0, lastSequence: 6))
        guard seen.count == 6, case .order(let a) = seen[0], case .report(let partial) = seen[1], case .report(let full) = seen[2],
              case .order(let b) = seen[3] else { Issue.record("records \(seen)"); return }
        #expect(a.venue == 0 && partial.venue == 0 && full.venue == 0 && b.venue == 0)
        #expect(a.trailingDistance.units == 200 && a.maxHoldNs == 60_000_000_000 && b.price.units == 9_950)
        #expect(partial.status == .partiallyFilled && partial.quantity.units == 400 && full.status == .filled && full.fee == 6)

        var (risk, table) = Self.freshRisk()
        let summary = try JournalRecovery.recover(bytes, risk: &risk, orders: &table, nowNs: 0).get()
        #expect(summary.orders == 2 && summary.reports == 2 && summary.refusedReports == 0 && summary.openOrders == 1)
        var breakers = BreakerSnapshot(dayIndex: 1, weekIndex: 2, monthIndex: 3, equityMoney: MoneyScale.money(50_000))
        breakers.peakEquityMoney = MoneyScale.money(50_100)
        #expect(summary.breakers == breakers)
        let position = risk.positions.position(strategy: 0, instrument: 0)
        #expect(position.quantityUnits == 1_000 && position.averagePriceUnits == 10_000)
        #expect(risk.openQuantity(strategy: 0, instrument: 0, side: .buy) == 500)
        let open = try #require(table.record(clientOrderId: 2))
        #expect(open.order.venue == 0 && open.filledUnits == 0 && open.order.quantity.units == 500)
        #expect(table.state(clientOrderId: 1) == .filled)

        var exits = ExitMonitor(strategyCapacity: 1, instrumentCapacity: 1)
        exits.register(instrument: 0, priceDecimals: 2, quantityDecimals: 3)
        #expect(try JournalRecovery.rebuildExits(bytes, risk: risk, exits: &exits, nowNs: 6_000).get() == 1)
        #expect(exits.watchedQuantity(strategy: 0, instrument: 0) == 1_000 && exits.bestPrice(strategy: 0, instrument: 0) == 10_080)
        #expect(exits.plan(strategy: 0, instrument: 0).trailingDistanceUnits == 200)
        #expect(exits.timeStopDeadline(strategy: 0, instrument: 0) == 60_000_003_001)

        // New records (version 3) follow the old ones in the same file.
        var next = JournalEncoder(after: scan.lastSequence)
        var appended = bytes
        var onSecond = order(3)
        onSecond.venue = 1
        next.append(order: onSecond, to: &appended)
        #expect(appended[bytes.count + 3] == JournalFormat.version)
        var last: JournalRecord?
        #expect(try JournalReader.read(appended) { last = $0 }.get().records == 7)
        guard case .order(let third)? = last else { Issue.record("last \(String(describing: last))"); return }
        #expect(third.venue == 1 && third.clientOrderId == 3)
    }

    @Test func ordersAndReportsKeepTheirVenueThroughTheJournal() throws {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        var a = order(1, quantity: 1_000)
        a.venue = 3
        var b = order(2, quantity: 700, price: 9_990)
        b.venue = 0x0102
        var fill = report(a, .partiallyFilled, quantity: 400, tradeId: 5)
        fill.venue = 3
        fill.leavesQuantity = Quantity(units: 600)
        enc.append(order: a, to: &bytes)
        enc.append(order: b, to: &bytes)
        enc.append(report: fill, to: &bytes)
        #expect(JournalFormat.orderPayloadBytes == JournalFormat.orderPayloadBytesVersionTwo + 2)
        #expect(bytes.count == 3 * (JournalFormat.headerBytes + JournalFormat.checksumBytes) + 2 * JournalFormat.orderPayloadBytes
                + JournalFormat.reportPayloadBytes)
        #expect(bytes[3] == 3 && JournalFormat.version == 3)
        var seen: [JournalRecord] = []
        _ = try JournalReader.read(bytes) { seen.append($0) }.get()
        guard seen.count == 3, case .order(let a2) = seen[0], case .order(let b2) = seen[1], case .report(let f2) = seen[2] else {
            Issue.record("records \(seen)"); return
        }
        #expect(a2.venue == 3 && b2.venue == 0x0102 && f2.venue == 3)
        #expect(b2.price.units == 9_990 && f2.quantity.units == 400 && f2.leavesQuantity.units == 600)

        var (risk, table) = Self.freshRisk()
        let summary = try JournalRecovery.recover(bytes, risk: &risk, orders: &table, nowNs: 0).get()
        #expect(summary.openOrders == 2 && summary.refusedReports == 0)
        #expect(table.record(clientOrderId: 1)?.order.venue == 3 && table.record(clientOrderId: 2)?.order.venue == 0x0102)
        #expect(risk.positions.quantity(strategy: 0, instrument: 0) == 400)
    }

    @Test func aVersionThreeLengthOnAVersionTwoRecordIsRefused() {
        var enc = JournalEncoder()
        var bytes: [UInt8] = []
        enc.append(order: order(1), to: &bytes)
        bytes[3] = JournalFormat.versionTwo
        #expect(JournalReader.read(bytes).failure?.error == .badLength)
    }
}
