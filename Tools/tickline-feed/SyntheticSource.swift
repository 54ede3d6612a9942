import Foundation

/// SplitMix64: a small seeded generator, so a `--seed` reproduces the same stream.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<bound (bound > 0); the tiny modulo bias does not matter here.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// One synthetic symbol: a price ladder of `ladderSize` ticks where every index at or
/// below `bestBid` is a bid level and every index above it an ask level (quantity 0 =
/// no level). The best bid and best ask are never empty, so the spread is one tick.
struct SyntheticBook {
    static let ladderSize = 4096
    static let tickE8: Int64 = 1_000_000  // 0.01
    /// How far from the top random level changes reach.
    static let activeDepth = 50

    let upper: [UInt8]  // SYM0000USDT
    let tradeStream: Int
    let bookTickerStream: Int
    let depthStream: Int
    let basePriceE8: Int64
    var quantities: [Int64]
    var bestBid: Int
    var lastUpdateId: UInt64
    var nextTradeId: UInt64

    func priceE8(_ index: Int) -> Int64 { basePriceE8 + Int64(index - Self.ladderSize / 2) * Self.tickE8 }

    static func randomQuantity(_ random: inout SeededGenerator) -> Int64 {
        Int64(1 + random.below(500)) * 1_000_000  // 0.01 … 5.00
    }
}

/// A change to one level inside a diff being built.
private struct LevelChange {
    var index: Int
    var isBid: Bool
}

/// Random-walk trades, bookTicker quotes and depth diffs for N symbols (`SYM0000USDT`, … or given names),
/// written straight into one preallocated buffer: no allocation per message. Each symbol
/// keeps its own book, which every depth diff updates before it is handed out; quotes
/// carry the book's top and its update id; trades happen at the top. Mix per message:
/// 10% depth diffs, 70% quotes, 20% trades, symbols chosen uniformly.
///
/// Futures mode writes messages as Binance USD-M futures does: diffs carry `T` and `pu`
/// (the previous diff's `u`), and their update ids jump by a few between one diff's `u`
/// and the next's `U` (the venue numbers other events in between), so only `pu` chains
/// them; quotes and snapshots carry `E` and `T`.
final class SyntheticSource: MessageSource, @unchecked Sendable {
    let streamNames: [String]
    let futures: Bool
    private var random: SeededGenerator
    private var symbols: [SyntheticBook]
    private let streamPrefixes: [[UInt8]]  // `{"stream":"<name>","data":` by stream id
    private let scratch: UnsafeMutablePointer<UInt8>
    private let scratchCapacity = 64 * 1024
    private var changes: [LevelChange]
    private let symbolIndex: [String: Int]

    // Guards `symbols`' books: the producer changes them, HTTP threads read snapshots.
    private let booksLock = NSLock()

    /// - Parameters:
    ///   - names: the first symbols' names (the rest are `SYM<k>USDT`).
    ///   - futures: write USD-M futures messages instead of spot ones.
    init(symbolCount: Int, seed: UInt64, names given: [String] = [], futures: Bool = false) {
        precondition(symbolCount > 0 && symbolCount <= 10_000, "synthetic symbol count \(symbolCount) outside 1…10000")
        var random = SeededGenerator(seed: seed)
        var names: [String] = []
        var symbols: [SyntheticBook] = []
        var index: [String: Int] = [:]
        for k in 0..<symbolCount {
            let digits = String(k)
            let upper = k < given.count ? given[k] : "SYM" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "USDT"
            let lower = upper.lowercased()
            let base = names.count
            names += ["\(lower)@trade", "\(lower)@bookTicker", "\(lower)@depth@100ms"]
            var book = SyntheticBook(
                upper: Array(upper.utf8), tradeStream: base, bookTickerStream: base + 1, depthStream: base + 2,
                basePriceE8: Int64(100 + random.below(900)) * 100_000_000,
                quantities: [Int64](repeating: 0, count: SyntheticBook.ladderSize),
                bestBid: SyntheticBook.ladderSize / 2, lastUpdateId: UInt64(1_000_000 + random.below(1_000_000)),
                nextTradeId: UInt64(1 + random.below(1_000_000)))
            for i in (book.bestBid - 200)...(book.bestBid + 201) where random.below(10) < 8 {
                book.quantities[i] = SyntheticBook.randomQuantity(&random)
            }
            book.quantities[book.bestBid] = SyntheticBook.randomQuantity(&random)
            book.quantities[book.bestBid + 1] = SyntheticBook.randomQuantity(&random)
            symbols.append(book)
            index[upper] = k
        }
        streamNames = names
        self.futures = futures
        streamPrefixes = names.map { Array("{\"stream\":\"\($0)\",\"data\":".utf8) }
        self.random = random
        self.symbols = symbols
        symbolIndex = index
        scratch = .allocate(capacity: scratchCapacity)
        changes = []
        changes.reserveCapacity(16)
    }

    deinit { scratch.deallocate() }

    func next() -> OutgoingMessage? {
        let s = random.below(symbols.count)
        let kind = random.below(10)
        var out = ByteWriter(base: scratch, capacity: scratchCapacity)
        let streamId: Int
        let dataOffset: Int
        if kind == 0 {
            streamId = symbols[s].depthStream
            out.append(streamPrefixes[streamId])
            dataOffset = out.count
            writeDepthDiff(s, &out)
        } else if kind <= 7 {
            streamId = symbols[s].bookTickerStream
            out.append(streamPrefixes[streamId])
            dataOffset = out.count
            writeBookTicker(s, &out)
        } else {
            streamId = symbols[s].tradeStream
            out.append(streamPrefixes[streamId])
            dataOffset = out.count
            writeTrade(s, &out)
        }
        let dataCount = out.count - dataOffset
        out.append(byte: UInt8(ascii: "}"))
        return OutgoingMessage(streamId: streamId, bytes: UnsafePointer(scratch), count: out.count,
                               dataOffset: dataOffset, dataCount: dataCount, isDepth: kind == 0)
    }

    private func writeBookTicker(_ s: Int, _ out: inout ByteWriter) {
        let book = symbols[s]
        if futures {
            let now = wallMs()
            out.append("{\"e\":\"bookTicker\",\"u\":")
            out.append(integer: book.lastUpdateId)
            out.append(",\"E\":")
            out.append(integer: now)
            out.append(",\"T\":")
            out.append(integer: now - 1)
        } else {
            out.append("{\"u\":")
            out.append(integer: book.lastUpdateId)
        }
        out.append(",\"s\":\"")
        out.append(book.upper)
        out.append("\",\"b\":\"")
        out.append(decimalE8: book.priceE8(book.bestBid))
        out.append("\",\"B\":\"")
        out.append(decimalE8: book.quantities[book.bestBid])
        out.append("\",\"a\":\"")
        out.append(decimalE8: book.priceE8(book.bestBid + 1))
        out.append("\",\"A\":\"")
        out.append(decimalE8: book.quantities[book.bestBid + 1])
        out.append("\"}")
    }

    private func writeTrade(_ s: Int, _ out: inout ByteWriter) {
        let sellerAggressor = random.below(2) == 0
        let quantity = Int64(1 + random.below(100)) * 100_000  // 0.001 … 0.1
        let now = wallMs()
        let book = symbols[s]
        symbols[s].nextTradeId += 1
        out.append("{\"e\":\"trade\",\"E\":")
        out.append(integer: now)
        out.append(",\"s\":\"")
        out.append(book.upper)
        out.append("\",\"t\":")
        out.append(integer: book.nextTradeId)
        out.append(",\"p\":\"")
        out.append(decimalE8: book.priceE8(sellerAggressor ? book.bestBid : book.bestBid + 1))
        out.append("\",\"q\":\"")
        out.append(decimalE8: quantity)
        out.append("\",\"T\":")
        out.append(integer: now)
        out.append(sellerAggressor ? ",\"m\":true,\"M\":true}" : ",\"m\":false,\"M\":true}")
    }

    /// Moves the top by at most one tick, changes a few levels near it, and writes the diff.
    private func writeDepthDiff(_ s: Int, _ out: inout ByteWriter) {
        changes.removeAll(keepingCapacity: true)
        booksLock.lock()
        let previous = symbols[s].lastUpdateId
        let first = previous + 1 + (futures ? UInt64(1 + random.below(3)) : 0)
        changeBook(&symbols[s])
        // One id per changed level (changeBook changes at least one).
        symbols[s].lastUpdateId = first + UInt64(changes.count) - 1
        let book = symbols[s]
        booksLock.unlock()

        let now = wallMs()
        out.append("{\"e\":\"depthUpdate\",\"E\":")
        out.append(integer: now)
        if futures {
            out.append(",\"T\":")
            out.append(integer: now - 1)
        }
        out.append(",\"s\":\"")
        out.append(book.upper)
        out.append("\",\"U\":")
        out.append(integer: first)
        out.append(",\"u\":")
        out.append(integer: book.lastUpdateId)
        if futures {
            out.append(",\"pu\":")
            out.append(integer: previous)
        }
        out.append(",\"b\":[")
        writeLevels(book, bids: true, &out)
        out.append("],\"a\":[")
        writeLevels(book, bids: false, &out)
        out.append("]}")
    }

    /// Changes `book` in place (no copy of its ladder) and records each changed level.
    private func changeBook(_ book: inout SyntheticBook) {
        let half = SyntheticBook.ladderSize / 2
        let move = random.below(10)
        // The top wanders, pulled back toward the middle of the ladder near its edges.
        let drift = book.bestBid < half - 1500 ? 1 : book.bestBid > half + 1500 ? -1 : 0
        if move < 2 || (drift > 0 && move < 5) {
            if drift >= 0 {
                // Up: the best ask level becomes the best bid.
                let moved = book.bestBid + 1
                record(LevelChange(index: moved, isBid: false))
                book.bestBid = moved
                record(LevelChange(index: moved, isBid: true))
                if book.quantities[moved + 1] == 0 { book.quantities[moved + 1] = SyntheticBook.randomQuantity(&random) }
                record(LevelChange(index: moved + 1, isBid: false))
            }
        } else if move < 4 || (drift < 0 && move < 7) {
            if drift <= 0 {
                // Down: the best bid level becomes the best ask.
                let moved = book.bestBid
                record(LevelChange(index: moved, isBid: true))
                book.bestBid = moved - 1
                record(LevelChange(index: moved, isBid: false))
                if book.quantities[moved - 1] == 0 { book.quantities[moved - 1] = SyntheticBook.randomQuantity(&random) }
                record(LevelChange(index: moved - 1, isBid: true))
            }
        }
        for _ in 0..<(1 + random.below(6)) {
            let isBid = random.below(2) == 0
            let distance = random.below(SyntheticBook.activeDepth)
            let index = isBid ? book.bestBid - distance : book.bestBid + 1 + distance
            let delete = distance > 0 && random.below(5) == 0
            book.quantities[index] = delete ? 0 : SyntheticBook.randomQuantity(&random)
            record(LevelChange(index: index, isBid: isBid))
        }
    }

    /// Keeps one change per (side, level): the diff carries each level's final size.
    private func record(_ change: LevelChange) {
        for existing in changes where existing.index == change.index && existing.isBid == change.isBid { return }
        changes.append(change)
    }

    private func writeLevels(_ book: SyntheticBook, bids: Bool, _ out: inout ByteWriter) {
        var first = true
        for change in changes where change.isBid == bids {
            // A level on the other side of the top now is gone from this side.
            let onThisSide = bids ? change.index <= book.bestBid : change.index > book.bestBid
            out.append(first ? "[\"" : ",[\"")
            first = false
            out.append(decimalE8: book.priceE8(change.index))
            out.append("\",\"")
            out.append(decimalE8: onThisSide ? book.quantities[change.index] : 0)
            out.append("\"]")
        }
    }

    func depthSnapshot(symbol: String, limit: Int) -> [UInt8]? {
        guard let s = symbolIndex[symbol] else { return nil }
        booksLock.lock()
        let book = symbols[s]
        booksLock.unlock()
        var bids: [(String, String)] = []
        var asks: [(String, String)] = []
        var i = book.bestBid
        while i >= 0 && bids.count < limit {
            if book.quantities[i] > 0 { bids.append((Self.decimal(book.priceE8(i)), Self.decimal(book.quantities[i]))) }
            i -= 1
        }
        i = book.bestBid + 1
        while i < SyntheticBook.ladderSize && asks.count < limit {
            if book.quantities[i] > 0 { asks.append((Self.decimal(book.priceE8(i)), Self.decimal(book.quantities[i]))) }
            i += 1
        }
        let now = wallMs()
        return snapshotJSON(lastUpdateId: book.lastUpdateId, times: futures ? (now, now - 1) : nil, bids: bids, asks: asks)
    }

    private static func decimal(_ valueE8: Int64) -> String {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        defer { buffer.deallocate() }
        var writer = ByteWriter(base: buffer, capacity: 32)
        writer.append(decimalE8: valueE8)
        return String(decoding: UnsafeBufferPointer(start: buffer, count: writer.count), as: UTF8.self)
    }
}
