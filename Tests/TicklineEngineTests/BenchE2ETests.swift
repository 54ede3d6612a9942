#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineEngine
import TicklineStrategy

/// `tickline bench e2e` as a user runs it, on one tiny scenario (1 symbol, 2,000 msg/s, 1 s):
/// the JSON line carries its fields, events flowed, and the .hgrm file parses. No timing
/// is asserted (speed belongs to the benchmark itself).
@Suite(.serialized) struct BenchE2ETests {
    static let bin = URL(fileURLWithPath: WriterSupervisor.besideThisProgram("tickline")).deletingLastPathComponent()

    @Test func everyNthStrategySignalsOnEveryNthEventOverAllSymbols() {
        let strategy = EveryNthStrategy(id: 1, every: 3, quantityUnits: 100_000, timeframe: .minutes1)
        var state: Void = ()
        var decisions: [StrategyDecision?] = []
        for k in 0..<7 {
            decisions.append(k % 2 == 0 ? strategy.onQuote(bid: 99, ask: 100, state: &state)
                                        : strategy.onTrade(price: 101, quantity: 1, state: &state))
        }
        #expect(decisions.map { $0 != nil } == [false, false, true, false, false, true, false])
        #expect(decisions[2]?.side == .buy && decisions[2]?.entry == 100, "a quote buys at the ask")
        #expect(decisions[5]?.entry == 101 && decisions[5]?.stopLoss == 50.5 && decisions[5]?.takeProfit == 202)
    }

    @Test func tinyScenarioPrintsItsJSONLineAndAParsableHgrmFile() throws {
        let feed = Self.bin.appendingPathComponent("tickline-feed").path
        try #require(FileManager.default.isExecutableFile(atPath: feed), "tickline-feed is not built beside the tests")
        let out = NSTemporaryDirectory() + "tickline-bench-e2e-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = Self.bin.appendingPathComponent("tickline")
        p.arguments = ["bench", "e2e", "--json", "--rates", "2000", "--symbols", "1", "--duration", "1", "--warmup", "0.5",
                       "--no-rated", "--out", out]
        let stdout = Pipe()
        p.standardOutput = stdout
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Bounded: a hung run is killed (its feed server dies with it: pdeathsig).
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        let text = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(text)")

        let lines = text.split(separator: "\n").filter { $0.hasPrefix("{") }
        try #require(lines.count == 1, "one scenario line: \(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        for key in ["rate", "symbols", "events", "drops", "p50_ns", "p99_ns", "p999_ns", "max_ns", "rss_mb",
                    "events_per_second", "cpu_seconds", "stages", "hgrm"] {
            #expect(json[key] != nil, "missing \(key) in \(lines[0])")
        }
        #expect((json["rate"] as? Int) == 2_000 && (json["symbols"] as? Int) == 1)
        #expect(((json["events"] as? Int) ?? 0) > 0, "no events flowed: \(lines[0])")
        #expect(((json["samples"] as? Int) ?? 0) > 0, "no order was measured: \(lines[0])")
        let p50 = (json["p50_ns"] as? Int) ?? 0, p99 = (json["p99_ns"] as? Int) ?? 0, max = (json["max_ns"] as? Int) ?? 0
        #expect(p50 > 0 && p50 <= p99 && p99 <= max, "percentiles out of order: \(lines[0])")
        let stages = json["stages"] as? [String: Any]
        #expect(Set(stages?.keys.map { $0 } ?? []) == ["feed", "strategy", "risk", "send"])

        let hgrm = try #require(json["hgrm"] as? String)
        let parsed = try Self.parseHgrm(try String(contentsOfFile: hgrm, encoding: .utf8))
        #expect(parsed.rows.count >= 2)
        #expect(parsed.rows.last?.percentile == 1.0)
        #expect(parsed.rows.last?.count == parsed.totalCount && parsed.totalCount == (json["samples"] as? Int))
        #expect(zip(parsed.rows, parsed.rows.dropFirst()).allSatisfy { $0.value <= $1.value && $0.percentile < $1.percentile && $0.count <= $1.count },
                "rows must rise in value, percentile and count")
        #expect(abs((parsed.rows.last?.value ?? 0) * 1_000 - Double(max)) < 1, "the last row is the max (µs)")
        #expect(FileManager.default.fileExists(atPath: "\(out)/e2e-percentiles.html"))
    }

    struct HgrmRow { var value: Double; var percentile: Double; var count: Int }

    /// HdrHistogram's percentile-distribution text: a header, rows `Value Percentile
    /// TotalCount [1/(1-Percentile)]`, then `#[...]` footer lines with the total count.
    static func parseHgrm(_ text: String) throws -> (rows: [HgrmRow], totalCount: Int) {
        struct Bad: Error { let line: String }
        var lines = text.split(separator: "\n")
        guard let header = lines.first, header.split(separator: " ") == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"] else {
            throw Bad(line: String(lines.first ?? ""))
        }
        lines.removeFirst()
        var rows: [HgrmRow] = []
        var total = -1
        for line in lines {
            if line.hasPrefix("#[Max") {
                total = Int(line.split(separator: "=").last?.trimmingCharacters(in: CharacterSet(charactersIn: " ]")) ?? "") ?? -1
                continue
            }
            if line.hasPrefix("#") { continue }
            let f = line.split(separator: " ")
            guard f.count == 3 || f.count == 4, let v = Double(f[0]), let p = Double(f[1]), let c = Int(f[2]) else { throw Bad(line: String(line)) }
            if f.count == 4 { guard let inverse = Double(f[3]), abs(inverse - 1 / (1 - p)) < 0.01 * inverse else { throw Bad(line: String(line)) } }
            rows.append(HgrmRow(value: v, percentile: p, count: c))
        }
        return (rows, total)
    }
}
