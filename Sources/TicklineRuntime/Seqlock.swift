import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A value one thread publishes and any thread copies consistently, without locks or
/// allocation: a sequence lock. The risk stage's view (`EngineView`) and the feed's counters
/// are published this way for the control plane.
///
/// Protocol (Boehm, "Can seqlocks get along with programming language memory models?",
/// MSPC 2012; the Linux kernel's `seqcount_t`):
/// - writer: `sequence` ← odd (relaxed), release fence, copy the data in, `sequence` ← even
///   (release). The fence keeps the data stores after the odd store; the release store
///   keeps them before the even one.
/// - reader: s1 ← `sequence` (acquire; retry while odd), copy the data out, acquire fence,
///   s2 ← `sequence` (relaxed); the copy is whole iff s1 == s2. The acquire load pairs with
///   the writer's even (release) store, so a copy starting at s1 sees that publish's data;
///   the acquire fence pairs with the writer's release fence, so a copy that saw any byte
///   of a later publish reads s2 ≥ s1 + 1 and retries.
/// The data itself is copied with plain loads/stores (a formal data race that the sequence
/// check discards, as in every seqlock; ThreadSanitizer would report it).
///
/// Allocated once in `init`; `publish` does not allocate. Thread-safe as described: one
/// writer thread, any reader threads.
public final class Seqlock<Value: BitwiseCopyable>: @unchecked Sendable {
    let sequence = Atomic<UInt64>(0)
    let shared: UnsafeMutablePointer<Value>
    /// The writer's private copy, built up (possibly across several duty cycles) and then
    /// published. Only the writer thread may touch it.
    public let staging: UnsafeMutablePointer<Value>

    public init(_ initial: Value) {
        shared = .allocate(capacity: 1)
        shared.initialize(to: initial)
        staging = .allocate(capacity: 1)
        staging.initialize(to: initial)
    }

    deinit {
        shared.deinitialize(count: 1)
        shared.deallocate()
        staging.deinitialize(count: 1)
        staging.deallocate()
    }

    /// Writer side: edits the staging copy in place (no copy of the whole value).
    @inline(__always)
    public func withStaging<R>(_ body: (inout Value) -> R) -> R { body(&staging.pointee) }

    /// Writer side only: publishes the staging copy. One memcpy of the value between the odd
    /// and the even sequence numbers.
    public func publish() {
        let s = sequence.load(ordering: .relaxed)  // only this thread stores it
        sequence.store(s &+ 1, ordering: .relaxed)  // odd: readers retry
        atomicMemoryFence(ordering: .releasing)  // pairs with the reader's acquire fence
        shared.update(from: staging, count: 1)
        sequence.store(s &+ 2, ordering: .releasing)  // pairs with the reader's acquiring load
    }

    /// Writer side: `body` fills the staging copy, then it is published (tests and tools).
    public func publish(_ body: (inout Value) -> Void) {
        body(&staging.pointee)
        publish()
    }

    /// A consistent copy of the last publish, or nil when `maxAttempts` copies all overlapped
    /// a publish (the writer publishes at most every few ms, so a retry nearly always wins).
    public func read(maxAttempts: Int = 1_000) -> Value? {
        for attempt in 0..<maxAttempts {
            let s1 = sequence.load(ordering: .acquiring)  // pairs with publish's releasing store
            if s1 & 1 == 0 {
                let copy = shared.pointee
                atomicMemoryFence(ordering: .acquiring)  // pairs with publish's release fence
                if sequence.load(ordering: .relaxed) == s1 { return copy }
            }
            if attempt & 15 == 15 { sched_yield() }
        }
        return nil
    }

    /// Publishes so far (sequence / 2).
    public var publishes: UInt64 { sequence.load(ordering: .acquiring) / 2 }
}

