import Foundation
import TicklineMarketData

/// Why a recorded file cannot be replayed. Cold path.
struct ReplayError: Error, CustomStringConvertible {
    var description: String
}

/// One price level of a recorded book: the strings exactly as the venue sent them.
struct RecordedLevel {
    var key: Int64
    var price: String
    var quantity: String
    var isDelete: Bool
}

/// A `depthUpdate` parsed once at load.
struct RecordedDiff {
    var symbol: String
    /// Index of the symbol's book in `ReplaySource.books` (set after loading).
    var bookIndex = -1
    var firstUpdateId: UInt64
    var lastUpdateId: UInt64
    var bids: [RecordedLevel]
    var asks: [RecordedLevel]
}

/// The server's book of one recorded symbol: levels keyed by price in 1e-8 units.
struct RecordedBook {
    var bids: [Int64: (String, String)] = [:]
    var asks: [Int64: (String, String)] = [:]
    var lastUpdateId: UInt64 = 0

    /// Applies `diff` unless the book already holds it (u ≤ lastUpdateId, as SPECS §1.6
    /// step 4): the recorded REST snapshot is newer than the first recorded diffs.
    mutating func apply(_ diff: RecordedDiff) {
        guard diff.lastUpdateId > lastUpdateId else { return }
        for level in diff.bids {
            if level.isDelete { bids[level.key] = nil } else { bids[level.key] = (level.price, level.quantity) }
        }
        for level in diff.asks {
            if level.isDelete { asks[level.key] = nil } else { asks[level.key] = (level.price, level.quantity) }
        }
        lastUpdateId = diff.lastUpdateId
    }

    func snapshot(limit: Int) -> [UInt8] {
        let topBids = bids.sorted { $0.key > $1.key }.prefix(limit).map { $0.value }
        let topAsks = asks.sorted { $0.key < $1.key }.prefix(limit).map { $0.value }
        return snapshotJSON(lastUpdateId: lastUpdateId, bids: Array(topBids), asks: Array(topAsks))
    }
}

/// Replays recorded lines (`<recv ns> <raw JSON>`, split by `RecordingLine`) in file order. The
/// whole recording is loaded once into one byte arena, so the send loop only hands out
/// pointers. The first REST snapshot of a symbol seeds its book; every depth diff is
/// applied as it is handed out. With `loop`, each pass starts again from the recorded
/// snapshot (update ids go back: clients see it as a gap and resync).
final class ReplaySource: MessageSource, @unchecked Sendable {
    private struct Entry {
        var offset: Int
        var count: Int
        var dataOffset: Int
        var dataCount: Int
        var streamId: Int
        var diffIndex: Int
    }

    let streamNames: [String]
    private let arena: UnsafeMutablePointer<UInt8>
    private let entries: [Entry]
    private let diffs: [RecordedDiff]
    private let initialBooks: [RecordedBook]
    private let bookIndex: [String: Int]
    private let loop: Bool
    private var index = 0
    private(set) var passes = 0

    // Guards `books`: the producer applies diffs, HTTP threads read snapshots. An array,
    // not a dictionary keyed by symbol: changing a dictionary value in place allocates.
    private let booksLock = NSLock()
    private var books: [RecordedBook]

    var messageCount: Int { entries.count }

    init(files: [String], loop: Bool) throws(ReplayError) {
        var arenaBytes: [UInt8] = []
        var entries: [Entry] = []
        var diffs: [RecordedDiff] = []
        var names: [String] = []
        var ids: [String: Int] = [:]
        var books: [String: RecordedBook] = [:]
        var pendingSnapshot: RecordedBook?
        var lastDepthSymbol: String?
        var skipped = 0

        for file in files {
            let content = try Self.read(file)
            var lineNumber = 0
            try content.withUnsafeBufferPointer { (all: UnsafeBufferPointer<UInt8>) throws(ReplayError) in
                var start = 0
                while start < all.count {
                    var end = start
                    while end < all.count && all[end] != 10 { end += 1 }
                    lineNumber += 1
                    defer { start = end + 1 }
                    let payload: Range<Int>
                    switch RecordingLine.parse(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: all[start..<end]))) {
                    case .blank: continue
                    case .malformed: skipped += 1; continue
                    case .message(_, let range): payload = (start + range.lowerBound)..<(start + range.upperBound)
                    }
                    let line = UnsafeBufferPointer(rebasing: all[payload])
                    if let wrapped = Self.splitCombined(line) {
                        let name = String(decoding: UnsafeBufferPointer(rebasing: line[wrapped.nameRange]), as: UTF8.self)
                        let streamId: Int
                        if let id = ids[name] { streamId = id } else {
                            streamId = names.count
                            ids[name] = streamId
                            names.append(name)
                        }
                        var diffIndex = -1
                        let data = UnsafeBufferPointer(rebasing: line[wrapped.dataRange])
                        if Self.contains(data, "\"depthUpdate\"") {
                            guard let diff = Self.parseDiff(data) else {
                                throw ReplayError(description: "\(file):\(lineNumber): depthUpdate whose s, U, u, b or a is missing or out of range "
                                                  + "(ids are whole numbers up to \(UInt64.max), prices and quantities decimals up to \(Int64.max / 100_000_000))")
                            }
                            diffIndex = diffs.count
                            diffs.append(diff)
                            lastDepthSymbol = diff.symbol
                            if books[diff.symbol] == nil, let snapshot = pendingSnapshot {
                                books[diff.symbol] = snapshot
                                pendingSnapshot = nil
                            }
                        }
                        entries.append(Entry(offset: arenaBytes.count, count: line.count,
                                             dataOffset: wrapped.dataRange.lowerBound, dataCount: wrapped.dataRange.count,
                                             streamId: streamId, diffIndex: diffIndex))
                        arenaBytes.append(contentsOf: line)
                    } else if let snapshot = Self.parseSnapshot(line) {
                        // The REST snapshot carries no symbol: it belongs to the depth stream
                        // of the recording (the symbol seen last, or the next one).
                        if let symbol = lastDepthSymbol {
                            if books[symbol] == nil { books[symbol] = snapshot }
                        } else if pendingSnapshot == nil {
                            pendingSnapshot = snapshot
                        }
                    } else {
                        skipped += 1
                    }
                }
            }
        }
        guard !entries.isEmpty else { throw ReplayError(description: "\(files.joined(separator: ", ")): no combined-stream messages") }
        if skipped > 0 { FileHandle.standardError.write(Data("tickline-feed: skipped \(skipped) lines that are neither combined-stream messages nor depth snapshots\n".utf8)) }
        for diff in diffs where books[diff.symbol] == nil { books[diff.symbol] = RecordedBook() }
        let symbols = books.keys.sorted()
        var indexBySymbol: [String: Int] = [:]
        for (k, symbol) in symbols.enumerated() { indexBySymbol[symbol] = k }
        for k in diffs.indices { diffs[k].bookIndex = indexBySymbol[diffs[k].symbol]! }

        let arena = UnsafeMutablePointer<UInt8>.allocate(capacity: max(arenaBytes.count, 1))
        arenaBytes.withUnsafeBufferPointer { arena.initialize(from: $0.baseAddress!, count: $0.count) }
        self.arena = arena
        self.entries = entries
        self.diffs = diffs
        streamNames = names
        initialBooks = symbols.map { books[$0]! }
        self.books = initialBooks
        bookIndex = indexBySymbol
        self.loop = loop
    }

    deinit { arena.deallocate() }

    func next() -> OutgoingMessage? {
        if index == entries.count {
            guard loop else { return nil }
            index = 0
            passes += 1
            booksLock.lock()
            books = initialBooks
            booksLock.unlock()
        }
        let entry = entries[index]
        index += 1
        if entry.diffIndex >= 0 {
            let diff = diffs[entry.diffIndex]
            booksLock.lock()
            books[diff.bookIndex].apply(diff)
            booksLock.unlock()
        }
        return OutgoingMessage(streamId: entry.streamId, bytes: UnsafePointer(arena + entry.offset), count: entry.count,
                               dataOffset: entry.dataOffset, dataCount: entry.dataCount, isDepth: entry.diffIndex >= 0)
    }

    func depthSnapshot(symbol: String, limit: Int) -> [UInt8]? {
        guard let index = bookIndex[symbol] else { return nil }
        booksLock.lock()
        let book = books[index]
        booksLock.unlock()
        return book.snapshot(limit: limit)
    }

    // MARK: - Loading

    /// The whole file, through `gzip -dc` when it ends in `.gz` (concatenated gzip members
    /// included, as the data README allows).
    private static func read(_ path: String) throws(ReplayError) -> [UInt8] {
        guard FileManager.default.isReadableFile(atPath: path) else { throw ReplayError(description: "\(path): cannot read the file") }
        if !path.hasSuffix(".gz") {
            guard let data = FileManager.default.contents(atPath: path) else { throw ReplayError(description: "\(path): cannot read the file") }
            return [UInt8](data)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec gzip -dc \"$0\"", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { throw ReplayError(description: "\(path): cannot start gzip: \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ReplayError(description: "\(path): gzip -dc exited \(process.terminationStatus)") }
        return [UInt8](data)
    }

    /// `{"stream":"NAME","data":DATA}` → the ranges of NAME and DATA inside `line`.
    private static func splitCombined(_ line: UnsafeBufferPointer<UInt8>) -> (nameRange: Range<Int>, dataRange: Range<Int>)? {
        let prefix = Array("{\"stream\":\"".utf8)
        guard line.count > prefix.count + 10, line.last == UInt8(ascii: "}") else { return nil }
        for k in 0..<prefix.count where line[k] != prefix[k] { return nil }
        var nameEnd = prefix.count
        while nameEnd < line.count && line[nameEnd] != UInt8(ascii: "\"") { nameEnd += 1 }
        let dataKey = Array("\",\"data\":".utf8)
        guard nameEnd + dataKey.count < line.count - 1 else { return nil }
        for k in 0..<dataKey.count where line[nameEnd + k] != dataKey[k] { return nil }
        return (prefix.count..<nameEnd, (nameEnd + dataKey.count)..<(line.count - 1))
    }

    private static func contains(_ bytes: UnsafeBufferPointer<UInt8>, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        let needleBytes = UnsafeBufferPointer(start: needle.utf8Start, count: n)
        for i in 0...(bytes.count - n) where bytes[i] == needleBytes[0] {
            var match = true
            for k in 1..<n where bytes[i + k] != needleBytes[k] { match = false; break }
            if match { return true }
        }
        return false
    }

    private static func levels(_ value: Any?) -> [RecordedLevel]? {
        guard let rows = value as? [[String]] else { return nil }
        var out: [RecordedLevel] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard row.count >= 2, let key = decimalE8(row[0]), let quantity = decimalE8(row[1]) else { return nil }
            out.append(RecordedLevel(key: key, price: row[0], quantity: row[1], isDelete: quantity == 0))
        }
        return out
    }

    /// A JSON number that is a whole UInt64 (`uint64Value` would wrap a negative one and
    /// clamp or trap on one past the range).
    private static func updateId(_ value: Any?) -> UInt64? {
        guard let number = value as? NSNumber else { return nil }
        return UInt64(number.stringValue)
    }

    private static func parseDiff(_ data: UnsafeBufferPointer<UInt8>) -> RecordedDiff? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: data)) as? [String: Any],
              let symbol = object["s"] as? String,
              let first = updateId(object["U"]), let last = updateId(object["u"]),
              let bids = levels(object["b"]), let asks = levels(object["a"])
        else { return nil }
        return RecordedDiff(symbol: symbol, firstUpdateId: first, lastUpdateId: last, bids: bids, asks: asks)
    }

    private static func parseSnapshot(_ line: UnsafeBufferPointer<UInt8>) -> RecordedBook? {
        guard line.count > 16, line[0] == UInt8(ascii: "{"), line[1] == UInt8(ascii: "\""),
              let object = try? JSONSerialization.jsonObject(with: Data(buffer: line)) as? [String: Any],
              let id = updateId(object["lastUpdateId"]),
              let bids = levels(object["bids"]), let asks = levels(object["asks"])
        else { return nil }
        var book = RecordedBook()
        for level in bids where !level.isDelete { book.bids[level.key] = (level.price, level.quantity) }
        for level in asks where !level.isDelete { book.asks[level.key] = (level.price, level.quantity) }
        book.lastUpdateId = id
        return book
    }
}
