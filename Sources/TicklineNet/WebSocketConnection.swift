import TicklineCore
import TicklineWebSocket

/// When the bytes of a read batch left the socket: both clocks, read once per batch.
public struct ReadStamp: Sendable, Equatable {
    /// `Clock.monotonic()` right after the read: the start of every latency chain.
    public var monotonicNs: MonotonicNanos
    /// `Clock.wall()`: the receive time stored points carry.
    public var wallNs: WallNanos

    public init(monotonicNs: MonotonicNanos, wallNs: WallNanos) {
        self.monotonicNs = monotonicNs
        self.wallNs = wallNs
    }
}

/// Why a connection failed.
public enum ConnectionError: Error, Sendable, Equatable {
    case connect(NetError)
    case handshake(HandshakeError)
    /// The peer broke RFC 6455; a close with `violation.closeCode` was sent.
    case protocolViolation(ProtocolViolation)
    case transport(NetError)
    /// The peer dropped TCP without a close frame.
    case peerDisconnected
    /// The opening or closing handshake took longer than allowed.
    case timedOut
}

/// Things that happen to a connection besides messages.
public enum ConnectionEvent: Sendable, Equatable {
    /// The opening handshake succeeded; messages may be sent.
    case opened
    /// The peer sent close with this code (a close reply echoing it was sent if needed).
    case closeReceived(CloseCode)
    /// A ping arrived and a pong with its payload was queued.
    case pingAnswered
    case pong
    /// The connection is over: the code the peer sent, the code we failed with, or
    /// `.abnormal` (1006) when TCP dropped without a close.
    case closed(CloseCode)
    case failed(ConnectionError)
}

/// Receives what a connection delivers from `poll`. Spans are valid only during the call.
public protocol WebSocketHandler {
    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>, stamp: ReadStamp)
    mutating func onEvent(_ event: ConnectionEvent)
}

/// Sizes and timeouts of one connection, fixed at setup.
public struct ConnectionOptions: Sendable {
    public var limits = FrameLimits()
    /// How long to wait for TCP + the opening handshake.
    public var openTimeoutNs: Nanos = 5_000_000_000
    /// How long to wait for the peer's close / TCP close after a close was sent.
    public var closeTimeoutNs: Nanos = 1_000_000_000
    public var maxHandshakeBytes = 16 * 1024
    public init() {}
}

/// One WebSocket client connection: a transport, the opening handshake and RFC 6455
/// framing. Drive it with `poll` from the owning thread (an agent's `doWork`); it never
/// blocks. Nothing is allocated per frame after the handshake: frames are decoded from
/// the transport's receive buffer and encoded into its send queue.
///
/// Owned by one thread. Not thread-safe.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class WebSocketConnection<T: Transport> {
    public enum State: Sendable, Equatable {
        case idle, connecting, handshaking, open, closing, closed
    }

    public let transport: T
    public let options: ConnectionOptions
    @exclusivity(unchecked) public private(set) var state = State.idle
    /// The code the connection ended (or is ending) with.
    @exclusivity(unchecked) public private(set) var closeCode: CloseCode?
    /// The stamp of the latest read batch.
    @exclusivity(unchecked) public private(set) var lastRead = ReadStamp(monotonicNs: 0, wallNs: 0)
    @exclusivity(unchecked) public private(set) var decoder: FrameDecoder
    @exclusivity(unchecked) private var encoder = FrameEncoder(role: .client)

    @exclusivity(unchecked) private var handshake: ClientHandshake?
    @exclusivity(unchecked) private var handshakeBytes: [UInt8]
    @exclusivity(unchecked) private var handshakeCount = 0
    @exclusivity(unchecked) private var deadlineNs: MonotonicNanos = 0
    @exclusivity(unchecked) private var closeSent = false
    @exclusivity(unchecked) private var closeReceived = false
    /// Pongs waiting for room in the send queue, oldest first (`waitingPongs` from
    /// `firstWaitingPong`): every ping gets its own pong, in order, ahead of any later
    /// message.
    @exclusivity(unchecked) private var pongPayloads: InlineArray<8, InlineArray<125, UInt8>> = .init(repeating: .init(repeating: 0))
    @exclusivity(unchecked) private var pongLengths: InlineArray<8, UInt8> = .init(repeating: 0)
    @exclusivity(unchecked) private var firstWaitingPong = 0
    @exclusivity(unchecked) private var waitingPongs = 0
    /// Pings left unanswered because more than 8 pongs waited on a full send queue.
    @exclusivity(unchecked) public private(set) var pongsDropped: UInt64 = 0

    public init(transport: T, options: ConnectionOptions = ConnectionOptions()) {
        self.transport = transport
        self.options = options
        decoder = FrameDecoder(role: .client, limits: options.limits)
        handshakeBytes = [UInt8](repeating: 0, count: options.maxHandshakeBytes)
    }

    /// Starts connecting to `address` and asking for `path` (with the `Host` header `host`,
    /// default the address). `poll` completes it. Cold path.
    public func connect(to address: SocketAddress, path: String, host: String? = nil) throws(ConnectionError) {
        precondition(state == .idle || state == .closed, "connect in state \(state)")
        do {
            try transport.connect(to: address)
        } catch {
            throw .connect(error)
        }
        handshake = ClientHandshake(host: host ?? address.description, path: path)
        handshake?.maxHeadBytes = options.maxHandshakeBytes
        handshakeCount = 0
        decoder.reset()
        closeSent = false
        closeReceived = false
        closeCode = nil
        waitingPongs = 0
        deadlineNs = Clock.monotonic() + options.openTimeoutNs
        state = .connecting
    }

    /// Does whatever is ready: finishes connecting, reads and decodes, answers pings,
    /// flushes sends. Never blocks.
    /// - Returns: a work count (0 when nothing happened), for an agent's idle strategy.
    @discardableResult
    public func poll<H: WebSocketHandler>(_ handler: inout H) -> Int {
        switch state {
        case .idle, .closed:
            return 0
        case .connecting:
            switch transport.pollConnect() {
            case .inProgress:
                if Clock.monotonic() > deadlineNs { fail(.timedOut, code: .abnormal, &handler) }
                return 0
            case .failed(let error):
                fail(.connect(error), code: .abnormal, &handler)
                return 1
            case .connected:
                guard let request = handshake?.request() else { return 0 }
                guard let space = transport.reserveSend(request.count) else {
                    fail(.transport(.notConnected), code: .abnormal, &handler)
                    return 1
                }
                space.copyBytes(from: request)
                transport.commitSend(request.count)
                _ = transport.flush()
                state = .handshaking
                return 1
            }
        case .handshaking, .open, .closing:
            break
        }

        var work = 0
        if let failure = transport.flush() {
            fail(.transport(failure), code: .abnormal, &handler)
            return 1
        }
        switch transport.receive() {
        case .nothing:
            if state != .open && Clock.monotonic() > deadlineNs {
                if closeSent && closeReceived {
                    // Both closes exchanged; the server should have dropped TCP first
                    // (RFC 6455 §7.1.1), but waiting longer gains nothing.
                    finish(closeCode ?? .normal, &handler)
                } else {
                    fail(.timedOut, code: closeCode ?? .abnormal, &handler)
                }
                return 1
            }
        case .endOfStream:
            if state == .closing || closeCode != nil {
                finish(closeCode ?? .abnormal, &handler)
            } else {
                fail(.peerDisconnected, code: .abnormal, &handler)
            }
            return 1
        case .failed(let error):
            if closeSent && closeReceived {
                // A reset after both closes were exchanged: the connection ended with that code.
                finish(closeCode ?? .normal, &handler)
            } else {
                fail(.transport(error), code: .abnormal, &handler)
            }
            return 1
        case .bytes(let raw):
            lastRead = transport.recordedStamp ?? ReadStamp(monotonicNs: Clock.monotonic(), wallNs: Clock.wall())
            let bytes = raw.assumingMemoryBound(to: UInt8.self)
            work += 1
            if state == .handshaking {
                handshakeReceived(bytes, &handler)
            } else {
                framesReceived(bytes.span, &handler)
            }
        }
        _ = sendWaitingPongs()
        _ = transport.flush()
        return work
    }

    private func handshakeReceived<H: WebSocketHandler>(_ bytes: UnsafeBufferPointer<UInt8>, _ handler: inout H) {
        let room = handshakeBytes.count - handshakeCount
        let take = min(room, bytes.count)
        for k in 0..<take { handshakeBytes[handshakeCount + k] = bytes[k] }
        handshakeCount += take
        guard let handshake else { return }
        let outcome = handshakeBytes.withUnsafeBufferPointer { all in
            handshake.parseResponse(UnsafeBufferPointer(rebasing: all[0..<handshakeCount]).span)
        }
        switch outcome {
        case .incomplete:
            if take < bytes.count { fail(.handshake(.headersTooLarge(limit: handshakeBytes.count)), code: .abnormal, &handler) }
        case .rejected(let error):
            fail(.handshake(error), code: .abnormal, &handler)
        case .accepted(let headLength):
            state = .open
            handler.onEvent(.opened)
            // Frames may follow the head in the same read: from the copy, then the rest.
            let copiedAfterHead = handshakeCount - headLength
            if copiedAfterHead > 0 {
                let tail = Array(handshakeBytes[headLength..<handshakeCount])
                framesReceived(tail.span, &handler)
            }
            if take < bytes.count && state == .open {
                framesReceived(UnsafeBufferPointer(rebasing: bytes[take...]).span, &handler)
            }
        }
    }

    /// Hands decoder callbacks to the user's handler without copying it, and answers each
    /// ping as it is decoded.
    private struct Dispatch<H: WebSocketHandler>: FrameHandler {
        let user: UnsafeMutablePointer<H>
        let stamp: ReadStamp
        unowned(unsafe) let connection: WebSocketConnection<T>

        mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>) { user.pointee.onMessage(kind, payload, stamp: stamp) }
        mutating func onPing(_ payload: Span<UInt8>) {
            guard !connection.closeSent else { return }
            connection.answerPing(payload)
            user.pointee.onEvent(.pingAnswered)
        }
        mutating func onPong(_ payload: Span<UInt8>) { user.pointee.onEvent(.pong) }
        mutating func onClose(_ code: CloseCode, reason: Span<UInt8>) {}
    }

    private func framesReceived<H: WebSocketHandler>(_ bytes: Span<UInt8>, _ handler: inout H) {
        // After the peer's close or a violation, bytes still arriving are discarded.
        guard case .open = decoder.status else { return }
        let stamp = lastRead
        let status = withUnsafeMutablePointer(to: &handler) { user in
            var dispatch = Dispatch(user: user, stamp: stamp, connection: self)
            return decoder.feed(bytes, to: &dispatch)
        }
        switch status {
        case .open:
            break
        case .closeReceived(let code):
            closeReceived = true
            handler.onEvent(.closeReceived(code))
            if closeSent {
                // Our close was answered: the server closes TCP next; wait for it (bounded).
                closeCode = closeCode ?? code
            } else {
                closeCode = code
                // Echo the code; "no status" goes back as an empty close.
                queueClose(code == .noStatus ? nil : code)
            }
            waitingPongs = 0
            enterClosing()
        case .failed(let violation):
            closeCode = violation.closeCode
            waitingPongs = 0
            handler.onEvent(.failed(.protocolViolation(violation)))
            if closeSent || queueClose(violation.closeCode) {
                enterClosing()
            } else {
                // No room for our close: end now rather than wait out the close timeout.
                finish(violation.closeCode, &handler)
            }
        }
    }

    private func enterClosing() {
        if state != .closing {
            state = .closing
            deadlineNs = Clock.monotonic() + options.closeTimeoutNs
        }
    }

    /// Queues the pong of one ping (its payload, at most 125 bytes): into the send queue
    /// when no earlier pong waits and it has room, else behind the waiting ones.
    fileprivate func answerPing(_ payload: Span<UInt8>) {
        if waitingPongs == 0 && writePong(payload) { return }
        guard waitingPongs < pongLengths.count else {
            pongsDropped &+= 1
            return
        }
        let slot = (firstWaitingPong + waitingPongs) % pongLengths.count
        for k in 0..<payload.count { pongPayloads[slot][k] = payload[k] }
        pongLengths[slot] = UInt8(payload.count)
        waitingPongs += 1
    }

    /// Moves waiting pongs into the send queue, oldest first; true when none waits.
    private func sendWaitingPongs() -> Bool {
        while waitingPongs > 0 {
            let slot = firstWaitingPong
            let payload = pongPayloads[slot]
            let sent = payload.span.withUnsafeBufferPointer { all in
                writePong(UnsafeBufferPointer(rebasing: all[0..<Int(pongLengths[slot])]).span)
            }
            guard sent else { return false }
            firstWaitingPong = (slot + 1) % pongLengths.count
            waitingPongs -= 1
        }
        return true
    }

    private func writePong(_ payload: Span<UInt8>) -> Bool {
        guard let space = transport.reserveSend(encoder.frameLength(payloadCount: payload.count)) else { return false }
        var out = space.assumingMemoryBound(to: UInt8.self).mutableSpan
        guard let written = encoder.encode(.pong, payload: payload, into: &out) else { return false }
        transport.commitSend(written)
        return true
    }

    @discardableResult
    private func queueClose(_ code: CloseCode?, reason: Span<UInt8> = Span()) -> Bool {
        let frameLength = encoder.frameLength(payloadCount: (code == nil ? 0 : 2) + reason.count)
        guard let space = transport.reserveSend(frameLength) else { return false }
        var out = space.assumingMemoryBound(to: UInt8.self).mutableSpan
        guard let written = encoder.encodeClose(code, reason: reason, into: &out) else { return false }
        transport.commitSend(written)
        closeSent = true
        return true
    }

    private func send(_ opcode: Opcode, _ payload: Span<UInt8>, fin: Bool) -> SendOutcome {
        guard state == .open, !closeSent else { return .notOpen }
        // Pongs owed go first.
        guard sendWaitingPongs() else { return .bufferFull }
        let frameLength = encoder.frameLength(payloadCount: payload.count)
        guard frameLength <= transport.sendCapacity else { return .tooLarge(limit: transport.sendCapacity) }
        guard let space = transport.reserveSend(frameLength) else { return .bufferFull }
        var out = space.assumingMemoryBound(to: UInt8.self).mutableSpan
        guard let written = encoder.encode(opcode, payload: payload, fin: fin, into: &out) else { return .bufferFull }
        transport.commitSend(written)
        if let error = transport.flush() { return .failed(error) }
        return .queued
    }

    /// Sends a text message (the caller guarantees UTF-8). Never blocks.
    @discardableResult
    public func sendText(_ payload: Span<UInt8>) -> SendOutcome { send(.text, payload, fin: true) }

    /// Sends a binary message. Never blocks.
    @discardableResult
    public func sendBinary(_ payload: Span<UInt8>) -> SendOutcome { send(.binary, payload, fin: true) }

    /// Sends one fragment: the first with `.text`/`.binary`, the rest with `.continuation`;
    /// `fin` on the last.
    @discardableResult
    public func sendFragment(_ opcode: Opcode, _ payload: Span<UInt8>, fin: Bool) -> SendOutcome { send(opcode, payload, fin: fin) }

    /// Sends a ping (at most 125 bytes).
    @discardableResult
    public func sendPing(_ payload: Span<UInt8>) -> SendOutcome { send(.ping, payload, fin: true) }

    /// Starts the closing handshake; `poll` then waits (bounded) for the peer's close and
    /// TCP close and reports `.closed`.
    @discardableResult
    public func sendClose(_ code: CloseCode = .normal, reason: Span<UInt8> = Span()) -> SendOutcome {
        guard state == .open, !closeSent else { return .notOpen }
        guard queueClose(code, reason: reason) else { return .bufferFull }
        closeCode = code
        enterClosing()
        if let error = transport.flush() { return .failed(error) }
        return .queued
    }

    /// Drops the connection now (no closing handshake).
    public func abort() {
        transport.close()
        state = .closed
    }

    private func fail<H: WebSocketHandler>(_ error: ConnectionError, code: CloseCode, _ handler: inout H) {
        handler.onEvent(.failed(error))
        finish(code, &handler)
    }

    private func finish<H: WebSocketHandler>(_ code: CloseCode, _ handler: inout H) {
        _ = transport.flush()
        transport.close()
        closeCode = code
        state = .closed
        handler.onEvent(.closed(code))
    }
}

/// What a send did.
public enum SendOutcome: Sendable, Equatable {
    /// In the send queue (and handed to the kernel if it was free).
    case queued
    /// The send queue has no room now; try again after `poll`.
    case bufferFull
    /// Not open, or a close was already sent.
    case notOpen
    /// The frame is longer than the whole send queue (`limit` bytes): it can never be sent.
    case tooLarge(limit: Int)
    case failed(NetError)
}
