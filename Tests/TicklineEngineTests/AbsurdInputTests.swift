#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineTestSupport

/// Absurd numbers and malformed lines in recordings, configs and flags, fed to every command
/// that reads them, as real processes: each one ends (bounded wait) with an exit status, never
/// a trap or another signal, and says what it could not use.
@Suite(.serialized) struct AbsurdInputTests {
    static let tickline = RunCommandTests.bin.appendingPathComponent("tickline").path
    static let feed = RunCommandTests.bin.appendingPathComponent("tickline-feed").path

    static let digits25 = "1234567890123456789012345"
    static let digits40 = "1234567890123456789012345678901234567890"

    static func depth(_ first: String, _ last: String, bids: String = #"[["10.00","1"]]"#, asks: String = #"[["11.00","1"]]"#,
                      eventTime: String = "1", extra: String = "") -> String {
        #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":\#(eventTime),"s":"BTCUSDT","U":\#(first),"u":\#(last)\#(extra),"b":\#(bids),"a":\#(asks)}}"#
    }

    static func trade(_ id: String, price: String = "10.00", quantity: String = "1", time: String = "1") -> String {
        #"{"stream":"btcusdt@trade","data":{"e":"trade","E":\#(time),"s":"BTCUSDT","t":\#(id),"p":"\#(price)","q":"\#(quantity)","T":\#(time),"m":true}}"#
    }

    static func ticker(_ id: String = "101", bid: String = "10.00", bidQuantity: String = "2", ask: String = "11.00",
                       askQuantity: String = "1") -> String {
        #"{"stream":"btcusdt@bookTicker","data":{"u":\#(id),"s":"BTCUSDT","b":"\#(bid)","B":"\#(bidQuantity)","a":"\#(ask)","A":"\#(askQuantity)"}}"#
    }

    static func snapshot(_ id: String = "100", bids: String = #"[["10.00","1"],["9.00","1"]]"#, asks: String = #"[["11.00","1"]]"#) -> String {
        #"{"lastUpdateId":\#(id),"bids":\#(bids),"asks":\#(asks)}"#
    }

    /// A small recording every input starts with: a book that syncs, a ticker it checks, trades.
    static let cleanLines = [depth("90", "99"), snapshot(), depth("100", "101"), ticker(), trade("7"), trade("8")]

    /// One absurd recording: what follows the clean lines, and whether every line of it is
    /// usable as it stands (else the commands must count or name what is wrong).
    enum Recording: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case receiveTime25Digits, receiveTimeAtInt64Max, eventTimes25Digits, prices40Digits, quantities40Digits,
             negativeQuantities, negativePrices, pricesAndQuantitiesAtInt64Max, ids25Digits, idsAtInt64Max,
             firstUpdateIdAfterLast, emptyArrays, tabSeparator, crlfLineEnds, timestampOnlyLines, oneMegabyteLine,
             nonUTF8Bytes, everything

        var testDescription: String { rawValue }

        /// Lines after the clean ones (the receive time is added unless the line has its own).
        var lines: [String] {
            let d25 = AbsurdInputTests.digits25, d40 = AbsurdInputTests.digits40
            typealias T = AbsurdInputTests
            switch self {
            case .receiveTime25Digits: return ["\(d25) " + T.trade("9")]
            case .receiveTimeAtInt64Max:
                return ["9223372036854775806 " + T.trade("9", time: "9223372036854775807"),
                        "9223372036854775807 " + T.trade("10"), "0 " + T.trade("11"), "9223372036854775807 " + T.trade("12")]
            case .eventTimes25Digits: return [T.trade("9", time: d25), T.depth("102", "103", eventTime: d25)]
            case .prices40Digits:
                return [T.trade("9", price: d40 + ".00"), T.ticker(bid: d40, ask: d40),
                        T.depth("102", "103", bids: #"[["\#(d40)","1"]]"#, asks: #"[["\#(d40).5","1"]]"#)]
            case .quantities40Digits:
                return [T.trade("9", quantity: d40), T.ticker(bidQuantity: d40), T.depth("102", "103", bids: #"[["10.00","\#(d40)"]]"#)]
            case .negativeQuantities:
                return [T.trade("9", quantity: "-1.5"), T.ticker(bidQuantity: "-2"),
                        T.depth("102", "103", bids: #"[["10.00","-3"]]"#, asks: #"[["11.00","-1"]]"#),
                        T.snapshot("104", bids: #"[["10.00","-1"]]"#)]
            case .negativePrices:
                return [T.trade("9", price: "-10.00"), T.ticker(bid: "-10.00", ask: "-9.00"),
                        T.depth("102", "103", bids: #"[["-10.00","1"]]"#, asks: #"[["-1.00","1"]]"#)]
            case .pricesAndQuantitiesAtInt64Max:
                // Each fits an Int64 at 2 price / 8 quantity decimals; their products do not.
                let p = "92233720368547758.07", q = "92233720368.54775807"
                return [T.trade("9", price: p, quantity: q), T.ticker(bid: p, bidQuantity: q, ask: p, askQuantity: q),
                        T.depth("102", "103", bids: #"[["\#(p)","\#(q)"]]"#, asks: #"[["\#(p)","\#(q)"]]"#), T.trade("10", price: p, quantity: q)]
            case .ids25Digits:
                return [T.trade(d25), T.depth(d25, d25), T.ticker(d25), T.snapshot(d25), T.depth("102", "103", extra: #","pu":\#(d25)"#)]
            case .idsAtInt64Max:
                let max = "9223372036854775807"
                return [T.trade(max), T.trade("0"), T.depth(max, max), T.snapshot(max), T.depth("102", "103", extra: #","pu":\#(max)"#)]
            case .firstUpdateIdAfterLast: return [T.depth("200", "100"), T.depth("300", "102")]
            case .emptyArrays:
                return [T.depth("102", "103", bids: "[]", asks: "[]"), T.snapshot("200", bids: "[]", asks: "[]"),
                        T.depth("201", "202", bids: "[]", asks: "[]")]
            case .tabSeparator: return ["2000\t" + T.trade("9")]
            case .crlfLineEnds: return ["2000 " + T.trade("9") + "\r"]
            case .timestampOnlyLines: return ["2000", "2001 ", "2002\t", "2003\r"]
            case .oneMegabyteLine:
                let levels = (0..<80_000).map { #"["\#(10 + $0).00","1"]"# }.joined(separator: ",")
                return [T.depth("102", "103", bids: "[\(levels)]")]
            case .nonUTF8Bytes: return []  // bytes written by `bytes`
            case .everything: return Self.allCases.filter { $0 != .everything }.flatMap(\.lines)
            }
        }

        /// The whole file.
        var bytes: [UInt8] {
            var out: [UInt8] = []
            let lineEnd = self == .crlfLineEnds ? "\r\n" : "\n"
            for (i, line) in (AbsurdInputTests.cleanLines + lines).enumerated() {
                let stamped = line.first?.isNumber == true ? line : "\(1_000 + i) \(line)"
                out += Array((stamped + lineEnd).utf8)
            }
            if self == .nonUTF8Bytes || self == .everything {
                out += Array(#"3000 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTC"#.utf8) + [0xFF, 0xFE]
                    + Array(#"USDT","t":9,"p":"10.00","q":"1","T":1,"m":true}}"#.utf8) + [0x0A]
                out += Array("3001 ".utf8) + [0xC3, 0x28, 0xA0, 0xA1, 0xFF, 0x0A]
            }
            return out
        }

        /// Whether some line cannot be used at `priceDecimals` (a count or a message must say so).
        func hasUnusableLines(priceDecimals: Int) -> Bool {
            switch self {
            case .crlfLineEnds, .tabSeparator, .emptyArrays, .firstUpdateIdAfterLast, .idsAtInt64Max, .receiveTimeAtInt64Max: false
            // The prices fit an Int64 at 2 decimals, not at 8.
            case .pricesAndQuantitiesAtInt64Max: priceDecimals > 2
            default: true
            }
        }
    }

    /// Writes `bytes` to a fresh file; the caller removes its folder.
    static func file(_ name: String, _ bytes: [UInt8]) throws -> (folder: String, path: String) {
        let folder = NSTemporaryDirectory() + "tickline-absurd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (folder, path)
    }

    /// Runs a command (at most `seconds`) and checks it ended by itself, not by a signal:
    /// its status and what it printed (stdout, then stderr).
    static func run(_ executable: String, _ arguments: [String], seconds: Double = 60,
                    sourceLocation: SourceLocation = #_sourceLocation) -> (status: Int32, output: String) {
        let p = ChildProcess(executable: executable, arguments: arguments)
        #expect(p.start(), "cannot start \(executable)", sourceLocation: sourceLocation)
        let status = p.wait(seconds: seconds)
        if status == nil { p.stop(seconds: 5) }
        let output = p.output + p.errors
        let name = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
        #expect(status != nil, "\(name) still ran after \(seconds) s", sourceLocation: sourceLocation)
        // 128 + signal: 132 SIGILL (a Swift trap), 133 SIGTRAP, 134 SIGABRT, 137 SIGKILL, 139 SIGSEGV.
        if let status { #expect(status < 128, "\(name) died of signal \(status - 128): \(output.suffix(2_000))", sourceLocation: sourceLocation) }
        return (status ?? -1, output)
    }

    /// The JSON object on the last line that holds one.
    static func lastJSON(_ output: String) -> [String: Any]? {
        for line in output.split(separator: "\n").reversed() where line.hasPrefix("{") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { return object }
        }
        return nil
    }

    static func number(_ object: [String: Any]?, _ key: String) -> Int { (object?[key] as? NSNumber)?.intValue ?? -1 }

    /// A file command over one recording.
    enum FileCommand: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case verify, replay, benchDecode
        var testDescription: String { rawValue }
        /// Without a config, replay reads prices at 2 decimals, the others at Binance's 8.
        var priceDecimals: Int { self == .replay ? 2 : 8 }
        func arguments(_ path: String) -> [String] {
            switch self {
            case .verify: ["verify", path, "--json"]
            case .replay: ["replay", path, "--json"]
            case .benchDecode: ["bench", "decode", "--input", path, "--passes", "1", "--json"]
            }
        }
    }

    @Test(arguments: FileCommand.allCases, Recording.allCases)
    func recordingCommandsCountWhatTheyCannotUseAndNeverTrap(_ command: FileCommand, _ recording: Recording) throws {
        let (folder, path) = try Self.file("\(recording.rawValue).rec", recording.bytes)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = Self.run(Self.tickline, command.arguments(path))
        let report = Self.lastJSON(output)
        #expect(report != nil, "\(command.rawValue) printed no JSON report (status \(status)): \(output.suffix(2_000))")
        let errors = Self.number(report, "decode_errors")
        let messages = Self.number(report, "messages")
        if recording.hasUnusableLines(priceDecimals: command.priceDecimals) {
            #expect(errors > 0, "\(command.rawValue) counted no decode error: \(output.suffix(2_000))")
        } else {
            #expect(errors == 0, "\(command.rawValue) counted \(errors) decode errors in usable lines: \(output.suffix(2_000))")
        }
        // Every non-blank line is a message, the unusable ones too, in verify and replay alike.
        if command != .benchDecode {
            let lines = recording.bytes.split(separator: 0x0A).filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
            #expect(messages == lines.count, "\(command.rawValue): \(messages) messages for \(lines.count) lines")
        }
    }
}
