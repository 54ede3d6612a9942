/// One line of a recording, `<receive ns><space or tab><payload>`, split into its receive
/// time and its payload. The only reading of the line format: `verify`, `replay`,
/// `bench decode`, the demo and `tickline-feed` all split lines here, so a line one of them
/// takes, every other takes too, and a line one refuses, every other refuses for the same
/// reason.
///
/// Accepted: one or more spaces or tabs after the receive time; trailing spaces, tabs and a
/// carriage return (CRLF files) are not part of the payload. The receive time is decimal
/// nanoseconds that must fit an `Int64`: a longer one is refused, never wrapped.
/// No allocation; the payload is a range into the line, not a copy.
public enum RecordingLine {
    /// What one line (without its newline) holds.
    public enum Parsed: Equatable, Sendable {
        /// Empty, or nothing but spaces, tabs and a carriage return: not a message.
        case blank
        /// A receive time and where the payload lies within the line (never empty): byte
        /// offsets from the line's start, or the slice's indices for an `ArraySlice`.
        case message(receiveNs: Int64, payload: Range<Int>)
        /// A line that cannot be used, and why.
        case malformed(Problem)
    }

    /// Why a line is not `<receive ns><space or tab><payload>`.
    public enum Problem: UInt8, Equatable, Sendable, CustomStringConvertible {
        /// The line does not start with a digit.
        case noReceiveTime = 1
        /// More than `Int64.max` nanoseconds.
        case receiveTimeOverflow = 2
        /// Something other than a space or tab follows the receive time.
        case noSeparator = 3
        /// Nothing follows the receive time.
        case noPayload = 4

        public var description: String {
            switch self {
            case .noReceiveTime: "the line does not start with a receive time (decimal ns)"
            case .receiveTimeOverflow: "the receive time is beyond \(Int64.max) ns"
            case .noSeparator: "no space or tab after the receive time"
            case .noPayload: "nothing after the receive time"
            }
        }
    }

    /// Splits one line (its newline already removed).
    @inline(__always)
    public static func parse(_ line: UnsafeRawBufferPointer) -> Parsed {
        var end = line.count
        while end > 0, isBlank(unsafe line[end - 1]) { end -= 1 }
        guard end > 0 else { return .blank }
        var receiveNs: Int64 = 0
        var i = 0
        while i < end {
            let digit = unsafe line[i] &- 0x30
            if digit > 9 { break }
            let (times10, o1) = receiveNs.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
            if o1 || o2 { return .malformed(.receiveTimeOverflow) }
            receiveNs = sum
            i += 1
        }
        guard i > 0 else { return .malformed(.noReceiveTime) }
        guard i < end else { return .malformed(.noPayload) }
        guard unsafe line[i] == 0x20 || line[i] == 0x09 else { return .malformed(.noSeparator) }
        while i < end, unsafe line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        return .message(receiveNs: receiveNs, payload: i..<end)
    }

    /// Splits one line of a byte array (cold paths: file spans, tools).
    public static func parse(_ line: ArraySlice<UInt8>) -> Parsed {
        let parsed = unsafe line.withUnsafeBytes { unsafe parse($0) }
        guard case .message(let receiveNs, let payload) = parsed else { return parsed }
        return .message(receiveNs: receiveNs, payload: (payload.lowerBound + line.startIndex)..<(payload.upperBound + line.startIndex))
    }

    /// Space, tab or carriage return.
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
}
