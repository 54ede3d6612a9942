import Foundation
import Testing
import TicklineIndicators
import TicklineTestSupport

// MARK: - Deterministic series

/// A named bar series used against TA-Lib and the direct formulas.
struct TestSeries: Sendable, CustomTestStringConvertible {
    let name: String
    let bars: [OHLCVBar]

    var testDescription: String { name }
    var closes: [Double] { bars.map(\.close) }

    /// Mean |close|: the "price level" of the tolerances.
    var priceLevel: Double { bars.reduce(0) { $0 + abs($1.close) } / Double(max(bars.count, 1)) }

    /// 2024-01-01T22:00:00Z: minute bars cross UTC midnight after 120 bars.
    static let startNs: Int64 = 1_704_146_400 * 1_000_000_000

    /// A geometric random walk with OHLC around each close.
    /// - `gapEvery`: every that many bars the open gaps by up to ±`gapSize` (relative).
    /// - `flat`: index ranges where open = high = low = close (the previous close).
    static func walk(
        name: String, count: Int, start: Double, volatility: Double, seed: UInt64,
        gapEvery: Int = 0, gapSize: Double = 0, flat: [Range<Int>] = [], stepNs: Int64 = 60_000_000_000
    ) -> TestSeries {
        var random = SeededGenerator(seed: seed)
        var bars: [OHLCVBar] = []
        bars.reserveCapacity(count)
        var close = start
        for index in 0..<count {
            let timestamp = startNs + Int64(index) * stepNs
            if flat.contains(where: { $0.contains(index) }) {
                bars.append(OHLCVBar(timestampNs: timestamp, open: close, high: close, low: close, close: close,
                                     volume: index % 3 == 0 ? 0 : 10))
                continue
            }
            var open = close * Foundation.exp(volatility * 0.2 * random.normal())
            if gapEvery > 0 && index % gapEvery == gapEvery - 1 {
                open *= 1 + gapSize * (2 * random.unit() - 1)
            }
            close = open * Foundation.exp(volatility * random.normal())
            let top = max(open, close)
            let bottom = min(open, close)
            let high = top * (1 + volatility * abs(random.normal()) * 0.7)
            let low = bottom * (1 - volatility * abs(random.normal()) * 0.7)
            let volume = (1 + 999 * random.unit()).rounded()
            bars.append(OHLCVBar(timestampNs: timestamp, open: open, high: high, low: low, close: close, volume: volume))
        }
        return TestSeries(name: name, bars: bars)
    }

    /// A strict rise then a strict fall then a rise (RSI 100 / 0, one-sided DM).
    static func trend(name: String) -> TestSeries {
        var bars: [OHLCVBar] = []
        var close = 50.0
        for index in 0..<300 {
            let step = index < 100 ? 0.5 : index < 200 ? -0.25 : 0.125
            let open = close
            close += step
            bars.append(OHLCVBar(timestampNs: startNs + Int64(index) * 60_000_000_000, open: open,
                                 high: max(open, close) + 0.0625, low: min(open, close) - 0.0625,
                                 close: close, volume: 100))
        }
        return TestSeries(name: name, bars: bars)
    }

    /// Every series the TA-Lib tests run on.
    static let all: [TestSeries] = [
        walk(name: "randomWalk", count: 1500, start: 100, volatility: 0.01, seed: 1),
        walk(name: "gapsAndJumps", count: 1000, start: 100, volatility: 0.02, seed: 2, gapEvery: 37, gapSize: 0.3),
        walk(name: "flatRuns", count: 800, start: 50, volatility: 0.01, seed: 3,
             flat: [200..<260, 500..<530, 600..<621]),
        walk(name: "flatStart", count: 300, start: 10, volatility: 0.01, seed: 4, flat: [0..<60]),
        walk(name: "tinyPrices", count: 1000, start: 1e-6, volatility: 0.01, seed: 5),
        walk(name: "hugePrices", count: 1000, start: 1e6, volatility: 0.005, seed: 6, gapEvery: 101, gapSize: 0.1),
        walk(name: "hugeFlatRuns", count: 600, start: 1e6, volatility: 0.0001, seed: 7, flat: [100..<140, 300..<321]),
        walk(name: "shortSeries", count: 12, start: 100, volatility: 0.01, seed: 8),
        trend(name: "strictTrends"),
    ]
}

// MARK: - TA-Lib reference

/// Reference values from the Python `ta-lib` package, computed once per test process.
enum TALib {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// [series name: [column name: values]]; NaN where TA-Lib has no value.
    typealias Table = [String: [String: [Double]]]

    /// The repository root (this file is <repo>/Tests/TicklineIndicatorsTests/TestSupport.swift;
    /// symlinks are resolved so a scratch package linking these folders finds the real repo).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let python = repoRoot.appendingPathComponent(".venv/bin/python")
    static let script = repoRoot.appendingPathComponent("Tests/TicklineIndicatorsTests/Reference/talib_reference.py")

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: python.path) }
    static var isRequired: Bool { ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1" }
    /// Run the TA-Lib tests when the venv exists, or when it is required (then they fail).
    static var shouldRun: Bool { isAvailable || isRequired }

    static let computed: Result<Table, Failure> = compute()

    /// The table, or a thrown failure naming what is missing.
    static func table() throws -> Table {
        guard isAvailable else {
            throw Failure(description: "TICKLINE_REQUIRE_REFERENCES=1 but \(python.path) is missing: run Tools/python-env")
        }
        return try computed.get()
    }

    /// Reference column `column` of `series`.
    static func column(_ column: String, of series: TestSeries) throws -> [Double] {
        guard let values = try table()[series.name]?[column] else {
            throw Failure(description: "reference has no column \(column) for series \(series.name)")
        }
        return values
    }

    private static func compute() -> Result<Table, Failure> {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tickline-talib-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let input = directory.appendingPathComponent("series.csv")
            let output = directory.appendingPathComponent("reference.csv")
            var text = "series,open,high,low,close,volume\n"
            for series in TestSeries.all {
                for bar in series.bars {
                    text += "\(series.name),\(bar.open),\(bar.high),\(bar.low),\(bar.close),\(bar.volume)\n"
                }
            }
            try text.write(to: input, atomically: true, encoding: .utf8)

            let process = Process()
            process.executableURL = python
            process.arguments = [script.path, input.path, output.path]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                return .failure(Failure(description: "\(script.path) exited \(process.terminationStatus): \(errorText)"))
            }
            return .success(try parse(String(contentsOf: output, encoding: .utf8)))
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(description: "running the TA-Lib reference failed: \(error)"))
        }
    }

    private static func parse(_ text: String) throws -> Table {
        var lines = text.split(separator: "\n")
        guard !lines.isEmpty else { throw Failure(description: "empty reference output") }
        let header = lines.removeFirst().split(separator: ",").map(String.init)
        let names = Array(header.dropFirst(2))
        var table: Table = [:]
        for line in lines {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else { throw Failure(description: "bad reference line: \(line)") }
            let series = String(fields[0])
            var columns = table[series] ?? [:]
            for (offset, name) in names.enumerated() {
                guard let value = Double(fields[offset + 2]) else {
                    throw Failure(description: "bad reference value '\(fields[offset + 2])' in \(line)")
                }
                columns[name, default: []].append(value)
            }
            table[series] = columns
        }
        return table
    }
}

extension Trait where Self == ConditionTrait {
    /// Skips when `<repo>/.venv/bin/python` is missing, unless TICKLINE_REQUIRE_REFERENCES=1.
    static var needsTALib: Self {
        .enabled(if: TALib.shouldRun,
                 "TA-Lib reference skipped: <repo>/.venv/bin/python is missing (run Tools/python-env; TICKLINE_REQUIRE_REFERENCES=1 turns this into a failure)")
    }
}

// MARK: - Comparison

/// Index of the first non-NaN value, or nil.
func firstValueIndex(_ values: [Double]) -> Int? { values.firstIndex { !$0.isNaN } }

/// Expects `ours` to have a value exactly where `reference` does (same warm-up) and to agree
/// within `tolerance` there. Reports the first few mismatches with their index.
func expectAgreement(
    _ ours: [Double], _ reference: [Double], tolerance: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(ours.count == reference.count, "\(what): \(ours.count) values vs \(reference.count)", sourceLocation: sourceLocation)
    #expect(firstValueIndex(ours) == firstValueIndex(reference),
            "\(what): first value at \(String(describing: firstValueIndex(ours))), TA-Lib at \(String(describing: firstValueIndex(reference)))",
            sourceLocation: sourceLocation)
    var reported = 0
    var worst = 0.0
    for index in 0..<min(ours.count, reference.count) {
        let a = ours[index]
        let b = reference[index]
        let bad: Bool
        if a.isNaN || b.isNaN {
            bad = a.isNaN != b.isNaN
        } else {
            worst = max(worst, abs(a - b))
            bad = !(abs(a - b) <= tolerance)
        }
        if bad && reported < 3 {
            reported += 1
            Issue.record("\(what)[\(index)]: ours \(a), TA-Lib \(b), |diff| \(abs(a - b)) > \(tolerance)",
                         sourceLocation: sourceLocation)
        }
    }
    if ProcessInfo.processInfo.environment["TICKLINE_REPORT_WORST"] == "1" {
        print("agreement \(what): worst |diff| \(worst), tolerance \(tolerance), compared \(ours.filter { !$0.isNaN }.count)")
    }
}

/// Tolerance for values in price units: 1e-9 × the series' price level.
func priceTolerance(_ series: TestSeries) -> Double { 1e-9 * series.priceLevel }

/// Tolerance for bounded oscillators (RSI, ADX, ±DI, Stochastic).
let oscillatorTolerance = 1e-7
