/// Writes RFC 6455 frames into caller buffers: masked with a fresh key per frame on a
/// client, unmasked on a server. Always the shortest length encoding. Nothing allocated.
///
/// Owned by one connection (one thread).
public struct FrameEncoder: Sendable {
    public let role: WebSocketRole
    // SplitMix64 state for mask keys. RFC 6455 §5.3 wants keys a peer cannot predict; a
    // fast generator seeded from the system RNG per connection serves that purpose here
    // (masking protects intermediaries from cache poisoning, not the payload).
    private var maskState: UInt64

    /// - Parameter maskSeed: fixes the mask sequence (tests); `nil` seeds from the system RNG.
    public init(role: WebSocketRole, maskSeed: UInt64? = nil) {
        self.role = role
        if let maskSeed {
            maskState = maskSeed
        } else {
            var system = SystemRandomNumberGenerator()
            maskState = system.next()
        }
    }

    /// Bytes a frame of `payloadCount` bytes takes on the wire.
    @inlinable
    public static func frameLength(payloadCount: Int, masked: Bool) -> Int {
        let lengthBytes = payloadCount < 126 ? 0 : payloadCount <= 0xFFFF ? 2 : 8
        return 2 + lengthBytes + (masked ? 4 : 0) + payloadCount
    }

    /// Bytes a frame of `payloadCount` bytes takes when this encoder writes it.
    @inlinable
    public func frameLength(payloadCount: Int) -> Int {
        Self.frameLength(payloadCount: payloadCount, masked: role == .client)
    }

    /// Writes one frame at `out[offset...]`.
    /// - Returns: the bytes written, or `nil` (nothing written) when the frame does not fit.
    /// - Traps: on a control frame with more than 125 bytes or FIN=0 (a caller bug).
    public mutating func encode(
        _ opcode: Opcode, payload: Span<UInt8>, fin: Bool = true, into out: inout MutableSpan<UInt8>, at offset: Int = 0
    ) -> Int? {
        encode(opcode, prefix: nil, payload: payload, fin: fin, into: &out, at: offset)
    }

    /// Writes a close frame: `code` (if any) then `reason` (UTF-8, at most 123 bytes).
    /// - Returns: the bytes written, or `nil` when it does not fit in `out`.
    /// - Traps: when the reason is too long, or `code` may not be sent (1005, 1006, 1015, …).
    public mutating func encodeClose(
        _ code: CloseCode?, reason: Span<UInt8>, into out: inout MutableSpan<UInt8>, at offset: Int = 0
    ) -> Int? {
        guard let code else {
            precondition(reason.isEmpty, "a close frame without a code cannot carry a reason (\(reason.count) bytes)")
            return encode(.close, prefix: nil, payload: reason, fin: true, into: &out, at: offset)
        }
        precondition(code.isValidOnWire, "close code \(code) may not be sent")
        return encode(.close, prefix: code.rawValue, payload: reason, fin: true, into: &out, at: offset)
    }

    /// The next mask key (exposed for tests of the masking).
    public mutating func nextMaskKey() -> UInt32 {
        maskState &+= 0x9E37_79B9_7F4A_7C15
        var z = maskState
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt32(truncatingIfNeeded: z ^ (z >> 31))
    }

    private mutating func encode(
        _ opcode: Opcode, prefix: UInt16?, payload: Span<UInt8>, fin: Bool, into out: inout MutableSpan<UInt8>, at offset: Int
    ) -> Int? {
        let payloadCount = payload.count + (prefix == nil ? 0 : 2)
        if opcode.isControl {
            precondition(payloadCount <= 125 && fin, "control frame \(opcode) with \(payloadCount) bytes, fin \(fin)")
        }
        let key: UInt32? = role == .client ? nextMaskKey() : nil
        return Self.encode(opcode, prefix: prefix, payload: payload, fin: fin, maskKey: key, into: &out, at: offset)
    }

    /// Writes one frame with an explicit mask key (`nil` = unmasked): the deterministic core,
    /// public so tests can reproduce RFC 6455 §5.7 examples and servers can reuse it.
    public static func encode(
        _ opcode: Opcode, prefix: UInt16? = nil, payload: Span<UInt8>, fin: Bool = true, maskKey: UInt32?,
        into out: inout MutableSpan<UInt8>, at offset: Int = 0
    ) -> Int? {
        let payloadCount = payload.count + (prefix == nil ? 0 : 2)
        let total = frameLength(payloadCount: payloadCount, masked: maskKey != nil)
        guard offset >= 0, offset <= out.count, total <= out.count - offset else { return nil }
        var at = offset
        out[at] = (fin ? 0x80 : 0) | opcode.rawValue
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        if payloadCount < 126 {
            out[at + 1] = maskBit | UInt8(payloadCount)
            at += 2
        } else if payloadCount <= 0xFFFF {
            out[at + 1] = maskBit | 126
            out[at + 2] = UInt8(truncatingIfNeeded: payloadCount >> 8)
            out[at + 3] = UInt8(truncatingIfNeeded: payloadCount)
            at += 4
        } else {
            out[at + 1] = maskBit | 127
            let length = UInt64(payloadCount)
            for k in 0..<8 { out[at + 2 + k] = UInt8(truncatingIfNeeded: length >> UInt64(56 - 8 * k)) }
            at += 10
        }
        var key: InlineArray<4, UInt8> = .init(repeating: 0)
        if let maskKey {
            for k in 0..<4 {
                key[k] = UInt8(truncatingIfNeeded: maskKey >> UInt32(24 - 8 * k))
                out[at + k] = key[k]
            }
            at += 4
        }
        var keyIndex = 0
        if let prefix {
            out[at] = UInt8(truncatingIfNeeded: prefix >> 8) ^ key[0]
            out[at + 1] = UInt8(truncatingIfNeeded: prefix) ^ key[1]
            at += 2
            keyIndex = 2
        }
        let count = payload.count
        if maskKey == nil {
            for k in 0..<count { out[at + k] = payload[k] }
        } else {
            for k in 0..<count {
                out[at + k] = payload[k] ^ key[keyIndex]
                keyIndex = (keyIndex + 1) & 3
            }
        }
        return total
    }
}
