import TicklineCore

/// Why the order table refused something. Raw values are stable (journal, counters).
public enum OrderError: UInt8, Sendable, CaseIterable, Error {
    /// No order with that client order id (never seen, or retired long ago).
    case unknownOrder = 1
    /// `insert` with a client order id already in the table.
    case duplicateClientOrderId = 2
    /// Every slot holds an open order.
    case tableFull = 3
    /// A fill whose (order, trade id) was already applied: ignored.
    case duplicateTrade = 4
    /// The order's state does not allow the input (`OrderFault.state`/`input` say which).
    case illegalTransition = 5
    /// A fill beyond the order quantity: applied up to it, the excess never (observed = excess units).
    case overfill = 6
    /// The report's instrument, strategy, side or decimals differ from the order's.
    case mismatchedReport = 7
    /// Unknown status or side byte, negative quantity, a fill without a price or trade id.
    case malformedReport = 8
}

/// A refusal with what the table saw: for `illegalTransition`, the state and the input;
/// for `overfill`, the excess (observed) over the open quantity (limit).
public struct OrderFault: Error, Sendable, Equatable {
    public var reason: OrderError
    public var clientOrderId: UInt64
    public var state: OrderState?
    public var input: OrderInput?
    public var observed: Int64
    public var limit: Int64

    @inlinable
    public init(_ reason: OrderError, clientOrderId: UInt64, state: OrderState? = nil, input: OrderInput? = nil,
                observed: Int64 = 0, limit: Int64 = 0) {
        self.reason = reason
        self.clientOrderId = clientOrderId
        self.state = state
        self.input = input
        self.observed = observed
        self.limit = limit
    }
}

/// One order as the table keeps it.
public struct OrderRecord: Sendable {
    /// The order as risk approved it (quantity = the ordered quantity).
    public var order: OrderEvent
    public var state: OrderState
    public var filledUnits: Int64
    /// Σ fill price × quantity (units at price + quantity decimals), for the average fill price.
    public var filledCost: Int128
    public var feeUnits: Int64
    public var createdNs: MonotonicNanos
    public var updatedNs: MonotonicNanos

    @inlinable public var leavesUnits: Int64 { order.quantity.units - filledUnits }
    @inlinable public var clientOrderId: UInt64 { order.clientOrderId }
}

/// What a venue report did.
public enum ReportOutcome: Sendable {
    /// Applied. The fill is canonical (the order's ids, side and decimals; `leavesQuantity`
    /// and `status` from the table): pass it on to `PreTradeRisk.apply(fill:)` and the journal.
    case applied(FillEvent)
    /// The report filled more than was open: applied up to the order quantity (the returned
    /// fill), the excess never. The caller journals a `RiskEvent` of kind `.overfill` and
    /// should stop trading the symbol until positions are reconciled with the venue.
    case overfilled(FillEvent, excessUnits: Int64)
    /// Nothing changed.
    case refused(OrderFault)

    @inlinable public var fill: FillEvent? {
        switch self {
        case .applied(let f), .overfilled(let f, _): f
        case .refused: nil
        }
    }
    @inlinable public var fault: OrderFault? {
        switch self {
        case .refused(let f): f
        case .overfilled(let fill, let excess):
            OrderFault(.overfill, clientOrderId: fill.clientOrderId, observed: excess, limit: 0)
        case .applied: nil
        }
    }
}

/// The orders of one engine run, keyed by client order id: the state machine applied to
/// each, fills deduplicated by (order, venue trade id) over the last `recentTradeCapacity`
/// fills, overfills detected. Slots are allocated in `init`; an order that reaches a
/// terminal state stays findable (late and duplicate reports are recognised) until its slot
/// is needed again, oldest terminal first. Nothing allocates after `init`.
/// Owned by one agent thread; not thread-safe.
public struct OrderTable: Sendable {
    public let capacity: Int
    private var records: [OrderRecord]
    private var index: IndexMap
    private var free: [Int32]
    /// Terminal slots, oldest first (a ring of `capacity`).
    private var retired: [Int32]
    private var retiredHead = 0
    private var retiredCount = 0
    private var trades: RecentTradeSet

    /// Orders not in a terminal state.
    public private(set) var openCount = 0
    /// The highest client order id ever inserted (recovery continues above it).
    public private(set) var highestClientOrderId: UInt64 = 0
    /// Refusals per `OrderError.rawValue`.
    public private(set) var faultsByReason: [UInt64]
    /// Cancel refusals for orders that had already ended (see `cancelRejected`).
    public private(set) var lateCancelRejects: UInt64 = 0
    /// Illegal transitions per (state.rawValue × 16 + input.rawValue).
    public private(set) var illegalTransitions: [UInt64]

    /// - Parameters:
    ///   - capacity: open plus retained terminal orders (≥ 1).
    ///   - recentTradeCapacity: how many recent fills are remembered for deduplication (≥ 1).
    public init(capacity: Int, recentTradeCapacity: Int = 4096) {
        precondition(capacity >= 1 && capacity < Int(Int32.max), "order table capacity \(capacity) out of range")
        precondition(recentTradeCapacity >= 1, "recent trade capacity \(recentTradeCapacity) must be ≥ 1")
        self.capacity = capacity
        // Free slots hold a terminal state, so scans never mistake them for open orders.
        records = Array(repeating: OrderRecord(order: OrderEvent(), state: .cancelled, filledUnits: 0, filledCost: 0, feeUnits: 0,
                                               createdNs: 0, updatedNs: 0), count: capacity)
        index = IndexMap(capacity: capacity)
        free = (0..<capacity).reversed().map { Int32($0) }
        retired = Array(repeating: -1, count: capacity)
        trades = RecentTradeSet(capacity: recentTradeCapacity)
        faultsByReason = Array(repeating: 0, count: 16)
        illegalTransitions = Array(repeating: 0, count: 16 * 16)
    }

    // MARK: Reading

    public func record(clientOrderId: UInt64) -> OrderRecord? {
        guard let slot = index.find(clientOrderId) else { return nil }
        return records[Int(slot)]
    }

    public func state(clientOrderId: UInt64) -> OrderState? { record(clientOrderId: clientOrderId)?.state }

    /// Calls `body` for each open order (O(capacity): cold paths such as the kill switch and recovery checks).
    public func forEachOpen(_ body: (OrderRecord) -> Void) {
        guard openCount > 0 else { return }
        for slot in 0..<capacity where !records[slot].state.isTerminal && index.find(records[slot].clientOrderId) == Int32(slot) {
            body(records[slot])
        }
    }

    /// Total refusals.
    public var faultCount: UInt64 { faultsByReason.reduce(0, &+) }

    // MARK: Life cycle

    /// Adds an order risk approved, in state `new`. Refused for a known client order id or
    /// when every slot is open.
    @discardableResult
    public mutating func insert(_ order: OrderEvent, nowNs: MonotonicNanos) -> OrderFault? {
        let id = order.clientOrderId
        if index.find(id) != nil { return fault(OrderFault(.duplicateClientOrderId, clientOrderId: id)) }
        guard let slot = takeSlot() else { return fault(OrderFault(.tableFull, clientOrderId: id, observed: Int64(openCount), limit: Int64(capacity))) }
        records[Int(slot)] = OrderRecord(order: order, state: .new, filledUnits: 0, filledCost: 0, feeUnits: 0,
                                         createdNs: nowNs, updatedNs: nowNs)
        index.insert(id, slot)
        openCount += 1
        if id > highestClientOrderId { highestClientOrderId = id }
        return nil
    }

    /// Takes back an order that was never sent (state `new`) as if it had never been
    /// inserted: its slot is free and its id unknown again. False (nothing changed) for an
    /// unknown id or an order that was sent or has ended.
    @discardableResult
    public mutating func withdraw(clientOrderId: UInt64) -> Bool {
        guard let slot = index.find(clientOrderId), records[Int(slot)].state == .new else { return false }
        _ = index.remove(clientOrderId)
        records[Int(slot)].state = .cancelled  // free slots hold a terminal state
        free.append(slot)  // within the capacity reserved at init
        openCount -= 1
        return true
    }

    /// The order was handed to the venue: new → pendingNew.
    @discardableResult
    public mutating func markSent(clientOrderId: UInt64, nowNs: MonotonicNanos) -> OrderFault? {
        transition(clientOrderId, .send, nowNs).failure
    }

    /// We cancel an open order: → pendingCancel. Returns the cancel request to send.
    public mutating func requestCancel(clientOrderId: UInt64, nowNs: MonotonicNanos) -> Result<OrderEvent, OrderFault> {
        switch transition(clientOrderId, .requestCancel, nowNs) {
        case .failure(let f): return .failure(f)
        case .success(let slot):
            var cancel = records[Int(slot)].order
            cancel.actionRaw = OrderAction.cancel.rawValue
            cancel.quantity = Quantity(units: records[Int(slot)].leavesUnits)
            return .success(cancel)
        }
    }

    /// The venue refused our cancel: pendingCancel → accepted / partiallyFilled. A refusal
    /// for an order that ended meanwhile (it filled or expired while the cancel was in
    /// flight: the usual reason for the refusal) changes nothing and is counted in
    /// `lateCancelRejects`, not as a fault.
    @discardableResult
    public mutating func cancelRejected(clientOrderId: UInt64, nowNs: MonotonicNanos) -> OrderFault? {
        if let slot = index.find(clientOrderId), records[Int(slot)].state.isTerminal {
            lateCancelRejects &+= 1
            return nil
        }
        return transition(clientOrderId, .cancelRejected, nowNs).failure
    }

    /// Kill switch: requests a cancel of every open order that can take one (in-flight
    /// cancels are left alone; never-sent orders are cancelled at once). Calls `send` with
    /// each cancel request and `cancelled` with the canonical report of each order that
    /// ended here. Returns the number of cancel requests.
    /// - Parameter including: which open orders to cancel (all by default; a halt with
    ///   `cancel_entries_on_halt` passes the entries of its scope).
    @discardableResult
    public mutating func cancelAll(nowNs: MonotonicNanos, including: (OrderEvent) -> Bool = { _ in true },
                                   send: (OrderEvent) -> Void, cancelled: (FillEvent) -> Void = { _ in }) -> Int {
        guard openCount > 0 else { return 0 }
        var requests = 0
        for slot in 0..<capacity {
            let r = records[slot]
            guard !r.state.isTerminal, index.find(r.clientOrderId) == Int32(slot), including(r.order) else { continue }
            switch r.state {
            case .new:
                // Never sent: nothing to ask the venue; it ends here.
                var report = FillEvent(clientOrderId: r.clientOrderId, instrument: r.order.instrument, strategy: r.order.strategy,
                                       side: r.order.side ?? .buy, status: .cancelled,
                                       priceDecimals: r.order.priceDecimals, quantityDecimals: r.order.quantityDecimals)
                report.leavesQuantity = Quantity(units: r.leavesUnits)
                records[slot].state = .cancelled
                records[slot].updatedNs = nowNs
                retire(Int32(slot))
                cancelled(report)
            case .pendingCancel: continue
            default:
                if case .success(let c) = requestCancel(clientOrderId: r.clientOrderId, nowNs: nowNs) {
                    send(c)
                    requests += 1
                }
            }
        }
        return requests
    }

    /// Applies a venue report (`FillEvent`): status `accepted` acknowledges; a positive
    /// quantity is a fill (the order's new state follows from the cumulative quantity, not
    /// from the reported status); `cancelled`, `rejected`, `expired` end the order (after
    /// applying any quantity the same report carries).
    public mutating func apply(report: FillEvent, nowNs: MonotonicNanos) -> ReportOutcome {
        let id = report.clientOrderId
        guard let status = report.status, status != .new, report.side != nil, report.quantity.units >= 0 else {
            return .refused(fault(OrderFault(.malformedReport, clientOrderId: id, observed: Int64(report.statusRaw))))
        }
        guard let slot = index.find(id) else { return .refused(fault(OrderFault(.unknownOrder, clientOrderId: id))) }
        let s = Int(slot)
        let r = records[s]
        guard report.instrument == r.order.instrument, report.strategy == r.order.strategy, report.sideRaw == r.order.sideRaw,
              report.priceDecimals == r.order.priceDecimals, report.quantityDecimals == r.order.quantityDecimals else {
            return .refused(fault(OrderFault(.mismatchedReport, clientOrderId: id, state: r.state)))
        }
        let quantity = report.quantity.units
        var excess: Int64 = 0
        var applied: Int64 = 0
        if quantity > 0 {
            guard report.price.units > 0, report.venueTradeId != 0 else {
                return .refused(fault(OrderFault(.malformedReport, clientOrderId: id, state: r.state, observed: report.price.units)))
            }
            if trades.contains(order: id, trade: report.venueTradeId) {
                return .refused(fault(OrderFault(.duplicateTrade, clientOrderId: id, state: r.state, observed: Int64(truncatingIfNeeded: report.venueTradeId))))
            }
            let leaves = r.leavesUnits
            applied = min(quantity, leaves)
            excess = quantity - applied
            let input: OrderInput = applied == leaves ? .completingFill : .partialFill
            guard applied > 0, let next = OrderStateMachine.next(r.state, input, hasFills: r.filledUnits > 0) else {
                // Nothing open (a terminal order, or leaves 0): an overfill if the order was filled, else illegal.
                if r.state == .filled {
                    faultsByReason[Int(OrderError.overfill.rawValue)] &+= 1
                    trades.insert(order: id, trade: report.venueTradeId)
                    return .refused(OrderFault(.overfill, clientOrderId: id, state: r.state, input: input, observed: quantity, limit: 0))
                }
                return .refused(illegal(id, r.state, input))
            }
            trades.insert(order: id, trade: report.venueTradeId)
            records[s].filledUnits += applied
            records[s].filledCost += Int128(report.price.units) * Int128(applied)
            records[s].feeUnits &+= report.fee
            records[s].state = next
            records[s].updatedNs = nowNs
            if next.isTerminal { retire(slot) }
        }
        // Status part.
        var input: OrderInput?
        switch status {
        case .accepted: input = quantity == 0 ? .acknowledge : nil
        case .cancelled: input = .cancelled
        case .rejected: input = .rejected
        case .expired: input = .expired
        case .new, .partiallyFilled, .filled: input = nil
        }
        if quantity == 0, input == nil {
            // A zero-quantity "partially filled"/"filled" report carries nothing to apply.
            return .refused(fault(OrderFault(.malformedReport, clientOrderId: id, state: r.state, observed: Int64(report.statusRaw))))
        }
        if let input, !records[s].state.isTerminal || quantity == 0 {
            let current = records[s].state
            guard let next = OrderStateMachine.next(current, input, hasFills: records[s].filledUnits > 0) else {
                if applied > 0 { return canonical(s, report, applied, excess) }  // the fill stands; the stale status is counted
                return .refused(illegal(id, current, input))
            }
            records[s].state = next
            records[s].updatedNs = nowNs
            if next.isTerminal { retire(slot) }
        }
        return canonical(s, report, applied, excess)
    }

    // MARK: Internals

    private func canonicalFill(_ s: Int, _ report: FillEvent, _ applied: Int64) -> FillEvent {
        let r = records[s]
        var f = report
        f.instrument = r.order.instrument
        f.strategy = r.order.strategy
        f.quantity = Quantity(units: applied)
        if applied == 0 { f.price = .zero; f.fee = 0 }
        f.leavesQuantity = Quantity(units: r.leavesUnits)
        f.statusRaw = r.state.status(filledUnits: r.filledUnits).rawValue
        return f
    }

    private mutating func canonical(_ s: Int, _ report: FillEvent, _ applied: Int64, _ excess: Int64) -> ReportOutcome {
        let f = canonicalFill(s, report, applied)
        if excess > 0 {
            faultsByReason[Int(OrderError.overfill.rawValue)] &+= 1
            return .overfilled(f, excessUnits: excess)
        }
        return .applied(f)
    }

    private mutating func transition(_ id: UInt64, _ input: OrderInput, _ nowNs: MonotonicNanos) -> Result<Int32, OrderFault> {
        guard let slot = index.find(id) else { return .failure(fault(OrderFault(.unknownOrder, clientOrderId: id))) }
        let r = records[Int(slot)]
        guard let next = OrderStateMachine.next(r.state, input, hasFills: r.filledUnits > 0) else {
            return .failure(illegal(id, r.state, input))
        }
        records[Int(slot)].state = next
        records[Int(slot)].updatedNs = nowNs
        if next.isTerminal { retire(slot) }
        return .success(slot)
    }

    private mutating func illegal(_ id: UInt64, _ state: OrderState, _ input: OrderInput) -> OrderFault {
        illegalTransitions[Int(state.rawValue) * 16 + Int(input.rawValue)] &+= 1
        return fault(OrderFault(.illegalTransition, clientOrderId: id, state: state, input: input))
    }

    private mutating func fault(_ f: OrderFault) -> OrderFault {
        faultsByReason[Int(f.reason.rawValue)] &+= 1
        return f
    }

    /// A slot went terminal: it stays findable until needed.
    private mutating func retire(_ slot: Int32) {
        openCount -= 1
        retired[(retiredHead + retiredCount) % capacity] = slot
        retiredCount += 1
    }

    private mutating func takeSlot() -> Int32? {
        if let slot = free.popLast() { return slot }
        guard retiredCount > 0 else { return nil }
        let slot = retired[retiredHead]
        retiredHead = (retiredHead + 1) % capacity
        retiredCount -= 1
        index.remove(records[Int(slot)].clientOrderId)
        return slot
    }
}

extension Result {
    @usableFromInline var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
