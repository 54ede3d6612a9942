import Foundation
import TicklineCore
import TicklineFeed
import TicklineMarketData

/// A minimal reader of the recorded Binance BTCUSDT capture (`<recv ns> <json>` lines,
/// gzip): the REST depth snapshot as a `DepthSnapshot` (prices at 2 decimals, quantities at
/// 8) and the trades after it. Test-only (Foundation, JSONSerialization); the real decoder
/// lives in TicklineMarketData.
enum RecordedBook {
    static let folder = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/data/binance_spot_btcusdt")

    static var firstFile: URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".gz") }.sorted().first.map { folder.appendingPathComponent($0) }
    }

    static var isAvailable: Bool { firstFile != nil }

    struct Failure: Error, CustomStringConvertible { let description: String }

    struct Trade {
        var price: Int64
        var quantity: Int64
        var aggressorSold: Bool
        var receiveNs: Int64
    }

    /// The first `lines` lines of the first file.
    static func lines(_ count: Int) throws -> [Substring] {
        guard let file = firstFile else { throw Failure(description: "no recorded data") }
        let bytes = try RecordingFile.load(file.path)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").prefix(count).map { $0 }
    }

    static func json(_ line: Substring) throws -> (Int64, [String: Any]) {
        let bytes = Array(line.utf8)
        guard case .message(let receive, let payload) = RecordingLine.parse(bytes[...]),
              let root = try JSONSerialization.jsonObject(with: Data(bytes[payload])) as? [String: Any]
        else { throw Failure(description: "bad line \(line.prefix(120))") }
        return (receive, root)
    }

    /// The REST snapshot (the first line with `lastUpdateId`) as the top 10 levels, and the
    /// trades of the `following` lines after it.
    static func snapshotAndTrades(following: Int = 3_000) throws -> (DepthSnapshot, [Trade]) {
        let all = try lines(following)
        guard let at = all.firstIndex(where: { $0.contains("\"lastUpdateId\"") }) else { throw Failure(description: "no snapshot line") }
        let (receive, root) = try json(all[at])
        var book = DepthSnapshot(instrument: 0, priceDecimals: 2, quantityDecimals: 8)
        book.updateId = (root["lastUpdateId"] as? NSNumber)?.uint64Value ?? 0
        book.receiveWallNs = WallNanos(receive)
        func levels(_ key: String) throws -> [BookLevel] {
            guard let rows = root[key] as? [[String]] else { throw Failure(description: "no \(key)") }
            return try rows.prefix(DepthSnapshot.depth).map { row in
                guard let p = DecimalScale.parse(row[0], decimals: 2), let q = DecimalScale.parse(row[1], decimals: 8) else {
                    throw Failure(description: "bad level \(row)")
                }
                return BookLevel(price: Price(units: p), quantity: Quantity(units: q))
            }
        }
        let bids = try levels("bids"), asks = try levels("asks")
        for (n, l) in bids.enumerated() { book.bids[n] = l }
        for (n, l) in asks.enumerated() { book.asks[n] = l }
        book.bidLevels = UInt8(bids.count)
        book.askLevels = UInt8(asks.count)
        var trades: [Trade] = []
        for line in all[(at + 1)...] where line.contains("@trade") {
            let (r, root) = try json(line)
            guard let d = root["data"] as? [String: Any], let p = d["p"] as? String, let q = d["q"] as? String,
                  let price = DecimalScale.parse(p, decimals: 2), let quantity = DecimalScale.parse(q, decimals: 8)
            else { throw Failure(description: "bad trade \(line.prefix(120))") }
            trades.append(Trade(price: price, quantity: quantity, aggressorSold: (d["m"] as? Bool) == true, receiveNs: r))
        }
        return (book, trades)
    }
}
