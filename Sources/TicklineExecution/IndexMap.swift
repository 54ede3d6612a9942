/// A fixed-capacity hash map from a 64-bit key to a slot index: open addressing with
/// linear probing and backward-shift deletion (no tombstones, so lookups never degrade).
/// Storage is allocated in `init` at twice the entry capacity (rounded to a power of two);
/// nothing allocates afterwards. Owned by one thread.
struct IndexMap: Sendable {
    private var keys: [UInt64]
    private var values: [Int32]
    private var used: [Bool]
    private let mask: Int
    let capacity: Int
    private(set) var count = 0

    /// Holds up to `capacity` entries. Traps if capacity < 1.
    init(capacity: Int) {
        precondition(capacity >= 1, "index map capacity \(capacity) must be ≥ 1")
        var size = 2
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        used = Array(repeating: false, count: size)
        mask = size - 1
        self.capacity = capacity
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        // Fibonacci hashing: client order ids and trade ids are sequential.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
    }

    func find(_ key: UInt64) -> Int32? {
        var i = home(key)
        while used[i] {
            if keys[i] == key { return values[i] }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Inserts or replaces. Returns false when full (and the key is new).
    @discardableResult
    mutating func insert(_ key: UInt64, _ value: Int32) -> Bool {
        var i = home(key)
        while used[i] {
            if keys[i] == key {
                values[i] = value
                return true
            }
            i = (i + 1) & mask
        }
        guard count < capacity else { return false }
        used[i] = true
        keys[i] = key
        values[i] = value
        count += 1
        return true
    }

    /// Removes `key` if present; returns whether it was.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Bool {
        var i = home(key)
        while used[i] {
            if keys[i] == key { break }
            i = (i + 1) & mask
        }
        guard used[i] else { return false }
        // Backward shift: pull later members of the probe run into the hole when their home
        // position does not lie cyclically in (hole, j].
        var hole = i
        var j = (i + 1) & mask
        while used[j] {
            let h = home(keys[j])
            let between = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !between {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        used[hole] = false
        values[hole] = -1
        count -= 1
        return true
    }
}

/// The most recent `capacity` (order, trade id) pairs seen, for deduplicating fills: a FIFO
/// ring of pairs indexed by a hash map; the oldest pair is forgotten when a new one needs
/// its place. Allocated in `init`; no allocation afterwards. Owned by one thread.
struct RecentTradeSet: Sendable {
    private var ring: [(order: UInt64, trade: UInt64)]
    private var index: IndexMap
    private var next = 0
    private var filled = 0

    init(capacity: Int) {
        ring = Array(repeating: (0, 0), count: capacity)
        index = IndexMap(capacity: capacity)
    }

    @inline(__always)
    static func key(_ order: UInt64, _ trade: UInt64) -> UInt64 {
        // A 64-bit mix of the pair; equal keys of different pairs are compared exactly below.
        var z = order &* 0xBF58_476D_1CE4_E5B9 ^ trade
        z = (z ^ (z >> 30)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func contains(order: UInt64, trade: UInt64) -> Bool {
        guard let slot = index.find(Self.key(order, trade)) else { return false }
        let e = ring[Int(slot)]
        return e.order == order && e.trade == trade
    }

    /// Remembers the pair (forgetting the oldest when full).
    mutating func insert(order: UInt64, trade: UInt64) {
        let key = Self.key(order, trade)
        if index.find(key) != nil { return }  // the same pair, or a 64-bit collision (then not remembered)
        if filled == ring.count {
            let old = ring[next]
            index.remove(Self.key(old.order, old.trade))
        } else {
            filled += 1
        }
        ring[next] = (order, trade)
        index.insert(key, Int32(next))
        next = next + 1 == ring.count ? 0 : next + 1
    }
}
