#if canImport(Glibc)
import Glibc
#endif

/// Makes point timestamps unique per series, deterministically: a point keeps its event's
/// receive time unless an earlier point of the same series (measurement + tag set) already
/// has that time or a later one, in which case it gets that one + 1 ns. So two trades
/// received in the same ns are two points, never one overwriting the other, and the same
/// records encoded again (a replay after a crash) get the same timestamps, as long as the
/// table holds the state it had at the ring cursor (see `checkpoint`/`restore`).
///
/// An open-addressing table (series key → last timestamp given), preallocated. Entries
/// older than `horizonNs` behind the newest receive time seen are forgotten when the table
/// fills past 3/4: a record arriving more than that late could collide (counted nowhere,
/// documented). Changes made while encoding a batch can be rolled back when the batch is
/// not released (`rollback`), so re-encoding it gives the same timestamps.
/// Owned by one ring's drain (the writer thread); not thread-safe.
public final class SeriesClock {
    public let capacity: Int
    public let horizonNs: Int64
    let keys: UnsafeMutablePointer<UInt64>
    let stamps: UnsafeMutablePointer<Int64>
    let mask: Int
    public private(set) var count = 0
    /// The newest raw receive time seen.
    public private(set) var newestRawNs: Int64 = 0
    /// Points whose timestamp was moved by 1+ ns to stay unique.
    public private(set) var bumped: UInt64 = 0
    /// Records stamped with their raw time because the table was full of live series.
    public private(set) var tableFull: UInt64 = 0

    // Undo log of the batches stamped but not yet released: at most two, the one the sinks
    // are writing and the one encoded behind it. Entries are (slot, old key, old stamp).
    let undoSlots: UnsafeMutablePointer<Int>
    let undoKeys: UnsafeMutablePointer<UInt64>
    let undoStamps: UnsafeMutablePointer<Int64>
    let undoCapacity: Int
    var undoCount = 0
    var undoOverflow = false
    /// Open batches (0...2); where the second one's undo entries start; the table's
    /// counters when each opened.
    public private(set) var openBatches = 0
    var secondBatchUndoStart = 0
    var opened: (newest: Int64, bumped: UInt64, count: Int) = (0, 0, 0)
    var secondOpened: (newest: Int64, bumped: UInt64, count: Int) = (0, 0, 0)

    /// - Parameters:
    ///   - capacity: table slots (rounded up to a power of two); holds 3/4 as many live series.
    ///   - batchCapacity: most records one batch stamps (the undo log holds two batches).
    ///   - horizonNs: how long a series' last timestamp is remembered past the newest time seen.
    public init(capacity: Int = 1 << 16, batchCapacity: Int, horizonNs: Int64 = 10_000_000_000) {
        var c = 16
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.mask = c - 1
        self.horizonNs = horizonNs
        keys = .allocate(capacity: c)
        keys.initialize(repeating: 0, count: c)
        stamps = .allocate(capacity: c)
        stamps.initialize(repeating: 0, count: c)
        undoCapacity = 2 * max(batchCapacity, 1)
        undoSlots = .allocate(capacity: undoCapacity)
        undoKeys = .allocate(capacity: undoCapacity)
        undoStamps = .allocate(capacity: undoCapacity)
    }

    deinit {
        keys.deallocate()
        stamps.deallocate()
        undoSlots.deallocate()
        undoKeys.deallocate()
        undoStamps.deallocate()
    }

    @inlinable @inline(__always)
    static func hash(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20)
    }

    /// The unique timestamp for the next point of `series` received at `rawNs`.
    /// `series` must be non-zero (encoders set a high tag bit).
    public func stamp(series: UInt64, rawNs: Int64) -> Int64 {
        precondition(series != 0, "SeriesClock: series key 0 is reserved")
        if rawNs > newestRawNs { newestRawNs = rawNs }
        var i = Self.hash(series) & mask
        while true {
            let k = keys[i]
            if k == series {
                let last = stamps[i]
                let t = rawNs > last ? rawNs : last &+ 1
                if t != rawNs { bumped &+= 1 }
                record(slot: i, key: k, stamp: last)
                stamps[i] = t
                return t
            }
            if k == 0 {
                if count >= capacity / 4 * 3 {
                    tableFull &+= 1
                    return rawNs
                }
                record(slot: i, key: 0, stamp: 0)
                keys[i] = series
                stamps[i] = rawNs
                count += 1
                return rawNs
            }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    func record(slot: Int, key: UInt64, stamp: Int64) {
        guard undoCount < undoCapacity else { undoOverflow = true; return }
        undoSlots[undoCount] = slot
        undoKeys[undoCount] = key
        undoStamps[undoCount] = stamp
        undoCount += 1
    }

    /// Opens a batch. At most two may be open: `commitBatch` releases the older one,
    /// `rollback` undoes both.
    public func beginBatch() {
        precondition(openBatches < 2, "SeriesClock: a third open batch")
        let now = (newestRawNs, bumped, count)
        if openBatches == 0 {
            undoCount = 0
            undoOverflow = false
            opened = now
        } else {
            secondBatchUndoStart = undoCount
            secondOpened = now
        }
        openBatches += 1
    }

    /// Undoes every stamp of the open batches (they were not released and will be encoded
    /// again). Returns false when the undo log overflowed (more stamps than
    /// `batchCapacity` per batch), in which case the table is left as is.
    @discardableResult
    public func rollback() -> Bool {
        defer { openBatches = 0; undoCount = 0 }
        guard !undoOverflow else { return false }
        var j = undoCount - 1
        while j >= 0 {
            keys[undoSlots[j]] = undoKeys[j]
            stamps[undoSlots[j]] = undoStamps[j]
            j -= 1
        }
        (newestRawNs, bumped, count) = opened
        return true
    }

    /// Releases the older open batch; forgets old series when the table is filling and no
    /// batch is open (compaction moves slots, which the undo log refers to).
    public func commitBatch() {
        precondition(openBatches > 0, "SeriesClock.commitBatch without an open batch")
        if openBatches == 2 {
            let kept = undoCount - secondBatchUndoStart
            memmove(undoSlots, undoSlots + secondBatchUndoStart, kept * MemoryLayout<Int>.stride)
            memmove(undoKeys, undoKeys + secondBatchUndoStart, kept * MemoryLayout<UInt64>.stride)
            memmove(undoStamps, undoStamps + secondBatchUndoStart, kept * MemoryLayout<Int64>.stride)
            undoCount = kept
            opened = secondOpened
            openBatches = 1
        } else {
            undoCount = 0
            undoOverflow = false
            openBatches = 0
            if count >= capacity / 2 { compact() }
        }
    }

    /// Drops series whose last stamp is older than the horizon (rehashing the rest).
    func compact() {
        let floor = newestRawNs &- horizonNs
        var live: [(UInt64, Int64)] = []
        live.reserveCapacity(count)
        for i in 0..<capacity where keys[i] != 0 && stamps[i] >= floor { live.append((keys[i], stamps[i])) }
        keys.update(repeating: 0, count: capacity)
        count = 0
        for (k, s) in live { insertRaw(k, s) }
    }

    func insertRaw(_ key: UInt64, _ stamp: Int64) {
        var i = Self.hash(key) & mask
        while keys[i] != 0 && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == 0 { count += 1 }
        keys[i] = key
        stamps[i] = stamp
    }

    /// Appends the state a restarted writer needs at the current cursor: every series
    /// stamped within the horizon. Format (little-endian): newestRawNs, n, n × (key, stamp).
    public func checkpoint(into out: ByteBuffer) {
        let floor = newestRawNs &- horizonNs
        let countAt = out.count + 8
        withUnsafeBytes(of: newestRawNs.littleEndian) { out.append($0) }
        withUnsafeBytes(of: UInt64(0)) { out.append($0) }
        var n: UInt64 = 0
        for i in 0..<capacity where keys[i] != 0 && stamps[i] >= floor {
            guard out.remaining >= 16 else { break }
            withUnsafeBytes(of: keys[i].littleEndian) { out.append($0) }
            withUnsafeBytes(of: stamps[i].littleEndian) { out.append($0) }
            n += 1
        }
        UnsafeMutableRawPointer(out.base + countAt).storeBytes(of: n.littleEndian, as: UInt64.self)
    }

    /// Replaces the table with a checkpoint written by `checkpoint(into:)`. Returns false
    /// (table left empty) when the bytes are not one.
    @discardableResult
    public func restore(from raw: UnsafeRawBufferPointer) -> Bool {
        keys.update(repeating: 0, count: capacity)
        count = 0
        newestRawNs = 0
        guard raw.count >= 16 else { return false }
        let newest = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        let n = Int(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        guard n >= 0, n <= capacity / 4 * 3, raw.count >= 16 + n * 16 else { return false }
        for j in 0..<n {
            let k = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16 + j * 16, as: UInt64.self))
            let s = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 24 + j * 16, as: Int64.self))
            if k != 0 { insertRaw(k, s) }
        }
        newestRawNs = newest
        return true
    }
}
