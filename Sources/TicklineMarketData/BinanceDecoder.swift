import TicklineCore

// A schema-specific scanner for Binance JSON: no tree, no allocation. It walks the object
// once, dispatches on the key (most are one letter), converts ids straight to integers and
// decimal strings straight to fixed point at the instrument's scale, and skips any other
// value (nested objects and arrays included). Fields may come in any order: when a price
// arrives before the symbol is known, its position is remembered and it is parsed once the
// object is complete (real Binance frames name the symbol first, through the stream name or
// `s`, so that path is rare). Escaped strings are unescaped into a small preallocated
// scratch area.
//
// Lenience, on purpose: inside a value that is skipped, only string quoting and bracket
// matching are checked (the value is thrown away); numbers in ids may use a fraction or an
// exponent as long as the value is an exact integer.

private enum Ascii {
    static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, comma: UInt8 = 0x2C, colon: UInt8 = 0x3A
    static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D
    static let minus: UInt8 = 0x2D, plus: UInt8 = 0x2B, dot: UInt8 = 0x2E, zero: UInt8 = 0x30
    static let lowerE: UInt8 = 0x65, upperE: UInt8 = 0x45, at: UInt8 = 0x40
    static let t: UInt8 = 0x74, f: UInt8 = 0x66, n: UInt8 = 0x6E
}

/// Which known key a key string is.
private enum FieldKey: UInt8 {
    case unknown
    case e, E, s, t, p, q, T, m, a, f, l, u, U, b, B, A, pu
    case stream, data, result, id, code, lastUpdateId, bids, asks
}

/// Event types named by `e`.
private enum EventType: UInt8 {
    case none, trade, aggTrade, depthUpdate, bookTicker, serverShutdown, other
}

/// Presence bits of the fields seen so far.
private enum Has {
    static let e: UInt32 = 1 << 0, E: UInt32 = 1 << 1, T: UInt32 = 1 << 2, t: UInt32 = 1 << 3
    static let aggId: UInt32 = 1 << 4, f: UInt32 = 1 << 5, l: UInt32 = 1 << 6, u: UInt32 = 1 << 7
    static let U: UInt32 = 1 << 8, pu: UInt32 = 1 << 9, lastUpdateId: UInt32 = 1 << 10, p: UInt32 = 1 << 11
    static let q: UInt32 = 1 << 12, bidPrice: UInt32 = 1 << 13, bidQty: UInt32 = 1 << 14, askPrice: UInt32 = 1 << 15
    static let askQty: UInt32 = 1 << 16, m: UInt32 = 1 << 17, bids: UInt32 = 1 << 18, asks: UInt32 = 1 << 19
    static let result: UInt32 = 1 << 20, id: UInt32 = 1 << 21, code: UInt32 = 1 << 22, stream: UInt32 = 1 << 23
    static let data: UInt32 = 1 << 24, s: UInt32 = 1 << 25
}

/// A string's bytes: in the message or in the scratch area, valid during one `decode` call.
// SAFETY: only built by the scanner from in-bounds offsets of buffers that outlive the call.
@safe
private struct StringRef {
    var start: UnsafeRawPointer?
    var count: Int

    static var none: StringRef { unsafe StringRef(start: nil, count: 0) }

    @inline(__always)
    func byte(_ i: Int) -> UInt8 { unsafe start.unsafelyUnwrapped.load(fromByteOffset: i, as: UInt8.self) }

    func equals(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        for i in 0..<count where unsafe byte(i) != literal.utf8Start[i] { return false }
        return true
    }
}

/// The state of one decode call.
// SAFETY: `base`/`end` describe the caller's message buffer, valid for the call; every load
// is preceded by a `pos < end` check.
@safe
private struct Scan {
    let base: UnsafeRawPointer
    let end: Int
    var pos: Int
    var error: BinanceDecodeError? = nil
    var scratchUsed = 0
    var has: UInt32 = 0
    var event: EventType = .none
    /// The instrument whose scales decimals are parsed at (-1 = not known yet).
    var entryIndex: Int32 = -1
    var priceDecimals = 0
    var quantityDecimals = 0
    /// 10^priceDecimals and 10^quantityDecimals.
    var priceScale: Int64 = 1
    var quantityScale: Int64 = 1
    /// Set when the instrument came from `s` (it then wins over the stream name).
    var entryFromSymbol = false
    // Decimal strings and level arrays seen before the instrument was known.
    var deferredMask: UInt32 = 0
    var deferredP = StringRef.none, deferredQ = StringRef.none
    var deferredBidPrice = StringRef.none, deferredBidQty = StringRef.none
    var deferredAskPrice = StringRef.none, deferredAskQty = StringRef.none
    var deferredBidsPos = 0, deferredAsksPos = 0

    @inline(__always)
    func load(_ i: Int) -> UInt8 { unsafe base.load(fromByteOffset: i, as: UInt8.self) }

    @inline(__always)
    mutating func skipWhitespace() -> UInt8 {
        while pos < end {
            let c = load(pos)
            if c > 0x20 { return c }
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return c }
            pos += 1
        }
        return 0
    }

    @inline(__always)
    mutating func fail(_ reason: BinanceDecodeError) -> Bool {
        if error == nil { error = reason }
        return false
    }

    /// Fails at the cursor: truncated at the end of input, syntax otherwise.
    @inline(__always)
    mutating func failHere() -> Bool { fail(pos >= end ? .truncated : .syntax) }
}

/// Decodes Binance market-data JSON (raw or combined streams, control replies) into
/// `BinanceMessage` values without allocating.
///
/// Depth levels go to the preallocated `bids`/`asks` buffers, which hold the levels of the
/// last depth message until the next decode. Unknown and malformed messages return their
/// reason and are counted in `counters`; nothing traps on input.
/// Not thread-safe: owned by one agent thread.
// SAFETY: `scratch` is allocated for `scratchCapacity` bytes in init, freed in deinit, and
// every write checks the capacity.
@safe
public final class BinanceDecoder {
    /// The symbols this decoder knows. Swap in a new table (one reference assignment) when
    /// subscriptions change.
    public var instruments: InstrumentTable {
        get { table }
        set {
            table = newValue
            lastEntryIndex = -1
        }
    }
    var table: InstrumentTable
    /// The entry the last combined-stream name resolved to (-1: none).
    var lastEntryIndex = -1
    /// Levels of the last depth message.
    public let bids: LevelBuffer
    public let asks: LevelBuffer
    // Mutable state is stored in internal properties behind public getters: a public stored
    // property of a class costs a dynamic exclusivity check on every access.
    var countersStorage: BinanceDecodeCounters = BinanceDecodeCounters()
    public var counters: BinanceDecodeCounters { countersStorage }
    /// ns per unit of `E`/`T`: 1,000,000 for milliseconds (the default), 1,000 for a
    /// `timeUnit=MICROSECOND` connection.
    public var venueTimeUnitNs: UInt64 = 1_000_000

    private let scratch: UnsafeMutableRawPointer
    private let scratchCapacity: Int

    /// - Parameters:
    ///   - instruments: the symbol table.
    ///   - levelCapacity: levels per side a depth message may carry (5,000 is the REST maximum).
    ///   - scratchBytes: room for unescaped strings per message.
    public init(instruments: InstrumentTable, levelCapacity: Int = 5_000, scratchBytes: Int = 4_096) {
        precondition(scratchBytes >= 64, "scratchBytes \(scratchBytes) must be at least 64")
        self.table = instruments
        bids = LevelBuffer(capacity: levelCapacity)
        asks = LevelBuffer(capacity: levelCapacity)
        unsafe scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 8)
        scratchCapacity = scratchBytes
    }

    deinit { unsafe scratch.deallocate() }

    /// Decodes one whole message.
    /// - Parameters:
    ///   - bytes: the JSON text of one WebSocket message.
    ///   - message: overwritten on success; unspecified on failure.
    ///   - fallbackInstrumentIndex: the table position to use when the message names no symbol
    ///     (the REST depth snapshot); -1 for none.
    /// - Returns: nil on success, else the reason (also counted).
    @inline(__always)
    public func decode(_ bytes: UnsafeRawBufferPointer, into message: inout BinanceMessage,
                       fallbackInstrumentIndex: Int32 = -1) -> BinanceDecodeError? {
        guard let base = unsafe bytes.baseAddress, bytes.count > 0 else {
            countersStorage.count(.truncated)
            return .truncated
        }
        var s = unsafe Scan(base: base, end: bytes.count, pos: 0)
        message = BinanceMessage()
        if decodeMessage(&s, &message, fallbackInstrumentIndex), s.error == nil {
            countersStorage.decoded &+= 1
            return nil
        }
        let reason = s.error ?? .syntax
        countersStorage.count(reason)
        return reason
    }

    /// Decodes one message held in an array (tests and cold paths).
    public func decode(_ bytes: [UInt8], into message: inout BinanceMessage,
                       fallbackInstrumentIndex: Int32 = -1) -> BinanceDecodeError? {
        unsafe bytes.withUnsafeBytes { unsafe decode($0, into: &message, fallbackInstrumentIndex: fallbackInstrumentIndex) }
    }

    /// Zeroes the counters.
    public func resetCounters() { countersStorage = BinanceDecodeCounters() }

    // MARK: - Message

    @inline(__always)
    private func decodeMessage(_ s: inout Scan, _ m: inout BinanceMessage, _ fallback: Int32) -> Bool {
        // Binance's own layouts first, matched literally; anything else (other order, spacing,
        // escapes, new fields, errors) goes through the general scanner from the start.
        if decodeKnownLayout(&s, &m), finish(&s, &m, fallback), s.error == nil { return true }
        unsafe s = Scan(base: s.base, end: s.end, pos: 0)
        m = BinanceMessage()
        let first = s.skipWhitespace()
        guard first == Ascii.openBrace else { return s.fail(s.pos >= s.end ? .truncated : .notAnObject) }
        guard parseObject(&s, &m, nested: false) else { return false }
        if s.skipWhitespace() != 0 || s.pos < s.end { return s.fail(.trailingBytes) }
        return finish(&s, &m, fallback)
    }

    // MARK: - Known layouts

    /// Matches the combined-stream layouts Binance sends (trade, aggTrade, bookTicker,
    /// depthUpdate, fields in the venue's order, no whitespace) with literal compares instead
    /// of key dispatch, filling the same fields and presence bits as the general scanner so
    /// `finish` completes both alike. False as soon as anything differs.
    private func decodeKnownLayout(_ s: inout Scan, _ m: inout BinanceMessage) -> Bool {
        guard literal(&s, #"{"stream":""#) else { return false }
        let nameStart = s.pos
        var at = -1
        // Eight bytes at a time: the first quote, '@' and backslash by the zero-byte trick.
        while s.pos + 8 <= s.end {
            let w = unsafe s.base.loadUnaligned(fromByteOffset: s.pos, as: UInt64.self)
            let quotes = Self.zeroBytes(w ^ 0x2222_2222_2222_2222)
            let slashes = Self.zeroBytes(w ^ 0x5C5C_5C5C_5C5C_5C5C)
            let ats = Self.zeroBytes(w ^ 0x4040_4040_4040_4040)
            let below = quotes == 0 ? UInt64.max : (quotes & (0 &- quotes)) &- 1  // bits before the first quote
            if slashes & below != 0 { return false }
            if at < 0 && ats & below != 0 { at = s.pos + (ats & below).trailingZeroBitCount >> 3 }
            if quotes != 0 {
                s.pos += quotes.trailingZeroBitCount >> 3
                break
            }
            s.pos += 8
        }
        while s.pos < s.end {
            let b = s.load(s.pos)
            if b == Ascii.quote { break }
            if b == Ascii.backslash { return false }
            if b == Ascii.at && at < 0 { at = s.pos }
            s.pos += 1
        }
        guard at > nameStart, s.pos < s.end, s.load(s.pos) == Ascii.quote else { return false }
        s.pos += 1
        s.has |= Has.stream | Has.data
        // Consecutive messages mostly name the same symbol: try the last one before hashing.
        var index = lastEntryIndex
        let symbolLength = at - nameStart
        let known = index >= 0 && (symbolLength <= 8 && nameStart + 8 <= s.end
            ? unsafe table.matches(index, word: s.base.loadUnaligned(fromByteOffset: nameStart, as: UInt64.self), count: symbolLength)
            : unsafe table.matches(index, s.base + nameStart, symbolLength))
        if !known {
            index = unsafe table.lookupIndex(s.base + nameStart, at - nameStart)
            lastEntryIndex = index
        }
        guard index >= 0, literal(&s, #","data":{""#) else { return false }
        setEntry(&s, index)
        guard s.pos < s.end else { return false }
        if s.load(s.pos) == 0x75 {  // "u": spot bookTicker
            guard literal(&s, #"u":"#), id(&s, &m.updateId),
                  literal(&s, #","s":"#), symbolMatches(&s),
                  literal(&s, #","b":"#), decimal(&s, &m.bidPrice.units, price: true),
                  literal(&s, #","B":"#), decimal(&s, &m.bidQuantity.units, price: false),
                  literal(&s, #","a":"#), decimal(&s, &m.askPrice.units, price: true),
                  literal(&s, #","A":"#), decimal(&s, &m.askQuantity.units, price: false),
                  literal(&s, "}}") else { return false }
            s.has |= Has.u | Has.s | Has.bidPrice | Has.bidQty | Has.askPrice | Has.askQty
        } else {
            guard literal(&s, #"e":""#), s.pos < s.end else { return false }
            switch s.load(s.pos) {
            case Ascii.t:
                guard literal(&s, #"trade","E":"#), id(&s, &m.eventTime),
                      literal(&s, #","s":"#), symbolMatches(&s),
                      literal(&s, #","t":"#), id(&s, &m.tradeId),
                      literal(&s, #","p":"#), decimal(&s, &m.price.units, price: true),
                      literal(&s, #","q":"#), decimal(&s, &m.quantity.units, price: false),
                      literal(&s, #","T":"#), id(&s, &m.transactionTime),
                      literal(&s, #","m":"#), bool(&s, &m.buyerIsMaker),
                      literal(&s, #","M":"#), skipBool(&s),
                      literal(&s, "}}") else { return false }
                s.event = .trade
                s.has |= Has.e | Has.E | Has.s | Has.t | Has.p | Has.q | Has.T | Has.m
            case 0x61:  // aggTrade
                guard literal(&s, #"aggTrade","E":"#), id(&s, &m.eventTime),
                      literal(&s, #","s":"#), symbolMatches(&s),
                      literal(&s, #","a":"#), id(&s, &m.tradeId),
                      literal(&s, #","p":"#), decimal(&s, &m.price.units, price: true),
                      literal(&s, #","q":"#), decimal(&s, &m.quantity.units, price: false),
                      literal(&s, #","f":"#), id(&s, &m.firstTradeId),
                      literal(&s, #","l":"#), id(&s, &m.lastTradeId),
                      literal(&s, #","T":"#), id(&s, &m.transactionTime),
                      literal(&s, #","m":"#), bool(&s, &m.buyerIsMaker),
                      literal(&s, #","M":"#), skipBool(&s),
                      literal(&s, "}}") else { return false }
                s.event = .aggTrade
                s.has |= Has.e | Has.E | Has.s | Has.aggId | Has.p | Has.q | Has.f | Has.l | Has.T | Has.m
            case 0x64:  // depthUpdate
                guard literal(&s, #"depthUpdate","E":"#), id(&s, &m.eventTime),
                      literal(&s, #","s":"#), symbolMatches(&s),
                      literal(&s, #","U":"#), id(&s, &m.firstUpdateId),
                      literal(&s, #","u":"#), id(&s, &m.updateId),
                      literal(&s, #","b":["#) else { return false }
                s.pos -= 1
                guard parseLevels(&s, into: bids), literal(&s, #","a":["#) else { return false }
                s.pos -= 1
                guard parseLevels(&s, into: asks), literal(&s, "}}") else { return false }
                s.event = .depthUpdate
                s.has |= Has.e | Has.E | Has.s | Has.U | Has.u | Has.bids | Has.asks
            default:
                return false
            }
        }
        return s.skipWhitespace() == 0 && s.pos >= s.end
    }

    /// Consumes `text` at the cursor, or returns false.
    @inline(__always)
    private func literal(_ s: inout Scan, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard s.pos &+ n <= s.end else { return false }
        // The literal's words are built byte by byte from constant text, which the optimiser
        // folds to constants: a literal of up to 8 bytes is one masked compare when 8 bytes
        // are readable, up to 16 two compares (the second overlapping the first).
        if n <= 8 && s.pos &+ 8 <= s.end {
            let mask: UInt64 = n == 8 ? ~0 : (1 &<< UInt64(truncatingIfNeeded: n &<< 3)) &- 1
            return compareWord(&s, text, from: 0, count: n, mask: mask, advance: n)
        }
        if n > 8 && n <= 16 {
            let word = unsafe s.base.loadUnaligned(fromByteOffset: s.pos, as: UInt64.self)
            guard word == Self.literalWord(text, from: 0, count: 8) else { return false }
            let tail = unsafe s.base.loadUnaligned(fromByteOffset: s.pos &+ n &- 8, as: UInt64.self)
            guard tail == Self.literalWord(text, from: n &- 8, count: 8) else { return false }
            s.pos &+= n
            return true
        }
        let bytes = unsafe UnsafeRawPointer(text.utf8Start)
        var i = 0
        while i < n {
            guard unsafe s.load(s.pos &+ i) == bytes.load(fromByteOffset: i, as: UInt8.self) else { return false }
            i &+= 1
        }
        s.pos &+= n
        return true
    }

    @inline(__always)
    private func compareWord(_ s: inout Scan, _ text: StaticString, from: Int, count: Int, mask: UInt64,
                             advance: Int) -> Bool {
        let word = unsafe s.base.loadUnaligned(fromByteOffset: s.pos, as: UInt64.self)
        guard word & mask == Self.literalWord(text, from: from, count: count) else { return false }
        s.pos &+= advance
        return true
    }

    /// Bytes from..<from+count (count ≤ 8) of a literal as a little-endian word.
    @inline(__always)
    private static func literalWord(_ text: StaticString, from: Int, count: Int) -> UInt64 {
        let bytes = unsafe UnsafeRawPointer(text.utf8Start)
        var word: UInt64 = 0
        var i = count
        while i > 0 {
            i &-= 1
            word = word &<< 8 | UInt64(unsafe bytes.load(fromByteOffset: from &+ i, as: UInt8.self))
        }
        return word
    }

    @inline(__always)
    private func id(_ s: inout Scan, _ target: inout UInt64) -> Bool {
        if let v = tryFastId(&s) {
            target = v
            return true
        }
        guard s.pos < s.end, let v = readId(&s, s.load(s.pos)) else { return false }
        target = v
        return true
    }

    /// 1–15 digits followed by `,` or `}` (Binance's ids and millisecond times), as at most
    /// two words. nil (nothing consumed, no error recorded) for any other shape, which
    /// `readId` then handles with its checks.
    @inline(__always)
    private func tryFastId(_ s: inout Scan) -> UInt64? {
        let start = s.pos
        guard start &+ 16 <= s.end else { return nil }
        let first = unsafe s.base.loadUnaligned(fromByteOffset: start, as: UInt64.self)
        let firstDigits = Self.leadingDigitCount(first)
        if firstDigits < 8 {
            let bits = UInt64(truncatingIfNeeded: firstDigits &<< 3)
            guard firstDigits > 0, Self.endsNumber(UInt8(truncatingIfNeeded: first &>> bits)) else { return nil }
            s.pos = start &+ firstDigits
            return Self.eightDigitsValue((first &<< (64 &- bits)) | (0x3030_3030_3030_3030 &>> bits))
        }
        let second = unsafe s.base.loadUnaligned(fromByteOffset: start &+ 8, as: UInt64.self)
        let secondDigits = Self.leadingDigitCount(second)
        guard secondDigits < 8 else { return nil }
        let bits = UInt64(truncatingIfNeeded: secondDigits &<< 3)
        guard Self.endsNumber(UInt8(truncatingIfNeeded: second &>> bits)) else { return nil }
        s.pos = start &+ 8 &+ secondDigits
        let high = Self.eightDigitsValue(first)
        guard secondDigits > 0 else { return high }
        let low = Self.eightDigitsValue((second &<< (64 &- bits)) | (0x3030_3030_3030_3030 &>> bits))
        var multiplier: UInt64 = 10
        for _ in 1..<secondDigits { multiplier &*= 10 }
        return high &* multiplier &+ low
    }

    /// Digits before the first non-digit byte of a little-endian word (8: all digits).
    @inline(__always)
    private static func leadingDigitCount(_ w: UInt64) -> Int {
        let flipped = w ^ 0x3030_3030_3030_3030
        let nonDigit = (((flipped & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7676_7676_7676_7676) | flipped) & 0x8080_8080_8080_8080
        return nonDigit.trailingZeroBitCount &>> 3
    }

    /// A byte that may follow a number in the known layouts.
    @inline(__always)
    private static func endsNumber(_ b: UInt8) -> Bool { b == Ascii.comma || b == Ascii.closeBrace }

    @inline(__always)
    private func decimal(_ s: inout Scan, _ target: inout Int64, price: Bool) -> Bool {
        guard s.pos < s.end, s.load(s.pos) == Ascii.quote else { return false }
        let decimals = price ? s.priceDecimals : s.quantityDecimals
        let scale = price ? s.priceScale : s.quantityScale
        if let v = tryFastDecimal(&s, decimals: decimals, scale: scale) {
            target = v
            return true
        }
        guard let v = parseDecimal(&s, decimals: decimals, scale: scale) else { return false }
        target = v
        return true
    }

    @inline(__always)
    private func bool(_ s: inout Scan, _ target: inout Bool) -> Bool {
        if literal(&s, "true") {
            target = true
            return true
        }
        target = false
        return literal(&s, "false")
    }

    @inline(__always)
    private func skipBool(_ s: inout Scan) -> Bool { literal(&s, "true") || literal(&s, "false") }

    /// The `s` string at the cursor names the instrument the stream name chose.
    @inline(__always)
    private func symbolMatches(_ s: inout Scan) -> Bool {
        guard s.pos < s.end, s.load(s.pos) == Ascii.quote else { return false }
        let start = s.pos + 1
        var p = start
        if start &+ 8 <= s.end {
            // Symbols of up to 7 bytes: the closing quote is in the first word.
            let word = unsafe s.base.loadUnaligned(fromByteOffset: start, as: UInt64.self)
            let quotes = Self.zeroBytes(word ^ 0x2222_2222_2222_2222)
            let slashes = Self.zeroBytes(word ^ 0x5C5C_5C5C_5C5C_5C5C)
            let below = quotes == 0 ? UInt64.max : (quotes & (0 &- quotes)) &- 1  // bits before the first quote
            if slashes & below != 0 { return false }
            p = quotes == 0 ? start &+ 8 : start &+ quotes.trailingZeroBitCount &>> 3
        }
        while p < s.end {
            let b = s.load(p)
            if b == Ascii.quote { break }
            if b == Ascii.backslash { return false }
            p += 1
        }
        guard p < s.end else { return false }
        let count = p - start
        let same = count <= 8 && start + 8 <= s.end
            ? unsafe table.matches(Int(s.entryIndex), word: s.base.loadUnaligned(fromByteOffset: start, as: UInt64.self), count: count)
            : unsafe table.matches(Int(s.entryIndex), s.base + start, count)
        guard same else { return false }
        s.entryFromSymbol = true
        s.pos = p + 1
        return true
    }

    /// Parses an object whose `{` is at the cursor. `nested`: inside the combined-stream `data`.
    private func parseObject(_ s: inout Scan, _ m: inout BinanceMessage, nested: Bool) -> Bool {
        s.pos += 1
        var c = s.skipWhitespace()
        if c == Ascii.closeBrace {
            s.pos += 1
            return true
        }
        while true {
            guard c == Ascii.quote else { return s.failHere() }
            var key = FieldKey.unknown
            // Fast path: a one-letter key directly followed by the colon, as Binance writes them.
            if s.pos + 4 < s.end && s.load(s.pos + 2) == Ascii.quote && s.load(s.pos + 3) == Ascii.colon
                && s.load(s.pos + 1) != Ascii.backslash {
                key = oneLetterKey(s.load(s.pos + 1))
                s.pos += 4
                c = s.skipWhitespace()
                guard parseValue(&s, &m, key: key, first: c, nested: nested) else { return false }
                c = s.skipWhitespace()
                if c == Ascii.comma {
                    s.pos += 1
                    c = s.skipWhitespace()
                    continue
                }
                if c == Ascii.closeBrace {
                    s.pos += 1
                    return true
                }
                return s.failHere()
            }
            // Keys without escapes are classified in place.
            var k = s.pos + 1
            while k < s.end {
                let b = s.load(k)
                if b == Ascii.quote || b == Ascii.backslash { break }
                k += 1
            }
            guard k < s.end else { return s.fail(.truncated) }
            if s.load(k) == Ascii.quote {
                key = unsafe classifyKey(StringRef(start: s.base + (s.pos + 1), count: k - s.pos - 1))
                s.pos = k + 1
            } else {
                guard let text = readString(&s) else { return false }
                key = classifyKey(text)
            }
            c = s.skipWhitespace()
            guard c == Ascii.colon else { return s.failHere() }
            s.pos += 1
            c = s.skipWhitespace()
            guard parseValue(&s, &m, key: key, first: c, nested: nested) else { return false }
            c = s.skipWhitespace()
            if c == Ascii.comma {
                s.pos += 1
                c = s.skipWhitespace()
                continue
            }
            if c == Ascii.closeBrace {
                s.pos += 1
                return true
            }
            return s.failHere()
        }
    }

    @inline(__always)
    private func classifyKey(_ key: StringRef) -> FieldKey {
        if key.count == 1 { return oneLetterKey(key.byte(0)) }
        return classifyLongKey(key)
    }

    @inline(__always)
    private func oneLetterKey(_ letter: UInt8) -> FieldKey {
        switch letter {
        case 0x65: return .e
        case 0x45: return .E
        case 0x73: return .s
        case 0x74: return .t
        case 0x70: return .p
        case 0x71: return .q
        case 0x54: return .T
        case 0x6D: return .m
        case 0x61: return .a
        case 0x66: return .f
        case 0x6C: return .l
        case 0x75: return .u
        case 0x55: return .U
        case 0x62: return .b
        case 0x42: return .B
        case 0x41: return .A
        default: return .unknown
        }
    }

    private func classifyLongKey(_ key: StringRef) -> FieldKey {
        switch key.count {
        case 2:
            if key.equals("pu") { return .pu }
            if key.equals("id") { return .id }
        case 4:
            if key.equals("data") { return .data }
            if key.equals("code") { return .code }
            if key.equals("bids") { return .bids }
            if key.equals("asks") { return .asks }
        case 6:
            if key.equals("stream") { return .stream }
            if key.equals("result") { return .result }
        case 12:
            if key.equals("lastUpdateId") { return .lastUpdateId }
        default:
            break
        }
        return .unknown
    }

    private func parseValue(_ s: inout Scan, _ m: inout BinanceMessage, key: FieldKey, first c: UInt8,
                            nested: Bool) -> Bool {
        switch key {
        case .e:
            guard c == Ascii.quote else { return wrongTypeOrSkip(&s, c) }
            guard let text = readString(&s) else { return false }
            s.event = classifyEvent(text)
            // A stream this decoder does not use (kline, markPriceUpdate, 24hrTicker, …): its
            // other fields may reuse our keys with other types, so it is not read further.
            if s.event == .other { return s.fail(.unsupportedEvent) }
            s.has |= Has.e
        case .E:
            guard let v = readId(&s, c) else { return false }
            m.eventTime = v
            s.has |= Has.E
        case .T:
            guard let v = readId(&s, c) else { return false }
            m.transactionTime = v
            s.has |= Has.T
        case .t:
            guard let v = readId(&s, c) else { return false }
            m.tradeId = v
            s.has |= Has.t
        case .f:
            guard let v = readId(&s, c) else { return false }
            m.firstTradeId = v
            s.has |= Has.f
        case .l:
            guard let v = readId(&s, c) else { return false }
            m.lastTradeId = v
            s.has |= Has.l
        case .u:
            guard let v = readId(&s, c) else { return false }
            m.updateId = v
            s.has |= Has.u
        case .U:
            guard let v = readId(&s, c) else { return false }
            m.firstUpdateId = v
            s.has |= Has.U
        case .pu:
            guard let v = readId(&s, c) else { return false }
            m.previousFinalUpdateId = v
            s.has |= Has.pu
        case .lastUpdateId:
            guard let v = readId(&s, c) else { return false }
            m.updateId = v
            s.has |= Has.lastUpdateId
        case .s:
            guard c == Ascii.quote else { return wrongTypeOrSkip(&s, c) }
            guard let text = readString(&s) else { return false }
            if s.entryIndex >= 0 {
                // The stream name already chose an instrument: `s` must agree with it.
                guard unsafe table.matches(Int(s.entryIndex), text.start, text.count) else {
                    return s.fail(.unknownSymbol)
                }
            } else {
                let index = unsafe table.lookupIndex(text.start, text.count)
                guard index >= 0 else { return s.fail(.unknownSymbol) }
                setEntry(&s, index)
            }
            s.entryFromSymbol = true
            s.has |= Has.s
        case .p:
            guard c == Ascii.quote else { return s.fail(.wrongType) }
            if s.entryIndex >= 0 {
                guard let v = parseDecimal(&s, decimals: s.priceDecimals, scale: s.priceScale) else { return false }
                m.price = Price(units: v)
            } else {
                guard let text = readString(&s) else { return false }
                s.deferredP = text
                s.deferredMask |= Has.p
            }
            s.has |= Has.p
        case .q:
            guard c == Ascii.quote else { return s.fail(.wrongType) }
            if s.entryIndex >= 0 {
                guard let v = parseDecimal(&s, decimals: s.quantityDecimals, scale: s.quantityScale) else { return false }
                m.quantity = Quantity(units: v)
            } else {
                guard let text = readString(&s) else { return false }
                s.deferredQ = text
                s.deferredMask |= Has.q
            }
            s.has |= Has.q
        case .B:
            guard c == Ascii.quote else { return s.fail(.wrongType) }
            if s.entryIndex >= 0 {
                guard let v = parseDecimal(&s, decimals: s.quantityDecimals, scale: s.quantityScale) else { return false }
                m.bidQuantity = Quantity(units: v)
            } else {
                guard let text = readString(&s) else { return false }
                s.deferredBidQty = text
                s.deferredMask |= Has.bidQty
            }
            s.has |= Has.bidQty
        case .A:
            guard c == Ascii.quote else { return s.fail(.wrongType) }
            if s.entryIndex >= 0 {
                guard let v = parseDecimal(&s, decimals: s.quantityDecimals, scale: s.quantityScale) else { return false }
                m.askQuantity = Quantity(units: v)
            } else {
                guard let text = readString(&s) else { return false }
                s.deferredAskQty = text
                s.deferredMask |= Has.askQty
            }
            s.has |= Has.askQty
        case .b:
            // A best-bid price (bookTicker) or the bid levels (depthUpdate).
            if c == Ascii.openBracket { return levelsValue(&s, bidSide: true) }
            guard c == Ascii.quote else { return s.fail(.wrongType) }
            if s.entryIndex >= 0 {
                guard let v = parseDecimal(&s, decimals: s.priceDecimals, scale: s.priceScale) else { return false }
                m.bidPrice = Price(units: v)
            } else {
                guard let text = readString(&s) else { return false }
                s.deferredBidPrice = text
                s.deferredMask |= Has.bidPrice
            }
            s.has |= Has.bidPrice
        case .a:
            // A best-ask price (bookTicker), the ask levels (depthUpdate) or the aggregate trade id.
            if c == Ascii.openBracket { return levelsValue(&s, bidSide: false) }
            if c == Ascii.quote {
                if s.entryIndex >= 0 {
                    guard let v = parseDecimal(&s, decimals: s.priceDecimals, scale: s.priceScale) else { return false }
                    m.askPrice = Price(units: v)
                } else {
                    guard let text = readString(&s) else { return false }
                    s.deferredAskPrice = text
                    s.deferredMask |= Has.askPrice
                }
                s.has |= Has.askPrice
                return true
            }
            guard let v = readId(&s, c) else { return false }
            m.tradeId = v
            s.has |= Has.aggId
        case .bids:
            guard c == Ascii.openBracket else { return s.fail(.wrongType) }
            return levelsValue(&s, bidSide: true)
        case .asks:
            guard c == Ascii.openBracket else { return s.fail(.wrongType) }
            return levelsValue(&s, bidSide: false)
        case .m:
            if c == Ascii.t, matchLiteral(&s, "true") {
                m.buyerIsMaker = true
            } else if c == Ascii.f, matchLiteral(&s, "false") {
                m.buyerIsMaker = false
            } else {
                return s.error == nil ? s.fail(.wrongType) : false
            }
            s.has |= Has.m
        case .stream:
            guard !nested else { return skipValue(&s, c) }
            guard c == Ascii.quote else { return s.fail(.wrongType) }
            guard let text = readString(&s) else { return false }
            s.has |= Has.stream
            // "<symbol>@<stream>": the symbol chooses the instrument unless `s` already did.
            var symbolLength = 0
            while symbolLength < text.count && text.byte(symbolLength) != Ascii.at { symbolLength += 1 }
            if !s.entryFromSymbol {
                let index = unsafe table.lookupIndex(text.start, symbolLength)
                if index >= 0 { setEntry(&s, index) }
            }
        case .data:
            guard !nested else { return skipValue(&s, c) }
            guard c == Ascii.openBrace else { return s.fail(.wrongType) }
            s.has |= Has.data
            return parseObject(&s, &m, nested: true)
        case .result:
            if c == Ascii.n {
                guard matchLiteral(&s, "null") else { return false }
                m.resultIsNull = true
            } else {
                guard skipValue(&s, c) else { return false }
            }
            s.has |= Has.result
        case .id:
            if c == Ascii.minus || (c &- Ascii.zero) < 10 {
                guard let v = readInteger(&s) else { return false }
                m.requestId = v
                m.requestIdIsNumber = true
            } else {
                guard skipValue(&s, c) else { return false }
                m.requestIdIsNumber = false
            }
            s.has |= Has.id
        case .code:
            guard c == Ascii.minus || (c &- Ascii.zero) < 10 else { return s.fail(.wrongType) }
            guard let v = readInteger(&s) else { return false }
            m.errorCode = v
            s.has |= Has.code
        case .unknown:
            return skipValue(&s, c)
        }
        return true
    }

    @inline(__always)
    private func setEntry(_ s: inout Scan, _ index: Int) {
        let entry = table.entry(at: index)
        s.entryIndex = Int32(index)
        s.priceDecimals = Int(entry.priceDecimals)
        s.quantityDecimals = Int(entry.quantityDecimals)
        s.priceScale = Self.powerOfTen(entry.priceDecimals)
        s.quantityScale = Self.powerOfTen(entry.quantityDecimals)
    }

    /// 10^decimals for the table's scales (≤ 18, checked when the table is built), as a
    /// switch the optimiser turns into a table load: this runs for every message, where
    /// `DecimalScale.multiplier`'s loop cost a dozen multiplies and a mispredicted exit.
    @inline(__always)
    private static func powerOfTen(_ decimals: UInt8) -> Int64 {
        switch decimals {
        case 0: 1
        case 1: 10
        case 2: 100
        case 3: 1_000
        case 4: 10_000
        case 5: 100_000
        case 6: 1_000_000
        case 7: 10_000_000
        case 8: 100_000_000
        case 9: 1_000_000_000
        case 10: 10_000_000_000
        case 11: 100_000_000_000
        case 12: 1_000_000_000_000
        case 13: 10_000_000_000_000
        case 14: 100_000_000_000_000
        case 15: 1_000_000_000_000_000
        case 16: 10_000_000_000_000_000
        case 17: 100_000_000_000_000_000
        default: 1_000_000_000_000_000_000
        }
    }

    /// A known key with a value of the wrong type: counted as such (the value is not skipped).
    private func wrongTypeOrSkip(_ s: inout Scan, _ c: UInt8) -> Bool { s.fail(.wrongType) }

    private func classifyEvent(_ text: StringRef) -> EventType {
        switch text.count {
        case 5: if text.equals("trade") { return .trade }
        case 8: if text.equals("aggTrade") { return .aggTrade }
        case 10: if text.equals("bookTicker") { return .bookTicker }
        case 11: if text.equals("depthUpdate") { return .depthUpdate }
        case 14: if text.equals("serverShutdown") { return .serverShutdown }
        default: break
        }
        return .other
    }

    /// The level array at the cursor: parsed now when the scales are known, else skipped
    /// and parsed in `finish`.
    @inline(__always)
    private func levelsValue(_ s: inout Scan, bidSide: Bool) -> Bool {
        if bidSide { s.has |= Has.bids } else { s.has |= Has.asks }
        if s.entryIndex >= 0 {
            return parseLevels(&s, into: bidSide ? bids : asks)
        }
        if bidSide {
            s.deferredBidsPos = s.pos
            s.deferredMask |= Has.bids
        } else {
            s.deferredAsksPos = s.pos
            s.deferredMask |= Has.asks
        }
        return skipValue(&s, Ascii.openBracket)
    }

    // MARK: - Completion

    private func finish(_ s: inout Scan, _ m: inout BinanceMessage, _ fallback: Int32) -> Bool {
        let has = s.has
        let kind: BinanceMessageKind
        var required: UInt32 = 0
        switch s.event {
        case .trade:
            kind = .trade
            required = Has.t | Has.p | Has.q | Has.m
        case .aggTrade:
            kind = .aggTrade
            required = Has.aggId | Has.p | Has.q | Has.m
        case .bookTicker:
            kind = .bookTicker
            required = Has.u | Has.bidPrice | Has.bidQty | Has.askPrice | Has.askQty
        case .depthUpdate:
            kind = .depthUpdate
            required = Has.U | Has.u | Has.bids | Has.asks
        case .serverShutdown:
            kind = .serverShutdown
        case .other:
            return s.fail(.unsupportedEvent)
        case .none:
            if has & (Has.result | Has.code) != 0 && has & (Has.stream | Has.data) == 0 {
                guard has & Has.id != 0 else { return s.fail(.missingField) }
                kind = has & Has.code != 0 ? .errorReply : .controlReply
            } else if has & (Has.u | Has.bidPrice | Has.askPrice) == Has.u | Has.bidPrice | Has.askPrice {
                kind = .bookTicker
                required = Has.bidQty | Has.askQty
            } else if has & Has.lastUpdateId != 0 && has & (Has.bids | Has.asks) != 0 {
                kind = .depthSnapshot
                required = Has.bids | Has.asks
            } else {
                return s.fail(.unknownMessage)
            }
        }
        guard has & required == required else { return s.fail(.missingField) }
        m.kindRaw = kind.rawValue
        m.hasPreviousFinalUpdateId = has & Has.pu != 0
        let needsInstrument = kind != .controlReply && kind != .errorReply && kind != .serverShutdown
        // Only a depth snapshot (REST body, bare partial-depth stream) names no symbol by design;
        // any other message without one is refused, never pinned on the fallback instrument.
        if s.entryIndex < 0 && fallback >= 0 && kind == .depthSnapshot && has & Has.stream == 0 && Int(fallback) < table.count {
            setEntry(&s, Int(fallback))
        }
        if needsInstrument {
            guard s.entryIndex >= 0 else { return s.fail(has & Has.stream != 0 ? .unknownSymbol : .noSymbol) }
            let entry = table.entry(at: Int(s.entryIndex))
            m.instrumentIndex = s.entryIndex
            m.instrument = entry.id
            m.priceDecimals = entry.priceDecimals
            m.quantityDecimals = entry.quantityDecimals
        }
        if s.deferredMask != 0 { guard resolveDeferred(&s, &m) else { return false } }
        // Levels of a message that is not a depth message must not linger as if they were.
        if kind != .depthUpdate && kind != .depthSnapshot {
            bids.removeAll()
            asks.removeAll()
        } else {
            if has & Has.bids == 0 { bids.removeAll() }
            if has & Has.asks == 0 { asks.removeAll() }
        }
        let time = has & Has.T != 0 ? m.transactionTime : m.eventTime
        let (ns, overflow) = time.multipliedReportingOverflow(by: venueTimeUnitNs)
        guard !overflow, ns <= UInt64(Int64.max) else { return s.fail(.badNumber) }
        m.venueTimeNs = WallNanos(Int64(ns))
        return true
    }

    private func resolveDeferred(_ s: inout Scan, _ m: inout BinanceMessage) -> Bool {
        let mask = s.deferredMask
        let pd = s.priceDecimals, qd = s.quantityDecimals
        if mask & Has.p != 0 {
            guard let v = decimalValue(&s, s.deferredP, pd) else { return false }
            m.price = Price(units: v)
        }
        if mask & Has.q != 0 {
            guard let v = decimalValue(&s, s.deferredQ, qd) else { return false }
            m.quantity = Quantity(units: v)
        }
        if mask & Has.bidPrice != 0 {
            guard let v = decimalValue(&s, s.deferredBidPrice, pd) else { return false }
            m.bidPrice = Price(units: v)
        }
        if mask & Has.bidQty != 0 {
            guard let v = decimalValue(&s, s.deferredBidQty, qd) else { return false }
            m.bidQuantity = Quantity(units: v)
        }
        if mask & Has.askPrice != 0 {
            guard let v = decimalValue(&s, s.deferredAskPrice, pd) else { return false }
            m.askPrice = Price(units: v)
        }
        if mask & Has.askQty != 0 {
            guard let v = decimalValue(&s, s.deferredAskQty, qd) else { return false }
            m.askQuantity = Quantity(units: v)
        }
        if mask & Has.bids != 0 {
            s.pos = s.deferredBidsPos
            guard parseLevels(&s, into: bids) else { return false }
        }
        if mask & Has.asks != 0 {
            s.pos = s.deferredAsksPos
            guard parseLevels(&s, into: asks) else { return false }
        }
        return true
    }

    @inline(__always)
    private func decimalValue(_ s: inout Scan, _ text: StringRef, _ decimals: Int) -> Int64? {
        guard let v = Self.parseDecimal(text, decimals: decimals) else {
            _ = s.fail(.badDecimal)
            return nil
        }
        return v
    }

    // MARK: - Values

    /// The depth level array `[[px,qty],…]` at the cursor, into `buffer`.
    private func parseLevels(_ s: inout Scan, into buffer: LevelBuffer) -> Bool {
        s.pos += 1
        var n = 0
        buffer.countStorage = 0
        var c = s.skipWhitespace()
        if c == Ascii.closeBracket {
            s.pos += 1
            return true
        }
        let pd = s.priceDecimals, qd = s.quantityDecimals
        let ps = s.priceScale, qs = s.quantityScale
        let capacity = buffer.capacity
        while true {
            // Binance's level layout, ["<price>","<quantity>"], without whitespace: matched
            // directly; anything else is parsed by the general code below from the same place.
            let levelStart = s.pos
            if c == Ascii.openBracket && s.pos + 1 < s.end && s.load(s.pos + 1) == Ascii.quote && n < capacity {
                s.pos += 1
                if let price = tryFastDecimal(&s, decimals: pd, scale: ps), s.pos + 2 < s.end,
                   s.load(s.pos) == Ascii.comma, s.load(s.pos + 1) == Ascii.quote {
                    s.pos += 1
                    if let quantity = tryFastDecimal(&s, decimals: qd, scale: qs), s.pos + 1 < s.end,
                       s.load(s.pos) == Ascii.closeBracket {
                        unsafe buffer.storage[n] = BookLevel(price: Price(units: price), quantity: Quantity(units: quantity))
                        n += 1
                        let next = s.load(s.pos + 1)
                        if next == Ascii.comma {
                            s.pos += 2
                            c = s.skipWhitespace()
                            continue
                        }
                        if next == Ascii.closeBracket {
                            s.pos += 2
                            buffer.countStorage = n
                            return true
                        }
                        s.pos += 1
                        c = s.skipWhitespace()
                        guard c == Ascii.comma || c == Ascii.closeBracket else { return s.failHere() }
                        s.pos += 1
                        if c == Ascii.closeBracket {
                            buffer.countStorage = n
                            return true
                        }
                        c = s.skipWhitespace()
                        continue
                    }
                }
                s.pos = levelStart
            }
            guard c == Ascii.openBracket else { return s.pos >= s.end ? s.fail(.truncated) : s.fail(.wrongType) }
            s.pos += 1
            c = s.skipWhitespace()
            guard c == Ascii.quote else { return s.pos >= s.end ? s.fail(.truncated) : s.fail(.wrongType) }
            guard let price = parseDecimal(&s, decimals: pd, scale: ps) else { return false }
            c = s.skipWhitespace()
            guard c == Ascii.comma else { return c == Ascii.closeBracket ? s.fail(.missingField) : s.failHere() }
            s.pos += 1
            c = s.skipWhitespace()
            guard c == Ascii.quote else { return s.pos >= s.end ? s.fail(.truncated) : s.fail(.wrongType) }
            guard let quantity = parseDecimal(&s, decimals: qd, scale: qs) else { return false }
            c = s.skipWhitespace()
            // A level with more elements than price and quantity: the extras are skipped.
            while c == Ascii.comma {
                s.pos += 1
                guard skipValue(&s, s.skipWhitespace()) else { return false }
                c = s.skipWhitespace()
            }
            guard c == Ascii.closeBracket else { return s.failHere() }
            s.pos += 1
            guard n < capacity else { return s.fail(.tooManyLevels) }
            unsafe buffer.storage[n] = BookLevel(price: Price(units: price), quantity: Quantity(units: quantity))
            n += 1
            c = s.skipWhitespace()
            if c == Ascii.comma {
                s.pos += 1
                c = s.skipWhitespace()
                continue
            }
            guard c == Ascii.closeBracket else { return s.failHere() }
            s.pos += 1
            buffer.countStorage = n
            return true
        }
    }

    /// Binance's shape, "<1–7 digits>.<8 digits>" with the closing quote, without a loop: both
    /// parts as words. nil (nothing consumed, no error recorded) for any other shape.
    /// Wrapping arithmetic and masking shifts throughout: every offset is bounded by the
    /// checks before it, and overflow traps would cost a branch each on the hottest path.
    @inline(__always)
    private func tryFastDecimal(_ s: inout Scan, decimals: Int, scale: Int64) -> Int64? {
        let start = s.pos &+ 1
        let end = s.end
        guard start &+ 8 <= end, UInt(bitPattern: decimals &- 1) < 8 else { return nil }
        let head = unsafe s.base.loadUnaligned(fromByteOffset: start, as: UInt64.self)
        let flipped = head ^ 0x3030_3030_3030_3030
        let nonDigit = (((flipped & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7676_7676_7676_7676) | flipped) & 0x8080_8080_8080_8080
        let integerDigits = nonDigit.trailingZeroBitCount &>> 3  // 0...8
        let dot = start &+ integerDigits
        let integerBits = UInt64(truncatingIfNeeded: integerDigits &<< 3)
        // 1...7 integer digits, then the point (still inside `head`), 8 digits and the quote.
        guard UInt(bitPattern: integerDigits &- 1) < 7, (head &>> integerBits) & 0xFF == UInt64(Ascii.dot),
              dot &+ 9 < end, s.load(dot &+ 9) == Ascii.quote else { return nil }
        let word = unsafe s.base.loadUnaligned(fromByteOffset: dot &+ 1, as: UInt64.self)
        // Digits beyond the scale (bytes decimals..<8) must be '0'; decimals is 1...8, so
        // the shift is 8...64 and a masking shift of 64 (== 0) has to become "no bytes".
        let fractionBits = UInt64(truncatingIfNeeded: decimals &<< 3)
        let beyond: UInt64 = decimals == 8 ? 0 : ~0 &<< fractionBits
        guard Self.isEightDigits(word), word & beyond == 0x3030_3030_3030_3030 & beyond else { return nil }
        // Right-align the kept digits behind '0' padding (for decimals 8 the padding shift
        // masks to 0 and ORs '0' into digits, which leaves them unchanged).
        let integer = (head &<< (64 &- integerBits)) | (0x3030_3030_3030_3030 &>> integerBits)
        let kept = (word &<< (64 &- fractionBits)) | (0x3030_3030_3030_3030 &>> fractionBits)
        s.pos = dot &+ 10
        return Int64(bitPattern: Self.eightDigitsValue(integer)) &* scale &+ Int64(bitPattern: Self.eightDigitsValue(kept))
    }

    /// A decimal string at the cursor (opening quote) straight to fixed point at `decimals`,
    /// in one pass. Fraction digits beyond the scale must be zeros.
    ///
    /// Binance writes 8 fraction digits: those are converted 8 at a time (SWAR) when the
    /// scale is at most 8, the extra digits checked to be zeros in the same word.
    /// Out of line: the known layouts try `tryFastDecimal` first, and inlining this general
    /// code into every caller only made the hot loops bigger.
    @inline(never)
    private func parseDecimal(_ s: inout Scan, decimals: Int, scale: Int64) -> Int64? {
        let start = s.pos + 1
        var p = start
        let end = s.end
        if let v = tryFastDecimal(&s, decimals: decimals, scale: scale) { return v }
        // Every decimal read here is a price or a quantity, never negative at the venue: a
        // sign means a broken message, not a short position.
        if p < end && s.load(p) == Ascii.minus {
            _ = s.fail(.badDecimal)
            return nil
        }
        var value: Int64 = 0
        var digits = 0
        while p < end {
            let d = s.load(p) &- Ascii.zero
            if d > 9 { break }
            value = value &* 10 &+ Int64(d)
            digits += 1
            p += 1
        }
        if p + 9 < end && decimals <= 8 && digits > 0 && digits + decimals <= 18 && s.load(p) == Ascii.dot
            && s.load(p + 9) == Ascii.quote {
            let word = unsafe s.base.loadUnaligned(fromByteOffset: p + 1, as: UInt64.self)
            if Self.isEightDigits(word) {
                // Bytes decimals..<8 (the digits beyond the scale) must be '0'.
                let beyond: UInt64 = ~0 << UInt64(8 * decimals)
                guard word & beyond == 0x3030_3030_3030_3030 & beyond else {
                    _ = s.fail(.badDecimal)
                    return nil
                }
                // Keep the first `decimals` digits, right-aligned behind '0' padding.
                let kept = (word << UInt64(8 * (8 - decimals))) | (0x3030_3030_3030_3030 >> UInt64(8 * decimals))
                let fraction = Int64(Self.eightDigitsValue(kept))
                s.pos = p + 10
                return value &* scale &+ fraction
            }
        }
        var fraction = 0
        var sawDigit = digits > 0
        if p < end && s.load(p) == Ascii.dot {
            p += 1
            while p < end {
                let d = s.load(p) &- Ascii.zero
                if d > 9 { break }
                sawDigit = true
                if fraction < decimals {
                    value = value &* 10 &+ Int64(d)
                    fraction += 1
                    digits += 1
                } else if d != 0 {
                    _ = s.fail(.badDecimal)  // precision beyond the instrument's scale
                    return nil
                }
                p += 1
            }
        }
        guard p < end else {
            _ = s.fail(.truncated)
            return nil
        }
        let close = s.load(p)
        if close != Ascii.quote || !sawDigit || digits + (decimals - fraction) > 18 {
            // Escapes, overflow risk (more than 18 digits) or malformed: the careful path.
            if close == Ascii.backslash || (close == Ascii.quote && sawDigit) {
                guard let text = readString(&s) else { return nil }
                return decimalValue(&s, text, decimals)
            }
            _ = s.fail(close == Ascii.quote || (close &- Ascii.zero) < 10 || close == Ascii.dot ? .badDecimal : .badDecimal)
            return nil
        }
        while fraction < decimals {
            value = value &* 10
            fraction += 1
        }
        s.pos = p + 1
        return value
    }

    /// High bit set in each zero byte of `w` (exact up to the first zero byte).
    @inline(__always)
    private static func zeroBytes(_ w: UInt64) -> UInt64 {
        (w &- 0x0101_0101_0101_0101) & ~w & 0x8080_8080_8080_8080
    }

    @inline(__always)
    private static func isEightDigits(_ w: UInt64) -> Bool {
        (w & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030
            && ((w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030
    }

    /// The value of 8 ASCII digits in a little-endian word (first digit in the low byte).
    @inline(__always)
    private static func eightDigitsValue(_ w: UInt64) -> UInt64 {
        var v = w &- 0x3030_3030_3030_3030
        v = (v &* 10) &+ (v >> 8)
        v = (((v & 0x0000_00FF_0000_00FF) &* 0x000F_4240_0000_0064)
            &+ (((v >> 16) & 0x0000_00FF_0000_00FF) &* 0x0000_2710_0000_0001)) >> 32
        return v
    }

    /// A non-negative decimal held in a string ref (a price or quantity), with overflow
    /// checks (deferred and escaped values).
    private static func parseDecimal(_ text: StringRef, decimals: Int) -> Int64? {
        var i = 0
        if text.count > 0 && text.byte(0) == Ascii.minus { return nil }
        if text.count > 0 && text.byte(0) == Ascii.plus { i = 1 }
        var value: Int64 = 0
        var fraction = 0
        var sawDigit = false
        var sawPoint = false
        while i < text.count {
            let b = text.byte(i)
            i += 1
            if b == Ascii.dot {
                if sawPoint { return nil }
                sawPoint = true
                continue
            }
            let d = b &- Ascii.zero
            guard d <= 9 else { return nil }
            sawDigit = true
            if sawPoint {
                if fraction == decimals {
                    if d != 0 { return nil }
                    continue
                }
                fraction += 1
            }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = a
        }
        guard sawDigit else { return nil }
        while fraction < decimals {
            let (m, o) = value.multipliedReportingOverflow(by: 10)
            if o { return nil }
            value = m
            fraction += 1
        }
        return value
    }

    /// A non-negative integer id or time at the cursor (out of line: `tryFastId` comes first
    /// in the known layouts).
    @inline(never)
    private func readId(_ s: inout Scan, _ c: UInt8) -> UInt64? {
        guard (c &- Ascii.zero) < 10 else {
            _ = s.fail(c == Ascii.minus ? .badNumber : (s.pos >= s.end ? .truncated : .wrongType))
            return nil
        }
        var p = s.pos
        var value: UInt64 = 0
        var digits = 0
        while p < s.end {
            let d = s.load(p) &- Ascii.zero
            if d > 9 { break }
            value = value &* 10 &+ UInt64(d)
            digits += 1
            p += 1
        }
        if p < s.end {
            let next = s.load(p)
            if next == Ascii.dot || next == Ascii.lowerE || next == Ascii.upperE || digits > 18 {
                guard let v = readInteger(&s), v >= 0 else {
                    if s.error == nil { _ = s.fail(.badNumber) }
                    return nil
                }
                return UInt64(v)
            }
        } else if digits > 18 {
            guard let v = readInteger(&s), v >= 0 else { return nil }
            return UInt64(v)
        }
        s.pos = p
        return value
    }

    /// A JSON number at the cursor that must be an exact Int64 (fraction and exponent allowed
    /// when the value stays integral).
    private func readInteger(_ s: inout Scan) -> Int64? {
        var p = s.pos
        var negative = false
        if p < s.end && s.load(p) == Ascii.minus {
            negative = true
            p += 1
        }
        var mantissa: Int64 = 0
        var scale = 0  // value = mantissa × 10^scale
        var digits = 0
        var overflow = false
        while p < s.end, (s.load(p) &- Ascii.zero) < 10 {
            let (m, o1) = mantissa.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(s.load(p) &- Ascii.zero))
            overflow = overflow || o1 || o2
            mantissa = a
            digits += 1
            p += 1
        }
        guard digits > 0 else {
            _ = s.fail(p >= s.end ? .truncated : .badNumber)
            return nil
        }
        if p < s.end && s.load(p) == Ascii.dot {
            p += 1
            var fractionDigits = 0
            while p < s.end, (s.load(p) &- Ascii.zero) < 10 {
                let (m, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(s.load(p) &- Ascii.zero))
                overflow = overflow || o1 || o2
                mantissa = a
                scale -= 1
                fractionDigits += 1
                p += 1
            }
            guard fractionDigits > 0 else {
                _ = s.fail(p >= s.end ? .truncated : .badNumber)
                return nil
            }
        }
        if p < s.end && (s.load(p) == Ascii.lowerE || s.load(p) == Ascii.upperE) {
            p += 1
            var exponentNegative = false
            if p < s.end && (s.load(p) == Ascii.minus || s.load(p) == Ascii.plus) {
                exponentNegative = s.load(p) == Ascii.minus
                p += 1
            }
            var exponent = 0
            var exponentDigits = 0
            while p < s.end, (s.load(p) &- Ascii.zero) < 10 {
                exponent = min(exponent * 10 + Int(s.load(p) &- Ascii.zero), 10_000)
                exponentDigits += 1
                p += 1
            }
            guard exponentDigits > 0 else {
                _ = s.fail(p >= s.end ? .truncated : .badNumber)
                return nil
            }
            scale += exponentNegative ? -exponent : exponent
        }
        guard !overflow else {
            _ = s.fail(.badNumber)
            return nil
        }
        while scale < 0 && mantissa != 0 && mantissa % 10 == 0 {
            mantissa /= 10
            scale += 1
        }
        if mantissa == 0 { scale = 0 }
        guard scale >= 0, scale <= 19 else {
            _ = s.fail(.badNumber)
            return nil
        }
        for _ in 0..<scale {
            let (m, o) = mantissa.multipliedReportingOverflow(by: 10)
            guard !o else {
                _ = s.fail(.badNumber)
                return nil
            }
            mantissa = m
        }
        s.pos = p
        return negative ? -mantissa : mantissa
    }

    /// Consumes `literal` at the cursor.
    private func matchLiteral(_ s: inout Scan, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        for i in 0..<n {
            guard s.pos + i < s.end else { return s.fail(.truncated) }
            guard unsafe s.load(s.pos + i) == literal.utf8Start[i] else { return s.fail(.syntax) }
        }
        s.pos += n
        return true
    }

    /// The string at the cursor (opening quote), unescaped into the scratch area when needed.
    private func readString(_ s: inout Scan) -> StringRef? {
        let start = s.pos + 1
        var p = start
        while p < s.end {
            let b = s.load(p)
            if b == Ascii.quote {
                s.pos = p + 1
                return unsafe StringRef(start: s.base + start, count: p - start)
            }
            if b == Ascii.backslash { break }
            if b < 0x20 {
                _ = s.fail(.badString)
                return nil
            }
            p += 1
        }
        guard p < s.end else {
            _ = s.fail(.truncated)
            return nil
        }
        // Escapes: copy what came before, then unescape the rest into the scratch area.
        let outStart = s.scratchUsed
        var out = outStart
        func put(_ b: UInt8, _ out: inout Int) -> Bool {
            guard out < scratchCapacity else { return false }
            unsafe scratch.storeBytes(of: b, toByteOffset: out, as: UInt8.self)
            out += 1
            return true
        }
        for i in start..<p {
            guard put(s.load(i), &out) else {
                _ = s.fail(.badString)
                return nil
            }
        }
        while true {
            guard p < s.end else {
                _ = s.fail(.truncated)
                return nil
            }
            let b = s.load(p)
            if b == Ascii.quote { break }
            if b < 0x20 {
                _ = s.fail(.badString)
                return nil
            }
            if b != Ascii.backslash {
                guard put(b, &out) else {
                    _ = s.fail(.badString)
                    return nil
                }
                p += 1
                continue
            }
            guard p + 1 < s.end else {
                _ = s.fail(.truncated)
                return nil
            }
            let e = s.load(p + 1)
            p += 2
            var decoded: UInt8 = 0
            switch e {
            case Ascii.quote, Ascii.backslash, 0x2F: decoded = e
            case 0x62: decoded = 0x08
            case 0x66: decoded = 0x0C
            case 0x6E: decoded = 0x0A
            case 0x72: decoded = 0x0D
            case 0x74: decoded = 0x09
            case 0x75:
                guard var scalar = hex4(&s, p) else { return nil }
                p += 4
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard p + 6 <= s.end else {
                        _ = s.fail(.truncated)
                        return nil
                    }
                    guard s.load(p) == Ascii.backslash, s.load(p + 1) == 0x75, let low = hex4(&s, p + 2),
                          low >= 0xDC00 && low < 0xE000 else {
                        _ = s.fail(.badString)
                        return nil
                    }
                    p += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    _ = s.fail(.badString)
                    return nil
                }
                var ok = true
                if scalar < 0x80 {
                    ok = put(UInt8(scalar), &out)
                } else if scalar < 0x800 {
                    ok = put(UInt8(0xC0 | (scalar >> 6)), &out) && put(UInt8(0x80 | (scalar & 0x3F)), &out)
                } else if scalar < 0x10000 {
                    ok = put(UInt8(0xE0 | (scalar >> 12)), &out) && put(UInt8(0x80 | ((scalar >> 6) & 0x3F)), &out)
                        && put(UInt8(0x80 | (scalar & 0x3F)), &out)
                } else {
                    ok = put(UInt8(0xF0 | (scalar >> 18)), &out) && put(UInt8(0x80 | ((scalar >> 12) & 0x3F)), &out)
                        && put(UInt8(0x80 | ((scalar >> 6) & 0x3F)), &out) && put(UInt8(0x80 | (scalar & 0x3F)), &out)
                }
                guard ok else {
                    _ = s.fail(.badString)
                    return nil
                }
                continue
            default:
                _ = s.fail(.badString)
                return nil
            }
            guard put(decoded, &out) else {
                _ = s.fail(.badString)
                return nil
            }
        }
        s.pos = p + 1
        s.scratchUsed = out
        return unsafe StringRef(start: UnsafeRawPointer(scratch + outStart), count: out - outStart)
    }

    private func hex4(_ s: inout Scan, _ at: Int) -> UInt32? {
        guard at + 4 <= s.end else {
            _ = s.fail(.truncated)
            return nil
        }
        var v: UInt32 = 0
        for i in 0..<4 {
            let b = s.load(at + i)
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default:
                _ = s.fail(.badString)
                return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// Skips any JSON value whose first byte `c` is at the cursor.
    private func skipValue(_ s: inout Scan, _ c: UInt8) -> Bool {
        switch c {
        case Ascii.quote:
            return skipString(&s)
        case Ascii.openBrace, Ascii.openBracket:
            // Bit i of `stack` is 1 when nesting level i is an object.
            var stack: UInt64 = 0
            var depth = 0
            var p = s.pos
            while p < s.end {
                let b = s.load(p)
                switch b {
                case Ascii.quote:
                    s.pos = p
                    guard skipString(&s) else { return false }
                    p = s.pos
                    continue
                case Ascii.openBrace, Ascii.openBracket:
                    guard depth < 64 else { return s.fail(.nestingTooDeep) }
                    stack = stack << 1 | (b == Ascii.openBrace ? 1 : 0)
                    depth += 1
                case Ascii.closeBrace, Ascii.closeBracket:
                    guard depth > 0, (stack & 1 == 1) == (b == Ascii.closeBrace) else {
                        s.pos = p
                        return s.fail(.syntax)
                    }
                    stack >>= 1
                    depth -= 1
                    if depth == 0 {
                        s.pos = p + 1
                        return true
                    }
                default:
                    break
                }
                p += 1
            }
            s.pos = p
            return s.fail(.truncated)
        case Ascii.t:
            return matchLiteral(&s, "true")
        case Ascii.f:
            return matchLiteral(&s, "false")
        case Ascii.n:
            return matchLiteral(&s, "null")
        case Ascii.minus, 0x30...0x39:
            var p = s.pos + 1
            while p < s.end {
                let b = s.load(p)
                guard (b &- Ascii.zero) < 10 || b == Ascii.dot || b == Ascii.lowerE || b == Ascii.upperE
                    || b == Ascii.plus || b == Ascii.minus else { break }
                p += 1
            }
            s.pos = p
            return true
        default:
            return s.failHere()
        }
    }

    @inline(__always)
    private func skipString(_ s: inout Scan) -> Bool {
        var p = s.pos + 1
        while p < s.end {
            let b = s.load(p)
            if b == Ascii.quote {
                s.pos = p + 1
                return true
            }
            p += b == Ascii.backslash ? 2 : 1
        }
        s.pos = s.end
        return s.fail(.truncated)
    }
}
