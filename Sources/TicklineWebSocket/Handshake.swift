/// Why an opening handshake failed (RFC 6455 §4.1, §4.2.1). Cold path: carries text.
public enum HandshakeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No blank line within the size limit.
    case headersTooLarge(limit: Int)
    /// The first line or a header line is not HTTP.
    case malformed(String)
    /// The server answered with another status than 101.
    case unexpectedStatus(Int, reason: String)
    /// `Upgrade` is missing or is not `websocket`.
    case missingUpgradeHeader(found: String?)
    /// `Connection` is missing or does not list `Upgrade`.
    case missingConnectionUpgrade(found: String?)
    /// `Sec-WebSocket-Accept` is missing or does not match the key sent.
    case acceptMismatch(expected: String, found: String?)
    /// The server chose an extension or subprotocol the client did not offer.
    case unrequestedExtension(String)
    case unrequestedSubprotocol(String)
    /// Server side: not a GET, not HTTP/1.1, no valid 16-byte key, or version not 13.
    case notGet(String)
    case missingKey(found: String?)
    case unsupportedVersion(found: String?)

    public var description: String {
        switch self {
        case .headersTooLarge(let limit): "handshake headers exceed \(limit) bytes"
        case .malformed(let line): "malformed HTTP in handshake: \(line)"
        case .unexpectedStatus(let code, let reason): "server answered \(code) \(reason), expected 101"
        case .missingUpgradeHeader(let found): "Upgrade header is \(found.map { "'\($0)'" } ?? "missing"), expected 'websocket'"
        case .missingConnectionUpgrade(let found): "Connection header is \(found.map { "'\($0)'" } ?? "missing"), expected it to contain 'Upgrade'"
        case .acceptMismatch(let expected, let found): "Sec-WebSocket-Accept is \(found.map { "'\($0)'" } ?? "missing"), expected '\(expected)'"
        case .unrequestedExtension(let value): "server chose extension '\(value)' that was not offered"
        case .unrequestedSubprotocol(let value): "server chose subprotocol '\(value)' that was not offered"
        case .notGet(let line): "not a WebSocket upgrade request: \(line)"
        case .missingKey(let found): "Sec-WebSocket-Key is \(found.map { "'\($0)'" } ?? "missing"), expected base64 of 16 bytes"
        case .unsupportedVersion(let found): "Sec-WebSocket-Version is \(found.map { "'\($0)'" } ?? "missing"), expected 13"
        }
    }
}

/// An HTTP/1.1 head (request or response) split into its start line and headers.
public struct HTTPHead: Sendable, Equatable {
    public var startLine: String
    /// Header names as sent; look them up with `value(of:)` (case-insensitive).
    public var headers: [(name: String, value: String)]

    /// The first value of header `name` (case-insensitive), trimmed.
    public func value(of name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    /// Whether comma-separated header `name` lists `token` (case-insensitive).
    public func lists(_ name: String, token: String) -> Bool {
        let lowered = token.lowercased()
        return headers.contains { header in
            header.name.lowercased() == name.lowercased()
                && header.value.split(separator: ",").contains { trim($0).lowercased() == lowered }
        }
    }

    public static func == (a: HTTPHead, b: HTTPHead) -> Bool {
        a.startLine == b.startLine && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// Finds the end of an HTTP head in `bytes`.
    /// - Returns: `.incomplete` until the blank line arrives, then the head and its length
    ///   (what follows may already be frame data and must not be dropped).
    public static func parse(_ bytes: Span<UInt8>, maxBytes: Int) -> HeadParse {
        var end = -1
        if bytes.count >= 4 {
            for i in 0...(bytes.count - 4)
            where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                end = i
                break
            }
        }
        if end < 0 {
            return bytes.count > maxBytes ? .failed(.headersTooLarge(limit: maxBytes)) : .incomplete
        }
        if end + 4 > maxBytes { return .failed(.headersTooLarge(limit: maxBytes)) }
        var raw: [UInt8] = []
        raw.reserveCapacity(end)
        for i in 0..<end { raw.append(bytes[i]) }
        let text = String(decoding: raw, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty, !lines[0].isEmpty else { return .failed(.malformed("empty start line")) }
        let startLine = lines.removeFirst()
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                return .failed(.malformed(line))
            }
            headers.append((trim(line[..<colon]), trim(line[line.index(after: colon)...])))
        }
        return .complete(HTTPHead(startLine: startLine, headers: headers), length: end + 4)
    }
}

/// The outcome of looking for an HTTP head in received bytes.
public enum HeadParse: Sendable, Equatable {
    case incomplete
    case complete(HTTPHead, length: Int)
    case failed(HandshakeError)
}

private func trim(_ text: some StringProtocol) -> String {
    var slice = Substring(text)
    while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
    while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
    return String(slice)
}

/// The GUID RFC 6455 appends to the key before hashing.
let webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/// The `Sec-WebSocket-Accept` value for `key`: base64(SHA-1(key + GUID)), with the key as
/// sent (its base64 text, not the decoded bytes).
public func webSocketAccept(forKey key: String) -> String {
    Base64.encode(SHA1.digest(Array((key + webSocketGUID).utf8)))
}

/// The client side of the opening handshake: a GET with a fresh random key, and the check
/// of the server's 101 answer. Cold path (strings are fine here). One per connection attempt.
public struct ClientHandshake: Sendable {
    /// `Sec-WebSocket-Key`: base64 of 16 random bytes.
    public let key: String
    /// What the server must answer in `Sec-WebSocket-Accept`.
    public let expectedAccept: String
    public let host: String
    public let path: String
    /// The handshake head may not exceed this many bytes.
    public var maxHeadBytes = 16 * 1024

    /// - Parameters:
    ///   - host: the `Host` header, e.g. `stream.binance.com:9443`.
    ///   - path: request target incl. query, e.g. `/stream?streams=btcusdt@trade/btcusdt@bookTicker`.
    ///   - keyBytes: 16 bytes for the key; `nil` draws fresh ones from the system RNG.
    public init(host: String, path: String, keyBytes: [UInt8]? = nil) {
        let bytes: [UInt8]
        if let keyBytes {
            precondition(keyBytes.count == 16, "Sec-WebSocket-Key needs 16 bytes, got \(keyBytes.count)")
            bytes = keyBytes
        } else {
            var system = SystemRandomNumberGenerator()
            bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &system) }
        }
        self.host = host
        self.path = path.isEmpty ? "/" : path
        key = Base64.encode(bytes)
        expectedAccept = webSocketAccept(forKey: key)
    }

    /// The request bytes to send.
    public func request(extraHeaders: [(name: String, value: String)] = []) -> [UInt8] {
        var text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        for header in extraHeaders { text += "\(header.name): \(header.value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Checks the server's answer in `bytes` (everything received so far).
    /// - Returns: `.incomplete`, `.accepted(headLength:)` (bytes after it are frame data), or
    ///   `.rejected` with the first rule broken.
    public func parseResponse(_ bytes: Span<UInt8>) -> HandshakeOutcome {
        switch HTTPHead.parse(bytes, maxBytes: maxHeadBytes) {
        case .incomplete: return .incomplete
        case .failed(let error): return .rejected(error)
        case .complete(let head, let length):
            if let error = validate(head) { return .rejected(error) }
            return .accepted(headLength: length)
        }
    }

    private func validate(_ head: HTTPHead) -> HandshakeError? {
        let parts = head.startLine.split(separator: " ", maxSplits: 2).map(String.init)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            return .malformed(head.startLine)
        }
        guard status == 101 else { return .unexpectedStatus(status, reason: parts.count > 2 ? parts[2] : "") }
        let upgrade = head.value(of: "Upgrade")
        guard upgrade?.lowercased() == "websocket" else { return .missingUpgradeHeader(found: upgrade) }
        guard head.lists("Connection", token: "upgrade") else {
            return .missingConnectionUpgrade(found: head.value(of: "Connection"))
        }
        let accept = head.value(of: "Sec-WebSocket-Accept")
        guard accept == expectedAccept else { return .acceptMismatch(expected: expectedAccept, found: accept) }
        // No extension or subprotocol is offered, so any in the answer is unrequested.
        if let extensions = head.value(of: "Sec-WebSocket-Extensions"), !extensions.isEmpty {
            return .unrequestedExtension(extensions)
        }
        if let subprotocol = head.value(of: "Sec-WebSocket-Protocol"), !subprotocol.isEmpty {
            return .unrequestedSubprotocol(subprotocol)
        }
        return nil
    }
}

/// The outcome of checking one side's handshake bytes.
public enum HandshakeOutcome: Sendable, Equatable {
    case incomplete
    case accepted(headLength: Int)
    case rejected(HandshakeError)
}

/// A client's upgrade request as a server sees it.
public struct UpgradeRequest: Sendable, Equatable {
    /// The request target incl. query (`/stream?streams=a@trade/b@bookTicker`).
    public var path: String
    public var key: String
    public var head: HTTPHead
}

/// The server side of the opening handshake (the replay server `tickline-feed` uses it).
public enum ServerHandshake {
    /// Checks a client's upgrade request in `bytes` (everything received so far).
    public static func parseRequest(_ bytes: Span<UInt8>, maxHeadBytes: Int = 16 * 1024) -> RequestOutcome {
        switch HTTPHead.parse(bytes, maxBytes: maxHeadBytes) {
        case .incomplete: return .incomplete
        case .failed(let error): return .rejected(error)
        case .complete(let head, let length):
            let parts = head.startLine.split(separator: " ").map(String.init)
            guard parts.count == 3, parts[0] == "GET", parts[2] == "HTTP/1.1" else { return .rejected(.notGet(head.startLine)) }
            let upgrade = head.value(of: "Upgrade")
            guard upgrade?.lowercased() == "websocket" else { return .rejected(.missingUpgradeHeader(found: upgrade)) }
            guard head.lists("Connection", token: "upgrade") else {
                return .rejected(.missingConnectionUpgrade(found: head.value(of: "Connection")))
            }
            let version = head.value(of: "Sec-WebSocket-Version")
            guard version == "13" else { return .rejected(.unsupportedVersion(found: version)) }
            let key = head.value(of: "Sec-WebSocket-Key")
            guard let key, Base64.decode(key)?.count == 16 else { return .rejected(.missingKey(found: key)) }
            return .request(UpgradeRequest(path: parts[1], key: key, head: head), headLength: length)
        }
    }

    /// The 101 answer to `request`.
    public static func response(to request: UpgradeRequest) -> [UInt8] {
        Array(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: \(webSocketAccept(forKey: request.key))\r\n\r\n").utf8)
    }

    /// A refusal for a bad request: 426 with the supported version for a version error,
    /// 400 otherwise; the connection should be closed after it.
    public static func rejection(for error: HandshakeError) -> [UInt8] {
        let body = error.description
        let status = if case .unsupportedVersion = error { "426 Upgrade Required\r\nSec-WebSocket-Version: 13" } else { "400 Bad Request" }
        return Array("HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
    }
}

/// The outcome of checking an upgrade request.
public enum RequestOutcome: Sendable, Equatable {
    case incomplete
    case request(UpgradeRequest, headLength: Int)
    case rejected(HandshakeError)
}
