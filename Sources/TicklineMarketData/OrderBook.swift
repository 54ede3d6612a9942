import TicklineCore

/// One side of a book: price levels in fixed point, preallocated.
///
/// Levels are kept by a key that grows toward the best price (the price for bids, minus the
/// price for asks), in sorted chunks of `chunkSize` levels with a sorted directory of chunks
/// (a two-level unrolled list): an update costs a binary search in the directory and one in
/// a chunk, and moves at most one chunk's worth of levels, however deep the level (Binance
/// diffs touch levels thousands of ticks away from the top as often as the top). Chunks are
/// split when full and merged with a neighbour when sparse; when the pool runs out, the
/// chunks are repacked in place.
///
/// Every diff level is applied, as the venue's procedure says (a REST snapshot holds at most
/// 5,000 levels; deeper ones are learnt as diffs touch them). When the ladder is full, the
/// worst level is dropped and `floorKey` rises above it: from then on the range below the
/// floor is unknown to us, so diff levels there are ignored rather than shown as if nothing
/// lay between them and the rest. Everything the ladder holds is therefore exact, and a
/// dropped level can never be hidden behind a worse one at the top; if deletions thin the
/// known range below the published depth, `OrderBook` asks for a fresh snapshot
/// (`DiffOutcome.exhausted`). Capacity should be well above the published depth.
/// Not thread-safe: owned by the feed agent's thread.
// SAFETY: all storage is allocated in init for `chunkCapacity` chunks of `chunkSize` levels
// and freed in deinit; chunk ids come only from the free list, positions stay within a
// chunk's length ≤ chunkSize, and directory indices within 0..<directoryCount.
@safe
public final class PriceLadder {
    public let capacity: Int
    public let isBid: Bool
    public let chunkSize: Int
    // Mutable state is stored in internal properties behind public getters: a public stored
    // property of a class costs a dynamic exclusivity check on every access.
    var countStorage: Int = 0
    public var count: Int { countStorage }
    /// Levels with a key below this were dropped for capacity and are unknown (Int64.min: none dropped).
    var floorKeyStorage: Int64 = Int64.min
    public var floorKey: Int64 { floorKeyStorage }
    /// Levels dropped because the ladder was full.
    var truncatedLevelsStorage: UInt64 = 0
    public var truncatedLevels: UInt64 { truncatedLevelsStorage }
    /// Diff levels ignored because they lie in the dropped range below the floor.
    var ignoredBelowFloorStorage: UInt64 = 0
    public var ignoredBelowFloor: UInt64 { ignoredBelowFloorStorage }
    /// Times the chunks were repacked because the pool ran out.
    var repacksStorage: UInt64 = 0
    public var repacks: UInt64 { repacksStorage }

    private let chunkCapacity: Int
    private let keys: UnsafeMutablePointer<Int64>
    private let quantities: UnsafeMutablePointer<Int64>
    private let lengths: UnsafeMutablePointer<Int>
    /// Chunk ids from worst to best, and the first (worst) key of each.
    private let directory: UnsafeMutablePointer<Int>
    private let firstKeys: UnsafeMutablePointer<Int64>
    private var directoryCount = 0
    /// Directory position found by the last search (a hint, checked before use).
    private var lastChunkIndex = 0
    private let freeChunks: UnsafeMutablePointer<Int>
    private var freeCount = 0

    /// Allocates room for `capacity` levels (cold path). Traps when capacity < 1 or
    /// chunkSize is odd or below 4.
    public init(capacity: Int, isBid: Bool, chunkSize: Int = 64) {
        precondition(capacity >= 1, "PriceLadder capacity \(capacity) must be at least 1")
        precondition(chunkSize >= 4 && chunkSize % 2 == 0, "PriceLadder chunkSize \(chunkSize) must be even and at least 4")
        self.capacity = capacity
        self.isBid = isBid
        self.chunkSize = chunkSize
        // Repacking fills chunks to 3/4, so this many chunks always hold `capacity` levels with room to split.
        chunkCapacity = (capacity * 2) / chunkSize + 4
        unsafe keys = .allocate(capacity: chunkCapacity * chunkSize)
        unsafe quantities = .allocate(capacity: chunkCapacity * chunkSize)
        unsafe lengths = .allocate(capacity: chunkCapacity)
        unsafe directory = .allocate(capacity: chunkCapacity)
        unsafe firstKeys = .allocate(capacity: chunkCapacity)
        unsafe freeChunks = .allocate(capacity: chunkCapacity)
        removeAll()
    }

    deinit {
        unsafe keys.deallocate()
        unsafe quantities.deallocate()
        unsafe lengths.deallocate()
        unsafe directory.deallocate()
        unsafe firstKeys.deallocate()
        unsafe freeChunks.deallocate()
    }

    @inline(__always)
    func key(_ price: Price) -> Int64 { isBid ? price.units : 0 &- price.units }

    @inline(__always)
    private func price(_ key: Int64) -> Price { Price(units: isBid ? key : 0 &- key) }

    /// The level `depth` places from the best (0 = best); traps outside 0..<count.
    public func level(_ depth: Int) -> BookLevel {
        precondition(depth >= 0 && depth < countStorage, "depth \(depth) outside 0..<\(countStorage)")
        var remaining = depth
        var d = directoryCount - 1
        while true {
            let chunk = unsafe directory[d]
            let length = unsafe lengths[chunk]
            if remaining < length {
                let i = chunk * chunkSize + length - 1 - remaining
                return unsafe BookLevel(price: price(keys[i]), quantity: Quantity(units: quantities[i]))
            }
            remaining -= length
            d -= 1
        }
    }

    /// The best level, or nil when the side is empty.
    @inline(__always)
    public var best: BookLevel? {
        guard directoryCount > 0 else { return nil }
        let chunk = unsafe directory[directoryCount - 1]
        let i = unsafe chunk * chunkSize + lengths[chunk] - 1
        return unsafe BookLevel(price: price(keys[i]), quantity: Quantity(units: quantities[i]))
    }

    public func removeAll() {
        countStorage = 0
        floorKeyStorage = Int64.min
        directoryCount = 0
        freeCount = chunkCapacity
        for i in 0..<chunkCapacity { unsafe freeChunks[i] = chunkCapacity - 1 - i }
    }

    /// Directory position of the chunk that holds (or would hold) `k`: the last whose first
    /// key is <= k, or 0 (halving).
    @inline(__always)
    private func chunkIndex(for k: Int64) -> Int {
        // A diff lists its levels in price order, often close together: try the chunk of the
        // previous update before searching.
        let hint = lastChunkIndex
        if unsafe hint < directoryCount && firstKeys[hint] <= k && (hint + 1 == directoryCount || firstKeys[hint + 1] > k) {
            return hint
        }
        var base = 0
        var length = directoryCount
        let above = k &+ 1  // firstKey <= k as firstKey < k + 1 (LLVM may still emit a branch here)
        while length > 1 {
            let half = length &>> 1
            base &+= unsafe Self.ifLess(firstKeys[base &+ half], above, half)
            length = length &- half
        }
        lastChunkIndex = base
        return base
    }

    /// `value` when `a < b`, else 0, without a branch: the searches go where the data says,
    /// so a predicted branch per step would miss about half the time. The sign of the
    /// wrapping difference is used instead of a compare, which LLVM would turn back into a
    /// branch; keys are prices (|key| < 2^62), so the difference cannot wrap.
    @inline(__always)
    private static func ifLess(_ a: Int64, _ b: Int64, _ value: Int) -> Int {
        value & Int(truncatingIfNeeded: (a &- b) &>> 63)
    }

    /// First position in `chunk` whose key >= k (halving, branch-free).
    @inline(__always)
    private func position(of k: Int64, in chunk: Int) -> Int {
        let start = unsafe keys + chunk * chunkSize
        var length = unsafe lengths[chunk]
        if length == 0 { return 0 }
        var base = 0
        while length > 1 {
            let half = length &>> 1
            base &+= unsafe Self.ifLess(start[base &+ half], k, half)
            length = length &- half
        }
        return unsafe base &+ Self.ifLess(start[base], k, 1)
    }

    /// Sets a level to an absolute quantity (0 removes it). Hot path, no allocation.
    public func set(_ price: Price, _ quantity: Quantity) {
        let k = key(price)
        if k < floorKeyStorage {
            ignoredBelowFloorStorage &+= 1
            return
        }
        if directoryCount == 0 {
            guard quantity.units != 0 else { return }
            let chunk = takeChunk()
            unsafe keys[chunk * chunkSize] = k
            unsafe quantities[chunk * chunkSize] = quantity.units
            unsafe lengths[chunk] = 1
            insertDirectory(at: 0, chunk: chunk, firstKey: k)
            countStorage = 1
            return
        }
        var d = chunkIndex(for: k)
        var chunk = unsafe directory[d]
        var pos = position(of: k, in: chunk)
        let found = unsafe pos < lengths[chunk] && keys[chunk * chunkSize + pos] == k
        if quantity.units == 0 {
            if found { remove(directoryIndex: d, position: pos) }
            return
        }
        if found {
            unsafe quantities[chunk * chunkSize + pos] = quantity.units
            return
        }
        if countStorage == capacity {
            // Full: drop the worst level (the new one, when it is the worst) and raise the
            // floor above it, so the range below is unknown from now on.
            truncatedLevelsStorage &+= 1
            let worstChunk = unsafe directory[0]
            let worst = unsafe keys[worstChunk * chunkSize]
            if k < worst {
                floorKeyStorage = k &+ 1
                return
            }
            floorKeyStorage = worst &+ 1
            remove(directoryIndex: 0, position: 0)
            set(price, quantity)
            return
        }
        if unsafe lengths[chunk] == chunkSize {
            if freeCount == 0 {
                repack()
                set(price, quantity)
                return
            }
            // Split: the upper half moves to a new chunk right after this one.
            let half = chunkSize / 2
            let next = takeChunk()
            unsafe (keys + next * chunkSize).update(from: keys + chunk * chunkSize + half, count: chunkSize - half)
            unsafe (quantities + next * chunkSize).update(from: quantities + chunk * chunkSize + half, count: chunkSize - half)
            unsafe lengths[next] = chunkSize - half
            unsafe lengths[chunk] = half
            unsafe insertDirectory(at: d + 1, chunk: next, firstKey: keys[next * chunkSize])
            if pos > half {
                d += 1
                chunk = next
                pos -= half
            }
        }
        let base = chunk * chunkSize
        let length = unsafe lengths[chunk]
        unsafe (keys + base + pos + 1).update(from: keys + base + pos, count: length - pos)
        unsafe (quantities + base + pos + 1).update(from: quantities + base + pos, count: length - pos)
        unsafe keys[base + pos] = k
        unsafe quantities[base + pos] = quantity.units
        unsafe lengths[chunk] = length + 1
        if pos == 0 { unsafe firstKeys[d] = k }
        countStorage += 1
    }

    private func remove(directoryIndex d: Int, position pos: Int) {
        let chunk = unsafe directory[d]
        let base = chunk * chunkSize
        let length = unsafe lengths[chunk] - 1
        unsafe (keys + base + pos).update(from: keys + base + pos + 1, count: length - pos)
        unsafe (quantities + base + pos).update(from: quantities + base + pos + 1, count: length - pos)
        unsafe lengths[chunk] = length
        countStorage -= 1
        if length == 0 {
            removeDirectory(at: d)
            unsafe freeChunks[freeCount] = chunk
            freeCount += 1
            return
        }
        if pos == 0 { unsafe firstKeys[d] = keys[base] }
        // Merge with a neighbour while the two fit in half a chunk, so chunks stay dense.
        let half = chunkSize / 2
        if d + 1 < directoryCount, unsafe length + lengths[directory[d + 1]] <= half {
            merge(into: d)
        } else if d > 0, unsafe length + lengths[directory[d - 1]] <= half {
            merge(into: d - 1)
        }
    }

    /// Appends chunk d+1 to chunk d and frees it.
    private func merge(into d: Int) {
        let target = unsafe directory[d]
        let source = unsafe directory[d + 1]
        let length = unsafe lengths[target]
        let moved = unsafe lengths[source]
        unsafe (keys + target * chunkSize + length).update(from: keys + source * chunkSize, count: moved)
        unsafe (quantities + target * chunkSize + length).update(from: quantities + source * chunkSize, count: moved)
        unsafe lengths[target] = length + moved
        removeDirectory(at: d + 1)
        unsafe freeChunks[freeCount] = source
        freeCount += 1
    }

    @inline(__always)
    private func takeChunk() -> Int {
        precondition(freeCount > 0, "PriceLadder chunk pool empty (countStorage \(countStorage), capacity \(capacity))")
        freeCount -= 1
        return unsafe freeChunks[freeCount]
    }

    private func insertDirectory(at d: Int, chunk: Int, firstKey: Int64) {
        unsafe (directory + d + 1).update(from: directory + d, count: directoryCount - d)
        unsafe (firstKeys + d + 1).update(from: firstKeys + d, count: directoryCount - d)
        unsafe directory[d] = chunk
        unsafe firstKeys[d] = firstKey
        directoryCount += 1
    }

    private func removeDirectory(at d: Int) {
        unsafe (directory + d).update(from: directory + d + 1, count: directoryCount - d - 1)
        unsafe (firstKeys + d).update(from: firstKeys + d + 1, count: directoryCount - d - 1)
        directoryCount -= 1
    }

    /// Packs the levels into chunks filled to 3/4, in place, in directory order (writes never
    /// overtake reads), and frees the rest. Rare: only when a split finds the pool empty.
    private func repack() {
        repacksStorage &+= 1
        let fill = chunkSize * 3 / 4
        var writeDirectory = 0
        var writeChunk = unsafe directory[0]
        var writeLength = 0
        for d in 0..<directoryCount {
            let chunk = unsafe directory[d]
            let length = unsafe lengths[chunk]
            for i in 0..<length {
                if writeLength == fill {
                    unsafe lengths[writeChunk] = writeLength
                    writeDirectory += 1
                    writeChunk = unsafe directory[writeDirectory]
                    writeLength = 0
                }
                unsafe keys[writeChunk * chunkSize + writeLength] = keys[chunk * chunkSize + i]
                unsafe quantities[writeChunk * chunkSize + writeLength] = quantities[chunk * chunkSize + i]
                writeLength += 1
            }
        }
        unsafe lengths[writeChunk] = writeLength
        for d in (writeDirectory + 1)..<max(writeDirectory + 1, directoryCount) {
            unsafe freeChunks[freeCount] = directory[d]
            freeCount += 1
        }
        directoryCount = writeDirectory + 1
        for d in 0..<directoryCount { unsafe firstKeys[d] = keys[directory[d] * chunkSize] }
    }

    /// Replaces the side with snapshot levels (any order; zero quantities are skipped).
    public func load(_ levels: LevelBuffer) {
        removeAll()
        // A REST snapshot comes best first: fill chunks from the worst level up, 3/4 full.
        var sorted = true
        var previous = Int64.max
        for i in 0..<levels.count {
            let k = key(levels[i].price)
            if k >= previous { sorted = false; break }
            previous = k
        }
        guard sorted else {
            for i in 0..<levels.count { set(levels[i].price, levels[i].quantity) }
            return
        }
        let fill = chunkSize * 3 / 4
        var chunk = -1
        var bulk = true
        var i = levels.count - 1
        while i >= 0 {
            let level = levels[i]
            i -= 1
            if level.quantity.units == 0 { continue }
            if bulk && countStorage == capacity { bulk = false }
            if unsafe bulk && (chunk < 0 || lengths[chunk] == fill) {
                if freeCount == 0 {
                    bulk = false
                } else {
                    chunk = takeChunk()
                    unsafe lengths[chunk] = 0
                    insertDirectory(at: directoryCount, chunk: chunk, firstKey: key(level.price))
                }
            }
            guard bulk else {
                // Beyond capacity: `set` drops the worst held level and raises the floor.
                set(level.price, level.quantity)
                continue
            }
            let length = unsafe lengths[chunk]
            unsafe keys[chunk * chunkSize + length] = key(level.price)
            unsafe quantities[chunk * chunkSize + length] = level.quantity.units
            unsafe lengths[chunk] = length + 1
            countStorage += 1
        }
    }

    /// Capacity truncation left fewer known levels than `depth`.
    @inline(__always)
    public func isThinnerThan(_ depth: Int) -> Bool { floorKeyStorage != Int64.min && countStorage < depth }

    /// Checks the internal order (tests).
    func isConsistent() -> Bool {
        var total = 0
        var previous = Int64.min
        for d in 0..<directoryCount {
            let chunk = unsafe directory[d]
            let length = unsafe lengths[chunk]
            if unsafe length == 0 || firstKeys[d] != keys[chunk * chunkSize] { return false }
            for i in 0..<length {
                let k = unsafe keys[chunk * chunkSize + i]
                if k <= previous && !(d == 0 && i == 0 && previous == Int64.min) { return false }
                previous = k
            }
            total += length
        }
        return total == countStorage && directoryCount + freeCount == chunkCapacity
    }
}

/// How a venue chains depth diffs (update ids `U`…`u` of each diff after the REST snapshot).
public enum DepthContinuity: UInt8, Sendable {
    /// From the book's first diff: one carrying `pu` (every futures diff does, no spot diff
    /// does) means futures rules, one without means spot; the choice then holds for the
    /// book's lifetime, since a stream does not change venue.
    case detect = 0
    /// Spot: the first diff after the snapshot straddles `lastUpdateId + 1`; then `U == previous u + 1`.
    case spot = 1
    /// USD-M/COIN-M futures: the first diff has `U <= lastUpdateId <= u`; then `pu == previous u`.
    /// Ids skip between futures diffs, so when the snapshot ends exactly where a diff ended
    /// (the diff itself dropped or already applied), the next one starts past
    /// `lastUpdateId + 1`: it is accepted as first when `pu == lastUpdateId`, which is
    /// what spot's `U == lastUpdateId + 1` is to spot. A diff without `pu` cannot prove it
    /// continues the book: it is a gap (resync).
    case futures = 2
}

/// Whether the book can be trusted.
public enum BookSyncState: UInt8, Sendable {
    /// No snapshot yet, or a gap was found: diffs are buffered until `loadSnapshot`.
    /// The owner must fetch a fresh REST snapshot.
    case awaitingSnapshot = 1
    case synced = 2
}

/// What `applyDiff` did with a diff.
public enum DiffOutcome: UInt8, Sendable {
    /// Applied: the top of book may have changed; publish it.
    case applied = 1
    /// Held until the snapshot arrives.
    case buffered = 2
    /// Older than the book (`u` at or below the last applied id): dropped, as the spec says.
    case stale = 3
    /// It does not continue the book: the book is cleared, now awaits a fresh snapshot, and
    /// this diff is the first one buffered for it.
    case gap = 4
    /// Applied, but capacity truncation left a side with fewer known levels than are
    /// published: the book is cleared and awaits a fresh snapshot (see `PriceLadder`).
    case exhausted = 5
}

/// What `loadSnapshot` did.
public enum SnapshotOutcome: UInt8, Sendable {
    /// The book is synced; buffered diffs that continue it were applied.
    case synced = 1
    /// The snapshot is older than the buffered diffs (a diff right after it is missing):
    /// fetch another; the buffered diffs are kept.
    case tooOld = 2
    /// The buffered diffs themselves have a gap: the book awaits a newer snapshot and buffers afresh.
    case gapInBuffer = 3
}

/// Counters of one book.
public struct OrderBookCounters: Sendable, Equatable {
    public var appliedDiffs: UInt64 = 0
    public var bufferedDiffs: UInt64 = 0
    public var staleDiffs: UInt64 = 0
    /// Continuity breaks (each one needs a resync).
    public var gaps: UInt64 = 0
    public var snapshotsSynced: UInt64 = 0
    public var snapshotsTooOld: UInt64 = 0
    /// Capacity truncation thinned a side below the published depth (each one needs a resync).
    public var exhausted: UInt64 = 0
    /// The pending buffer was full and was emptied (the next snapshot then proves too old).
    public var pendingOverflows: UInt64 = 0
}

/// A local L2 book for one instrument, kept from a REST snapshot plus depth diffs as Binance
/// documents it, with continuity checked on every diff:
/// - before the snapshot, diffs are buffered (preallocated, bounded);
/// - on the snapshot, buffered diffs with `u <= lastUpdateId` are dropped, the first one
///   left must straddle `lastUpdateId + 1` (spot) or `lastUpdateId` (futures), and the
///   rest must chain;
/// - in steady state every diff must continue the previous one (`U == u + 1` spot,
///   `pu == u` futures); a break is counted, clears the book and returns to buffering.
/// Which rules apply is detected from the first diff unless forced (`DepthContinuity`).
///
/// Depth: `capacityPerSide` levels are kept per side (more than published), see
/// `PriceLadder` for what happens beyond. Not thread-safe: owned by the feed agent's thread.
// SAFETY: the pending buffers are allocated in init for their capacities and freed in
// deinit; every write checks the capacity.
@safe
public final class OrderBook {
    public let instrument: InstrumentId
    public let priceDecimals: UInt8
    public let quantityDecimals: UInt8
    /// The continuity rules in force: the forced ones, or `.detect` until the first diff decides.
    var rulesStorage: DepthContinuity
    public var rules: DepthContinuity { rulesStorage }
    public let bids: PriceLadder
    public let asks: PriceLadder
    // Mutable state is stored in internal properties behind public getters: a public stored
    // property of a class costs a dynamic exclusivity check on every access.
    var stateStorage: BookSyncState = BookSyncState.awaitingSnapshot
    public var state: BookSyncState { stateStorage }
    /// The last applied update id (`lastUpdateId` of the snapshot, then each diff's `u`).
    var lastUpdateIdStorage: UInt64 = 0
    public var lastUpdateId: UInt64 { lastUpdateIdStorage }
    var countersStorage: OrderBookCounters = OrderBookCounters()
    public var counters: OrderBookCounters { countersStorage }
    /// The next diff is the first after the snapshot (straddle rule instead of chaining).
    private var expectingFirstDiff = true

    private struct PendingDiff {
        var first: UInt64, final: UInt64, previous: UInt64, hasPrevious: Bool
        var bidStart: Int, bidCount: Int, askStart: Int, askCount: Int
    }
    private let pendingCapacity: Int
    private let pendingLevelCapacity: Int
    private let pending: UnsafeMutablePointer<PendingDiff>
    private let pendingLevels: UnsafeMutablePointer<BookLevel>
    private var pendingCount = 0
    private var pendingLevelCount = 0

    /// - Parameters:
    ///   - continuity: `.detect` (from the first diff), or the rules to force.
    ///   - capacityPerSide: levels kept per side (published depth is `DepthSnapshot.depth`).
    ///   - pendingDiffs, pendingLevels: room for diffs buffered while awaiting a snapshot.
    public init(instrument: InstrumentId, priceDecimals: UInt8, quantityDecimals: UInt8,
                continuity: DepthContinuity = .detect, capacityPerSide: Int = 1_000,
                pendingDiffs: Int = 64, pendingLevels: Int = 4_096) {
        precondition(capacityPerSide >= DepthSnapshot.depth,
                     "capacityPerSide \(capacityPerSide) is below the published depth \(DepthSnapshot.depth)")
        precondition(pendingDiffs >= 1 && pendingLevels >= 1, "pending capacities must be at least 1")
        self.instrument = instrument
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        rulesStorage = continuity
        bids = PriceLadder(capacity: capacityPerSide, isBid: true)
        asks = PriceLadder(capacity: capacityPerSide, isBid: false)
        pendingCapacity = pendingDiffs
        pendingLevelCapacity = pendingLevels
        unsafe pending = .allocate(capacity: pendingDiffs)
        unsafe self.pendingLevels = .allocate(capacity: pendingLevels)
    }

    deinit {
        unsafe pending.deallocate()
        unsafe pendingLevels.deallocate()
    }

    /// Diffs held for the next snapshot.
    public var bufferedDiffCount: Int { pendingCount }

    /// Applies (or buffers) one diff. Hot path, no allocation.
    /// - Parameters: `first`/`final` = `U`/`u`; `previous` = `pu` when `hasPrevious`.
    public func applyDiff(first: UInt64, final: UInt64, previous: UInt64, hasPrevious: Bool,
                          bids diffBids: LevelBuffer, asks diffAsks: LevelBuffer) -> DiffOutcome {
        let diff = PendingDiff(first: first, final: final, previous: previous, hasPrevious: hasPrevious,
                               bidStart: 0, bidCount: diffBids.count, askStart: 0, askCount: diffAsks.count)
        // Every diff passes here before it is buffered or applied, so the rules are known
        // before any continuity check (`loadSnapshot` sees only diffs that came this way).
        if rulesStorage == .detect { rulesStorage = hasPrevious ? .futures : .spot }
        if stateStorage == .awaitingSnapshot {
            unsafe buffer(diff, bids: diffBids.storage, asks: diffAsks.storage)
            return .buffered
        }
        let outcome = unsafe applySynced(diff, bids: diffBids.storage, asks: diffAsks.storage)
        if outcome == .gap {
            resetToAwaiting()
            unsafe buffer(diff, bids: diffBids.storage, asks: diffAsks.storage)
        } else if outcome == .applied
            && (bids.isThinnerThan(DepthSnapshot.depth) || asks.isThinnerThan(DepthSnapshot.depth)) {
            countersStorage.exhausted &+= 1
            resetToAwaiting()
            return .exhausted
        }
        return outcome
    }

    /// Continuity check and level updates of a synced book; on a gap only counts it.
    @inline(__always)
    private func applySynced(_ diff: PendingDiff, bids diffBids: UnsafePointer<BookLevel>,
                             asks diffAsks: UnsafePointer<BookLevel>) -> DiffOutcome {
        let last = lastUpdateIdStorage
        let continues: Bool
        if rulesStorage == .futures {
            if expectingFirstDiff ? diff.final < last : diff.final <= last {
                countersStorage.staleDiffs &+= 1
                return .stale
            }
            continues = diff.hasPrevious && (diff.previous == last || (expectingFirstDiff && diff.first <= last))
        } else {
            if diff.final <= last {
                countersStorage.staleDiffs &+= 1
                return .stale
            }
            continues = expectingFirstDiff ? diff.first <= last &+ 1 : diff.first == last &+ 1
        }
        guard continues else {
            countersStorage.gaps &+= 1
            return .gap
        }
        for i in 0..<diff.bidCount {
            let level = unsafe diffBids[i]
            bids.set(level.price, level.quantity)
        }
        for i in 0..<diff.askCount {
            let level = unsafe diffAsks[i]
            asks.set(level.price, level.quantity)
        }
        lastUpdateIdStorage = diff.final
        expectingFirstDiff = false
        countersStorage.appliedDiffs &+= 1
        return .applied
    }

    /// Applies a decoded `depthUpdate` with the decoder's level buffers.
    @inline(__always)
    public func apply(_ message: BinanceMessage, decoder: BinanceDecoder) -> DiffOutcome {
        applyDiff(first: message.firstUpdateId, final: message.updateId, previous: message.previousFinalUpdateId,
                  hasPrevious: message.hasPreviousFinalUpdateId, bids: decoder.bids, asks: decoder.asks)
    }

    /// Loads a REST snapshot and replays the buffered diffs that follow it. Cold path
    /// (one per (re)sync), no allocation.
    public func loadSnapshot(lastUpdateId snapshotId: UInt64, bids snapshotBids: LevelBuffer,
                             asks snapshotAsks: LevelBuffer) -> SnapshotOutcome {
        // The first buffered diff the snapshot does not already contain must straddle it.
        let futures = rulesStorage == .futures
        for i in 0..<pendingCount {
            let diff = unsafe pending[i]
            let dropped = futures ? diff.final < snapshotId : diff.final <= snapshotId
            if dropped { continue }
            let straddles = futures ? diff.first <= snapshotId || (diff.hasPrevious && diff.previous == snapshotId)
                                    : diff.first <= snapshotId &+ 1
            if !straddles {
                countersStorage.snapshotsTooOld &+= 1
                return .tooOld
            }
            break
        }
        bids.load(snapshotBids)
        asks.load(snapshotAsks)
        lastUpdateIdStorage = snapshotId
        stateStorage = .synced
        expectingFirstDiff = true
        countersStorage.snapshotsSynced &+= 1
        let held = pendingCount
        for i in 0..<held {
            let diff = unsafe pending[i]
            let outcome = unsafe applySynced(diff, bids: pendingLevels + diff.bidStart, asks: pendingLevels + diff.askStart)
            if outcome == .gap {
                // The buffered diffs do not chain: start over with the next live diffs.
                resetToAwaiting()
                return .gapInBuffer
            }
        }
        pendingCount = 0
        pendingLevelCount = 0
        return .synced
    }

    /// Clears the book and waits for a snapshot (after a reconnect, say).
    public func invalidate() { resetToAwaiting() }

    private func resetToAwaiting() {
        stateStorage = .awaitingSnapshot
        bids.removeAll()
        asks.removeAll()
        pendingCount = 0
        pendingLevelCount = 0
        expectingFirstDiff = true
    }

    private func buffer(_ diff: PendingDiff, bids diffBids: UnsafePointer<BookLevel>,
                        asks diffAsks: UnsafePointer<BookLevel>) {
        let levels = diff.bidCount + diff.askCount
        if pendingCount == pendingCapacity || pendingLevelCount + levels > pendingLevelCapacity {
            // Emptying the buffer loses diffs; the next snapshot's straddle check sees it.
            countersStorage.pendingOverflows &+= 1
            pendingCount = 0
            pendingLevelCount = 0
            guard levels <= pendingLevelCapacity else { return }
        }
        var held = diff
        held.bidStart = pendingLevelCount
        unsafe (pendingLevels + held.bidStart).update(from: diffBids, count: diff.bidCount)
        held.askStart = held.bidStart + diff.bidCount
        unsafe (pendingLevels + held.askStart).update(from: diffAsks, count: diff.askCount)
        pendingLevelCount = held.askStart + diff.askCount
        unsafe pending[pendingCount] = held
        pendingCount += 1
        countersStorage.bufferedDiffs &+= 1
    }

    /// The top of book as a `bookTop` market event (`venueSequence` = last update id); nil
    /// unless synced.
    @inline(__always)
    public func topEvent(sequence: UInt64, venueTimeNs: WallNanos, receiveWallNs: WallNanos,
                         timestamps: TimestampChain) -> MarketEvent? {
        guard stateStorage == .synced else { return nil }
        let bid = bids.best ?? BookLevel()
        let ask = asks.best ?? BookLevel()
        return MarketEvent(sequence: sequence, instrument: instrument, kind: .bookTop, priceDecimals: priceDecimals,
                           quantityDecimals: quantityDecimals, bidPrice: bid.price, bidQuantity: bid.quantity,
                           askPrice: ask.price, askQuantity: ask.quantity, venueSequence: lastUpdateIdStorage,
                           venueTimeNs: venueTimeNs, receiveWallNs: receiveWallNs, timestamps: timestamps)
    }

    /// Fills the top `DepthSnapshot.depth` levels per side; false (snapshot untouched) unless synced.
    @inline(__always)
    public func fill(_ snapshot: inout DepthSnapshot, sequence: UInt64, venueTimeNs: WallNanos, receiveWallNs: WallNanos,
                     socketReadNs: MonotonicNanos, decodedNs: MonotonicNanos) -> Bool {
        guard stateStorage == .synced else { return false }
        snapshot.sequence = sequence
        snapshot.instrument = instrument
        snapshot.priceDecimals = priceDecimals
        snapshot.quantityDecimals = quantityDecimals
        snapshot.updateId = lastUpdateIdStorage
        snapshot.receiveWallNs = receiveWallNs
        snapshot.venueTimeNs = venueTimeNs
        snapshot.socketReadNs = socketReadNs
        snapshot.decodedNs = decodedNs
        let bidLevels = min(bids.count, DepthSnapshot.depth)
        let askLevels = min(asks.count, DepthSnapshot.depth)
        for i in 0..<DepthSnapshot.depth {
            snapshot.bids[i] = i < bidLevels ? bids.level(i) : BookLevel()
            snapshot.asks[i] = i < askLevels ? asks.level(i) : BookLevel()
        }
        snapshot.bidLevels = UInt8(bidLevels)
        snapshot.askLevels = UInt8(askLevels)
        return true
    }
}
