#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TicklineWebSocket

/// A fault the server can inject on request (`--fault`, `POST /fault?kind=…`).
enum Fault: Sendable, Equatable {
    /// Close TCP of every client without a close frame.
    case drop
    /// Send nothing (data, pings, pongs, replies) for this many seconds.
    case silence(seconds: Double)
    /// Bytes that are no WebSocket frame (the first has a reserved opcode: close 1002).
    case garbage
    /// A frame header declaring a 1 TiB payload (close 1009).
    case oversized
    /// A text frame that is not UTF-8 (close 1007).
    case badUTF8
    /// Do not send the next `count` depth diffs (of `symbol`, or of any symbol); the
    /// server's book still applies them, so clients see a `U`/`u` gap.
    case skipDepth(count: Int, symbol: String?)

    /// Parses `drop`, `silence=3` (seconds, at most 86400), `garbage`, `oversized`, `bad-utf8`, `skip-depth[=N]`.
    init?(_ text: String, argument: String? = nil) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard let kind = parts.first else { return nil }
        let value = parts.count > 1 ? parts[1] : argument
        switch kind {
        case "drop": self = .drop
        case "silence":
            // At most a day: the end of the silence is a deadline in Int64 ns.
            guard let seconds = Double(value ?? "5"), seconds > 0, seconds <= 86_400 else { return nil }
            self = .silence(seconds: seconds)
        case "garbage": self = .garbage
        case "oversized": self = .oversized
        case "bad-utf8": self = .badUTF8
        case "skip-depth":
            guard let count = Int(value ?? "1"), count > 0 else { return nil }
            self = .skipDepth(count: count, symbol: nil)
        default: return nil
        }
    }
}

/// The replay server: one listening socket for WebSocket clients and HTTP (depth
/// snapshots, health, faults), one producer thread that paces the source and fans each
/// message out to the subscribed clients, a reader and a writer thread per client.
final class FeedServer: ConnectionHost, @unchecked Sendable {
    let settings: ConnectionSettings
    let counters = ServerCounters()
    let streamIds: [String: Int]
    private let source: any MessageSource
    private let listenFd: Int32
    let address: String
    private let rate: Double
    private let waitClients: Int
    private var random = SeededGenerator(seed: UInt64(truncatingIfNeeded: monotonicNs()))

    private let silentUntilNs = Atomic<Int64>(0)
    private let depthToSkip = Atomic<Int>(0)
    /// The depth stream whose diffs `depthToSkip` withholds, or -1 for any.
    private let depthSkipStream = Atomic<Int>(-1)
    private let stopping = Atomic<Bool>(false)
    let producerFinished = Atomic<Bool>(false)
    private let producerStartNs = Atomic<Int64>(0)

    // Guarded by `registryLock`; the producer re-reads `clients` when `registryVersion` moves.
    private let registryLock = NSLock()
    private var clients: [ClientConnection] = []
    private let registryVersion = Atomic<UInt64>(0)
    private var nextClientId: UInt64 = 1

    init(source: any MessageSource, listen: String, rate: Double, waitClients: Int, settings: ConnectionSettings) throws(SocketError) {
        self.source = source
        self.settings = settings
        self.rate = rate
        self.waitClients = waitClients
        var ids: [String: Int] = [:]
        for (id, name) in source.streamNames.enumerated() { ids[name] = id }
        streamIds = ids
        (listenFd, address) = try listenSocket(listen)
    }

    var clientCount: Int {
        registryLock.lock()
        defer { registryLock.unlock() }
        return clients.count
    }

    /// When the producer began sending (after `--wait-clients`), or 0 before.
    var sendingStartedNs: Int64 { producerStartNs.load(ordering: .acquiring) }

    func isSilent(nowNs: Int64) -> Bool { nowNs < silentUntilNs.load(ordering: .relaxed) }

    func unregister(_ connection: ClientConnection) {
        registryLock.lock()
        clients.removeAll { $0 === connection }
        registryLock.unlock()
        registryVersion.add(1, ordering: .releasing)
    }

    private func register(_ connection: ClientConnection) {
        registryLock.lock()
        clients.append(connection)
        registryLock.unlock()
        registryVersion.add(1, ordering: .releasing)
    }

    private func snapshotClients() -> [ClientConnection] {
        registryLock.lock()
        defer { registryLock.unlock() }
        return clients
    }

    // MARK: - Threads

    func start(faults: [(Fault, Double)]) {
        Thread.detachNewThread { [self] in acceptLoop() }
        Thread.detachNewThread { [self] in produce() }
        if !faults.isEmpty {
            Thread.detachNewThread { [self] in
                while producerStartNs.load(ordering: .acquiring) == 0 && !stopping.load(ordering: .relaxed) { sleepNs(10_000_000) }
                let start = producerStartNs.load(ordering: .acquiring)
                for (fault, at) in faults.sorted(by: { $0.1 < $1.1 }) {
                    sleepNs(start + Int64(at * 1e9) - monotonicNs())
                    if stopping.load(ordering: .relaxed) { return }
                    let outcome = apply(fault)
                    FileHandle.standardError.write(Data("tickline-feed: fault \(outcome)\n".utf8))
                }
            }
        }
    }

    /// Sends close 1001 to every client and waits (bounded) for them to finish.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        for client in snapshotClients() { client.close(.goingAway, reason: "server stopping") }
        let deadline = monotonicNs() + 1_000_000_000
        while clientCount > 0 && monotonicNs() < deadline { sleepNs(10_000_000) }
        for client in snapshotClients() { client.dropAbruptly() }
    }

    private func acceptLoop() {
        while !stopping.load(ordering: .relaxed) {
            let fd = accept(listenFd, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE { sleepNs(50_000_000); continue }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            setNoDelay(fd)
            Thread.detachNewThread { [self] in serve(fd) }
        }
    }

    /// Paces the source on the monotonic clock, open loop: a message's due time is
    /// start + n / rate whatever the clients do; when late, it catches up at full speed.
    private func produce() {
        while clientCount < waitClients && !stopping.load(ordering: .relaxed) { sleepNs(5_000_000) }
        let start = monotonicNs()
        producerStartNs.store(start, ordering: .releasing)
        let nsPerMessage = rate > 0 ? 1e9 / rate : 0
        var sent: Int64 = 0
        var cached = snapshotClients()
        var cachedVersion = registryVersion.load(ordering: .acquiring)
        while !stopping.load(ordering: .relaxed) {
            if rate > 0 {
                let now = monotonicNs()
                let due = Int64(Double(now - start) / nsPerMessage) + 1
                if sent >= due {
                    sleepNs(start + Int64(Double(sent) * nsPerMessage) - now)
                    continue
                }
            }
            let version = registryVersion.load(ordering: .acquiring)
            if version != cachedVersion {
                cached = snapshotClients()
                cachedVersion = version
            }
            guard let message = source.next() else { break }
            sent += 1
            counters.produced.add(1, ordering: .relaxed)
            if message.isDepth && depthToSkip.load(ordering: .relaxed) > 0
                && (depthSkipStream.load(ordering: .relaxed) < 0 || depthSkipStream.load(ordering: .relaxed) == message.streamId) {
                depthToSkip.subtract(1, ordering: .relaxed)
                counters.depthSkipped.add(1, ordering: .relaxed)
                continue
            }
            if isSilent(nowNs: monotonicNs()) {
                counters.silenced.add(1, ordering: .relaxed)
                continue
            }
            for client in cached { client.enqueueData(message) }
        }
        producerFinished.store(true, ordering: .releasing)
        FileHandle.standardError.write(Data("tickline-feed: source finished after \(sent) messages\n".utf8))
    }

    // MARK: - Faults

    /// Applies `fault` now; returns a one-line JSON description.
    func apply(_ fault: Fault) -> String {
        counters.faults.add(1, ordering: .relaxed)
        let targets = snapshotClients()
        let kind: String
        switch fault {
        case .drop:
            kind = "\"drop\""
            for client in targets { client.dropAbruptly() }
        case .silence(let seconds):
            kind = "\"silence\",\"seconds\":\(seconds)"
            silentUntilNs.store(monotonicNs() + Int64(seconds * 1e9), ordering: .relaxed)
            for client in targets { client.discardPending() }
        case .garbage:
            kind = "\"garbage\""
            registryLock.lock()
            // First byte: reserved opcode 0x3–0x7 with random RSV bits, so every client
            // fails the same way (1002); the rest is random.
            var bytes: [UInt8] = [UInt8(random.below(8) << 4) | UInt8(3 + random.below(5))]
            for _ in 0..<63 { bytes.append(UInt8(truncatingIfNeeded: random.next())) }
            registryLock.unlock()
            for client in targets { client.injectRaw(bytes) }
        case .oversized:
            kind = "\"oversized\""
            // Binary frame, FIN, 64-bit length 2^40.
            for client in targets { client.injectRaw([0x82, 0x7F, 0, 0, 0x01, 0, 0, 0, 0, 0]) }
        case .badUTF8:
            kind = "\"bad-utf8\""
            let payload: [UInt8] = Array("{\"e\":\"trade\",\"s\":\"".utf8) + [0xC3, 0x28] + Array("\"}".utf8)
            for client in targets { client.injectRaw([0x81, UInt8(payload.count)] + payload) }
        case .skipDepth(let count, let symbol):
            var stream = -1
            if let symbol {
                let lower = symbol.lowercased()
                guard let id = streamIds["\(lower)@depth@100ms"] ?? streamIds["\(lower)@depth"] else {
                    return "{\"error\":\"no depth stream for symbol \(symbol)\"}"
                }
                stream = id
            }
            kind = "\"skip-depth\",\"count\":\(count),\"stream\":\(stream)"
            depthSkipStream.store(stream, ordering: .relaxed)
            depthToSkip.add(count, ordering: .relaxed)
        }
        return "{\"fault\":\(kind),\"clients\":\(targets.count)}"
    }

    // MARK: - One accepted connection

    private func serve(_ fd: Int32) {
        var received: [UInt8] = []
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
        defer { chunk.deallocate() }
        let deadline = monotonicNs() + 5_000_000_000
        var head: HTTPHead?
        while head == nil {
            if monotonicNs() > deadline { Glibc.close(fd); return }
            guard waitReadable(fd, timeoutMs: 100) else { continue }
            let n = recv(fd, chunk, 4096, 0)
            if n <= 0 { Glibc.close(fd); return }
            received.append(contentsOf: UnsafeBufferPointer(start: chunk, count: n))
            switch received.withUnsafeBufferPointer({ HTTPHead.parse($0.span, maxBytes: 16 * 1024) }) {
            case .incomplete: continue
            case .failed(let error):
                _ = sendAll(fd, httpResponse(400, "{\"error\":\"\(error.description)\"}"))
                Glibc.close(fd)
                return
            case .complete(let parsed, _):
                head = parsed
            }
        }
        guard let head else { return }
        if head.value(of: "Upgrade") != nil {
            upgrade(fd, received)
            return
        }
        let response = route(head)
        _ = sendAll(fd, response)
        shutdown(fd, Int32(SHUT_WR))
        // Let the peer read the answer before the descriptor goes (bounded).
        _ = waitReadable(fd, timeoutMs: 1000)
        Glibc.close(fd)
    }

    private func upgrade(_ fd: Int32, _ received: [UInt8]) {
        switch received.withUnsafeBufferPointer({ ServerHandshake.parseRequest($0.span) }) {
        case .incomplete:
            Glibc.close(fd)
        case .rejected(let error):
            _ = sendAll(fd, ServerHandshake.rejection(for: error))
            Glibc.close(fd)
        case .request(let request, let headLength):
            let (path, query) = splitTarget(request.path)
            let combined: Bool
            var streams: [String]
            if path == "/stream" {
                combined = true
                streams = (query["streams"] ?? "").split(separator: "/").map(String.init)
            } else if path == "/ws" || path.hasPrefix("/ws/") {
                combined = false
                streams = path.dropFirst(3).split(separator: "/").map(String.init)
            } else {
                _ = sendAll(fd, httpResponse(404, "{\"error\":\"no WebSocket endpoint at \(path): use /ws/<stream> or /stream?streams=a/b\"}"))
                Glibc.close(fd)
                return
            }
            guard sendAll(fd, ServerHandshake.response(to: request)) else { Glibc.close(fd); return }
            registryLock.lock()
            let id = nextClientId
            nextClientId += 1
            registryLock.unlock()
            counters.clientsAccepted.add(1, ordering: .relaxed)
            let connection = ClientConnection(fd: fd, id: id, combined: combined, streams: streams, host: self,
                                              streamCount: source.streamNames.count)
            register(connection)
            connection.run(initial: Array(received[headLength...]))
        }
    }

    /// `GET /api/v3/depth` (also `/fapi/v1/depth`, the futures path), `GET /healthz`, `POST /fault`.
    private func route(_ head: HTTPHead) -> [UInt8] {
        let parts = head.startLine.split(separator: " ")
        guard parts.count == 3 else { return httpResponse(400, "{\"error\":\"bad request line\"}") }
        let method = parts[0]
        let (path, query) = splitTarget(String(parts[1]))
        switch (method, path) {
        case ("GET", "/api/v3/depth"), ("GET", "/fapi/v1/depth"):
            guard let symbol = query["symbol"]?.uppercased(), !symbol.isEmpty else {
                return httpResponse(400, "{\"code\":-1102,\"msg\":\"Mandatory parameter 'symbol' was not sent.\"}")
            }
            guard let body = source.depthSnapshot(symbol: symbol, limit: clampDepthLimit(query["limit"].flatMap { Int($0) })) else {
                return httpResponse(400, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}")
            }
            return httpResponse(200, body)
        case ("GET", "/healthz"):
            return httpResponse(200, Array(health().utf8))
        case ("POST", "/fault"):
            guard let kind = query["kind"], var fault = Fault(kind, argument: query["seconds"] ?? query["count"]) else {
                return httpResponse(400, "{\"error\":\"kind must be drop, silence[=S], garbage, oversized, bad-utf8 or skip-depth[=N]\"}")
            }
            if case .skipDepth(let count, _) = fault, let symbol = query["symbol"] { fault = .skipDepth(count: count, symbol: symbol) }
            let outcome = apply(fault)
            return httpResponse(outcome.hasPrefix("{\"error\"") ? 400 : 200, Array(outcome.utf8))
        default:
            return httpResponse(404, "{\"error\":\"no route \(method) \(path)\"}")
        }
    }

    func health() -> String {
        let c = counters
        return "{\"status\":\"ok\",\"clients\":\(clientCount),\"streams\":\(streamIds.count)"
            + ",\"produced\":\(c.produced.load(ordering: .relaxed)),\"frames_queued\":\(c.framesQueued.load(ordering: .relaxed))"
            + ",\"frames_dropped\":\(c.framesDropped.load(ordering: .relaxed)),\"bytes_sent\":\(c.bytesSent.load(ordering: .relaxed))"
            + ",\"send_calls\":\(c.sendCalls.load(ordering: .relaxed)),\"silenced\":\(c.silenced.load(ordering: .relaxed))"
            + ",\"depth_skipped\":\(c.depthSkipped.load(ordering: .relaxed)),\"slow_consumers\":\(c.slowConsumers.load(ordering: .relaxed))"
            + ",\"pong_timeouts\":\(c.pongTimeouts.load(ordering: .relaxed)),\"protocol_violations\":\(c.protocolViolations.load(ordering: .relaxed))"
            + ",\"clients_accepted\":\(c.clientsAccepted.load(ordering: .relaxed)),\"faults\":\(c.faults.load(ordering: .relaxed))"
            + ",\"source_finished\":\(producerFinished.load(ordering: .relaxed))}"
    }
}

func httpResponse(_ status: Int, _ body: String) -> [UInt8] { httpResponse(status, Array(body.utf8)) }

func httpResponse(_ status: Int, _ body: [UInt8]) -> [UInt8] {
    let reason = switch status {
    case 200: "OK"
    case 400: "Bad Request"
    case 404: "Not Found"
    default: "Error"
    }
    return Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
}
