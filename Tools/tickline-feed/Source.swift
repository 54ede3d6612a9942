import Foundation

/// One message ready to fan out. `bytes` is the combined-stream form
/// (`{"stream":…,"data":…}`); the raw form is the `data` slice of it. Valid until the
/// source's next `next()`.
struct OutgoingMessage {
    var streamId: Int
    var bytes: UnsafePointer<UInt8>
    var count: Int
    var dataOffset: Int
    var dataCount: Int
    var isDepth: Bool
}

/// Where the server's messages come from: a recording or the synthetic generator. Each
/// source keeps its own order books, applying every depth diff as it hands it out, so a
/// snapshot is consistent with the diffs already sent.
protocol MessageSource: AnyObject, Sendable {
    /// Stream names by id (`btcusdt@trade`, …): the names clients may subscribe to.
    var streamNames: [String] { get }
    /// The next message, or nil at the end of a recording without `--loop`.
    /// Producer thread only.
    func next() -> OutgoingMessage?
    /// `GET /api/v3/depth` (or `/fapi/v1/depth`) body for `symbol` (upper case), or nil for an unknown symbol.
    /// Any thread.
    func depthSnapshot(symbol: String, limit: Int) -> [UInt8]?
}

/// Writes `{"lastUpdateId":N,"bids":[["p","q"],…],"asks":[…]}`; with `times` (event and
/// transaction time, ms) also `"E"` and `"T"`, as futures snapshots carry them.
func snapshotJSON(lastUpdateId: UInt64, times: (event: UInt64, transaction: UInt64)? = nil,
                  bids: [(String, String)], asks: [(String, String)]) -> [UInt8] {
    var text = "{\"lastUpdateId\":\(lastUpdateId),"
    if let times { text += "\"E\":\(times.event),\"T\":\(times.transaction)," }
    text += "\"bids\":["
    text.reserveCapacity(64 + 40 * (bids.count + asks.count))
    for (k, level) in bids.enumerated() { text += (k == 0 ? "" : ",") + "[\"\(level.0)\",\"\(level.1)\"]" }
    text += "],\"asks\":["
    for (k, level) in asks.enumerated() { text += (k == 0 ? "" : ",") + "[\"\(level.0)\",\"\(level.1)\"]" }
    text += "]}"
    return Array(text.utf8)
}

/// Binance accepts 1…5000 and defaults to 100.
func clampDepthLimit(_ limit: Int?) -> Int { min(max(limit ?? 100, 1), 5000) }
