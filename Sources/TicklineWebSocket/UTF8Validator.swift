/// Incremental UTF-8 validation (Unicode Table 3-7 well-formed byte sequences): rejects
/// overlong forms, surrogates (U+D800–U+DFFF), code points above U+10FFFF and stray
/// continuation bytes. The state carries across calls, so a code point split between
/// reads or fragments is validated as one. Plain value; owned by one decoder.
public struct UTF8Validator: Sendable, Equatable {
    // States: 0 between code points; 1/2/3 continuation bytes still due (80–BF each);
    // 4–7 the second byte is restricted (after E0, ED, F0, F4); 255 rejected (sticky).
    @usableFromInline var state: UInt8 = 0

    public init() {}

    /// `true` when the bytes so far end at a code point boundary.
    @inlinable public var isComplete: Bool { state == 0 }
    /// `true` once an invalid sequence was seen; stays `true` until `reset()`.
    @inlinable public var isRejected: Bool { state == 255 }

    @inlinable public mutating func reset() { state = 0 }

    /// Validates `bytes` as the continuation of what came before.
    /// - Returns: `false` as soon as the input cannot be (the prefix of) valid UTF-8.
    @inlinable
    public mutating func validate(_ bytes: Span<UInt8>) -> Bool {
        if state == 255 { return false }
        var s = state
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            i += 1
            if s == 0 {
                if b < 0x80 { continue }
                switch b {
                case 0xC2...0xDF: s = 1
                case 0xE0: s = 4
                case 0xE1...0xEC, 0xEE...0xEF: s = 2
                case 0xED: s = 5
                case 0xF0: s = 6
                case 0xF1...0xF3: s = 3
                case 0xF4: s = 7
                default: s = 255
                }
            } else {
                switch s {
                case 1, 2, 3: s = (b & 0xC0) == 0x80 ? s - 1 : 255
                case 4: s = (b >= 0xA0 && b <= 0xBF) ? 1 : 255
                case 5: s = (b >= 0x80 && b <= 0x9F) ? 1 : 255
                case 6: s = (b >= 0x90 && b <= 0xBF) ? 2 : 255
                case 7: s = (b >= 0x80 && b <= 0x8F) ? 2 : 255
                default: s = 255
                }
            }
            if s == 255 { state = 255; return false }
        }
        state = s
        return true
    }

    /// Validates one complete byte sequence: valid and ending on a code point boundary.
    @inlinable
    public static func isValid(_ bytes: Span<UInt8>) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isComplete
    }
}
