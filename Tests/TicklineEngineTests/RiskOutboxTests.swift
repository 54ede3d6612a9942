import Testing
import TicklineCore
import TicklineEngine

/// The risk stage's fixed outbox: first in first out, entries bounded, orders sendable only
/// once journaled, unjournaled ones taken out in place.
@Suite struct RiskOutboxTests {
    static func order(_ id: UInt64, cancel: Bool = false) -> DecidedOrder {
        var o = OrderEvent()
        o.clientOrderId = id
        o.actionRaw = (cancel ? OrderAction.cancel : OrderAction.new).rawValue
        return DecidedOrder(order: o, exit: cancel, decidedNs: MonotonicNanos(Int64(id)))
    }

    @Test func sendsOnlyJournaledOrdersOldestFirstAndRefusesWhenFull() {
        var box = RiskOutbox(capacity: 4, entryCapacity: 2)
        let first = box.append(Self.order(1)), second = box.append(Self.order(2))
        #expect(first && second)
        #expect(box.firstJournaled == nil)  // decided, not yet in the journal
        box.markJournaled()
        let third = box.append(Self.order(3)), fourth = box.append(Self.order(4)), fifth = box.append(Self.order(5))
        #expect(third && fourth)
        #expect(!fifth)  // every slot taken
        #expect(box.count == 4 && box.unjournaled == 2)
        #expect(box.firstJournaled?.order.clientOrderId == 1)
        box.removeFirstJournaled()
        #expect(box.firstJournaled?.order.clientOrderId == 2)
        box.removeFirstJournaled()
        #expect(box.firstJournaled == nil && box.count == 2)
        // Wrapped around the storage: still in order.
        let sixth = box.append(Self.order(6))
        #expect(sixth)
        #expect((0..<box.count).map { box[$0].order.clientOrderId } == [3, 4, 6])
    }

    @Test func takesOutUnjournaledOrdersInPlaceKeepingTheRestInOrder() {
        var box = RiskOutbox(capacity: 8, entryCapacity: 4)
        _ = box.append(Self.order(1))
        box.markJournaled()
        for (id, cancel) in [(2, false), (3, true), (4, false), (5, true)] { _ = box.append(Self.order(UInt64(id), cancel: cancel)) }
        var taken: [UInt64] = []
        box.removeUnjournaled { d in
            guard d.isNew else { return false }
            taken.append(d.order.clientOrderId)
            return true
        }
        #expect(taken == [2, 4])
        #expect((0..<box.count).map { box[$0].order.clientOrderId } == [1, 3, 5])
        #expect(box.journaled == 1 && box.unjournaled == 2)
    }
}
