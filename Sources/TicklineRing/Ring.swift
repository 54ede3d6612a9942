import Atomics

/// What a producer does when its ring is full. Written in the ring's directory entry, so
/// every process sees the same policy. The hot path never blocks on a slow consumer.
public enum OverflowPolicy: UInt32, Sendable {
    /// Discard the newest record and count it in `dropped` (market-data journals only).
    case dropNewest = 1
    /// Report full to the producer, which keeps the record; counted in `refused`. Used for
    /// signals, orders, fills and risk events: they are never dropped.
    case refuse = 2
}

/// A ring to create in a region: name, slot size in bytes, capacity in slots (a power of two).
public struct RingSpec: Sendable, Equatable {
    public var name: String
    public var slotSize: Int
    public var capacity: Int
    public var overflow: OverflowPolicy

    public init(name: String, slotSize: Int, capacity: Int, overflow: OverflowPolicy) {
        self.name = name
        self.slotSize = slotSize
        self.capacity = capacity
        self.overflow = overflow
    }

    /// A ring whose slot fits `Message` exactly.
    public static func of<Message: BitwiseCopyable>(_: Message.Type, name: String, capacity: Int, overflow: OverflowPolicy) -> RingSpec {
        RingSpec(name: name, slotSize: MemoryLayout<Message>.stride, capacity: capacity, overflow: overflow)
    }
}

/// Counters of one ring, readable by any process that maps the region.
public struct RingStats: Sendable, Equatable {
    public var name: String
    public var capacity: Int
    public var slotSize: Int
    public var overflow: OverflowPolicy
    /// Records published by the producer (its cursor).
    public var published: UInt64
    /// Records consumed (the consumer's cursor).
    public var consumed: UInt64
    /// Records discarded under `.dropNewest`.
    public var dropped: UInt64
    /// Pushes refused under `.refuse` (the producer kept the record).
    public var refused: UInt64
    /// Records waiting: published − consumed.
    public var depth: UInt64 { published &- consumed }
}

/// The pointers into one ring's header and slots. Internal plumbing shared by both ends.
@usableFromInline
struct RingPointers: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutableRawPointer
    @usableFromInline let slotSize: Int
    @usableFromInline let capacity: UInt64
    @usableFromInline let mask: UInt64
    @usableFromInline let tail: UnsafeAtomic<UInt64>
    @usableFromInline let head: UnsafeAtomic<UInt64>
    @usableFromInline let dropped: UnsafeAtomic<UInt64>
    @usableFromInline let refused: UnsafeAtomic<UInt64>
    let producerPid: UnsafeAtomic<UInt64>
    let consumerPid: UnsafeAtomic<UInt64>
    let overflow: OverflowPolicy

    init(ringBase: UnsafeMutableRawPointer, slotSize: Int, capacity: Int, overflow: OverflowPolicy) {
        func atomic(_ offset: Int) -> UnsafeAtomic<UInt64> {
            UnsafeAtomic(at: (ringBase + offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
        }
        self.slots = ringBase + RegionLayout.ringHeaderSize
        self.slotSize = slotSize
        self.capacity = UInt64(capacity)
        self.mask = UInt64(capacity - 1)
        self.tail = atomic(RegionLayout.producerCursorOffset)
        self.head = atomic(RegionLayout.consumerCursorOffset)
        self.dropped = atomic(RegionLayout.droppedOffset)
        self.refused = atomic(RegionLayout.refusedOffset)
        self.producerPid = atomic(RegionLayout.producerPidOffset)
        self.consumerPid = atomic(RegionLayout.consumerPidOffset)
        self.overflow = overflow
    }

    @inlinable @inline(__always)
    func slot(_ cursor: UInt64) -> UnsafeMutableRawPointer {
        slots + Int(truncatingIfNeeded: cursor & mask) &* slotSize
    }
}

/// The producing end of a one-to-one ring. `~Copyable`: one producer per ring in a process,
/// checked by the compiler; across processes the owner's pid is recorded and a second live
/// producer is refused at attach. Owned by one thread; not thread-safe.
///
/// The producer's cursor (`tail`) is authoritative in this handle and published with a
/// release store; the consumer's cursor is cached and re-read (acquire) only when the ring
/// looks full.
public struct RingProducer<Message: BitwiseCopyable>: ~Copyable {
    @usableFromInline let ring: RingPointers
    @usableFromInline var tail: UInt64
    @usableFromInline var headCache: UInt64
    @usableFromInline let dropsOnFull: Bool
    @usableFromInline var claimOutstanding = false
    /// Keeps the mapping alive as long as the handle.
    let region: SharedRegion
    public let name: String

    init(region: SharedRegion, ring: RingPointers, name: String) {
        self.region = region
        self.ring = ring
        self.name = name
        self.dropsOnFull = ring.overflow == .dropNewest
        // Resume where the last producer stopped: the cursors live in shared memory.
        self.tail = ring.tail.load(ordering: .acquiring)
        self.headCache = ring.head.load(ordering: .acquiring)
    }

    deinit {
        ring.producerPid.store(0, ordering: .releasing)
    }

    /// Slots in the ring.
    @inlinable public var capacity: Int { Int(ring.capacity) }

    /// Records published through this ring so far (the producer cursor).
    @inlinable public var published: UInt64 { tail }

    /// Copies `message` into the next slot and publishes it. Returns false when the ring is
    /// full: under `.dropNewest` the record is discarded and counted in `dropped`, under
    /// `.refuse` it is counted in `refused` and the caller still holds it.
    @inlinable @inline(__always)
    public mutating func tryPush(_ message: Message) -> Bool {
        guard hasSpace() else { return false }
        ring.slot(tail).storeBytes(of: message, as: Message.self)
        tail &+= 1
        ring.tail.store(tail, ordering: .releasing)  // pairs with RingConsumer's acquiring load of tail
        return true
    }

    /// Zero-copy: returns the next slot to write in place, or nil when full (counted as in
    /// `tryPush`). Finish with `commit()` to publish or `abort()` to give the slot back.
    /// Traps if a claim is already outstanding.
    @inlinable @inline(__always)
    public mutating func tryClaim() -> UnsafeMutablePointer<Message>? {
        precondition(!claimOutstanding, "RingProducer \(name): tryClaim while a claim is outstanding")
        guard hasSpace() else { return nil }
        claimOutstanding = true
        return ring.slot(tail).assumingMemoryBound(to: Message.self)
    }

    /// Publishes the claimed slot. Traps without an outstanding claim.
    @inlinable @inline(__always)
    public mutating func commit() {
        precondition(claimOutstanding, "RingProducer \(name): commit without a claim")
        claimOutstanding = false
        tail &+= 1
        ring.tail.store(tail, ordering: .releasing)  // pairs with RingConsumer's acquiring load of tail
    }

    /// Gives the claimed slot back unpublished. Traps without an outstanding claim.
    @inlinable @inline(__always)
    public mutating func abort() {
        precondition(claimOutstanding, "RingProducer \(name): abort without a claim")
        claimOutstanding = false
    }

    @inlinable @inline(__always)
    mutating func hasSpace() -> Bool {
        if tail &- headCache < ring.capacity { return true }
        headCache = ring.head.load(ordering: .acquiring)  // pairs with RingConsumer's releasing store of head
        if tail &- headCache < ring.capacity { return true }
        recordFull()
        return false
    }

    // Only this producer writes these counters: a relaxed load/store pair is exact and
    // avoids a locked instruction; readers in other processes see it eventually.
    @inlinable @inline(never)
    mutating func recordFull() {
        let counter = dropsOnFull ? ring.dropped : ring.refused
        counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Spins until `message` is pushed. For tests and tools only: the hot path never waits.
    public mutating func push(_ message: Message) {
        precondition(!dropsOnFull, "RingProducer \(name): push() on a drop-newest ring would drop, not wait")
        while !tryPush(message) {}
    }
}

/// The consuming end of a one-to-one ring. `~Copyable`, one consumer per ring (see
/// `RingProducer`). Owned by one thread; not thread-safe. The consumer cursor lives in
/// shared memory, so a consumer that dies and is restarted resumes where it stopped.
public struct RingConsumer<Message: BitwiseCopyable>: ~Copyable {
    @usableFromInline let ring: RingPointers
    @usableFromInline var head: UInt64
    @usableFromInline var tailCache: UInt64
    let region: SharedRegion
    public let name: String

    init(region: SharedRegion, ring: RingPointers, name: String) {
        self.region = region
        self.ring = ring
        self.name = name
        self.head = ring.head.load(ordering: .acquiring)
        self.tailCache = head
    }

    deinit {
        ring.consumerPid.store(0, ordering: .releasing)
    }

    @inlinable public var capacity: Int { Int(ring.capacity) }

    /// Records consumed so far (the consumer cursor).
    @inlinable public var consumed: UInt64 { head }

    /// Pops the oldest record, or nil when the ring is empty.
    @inlinable @inline(__always)
    public mutating func tryPop() -> Message? {
        guard hasRecords() else { return nil }
        let message = ring.slot(head).load(as: Message.self)
        head &+= 1
        ring.head.store(head, ordering: .releasing)  // pairs with RingProducer.hasSpace's acquiring load of head
        return message
    }

    /// Hands up to `limit` waiting records to `handler` in order, in place (zero-copy), with
    /// `endOfBatch` true on the last one, then releases them all with one cursor store.
    /// Returns how many were handled.
    @inlinable @inline(__always)
    public mutating func drain(limit: Int, _ handler: (UnsafePointer<Message>, _ endOfBatch: Bool) -> Void) -> Int {
        let count = available(limit: limit)
        guard count > 0 else { return 0 }
        for i in 0..<count {
            handler(UnsafePointer(ring.slot(head &+ UInt64(i)).assumingMemoryBound(to: Message.self)), i == count - 1)
        }
        advance(by: count)
        return count
    }

    /// How many records are waiting, at most `limit`, without consuming them. Re-reads the
    /// producer cursor (acquire) only when the cached one shows fewer than `limit`.
    @inlinable @inline(__always)
    public mutating func available(limit: Int = .max) -> Int {
        if tailCache &- head < UInt64(limit) {
            tailCache = ring.tail.load(ordering: .acquiring)  // pairs with RingProducer's releasing store of tail
        }
        return Int(min(tailCache &- head, UInt64(limit)))
    }

    /// The `offset`-th waiting record, in place. Valid until `advance` passes it. Traps past
    /// what `available` reported.
    @inlinable @inline(__always)
    public func peek(_ offset: Int) -> UnsafePointer<Message> {
        precondition(offset >= 0 && UInt64(offset) < tailCache &- head, "RingConsumer \(name): peek(\(offset)) past available")
        return UnsafePointer(ring.slot(head &+ UInt64(offset)).assumingMemoryBound(to: Message.self))
    }

    /// Releases `count` records to the producer (after they were handled or durably handed
    /// off). Traps past what `available` reported.
    @inlinable @inline(__always)
    public mutating func advance(by count: Int) {
        precondition(count >= 0 && UInt64(count) <= tailCache &- head, "RingConsumer \(name): advance(by: \(count)) past available")
        head &+= UInt64(count)
        ring.head.store(head, ordering: .releasing)  // pairs with RingProducer.hasSpace's acquiring load of head
    }

    @inlinable @inline(__always)
    mutating func hasRecords() -> Bool {
        if head != tailCache { return true }
        tailCache = ring.tail.load(ordering: .acquiring)  // pairs with RingProducer's releasing store of tail
        return head != tailCache
    }
}
