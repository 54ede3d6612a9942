/// Receives what a `FrameDecoder` finds. Every span is valid only during the call: it
/// points into the caller's receive buffer or the decoder's preallocated buffers, which the
/// next `feed` overwrites. Generic use (`feed(_:to:)` is specialised), so no existential
/// and no allocation per call.
public protocol FrameHandler {
    /// A complete text or binary message (text is valid UTF-8).
    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>)
    /// A ping: the caller should answer with a pong carrying the same payload.
    mutating func onPing(_ payload: Span<UInt8>)
    /// A pong (solicited or a one-way heartbeat).
    mutating func onPong(_ payload: Span<UInt8>)
    /// The peer's close frame: `code` is `.noStatus` when the frame carried none; the reason
    /// is valid UTF-8. The decoder ignores everything after it.
    mutating func onClose(_ code: CloseCode, reason: Span<UInt8>)
}

/// Where a decoder stands after a `feed`.
public enum DecoderStatus: Sendable, Equatable {
    /// Frames may follow.
    case open
    /// The peer sent close with this code (`.noStatus` if it had none): reply with a close
    /// (echoing the code) unless one was sent, then drop the connection.
    case closeReceived(CloseCode)
    /// The peer broke the protocol: send close with `violation.closeCode`, drop the connection.
    case failed(ProtocolViolation)
}

/// Totals one decoder has seen since setup. Plain data.
public struct DecoderCounters: Sendable {
    public var bytes: UInt64 = 0
    public var frames: UInt64 = 0
    public var messages: UInt64 = 0
    public var pings: UInt64 = 0
    public var pongs: UInt64 = 0
    public var closes: UInt64 = 0
    /// Indexed by `ProtocolViolation.rawValue`.
    public var violationsByReason: InlineArray<16, UInt64> = .init(repeating: 0)

    public init() {}

    public func count(of violation: ProtocolViolation) -> UInt64 { violationsByReason[Int(violation.rawValue)] }

    public var violations: UInt64 {
        var total: UInt64 = 0
        for index in violationsByReason.indices { total &+= violationsByReason[index] }
        return total
    }
}

/// An incremental RFC 6455 frame decoder: feed it bytes exactly as they arrive, split
/// anywhere (one byte at a time, many frames per read); it reports complete messages,
/// control frames and violations to a `FrameHandler`.
///
/// Nothing is allocated after `init`: a complete unmasked single-frame message is handed
/// over as a view of the input; fragmented, masked or split messages are assembled in a
/// message buffer of `limits.maxMessageBytes` bytes allocated once; control frames in a
/// 125-byte buffer of their own, so they may arrive between fragments. Text is validated
/// as UTF-8 while it arrives (fail fast, code points may straddle fragments).
///
/// Owned by one connection (one thread). Copying it shares its buffers until the first
/// write (one copy then), so keep one instance per connection.
public struct FrameDecoder {
    public let role: WebSocketRole
    public let limits: FrameLimits
    public private(set) var status: DecoderStatus = .open
    public private(set) var counters = DecoderCounters()

    // Header of the frame being read: up to 2 + 8 (length) + 4 (mask) bytes.
    private var header: InlineArray<14, UInt8> = .init(repeating: 0)
    private var headerHave = 0
    private var headerNeed = 2
    private var inPayload = false

    // The frame being read.
    private var fin = false
    private var opcode = Opcode.continuation
    private var masked = false
    private var maskKey: InlineArray<4, UInt8> = .init(repeating: 0)
    private var payloadLength = 0
    private var payloadDone = 0

    // The data message being assembled.
    private var messageInProgress = false
    private var messageKind = MessageKind.binary
    private var messageLength = 0
    private var utf8 = UTF8Validator()
    private var messageBuffer: [UInt8]
    private var controlBuffer: [UInt8]

    /// Allocates the message buffer (`limits.maxMessageBytes`) and the control buffer.
    /// - Parameter role: the side this decoder runs on: a client expects unmasked frames.
    public init(role: WebSocketRole, limits: FrameLimits = FrameLimits()) {
        self.role = role
        self.limits = limits
        messageBuffer = [UInt8](repeating: 0, count: limits.maxMessageBytes)
        controlBuffer = [UInt8](repeating: 0, count: 125)
    }

    /// Forgets all protocol state (for a new connection) and keeps the buffers and counters.
    public mutating func reset() {
        status = .open
        headerHave = 0
        headerNeed = 2
        inPayload = false
        payloadLength = 0
        payloadDone = 0
        messageInProgress = false
        messageLength = 0
        utf8.reset()
    }

    /// Consumes all of `input`, calling `handler` for each complete message and control frame.
    /// After a close or a violation the rest of the input (and of later calls) is ignored.
    /// - Returns: the status after this input.
    public mutating func feed<Handler: FrameHandler>(_ input: Span<UInt8>, to handler: inout Handler) -> DecoderStatus {
        guard case .open = status else { return status }
        let n = input.count
        counters.bytes &+= UInt64(n)
        var i = 0
        while i < n {
            if !inPayload {
                while headerHave < headerNeed && i < n {
                    header[headerHave] = input[i]
                    headerHave += 1
                    i += 1
                    if headerHave == 2 {
                        let length7 = header[1] & 0x7F
                        headerNeed = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (header[1] & 0x80 != 0 ? 4 : 0)
                    }
                }
                if headerHave < headerNeed { break }
                if let violation = beginFrame() { return fail(violation) }
                inPayload = true
            }

            let remaining = payloadLength - payloadDone
            let available = n - i
            // A whole unmasked frame that is a whole message (or a control frame) is handed
            // over straight from the input: no copy.
            if remaining <= available && payloadDone == 0 && !masked && (opcode.isControl || (fin && opcode != .continuation)) {
                let payload = input.extracting(i..<(i + remaining))
                i += remaining
                endPayload()
                if opcode.isControl {
                    switch Self.deliverControl(opcode, payload, counters: &counters, to: &handler) {
                    case .delivered: break
                    case .closed(let code): status = .closeReceived(code); return status
                    case .violation(let violation): return fail(violation)
                    }
                } else {
                    if messageKind == .text && !UTF8Validator.isValid(payload) { return fail(.invalidUTF8) }
                    messageInProgress = false
                    counters.messages &+= 1
                    handler.onMessage(messageKind, payload)
                }
                continue
            }

            let take = min(remaining, available)
            if take > 0 {
                if opcode.isControl {
                    Self.copyPayload(input.extracting(i..<(i + take)), into: &controlBuffer, at: payloadDone,
                                     mask: masked ? maskKey : nil, phase: payloadDone)
                } else {
                    Self.copyPayload(input.extracting(i..<(i + take)), into: &messageBuffer, at: messageLength,
                                     mask: masked ? maskKey : nil, phase: payloadDone)
                    if messageKind == .text {
                        var validator = utf8
                        let valid = validator.validate(messageBuffer.span.extracting(messageLength..<(messageLength + take)))
                        utf8 = validator
                        if !valid { return fail(.invalidUTF8) }
                    }
                    messageLength += take
                }
                payloadDone += take
                i += take
            }
            if payloadDone == payloadLength {
                endPayload()
                if let violation = endFrame(to: &handler) { return fail(violation) }
                if case .closeReceived = status { return status }
            }
        }
        return status
    }

    /// Checks a complete header and sets up the frame; returns the rule it breaks, if any.
    private mutating func beginFrame() -> ProtocolViolation? {
        counters.frames &+= 1
        let b0 = header[0]
        let b1 = header[1]
        if b0 & 0x70 != 0 { return .reservedBitsSet }
        guard let op = Opcode(rawValue: b0 & 0x0F) else { return .unknownOpcode }
        masked = b1 & 0x80 != 0
        switch role {
        case .client where masked: return .maskedFrameFromServer
        case .server where !masked: return .unmaskedFrameFromClient
        default: break
        }
        fin = b0 & 0x80 != 0
        opcode = op

        var length = UInt64(b1 & 0x7F)
        var keyAt = 2
        if length == 126 {
            length = UInt64(header[2]) << 8 | UInt64(header[3])
            keyAt = 4
        } else if length == 127 {
            length = 0
            for k in 2..<10 { length = length << 8 | UInt64(header[k]) }
            keyAt = 10
            if length >> 63 != 0 { return .invalidLength }
        }
        if masked {
            for k in 0..<4 { maskKey[k] = header[keyAt + k] }
        }

        if op.isControl {
            if !fin { return .fragmentedControlFrame }
            if length > 125 { return .controlFrameTooLong }
        } else {
            if op == .continuation {
                if !messageInProgress { return .continuationWithoutMessage }
            } else {
                if messageInProgress { return .newMessageDuringFragmentedMessage }
            }
            if length > UInt64(limits.maxFrameBytes) { return .frameTooBig }
            if op != .continuation {
                messageInProgress = true
                messageKind = op == .text ? .text : .binary
                messageLength = 0
                utf8.reset()
            }
            if length > UInt64(limits.maxMessageBytes - messageLength) { return .messageTooBig }
        }
        payloadLength = Int(length)
        payloadDone = 0
        return nil
    }

    /// The frame's payload is consumed: the next byte starts a header.
    private mutating func endPayload() {
        inPayload = false
        headerHave = 0
        headerNeed = 2
    }

    /// A frame whose payload was copied into the decoder's buffers is complete.
    private mutating func endFrame<Handler: FrameHandler>(to handler: inout Handler) -> ProtocolViolation? {
        if opcode.isControl {
            var counts = counters
            let outcome = Self.deliverControl(opcode, controlBuffer.span.extracting(0..<payloadLength), counters: &counts, to: &handler)
            counters = counts
            switch outcome {
            case .delivered: return nil
            case .closed(let code): status = .closeReceived(code); return nil
            case .violation(let violation): return violation
            }
        }
        guard fin else { return nil }
        if messageKind == .text && !utf8.isComplete { return .invalidUTF8 }
        messageInProgress = false
        counters.messages &+= 1
        handler.onMessage(messageKind, messageBuffer.span.extracting(0..<messageLength))
        return nil
    }

    private enum ControlOutcome {
        case delivered
        case closed(CloseCode)
        case violation(ProtocolViolation)
    }

    /// Checks and hands over one control frame.
    private static func deliverControl<Handler: FrameHandler>(
        _ opcode: Opcode, _ payload: Span<UInt8>, counters: inout DecoderCounters, to handler: inout Handler
    ) -> ControlOutcome {
        switch opcode {
        case .ping:
            counters.pings &+= 1
            handler.onPing(payload)
            return .delivered
        case .pong:
            counters.pongs &+= 1
            handler.onPong(payload)
            return .delivered
        default:
            counters.closes &+= 1
            var code = CloseCode.noStatus
            if payload.count == 1 { return .violation(.closePayloadTooShort) }
            if payload.count >= 2 {
                code = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
                if !code.isValidOnWire { return .violation(.invalidCloseCode) }
            }
            let reason = payload.count >= 2 ? payload.extracting(2..<payload.count) : payload
            if !UTF8Validator.isValid(reason) { return .violation(.invalidCloseReasonUTF8) }
            handler.onClose(code, reason: reason)
            return .closed(code)
        }
    }

    /// Copies payload bytes into `buffer` at `offset`, unmasking with `mask` from key
    /// byte `phase % 4` on.
    private static func copyPayload(
        _ source: Span<UInt8>, into buffer: inout [UInt8], at offset: Int, mask: InlineArray<4, UInt8>?, phase: Int
    ) {
        var out = buffer.mutableSpan
        let count = source.count
        if let key = mask {
            var keyIndex = phase & 3
            for k in 0..<count {
                out[offset + k] = source[k] ^ key[keyIndex]
                keyIndex = (keyIndex + 1) & 3
            }
        } else {
            for k in 0..<count { out[offset + k] = source[k] }
        }
    }

    private mutating func fail(_ violation: ProtocolViolation) -> DecoderStatus {
        counters.violationsByReason[Int(violation.rawValue)] &+= 1
        status = .failed(violation)
        return status
    }
}
