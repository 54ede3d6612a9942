import TicklineCore
import TicklineNet
import TicklineWebSocket

/// The server end of a feed's connection played from a recording, in memory: it answers the
/// opening handshake, frames each recorded message as the venue would (a text frame, or
/// binary when the bytes are not UTF-8), answers pings and closes, and stamps each read
/// with the message's recorded receive time. A replay thus goes through the feed's own
/// WebSocket, decode, book and publish code.
///
/// The replay hands over one message at a time (`deliver`) and runs the feed's duty cycle:
/// the next `receive()` returns that message's frame. Owned by the feed's thread. Buffers are
/// allocated once; nothing is allocated per message.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class RecordingTransport: Transport {
    public var backend: NetBackend { .posix }
    /// The largest message `deliver` frames; longer ones are refused (counted by the caller).
    public let maxMessageBytes: Int
    /// Opening handshakes answered (1 unless the feed reconnected).
    @exclusivity(unchecked) public private(set) var handshakes = 0
    /// Text messages the feed sent (SUBSCRIBE and the like), pings answered.
    @exclusivity(unchecked) public private(set) var messagesFromFeed: UInt64 = 0
    /// The payload of the feed's last message (a subscription request; cold path).
    @exclusivity(unchecked) public private(set) var lastMessageFromFeed: [UInt8] = []
    @exclusivity(unchecked) public private(set) var pingsAnswered: UInt64 = 0

    /// Bytes for the feed: `[0, handedOut)` were returned by the last `receive()`,
    /// `[handedOut, count)` wait for the next one.
    private let inbound: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var count = 0
    @exclusivity(unchecked) private var handedOut = 0
    /// What the feed sent and this end has not consumed yet (a partial request or frame).
    private let outbound: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var outboundCount = 0
    @exclusivity(unchecked) private var reserved = 0
    @exclusivity(unchecked) private var connected = false
    @exclusivity(unchecked) private var upgraded = false
    /// Our close answer was handed out: the stream ends at the next read.
    @exclusivity(unchecked) private var endAfterInbound = false
    @exclusivity(unchecked) private var closeQueued = false
    @exclusivity(unchecked) private var stamp: ReadStamp?
    @exclusivity(unchecked) private var frames: FrameDecoder
    @exclusivity(unchecked) private var encoder = FrameEncoder(role: .server)

    /// - Parameter maxMessageBytes: the longest recorded message to deliver (the feed's
    ///   frame limit should allow it).
    public init(maxMessageBytes: Int) {
        precondition(maxMessageBytes > 0, "maxMessageBytes \(maxMessageBytes) must be positive")
        self.maxMessageBytes = maxMessageBytes
        // A message's frame, a handshake answer or pongs and a close besides.
        inbound = .allocate(byteCount: maxMessageBytes + 16 * 1_024, alignment: 16)
        outbound = .allocate(byteCount: 256 * 1_024, alignment: 16)
        frames = FrameDecoder(role: .server, limits: FrameLimits(maxFrameBytes: 200 * 1_024, maxMessageBytes: 200 * 1_024))
    }

    deinit {
        inbound.deallocate()
        outbound.deallocate()
    }

    /// Whether the handshake is done and messages can be delivered.
    public var isOpen: Bool { connected && upgraded && !closeQueued }

    /// Frames `payload` for the feed's next read, stamped with its recorded receive time
    /// (and the real monotonic clock, where latency chains start). False when the connection
    /// is not open or the message is longer than `maxMessageBytes`.
    public func deliver(_ payload: UnsafeRawBufferPointer, receiveWallNs: WallNanos) -> Bool {
        guard isOpen, payload.count <= maxMessageBytes else { return false }
        let bytes = payload.bindMemory(to: UInt8.self)
        let text = UTF8Validator.isValid(bytes.span)
        guard append(text ? .text : .binary, bytes.span) else { return false }
        stamp = ReadStamp(monotonicNs: Clock.monotonic(), wallNs: receiveWallNs)
        return true
    }

    // MARK: Transport

    public func connect(to address: SocketAddress) throws(NetError) {
        connected = true
        upgraded = false
        closeQueued = false
        endAfterInbound = false
        count = 0
        handedOut = 0
        outboundCount = 0
        frames.reset()
    }

    public func pollConnect() -> ConnectProgress { connected ? .connected : .failed(.notConnected) }

    public func receive() -> ReceiveResult {
        guard connected else { return .failed(.notConnected) }
        if handedOut > 0 {
            let rest = count - handedOut
            if rest > 0 { inbound.baseAddress!.copyMemory(from: inbound.baseAddress! + handedOut, byteCount: rest) }
            count = rest
            handedOut = 0
        }
        guard count > 0 else {
            if endAfterInbound {
                connected = false
                return .endOfStream
            }
            return .nothing
        }
        handedOut = count
        return .bytes(UnsafeRawBufferPointer(rebasing: inbound[0..<count]))
    }

    public func reserveSend(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        guard connected, outboundCount + count <= outbound.count else { return nil }
        reserved = count
        return UnsafeMutableRawBufferPointer(rebasing: outbound[outboundCount..<(outboundCount + count)])
    }

    public func commitSend(_ count: Int) {
        precondition(count <= reserved, "commitSend(\(count)) beyond the reservation of \(reserved)")
        outboundCount += count
        reserved = 0
        consumeOutbound()
    }

    public func flush() -> NetError? { connected ? nil : .notConnected }

    public var pendingSendBytes: Int { 0 }

    public var sendCapacity: Int { outbound.count }

    public func close() {
        connected = false
        upgraded = false
    }

    public var recordedStamp: ReadStamp? { stamp }

    // MARK: The server's side

    /// Answers the upgrade request, then reads the feed's frames: pings get pongs, a close
    /// gets a close and the end of the stream, messages are counted.
    private func consumeOutbound() {
        var used = 0
        if !upgraded {
            let outcome = ServerHandshake.parseRequest(UnsafeRawBufferPointer(rebasing: outbound[0..<outboundCount])
                .bindMemory(to: UInt8.self).span)
            switch outcome {
            case .incomplete:
                return
            case .rejected(let error):
                appendRaw(ServerHandshake.rejection(for: error))
                endAfterInbound = true
                outboundCount = 0
                return
            case .request(let request, let headLength):
                appendRaw(ServerHandshake.response(to: request))
                upgraded = true
                handshakes += 1
                used = headLength
            }
        }
        if used < outboundCount {
            let rest = UnsafeRawBufferPointer(rebasing: outbound[used..<outboundCount]).bindMemory(to: UInt8.self)
            var handler = FeedFrames()
            let status = frames.feed(rest.span, to: &handler)
            messagesFromFeed &+= handler.messages
            if let last = handler.last { lastMessageFromFeed = last }
            if handler.pingCount >= 0 {
                let pong = handler.ping
                pong.span.withUnsafeBufferPointer { all in
                    _ = append(.pong, UnsafeBufferPointer(rebasing: all[0..<handler.pingCount]).span)
                }
                pingsAnswered &+= 1
            }
            switch status {
            case .open: break
            case .closeReceived, .failed: queueClose()
            }
        }
        outboundCount = 0
    }

    private func queueClose() {
        guard !closeQueued else { return }
        closeQueued = true
        endAfterInbound = true
        var out = UnsafeMutableRawBufferPointer(rebasing: inbound[count...]).bindMemory(to: UInt8.self).mutableSpan
        if let written = encoder.encodeClose(.normal, reason: Span(), into: &out) { count += written }
    }

    private func append(_ opcode: Opcode, _ payload: Span<UInt8>) -> Bool {
        guard encoder.frameLength(payloadCount: payload.count) <= inbound.count - count else { return false }
        var out = UnsafeMutableRawBufferPointer(rebasing: inbound[count...]).bindMemory(to: UInt8.self).mutableSpan
        guard let written = encoder.encode(opcode, payload: payload, into: &out) else { return false }
        count += written
        return true
    }

    private func appendRaw(_ bytes: [UInt8]) {
        let take = min(bytes.count, inbound.count - count)
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: inbound[count..<(count + take)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<take])) }
        count += take
    }
}

/// What the feed sent, as the server end reads it.
private struct FeedFrames: FrameHandler {
    var messages: UInt64 = 0
    var last: [UInt8]?
    var ping: InlineArray<125, UInt8> = .init(repeating: 0)
    var pingCount = -1

    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>) {
        messages &+= 1
        last = payload.withUnsafeBufferPointer { Array($0) }
    }
    mutating func onPing(_ payload: Span<UInt8>) {
        for k in 0..<payload.count { ping[k] = payload[k] }
        pingCount = payload.count
    }
    mutating func onPong(_ payload: Span<UInt8>) {}
    mutating func onClose(_ code: CloseCode, reason: Span<UInt8>) {}
}
