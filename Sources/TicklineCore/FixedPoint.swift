/// A price as an integer count of 10^-decimals units, `decimals` being the instrument's price
/// scale (as venues quote it). Never parsed through Double on the way in.
public struct Price: Hashable, Comparable, Sendable, BitwiseCopyable, CustomStringConvertible {
    public var units: Int64
    @inlinable public init(units: Int64) { self.units = units }
    public static let zero = Price(units: 0)
    @inlinable public static func < (a: Price, b: Price) -> Bool { a.units < b.units }
    /// The value as a Double at `decimals` (for indicators and display, never for matching).
    @inlinable public func doubleValue(decimals: UInt8) -> Double { Double(units) / DecimalScale.powerOfTen(decimals) }
    public var description: String { "Price(\(units))" }
}

/// A quantity as an integer count of 10^-decimals units (the instrument's quantity scale).
public struct Quantity: Hashable, Comparable, Sendable, BitwiseCopyable, CustomStringConvertible {
    public var units: Int64
    @inlinable public init(units: Int64) { self.units = units }
    public static let zero = Quantity(units: 0)
    @inlinable public static func < (a: Quantity, b: Quantity) -> Bool { a.units < b.units }
    @inlinable public func doubleValue(decimals: UInt8) -> Double { Double(units) / DecimalScale.powerOfTen(decimals) }
    public var description: String { "Quantity(\(units))" }
}

/// Decimal scales: 10^decimals, at most 18 decimals (what fits an Int64 multiplier).
public enum DecimalScale {
    public static let maxDecimals: UInt8 = 18

    /// 10^decimals as an integer. Traps above 18 decimals.
    @inlinable
    public static func multiplier(_ decimals: UInt8) -> Int64 {
        precondition(decimals <= maxDecimals, "decimal scale \(decimals) exceeds \(maxDecimals)")
        var m: Int64 = 1
        for _ in 0..<decimals { m &*= 10 }
        return m
    }

    @inlinable
    public static func powerOfTen(_ decimals: UInt8) -> Double { Double(multiplier(decimals)) }

    /// Parses a plain decimal string ("61837.63", "-0.5", "12") at `decimals` without Double.
    /// Cold path (config, tests). Returns nil for malformed text, more fraction digits than
    /// `decimals` allows (other than trailing zeros), or overflow.
    public static func parse(_ text: String, decimals: UInt8) -> Int64? {
        guard decimals <= maxDecimals else { return nil }
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var value: Int64 = 0
        var fractionDigits: UInt8 = 0
        var seenPoint = false
        var seenDigit = false
        for b in bytes {
            if b == UInt8(ascii: ".") {
                if seenPoint { return nil }
                seenPoint = true
                continue
            }
            guard b >= 48 && b <= 57 else { return nil }
            seenDigit = true
            let digit = Int64(b - 48)
            if seenPoint {
                if fractionDigits == decimals {
                    if digit != 0 { return nil }  // precision beyond the scale
                    continue
                }
                fractionDigits += 1
            }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = s
        }
        guard seenDigit else { return nil }
        let (scaled, o) = value.multipliedReportingOverflow(by: multiplier(decimals - fractionDigits))
        if o { return nil }
        return negative ? -scaled : scaled
    }
}
