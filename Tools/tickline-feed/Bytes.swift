#if canImport(Glibc)
import Glibc
#endif

/// Appends JSON pieces into a fixed buffer owned by the caller, so building a synthetic
/// message allocates nothing. Not thread-safe: one writer per buffer.
struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0

    init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(count + bytes.count <= capacity, "ByteWriter overflow: \(count) + \(bytes.count) > \(capacity)")
        if let source = bytes.baseAddress { (base + count).update(from: source, count: bytes.count) }
        count += bytes.count
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    mutating func append(byte: UInt8) {
        precondition(count < capacity, "ByteWriter overflow at \(count)")
        base[count] = byte
        count += 1
    }

    /// Decimal digits of `value`.
    mutating func append(integer value: UInt64) {
        var digits = 1
        var rest = value / 10
        while rest != 0 { digits += 1; rest /= 10 }
        precondition(count + digits <= capacity, "ByteWriter overflow writing an integer")
        var v = value
        for k in stride(from: digits - 1, through: 0, by: -1) {
            base[count + k] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
        }
        count += digits
    }

    /// A non-negative fixed-point value with 8 decimals, as Binance quotes (`"61837.63000000"`).
    mutating func append(decimalE8 value: Int64) {
        precondition(value >= 0, "negative decimal \(value)")
        append(integer: UInt64(value / 100_000_000))
        append(byte: UInt8(ascii: "."))
        var fraction = UInt64(value % 100_000_000)
        precondition(count + 8 <= capacity, "ByteWriter overflow writing a decimal")
        for k in stride(from: 7, through: 0, by: -1) {
            base[count + k] = UInt8(truncatingIfNeeded: fraction % 10) &+ 48
            fraction /= 10
        }
        count += 8
    }
}

/// Parses a decimal string (`"61837.63000000"`) into units of 1e-8, the sort key of a
/// price level; nil when it is not one or does not fit an Int64 there. Cold path
/// (recorded files are parsed once, at load).
func decimalE8(_ text: String) -> Int64? {
    var whole: Int64 = 0
    var fraction: Int64 = 0
    var fractionDigits = 0
    var seenDot = false
    var seenDigit = false
    for byte in text.utf8 {
        if byte == UInt8(ascii: ".") {
            if seenDot { return nil }
            seenDot = true
        } else if byte >= 48 && byte <= 57 {
            seenDigit = true
            if seenDot {
                if fractionDigits < 8 {
                    fraction = fraction * 10 + Int64(byte - 48)
                    fractionDigits += 1
                }
            } else {
                let (product, overflow) = whole.multipliedReportingOverflow(by: 10)
                let (sum, carry) = product.addingReportingOverflow(Int64(byte - 48))
                if overflow || carry { return nil }
                whole = sum
            }
        } else {
            return nil
        }
    }
    guard seenDigit else { return nil }
    while fractionDigits < 8 { fraction *= 10; fractionDigits += 1 }
    let (units, overflow) = whole.multipliedReportingOverflow(by: 100_000_000)
    let (sum, carry) = units.addingReportingOverflow(fraction)
    return overflow || carry ? nil : sum
}

/// Monotonic clock in ns (pacing, ping timers).
@inline(__always)
func monotonicNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Wall clock in ms (event times of synthetic messages).
func wallMs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// Sleeps `ns` nanoseconds (0 or less: returns at once).
func sleepNs(_ ns: Int64) {
    guard ns > 0 else { return }
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Percent-decodes a URL component (`%40` → `@`); malformed escapes are kept as they are.
func percentDecoded(_ text: Substring) -> String {
    guard text.contains("%") else { return String(text) }
    var out: [UInt8] = []
    let bytes = Array(text.utf8)
    var i = 0
    while i < bytes.count {
        if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
           let value = UInt8(String(decoding: bytes[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
            out.append(value)
            i += 3
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Splits `path?query` into the path and its decoded `key=value` pairs.
func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
    let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [String: String] = [:]
    if parts.count > 1 {
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[percentDecoded(kv[0])] = kv.count > 1 ? percentDecoded(kv[1]) : ""
        }
    }
    return (percentDecoded(parts[0]), query)
}
