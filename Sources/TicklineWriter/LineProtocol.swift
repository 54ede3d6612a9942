/// InfluxDB line protocol escaping (commas, spaces and equals signs in tags and field keys,
/// quotes and backslashes in string fields) and the pieces encoders append.
/// Stateless; every function appends to a caller-owned `ByteBuffer`.
///
/// | element                         | escaped                   |
/// | measurement                     | comma, space              |
/// | tag key, tag value, field key   | comma, equals sign, space |
/// | string field value (in quotes)  | double quote, backslash   |
/// Newlines are not allowed in any element: they are replaced by a space (counted by the
/// caller when it cares), since a raw newline would end the line.
public enum LineProtocol {
    public enum Element: Sendable {
        case measurement
        /// Tag keys, tag values and field keys.
        case tagOrFieldKey
        /// The inside of a `"…"` string field value.
        case stringFieldValue
    }

    @inlinable @inline(__always)
    static func needsEscape(_ b: UInt8, _ element: Element) -> Bool {
        switch element {
        case .measurement: return b == 44 || b == 32  // , space
        case .tagOrFieldKey: return b == 44 || b == 61 || b == 32  // , = space
        case .stringFieldValue: return b == 34 || b == 92  // " backslash
        }
    }

    /// Appends `raw` escaped as `element`. Worst case 2 bytes per input byte.
    @inlinable
    public static func appendEscaped(_ raw: UnsafeRawBufferPointer, as element: Element, to out: ByteBuffer) {
        for b in raw {
            let c: UInt8 = b == 10 || b == 13 ? 32 : b
            if needsEscape(c, element) { out.append(92) }
            out.append(c)
        }
    }

    /// Appends `text` escaped as `element` (cold path and tests: goes through String's UTF-8).
    public static func appendEscaped(_ text: String, as element: Element, to out: ByteBuffer) {
        var copy = text
        copy.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0), as: element, to: out) }
    }

    /// `text` escaped as `element` (cold path and tests).
    public static func escape(_ text: String, as element: Element) -> String {
        let out = ByteBuffer(capacity: text.utf8.count * 2 + 1)
        appendEscaped(text, as: element, to: out)
        return out.text
    }
}

/// RESP (Redis serialization protocol) command encoding into a `ByteBuffer`:
/// `*<argc>\r\n` then each argument as `$<len>\r\n<bytes>\r\n`. Stateless.
public enum RESP {
    @inlinable
    public static func beginCommand(argumentCount: Int, _ out: ByteBuffer) {
        out.append(UInt8(ascii: "*"))
        out.append(unsigned: UInt64(argumentCount))
        out.append("\r\n")
    }

    @inlinable
    public static func argument(_ s: StaticString, _ out: ByteBuffer) {
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(s.utf8CodeUnitCount))
        out.append("\r\n")
        out.append(s)
        out.append("\r\n")
    }

    @inlinable
    public static func argument(_ bytes: [UInt8], _ out: ByteBuffer) {
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(bytes.count))
        out.append("\r\n")
        out.append(bytes)
        out.append("\r\n")
    }

    @inlinable
    public static func argument(_ raw: UnsafeRawBufferPointer, _ out: ByteBuffer) {
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(raw.count))
        out.append("\r\n")
        out.append(raw)
        out.append("\r\n")
    }

    @inlinable
    public static func argument(signed value: Int64, _ out: ByteBuffer) {
        let n = (value < 0 ? 1 : 0) + ByteBuffer.digitCount(value.magnitude)
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(n))
        out.append("\r\n")
        out.append(signed: value)
        out.append("\r\n")
    }

    @inlinable
    public static func argument(unsigned value: UInt64, _ out: ByteBuffer) {
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(ByteBuffer.digitCount(value)))
        out.append("\r\n")
        out.append(unsigned: value)
        out.append("\r\n")
    }

    @inlinable
    public static func argument(fixed units: Int64, decimals: UInt8, _ out: ByteBuffer) {
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(ByteBuffer.fixedLength(units, decimals: decimals)))
        out.append("\r\n")
        out.append(fixed: units, decimals: decimals)
        out.append("\r\n")
    }

    /// `prefix` followed by the decimal digits of `id` as one argument (`tickline:main:quote:42`).
    @inlinable
    public static func argument(prefix: [UInt8], id: UInt64, _ out: ByteBuffer) {
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(prefix.count + ByteBuffer.digitCount(id)))
        out.append("\r\n")
        out.append(prefix)
        out.append(unsigned: id)
        out.append("\r\n")
    }

    /// Encodes a command given as strings (cold path: AUTH, SELECT, metrics).
    public static func command(_ args: [String], _ out: ByteBuffer) {
        beginCommand(argumentCount: args.count, out)
        for a in args { argument(Array(a.utf8), out) }
    }
}
