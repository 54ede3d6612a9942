import Testing
import TicklineCore
import TicklineExecution

@Suite struct OrderTableTests {
    func sentAndAccepted(_ table: inout OrderTable, _ o: OrderEvent) {
        #expect(table.insert(o, nowNs: 1) == nil)
        #expect(table.markSent(clientOrderId: o.clientOrderId, nowNs: 2) == nil)
        #expect(table.apply(report: report(o, .accepted), nowNs: 3).fill != nil)
    }

    @Test func walksNewPendingAcceptedPartialFilled() throws {
        var t = OrderTable(capacity: 4)
        let o = order(1)
        #expect(t.insert(o, nowNs: 1) == nil)
        #expect(t.state(clientOrderId: 1) == .new && t.openCount == 1)
        #expect(t.markSent(clientOrderId: 1, nowNs: 2) == nil)
        #expect(t.state(clientOrderId: 1) == .pendingNew)
        let ack = t.apply(report: report(o, .accepted), nowNs: 3)
        #expect(ack.fill?.status == .accepted && ack.fill?.leavesQuantity.units == 1_000)
        #expect(t.state(clientOrderId: 1) == .accepted)
        let partial = t.apply(report: report(o, .partiallyFilled, quantity: 400, tradeId: 7), nowNs: 4)
        let p = try #require(partial.fill)
        #expect(p.quantity.units == 400 && p.leavesQuantity.units == 600 && p.status == .partiallyFilled)
        #expect(t.state(clientOrderId: 1) == .partiallyFilled)
        let rest = t.apply(report: report(o, .filled, quantity: 600, price: 10_010, tradeId: 8), nowNs: 5)
        #expect(rest.fill?.status == .filled && rest.fill?.leavesQuantity.units == 0)
        let r = try #require(t.record(clientOrderId: 1))
        #expect(r.state == .filled && r.filledUnits == 1_000 && r.filledCost == 400 * 10_000 + 600 * 10_010 && r.updatedNs == 5)
        #expect(t.openCount == 0 && t.faultCount == 0)
    }

    @Test func fillsBeforeTheAcknowledgementAreLegal() {
        var t = OrderTable(capacity: 2)
        let o = order(1)
        t.insert(o, nowNs: 0)
        t.markSent(clientOrderId: 1, nowNs: 0)
        #expect(t.apply(report: report(o, .filled, quantity: 1_000, tradeId: 1), nowNs: 1).fill?.status == .filled)
        #expect(t.state(clientOrderId: 1) == .filled)
    }

    @Test func theReportedStatusDoesNotDecideTheStateTheCumulativeQuantityDoes() {
        var t = OrderTable(capacity: 2)
        let o = order(1)
        sentAndAccepted(&t, o)
        // The venue says "filled" for a partial quantity: the table keeps it partially filled.
        #expect(t.apply(report: report(o, .filled, quantity: 100, tradeId: 1), nowNs: 4).fill?.status == .partiallyFilled)
        #expect(t.state(clientOrderId: 1) == .partiallyFilled)
    }

    @Test func cancelRequestCancelledAndRefusedCancelPaths() throws {
        var t = OrderTable(capacity: 4)
        let a = order(1), b = order(2)
        sentAndAccepted(&t, a)
        sentAndAccepted(&t, b)
        let cancelA = try t.requestCancel(clientOrderId: 1, nowNs: 5).get()
        #expect(cancelA.action == .cancel && cancelA.quantity.units == 1_000 && cancelA.clientOrderId == 1)
        #expect(t.state(clientOrderId: 1) == .pendingCancel)
        // A fill racing the cancel: applied, still pending cancel.
        let racing = t.apply(report: report(a, .partiallyFilled, quantity: 300, tradeId: 1), nowNs: 6)
        #expect(racing.fill?.quantity.units == 300 && racing.fill?.status == .partiallyFilled)
        #expect(t.state(clientOrderId: 1) == .pendingCancel)
        let done = t.apply(report: report(a, .cancelled), nowNs: 7)
        #expect(done.fill?.status == .cancelled && done.fill?.leavesQuantity.units == 700)
        #expect(t.state(clientOrderId: 1) == .cancelled)

        _ = t.requestCancel(clientOrderId: 2, nowNs: 8)
        #expect(t.cancelRejected(clientOrderId: 2, nowNs: 9) == nil)
        #expect(t.state(clientOrderId: 2) == .accepted)
        _ = t.apply(report: report(b, .partiallyFilled, quantity: 10, tradeId: 2), nowNs: 10)
        _ = t.requestCancel(clientOrderId: 2, nowNs: 11)
        #expect(t.cancelRejected(clientOrderId: 2, nowNs: 12) == nil)
        #expect(t.state(clientOrderId: 2) == .partiallyFilled)
        #expect(t.faultCount == 0)
    }

    @Test func rejectedAndExpiredEndTheOrder() {
        var t = OrderTable(capacity: 4)
        let a = order(1), b = order(2)
        t.insert(a, nowNs: 0)
        t.markSent(clientOrderId: 1, nowNs: 0)
        #expect(t.apply(report: report(a, .rejected), nowNs: 1).fill?.status == .rejected)
        sentAndAccepted(&t, b)
        _ = t.apply(report: report(b, .partiallyFilled, quantity: 1, tradeId: 3), nowNs: 2)
        let expired = t.apply(report: report(b, .expired), nowNs: 3)
        #expect(expired.fill?.status == .expired && expired.fill?.leavesQuantity.units == 999)
        #expect(t.openCount == 0)
    }

    @Test func illegalTransitionsAreRefusedAndCounted() throws {
        var t = OrderTable(capacity: 4)
        let o = order(1)
        sentAndAccepted(&t, o)
        // A second acknowledgement, a second send, a reject after acceptance, a refused cancel never asked for.
        let ack2 = t.apply(report: report(o, .accepted), nowNs: 4).fault
        #expect(ack2?.reason == .illegalTransition && ack2?.state == .accepted && ack2?.input == .acknowledge)
        #expect(t.markSent(clientOrderId: 1, nowNs: 4)?.input == .send)
        #expect(t.apply(report: report(o, .rejected), nowNs: 4).fault?.input == .rejected)
        #expect(t.cancelRejected(clientOrderId: 1, nowNs: 4)?.input == .cancelRejected)
        _ = t.apply(report: report(o, .filled, quantity: 1_000, tradeId: 1), nowNs: 5)
        // A cancel refused because the order filled meanwhile is expected, not a fault.
        #expect(t.cancelRejected(clientOrderId: 1, nowNs: 5) == nil && t.lateCancelRejects == 1)
        // After a terminal state: a cancel request, a status, a cancel: all illegal.
        if case .failure(let f) = t.requestCancel(clientOrderId: 1, nowNs: 6) {
            #expect(f.reason == .illegalTransition && f.state == .filled)
        } else {
            Issue.record("a cancel of a filled order was accepted")
        }
        #expect(t.apply(report: report(o, .cancelled), nowNs: 6).fault?.state == .filled)
        #expect(t.faultsByReason[Int(OrderError.illegalTransition.rawValue)] == 6)
        #expect(t.illegalTransitions[Int(OrderState.accepted.rawValue) * 16 + Int(OrderInput.acknowledge.rawValue)] == 1)
        #expect(t.state(clientOrderId: 1) == .filled)
    }

    @Test func duplicateTradeIdsAreIgnored() {
        var t = OrderTable(capacity: 4)
        let o = order(1)
        sentAndAccepted(&t, o)
        #expect(t.apply(report: report(o, .partiallyFilled, quantity: 100, tradeId: 42), nowNs: 4).fill != nil)
        let again = t.apply(report: report(o, .partiallyFilled, quantity: 100, tradeId: 42), nowNs: 5)
        #expect(again.fault?.reason == .duplicateTrade)
        #expect(t.record(clientOrderId: 1)?.filledUnits == 100)
        // The same trade id on another order is a different fill.
        let other = order(2)
        sentAndAccepted(&t, other)
        #expect(t.apply(report: report(other, .partiallyFilled, quantity: 100, tradeId: 42), nowNs: 6).fill != nil)
    }

    @Test func deduplicationRemembersOnlyTheRecentWindowThenOverfillStillGuards() {
        var t = OrderTable(capacity: 4, recentTradeCapacity: 2)
        let o = order(1, quantity: 30)
        sentAndAccepted(&t, o)
        for trade in UInt64(1)...3 { _ = t.apply(report: report(o, .partiallyFilled, quantity: 10, tradeId: trade), nowNs: 4) }
        #expect(t.state(clientOrderId: 1) == .filled)
        // Trade 1 has left the window: it is not recognised as a duplicate, but it cannot fill past the quantity.
        let replay = t.apply(report: report(o, .partiallyFilled, quantity: 10, tradeId: 1), nowNs: 5)
        #expect(replay.fault?.reason == .overfill)
        #expect(t.apply(report: report(o, .partiallyFilled, quantity: 10, tradeId: 3), nowNs: 5).fault?.reason == .duplicateTrade)
        #expect(t.record(clientOrderId: 1)?.filledUnits == 30)
    }

    @Test func anOverfillIsAppliedUpToTheOrderQuantityOnlyAndReported() throws {
        var t = OrderTable(capacity: 4)
        let o = order(1, quantity: 1_000)
        sentAndAccepted(&t, o)
        _ = t.apply(report: report(o, .partiallyFilled, quantity: 800, tradeId: 1), nowNs: 4)
        let over = t.apply(report: report(o, .filled, quantity: 500, tradeId: 2), nowNs: 5)
        guard case .overfilled(let f, let excess) = over else { Issue.record("expected an overfill, got \(over)"); return }
        #expect(f.quantity.units == 200 && excess == 300 && f.status == .filled && f.leavesQuantity.units == 0)
        #expect(t.record(clientOrderId: 1)?.filledUnits == 1_000)
        #expect(t.faultsByReason[Int(OrderError.overfill.rawValue)] == 1)
        #expect(over.fault?.observed == 300)
    }

    @Test func unknownDuplicateMismatchedAndMalformedReportsAreRefused() {
        var t = OrderTable(capacity: 4)
        let o = order(1)
        sentAndAccepted(&t, o)
        #expect(t.insert(o, nowNs: 4)?.reason == .duplicateClientOrderId)
        #expect(t.apply(report: report(order(99), .accepted), nowNs: 4).fault?.reason == .unknownOrder)
        #expect(t.markSent(clientOrderId: 99, nowNs: 4)?.reason == .unknownOrder)
        var wrongSide = report(o, .partiallyFilled, quantity: 1, tradeId: 1)
        wrongSide.sideRaw = Side.sell.rawValue
        #expect(t.apply(report: wrongSide, nowNs: 4).fault?.reason == .mismatchedReport)
        var wrongInstrument = report(o, .partiallyFilled, quantity: 1, tradeId: 1)
        wrongInstrument.instrument = 5
        #expect(t.apply(report: wrongInstrument, nowNs: 4).fault?.reason == .mismatchedReport)
        var badStatus = report(o, .accepted)
        badStatus.statusRaw = 77
        #expect(t.apply(report: badStatus, nowNs: 4).fault?.reason == .malformedReport)
        #expect(t.apply(report: report(o, .partiallyFilled, quantity: 1, tradeId: 0), nowNs: 4).fault?.reason == .malformedReport)
        #expect(t.apply(report: report(o, .partiallyFilled, quantity: 0), nowNs: 4).fault?.reason == .malformedReport)
        #expect(t.apply(report: report(o, .new), nowNs: 4).fault?.reason == .malformedReport)
        #expect(t.record(clientOrderId: 1)?.filledUnits == 0 && t.state(clientOrderId: 1) == .accepted)
    }

    @Test func aFullTableRefusesButReusesTheOldestTerminalSlot() {
        var t = OrderTable(capacity: 2)
        #expect(t.insert(order(1), nowNs: 0) == nil)
        #expect(t.insert(order(2), nowNs: 0) == nil)
        #expect(t.insert(order(3), nowNs: 0)?.reason == .tableFull)
        _ = t.markSent(clientOrderId: 1, nowNs: 1)
        _ = t.apply(report: report(order(1), .rejected), nowNs: 1)
        #expect(t.state(clientOrderId: 1) == .rejected)  // still findable
        #expect(t.insert(order(3), nowNs: 2) == nil)     // takes order 1's slot
        #expect(t.state(clientOrderId: 1) == nil && t.state(clientOrderId: 3) == .new && t.state(clientOrderId: 2) == .new)
        #expect(t.highestClientOrderId == 3 && t.openCount == 2)
    }

    @Test func cancelAllCancelsEveryOpenOrderOnce() {
        var t = OrderTable(capacity: 8)
        t.insert(order(1), nowNs: 0)                 // never sent
        sentAndAccepted(&t, order(2))
        sentAndAccepted(&t, order(3))
        _ = t.apply(report: report(order(3), .filled, quantity: 1_000, tradeId: 1), nowNs: 4)
        sentAndAccepted(&t, order(4))
        _ = t.requestCancel(clientOrderId: 4, nowNs: 4)  // already in flight
        var sent: [UInt64] = [], ended: [UInt64] = []
        let n = t.cancelAll(nowNs: 5, send: { sent.append($0.clientOrderId) }, cancelled: { ended.append($0.clientOrderId) })
        #expect(n == 1 && sent == [2] && ended == [1])
        #expect(t.state(clientOrderId: 1) == .cancelled && t.state(clientOrderId: 2) == .pendingCancel)
        #expect(t.state(clientOrderId: 3) == .filled && t.state(clientOrderId: 4) == .pendingCancel)
        var open: [UInt64] = []
        t.forEachOpen { open.append($0.clientOrderId) }
        #expect(open.sorted() == [2, 4])
    }

    @Test func cancelAllCancelsOnlyTheOrdersItIsToldToInclude() {
        var t = OrderTable(capacity: 8)
        var exit = order(2)
        exit.flags = OrderEvent.flagReduceOnly
        sentAndAccepted(&t, order(1))
        sentAndAccepted(&t, exit)
        t.insert(order(3), nowNs: 0)                 // never sent
        var sent: [UInt64] = [], ended: [UInt64] = []
        let n = t.cancelAll(nowNs: 5, including: { $0.flags & OrderEvent.flagReduceOnly == 0 },
                            send: { sent.append($0.clientOrderId) }, cancelled: { ended.append($0.clientOrderId) })
        #expect(n == 1 && sent == [1] && ended == [3])
        #expect(t.state(clientOrderId: 1) == .pendingCancel && t.state(clientOrderId: 2) == .accepted)
    }

    @Test func manyOrdersThroughASmallTableKeepTheIndexConsistent() {
        // Exercises the hash map's backward-shift deletion under constant reuse.
        var t = OrderTable(capacity: 16)
        var live: [UInt64] = []
        for id in UInt64(1)...5_000 {
            let o = order(id)
            if t.insert(o, nowNs: 0) != nil { Issue.record("insert \(id) refused"); return }
            _ = t.markSent(clientOrderId: id, nowNs: 0)
            live.append(id)
            if live.count > 8 {
                let done = live.removeFirst()
                _ = t.apply(report: report(order(done), .filled, quantity: 1_000, tradeId: done), nowNs: 0)
            }
        }
        for id in live { #expect(t.state(clientOrderId: id) == .pendingNew) }
        #expect(t.openCount == live.count && t.faultCount == 0)
    }
}
