import Testing
import TicklineTestSupport
import TicklineWebSocket

private let hello = Array("Hello".utf8)
private let rfcMaskKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

@Suite struct FrameDecoderTests {
    @Test func decodesRFC6455Examples() {
        #expect(decode([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).events == [.text("Hello")])
        #expect(decode([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]).events == [.text("Hello")])
        #expect(decode([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).events == [.ping(hello)])
        // Masked frames are what a server receives.
        #expect(decode([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .server).events == [.text("Hello")])
        #expect(decode([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .server).events == [.pong(hello)])
    }

    /// A stream with every feature: 7/16/64-bit lengths, fragmentation with control frames
    /// in between, empty frames, a code point split across fragments, then close.
    static func mixedStream(masked: Bool) -> (bytes: [UInt8], events: [Event]) {
        var key: [UInt8]? { masked ? rfcMaskKey : nil }
        var bytes: [UInt8] = []
        var events: [Event] = []
        let medium = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        let large = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        bytes += rawFrame(opcode: 1, payload: hello, maskKey: key); events.append(.text("Hello"))
        bytes += rawFrame(opcode: 2, payload: medium, maskKey: key); events.append(.message(.binary, medium))
        bytes += rawFrame(opcode: 2, payload: large, maskKey: key); events.append(.message(.binary, large))
        bytes += rawFrame(opcode: 2, payload: [1, 2, 3], maskKey: key, lengthForm: 64); events.append(.message(.binary, [1, 2, 3]))
        bytes += rawFrame(opcode: 1, payload: [], maskKey: key); events.append(.text(""))
        // "€uro" split inside the euro sign (E2 82 AC), a ping and a pong between fragments.
        let euro = Array("€uro ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 200)
        bytes += rawFrame(opcode: 1, payload: Array(euro[0..<1]), fin: false, maskKey: key)
        bytes += rawFrame(opcode: 9, payload: Array("p1".utf8), maskKey: key); events.append(.ping(Array("p1".utf8)))
        bytes += rawFrame(opcode: 0, payload: Array(euro[1..<2]), fin: false, maskKey: key)
        bytes += rawFrame(opcode: 0, payload: [], fin: false, maskKey: key)
        bytes += rawFrame(opcode: 10, payload: [], maskKey: key); events.append(.pong([]))
        bytes += rawFrame(opcode: 0, payload: Array(euro[2...]), fin: true, maskKey: key); events.append(.message(.text, euro))
        bytes += rawFrame(opcode: 1, payload: Array("after".utf8), maskKey: key); events.append(.text("after"))
        bytes += rawFrame(opcode: 8, payload: [0x03, 0xE8] + Array("bye".utf8), maskKey: key); events.append(.close(1000, Array("bye".utf8)))
        return (bytes, events)
    }

    @Test(arguments: [false, true])
    func decodesWholeStreamInOneBuffer(masked: Bool) {
        let (bytes, events) = Self.mixedStream(masked: masked)
        let result = decode(bytes, role: masked ? .server : .client)
        #expect(result.events == events)
        #expect(result.status == .closeReceived(.normal))
        #expect(result.decoder.counters.messages == 7)
        #expect(result.decoder.counters.pings == 1)
        #expect(result.decoder.counters.violations == 0)
    }

    @Test(arguments: [false, true])
    func decodesOneByteAtATime(masked: Bool) {
        let (bytes, events) = Self.mixedStream(masked: masked)
        let result = decode(bytes, role: masked ? .server : .client, chunks: Array(repeating: 1, count: bytes.count))
        #expect(result.events == events)
        #expect(result.status == .closeReceived(.normal))
    }

    @Test func decodesRandomSplits() {
        var random = SeededGenerator(seed: 6455)
        for round in 0..<200 {
            let masked = round % 2 == 1
            let (bytes, events) = Self.mixedStream(masked: masked)
            var chunks: [Int] = []
            var total = 0
            while total < bytes.count {
                // Mostly small pieces, sometimes large ones, sometimes empty reads.
                let size = switch random.next() % 4 { case 0: Int(random.next() % 3); case 1: Int(random.next() % 20); default: Int(random.next() % 5000) }
                chunks.append(size)
                total += size
            }
            let result = decode(bytes, role: masked ? .server : .client, chunks: chunks)
            #expect(result.events == events, "round \(round)")
        }
    }

    @Test func decodesManySmallFramesInOneRead() {
        var bytes: [UInt8] = []
        for i in 0..<1000 { bytes += rawFrame(opcode: 1, payload: Array("m\(i)".utf8)) }
        let result = decode(bytes)
        #expect(result.events.count == 1000)
        #expect(result.events.last == .text("m999"))
    }

    @Test func closeWithoutCodeReportsNoStatusAndIgnoresTheRest() {
        let bytes = rawFrame(opcode: 8, payload: []) + rawFrame(opcode: 1, payload: hello)
        let result = decode(bytes)
        #expect(result.events == [.close(1005, [])])
        #expect(result.status == .closeReceived(.noStatus))
    }

    @Test func acceptsEveryValidCloseCode() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            let result = decode(rawFrame(opcode: 8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]))
            #expect(result.status == .closeReceived(CloseCode(code)), "code \(code)")
        }
    }

    /// Each rule broken once: the violation, the close code, and the count.
    @Test func everyViolationFailsWithItsCloseCode() {
        let small = FrameLimits(maxFrameBytes: 100, maxMessageBytes: 150)
        let cases: [(String, [UInt8], WebSocketRole, FrameLimits, ProtocolViolation, UInt16)] = [
            ("RSV1", rawFrame(opcode: 1, payload: hello, rsv: 4), .client, FrameLimits(), .reservedBitsSet, 1002),
            ("RSV3", rawFrame(opcode: 2, payload: hello, rsv: 1), .client, FrameLimits(), .reservedBitsSet, 1002),
            ("opcode 3", rawFrame(opcode: 3, payload: []), .client, FrameLimits(), .unknownOpcode, 1002),
            ("opcode 0xB", rawFrame(opcode: 0xB, payload: []), .client, FrameLimits(), .unknownOpcode, 1002),
            ("masked from server", rawFrame(opcode: 1, payload: hello, maskKey: rfcMaskKey), .client, FrameLimits(), .maskedFrameFromServer, 1002),
            ("unmasked from client", rawFrame(opcode: 1, payload: hello), .server, FrameLimits(), .unmaskedFrameFromClient, 1002),
            ("fragmented ping", rawFrame(opcode: 9, payload: [], fin: false), .client, FrameLimits(), .fragmentedControlFrame, 1002),
            ("126-byte ping", rawFrame(opcode: 9, payload: [UInt8](repeating: 0, count: 126)), .client, FrameLimits(), .controlFrameTooLong, 1002),
            ("64-bit MSB", [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1], .client, FrameLimits(), .invalidLength, 1002),
            ("lone continuation", rawFrame(opcode: 0, payload: hello), .client, FrameLimits(), .continuationWithoutMessage, 1002),
            ("text inside fragmented", rawFrame(opcode: 1, payload: hello, fin: false) + rawFrame(opcode: 1, payload: hello),
             .client, FrameLimits(), .newMessageDuringFragmentedMessage, 1002),
            ("1-byte close", rawFrame(opcode: 8, payload: [3]), .client, FrameLimits(), .closePayloadTooShort, 1002),
            ("close 1005", rawFrame(opcode: 8, payload: [0x03, 0xED]), .client, FrameLimits(), .invalidCloseCode, 1002),
            ("close 999", rawFrame(opcode: 8, payload: [0x03, 0xE7]), .client, FrameLimits(), .invalidCloseCode, 1002),
            ("close 1004", rawFrame(opcode: 8, payload: [0x03, 0xEC]), .client, FrameLimits(), .invalidCloseCode, 1002),
            ("close 1015", rawFrame(opcode: 8, payload: [0x03, 0xF7]), .client, FrameLimits(), .invalidCloseCode, 1002),
            ("close 2000", rawFrame(opcode: 8, payload: [0x07, 0xD0]), .client, FrameLimits(), .invalidCloseCode, 1002),
            ("close 5000", rawFrame(opcode: 8, payload: [0x13, 0x88]), .client, FrameLimits(), .invalidCloseCode, 1002),
            ("close reason not UTF-8", rawFrame(opcode: 8, payload: [0x03, 0xE8, 0xFF]), .client, FrameLimits(), .invalidCloseReasonUTF8, 1007),
            ("text not UTF-8", rawFrame(opcode: 1, payload: [0x48, 0xC0, 0x80]), .client, FrameLimits(), .invalidUTF8, 1007),
            ("text ends mid code point", rawFrame(opcode: 1, payload: [0x48, 0xE2, 0x82]), .client, FrameLimits(), .invalidUTF8, 1007),
            ("fragmented text ends mid code point", rawFrame(opcode: 1, payload: [0xE2, 0x82], fin: false) + rawFrame(opcode: 0, payload: []),
             .client, FrameLimits(), .invalidUTF8, 1007),
            ("frame over limit", rawFrame(opcode: 2, payload: [UInt8](repeating: 0, count: 101)), .client, small, .frameTooBig, 1009),
            ("huge 64-bit length", [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], .client, FrameLimits(), .frameTooBig, 1009),
            ("message over limit", rawFrame(opcode: 2, payload: [UInt8](repeating: 0, count: 100), fin: false)
                + rawFrame(opcode: 0, payload: [UInt8](repeating: 0, count: 51)), .client, small, .messageTooBig, 1009),
        ]
        for (name, bytes, role, limits, violation, code) in cases {
            for chunks in [nil, Array(repeating: 1, count: bytes.count)] {
                let result = decode(bytes, role: role, limits: limits, chunks: chunks)
                #expect(result.status == .failed(violation), "\(name)")
                #expect(violation.closeCode.rawValue == code, "\(name)")
                #expect(result.decoder.counters.count(of: violation) == 1, "\(name)")
                #expect(result.decoder.counters.violations == 1, "\(name)")
            }
        }
    }

    @Test func failsFastOnInvalidUTF8BeforeTheMessageEnds() {
        // The bad byte is in the first fragment; the decoder must not wait for FIN.
        let result = decode(rawFrame(opcode: 1, payload: [0x41, 0xFF], fin: false))
        #expect(result.status == .failed(.invalidUTF8))
        #expect(result.events.isEmpty)
    }

    @Test func ignoresInputAfterAViolation() {
        let bytes = rawFrame(opcode: 3, payload: []) + rawFrame(opcode: 1, payload: hello)
        let result = decode(bytes, chunks: [2, 7])
        #expect(result.events.isEmpty)
        #expect(result.status == .failed(.unknownOpcode))
    }

    @Test func resetAllowsReuseAfterFailure() {
        var decoder = FrameDecoder(role: .client)
        var recorder = Recorder()
        let bad = rawFrame(opcode: 3, payload: [])
        let good = rawFrame(opcode: 1, payload: hello)
        #expect(decoder.feed(bad.span, to: &recorder) == .failed(.unknownOpcode))
        decoder.reset()
        #expect(decoder.feed(good.span, to: &recorder) == .open)
        #expect(recorder.events == [.text("Hello")])
        #expect(decoder.counters.count(of: .unknownOpcode) == 1)
    }

    @Test func messageExactlyAtTheLimitIsAccepted() {
        let limits = FrameLimits(maxFrameBytes: 64, maxMessageBytes: 128)
        let bytes = rawFrame(opcode: 2, payload: [UInt8](repeating: 1, count: 64), fin: false)
            + rawFrame(opcode: 0, payload: [UInt8](repeating: 2, count: 64))
        let result = decode(bytes, limits: limits)
        #expect(result.status == .open)
        #expect(result.events == [.message(.binary, [UInt8](repeating: 1, count: 64) + [UInt8](repeating: 2, count: 64))])
    }
}

@Suite struct FrameEncoderTests {
    @Test func writesRFC6455Examples() {
        func frame(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true, key: UInt32?) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 16)
            var written: Int?
            do {
                var span = out.mutableSpan
                written = FrameEncoder.encode(opcode, payload: payload.span, fin: fin, maskKey: key, into: &span)
            }
            return Array(out.prefix(written ?? 0))
        }
        #expect(frame(.text, hello, key: nil) == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        #expect(frame(.text, hello, key: 0x37FA_213D) == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        #expect(frame(.pong, hello, key: 0x37FA_213D) == [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        #expect(frame(.text, Array("Hel".utf8), fin: false, key: nil) == [0x01, 0x03, 0x48, 0x65, 0x6c])
        #expect(frame(.continuation, Array("lo".utf8), key: nil) == [0x80, 0x02, 0x6c, 0x6f])
    }

    @Test func usesTheShortestLengthEncoding() {
        var encoder = FrameEncoder(role: .server)
        #expect(Array(encoded(.binary, [UInt8](repeating: 0, count: 125), encoder: &encoder).prefix(2)) == [0x82, 0x7D])
        #expect(Array(encoded(.binary, [UInt8](repeating: 0, count: 256), encoder: &encoder).prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        #expect(Array(encoded(.binary, [UInt8](repeating: 0, count: 65535), encoder: &encoder).prefix(4)) == [0x82, 0x7E, 0xFF, 0xFF])
        #expect(Array(encoded(.binary, [UInt8](repeating: 0, count: 65536), encoder: &encoder).prefix(10))
            == [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
    }

    @Test func clientFramesRoundTripThroughAServerDecoderWithFreshMasks() {
        var encoder = FrameEncoder(role: .client, maskSeed: 42)
        var bytes: [UInt8] = []
        var keys = Set<[UInt8]>()
        var expected: [Event] = []
        for size in [0, 1, 5, 125, 126, 1000, 65535, 65536, 100_000] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let frame = encoded(.binary, payload, encoder: &encoder)
            let headerLength = size < 126 ? 2 : size <= 0xFFFF ? 4 : 10
            #expect(frame[1] & 0x80 != 0, "client frames are masked")
            keys.insert(Array(frame[headerLength..<(headerLength + 4)]))
            bytes += frame
            expected.append(.message(.binary, payload))
        }
        #expect(keys.count == 9, "a fresh mask key per frame")
        #expect(decode(bytes, role: .server).events == expected)
        // The same frames are refused by a client (they are masked).
        #expect(decode(bytes, role: .client).status == .failed(.maskedFrameFromServer))
    }

    @Test func closeFramesCarryCodeAndReason() {
        for role in [WebSocketRole.client, .server] {
            var encoder = FrameEncoder(role: role)
            var out = [UInt8](repeating: 0, count: 64)
            let reason = Array("going".utf8)
            var written: Int?
            do {
                var span = out.mutableSpan
                written = encoder.encodeClose(.goingAway, reason: reason.span, into: &span, at: 3)
            }
            #expect(written == (role == .client ? 13 : 9))
            let frame = Array(out[3..<(3 + (written ?? 0))])
            let result = decode(frame, role: role == .client ? .server : .client)
            #expect(result.events == [.close(1001, reason)])
        }
    }

    @Test func refusesWhenTheFrameDoesNotFit() {
        var encoder = FrameEncoder(role: .client)
        var out = [UInt8](repeating: 0, count: 10)
        var span = out.mutableSpan
        #expect(encoder.encode(.text, payload: hello.span, into: &span) == nil)
        #expect(encoder.encode(.text, payload: hello.span, into: &span, at: 1) == nil)
        #expect(encoder.encode(.text, payload: Array("Hell".utf8).span, into: &span) == 10)
    }
}
