#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TicklineWebSocket

/// What happens to a client whose send buffer is full (it reads slower than the feed).
enum SlowConsumerPolicy: String, CaseIterable, Sendable {
    /// Send close 1008 "slow consumer" and drop it, as a venue does: a client that fell
    /// behind would otherwise see a gapped stream without knowing it.
    case disconnect
    /// Keep the client and drop the frames that do not fit, counted per client (for
    /// benchmarks that want the maximum delivered rate).
    case drop
}

/// Process-wide counters, readable by `/healthz`. Relaxed atomics: totals, not orderings.
final class ServerCounters: Sendable {
    let produced = Atomic<UInt64>(0)
    let silenced = Atomic<UInt64>(0)
    let depthSkipped = Atomic<UInt64>(0)
    let framesQueued = Atomic<UInt64>(0)
    let framesDropped = Atomic<UInt64>(0)
    let bytesSent = Atomic<UInt64>(0)
    let sendCalls = Atomic<UInt64>(0)
    let slowConsumers = Atomic<UInt64>(0)
    let pongTimeouts = Atomic<UInt64>(0)
    let protocolViolations = Atomic<UInt64>(0)
    let clientsAccepted = Atomic<UInt64>(0)
    let faults = Atomic<UInt64>(0)
}

/// Settings every connection shares, fixed at start.
struct ConnectionSettings: Sendable {
    var pingIntervalNs: Int64
    var pongTimeoutNs: Int64
    var bufferBytes: Int
    var slowConsumer: SlowConsumerPolicy
    /// How long to wait for the peer's close after sending ours.
    var closeTimeoutNs: Int64 = 2_000_000_000
}

/// What connections need from the server: stream ids, silence, counters, the registry.
protocol ConnectionHost: AnyObject, Sendable {
    var settings: ConnectionSettings { get }
    var counters: ServerCounters { get }
    var streamIds: [String: Int] { get }
    func isSilent(nowNs: Int64) -> Bool
    func unregister(_ connection: ClientConnection)
}

/// One WebSocket client: a reader thread (frames in, control messages, pings and their
/// timeout) and a writer thread that sends whatever the producer and the reader queued.
///
/// Frames are appended to `pending`, a preallocated buffer; the writer swaps it with
/// `sending` and sends the whole batch in one `send`, so at high rates many frames go
/// out per system call and nothing is allocated per message. The producer never waits
/// for the socket: when `pending` is full the slow-consumer policy applies.
final class ClientConnection: @unchecked Sendable {
    let fd: Int32
    let id: UInt64
    /// `/stream?streams=…` clients get `{"stream":…,"data":…}`; `/ws/…` clients the bare data.
    let combined: Bool
    private unowned let host: any ConnectionHost
    private let settings: ConnectionSettings
    /// Room kept free for control frames (close, pong, replies) when data fills the buffer.
    private static let controlReserve = 64 * 1024

    // Guarded by `lock`.
    private let lock = NSCondition()
    private var subscribed: [Bool]
    private var subscriptionNames: [String]
    private var pending: UnsafeMutablePointer<UInt8>
    private var sending: UnsafeMutablePointer<UInt8>
    private var pendingCount = 0
    private var writerWaiting = false
    /// A close frame (or fault bytes) is queued: no more data frames.
    private var closeQueued = false
    /// Shut the socket down once `pending` is flushed (close handshake done or failed).
    private var shutdownAfterFlush = false
    /// Everything stops: the writer exits, the reader tears down.
    private var finished = false
    private var closeDeadlineNs: Int64 = .max
    private var writerDone = false
    private(set) var framesDropped: UInt64 = 0

    // Reader thread only.
    private var lastPingPayload: [UInt8] = []
    private var unansweredSinceNs: Int64?
    private var nextPingNs: Int64 = 0

    init(fd: Int32, id: UInt64, combined: Bool, streams: [String], host: any ConnectionHost, streamCount: Int) {
        self.fd = fd
        self.id = id
        self.combined = combined
        self.host = host
        settings = host.settings
        subscribed = [Bool](repeating: false, count: streamCount)
        subscriptionNames = []
        pending = .allocate(capacity: settings.bufferBytes + Self.controlReserve)
        sending = .allocate(capacity: settings.bufferBytes + Self.controlReserve)
        for name in streams { subscribeLocked(name) }
    }

    deinit {
        pending.deallocate()
        sending.deallocate()
    }

    // MARK: - Producer side

    /// Queues one data message if this client subscribed to its stream. Never blocks on
    /// the socket. Producer thread.
    func enqueueData(_ message: OutgoingMessage) {
        let payload = combined ? message.bytes : message.bytes + message.dataOffset
        let count = combined ? message.count : message.dataCount
        lock.lock()
        defer { lock.unlock() }
        guard subscribed[message.streamId], !closeQueued, !finished else { return }
        let frameLength = FrameEncoder.frameLength(payloadCount: count, masked: false)
        if pendingCount + frameLength > settings.bufferBytes {
            switch settings.slowConsumer {
            case .drop:
                framesDropped += 1
                host.counters.framesDropped.add(1, ordering: .relaxed)
            case .disconnect:
                host.counters.slowConsumers.add(1, ordering: .relaxed)
                pendingCount = 0
                queueCloseLocked(.policyViolation, reason: "slow consumer")
            }
            return
        }
        appendFrameLocked(.text, payload, count)
        host.counters.framesQueued.add(1, ordering: .relaxed)
    }

    /// Discards queued frames not yet handed to the kernel (silence fault).
    func discardPending() {
        lock.lock()
        pendingCount = 0
        lock.unlock()
    }

    /// Closes TCP at once, without a close frame (drop fault, fast shutdown).
    func dropAbruptly() {
        lock.lock()
        finished = true
        pendingCount = 0
        lock.broadcast()
        lock.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Sends `bytes` as they are (fault injection: garbage, a bad header, a bad frame);
    /// no data frame follows them. The client is expected to fail the connection.
    func injectRaw(_ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        guard !closeQueued, !finished else { return }
        bytes.withUnsafeBufferPointer { appendLocked($0.baseAddress!, $0.count) }
        closeQueued = true
        closeDeadlineNs = monotonicNs() + settings.closeTimeoutNs
        wakeWriterLocked()
    }

    /// Starts the close handshake (server shutdown, `--duration` over).
    func close(_ code: CloseCode, reason: String) {
        lock.lock()
        queueCloseLocked(code, reason: reason)
        lock.unlock()
    }

    var isFinished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return finished && writerDone
    }

    // MARK: - Buffer

    private func appendLocked(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
        precondition(pendingCount + count <= settings.bufferBytes + Self.controlReserve,
                     "client \(id) buffer overflow: \(pendingCount) + \(count)")
        (pending + pendingCount).update(from: bytes, count: count)
        pendingCount += count
    }

    /// Writes an unmasked server frame header and the payload into `pending`.
    private func appendFrameLocked(_ opcode: Opcode, _ payload: UnsafePointer<UInt8>, _ count: Int) {
        let at = pending + pendingCount
        at[0] = 0x80 | opcode.rawValue
        var header = 2
        if count < 126 {
            at[1] = UInt8(count)
        } else if count <= 0xFFFF {
            at[1] = 126
            at[2] = UInt8(truncatingIfNeeded: count >> 8)
            at[3] = UInt8(truncatingIfNeeded: count)
            header = 4
        } else {
            at[1] = 127
            for k in 0..<8 { at[2 + k] = UInt8(truncatingIfNeeded: UInt64(count) >> UInt64(56 - 8 * k)) }
            header = 10
        }
        (at + header).update(from: payload, count: count)
        pendingCount += header + count
        wakeWriterLocked()
    }

    private func wakeWriterLocked() {
        if writerWaiting { lock.signal() }
    }

    /// Queues a control or reply frame; a client too slow to leave room for it is dropped.
    private func appendControlLocked(_ opcode: Opcode, _ payload: [UInt8]) {
        guard !closeQueued, !finished else { return }
        if pendingCount + FrameEncoder.frameLength(payloadCount: payload.count, masked: false)
            > settings.bufferBytes + Self.controlReserve - 256 {
            host.counters.slowConsumers.add(1, ordering: .relaxed)
            pendingCount = 0
            queueCloseLocked(.policyViolation, reason: "slow consumer")
            return
        }
        payload.withUnsafeBufferPointer { appendFrameLocked(opcode, $0.baseAddress ?? UnsafePointer(pending), $0.count) }
    }

    /// Queues our close frame (once) and starts the wait for the peer's.
    private func queueCloseLocked(_ code: CloseCode?, reason: String) {
        guard !closeQueued, !finished else { return }
        var payload: [UInt8] = []
        if let code {
            payload = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)] + Array(reason.utf8.prefix(123))
        }
        payload.withUnsafeBufferPointer { appendFrameLocked(.close, $0.baseAddress ?? UnsafePointer(pending), $0.count) }
        closeQueued = true
        closeDeadlineNs = monotonicNs() + settings.closeTimeoutNs
    }

    // MARK: - Subscriptions (lock held)

    private func subscribeLocked(_ name: String) {
        if let id = host.streamIds[name] { subscribed[id] = true }
        if !subscriptionNames.contains(name) { subscriptionNames.append(name) }
    }

    private func unsubscribeLocked(_ name: String) {
        if let id = host.streamIds[name] { subscribed[id] = false }
        subscriptionNames.removeAll { $0 == name }
    }

    // MARK: - Threads

    /// Runs the connection on the calling thread until it ends; starts the writer thread.
    /// - Parameter initial: bytes that arrived after the handshake head.
    func run(initial: [UInt8]) {
        Thread.detachNewThread { [self] in runWriter() }
        var decoder = FrameDecoder(role: .server, limits: FrameLimits(maxFrameBytes: 1 << 16, maxMessageBytes: 1 << 16))
        var handler = ControlHandler(connection: self)
        let capacity = 64 * 1024
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        nextPingNs = monotonicNs() + settings.pingIntervalNs
        if !initial.isEmpty {
            let status = initial.withUnsafeBufferPointer { decoder.feed($0.span, to: &handler) }
            handle(status)
        }
        while true {
            if housekeeping(now: monotonicNs()) { break }
            guard waitReadable(fd, timeoutMs: 50) else { continue }
            let n = recv(fd, buffer, capacity, 0)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                break
            }
            let status = decoder.feed(UnsafeBufferPointer(start: buffer, count: n).span, to: &handler)
            handle(status)
        }
        lock.lock()
        finished = true
        lock.broadcast()
        lock.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
        lock.lock()
        while !writerDone { lock.wait() }
        lock.unlock()
        Glibc.close(fd)
        host.unregister(self)
    }

    private func runWriter() {
        lock.lock()
        while true {
            while pendingCount == 0 && !finished && !shutdownAfterFlush {
                writerWaiting = true
                lock.wait()
                writerWaiting = false
            }
            if finished { break }
            if pendingCount == 0 {
                // shutdownAfterFlush: everything, our close frame included, is out.
                shutdown(fd, Int32(SHUT_RDWR))
                break
            }
            swap(&pending, &sending)
            let count = pendingCount
            pendingCount = 0
            lock.unlock()
            let ok = sendAll(fd, sending, count)
            host.counters.bytesSent.add(UInt64(count), ordering: .relaxed)
            host.counters.sendCalls.add(1, ordering: .relaxed)
            lock.lock()
            if !ok {
                finished = true
                shutdown(fd, Int32(SHUT_RDWR))
                break
            }
        }
        writerDone = true
        lock.broadcast()
        lock.unlock()
    }

    /// Pings, the pong timeout and the close timeout. Returns true when the reader should stop.
    private func housekeeping(now: Int64) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if finished { return true }
        if closeQueued {
            if now >= closeDeadlineNs {
                // The peer never answered our close: drop TCP.
                finished = true
                lock.broadcast()
                return true
            }
            return false
        }
        if host.isSilent(nowNs: now) {
            // Silence freezes the ping clock: no pings out, no timeout for their pongs.
            if unansweredSinceNs != nil { unansweredSinceNs = now }
            nextPingNs = max(nextPingNs, now + settings.pingIntervalNs)
            return false
        }
        if let since = unansweredSinceNs, now - since > settings.pongTimeoutNs {
            host.counters.pongTimeouts.add(1, ordering: .relaxed)
            queueCloseLocked(.policyViolation, reason: "pong timeout")
            return false
        }
        if now >= nextPingNs {
            lastPingPayload = Array(String(wallMs()).utf8)
            appendControlLocked(.ping, lastPingPayload)
            if unansweredSinceNs == nil { unansweredSinceNs = now }
            nextPingNs = now + settings.pingIntervalNs
        }
        return false
    }

    private func handle(_ status: DecoderStatus) {
        switch status {
        case .open:
            return
        case .closeReceived(let code):
            lock.lock()
            if !closeQueued { queueCloseLocked(code.isValidOnWire ? code : nil, reason: "") }
            shutdownAfterFlush = true
            wakeWriterLocked()
            lock.unlock()
        case .failed(let violation):
            host.counters.protocolViolations.add(1, ordering: .relaxed)
            lock.lock()
            queueCloseLocked(violation.closeCode, reason: "\(violation)")
            shutdownAfterFlush = true
            wakeWriterLocked()
            lock.unlock()
        }
    }

    // MARK: - Frames from the client (reader thread)

    fileprivate func onPing(_ payload: [UInt8]) {
        guard !host.isSilent(nowNs: monotonicNs()) else { return }
        lock.lock()
        appendControlLocked(.pong, payload)
        lock.unlock()
    }

    fileprivate func onPong(_ payload: [UInt8]) {
        // Only the answer to our latest ping counts (RFC 6455 allows answering only the
        // latest); unsolicited pongs keep nothing alive, as on Binance.
        if payload == lastPingPayload { unansweredSinceNs = nil }
    }

    /// SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS (SPECS §1.4). The subscription change
    /// and the reply are queued under one lock: after an UNSUBSCRIBE reply no frame of
    /// that stream follows; after a SUBSCRIBE reply its frames may.
    fileprivate func onText(_ text: [UInt8]) {
        guard !host.isSilent(nowNs: monotonicNs()) else { return }
        let reply: String
        var change: ((ClientConnection) -> Void)?
        guard let object = try? JSONSerialization.jsonObject(with: Data(text)) as? [String: Any] else {
            lock.lock()
            appendControlLocked(.text, Array("{\"code\":3,\"msg\":\"Invalid JSON\",\"id\":null}".utf8))
            lock.unlock()
            return
        }
        let idText = Self.jsonId(object["id"])
        let params = object["params"] as? [String]
        switch object["method"] as? String {
        case "SUBSCRIBE" where params != nil:
            change = { connection in for name in params! { connection.subscribeLocked(name) } }
            reply = "{\"result\":null,\"id\":\(idText)}"
        case "UNSUBSCRIBE" where params != nil:
            change = { connection in for name in params! { connection.unsubscribeLocked(name) } }
            reply = "{\"result\":null,\"id\":\(idText)}"
        case "LIST_SUBSCRIPTIONS":
            reply = ""
        default:
            reply = "{\"code\":2,\"msg\":\"Invalid request: unknown method or params\",\"id\":\(idText)}"
        }
        lock.lock()
        defer { lock.unlock() }
        change?(self)
        if reply.isEmpty {
            let names = subscriptionNames.map { "\"\($0)\"" }.joined(separator: ",")
            appendControlLocked(.text, Array("{\"result\":[\(names)],\"id\":\(idText)}".utf8))
        } else {
            appendControlLocked(.text, Array(reply.utf8))
        }
    }

    /// The request id as JSON: a number, a string or null.
    private static func jsonId(_ value: Any?) -> String {
        if let number = value as? NSNumber { return number.stringValue }
        if let text = value as? String,
           let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]),
           let array = String(data: data, encoding: .utf8) {
            return String(array.dropFirst().dropLast())
        }
        return "null"
    }
}

/// Receives the client's frames from the decoder (reader thread). Copies what it keeps:
/// the spans die with the call.
private struct ControlHandler: FrameHandler {
    let connection: ClientConnection

    mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>) {
        guard kind == .text else { return }
        connection.onText(Self.copy(payload))
    }

    mutating func onPing(_ payload: Span<UInt8>) { connection.onPing(Self.copy(payload)) }
    mutating func onPong(_ payload: Span<UInt8>) { connection.onPong(Self.copy(payload)) }
    mutating func onClose(_ code: CloseCode, reason: Span<UInt8>) {}

    private static func copy(_ span: Span<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(span.count)
        for i in 0..<span.count { out.append(span[i]) }
        return out
    }
}
