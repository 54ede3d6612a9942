/// Binance-shaped messages for `tickline demo` without recorded data: per symbol a random
/// walk of the mid with a one-tick spread, trades (`@trade`) around it and one-level book
/// snapshots (a partial-depth stream's body, so that the paper venue has a book to fill
/// against), in the combined-stream wrapper, deterministic for a seed. Prices have 2
/// decimals, quantities 8 (as Binance sends them). Cold path (a demo): allocates per message.
public struct SyntheticFeed: Sendable {
    public let symbols: [String]
    var mids: [Int64]  // price units (cents)
    var state: UInt64
    var tradeId: UInt64 = 1
    var updateId: UInt64 = 1

    public init(symbols count: Int, seed: UInt64 = 42) {
        symbols = (0..<count).map { "SYM\($0)USDT" }
        mids = (0..<count).map { Int64(10_000 * (($0 % 7) + 1) * 100) }  // 10,000.00, 20,000.00, ...
        state = seed | 1
    }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// The next message, with its venue time in ms.
    public mutating func message(venueTimeMs: Int64) -> String {
        let k = Int(next() % UInt64(symbols.count))
        // Trending regimes with noise, so the strategies have something to see.
        let drift: Int64 = (venueTimeMs / 30_000 + Int64(k)) % 3 == 0 ? 2 : ((venueTimeMs / 30_000 + Int64(k)) % 3 == 1 ? -2 : 0)
        let step = Int64(next() % 21) - 10 + drift
        mids[k] = max(100, mids[k] + step * (1 + mids[k] / 1_000_000))
        let symbol = symbols[k]
        let lower = symbol.lowercased()
        let bid = mids[k], ask = mids[k] + 1
        if next() % 3 == 0 {
            let qty = 1_000 + next() % 2_000_000  // 0.00001 ... 0.02 units, 8 decimals
            let sold = next() % 2 == 0
            tradeId += 1
            return #"{"stream":"\#(lower)@trade","data":{"e":"trade","E":\#(venueTimeMs),"s":"\#(symbol)","t":\#(tradeId),"p":"\#(Self.price(sold ? bid : ask))","q":"\#(Self.quantity(qty))","T":\#(venueTimeMs),"m":\#(sold),"M":true}}"#
        }
        updateId += 1
        let bq = 10_000_000 + next() % 500_000_000, aq = 10_000_000 + next() % 500_000_000
        return #"{"stream":"\#(lower)@depth5","data":{"lastUpdateId":\#(updateId),"bids":[["\#(Self.price(bid))","\#(Self.quantity(bq))"]],"asks":[["\#(Self.price(ask))","\#(Self.quantity(aq))"]]}}"#
    }

    static func price(_ units: Int64) -> String {
        let cents = units % 100
        return "\(units / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    static func quantity(_ units: UInt64) -> String {
        let frac = String(units % 100_000_000)
        return "\(units / 100_000_000).\(String(repeating: "0", count: 8 - frac.count))\(frac)"
    }
}
