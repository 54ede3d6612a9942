import Testing
import TicklineCore
import TicklineExecution

@Suite struct OrderStateMachineTests {
    /// Every legal transition (state, input, hasFills) → next. Everything not listed is illegal.
    static let legal: [(OrderState, OrderInput, Bool, OrderState)] = {
        var t: [(OrderState, OrderInput, Bool, OrderState)] = []
        func both(_ s: OrderState, _ i: OrderInput, _ n: OrderState) { t.append((s, i, false, n)); t.append((s, i, true, n)) }
        both(.new, .send, .pendingNew)
        both(.new, .rejected, .rejected)
        both(.pendingNew, .acknowledge, .accepted)
        both(.pendingNew, .rejected, .rejected)
        for s in [OrderState.pendingNew, .accepted, .partiallyFilled] {
            both(s, .partialFill, .partiallyFilled)
            both(s, .completingFill, .filled)
            both(s, .requestCancel, .pendingCancel)
        }
        for s in [OrderState.pendingNew, .accepted, .partiallyFilled, .pendingCancel] {
            both(s, .cancelled, .cancelled)
            both(s, .expired, .expired)
        }
        both(.pendingCancel, .completingFill, .filled)
        both(.pendingCancel, .acknowledge, .pendingCancel)
        both(.pendingCancel, .partialFill, .pendingCancel)
        t.append((.pendingCancel, .cancelRejected, false, .accepted))
        t.append((.pendingCancel, .cancelRejected, true, .partiallyFilled))
        t.append((.pendingCancel, .rejected, false, .rejected))
        return t
    }()

    @Test func everyLegalTransitionLandsWhereTheTableSays() {
        for (s, i, f, n) in Self.legal {
            #expect(OrderStateMachine.next(s, i, hasFills: f) == n, "\(s) --\(i) fills:\(f)--> expected \(n)")
        }
    }

    @Test func everyOtherTransitionIsIllegal() {
        var illegal = 0
        for s in OrderState.allCases {
            for i in OrderInput.allCases {
                for f in [false, true] where !Self.legal.contains(where: { $0.0 == s && $0.1 == i && $0.2 == f }) {
                    #expect(OrderStateMachine.next(s, i, hasFills: f) == nil, "\(s) --\(i) fills:\(f)--> should be illegal")
                    illegal += 1
                }
            }
        }
        #expect(illegal == 9 * 9 * 2 - Self.legal.count)
    }

    @Test func terminalStatesAcceptNothing() {
        for s in OrderState.allCases where s.isTerminal {
            for i in OrderInput.allCases { #expect(OrderStateMachine.next(s, i, hasFills: true) == nil) }
        }
        #expect(OrderState.allCases.filter(\.isTerminal) == [.filled, .cancelled, .rejected, .expired])
    }

    @Test func pendingCancelReportsTheStatusItHadBefore() {
        #expect(OrderState.pendingCancel.status(filledUnits: 0) == .accepted)
        #expect(OrderState.pendingCancel.status(filledUnits: 5) == .partiallyFilled)
        #expect(OrderState.pendingNew.status(filledUnits: 0) == .new)
    }
}
