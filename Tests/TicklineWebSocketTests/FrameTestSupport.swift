import TicklineWebSocket

/// One thing a decoder reported, copied out of the span so tests can compare it.
enum Event: Equatable, CustomStringConvertible {
    case message(MessageKind, [UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(UInt16, [UInt8])

    static func text(_ s: String) -> Event { .message(.text, Array(s.utf8)) }

    var description: String {
        switch self {
        case .message(let kind, let bytes): "\(kind)(\(bytes.count) B: \(String(decoding: bytes.prefix(40), as: UTF8.self)))"
        case .ping(let bytes): "ping(\(bytes))"
        case .pong(let bytes): "pong(\(bytes))"
        case .close(let code, let reason): "close(\(code), \(String(decoding: reason, as: UTF8.self)))"
        }
    }
}

func copy(_ span: Span<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(span.count)
    for i in 0..<span.count { out.append(span[i]) }
    return out
}

/// Records every callback.
struct Recorder: FrameHandler {
    var events: [Event] = []
    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>) { events.append(.message(kind, copy(payload))) }
    mutating func onPing(_ payload: Span<UInt8>) { events.append(.ping(copy(payload))) }
    mutating func onPong(_ payload: Span<UInt8>) { events.append(.pong(copy(payload))) }
    mutating func onClose(_ code: CloseCode, reason: Span<UInt8>) { events.append(.close(code.rawValue, copy(reason))) }
}

/// Counts callbacks without keeping payloads (fuzzing).
struct Counter: FrameHandler {
    var messages = 0
    var controls = 0
    var bytes = 0
    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>) { messages += 1; bytes += payload.count }
    mutating func onPing(_ payload: Span<UInt8>) { controls += 1 }
    mutating func onPong(_ payload: Span<UInt8>) { controls += 1 }
    mutating func onClose(_ code: CloseCode, reason: Span<UInt8>) { controls += 1 }
}

/// Builds a frame byte by byte, independently of `FrameEncoder`, so it can also express
/// frames the encoder refuses to write (bad RSV bits, long lengths for short payloads...).
func rawFrame(
    opcode: UInt8, payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, maskKey: [UInt8]? = nil,
    lengthForm: Int? = nil
) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
    let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
    let form = lengthForm ?? (payload.count < 126 ? 7 : payload.count <= 0xFFFF ? 16 : 64)
    switch form {
    case 7: out.append(maskBit | UInt8(payload.count))
    case 16: out += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default:
        out.append(maskBit | 127)
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(56 - 8 * k))) }
    }
    if let maskKey {
        out += maskKey
        out += payload.enumerated().map { $0.element ^ maskKey[$0.offset % 4] }
    } else {
        out += payload
    }
    return out
}

/// Feeds `bytes` in the given chunk sizes (the last chunk takes the rest) and records.
func decode(
    _ bytes: [UInt8], role: WebSocketRole = .client, limits: FrameLimits = FrameLimits(maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20),
    chunks: [Int]? = nil
) -> (events: [Event], status: DecoderStatus, decoder: FrameDecoder) {
    var decoder = FrameDecoder(role: role, limits: limits)
    var recorder = Recorder()
    var status = DecoderStatus.open
    var at = 0
    var sizes = chunks ?? []
    while at < bytes.count {
        let size = sizes.isEmpty ? bytes.count - at : min(max(sizes.removeFirst(), 0), bytes.count - at)
        status = decoder.feed(bytes.span.extracting(at..<(at + size)), to: &recorder)
        at += size
    }
    return (recorder.events, decoder.status, decoder)
}

/// Encodes with `FrameEncoder` into a fresh array.
func encoded(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, encoder: inout FrameEncoder) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: encoder.frameLength(payloadCount: payload.count))
    var written: Int?
    do {
        var span = out.mutableSpan
        written = encoder.encode(opcode, payload: payload.span, fin: fin, into: &span)
    }
    precondition(written == out.count)
    return out
}
