import TicklineCore

/// A preallocated list of price levels that a decoder fills and a book reads (one side of a
/// depth message). Capacity is fixed at init; `append` refuses beyond it.
/// Not thread-safe: owned by one agent thread.
// SAFETY: `storage` is allocated for `capacity` levels in init and freed in deinit; every
// access is checked against `count` ≤ `capacity`.
@safe
public final class LevelBuffer {
    public let capacity: Int
    // Mutable state is stored in internal properties behind public getters: a public stored
    // property of a class costs a dynamic exclusivity check on every access.
    var countStorage: Int = 0
    public var count: Int { countStorage }
    @usableFromInline let storage: UnsafeMutablePointer<BookLevel>

    /// Allocates room for `capacity` levels (cold path). Traps when capacity < 1.
    public init(capacity: Int) {
        precondition(capacity >= 1, "LevelBuffer capacity \(capacity) must be at least 1")
        self.capacity = capacity
        unsafe storage = UnsafeMutablePointer<BookLevel>.allocate(capacity: capacity)
        unsafe storage.initialize(repeating: BookLevel(), count: capacity)
    }

    deinit { unsafe storage.deallocate() }

    /// The level at `index`; traps outside 0..<count.
    @inline(__always)
    public subscript(index: Int) -> BookLevel {
        precondition(index >= 0 && index < countStorage, "level index \(index) outside 0..<\(countStorage)")
        return unsafe storage[index]
    }

    @inline(__always)
    public func removeAll() { countStorage = 0 }

    /// Appends a level; false when full.
    @inline(__always)
    public func append(_ level: BookLevel) -> Bool {
        guard countStorage < capacity else { return false }
        unsafe storage[countStorage] = level
        countStorage += 1
        return true
    }

    /// Copies of the levels (tests, cold path).
    public var levels: [BookLevel] { (0..<countStorage).map { self[$0] } }
}
