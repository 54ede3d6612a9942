import TicklineCore

/// Where an order is in its life. `pendingNew` and `pendingCancel` are the in-flight states
/// (sent, the venue has not answered yet). The last four are terminal.
public enum OrderState: UInt8, Sendable, CaseIterable {
    /// Approved by risk, not yet handed to the venue.
    case new = 1
    /// Sent; no acknowledgement yet.
    case pendingNew = 2
    case accepted = 3
    case partiallyFilled = 4
    /// A cancel was sent; the venue has not answered yet (fills may still arrive).
    case pendingCancel = 9
    case filled = 5
    case cancelled = 6
    case rejected = 7
    case expired = 8

    @inlinable public var isTerminal: Bool {
        switch self {
        case .filled, .cancelled, .rejected, .expired: true
        default: false
        }
    }

    /// The venue-facing status for reports (`pendingCancel` reports as what it was before).
    @inlinable public func status(filledUnits: Int64) -> OrderStatus {
        switch self {
        case .new, .pendingNew: .new
        case .accepted: .accepted
        case .partiallyFilled: .partiallyFilled
        case .pendingCancel: filledUnits > 0 ? .partiallyFilled : .accepted
        case .filled: .filled
        case .cancelled: .cancelled
        case .rejected: .rejected
        case .expired: .expired
        }
    }
}

/// What can happen to an order.
public enum OrderInput: UInt8, Sendable, CaseIterable {
    /// We handed it to the venue.
    case send = 1
    /// The venue accepted it.
    case acknowledge = 2
    /// A fill that leaves some quantity open.
    case partialFill = 3
    /// A fill that completes the order.
    case completingFill = 4
    /// We sent a cancel.
    case requestCancel = 5
    /// The venue refused our cancel (the order lives on).
    case cancelRejected = 6
    case cancelled = 7
    case rejected = 8
    case expired = 9
}

/// The order life cycle as one pure transition function (no state of its own).
///
/// ```
/// new ─send→ pendingNew ─ack→ accepted ─fill→ partiallyFilled ─fill→ filled
///               │                 │                 │
///               └──── requestCancel → pendingCancel ─cancelled→ cancelled
///                                        └─cancelRejected→ accepted / partiallyFilled
/// pendingNew → rejected; pendingNew, accepted, partiallyFilled, pendingCancel → cancelled / expired
/// ```
/// Fills may arrive before the acknowledgement (venues do not order the two streams) and
/// while a cancel is in flight (the order stays `pendingCancel` until the venue answers).
/// A late acknowledgement in `pendingCancel` is legal and changes nothing. Anything else is
/// illegal: `next` returns nil and the caller counts it.
public enum OrderStateMachine {
    /// The state after `input`, or nil when the transition is illegal. `hasFills`: the order
    /// has filled quantity (decides where a refused cancel returns to, and whether a
    /// cancelled-in-flight order may still be rejected).
    @inlinable
    public static func next(_ state: OrderState, _ input: OrderInput, hasFills: Bool) -> OrderState? {
        switch (state, input) {
        case (.new, .send): return .pendingNew
        case (.new, .rejected): return .rejected
        case (.pendingNew, .acknowledge): return .accepted
        case (.pendingNew, .rejected): return .rejected
        case (.pendingNew, .partialFill), (.accepted, .partialFill), (.partiallyFilled, .partialFill): return .partiallyFilled
        case (.pendingNew, .completingFill), (.accepted, .completingFill), (.partiallyFilled, .completingFill),
             (.pendingCancel, .completingFill): return .filled
        case (.pendingNew, .requestCancel), (.accepted, .requestCancel), (.partiallyFilled, .requestCancel): return .pendingCancel
        case (.pendingNew, .cancelled), (.accepted, .cancelled), (.partiallyFilled, .cancelled), (.pendingCancel, .cancelled): return .cancelled
        case (.pendingNew, .expired), (.accepted, .expired), (.partiallyFilled, .expired), (.pendingCancel, .expired): return .expired
        case (.pendingCancel, .acknowledge), (.pendingCancel, .partialFill): return .pendingCancel
        case (.pendingCancel, .cancelRejected): return hasFills ? .partiallyFilled : .accepted
        case (.pendingCancel, .rejected): return hasFills ? nil : .rejected
        default: return nil
        }
    }
}
