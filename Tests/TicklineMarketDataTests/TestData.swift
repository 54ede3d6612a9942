import Foundation
import TicklineCore
@testable import TicklineMarketData

/// Where the shared real data lives: `<package root>/../shared/data`.
enum TestData {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let binanceFolder = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/binance_spot_btcusdt")
    static let binanceFiles = ["btcusdt_20240808.gz", "btcusdt_20240809.gz"].map { binanceFolder.appendingPathComponent($0).path }

    static var binanceAvailable: Bool { binanceFiles.allSatisfy { FileManager.default.fileExists(atPath: $0) } }

    /// The decompressed bytes of a .gz file (through `gzip -dc`), or the file itself.
    static func contents(of path: String) throws -> [UInt8] {
        guard path.hasSuffix(".gz") else { return Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec gzip -dc \"$0\"", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }

    /// Both recorded files, concatenated in order.
    static func binanceRecording() throws -> [UInt8] {
        try binanceFiles.flatMap { try contents(of: $0) }
    }

    static func table(_ symbols: [(String, UInt8, UInt8)] = [("BTCUSDT", 2, 8)]) -> InstrumentTable {
        try! InstrumentTable(symbols.enumerated().map {
            InstrumentSpec(symbol: $0.element.0, id: InstrumentId($0.offset + 1), priceDecimals: $0.element.1,
                           quantityDecimals: $0.element.2)
        })
    }
}
