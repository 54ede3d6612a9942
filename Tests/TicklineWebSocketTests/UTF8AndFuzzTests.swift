import Testing
import TicklineTestSupport
import TicklineWebSocket

@Suite struct UTF8ValidatorTests {
    static let valid: [[UInt8]] = [
        [], Array("plain ascii".utf8), Array("κόσμε".utf8), Array("€ 𝄞 日本".utf8),
        [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
        [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
    ]
    static let invalid: [(String, [UInt8])] = [
        ("overlong NUL", [0xC0, 0x80]), ("overlong /", [0xC1, 0xAF]), ("overlong 3-byte", [0xE0, 0x80, 0xAF]),
        ("overlong 4-byte", [0xF0, 0x80, 0x80, 0xAF]), ("surrogate D800", [0xED, 0xA0, 0x80]),
        ("surrogate DFFF", [0xED, 0xBF, 0xBF]), ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]), ("F5", [0xF5, 0x80, 0x80, 0x80]),
        ("FF", [0xFF]), ("stray continuation", [0x41, 0x80]), ("truncated 2-byte", [0xC2]),
        ("truncated 4-byte", [0xF0, 0x90, 0x80]), ("ASCII inside a sequence", [0xE2, 0x41, 0x82]),
    ]

    @Test func acceptsWellFormedAndRejectsIllFormedSequences() {
        for bytes in Self.valid {
            let ok = UTF8Validator.isValid(bytes.span)
            #expect(ok, "\(bytes)")
        }
        for (name, bytes) in Self.invalid {
            let ok = UTF8Validator.isValid(bytes.span)
            #expect(!ok, "\(name)")
        }
    }

    @Test func validatesCodePointsSplitAtEveryPosition() {
        let text = Array("a€b𝄞cκd".utf8)
        for cut in 0...text.count {
            var validator = UTF8Validator()
            let first = validator.validate(text.span.extracting(0..<cut))
            let second = validator.validate(text.span.extracting(cut..<text.count))
            #expect(first && second)
            #expect(validator.isComplete, "cut at \(cut)")
        }
        for (name, bytes) in Self.invalid where bytes.count > 1 {
            for cut in 1..<bytes.count {
                var validator = UTF8Validator()
                let ok = validator.validate(bytes.span.extracting(0..<cut)) && validator.validate(bytes.span.extracting(cut..<bytes.count))
                #expect(!(ok && validator.isComplete), "\(name) cut at \(cut)")
            }
        }
    }

    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        var random = SeededGenerator(seed: 8)
        for _ in 0..<20_000 {
            let count = Int(random.next() % 8)
            // Bias towards the interesting lead and continuation bytes.
            let bytes = (0..<count).map { _ in
                random.next() % 2 == 0 ? UInt8(0x80 + random.next() % 0x80) : UInt8(truncatingIfNeeded: random.next())
            }
            let standard = String(validating: bytes, as: UTF8.self) != nil
            let ours = UTF8Validator.isValid(bytes.span)
            #expect(ours == standard, "\(bytes)")
        }
    }

    @Test func textMessagesSplitAcrossFragmentsInsideACodePoint() {
        let text = Array("𝄞".utf8) // F0 9D 84 9E
        for cut in 1..<text.count {
            let bytes = rawFrame(opcode: 1, payload: Array(text[0..<cut]), fin: false)
                + rawFrame(opcode: 9, payload: [])
                + rawFrame(opcode: 0, payload: Array(text[cut...]))
            #expect(decode(bytes).events == [.ping([]), .message(.text, text)], "cut at \(cut)")
        }
        // A surrogate split across fragments is still caught.
        let surrogate = rawFrame(opcode: 1, payload: [0xED], fin: false) + rawFrame(opcode: 0, payload: [0xA0, 0x80])
        #expect(decode(surrogate).status == .failed(.invalidUTF8))
    }
}

@Suite struct FrameDecoderFuzzTests {
    /// 100k random and mutated streams fed in random splits: the decoder must return for
    /// every input (no crash, no hang), never report more bytes than it was given, and end
    /// in a consistent status.
    @Test func survivesRandomAndMutatedStreams() {
        var random = SeededGenerator(seed: 0xF022)
        let short = rawFrame(opcode: 1, payload: Array("hi".utf8)) + rawFrame(opcode: 1, payload: [0xE2, 0x82], fin: false)
            + rawFrame(opcode: 9, payload: [7]) + rawFrame(opcode: 0, payload: [0xAC]) + rawFrame(opcode: 2, payload: [UInt8](repeating: 5, count: 300))
            + rawFrame(opcode: 8, payload: [0x03, 0xE8, 0x6F, 0x6B])
        let seeds = [Array(FrameDecoderTests.mixedStream(masked: false).bytes.prefix(2000)), short]
        var decoder = FrameDecoder(role: .client, limits: FrameLimits(maxFrameBytes: 4096, maxMessageBytes: 8192))
        var outcomes = [0, 0, 0]
        var delivered = 0
        for round in 0..<100_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            default:
                bytes = seeds[Int(random.next() % 2)]
                if random.next() % 3 == 0 { bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1)))) }
                for _ in 0..<Int(random.next() % 4) where !bytes.isEmpty {
                    let at = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 3 {
                    case 0: bytes[at] ^= UInt8(1 << (random.next() % 8))
                    case 1: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                    default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
                    }
                }
            }
            decoder.reset()
            var counter = Counter()
            var at = 0
            var status = DecoderStatus.open
            while at < bytes.count {
                let size = min(bytes.count - at, 1 + Int(random.next() % 97))
                status = decoder.feed(bytes.span.extracting(at..<(at + size)), to: &counter)
                at += size
            }
            #expect(counter.bytes <= bytes.count)
            delivered += counter.messages
            switch status {
            case .open: outcomes[0] += 1
            case .closeReceived: outcomes[1] += 1
            case .failed(let violation):
                outcomes[2] += 1
                #expect([1002, 1007, 1009].contains(violation.closeCode.rawValue))
            }
        }
        // The corpus reaches all three outcomes and delivers messages, so it tests something.
        #expect(outcomes.allSatisfy { $0 > 100 }, "\(outcomes)")
        #expect(delivered > 10_000)
        #expect(decoder.counters.violations == UInt64(outcomes[2]))
    }
}
