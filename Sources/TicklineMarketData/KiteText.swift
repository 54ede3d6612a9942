// Kite text frames: JSON order postbacks, errors and broker messages.
// They are classified by their top-level "type" with a bounded scan that allocates nothing;
// parsing the payload (an order update) is the caller's business, off the tick path.

/// What a Kite text frame is.
public enum KiteTextKind: UInt8, Sendable, CaseIterable {
    /// `{"type":"order","data":{…}}`: an order update, shaped like an HTTP postback.
    case order = 1
    /// `{"type":"error","data":"…"}`.
    case error = 2
    /// `{"type":"message","data":"…"}`: a broker message.
    case message = 3
    /// A JSON object without a "type" we know (or without one at all).
    case unknownType = 4
    /// Not a well-formed JSON object.
    case malformed = 5
}

/// A classified text frame: its kind and where its "data" value sits (the raw JSON token,
/// quotes included for a string; empty when absent or malformed).
public struct KiteTextMessage: Sendable, Equatable {
    public var kind: KiteTextKind
    public var dataRange: Range<Int>

    @inlinable
    public init(kind: KiteTextKind, dataRange: Range<Int> = 0..<0) {
        self.kind = kind
        self.dataRange = dataRange
    }
}

/// A lenient, bounded JSON walk over the top-level object: enough to find "type" and "data"
/// and to reject what is not an object. Every loop advances through the input, so any input
/// finishes in O(n).
enum KiteTextScanner {
    static let malformed = KiteTextMessage(kind: .malformed)

    /// Checked allocation-free by the compiler.
    @_noAllocation
    static func classify(_ s: Span<UInt8>) -> KiteTextMessage {
        var i = skipWhitespace(s, 0)
        guard i < s.count, s[i] == ascii("{") else { return malformed }
        i = skipWhitespace(s, i + 1)
        var kind = KiteTextKind.unknownType
        var dataRange = 0..<0
        if i < s.count, s[i] == ascii("}") {
            return onlyWhitespace(s, from: i + 1) ? KiteTextMessage(kind: kind) : malformed
        }
        while true {
            guard i < s.count, s[i] == ascii("\""), let keyEnd = endOfString(s, i) else { return malformed }
            let key = (i + 1)..<(keyEnd - 1)
            i = skipWhitespace(s, keyEnd)
            guard i < s.count, s[i] == ascii(":") else { return malformed }
            let valueStart = skipWhitespace(s, i + 1)
            guard let valueEnd = endOfValue(s, valueStart) else { return malformed }
            if equals(s, key, typeKey) {
                kind = s[valueStart] == ascii("\"") ? typeKind(s, (valueStart + 1)..<(valueEnd - 1)) : .unknownType
            } else if equals(s, key, dataKey) {
                dataRange = valueStart..<valueEnd
            }
            i = skipWhitespace(s, valueEnd)
            guard i < s.count else { return malformed }
            if s[i] == ascii(",") {
                i = skipWhitespace(s, i + 1)
                continue
            }
            guard s[i] == ascii("}"), onlyWhitespace(s, from: i + 1) else { return malformed }
            return KiteTextMessage(kind: kind, dataRange: dataRange)
        }
    }

    static func typeKind(_ s: Span<UInt8>, _ value: Range<Int>) -> KiteTextKind {
        if equals(s, value, orderWord) { return .order }
        if equals(s, value, errorWord) { return .error }
        if equals(s, value, messageWord) { return .message }
        return .unknownType
    }

    @inline(__always)
    static func ascii(_ c: Unicode.Scalar) -> UInt8 { UInt8(ascii: c) }

    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    static func skipWhitespace(_ s: Span<UInt8>, _ from: Int) -> Int {
        var i = from
        while i < s.count, isWhitespace(s[i]) { i += 1 }
        return i
    }

    static func onlyWhitespace(_ s: Span<UInt8>, from: Int) -> Bool { skipWhitespace(s, from) == s.count }

    /// `s[start]` is a quote: the index after the closing quote, or nil when unterminated.
    static func endOfString(_ s: Span<UInt8>, _ start: Int) -> Int? {
        var i = start + 1
        while i < s.count {
            switch s[i] {
            case ascii("\\"): i += 2  // the escaped byte cannot close the string
            case ascii("\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The index just after the value starting at `start`, or nil when it is missing or
    /// unterminated. Nested objects and arrays are skipped by bracket depth (strings inside
    /// them honoured); their contents are not validated.
    static func endOfValue(_ s: Span<UInt8>, _ start: Int) -> Int? {
        guard start < s.count else { return nil }
        let first = s[start]
        if first == ascii("\"") { return endOfString(s, start) }
        if first == ascii("{") || first == ascii("[") {
            var depth = 0
            var i = start
            while i < s.count {
                let b = s[i]
                if b == ascii("\"") {
                    guard let end = endOfString(s, i) else { return nil }
                    i = end
                    continue
                }
                if b == ascii("{") || b == ascii("[") { depth += 1 }
                if b == ascii("}") || b == ascii("]") {
                    depth -= 1
                    if depth == 0 { return i + 1 }
                }
                i += 1
            }
            return nil
        }
        // A number or a literal: runs to the next delimiter.
        var i = start
        while i < s.count {
            let b = s[i]
            if b == ascii(",") || b == ascii("}") || b == ascii("]") || isWhitespace(b) { break }
            i += 1
        }
        return i > start ? i : nil
    }

    /// A word of at most 8 ASCII bytes packed big-endian (first byte highest) with its
    /// length: compared as integers, so matching a key allocates nothing.
    struct Word: Equatable {
        var bits: UInt64
        var length: Int
    }

    static let typeKey = Word(bits: 0x74_79_70_65, length: 4)  // "type"
    static let dataKey = Word(bits: 0x64_61_74_61, length: 4)  // "data"
    static let orderWord = Word(bits: 0x6F_72_64_65_72, length: 5)  // "order"
    static let errorWord = Word(bits: 0x65_72_72_6F_72, length: 5)  // "error"
    static let messageWord = Word(bits: 0x6D_65_73_73_61_67_65, length: 7)  // "message"

    /// Whether `s[range]` is exactly `word` (raw bytes: an escaped spelling does not match).
    static func equals(_ s: Span<UInt8>, _ range: Range<Int>, _ word: Word) -> Bool {
        guard range.count == word.length else { return false }
        var bits: UInt64 = 0
        for i in range { bits = bits << 8 | UInt64(s[i]) }
        return bits == word.bits
    }
}
