import Testing
import TicklineWebSocket

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

@Suite struct HashAndBase64Tests {
    @Test func sha1MatchesFIPSVectors() {
        #expect(hex(SHA1.digest([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.digest(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(SHA1.digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
            == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        // 55, 56 and 64 bytes straddle the padding boundary.
        #expect(hex(SHA1.digest([UInt8](repeating: 0x61, count: 55))) == "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        #expect(hex(SHA1.digest([UInt8](repeating: 0x61, count: 56))) == "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        #expect(hex(SHA1.digest([UInt8](repeating: 0x61, count: 64))) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }

    @Test func base64MatchesRFC4648Vectors() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                       ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, coded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == coded)
            #expect(Base64.decode(coded) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
        #expect(Base64.decode("Zg=") == nil)
        #expect(Base64.decode("Z=g=") == nil)
        #expect(Base64.decode("Zm9v!A==") == nil)
    }

    @Test func acceptValueMatchesRFC6455Vector() {
        #expect(webSocketAccept(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let handshake = ClientHandshake(host: "x", path: "/", keyBytes: Array("the sample nonce".utf8))
        #expect(handshake.key == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(handshake.expectedAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}

@Suite struct ClientHandshakeTests {
    let handshake = ClientHandshake(
        host: "stream.binance.com:9443", path: "/stream?streams=btcusdt@trade/btcusdt@bookTicker",
        keyBytes: Array("the sample nonce".utf8))

    func response(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) }

    @Test func requestCarriesEveryRequiredHeader() {
        let text = String(decoding: handshake.request(), as: UTF8.self)
        #expect(text.hasPrefix("GET /stream?streams=btcusdt@trade/btcusdt@bookTicker HTTP/1.1\r\n"))
        for line in ["Host: stream.binance.com:9443", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"] {
            #expect(text.contains("\r\n\(line)\r\n"), "missing \(line)")
        }
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func freshKeysDiffer() {
        let a = ClientHandshake(host: "h", path: "/")
        let b = ClientHandshake(host: "h", path: "/")
        #expect(a.key != b.key)
        #expect(Base64.decode(a.key)?.count == 16)
    }

    @Test func acceptsValidAnswerCaseInsensitivelyAndKeepsFrameBytes() {
        var bytes = response(["HTTP/1.1 101 Switching Protocols", "upgrade: WebSocket", "CONNECTION: keep-alive, upgrade",
                              "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        let headLength = bytes.count
        bytes += [0x81, 0x02, 0x68, 0x69]
        #expect(handshake.parseResponse(bytes.span) == .accepted(headLength: headLength))
    }

    @Test func waitsForTheWholeHead() {
        let bytes = response(["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        for cut in 0..<bytes.count {
            #expect(handshake.parseResponse(bytes.span.extracting(0..<cut)) == .incomplete)
        }
        #expect(handshake.parseResponse(bytes.span) == .accepted(headLength: bytes.count))
    }

    @Test func rejectsEachBrokenRule() {
        let good = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
        let cases: [([String], HandshakeError)] = [
            (["HTTP/1.1 200 OK"] + good, .unexpectedStatus(200, reason: "OK")),
            (["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
             .missingUpgradeHeader(found: nil)),
            (["HTTP/1.1 101 x", "Upgrade: h2c", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
             .missingUpgradeHeader(found: "h2c")),
            (["HTTP/1.1 101 x", "Upgrade: websocket", "Connection: keep-alive", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
             .missingConnectionUpgrade(found: "keep-alive")),
            (["HTTP/1.1 101 x", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: AAAA"],
             .acceptMismatch(expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", found: "AAAA")),
            (["HTTP/1.1 101 x", "Upgrade: websocket", "Connection: Upgrade"],
             .acceptMismatch(expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", found: nil)),
            (["HTTP/1.1 101 x"] + good + ["Sec-WebSocket-Extensions: permessage-deflate"], .unrequestedExtension("permessage-deflate")),
            (["HTTP/1.1 101 x"] + good + ["Sec-WebSocket-Protocol: chat"], .unrequestedSubprotocol("chat")),
            (["SSH-2.0-OpenSSH"] + good, .malformed("SSH-2.0-OpenSSH")),
            (["HTTP/1.1 101 x", "no colon here"], .malformed("no colon here")),
        ]
        for (lines, error) in cases {
            #expect(handshake.parseResponse(response(lines).span) == .rejected(error), "\(lines)")
        }
    }

    @Test func rejectsEndlessHeaders() {
        var small = handshake
        small.maxHeadBytes = 64
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 65)
        #expect(small.parseResponse(bytes.span) == .rejected(.headersTooLarge(limit: 64)))
    }
}

@Suite struct ServerHandshakeTests {
    @Test func answersAClientRequestTheClientAccepts() {
        let client = ClientHandshake(host: "127.0.0.1:9000", path: "/stream?streams=a@trade/b@bookTicker")
        let request = client.request()
        guard case .request(let upgrade, let length) = ServerHandshake.parseRequest(request.span) else {
            Issue.record("request not accepted")
            return
        }
        #expect(length == request.count)
        #expect(upgrade.path == "/stream?streams=a@trade/b@bookTicker")
        #expect(upgrade.key == client.key)
        let response = ServerHandshake.response(to: upgrade)
        #expect(client.parseResponse(response.span) == .accepted(headLength: response.count))
    }

    @Test func rejectsBadRequests() {
        func parse(_ lines: [String]) -> RequestOutcome {
            ServerHandshake.parseRequest(Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8).span)
        }
        let headers = ["Host: h", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"]
        #expect(parse(["POST / HTTP/1.1"] + headers + ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]) == .rejected(.notGet("POST / HTTP/1.1")))
        #expect(parse(["GET / HTTP/1.1"] + headers) == .rejected(.missingKey(found: nil)))
        #expect(parse(["GET / HTTP/1.1"] + headers + ["Sec-WebSocket-Key: abcd"]) == .rejected(.missingKey(found: "abcd")))
        #expect(parse(["GET / HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 8",
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]) == .rejected(.unsupportedVersion(found: "8")))
        let refusal = String(decoding: ServerHandshake.rejection(for: .unsupportedVersion(found: "8")), as: UTF8.self)
        #expect(refusal.hasPrefix("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"))
    }
}
