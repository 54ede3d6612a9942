#if canImport(Glibc)
import Glibc
#endif
import CCurl
import TicklineConfig

/// What became of one write (by InfluxDB's response code), as the drain loop acts on it.
public enum InfluxOutcome: Equatable, Sendable {
    /// 204 (or a partial 400/422: the good lines were stored, `dropped` were rejected by
    /// the server and are not retried).
    case written(dropped: Int)
    /// 429/503 (wait `afterMs` from Retry-After, nil = none given), a connection failure, or
    /// a timeout: resend the same batch later.
    case retryLater(afterMs: Int?, reason: String)
    /// 5xx other than 503: retry with backoff a bounded number of times.
    case serverError(code: Int, reason: String)
    /// 401/403/404 or a 500 naming a missing retention policy: a configuration error; alert
    /// and stop retrying in a loop.
    case configError(code: Int, reason: String)
    /// 400 that rejected the whole batch (v2), or a single line still too large after
    /// splitting (413): never resent; the batch is quarantined.
    case rejected(code: Int, reason: String)
}

/// An InfluxDB write endpoint over one libcurl easy handle: HTTP keep-alive (the handle's
/// connection is reused between requests), optional gzip, 1.x `/write` and 2.x
/// `/api/v2/write`. Owned by the writer thread; not thread-safe.
public final class InfluxClient {
    public enum API: String, Sendable { case v1, v2 }

    public let api: API
    /// The URL requests go to (credentials of 1.x included as u/p).
    public let url: String
    /// The URL without credentials, for logs.
    public let displayURL: String
    public let gzip: Bool
    /// Lines per request; halved after a 413 (never below 1).
    public private(set) var batchLines: Int
    /// Requests sent, and how many were split after a 413.
    public private(set) var requests: UInt64 = 0
    public private(set) var splits: UInt64 = 0

    let handle: UnsafeMutableRawPointer
    var headers: UnsafeMutablePointer<curl_slist>?
    let urlCString: UnsafeMutablePointer<CChar>
    /// Response body (first 4 KiB) and Retry-After of the last response.
    let responseBody = ByteBuffer(capacity: 4_096)
    var retryAfterSeconds: Int?
    var gzipStream = z_stream()
    var gzipBuffer: ByteBuffer?

    /// - Parameter config: the `writer.influx` section (its `url` after env overrides).
    public init(config: WriterConfig.Influx, maxBodyBytes: Int) throws(WriterError) {
        let parsed = try Self.parse(config.url)
        api = parsed.api
        var query = parsed.query
        if !query.contains(where: { $0.0 == "precision" }) { query.append(("precision", "ns")) }
        if api == .v1 {
            if query.first(where: { $0.0 == "db" })?.1.isEmpty ?? true {
                throw .invalidURL(config.url, why: "the 1.x /write endpoint needs ?db=NAME")
            }
        } else {
            if query.first(where: { $0.0 == "bucket" })?.1.isEmpty ?? true {
                throw .invalidURL(config.url, why: "the 2.x /api/v2/write endpoint needs ?bucket=NAME (and org=ORG)")
            }
        }
        func render(_ q: [(String, String)]) -> String {
            q.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        displayURL = parsed.base + "?" + render(query)
        var full = query
        if api == .v1 && !config.username.isEmpty {
            full.append(("u", config.username))
            full.append(("p", config.password))
        }
        url = parsed.base + "?" + render(full)
        gzip = config.gzip
        batchLines = config.batchLines
        guard let h = curl_easy_init() else { throw .curl("curl_easy_init failed") }
        handle = h
        urlCString = strdup(url)!

        var list: UnsafeMutablePointer<curl_slist>? = nil
        list = curl_slist_append(list, "Content-Type: text/plain; charset=utf-8")
        list = curl_slist_append(list, "Expect:")  // no 100-continue round trip on large bodies
        if api == .v2 {
            list = curl_slist_append(list, "Accept: application/json")
            if !config.token.isEmpty { list = curl_slist_append(list, "Authorization: Token \(config.token)") }
        }
        if gzip { list = curl_slist_append(list, "Content-Encoding: gzip") }
        headers = list

        var ok = tl_curl_setopt_str(h, CURLOPT_URL, urlCString) == CURLE_OK
        ok = ok && tl_curl_setopt_long(h, CURLOPT_POST, 1) == CURLE_OK
        ok = ok && tl_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && tl_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1) == CURLE_OK
        ok = ok && tl_curl_setopt_long(h, CURLOPT_TCP_NODELAY, 1) == CURLE_OK
        ok = ok && tl_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, config.timeoutMs) == CURLE_OK
        ok = ok && tl_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, config.connectTimeoutMs) == CURLE_OK
        ok = ok && tl_curl_setopt_headers(h, list) == CURLE_OK
        let me = Unmanaged.passUnretained(self).toOpaque()
        ok = ok && tl_curl_setopt_write_callback(h, { data, size, count, user in
            let client = Unmanaged<InfluxClient>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            let keep = min(n, client.responseBody.remaining)
            if keep > 0, let data { client.responseBody.append(UnsafeRawBufferPointer(start: data, count: keep)) }
            return n
        }, me) == CURLE_OK
        ok = ok && tl_curl_setopt_header_callback(h, { data, size, count, user in
            let client = Unmanaged<InfluxClient>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            if let data { client.readHeader(UnsafeRawBufferPointer(start: data, count: n)) }
            return n
        }, me) == CURLE_OK
        if !ok { throw .curl("setting request options failed") }
        if gzip {
            guard tl_gzip_init(&gzipStream, 1) == Z_OK else { throw .curl("zlib deflateInit2 failed") }
            gzipBuffer = ByteBuffer(capacity: maxBodyBytes + maxBodyBytes / 100 + 1_024)
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headers)
        free(urlCString)
        if gzip { deflateEnd(&gzipStream) }
    }

    /// Splits a write URL into base, API and query pairs (cold path).
    static func parse(_ text: String) throws(WriterError) -> (base: String, api: API, query: [(String, String)]) {
        guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
            throw .invalidURL(text, why: "must start with http:// or https://")
        }
        let parts = text.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let base = String(parts[0])
        let api: API
        if base.hasSuffix("/api/v2/write") { api = .v2 } else if base.hasSuffix("/write") { api = .v1 } else {
            throw .invalidURL(text, why: "the path must end in /write (1.x) or /api/v2/write (2.x)")
        }
        var query: [(String, String)] = []
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((percentDecode(String(kv[0])), kv.count > 1 ? percentDecode(String(kv[1])) : ""))
            }
        }
        return (base, api, query)
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(UnicodeScalar(b))
            if (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 46 || b == 95 || b == 126 {
                out.append(c)
            } else {
                let hex = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return out
    }

    static func percentDecode(_ s: String) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.first {
            it = it.dropFirst()
            if b == 37, it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else if b == 43 {
                bytes.append(32)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func readHeader(_ raw: UnsafeRawBufferPointer) {
        // "Retry-After: 2\r\n" (case-insensitive name; only the delta-seconds form is used).
        let name: [UInt8] = Array("retry-after:".utf8)
        guard raw.count > name.count else {
            return
        }
        if raw.count >= 5 && raw[0] == UInt8(ascii: "H") && raw[1] == UInt8(ascii: "T") && raw[2] == UInt8(ascii: "T") {
            retryAfterSeconds = nil  // a new response (status line) starts
            return
        }
        for i in 0..<name.count {
            var c = raw[i]
            if c >= 65 && c <= 90 { c += 32 }
            if c != name[i] { return }
        }
        var v = 0
        var seen = false
        for i in name.count..<raw.count {
            let c = raw[i]
            if c >= 48 && c <= 57 { v = v * 10 + Int(c - 48); seen = true } else if seen { break }
        }
        if seen { retryAfterSeconds = v }
    }

    /// The last response's body as text (first 4 KiB; logs and errors).
    public var lastResponseBody: String { responseBody.text }

    /// POSTs `body` once. Returns the HTTP status (0 on a transport failure with its text).
    public func post(_ body: UnsafeRawBufferPointer) -> (code: Int, transportError: String?) {
        responseBody.removeAll()
        retryAfterSeconds = nil
        var payload = body
        if gzip, let out = gzipBuffer {
            let n = tl_gzip_compress(&gzipStream, body.baseAddress, body.count, out.base, out.capacity)
            guard n > 0 else { return (0, "gzip compression failed") }
            payload = UnsafeRawBufferPointer(start: out.base, count: n)
        }
        requests &+= 1
        _ = tl_curl_setopt_post_body(handle, payload.baseAddress, curl_off_t(payload.count))
        let rc = curl_easy_perform(handle)
        guard rc == CURLE_OK else { return (0, String(cString: curl_easy_strerror(rc))) }
        var code = 0
        _ = tl_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return (code, nil)
    }

    /// Writes `body` (`lines` complete lines), acting on InfluxDB's response code: a 413 halves the batch (at a line boundary) and resends both halves, lowering
    /// `batchLines` for later batches.
    public func write(_ body: UnsafeRawBufferPointer, lines: Int) -> InfluxOutcome {
        guard body.count > 0 else { return .written(dropped: 0) }
        let (code, transport) = post(body)
        if let transport { return .retryLater(afterMs: nil, reason: "\(displayURL): \(transport)") }
        switch code {
        case 200, 204:
            return .written(dropped: 0)
        case 400, 422:
            let text = lastResponseBody
            if let dropped = Self.droppedCount(text) { return .written(dropped: dropped) }
            return .rejected(code: code, reason: "HTTP \(code): \(text)")
        case 401, 403, 404:
            return .configError(code: code, reason: "HTTP \(code) from \(displayURL): \(lastResponseBody)")
        case 413:
            guard lines > 1, let cut = Self.middleLineBreak(body) else {
                return .rejected(code: 413, reason: "HTTP 413: one line of \(body.count) bytes is larger than the server accepts")
            }
            splits &+= 1
            let firstLines = Self.lineCount(UnsafeRawBufferPointer(rebasing: body[0..<cut]))
            batchLines = max(1, min(batchLines, max(firstLines, lines / 2)))
            let a = write(UnsafeRawBufferPointer(rebasing: body[0..<cut]), lines: firstLines)
            guard case .written(let d1) = a else { return a }
            let b = write(UnsafeRawBufferPointer(rebasing: body[cut..<body.count]), lines: lines - firstLines)
            guard case .written(let d2) = b else { return b }
            return .written(dropped: d1 + d2)
        case 429, 503:
            return .retryLater(afterMs: retryAfterSeconds.map { $0 * 1_000 }, reason: "HTTP \(code): \(lastResponseBody)")
        case 500:
            let text = lastResponseBody
            if text.contains("retention policy not found") { return .configError(code: 500, reason: "HTTP 500: \(text)") }
            return .serverError(code: 500, reason: "HTTP 500: \(text)")
        default:
            if code >= 500 { return .serverError(code: code, reason: "HTTP \(code): \(lastResponseBody)") }
            return .rejected(code: code, reason: "HTTP \(code): \(lastResponseBody)")
        }
    }

    /// `dropped=N` from a partial-write error body, nil when the body has none.
    static func droppedCount(_ text: String) -> Int? {
        guard let r = text.range(of: "dropped=") else { return nil }
        let digits = text[r.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    /// The offset just past the newline nearest the middle of `body` (nil when there is
    /// only one line).
    static func middleLineBreak(_ body: UnsafeRawBufferPointer) -> Int? {
        let mid = body.count / 2
        var i = max(mid - 1, 0)
        while i < body.count - 1 { if body[i] == 10 { return i + 1 }; i += 1 }
        i = mid - 1
        while i >= 0 { if body[i] == 10 { return i + 1 }; i -= 1 }
        return nil
    }

    static func lineCount(_ body: UnsafeRawBufferPointer) -> Int {
        var n = 0
        for b in body where b == 10 { n += 1 }
        if let last = body.last, last != 10 { n += 1 }
        return n
    }
}
