#if canImport(Glibc)
import Glibc
#endif
import CHiredis

/// What became of one pipelined batch of commands.
public enum RedisOutcome: Equatable, Sendable {
    /// Every reply read. `duplicates`: stream entries refused as a redelivery of a record
    /// already written (`StreamScript`'s `DUPLICATE` reply). `errors`: other
    /// error replies (counted; `firstError` names one).
    case written(duplicates: Int, errors: Int, firstError: String?)
    /// Connection refused, lost, or timed out: resend the batch later (idempotent).
    case retryLater(reason: String)
    /// Authentication or database selection refused: a configuration error.
    case configError(reason: String)
}

/// Where to reach Redis, from `redis://[[user]:password@]host[:port][/db]`.
public struct RedisAddress: Equatable, Sendable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: Int

    /// Parses a redis:// URL (cold path).
    public static func parse(_ text: String) throws(WriterError) -> RedisAddress {
        guard text.hasPrefix("redis://") else { throw .invalidURL(text, why: "must start with redis://") }
        var rest = Substring(text.dropFirst("redis://".count))
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let creds = rest[rest.startIndex..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = creds.firstIndex(of: ":") {
                let u = String(creds[creds.startIndex..<colon])
                user = u.isEmpty ? nil : InfluxClient.percentDecode(u)
                password = InfluxClient.percentDecode(String(creds[creds.index(after: colon)...]))
            } else if !creds.isEmpty {
                password = InfluxClient.percentDecode(String(creds))
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[rest.startIndex..<slash]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw .invalidURL(text, why: "database '\(db)' must be a number") }
                database = n
            }
        }
        var host = String(rest)
        var port = 6379
        if let colon = rest.lastIndex(of: ":") {
            host = String(rest[rest.startIndex..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), p > 0, p < 65_536 else {
                throw .invalidURL(text, why: "port must be 1-65535")
            }
            port = p
        }
        if host.isEmpty { throw .invalidURL(text, why: "no host") }
        return RedisAddress(host: host, port: port, user: user, password: password, database: database)
    }

    /// host:port/db without credentials, for logs.
    public var display: String { "redis://\(host):\(port)/\(database)" }
}

/// A pipelined Redis connection over hiredis 0.14: preformatted RESP commands are
/// appended in one call (`redisAppendFormattedCommand`) and their replies read in order
/// (`redisGetReply`). Connects lazily, re-connects after a failure, and sends AUTH and
/// SELECT on each connect. Owned by the writer thread; not thread-safe.
public final class RedisClient {
    public let address: RedisAddress
    public let timeoutMs: Int
    var context: UnsafeMutablePointer<redisContext>?
    public private(set) var connects: UInt64 = 0

    public init(address: RedisAddress, timeoutMs: Int) {
        self.address = address
        self.timeoutMs = timeoutMs
    }

    deinit { disconnect() }

    public var isConnected: Bool { context != nil }

    public func disconnect() {
        if let c = context { redisFree(c) }
        context = nil
    }

    /// Connects (if needed), authenticates and selects the database.
    func connect() -> RedisOutcome? {
        if context != nil { return nil }
        guard let c = redisConnectWithTimeout(address.host, Int32(address.port), tl_redis_timeval_ms(timeoutMs)) else {
            return .retryLater(reason: "\(address.display): cannot allocate a context")
        }
        if c.pointee.err != 0 {
            let why = String(cString: tl_redis_errstr(c))
            redisFree(c)
            return .retryLater(reason: "\(address.display): \(why)")
        }
        _ = redisSetTimeout(c, tl_redis_timeval_ms(timeoutMs))
        _ = redisEnableKeepAlive(c)
        context = c
        connects &+= 1
        if let password = address.password {
            var args = ["AUTH"]
            if let user = address.user { args.append(user) }
            args.append(password)
            switch command(args) {
            case .failure(let why): disconnect(); return .retryLater(reason: why.description)
            case .success(let reply):
                if reply.isError { disconnect(); return .configError(reason: "AUTH refused by \(address.display): \(reply.text)") }
            }
        }
        if address.database != 0 {
            switch command(["SELECT", "\(address.database)"]) {
            case .failure(let why): disconnect(); return .retryLater(reason: why.description)
            case .success(let reply):
                if reply.isError { disconnect(); return .configError(reason: "SELECT \(address.database) refused by \(address.display): \(reply.text)") }
            }
        }
        return nil
    }

    /// One reply of a cold-path command.
    public struct Reply: Sendable {
        public var isError: Bool
        public var text: String
        public var integer: Int64
        public var elements: [Reply]
    }

    struct Failure: Error { let reason: String }

    /// Sends one command and reads its reply (cold path: AUTH, SELECT, metrics, tests).
    public func command(_ args: [String]) -> Result<Reply, WriterError> {
        if context == nil, let failed = connect() {
            switch failed {
            case .retryLater(let r), .configError(let r): return .failure(.redisConnect(r))
            default: return .failure(.redisConnect("not connected"))
            }
        }
        let buffer = ByteBuffer(capacity: args.reduce(64) { $0 + $1.utf8.count + 32 })
        RESP.command(args, buffer)
        switch pipeline(buffer.bytes, count: 1, collect: true) {
        case .failure(let e): return .failure(e)
        case .success(let replies): return .success(replies.first ?? Reply(isError: true, text: "no reply", integer: 0, elements: []))
        }
    }

    /// Sends `count` preformatted commands and reads their replies.
    public func write(_ commands: UnsafeRawBufferPointer, count: Int) -> RedisOutcome {
        guard count > 0 else { return .written(duplicates: 0, errors: 0, firstError: nil) }
        if let failed = connect() { return failed }
        var duplicates = 0
        var errors = 0
        var firstError: String?
        var authError: String?
        var transientError: String?
        let c = context!
        guard redisAppendFormattedCommand(c, commands.baseAddress?.assumingMemoryBound(to: CChar.self), commands.count) == REDIS_OK else {
            let why = String(cString: tl_redis_errstr(c))
            disconnect()
            return .retryLater(reason: "\(address.display): \(why)")
        }
        for _ in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(c, &raw) == REDIS_OK, let raw else {
                let why = String(cString: tl_redis_errstr(c))
                disconnect()
                return .retryLater(reason: "\(address.display): \(why.isEmpty ? "connection lost" : why)")
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            if reply.pointee.type == REDIS_REPLY_ERROR {
                if Self.isRedelivery(reply) {
                    duplicates += 1
                } else if transientError == nil, let text = Self.transientError(reply) {
                    transientError = text
                } else {
                    errors += 1
                    if firstError == nil || authError == nil {
                        let text = reply.pointee.str.map { String(cString: $0) } ?? "error"
                        if firstError == nil { firstError = text }
                        if text.hasPrefix("NOAUTH") || text.hasPrefix("WRONGPASS") || text.hasPrefix("NOPERM") { authError = text }
                    }
                }
            }
            freeReplyObject(raw)
        }
        if let authError { return .configError(reason: "\(address.display): \(authError)") }
        // A server still loading its data after a restart (or busy in a script) refused the
        // commands without storing them: send the whole batch again later (what it did store
        // before or after comes back as duplicates), never count it as written.
        if let transientError { return .retryLater(reason: "\(address.display): \(transientError)") }
        return .written(duplicates: duplicates, errors: errors, firstError: firstError)
    }

    /// Errors that say "not now" rather than "never": the command was not executed and will
    /// succeed later (LOADING after a restart, BUSY script, TRYAGAIN, MASTERDOWN, CLUSTERDOWN).
    static func transientError(_ reply: UnsafeMutablePointer<redisReply>) -> String? {
        guard let s = reply.pointee.str else { return nil }
        let text = String(cString: s)
        for prefix in ["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"] where text.hasPrefix(prefix) { return text }
        return nil
    }

    /// The stream script's reply to a record it already holds (`DUPLICATE …`).
    static func isRedelivery(_ reply: UnsafeMutablePointer<redisReply>) -> Bool {
        guard let s = reply.pointee.str, reply.pointee.len >= 9 else { return false }
        return memcmp(s, "DUPLICATE", 9) == 0
    }

    func pipeline(_ commands: UnsafeRawBufferPointer, count: Int, collect: Bool) -> Result<[Reply], WriterError> {
        guard let c = context else { return .failure(.redisConnect("not connected")) }
        guard redisAppendFormattedCommand(c, commands.baseAddress?.assumingMemoryBound(to: CChar.self), commands.count) == REDIS_OK else {
            let why = String(cString: tl_redis_errstr(c))
            disconnect()
            return .failure(.redisConnect("\(address.display): \(why)"))
        }
        var replies: [Reply] = []
        for _ in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(c, &raw) == REDIS_OK, let raw else {
                let why = String(cString: tl_redis_errstr(c))
                disconnect()
                return .failure(.redisConnect("\(address.display): \(why.isEmpty ? "connection lost" : why)"))
            }
            replies.append(Self.convert(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return .success(replies)
    }

    static func convert(_ r: UnsafeMutablePointer<redisReply>) -> Reply {
        let type = r.pointee.type
        let text: String
        if let s = r.pointee.str {
            text = String(decoding: UnsafeRawBufferPointer(start: s, count: Int(r.pointee.len)), as: UTF8.self)
        } else {
            text = type == REDIS_REPLY_INTEGER ? "\(r.pointee.integer)" : ""
        }
        var elements: [Reply] = []
        if type == REDIS_REPLY_ARRAY, let e = r.pointee.element {
            for i in 0..<Int(r.pointee.elements) { if let child = e[i] { elements.append(convert(child)) } }
        }
        return Reply(isError: type == REDIS_REPLY_ERROR, text: text, integer: Int64(r.pointee.integer), elements: elements)
    }
}
