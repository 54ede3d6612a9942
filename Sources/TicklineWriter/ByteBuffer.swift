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
    @usableFromInline var length: Int = 0

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

    /// Decimal digits of `value` (no sign handling for UInt64).
    @inlinable
    public func append(unsigned value: UInt64) {
        reserve(20)
        if value == 0 {
            base[length] = 48
            length += 1
            return
        }
        var digits = 0
        var v = value
        while v > 0 { digits += 1; v /= 10 }
        v = value
        var i = length + digits - 1
        while v > 0 {
            base[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10)
            v /= 10
            i -= 1
        }
        length += digits
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
        var v = value
        while v >= 10 { n += 1; v /= 10 }
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
