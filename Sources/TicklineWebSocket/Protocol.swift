/// Which end of the connection this code plays. Clients mask every frame they send and
/// must receive unmasked frames; servers the reverse (RFC 6455 §5.1).
public enum WebSocketRole: Sendable, Equatable {
    case client
    case server
}

/// Frame opcodes (RFC 6455 §5.2). 0x3–0x7 and 0xB–0xF are reserved and rejected.
public enum Opcode: UInt8, Sendable, Equatable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong: at most 125 bytes, never fragmented.
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// What a complete data message holds.
public enum MessageKind: Sendable, Equatable {
    case text
    case binary
}

/// A close status code (RFC 6455 §7.4, IANA registry).
public struct CloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normal = CloseCode(1000)
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    public static let unsupportedData = CloseCode(1003)
    /// Local only: the peer's close frame carried no code. Never sent.
    public static let noStatus = CloseCode(1005)
    /// Local only: the connection dropped without a close frame. Never sent.
    public static let abnormal = CloseCode(1006)
    public static let invalidPayload = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let missingExtension = CloseCode(1010)
    public static let internalError = CloseCode(1011)
    public static let serviceRestart = CloseCode(1012)
    public static let tryAgainLater = CloseCode(1013)
    public static let badGateway = CloseCode(1014)

    /// Whether the code may appear in a close frame on the wire: 1000–1003, 1007–1014,
    /// 3000–4999. 1004–1006, 1015, other 1xxx/2xxx codes and anything below 1000 or above
    /// 4999 are protocol errors when received.
    @inlinable public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}

/// Every way a peer can break the framing rules. Each is counted by the decoder and ends
/// the connection with `closeCode`.
public enum ProtocolViolation: UInt8, Sendable, Equatable, CaseIterable {
    /// RSV1–3 set although no extension was negotiated.
    case reservedBitsSet
    /// Opcode 0x3–0x7 or 0xB–0xF.
    case unknownOpcode
    /// A client received a masked frame (servers never mask).
    case maskedFrameFromServer
    /// A server received an unmasked frame (clients always mask).
    case unmaskedFrameFromClient
    /// Close, ping or pong with FIN=0.
    case fragmentedControlFrame
    /// Close, ping or pong with more than 125 payload bytes.
    case controlFrameTooLong
    /// A 64-bit length with the most significant bit set.
    case invalidLength
    /// A continuation frame with no message in progress.
    case continuationWithoutMessage
    /// A text or binary frame while a fragmented message is unfinished.
    case newMessageDuringFragmentedMessage
    /// A close payload of exactly one byte.
    case closePayloadTooShort
    /// A close code that may not appear on the wire (e.g. 1005, 999, 2000).
    case invalidCloseCode
    /// A close reason that is not UTF-8.
    case invalidCloseReasonUTF8
    /// A text message that is not UTF-8 (checked as the bytes arrive).
    case invalidUTF8
    /// One frame larger than the configured frame limit.
    case frameTooBig
    /// A message larger than the configured message limit.
    case messageTooBig

    /// The close code to fail the connection with.
    @inlinable public var closeCode: CloseCode {
        switch self {
        case .invalidUTF8, .invalidCloseReasonUTF8: return .invalidPayload
        case .frameTooBig, .messageTooBig: return .messageTooBig
        default: return .protocolError
        }
    }
}

/// Limits a decoder enforces, fixed at setup; the decoder preallocates `maxMessageBytes`.
public struct FrameLimits: Sendable, Equatable {
    /// The largest single frame payload accepted (bigger → 1009).
    public var maxFrameBytes: Int
    /// The largest assembled message accepted (bigger → 1009); also the message buffer size.
    public var maxMessageBytes: Int

    /// Binance depth frames reach tens of KB; 1 MiB leaves room without wasting much memory.
    public init(maxFrameBytes: Int = 1 << 20, maxMessageBytes: Int = 1 << 20) {
        precondition(maxFrameBytes > 0 && maxMessageBytes > 0,
                     "frame limits must be positive (frame \(maxFrameBytes), message \(maxMessageBytes))")
        self.maxFrameBytes = maxFrameBytes
        self.maxMessageBytes = maxMessageBytes
    }
}
