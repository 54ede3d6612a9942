// `tickline indicators FILE.csv`: OHLCV CSV in, one row of indicator values per bar out.
// Cold path (String building is fine here); the indicators themselves are the hot-path types.

/// A problem in the input CSV, with the 1-based line and column where it was found.
public struct IndicatorCSVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Sendable, Hashable {
        /// The input has no lines at all, or the header line is empty.
        case missingHeader
        /// A header field is not the expected column name.
        case unexpectedHeaderField(expected: String, found: String)
        /// A line has the wrong number of comma-separated fields.
        case wrongColumnCount(expected: Int, found: Int)
        /// A price or volume field is not a decimal number.
        case notANumber(String)
        /// A price or volume field is NaN or infinite.
        case notFinite(String)
        /// The timestamp is neither an integer epoch (s, ms, µs or ns) nor ISO-8601.
        case badTimestamp(String)
        /// The timestamp is before the previous bar's.
        case timestampBeforePrevious(String, previous: String)
        /// high < low.
        case highBelowLow(high: Double, low: Double)
        /// open or close outside [low, high].
        case outsideRange(field: String, value: Double, low: Double, high: Double)
        /// volume < 0.
        case negativeVolume(Double)
    }

    /// 1-based line of the input (the header is line 1).
    public let line: Int
    /// 1-based column (field) of the line.
    public let column: Int
    public let reason: Reason

    public init(line: Int, column: Int, reason: Reason) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        let name = column >= 1 && column <= IndicatorCSV.inputColumns.count
            ? " (\(IndicatorCSV.inputColumns[column - 1]))" : ""
        let place = "line \(line), column \(column)\(name)"
        switch reason {
        case .missingHeader:
            return "\(place): missing header; expected '\(IndicatorCSV.inputHeader)'"
        case .unexpectedHeaderField(let expected, let found):
            return "\(place): header field is '\(found)', expected '\(expected)' (header must be '\(IndicatorCSV.inputHeader)')"
        case .wrongColumnCount(let expected, let found):
            return "line \(line), column \(column): expected \(expected) columns, found \(found)"
        case .notANumber(let text):
            return "\(place): '\(text)' is not a number"
        case .notFinite(let text):
            return "\(place): '\(text)' is not a finite number"
        case .badTimestamp(let text):
            return "\(place): '\(text)' is not a timestamp (integer epoch s/ms/us/ns or ISO-8601 like 2024-01-02T03:04:05Z)"
        case .timestampBeforePrevious(let text, let previous):
            return "\(place): timestamp '\(text)' is before the previous bar's '\(previous)'"
        case .highBelowLow(let high, let low):
            return "\(place): high \(high) is below low \(low)"
        case .outsideRange(let field, let value, let low, let high):
            return "\(place): \(field) \(value) is outside the bar's range [low \(low), high \(high)]"
        case .negativeVolume(let volume):
            return "\(place): volume \(volume) is negative"
        }
    }
}

/// The CSV transform behind `tickline indicators FILE.csv`.
///
/// Input: UTF-8 text, lines separated by LF or CRLF, a required header
/// `timestamp,open,high,low,close,volume` (names matched case-insensitively, spaces around
/// fields ignored, a leading byte-order mark skipped), then one bar per line; blank lines are
/// skipped (but counted for line numbers). Timestamps, non-decreasing, are either
/// - an integer Unix epoch whose unit is inferred from its magnitude: |t| < 10^11 seconds,
///   < 10^14 milliseconds, < 10^17 microseconds, otherwise nanoseconds; or
/// - ISO-8601 `YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH:MM]` (a space may replace `T`; no
///   zone means UTC; fraction up to 9 digits).
/// Prices must be finite with low <= open, close <= high; volume finite, >= 0.
///
/// Output: the header `outputHeader`, then one row per bar: the input timestamp text as
/// given, the close, and the indicators of `IndicatorSet` (VWAP resets at UTC midnight).
/// A cell is empty while its indicator warms up; `zscore_20` is also empty when the 20-bar
/// standard deviation is 0. Numbers are Swift's shortest round-trip `description` of Double.
public enum IndicatorCSV {
    /// The input columns, in order.
    public static let inputColumns = ["timestamp", "open", "high", "low", "close", "volume"]
    /// The required input header.
    public static let inputHeader = "timestamp,open,high,low,close,volume"
    /// The output header.
    public static let outputHeader =
        "timestamp,close,sma_20,ema_20,rsi_14,macd,macd_signal,macd_hist,bb_upper,bb_middle,bb_lower,atr_14,adx_14,plus_di_14,minus_di_14,stoch_k,stoch_d,vwap,zscore_20"

    /// Transforms a whole OHLCV CSV text into the indicator CSV text (ending with a newline).
    public static func transform(_ input: String) throws(IndicatorCSVError) -> String {
        var stream = IndicatorCSVStream()
        var output = ""
        output.reserveCapacity(input.utf8.count * 3 + 256)
        var lineStart = input.utf8.startIndex
        let end = input.utf8.endIndex
        var cursor = lineStart
        while cursor != end {
            if input.utf8[cursor] == UInt8(ascii: "\n") {
                try stream.process(line: input[lineStart..<cursor], into: &output)
                cursor = input.utf8.index(after: cursor)
                lineStart = cursor
            } else {
                cursor = input.utf8.index(after: cursor)
            }
        }
        if lineStart != end { try stream.process(line: input[lineStart..<end], into: &output) }
        try stream.finish()
        return output
    }
}

/// Line-by-line form of `IndicatorCSV.transform`, for files too big to hold: feed each input
/// line (without its line terminator; a trailing CR is ignored) to `process`, then call
/// `finish`. Output is appended to a caller-owned String that the caller may flush and
/// clear at any time.
public struct IndicatorCSVStream: Sendable {
    /// 1-based number of the last line processed (0 before the first).
    public private(set) var lineNumber: Int
    var sawHeader: Bool
    var previousTimestampNs: Int64
    var previousTimestampText: String
    var indicators: IndicatorSet

    /// A fresh stream. `vwapSession` chooses the VWAP reset (UTC midnight by default).
    public init(vwapSession: VWAPSession = .utcDay) {
        lineNumber = 0
        sawHeader = false
        previousTimestampNs = .min
        previousTimestampText = ""
        indicators = IndicatorSet(vwapSession: vwapSession)
    }

    /// Consumes one input line; appends the output header (for the input header) or one
    /// output row, each ending with "\n". Blank lines produce nothing.
    public mutating func process(line rawLine: Substring, into output: inout String) throws(IndicatorCSVError) {
        lineNumber += 1
        var line = rawLine
        if line.utf8.last == UInt8(ascii: "\r") { line = line[..<line.utf8.index(before: line.utf8.endIndex)] }
        if !sawHeader {
            if lineNumber == 1, line.unicodeScalars.first == "\u{FEFF}" {
                line = line[line.unicodeScalars.index(after: line.unicodeScalars.startIndex)...]
            }
            try checkHeader(line)
            sawHeader = true
            output += IndicatorCSV.outputHeader
            output += "\n"
            return
        }
        if trimmed(line).isEmpty { return }
        let fields = splitFields(line)
        guard fields.count == IndicatorCSV.inputColumns.count else {
            throw error(column: min(fields.count + 1, IndicatorCSV.inputColumns.count + 1),
                        .wrongColumnCount(expected: IndicatorCSV.inputColumns.count, found: fields.count))
        }
        let timestampText = trimmed(fields[0])
        guard let timestampNs = parseTimestampNs(timestampText) else {
            throw error(column: 1, .badTimestamp(String(timestampText)))
        }
        if timestampNs < previousTimestampNs {
            throw error(column: 1, .timestampBeforePrevious(String(timestampText), previous: previousTimestampText))
        }
        let open = try number(fields[1], column: 2)
        let high = try number(fields[2], column: 3)
        let low = try number(fields[3], column: 4)
        let close = try number(fields[4], column: 5)
        let volume = try number(fields[5], column: 6)
        guard high >= low else { throw error(column: 3, .highBelowLow(high: high, low: low)) }
        if open < low || open > high {
            throw error(column: 2, .outsideRange(field: "open", value: open, low: low, high: high))
        }
        if close < low || close > high {
            throw error(column: 5, .outsideRange(field: "close", value: close, low: low, high: high))
        }
        guard volume >= 0 else { throw error(column: 6, .negativeVolume(volume)) }
        previousTimestampNs = timestampNs
        previousTimestampText = String(timestampText)

        indicators.update(OHLCVBar(timestampNs: timestampNs, open: open, high: high, low: low, close: close, volume: volume))
        appendRow(timestampText, into: &output)
    }

    /// Consumes one input line; see `process(line:into:)` for a Substring.
    public mutating func process(line: String, into output: inout String) throws(IndicatorCSVError) {
        try process(line: line[...], into: &output)
    }

    /// Ends the input: throws `.missingHeader` if no line at all was seen.
    public func finish() throws(IndicatorCSVError) {
        if !sawHeader { throw IndicatorCSVError(line: 1, column: 1, reason: .missingHeader) }
    }

    func error(column: Int, _ reason: IndicatorCSVError.Reason) -> IndicatorCSVError {
        IndicatorCSVError(line: lineNumber, column: column, reason: reason)
    }

    func checkHeader(_ line: Substring) throws(IndicatorCSVError) {
        if trimmed(line).isEmpty { throw error(column: 1, .missingHeader) }
        let fields = splitFields(line)
        let expected = IndicatorCSV.inputColumns
        for (index, name) in expected.enumerated() {
            guard index < fields.count else {
                throw error(column: index + 1, .wrongColumnCount(expected: expected.count, found: fields.count))
            }
            let found = trimmed(fields[index])
            if found.lowercased() != name {
                if index == 0, Double(found) != nil || parseTimestampNs(found) != nil {
                    throw error(column: 1, .missingHeader)
                }
                throw error(column: index + 1, .unexpectedHeaderField(expected: name, found: String(found)))
            }
        }
        if fields.count != expected.count {
            throw error(column: expected.count + 1, .wrongColumnCount(expected: expected.count, found: fields.count))
        }
    }

    func number(_ field: Substring, column: Int) throws(IndicatorCSVError) -> Double {
        let text = trimmed(field)
        guard isDecimal(text), let value = Double(text) else { throw error(column: column, .notANumber(String(text))) }
        guard value.isFinite else { throw error(column: column, .notFinite(String(text))) }
        return value
    }

    mutating func appendRow(_ timestamp: Substring, into output: inout String) {
        let set = indicators
        output += timestamp
        append(set.close, to: &output)
        append(set.sma20, to: &output)
        append(set.ema.value, to: &output)
        append(set.rsi.value, to: &output)
        let macd = set.macd
        append(macd.line, to: &output)
        append(macd.signal, to: &output)
        append(macd.histogram, to: &output)
        let bands = set.bollinger
        append(bands.upper, to: &output)
        append(bands.middle, to: &output)
        append(bands.lower, to: &output)
        append(set.atr.value, to: &output)
        let adx = set.adx
        append(adx.value, to: &output)
        append(adx.plusDI, to: &output)
        append(adx.minusDI, to: &output)
        let stochastic = set.stochastic
        append(stochastic.k, to: &output)
        append(stochastic.d, to: &output)
        append(set.vwap.value, to: &output)
        append(set.zScore20, to: &output)
        output += "\n"
    }

    /// Appends "," and the value, or just "," for NaN (an empty cell).
    func append(_ value: Double, to output: inout String) {
        output += ","
        if !value.isNaN { output += value.description }
    }
}

// MARK: - Field parsing

/// Splits on commas (no quoting: the format has only numbers and timestamps).
func splitFields(_ line: Substring) -> [Substring] {
    line.split(separator: ",", omittingEmptySubsequences: false)
}

/// The field without surrounding spaces and tabs.
func trimmed(_ field: Substring) -> Substring {
    var start = field.utf8.startIndex
    var end = field.utf8.endIndex
    while start != end, field.utf8[start] == UInt8(ascii: " ") || field.utf8[start] == UInt8(ascii: "\t") {
        start = field.utf8.index(after: start)
    }
    while end != start {
        let before = field.utf8.index(before: end)
        guard field.utf8[before] == UInt8(ascii: " ") || field.utf8[before] == UInt8(ascii: "\t") else { break }
        end = before
    }
    return field[start..<end]
}

/// Whether the text is a plain decimal number: [+-]digits[.digits][e[+-]digits] (so that
/// Double's parser never sees hex floats, "nan" or "inf").
func isDecimal(_ text: Substring) -> Bool {
    var bytes = text.utf8[...]
    if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
    var digits = 0
    while let byte = bytes.first, isDigit(byte) { digits += 1; bytes = bytes.dropFirst() }
    if bytes.first == UInt8(ascii: ".") {
        bytes = bytes.dropFirst()
        while let byte = bytes.first, isDigit(byte) { digits += 1; bytes = bytes.dropFirst() }
    }
    guard digits > 0 else { return false }
    if let byte = bytes.first, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
        bytes = bytes.dropFirst()
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        var exponentDigits = 0
        while let byte = bytes.first, isDigit(byte) { exponentDigits += 1; bytes = bytes.dropFirst() }
        guard exponentDigits > 0 else { return false }
    }
    return bytes.isEmpty
}

func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

/// Parses an integer epoch (unit by magnitude) or an ISO-8601 timestamp into ns since the
/// Unix epoch; nil if it is neither or out of Int64 range.
func parseTimestampNs(_ text: Substring) -> Int64? {
    if let integer = Int64(text) {
        let magnitude = integer.magnitude
        let scale: Int64 =
            magnitude < 100_000_000_000 ? 1_000_000_000
            : magnitude < 100_000_000_000_000 ? 1_000_000
            : magnitude < 100_000_000_000_000_000 ? 1_000
            : 1
        let (nanos, overflow) = integer.multipliedReportingOverflow(by: scale)
        return overflow ? nil : nanos
    }
    return parseISO8601Ns(text)
}

/// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH[:MM]]` into ns since the Unix epoch.
func parseISO8601Ns(_ text: Substring) -> Int64? {
    var scanner = DigitScanner(text)
    guard let year = scanner.digits(4), scanner.skip("-"),
          let month = scanner.digits(2), scanner.skip("-"),
          let day = scanner.digits(2),
          (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
    else { return nil }
    var hour = 0, minute = 0, second = 0
    var fractionNs: Int64 = 0
    if scanner.skip("T") || scanner.skip("t") || scanner.skip(" ") {
        guard let h = scanner.digits(2), scanner.skip(":"), let m = scanner.digits(2),
              h < 24, m < 60 else { return nil }
        hour = h
        minute = m
        if scanner.skip(":") {
            guard let s = scanner.digits(2), s < 61 else { return nil }  // 60: leap second
            second = s
            if scanner.skip(".") || scanner.skip(",") {
                var count = 0
                while let digit = scanner.digit() {
                    guard count < 9 else { return nil }
                    fractionNs = fractionNs * 10 + Int64(digit)
                    count += 1
                }
                guard count > 0 else { return nil }
                for _ in count..<9 { fractionNs *= 10 }
            }
        }
    }
    var offsetSeconds = 0
    if scanner.skip("Z") || scanner.skip("z") {
        // UTC
    } else if let sign = scanner.sign() {
        guard let h = scanner.digits(2), h < 24 else { return nil }
        var m = 0
        if scanner.skip(":") {
            guard let mm = scanner.digits(2) else { return nil }
            m = mm
        } else if let mm = scanner.digits(2) {
            m = mm
        }
        guard m < 60 else { return nil }
        offsetSeconds = sign * (h * 3600 + m * 60)
    }
    guard scanner.isAtEnd else { return nil }
    let days = daysFromCivil(year: year, month: month, day: day)
    let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
    let (nanos, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    guard !overflow else { return nil }
    let (total, overflow2) = nanos.addingReportingOverflow(fractionNs)
    return overflow2 ? nil : total
}

func isLeapYear(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

func daysInMonth(year: Int, month: Int) -> Int {
    switch month {
    case 2: return isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let monthFromMarch = month > 2 ? month - 3 : month + 9
    let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

/// A cursor over ASCII bytes for the timestamp parser.
struct DigitScanner {
    var bytes: Substring.UTF8View.SubSequence

    init(_ text: Substring) { bytes = text.utf8[...] }

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func digit() -> Int? {
        guard let byte = bytes.first, isDigit(byte) else { return nil }
        bytes = bytes.dropFirst()
        return Int(byte - UInt8(ascii: "0"))
    }

    mutating func digits(_ count: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let digit = digit() else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard let byte = bytes.first, byte == UInt8(ascii: character) else { return false }
        bytes = bytes.dropFirst()
        return true
    }

    mutating func sign() -> Int? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }
}
