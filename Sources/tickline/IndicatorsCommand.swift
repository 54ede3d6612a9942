import ArgumentParser

struct Indicators: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reads OHLCV CSV and prints the indicator values per bar as CSV.")

    @Argument(help: "CSV file with header timestamp,open,high,low,close,volume.") var file: String

    func run() throws {
        throw CommandFailure("indicators: not wired yet")
    }
}
