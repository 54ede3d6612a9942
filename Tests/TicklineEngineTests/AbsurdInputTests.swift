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
                return ["9223372036854775806 " + T.trade("9"),
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
        /// Replay reads BTCUSDT's prices at 2 decimals (its tick in the shipped exchangeInfo), the others at Binance's 8.
        var priceDecimals: Int { self == .replay ? 2 : 8 }
        func arguments(_ path: String) -> [String] {
            switch self {
            case .verify: ["verify", path, "--json"]
            case .replay: ["replay", path, "--json", "--instruments", ReplayReportTests.exchangeInfo]
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

    /// Absurd numbers on the command line: refused before any work, naming the flag.
    @Test(arguments: [
        (["replay", "x.rec", "--pace", "1e-300"], "--pace"),
        (["replay", "x.rec", "--pace", digits40], "--pace"),
        (["verify", "x.rec", "--price-decimals", digits40], "--price-decimals"),
        (["verify", "x.rec", "--quantity-decimals", "-1"], "--quantity-decimals"),
        (["bench", "decode", "--input", "x.rec", "--passes", "99999999999"], "--passes"),
        (["bench", "decode", "--input", "x.rec", "--passes", digits40], "--passes"),
        (["bench", "ring", "--producer-cpu", "99999999999"], "--producer-cpu"),
        (["bench", "ring", "--consumer-cpu", "-1"], "--consumer-cpu"),
        (["bench", "ring", "--interval-ns", "9223372036854775807"], "--interval-ns"),
        (["bench", "ring", "--capacity", "4611686018427387904"], "--capacity"),
        (["bench", "ring", "--messages", "-5"], "--messages"),
        (["bench", "e2e", "--duration", "1e40"], "--duration"),
        (["bench", "e2e", "--rates", digits40], "--rates"),
        (["bench", "e2e", "--rates", "9223372036854775807"], "--rates"),
        (["bench", "e2e", "--rated-rates", "1000,99999999999"], "--rated-rates"),
        (["bench", "e2e", "--symbols", "99999999999"], "symbol counts"),
        (["bench", "e2e", "--warmup", "1e40"], "--warmup"),
        (["demo", "--duration", "1e40"], "--duration"),
        (["demo", "--rate", "-5"], "--rate"),
        (["demo", "--symbols", digits40], "--symbols"),
        (["demo", "--speed", "1e300"], "--speed"),
        (["record", "--config", "x.yaml", "--out", "x.rec", "--duration", "1e40"], "--duration"),
    ])
    func absurdFlagValuesAreRefusedNamingTheFlag(_ arguments: [String], _ flag: String) {
        let (status, output) = Self.run(Self.tickline, arguments, seconds: 30)
        #expect(status > 0, "\(arguments) was accepted: \(output.suffix(1_000))")
        #expect(output.contains(flag), "\(arguments): \(output.suffix(1_000))")
    }

    /// The replay server's flags: every deadline it computes from them stays in range.
    @Test(arguments: [
        (["--rate", "1e-300"], "--rate"), (["--ping-interval", "1e40"], "--ping-interval"), (["--pong-timeout", "1e40"], "--pong-timeout"),
        (["--duration", "1e40"], "--duration"), (["--client-buffer-bytes", "9223372036854775807"], "--client-buffer-bytes"),
        (["--fault", "drop@1e40"], "--fault"), (["--fault", "silence=1e40@1"], "--fault"),
    ])
    func replayServerRefusesAbsurdFlagValuesNamingTheFlag(_ arguments: [String], _ flag: String) throws {
        let (folder, path) = try Self.file("clean.rec", Recording.tabSeparator.bytes)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = Self.run(Self.feed, ["--listen", "127.0.0.1:0", "--data", path] + arguments, seconds: 30)
        #expect(status > 0, "\(arguments) was accepted: \(output.suffix(1_000))")
        #expect(output.contains(flag), "\(arguments): \(output.suffix(1_000))")
    }

    /// The replay server loads each recording (serving it briefly) or refuses it naming the
    /// file and line; `--duration` ends it once it has sent everything.
    @Test(arguments: Recording.allCases)
    func replayServerLoadsOrRefusesEveryRecordingByName(_ recording: Recording) throws {
        let (folder, path) = try Self.file("\(recording.rawValue).rec", recording.bytes)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = Self.run(Self.feed, ["--listen", "127.0.0.1:0", "--data", path, "--duration", "0.2"], seconds: 30)
        #expect(status == 0 || (status == 66 && output.contains("\(path):")), "status \(status): \(output.suffix(1_000))")
        if !recording.hasUnusableLines(priceDecimals: 8) { #expect(status == 0, "\(output.suffix(1_000))") }
    }

    /// The shipped config with one absurd value: every command that reads a config refuses it,
    /// naming the key, before it starts anything.
    @Test(arguments: [
        ("max_order_notional: 10000 ", "max_order_notional: \(digits40) ", "max_order_notional"),
        ("submit_burst: 10 ", "submit_burst: -10 ", "submit_burst"),
        ("market: { capacity: 65536 }", "market: { capacity: \(digits40) }", "rings.market.capacity"),
        (#"position_limit: "0.25""#, #"position_limit: "\#(digits40)""#, "position_limit"),
        ("latency_us: 1000 ", "latency_us: -1 ", "venues[0].latency_us"),
        ("ping_interval_ms: 15000", "ping_interval_ms: \(digits40)", "ping_interval_ms"),
        (#"tick: "0.01""#, #"tick: "-0.01""#, "tick"),
        ("max_hold_ms: 14400000", "max_hold_ms: \(digits40)", "max_hold_ms"),
        ("cores: [1]", "cores: [\(digits40)]", "cores"),
        ("seed: 119329822", "seed: -1", "venues[0].seed"),
        ("price_decimals: 2", "price_decimals: \(digits40)", "price_decimals"),
    ])
    func configsWithAbsurdNumbersAreRefusedNamingTheKey(_ original: String, _ absurd: String, _ key: String) throws {
        let shipped = try String(contentsOfFile: Self.packageRoot + "/Config/laptop.yaml", encoding: .utf8)
        try #require(shipped.contains(original), "Config/laptop.yaml no longer holds '\(original)'")
        let (folder, path) = try Self.file("absurd.yaml", Array(shipped.replacingOccurrences(of: original, with: absurd).utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let recording = folder + "/clean.rec"
        try Data(Recording.tabSeparator.bytes).write(to: URL(fileURLWithPath: recording))
        for arguments in [["run", "--config", path], ["record", "--config", path, "--out", folder + "/out.rec", "--duration", "1"],
                          ["replay", recording, "--config", path, "--json"]] {
            let (status, output) = Self.run(Self.tickline, arguments, seconds: 30)
            #expect(status > 0, "\(arguments[0]) accepted \(absurd): \(output.suffix(1_000))")
            #expect(output.contains(key) && output.contains("absurd.yaml"), "\(arguments[0]): \(output.suffix(1_000))")
        }
    }

    /// OHLCV input with absurd numbers: refused naming the line and column, or computed.
    @Test(arguments: [
        ("1234567890123456789012345,1,2,0.5,1.5,10", "line 3, column 1"),
        ("1723161256,\(digits40),1e300,-5,1.5,10", nil),
        ("1723161256,1,2,0.5,1.5,-10", "line 3, column 6"),
        ("9223372036854775807,1,2,0.5,1.5,1", nil),  // ns since the epoch
        ("9223372036854775808,1,2,0.5,1.5,1", "line 3, column 1"),
        ("1723161256,1e308,1e308,1e308,1e308,1e308", nil),
        ("1723161256,nan,2,0.5,1.5,10", "line 3"),
    ] as [(String, String?)])
    func indicatorsRefuseOrComputeAbsurdBars(_ row: String, _ refusal: String?) throws {
        let csv = "timestamp,open,high,low,close,volume\n1723161255,1,2,0.5,1.5,10\n\(row)\n"
        let (folder, path) = try Self.file("bars.csv", Array(csv.utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = Self.run(Self.tickline, ["indicators", path])
        if let refusal {
            #expect(status == 1 && output.contains(refusal), "status \(status): \(output.suffix(1_000))")
        } else {
            #expect(status <= 1, "status \(status): \(output.suffix(1_000))")
        }
    }

    /// `tickline record` against `tickline-feed` serving absurd messages: the live feed path
    /// (WebSocket framing, decoder, books) counts what it cannot decode and keeps recording;
    /// verify then reads the recording it wrote.
    @Test func recordCountsAbsurdMessagesFromTheFeedAndVerifyReadsTheRecording() throws {
        // Every absurd line but the depth diffs the server refuses to load, and no bytes that
        // are not UTF-8 (in a text frame the client closes the connection on them, as RFC 6455 says).
        let served = Self.cleanLines + Recording.everything.lines.filter { !$0.contains("depthUpdate") }
        let bytes = Array(served.enumerated().map { i, line in line.first?.isNumber == true ? line + "\n" : "\(1_000 + i) \(line)\n" }.joined().utf8)
        let (folder, path) = try Self.file("served.rec", bytes)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let feed = ChildProcess(executable: Self.feed, arguments: ["--listen", "127.0.0.1:0", "--data", path, "--wait-clients", "1", "--loop", "--rate", "2000"])
        #expect(feed.start())
        defer { feed.stop() }
        let address = RunCommandTests.listeningAddress(of: feed)
        let config = """
            feeds:
              - { name: absurd, stream_address: "\(address)", rest_base: "http://\(address)", symbols: [BTCUSDT] }
            risk:
              instruments:
                - { symbol: BTCUSDT, price_decimals: 2, quantity_decimals: 8, max_order_qty: "1", position_limit: "1" }
            """
        try config.write(toFile: folder + "/engine.yaml", atomically: true, encoding: .utf8)
        let out = folder + "/recorded.rec"
        let (status, output) = Self.run(Self.tickline, ["record", "--config", folder + "/engine.yaml", "--out", out, "--duration", "2"])
        #expect(status == 0, "\(output.suffix(2_000))")
        let decodeErrors = output.range(of: "decode errors ").map { Int(output[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
        #expect(decodeErrors > 0, "record counted no decode error: \(output.suffix(2_000))")
        let verify = Self.lastJSON(Self.run(Self.tickline, ["verify", out, "--json", "--price-decimals", "2"]).output)
        #expect(Self.number(verify, "messages") > 0 && Self.number(verify, "decode_errors") > 0, "\(verify ?? [:])")
    }

    /// Trades and one-level books (a partial-depth stream, the book that risk marks against
    /// and the venue fills against) at prices and quantities just under Int64.max units (8
    /// decimals), for long enough that strategies signal: risk sizes, checks and sends orders
    /// and the venue fills them on these numbers without a trap (money figures saturate,
    /// never wrap).
    @Test func replayTradesOnPricesAndQuantitiesNearInt64Max() throws {
        var text = ""
        var ns: Int64 = 1_723_161_255_000_000_000
        let quantity = "92233720368.54775807"
        for i in 0..<3_000 {
            ns += 250_000_000
            let units = Int64.max - Int64(5e17 * (1 + sin(Double(i) / 15))) - Int64(i % 7)
            let price = "\(units / 100_000_000).\(String(units % 100_000_000 + 100_000_000).dropFirst())"
            text += "\(ns) " + Self.trade("\(i + 1)", price: price, quantity: quantity, time: "\(ns / 1_000_000)") + "\n"
            let level = #"[["\#(price)","\#(quantity)"]]"#
            text += "\(ns + 1) " + #"{"stream":"btcusdt@depth5","data":"# + Self.snapshot("\(i + 1)", bids: level, asks: level) + "}\n"
        }
        let (folder, path) = try Self.file("near-max.rec", Array(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let config = """
            strategies:
              bars: { time: [1s] }
              instances:
                - { id: 1, type: zscore_reversion, timeframe: 1s, period: 20, entry_z: 1, exit_z: 0.5, stop_z: 3 }
                - { id: 2, type: rsi_bollinger_reversal, timeframe: 1s, oversold: 30, overbought: 70 }
            risk:
              limits: { starting_capital: 91000000000, max_order_notional: 91000000000, max_gross_exposure: 91000000000,
                        max_net_exposure: 91000000000, strategy_budget: 91000000000, submit_burst: 1000000,
                        submit_per_second: 1000000, price_collar_pct: 100, risk_per_trade_pct: 100, min_reward_risk: 0 }
              instruments:
                - { symbol: BTCUSDT, price_decimals: 8, quantity_decimals: 8, tick: "0.00000001", step: "0.00000001",
                    min_qty: "0.00000001", max_order_qty: "\(quantity)", position_limit: "\(quantity)" }
            venues: [{ name: paper, starting_capital: 1000000000000 }]
            """
        try config.write(toFile: folder + "/near-max.yaml", atomically: true, encoding: .utf8)
        let (status, output) = Self.run(Self.tickline, ["replay", path, "--config", folder + "/near-max.yaml", "--json"])
        let report = Self.lastJSON(output)
        #expect(status == 0, "\(output.suffix(2_000))")
        #expect(Self.number(report, "decode_errors") == 0 && Self.number(report, "messages") == 6_000, "\(output.suffix(2_000))")
        #expect(Self.number(report, "orders") > 0, "no order: risk and the venue saw none of these numbers: \(output.suffix(2_000))")
    }

    /// A recording of trades and bookTicker quotes only (no depth stream): replay, like the
    /// live feed, has no book, so risk denies every signal for want of a reference price and
    /// nothing trades; the report counts them under `noReferencePrice` and stderr says why.
    @Test func replayOfARecordingWithoutDepthDeniesForWantOfABookAndSaysSo() throws {
        var text = ""
        var ns: Int64 = 1_723_161_255_000_000_000
        for i in 0..<3_000 {
            ns += 250_000_000
            let cents = 6_000_000 + Int(50_000 * sin(Double(i) / 15)) + i % 7
            let price = "\(cents / 100).\(String(cents % 100 + 100).dropFirst())"
            text += "\(ns) " + Self.trade("\(i + 1)", price: price, quantity: "0.5", time: "\(ns / 1_000_000)") + "\n"
            text += "\(ns + 1) " + Self.ticker("\(i + 1)", bid: price, bidQuantity: "2", ask: price, askQuantity: "2") + "\n"
        }
        let (folder, path) = try Self.file("no-depth.rec", Array(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = Self.run(Self.tickline, ["replay", path, "--json", "--instruments", ReplayReportTests.exchangeInfo])
        let report = Self.lastJSON(output)
        #expect(status == 0, "\(output.suffix(2_000))")
        let denied = ((report?["denials_by_reason"] as? [String: Any])?["noReferencePrice"] as? NSNumber)?.intValue ?? 0
        #expect(Self.number(report, "signals") > 0 && Self.number(report, "orders") == 0, "\(output.suffix(2_000))")
        #expect(denied == Self.number(report, "signals") && Self.number(report, "denials") == denied, "\(report ?? [:])")
        #expect(output.contains("replay: \(denied) signals denied for want of a book (noReferencePrice)"), "\(output.suffix(2_000))")
    }

    /// A paced replay whose receive times jump back by nearly Int64.max ns: the earlier line
    /// is due at once (the wait, 9.2e21 ns at pace 0.001, is no Int64).
    @Test func pacedReplayOfReceiveTimesThatJumpBackNeitherTrapsNorWaits() throws {
        let lines = ["9223372036854775000 " + Self.trade("1"), "1000 " + Self.trade("2"), "2000 " + Self.trade("3")]
        let (folder, path) = try Self.file("back.rec", Array((lines.joined(separator: "\n") + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = Self.run(Self.tickline, ["replay", path, "--pace", "0.001", "--json", "--instruments", ReplayReportTests.exchangeInfo], seconds: 30)
        #expect(status == 0, "\(output.suffix(2_000))")
        #expect(Self.number(Self.lastJSON(output), "messages") == 3, "\(output.suffix(2_000))")
    }

    /// The demo looping an absurd recording: it runs its duration and says how many lines it
    /// left out (journal to a file, Redis named but unreachable: no servers started).
    @Test func demoLoopsAnAbsurdRecordingAndSaysWhatItLeftOut() throws {
        let (folder, path) = try Self.file("everything.rec", Recording.everything.bytes)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let demo = ChildProcess(executable: Self.tickline, arguments: ["demo", "--data", path, "--duration", "2", "--json",
                                                                      "--influx", "file://\(folder)/journal.lp", "--redis", "redis://127.0.0.1:1/0"])
        #expect(demo.start())
        defer { try? FileManager.default.removeItem(atPath: "/tmp/tickline-demo-\(demo.pid)") }
        let status = demo.wait(seconds: 60) ?? demo.stop(seconds: 5)
        let output = demo.output + demo.errors
        #expect(status == 0, "\(output.suffix(2_000))")
        #expect(output.contains("left out") && output.contains("lines that are not"), "\(output.suffix(2_000))")
        #expect(Self.lastJSON(output)?["events"] != nil, "no JSON report: \(output.suffix(2_000))")
    }

    /// <package root> (this file is <root>/Tests/TicklineEngineTests/AbsurdInputTests.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}
