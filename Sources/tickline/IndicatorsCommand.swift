import ArgumentParser
import Foundation
import TicklineIndicators

struct Indicators: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reads OHLCV CSV and prints the indicator values per bar as CSV.",
        discussion: """
            Input header: \(IndicatorCSV.inputHeader)
            Output header: \(IndicatorCSV.outputHeader)
            SMA/EMA 20, RSI 14 (Wilder), MACD 12/26/9, Bollinger 20 x 2 (population sd), ATR 14,
            ADX/+DI/-DI 14, Stochastic 14/3/3 (simple averages), VWAP reset each UTC day, z-score 20.
            A cell is empty while its indicator warms up. Values match TA-Lib.
            """)

    @Argument(help: "CSV file with header timestamp,open,high,low,close,volume (- for standard input).")
    var file: String

    func run() throws {
        let handle: FileHandle
        if file == "-" {
            handle = .standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: file) else { throw CommandFailure("\(file): cannot open (missing or unreadable)") }
            handle = h
        }
        // Streams line by line so large files need no more memory than one chunk.
        var stream = IndicatorCSVStream()
        var output = ""
        var pending = Data()
        let stdout = FileHandle.standardOutput
        func flush() {
            if !output.isEmpty {
                stdout.write(Data(output.utf8))
                output.removeAll(keepingCapacity: true)
            }
        }
        do {
            while true {
                let chunk = handle.readData(ofLength: 1 << 20)
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    try stream.process(line: line, into: &output)
                }
                flush()
            }
            if !pending.isEmpty { try stream.process(line: String(decoding: pending, as: UTF8.self), into: &output) }
            try stream.finish()
            flush()
        } catch {
            flush()
            throw CommandFailure("\(file): \(error)")
        }
    }
}
