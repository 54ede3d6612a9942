#if canImport(Glibc)
import Glibc
#endif

/// A preallocated byte buffer that encoders append to: line protocol for InfluxDB, RESP
/// commands for Redis. Allocated once (cold path) and reused for every batch; appending
/// never allocates and never grows. Callers check `remaining` against their worst case
/// before a record and end the batch early when it does not fit; an append past the
/// capacity traps (a bug in that check). Owned by one thread (the writer's drain thread);
/// not thread-safe.
public final class ByteBuffer {
    public let capacity: Int
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    // Unchecked: one thread owns the buffer, and the dynamic exclusivity check on every
    // append (swift_beginAccess) cost more than the append itself in the writer's profile.
    @exclusivity(unchecked) @usableFromInline var length: Int = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "ByteBuffer capacity \(capacity) must be positive")
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Bytes written so far.
    @inlinable public var count: Int { length }
    @inlinable public var remaining: Int { capacity - length }
    @inlinable public var isEmpty: Bool { length == 0 }

    @inlinable public func removeAll() { length = 0 }

    /// Forgets bytes past `count` (undoes a partly written record).
    @inlinable public func truncate(to count: Int) {
        precondition(count >= 0 && count <= length, "ByteBuffer.truncate(to: \(count)) outside 0...\(length)")
        length = count
    }

    /// The written bytes, valid until the next mutation.
    @inlinable public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

    /// The bytes in `range` of what was written.
    @inlinable public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "ByteBuffer.slice \(range) outside 0..<\(length)")
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    @inlinable @inline(__always)
    func reserve(_ n: Int) {
        precondition(length + n <= capacity, "ByteBuffer overflow: \(length) + \(n) > \(capacity)")
    }

    @inlinable @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        base[length] = byte
        length += 1
    }

    @inlinable
    public func append(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        reserve(n)
        (base + length).update(from: s.utf8Start, count: n)
        length += n
    }

    @inlinable
    public func append(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        reserve(raw.count)
        UnsafeMutableRawPointer(base + length).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        length += raw.count
    }

    /// Appends prebuilt bytes (keys computed at start-up).
    @inlinable
    public func append(_ array: [UInt8]) {
        array.withUnsafeBytes { append($0) }
    }

    /// Decimal digits of `value` (no sign handling for UInt64). Two digits per step from a
    /// pair table: the writer's profile was dominated by this (five 10-20 digit numbers a line).
    @inlinable
    public func append(unsigned value: UInt64) {
        let digits = Self.digitCount(value)
        reserve(digits)
        let pairs = Self.digitPairs.utf8Start
        var p = base + length + digits
        var v = value
        while v >= 100 {
            let r = Int(truncatingIfNeeded: v % 100) &* 2
            v /= 100
            p -= 2
            p[0] = pairs[r]
            p[1] = pairs[r + 1]
        }
        if v >= 10 {
            let r = Int(truncatingIfNeeded: v) &* 2
            p -= 2
            p[0] = pairs[r]
            p[1] = pairs[r + 1]
        } else {
            p -= 1
            p[0] = 48 &+ UInt8(truncatingIfNeeded: v)
        }
        length += digits
    }

    /// "00" "01" … "99": a literal, so reading it costs no lazy-initialisation check.
    @usableFromInline static var digitPairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    @inlinable
    public func append(signed value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            append(unsigned: value.magnitude)
        } else {
            append(unsigned: UInt64(value))
        }
    }

    /// A fixed-point value as plain decimal text: `units` × 10^-decimals, e.g. 6183763 at 2
    /// decimals → `61837.63`; 5 at 3 → `0.005`. Exact (no Double). `decimals` must be ≤ 18
    /// (encoders validate it first).
    @inlinable
    public func append(fixed units: Int64, decimals: UInt8) {
        if decimals == 0 {
            append(signed: units)
            return
        }
        if units < 0 { append(UInt8(ascii: "-")) }
        let magnitude = units.magnitude
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale &*= 10 }
        append(unsigned: magnitude / scale)
        append(UInt8(ascii: "."))
        var fraction = magnitude % scale
        reserve(Int(decimals))
        var i = length + Int(decimals) - 1
        for _ in 0..<decimals {
            base[i] = UInt8(truncatingIfNeeded: 48 &+ fraction % 10)
            fraction /= 10
            i -= 1
        }
        length += Int(decimals)
    }

    /// Number of decimal digits `append(unsigned:)` would write.
    @inlinable
    public static func digitCount(_ value: UInt64) -> Int {
        var n = 1
        var threshold: UInt64 = 10
        while n < 20 && value >= threshold {  // 10^19 is the last power that fits
            n += 1
            threshold = threshold &* 10
        }
        return n
    }

    /// Number of bytes `append(fixed:decimals:)` would write.
    @inlinable
    public static func fixedLength(_ units: Int64, decimals: UInt8) -> Int {
        let sign = units < 0 ? 1 : 0
        if decimals == 0 { return sign + digitCount(units.magnitude) }
        var scale: UInt64 = 1
        for _ in 0..<decimals { scale &*= 10 }
        return sign + digitCount(units.magnitude / scale) + 1 + Int(decimals)
    }

    /// The text written so far (tests and logs; allocates).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
