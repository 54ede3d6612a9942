#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TicklineConfig
import TicklineCore

/// Why the control plane could not start.
public struct ControlError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// The HTTP control plane: `GET /healthz` (open), and with the bearer token
/// `GET /readiness`, `/metrics` (Prometheus text), `/api/snapshot|positions|orders|signals|limits|trades`,
/// `POST /api/subscribe|unsubscribe` (`{"symbols": [...]}`), `POST /api/halt|reduce|resume|flatten|kill`
/// (halt, reduce and resume take `{"strategy": id}` or `{"symbol": "NAME"}` to address one
/// strategy or symbol; a resume takes `{"confirm": "kill"}` to lift the latched kill switch),
/// `PUT /api/limits` (`{"key": value}`), the dashboard at `/` and its live feed
/// `/api/stream` (server-sent events). A command answers with its `ControlReply`: 200 once
/// the risk stage applied it (with the state or limits in force), 202 when taken but not yet
/// in force, 422 when refused (with the reason), 503 when the control ring was full or no
/// acknowledgement came in time. Runs on SwiftNIO's threads, never a pinned core.
public final class ControlServer: Sendable {
    public let token: String
    let source: any ControlPlaneSource
    let config: ControlConfig
    let task = Mutex<Task<Void, any Error>?>(nil)
    let bound = Mutex<Int?>(nil)
    let startFailure = Mutex<String?>(nil)
    let executor = ControlExecutor(name: "control")

    /// - Parameter token: the resolved bearer token (`resolveToken`).
    public init(config: ControlConfig, token: String, source: any ControlPlaneSource) {
        self.config = config
        self.token = token
        self.source = source
    }

    /// The token to require: the config's, else `TICKLINE_CONTROL_TOKEN`, else a new random
    /// one written to `token_file` (0600). Returns it and where it came from (for the log).
    public static func resolveToken(config: ControlConfig, instance: String,
                                    environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ControlError) -> (token: String, origin: String) {
        if !config.token.isEmpty { return (config.token, "control.token in the config") }
        if let t = environment["TICKLINE_CONTROL_TOKEN"], !t.isEmpty {
            guard t.utf8.count >= 16 else { throw ControlError(description: "TICKLINE_CONTROL_TOKEN must have at least 16 characters") }
            return (t, "TICKLINE_CONTROL_TOKEN")
        }
        var rng = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in String(rng.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
        let path = config.tokenFile.replacingOccurrences(of: "{instance}", with: instance)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ControlError(description: "cannot write the control token to \(path): \(String(cString: strerror(errno))) (set control.token_file)")
        }
        fchmod(fd, 0o600)
        let line = token + "\n"
        let ok = line.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) == $0.count - 1 }
        close(fd)
        guard ok else { throw ControlError(description: "cannot write the control token to \(path)") }
        return (token, "generated, in \(path)")
    }

    /// The port it listens on once started (the configured one, or the one picked for 0).
    public var port: Int? { bound.withLock { $0 } }

    /// Starts listening; returns once the socket is bound (or throws why not).
    public func start(timeoutSeconds: Double = 10) throws(ControlError) {
        let (host, port) = config.hostAndPort
        let router = Router()
        router.addMiddleware { BearerTokenMiddleware(token: token) }
        addRoutes(router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "tickline"),
            onServerRunning: { channel in self.bound.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "tickline.control", factory: { _ in SwiftLogNoOpLogHandler() }))
        let t = Task(executorPreference: executor) {
            do { try await app.run() } catch {
                self.startFailure.withLock { $0 = "\(error)" }
                throw error
            }
        }
        task.withLock { $0 = t }
        let deadline = Clock.monotonic() + Int64(timeoutSeconds * 1e9)
        while self.port == nil {
            if let why = startFailure.withLock({ $0 }) { throw ControlError(description: "control plane cannot listen on \(config.listen): \(why)") }
            if Clock.monotonic() > deadline { throw ControlError(description: "control plane did not start listening on \(config.listen) in \(timeoutSeconds) s") }
            usleep(5_000)
        }
    }

    /// Stops the server (open streams end).
    public func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }

    func addRoutes(_ router: Router<BasicRequestContext>) {
        let source = self.source
        let pushNs = UInt64(config.pushIntervalMs) * 1_000_000
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readiness") { _, _ -> Response in
            let checks = source.readiness()
            return try Self.json(["ready": AnyEncodable(checks.allSatisfy(\.ok)), "checks": AnyEncodable(checks)],
                                 status: checks.allSatisfy(\.ok) ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: source.prometheusMetrics())))
        }
        router.get("/api/snapshot") { _, _ in try Self.json(source.snapshot()) }
        router.get("/api/positions") { _, _ in try Self.json(source.snapshot().positions) }
        router.get("/api/orders") { _, _ in try Self.json(source.snapshot().openOrders) }
        router.get("/api/signals") { _, _ in try Self.json(source.snapshot().recentSignals) }
        router.get("/api/limits") { _, _ in try Self.json(source.snapshot().limits) }
        router.get("/api/trades") { _, _ in try Self.json(source.roundTrips()) }
        struct Symbols: Decodable { let symbols: [String] }
        router.post("/api/subscribe") { request, context -> Response in
            let body = try await request.decode(as: Symbols.self, context: context)
            return try Self.reply(await source.submit(.subscribe(body.symbols)))
        }
        router.post("/api/unsubscribe") { request, context -> Response in
            let body = try await request.decode(as: Symbols.self, context: context)
            return try Self.reply(await source.submit(.unsubscribe(body.symbols)))
        }
        for (path, request) in [("halt", ControlRequest.halt), ("reduce", .reduce), ("resume", .resume), ("flatten", .flatten), ("kill", .kill)] {
            router.post("/api/\(path)") { request_, context -> Response in
                let buffer = try await request_.body.collect(upTo: 4_096)
                switch Self.request(request, body: String(buffer: buffer)) {
                case .success(let r): return try Self.reply(await source.submit(r))
                case .failure(let refusal): return try Self.reply(ControlReply(outcome: .refused, message: refusal.description))
                }
            }
        }
        router.put("/api/limits") { request, context -> Response in
            let body = try await request.decode(as: [String: Double].self, context: context)
            return try Self.reply(await source.submit(.setLimits(body)))
        }
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: Dashboard.html)))
        }
        // Server-sent events: one `snapshot` event per push interval until the client goes,
        // or `?max=N` events (scripted readers; a browser's EventSource then reconnects).
        router.get("/api/stream") { request, _ -> Response in
            let encoder = JSONEncoder()
            let max = request.uri.queryParameters["max"].flatMap { Int($0) } ?? Int.max
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: .init { writer in
                    var sent = 0
                    while !Task.isCancelled && sent < max {
                        sent += 1
                        let data = try encoder.encode(source.snapshot())
                        var buffer = ByteBuffer(string: "event: snapshot\ndata: ")
                        buffer.writeBytes(data)
                        buffer.writeString("\n\n")
                        try await writer.write(buffer)
                        try await Task.sleep(nanoseconds: pushNs)
                    }
                    try await writer.finish(nil)
                })
        }
    }

    /// The request a `POST /api/halt|reduce|resume|flatten|kill` body makes of `global`: an
    /// empty body or `{}` is `global` itself; `{"strategy": id}` or `{"symbol": "NAME"}`
    /// scopes a halt, reduce or resume; `{"confirm": "kill"}` makes a resume lift the kill
    /// switch. Anything else is refused with what is accepted.
    static func request(_ global: ControlRequest, body: String) -> Result<ControlRequest, ControlError> {
        struct Body: Decodable { let strategy: Int?; let symbol: String?; let confirm: String? }
        let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return .success(global) }
        guard let b = try? JSONDecoder().decode(Body.self, from: Data(trimmed.utf8)) else {
            return .failure(ControlError(description: #"the body must be empty or JSON: {"strategy": id}, {"symbol": "NAME"} or, for resume, {"confirm": "kill"}"#))
        }
        let change: ControlRequest.ScopedChange? = switch global {
        case .halt: .halt
        case .reduce: .reduce
        case .resume: .resume
        default: nil
        }
        if let confirm = b.confirm {
            guard global == .resume, b.strategy == nil, b.symbol == nil else {
                return .failure(ControlError(description: "confirm is taken by a global resume only"))
            }
            guard confirm == "kill" else {
                return .failure(ControlError(description: #"confirm must be "kill" (it lifts the kill switch)"#))
            }
            return .success(.resumeAfterKill)
        }
        switch (b.strategy, b.symbol) {
        case (nil, nil): return .success(global)
        case (_?, _?): return .failure(ControlError(description: "give a strategy or a symbol, not both"))
        case (let id?, nil):
            guard let change else { return .failure(ControlError(description: "this command is global only: no strategy")) }
            return .success(.scoped(change, .strategy(id)))
        case (nil, let name?):
            guard let change else { return .failure(ControlError(description: "this command is global only: no symbol")) }
            return .success(.scoped(change, .symbol(name)))
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func reply(_ r: ControlReply) throws -> Response {
        try json(r, status: HTTPResponse.Status(code: r.httpStatus))
    }
}

/// Refuses every request but `GET /healthz` without `Authorization: Bearer <token>`. The
/// dashboard page and its event stream may carry `?token=` instead (a browser's
/// EventSource cannot set headers). Compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/healthz" { return try await next(request, context) }
        var presented: Substring?
        if let h = request.headers[.authorization], h.hasPrefix("Bearer ") { presented = h.dropFirst(7) }
        if presented == nil && (path == "/" || path == "/api/stream") { presented = request.uri.queryParameters["token"] }
        guard let presented, Self.equal(presented, token) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"tickline\""],
                            body: .init(byteBuffer: ByteBuffer(string: "unauthorized: send Authorization: Bearer <token>\n")))
        }
        return try await next(request, context)
    }

    static func equal(_ a: Substring, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Lets `json` encode a dictionary of mixed values.
struct AnyEncodable: Encodable {
    let encodeValue: (Encoder) throws -> Void
    init(_ value: some Encodable) { encodeValue = value.encode }
    func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}

extension String {
    func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
