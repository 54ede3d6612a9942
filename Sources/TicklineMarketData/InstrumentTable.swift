import TicklineCore

/// One instrument as the feed knows it: venue symbol, the id events carry, and the decimal
/// scales its prices and quantities are parsed at.
public struct InstrumentSpec: Sendable, Equatable {
    public var symbol: String
    public var id: InstrumentId
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8

    public init(symbol: String, id: InstrumentId, priceDecimals: UInt8, quantityDecimals: UInt8) {
        self.symbol = symbol
        self.id = id
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
    }
}

/// What a lookup returns: the entry's position in the table (books and per-symbol state are
/// indexed by it), the instrument id and its scales.
public struct InstrumentEntry: Sendable, BitwiseCopyable, Equatable {
    /// Position in the table, 0..<count: index per-symbol arrays with it.
    public var index: Int32
    public var id: InstrumentId
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
}

/// Errors building a table (cold path).
public enum InstrumentTableError: Error, Equatable {
    case duplicateSymbol(String)
    case emptySymbol
    case symbolTooLong(String)
    case decimalsTooLarge(String)
}

/// Venue symbol bytes → instrument, without allocating on lookup: open addressing (linear
/// probing) over storage allocated once when the table is built.
///
/// Matching ignores ASCII case, so the upper-case `s` field ("BTCUSDT") and the lower-case
/// stream name ("btcusdt@trade") find the same entry; other bytes (non-ASCII UTF-8) match
/// exactly. Two venue symbols that differ only in ASCII case are refused at build time.
///
/// Immutable once built and so safe to read from any thread.
///
/// Run-time subscriptions never rebuild it. A feed's table is the whole universe it may ever
/// subscribe (the engine's `risk.instruments`, id = position), built once at setup with one
/// preallocated book per entry; which entries are subscribed is per-entry state the feed
/// agent keeps beside it (`FeedAgent`: the connection each entry is on, -1 = none) and
/// changes only on its own thread when it drains a command from the `control.feed` ring.
/// So "rebuilt off the hot path and swapped in safely" reduces to: the only thing built is
/// this table, once, before the feed starts; a subscription change is a store into a
/// preallocated array by the one thread that also reads it, so there is no pointer to hand
/// over, nothing to free on the hot path, and no reader on another thread that could see a
/// half-made change. The cost is one book of memory per universe entry whether subscribed
/// or not, and a symbol outside the universe cannot be added without a restart (it is
/// refused with its reason).
public final class InstrumentTable: Sendable {
    public static let maxSymbolBytes = 64

    /// Entries in build order.
    public let specs: [InstrumentSpec]
    private let entries: [InstrumentEntry]
    /// Symbol bytes of all entries, back to back; entry i spans keyStart[i]..<keyStart[i+1].
    private let keyBytes: [UInt8]
    /// `keyBytes` with ASCII letters upper-cased, for comparisons.
    private let foldedKeyBytes: [UInt8]
    /// Keys of at most 8 bytes, folded, as little-endian words (0 for longer keys).
    private let foldedKeyWords: [UInt64]
    private let keyStart: [Int32]
    /// Slot → entry index, -1 = empty. Power-of-two count, at most half full.
    private let slots: [Int32]
    private let slotMask: Int

    public var count: Int { specs.count }

    /// Builds the table (cold path: allocates).
    public init(_ specs: [InstrumentSpec]) throws(InstrumentTableError) {
        var capacity = 4
        while capacity < specs.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        var keyBytes: [UInt8] = []
        var keyStart: [Int32] = [0]
        var entries: [InstrumentEntry] = []
        for (i, spec) in specs.enumerated() {
            let bytes = Array(spec.symbol.utf8)
            if bytes.isEmpty { throw .emptySymbol }
            if bytes.count > Self.maxSymbolBytes { throw .symbolTooLong(spec.symbol) }
            if spec.priceDecimals > DecimalScale.maxDecimals || spec.quantityDecimals > DecimalScale.maxDecimals {
                throw .decimalsTooLarge(spec.symbol)
            }
            var slot = Int(Self.hash(bytes)) & (capacity - 1)
            while slots[slot] >= 0 {
                let other = Int(slots[slot])
                let otherBytes = keyBytes[Int(keyStart[other])..<Int(keyStart[other + 1])]
                if Self.equalFolded(Array(otherBytes), bytes) { throw .duplicateSymbol(spec.symbol) }
                slot = (slot + 1) & (capacity - 1)
            }
            slots[slot] = Int32(i)
            keyBytes.append(contentsOf: bytes)
            keyStart.append(Int32(keyBytes.count))
            entries.append(InstrumentEntry(index: Int32(i), id: spec.id, priceDecimals: spec.priceDecimals,
                                           quantityDecimals: spec.quantityDecimals))
        }
        self.specs = specs
        self.entries = entries
        self.keyBytes = keyBytes
        self.foldedKeyBytes = keyBytes.map { Self.fold($0) }
        self.foldedKeyWords = (0..<specs.count).map { i in
            let from = Int(keyStart[i]), to = Int(keyStart[i + 1])
            guard to - from <= 8 else { return 0 }
            var word: UInt64 = 0
            for j in (from..<to).reversed() { word = word << 8 | UInt64(Self.fold(keyBytes[j])) }
            return word
        }
        self.keyStart = keyStart
        self.slots = slots
        self.slotMask = capacity - 1
    }

    /// The entry at a table position.
    public func entry(at index: Int) -> InstrumentEntry { entries[index] }

    /// Looks a symbol up (cold path convenience).
    public func entry(forSymbol symbol: String) -> InstrumentEntry? {
        let bytes = Array(symbol.utf8)
        return unsafe bytes.withUnsafeBytes { unsafe lookup($0) }
    }

    /// Looks symbol bytes up without allocating. Hot path.
    @inline(__always)
    public func lookup(_ bytes: UnsafeRawBufferPointer) -> InstrumentEntry? {
        let index = unsafe lookupIndex(bytes.baseAddress, bytes.count)
        return index < 0 ? nil : entries[index]
    }

    /// Entry index for `count` bytes at `start`, or -1.
    @usableFromInline
    func lookupIndex(_ start: UnsafeRawPointer?, _ count: Int) -> Int {
        guard let start = unsafe start, count > 0, count <= Self.maxSymbolBytes else { return -1 }
        var h: UInt32 = 2_166_136_261
        for i in 0..<count {
            h = (h ^ UInt32(Self.fold(unsafe start.load(fromByteOffset: i, as: UInt8.self)))) &* 16_777_619
        }
        var slot = Int(h) & slotMask
        while true {
            let candidate = Int(slots[slot])
            if candidate < 0 { return -1 }
            let from = Int(keyStart[candidate])
            if Int(keyStart[candidate + 1]) - from == count {
                var same = true
                for i in 0..<count where Self.fold(unsafe start.load(fromByteOffset: i, as: UInt8.self)) != Self.fold(keyBytes[from + i]) {
                    same = false
                    break
                }
                if same { return candidate }
            }
            slot = (slot + 1) & slotMask
        }
    }

    /// Whether `count` bytes at `start` name entry `index` (no hashing: the stream name
    /// already chose the entry and `s` only has to agree).
    @usableFromInline
    func matches(_ index: Int, _ start: UnsafeRawPointer?, _ count: Int) -> Bool {
        guard let start = unsafe start else { return false }
        let from = Int(keyStart[index])
        guard Int(keyStart[index + 1]) - from == count else { return false }
        return unsafe foldedKeyBytes.withUnsafeBufferPointer { folded in
            for i in 0..<count where unsafe Self.fold(start.load(fromByteOffset: i, as: UInt8.self)) != folded[from + i] {
                return false
            }
            return true
        }
    }

    /// Whether entry `index` is the `count` (1...8) bytes held in the low bytes of `word`
    /// (little-endian, as loaded from the message; the bytes above `count` are ignored).
    @inline(__always)
    func matches(_ index: Int, word: UInt64, count: Int) -> Bool {
        guard count >= 1 && count <= 8 && Int(keyStart[index + 1] - keyStart[index]) == count else { return false }
        let kept = count == 8 ? word : word & ((1 << UInt64(8 * count)) &- 1)
        return Self.foldWord(kept) == foldedKeyWords[index]
    }

    /// Upper-cases the ASCII letters of eight bytes at once.
    @inline(__always)
    static func foldWord(_ w: UInt64) -> UInt64 {
        let low7 = w & 0x7F7F_7F7F_7F7F_7F7F
        let atLeastA = low7 &+ 0x1F1F_1F1F_1F1F_1F1F  // high bit: byte >= 'a'
        let aboveZ = low7 &+ 0x0505_0505_0505_0505    // high bit: byte > 'z'
        let lower = atLeastA & ~aboveZ & ~w & 0x8080_8080_8080_8080
        return w ^ (lower >> 2)
    }

    @inline(__always)
    static func fold(_ b: UInt8) -> UInt8 { b &- 97 < 26 ? b &- 32 : b }

    static func hash(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(fold(b))) &* 16_777_619 }
        return h
    }

    static func equalFolded(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { fold($0) == fold($1) }
    }
}
