import Foundation
import Testing
import TicklineConfig
import TicklineCore
import TicklineFeed
import TicklineRisk

@Suite struct ExchangeInfoTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/exchange-info/binance-spot.json")

    static func limits(_ step: Int64, _ venueMax: Int64, _ qd: UInt8) -> (maxOrder: Int64, positionLimit: Int64) { (step * 7, step * 9) }

    @Test func readsTheShippedBTCUSDTSpec() throws {
        let specs = try ExchangeInfo.specs(try Data(contentsOf: Self.shipped), source: "shipped", ourLimits: Self.limits)
        let btc = try #require(specs["BTCUSDT"])
        // tickSize 0.01 → 2 price decimals, the tick one unit; baseAssetPrecision 8, step 0.00001.
        #expect(btc.priceDecimals == 2 && btc.tickSizeUnits == 1)
        #expect(btc.quantityDecimals == 8 && btc.stepSizeUnits == 1_000 && btc.venueMinQuantityUnits == 1_000)
        #expect(btc.venueMaxQuantityUnits == 9_000 * 100_000_000 && btc.venueMinNotionalMoney == MoneyScale.money(5))
        #expect(btc.maxOrderQuantityUnits == 7_000 && btc.positionLimitUnits == 9_000)
    }

    @Test func eachBinanceMarketNamesWhereItsInstrumentMasterIsAndReadsIt() throws {
        #expect(BinanceMarket.spot.instrumentMasterPath == "/api/v3/exchangeInfo")
        #expect(BinanceMarket.usdmFutures.instrumentMasterPath == "/fapi/v1/exchangeInfo")
        let data = try Data(contentsOf: Self.shipped)
        for market in BinanceMarket.allCases {
            let master: any InstrumentMaster = market
            let specs = try master.instrumentSpecs(data, source: "shipped", ourLimits: Self.limits)
            #expect(specs["BTCUSDT"]?.tickSizeUnits == 1 && specs["BTCUSDT"]?.maxOrderQuantityUnits == 7_000)
        }
        #expect(throws: ExchangeInfo.ReadError.self) {
            try BinanceMarket.spot.instrumentSpecs(Data("[]".utf8), source: "bad", ourLimits: Self.limits)
        }
    }

    @Test func namesWhatIsWrongWithABody() {
        func error(_ json: String) -> String {
            do {
                _ = try ExchangeInfo.specs(Data(json.utf8), source: "x.json", ourLimits: Self.limits)
                return ""
            } catch { return error.description }
        }
        #expect(error("[]").contains("not an exchangeInfo body"))
        #expect(error(#"{"symbols":[{"filters":[]}]}"#).contains("without \"symbol\""))
        #expect(error(#"{"symbols":[{"symbol":"X","filters":[]}]}"#) == "x.json: X: no PRICE_FILTER tickSize")
        let tick = #"{"filterType":"PRICE_FILTER","tickSize":"%@"}"#
        let lot = #"{"filterType":"LOT_SIZE","stepSize":"0.001","minQty":"-1"}"#
        func body(tick t: String, lot l: String = lot) -> String {
            #"{"symbols":[{"symbol":"X","filters":["# + tick.replacingOccurrences(of: "%@", with: t) + "," + l + "]}]}"
        }
        #expect(error(body(tick: "0.01", lot: #"{"filterType":"NOTIONAL"}"#)) == "x.json: X: no LOT_SIZE stepSize")
        #expect(error(body(tick: "0.0000000000000000000001")).contains("tickSize"))
        #expect(error(body(tick: "abc")).contains("tickSize 'abc'"))
        #expect(error(body(tick: "0")).contains("must be positive"))
        #expect(error(body(tick: "0.01")).contains("'-1' is not a non-negative decimal"))
    }
}
