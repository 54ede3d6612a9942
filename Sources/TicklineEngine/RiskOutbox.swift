import TicklineCore
import TicklineExecution

/// An order the risk stage decided, with the signal it came from (decided again if the
/// order cannot be journaled) and when it was first decided.
public struct DecidedOrder: Sendable, BitwiseCopyable {
    public var order: OrderEvent
    public var signal: SignalEvent
    /// An exit (a market order from `ExitMonitor`, a flatten or the kill switch) or a cancel:
    /// these may use the reserved slots.
    public var exit: Bool
    /// What triggered an exit (`ExitReason` raw value; 0 for an entry or a cancel).
    public var triggerRaw: UInt8
    /// The risk clock when the signal was first decided.
    public var decidedNs: MonotonicNanos

    public init(order: OrderEvent, signal: SignalEvent = SignalEvent(), exit: Bool, trigger: ExitReason? = nil, decidedNs: MonotonicNanos) {
        self.order = order
        self.signal = signal
        self.exit = exit
        self.triggerRaw = trigger?.rawValue ?? 0
        self.decidedNs = decidedNs
    }

    /// What triggered an exit (nil for an entry or a cancel).
    public var trigger: ExitReason? { ExitReason(rawValue: triggerRaw) }

    /// A new order (not a cancel request).
    @inlinable public var isNew: Bool { order.action == .new }
}

/// The risk stage's orders on their way to the venue ring: a fixed-capacity first-in
/// first-out queue with slots reserved for reduce-only orders (exits, cancels), so a venue
/// ring that stops taking orders can fill it with entries but never shut exits out. The
/// oldest `journaled` orders are in the journal and may be sent; the others were decided this
/// duty cycle and wait for the journal write. Storage is allocated in `init`; nothing else
/// allocates. Owned by the risk thread.
public struct RiskOutbox: Sendable {
    @usableFromInline var storage: [DecidedOrder]
    @usableFromInline var head = 0
    public private(set) var count = 0
    /// Orders at the front that are in the journal.
    public private(set) var journaled = 0
    /// Slots entries may use; the rest are kept for reduce-only orders.
    public let entryCapacity: Int

    /// Traps unless 1 ≤ `entryCapacity` < `capacity` (at least one reserved slot).
    public init(capacity: Int, entryCapacity: Int) {
        precondition(entryCapacity >= 1 && entryCapacity < capacity,
                     "risk outbox: entry capacity \(entryCapacity) must be in 1..<\(capacity) (capacity)")
        storage = Array(repeating: DecidedOrder(order: OrderEvent(), exit: false, decidedNs: 0), count: capacity)
        self.entryCapacity = entryCapacity
    }

    @inlinable public var capacity: Int { storage.count }
    public var isEmpty: Bool { count == 0 }
    /// Orders decided and not yet journaled.
    public var unjournaled: Int { count - journaled }

    @inlinable func slot(_ offset: Int) -> Int {
        let s = head + offset
        return s >= storage.count ? s - storage.count : s
    }

    /// Appends; false (nothing kept) when every slot is taken.
    public mutating func append(_ order: DecidedOrder) -> Bool {
        guard count < storage.count else { return false }
        storage[slot(count)] = order
        count += 1
        return true
    }

    /// The `offset`-th oldest order. Traps past `count`.
    public subscript(offset: Int) -> DecidedOrder {
        precondition(offset >= 0 && offset < count, "risk outbox offset \(offset) out of range 0..<\(count)")
        return storage[slot(offset)]
    }

    /// The oldest order, when it is journaled (may be sent).
    public var firstJournaled: DecidedOrder? { journaled > 0 ? storage[head] : nil }

    /// Drops the oldest journaled order (sent, or ended before it could be). Traps when none.
    public mutating func removeFirstJournaled() {
        precondition(journaled > 0, "risk outbox: no journaled order to remove")
        head = slot(1)
        count -= 1
        journaled -= 1
    }

    /// Every order in the outbox is now in the journal.
    public mutating func markJournaled() { journaled = count }

    /// Removes the unjournaled orders for which `take` returns true (in order), keeping the
    /// others in their order.
    public mutating func removeUnjournaled(where take: (DecidedOrder) -> Bool) {
        var kept = journaled
        for k in journaled..<count {
            let o = storage[slot(k)]
            if take(o) { continue }
            storage[slot(kept)] = o
            kept += 1
        }
        count = kept
    }
}
