#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineEngine
import TicklineTestSupport

extension RunCommandTests {
    /// One `tickline run` with two feeds on two venues: a spot `tickline-feed` and a futures
    /// one (diffs with `pu`, REST depth at /fapi/v1/depth), each serving the same two
    /// symbols, listed once per venue (four instruments). The engine trades instruments of
    /// both, and every fill the journal holds names the venue of its instrument.
    @Test func oneRunTradesTwoFeedsOnTwoVenuesAndEachFillNamesItsVenue() throws {
        let instance = "twovenue-\(getpid())"
        let dir = try Self.freshFolder(instance)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (spot, spotAddress) = Self.startFeed(rate: 1_000, seed: 7)
        defer { spot.stop() }
        let (futures, futuresAddress) = Self.startFeed(rate: 1_000, seed: 8, futures: true)
        defer { futures.stop() }
        let port = freeLoopbackPort()
        let lineFile = "\(dir)/journal.lp"
        func instruments(_ venue: String) -> String {
            ["SYM0000USDT", "SYM0001USDT"].map {
                """
                    - { symbol: \($0), venue: \(venue), price_decimals: 2, quantity_decimals: 8, tick: "0.01", step: "0.00001",
                        min_qty: "0.00001", min_notional: "1", max_order_qty: "10", position_limit: "50" }
                """
            }.joined(separator: "\n")
        }
        let config = """
            instance: \(instance)
            strategies:
              symbols: 4
              bars: { time: [1s], tick_trades: 5 }
              instances:
                - \(Self.zscore)
            venues:
              - { name: spot, kind: paper, maker_fee_pct: 0, taker_fee_pct: 0 }
              - { name: usdm, kind: paper, maker_fee_pct: 0, taker_fee_pct: 0, latency_us: 300 }
            feeds:
              - { name: spot, venue: spot, stream_address: "\(spotAddress)", rest_base: "http://\(spotAddress)",
                  symbols: [SYM0000USDT, SYM0001USDT] }
              - { name: futures, venue: usdm, market: usdm_futures, stream_address: "\(futuresAddress)",
                  rest_base: "http://\(futuresAddress)", symbols: [SYM0000USDT, SYM0001USDT] }
            risk:
              limits: { submit_burst: 1000, submit_per_second: 1000, max_open_intraday_positions: 10, max_open_swing_positions: 10 }
              instruments:
            \(instruments("spot"))
            \(instruments("usdm"))
              journal: \(dir)/risk.journal
            control:
              listen: 127.0.0.1:\(port)
              token: \(Self.token)
            writer:
              influx: { url: "file://\(lineFile)" }
              redis: { enabled: false }
              spill_dir: \(dir)
            """
        try config.write(toFile: "\(dir)/engine.yaml", atomically: true, encoding: .utf8)
        let engine = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path, arguments: ["run", "--config", "\(dir)/engine.yaml"])
        #expect(engine.start())
        defer { engine.stop(seconds: 30) }

        // Fills of instruments 0-1 come from venue 0 (spot), of 2-3 from venue 1 (usdm).
        func fillVenues() -> [(instrument: Int, venue: Int)] {
            let text = (try? String(contentsOfFile: lineFile, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.hasPrefix("fills,") }.compactMap { line in
                let tags = line.prefix { $0 != " " }.split(separator: ",").dropFirst()
                func tag(_ key: String) -> Int? { tags.first { $0.hasPrefix(key + "=") }.flatMap { Int($0.dropFirst(key.count + 1)) } }
                guard let i = tag("instrument"), let v = tag("venue") else { return nil }
                return (i, v)
            }
        }
        var fills: [(instrument: Int, venue: Int)] = []
        let both = waitUntil(90) {
            fills = fillVenues()
            return fills.contains { $0.venue == 0 } && fills.contains { $0.venue == 1 }
        }
        #expect(both, "fills on both venues within 90 s: \(fills.count) fills, venues \(Set(fills.map(\.venue))); engine log:\n\(engine.errors)")
        #expect(engine.stop(seconds: 40) == 0, "engine log:\n\(engine.errors)")
        fills = fillVenues()
        let lines = ((try? String(contentsOfFile: lineFile, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("fills,") }
        #expect(fills.count == lines.count && !fills.isEmpty, "every fill line names its instrument and venue")
        #expect(fills.allSatisfy { $0.venue == ($0.instrument < 2 ? 0 : 1) }, "\(fills)")
        // Both feeds synced their books: the futures one under the futures rules it detected.
        #expect(!engine.errors.contains("feeds:"), "\(engine.errors)")
        // The log names each instrument by symbol and venue where a symbol is on both.
        #expect(engine.errors.contains("running: 4 instruments, feeds spot, futures"), "\(engine.errors)")
    }
}
