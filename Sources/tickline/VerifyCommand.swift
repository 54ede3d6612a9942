import ArgumentParser
import Foundation
import TicklineCore
import TicklineFeed
import TicklineMarketData

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replays recorded Binance files through the decoders and the L2 book and checks them.",
        discussion: """
            Files hold lines `<receive ns> <raw JSON>` (plain or gzip), read in the order given as one \
            sequence; a REST depth snapshot line ({"lastUpdateId":…}) syncs the book. Checks: depth \
            diffs chain (depth_gaps); every bookTicker whose update id the book reaches matches the \
            book's best bid/ask price and quantity (book_checks, book_mismatches); trade ids are \
            contiguous per symbol (trade_id_checks, trade_id_gaps). Each snapshot's outcome is \
            counted: synced, too old (a diff right after it is missing), a gap in the diffs before \
            it, no symbol (a bare REST body in a recording of several symbols). Events of streams \
            Tickline does not use (kline, markPrice, forceOrder, 24hrTicker, …) are counted as \
            unsupported_messages, not as errors. Each book's diff rules are detected from its first \
            diff (one carrying `pu` = futures: first diff U <= lastUpdateId <= u, then pu == previous \
            u; else spot); --spot or --futures force them. Symbols are found in the files unless given. \
            Exit status 3 when a check failed; 4 when the recording could not be checked in full \
            (a book that got diffs was never synced, a snapshot naming no symbol, nothing \
            checked), with the reason and how to fix it.

            """)

    @Argument(help: "Recorded files, in order.") var files: [String]
    @Flag(help: "Print one JSON line.") var json = false
    @Option(name: .customLong("symbol"), help: "A symbol of the recording (repeatable; default: found in the files).")
    var symbols: [String] = []
    @Option(name: .customLong("price-decimals"), help: "Price scale of every symbol (Binance sends 8).")
    var priceDecimals: UInt8 = 8
    @Option(name: .customLong("quantity-decimals"), help: "Quantity scale of every symbol (Binance sends 8).")
    var quantityDecimals: UInt8 = 8
    @Flag(help: "Force futures diff chaining (pu == previous u); default: detected from the diffs' pu.") var futures = false
    @Flag(help: "Force spot diff chaining (U == previous u + 1); default: detected from the diffs' pu.") var spot = false

    func validate() throws {
        if futures && spot { throw ValidationError("--futures and --spot force opposite rules: give at most one") }
        try checkRange("--price-decimals", priceDecimals, in: 0...DecimalScale.maxDecimals)
        try checkRange("--quantity-decimals", quantityDecimals, in: 0...DecimalScale.maxDecimals)
    }

    func run() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one recorded file") }
        let contents = try files.map { try RecordingFile.load($0) }
        let table = try RecordingFile.table(for: contents, symbols: symbols, priceDecimals: priceDecimals,
                                            quantityDecimals: quantityDecimals)
        let verifier = RecordingVerifier(instruments: table, continuity: futures ? .futures : spot ? .spot : .detect)
        for bytes in contents { verifier.consume(recording: bytes) }
        let report = verifier.report
        print(json ? report.json : report.text)
        if report.failed { throw ExitCode(3) }
        if !report.incomplete.isEmpty {
            if json { for reason in report.incomplete { FileHandle.standardError.write(Data("verify: incomplete: \(reason)\n".utf8)) } }
            throw ExitCode(4)
        }
    }
}

/// Recorded files for `verify`, `replay` and `bench decode` (cold path); `load` is
/// TicklineMarketData's.
extension RecordingFile {
    /// An instrument table for the symbols given, or found in the recordings.
    static func table(for contents: [[UInt8]], symbols given: [String], priceDecimals: UInt8,
                      quantityDecimals: UInt8) throws -> InstrumentTable {
        var symbols = given.map { $0.uppercased() }
        if symbols.isEmpty {
            for bytes in contents {
                for s in RecordingVerifier.symbols(in: bytes) where !symbols.contains(s) { symbols.append(s) }
            }
        }
        guard !symbols.isEmpty else { throw CommandFailure("no symbol found in the recording; name one with --symbol") }
        do {
            return try InstrumentTable(symbols.enumerated().map {
                InstrumentSpec(symbol: $0.element, id: InstrumentId($0.offset + 1), priceDecimals: priceDecimals,
                               quantityDecimals: quantityDecimals)
            })
        } catch {
            throw CommandFailure("instrument table: \(error)")
        }
    }
}
