import Testing
import TicklineConfig
import TicklineCore
import TicklineExecution
import TicklineRisk

@Suite struct VenuesConfigTests {
    private func parse(_ text: String) throws(ConfigError) -> EngineConfig {
        try EngineConfig.parse(text, file: "engine.yaml", onlineCpus: 2)
    }

    private func message(_ text: String) -> String? {
        do { _ = try parse(text); return nil } catch { return error.description }
    }

    static let twoVenues = """
        venues:
          - { name: binance-spot, kind: paper, taker_fee_pct: 0.1 }
          - { name: binance-usdm, kind: paper, maker_fee_pct: 0.02, taker_fee_pct: 0.05, latency_us: 300 }
        feeds:
          - { name: spot, symbols: [BTCUSDT], venue: binance-spot }
          - { name: futures, market: usdm_futures, symbols: [BTCUSDT, ETHUSDT], venue: binance-usdm }
        risk:
          instruments:
            - { symbol: BTCUSDT, price_decimals: 2, quantity_decimals: 5, max_order_qty: "1", position_limit: "2" }
            - { symbol: BTCUSDT, venue: binance-usdm, price_decimals: 1, quantity_decimals: 3, max_order_qty: "1", position_limit: "2" }
            - { symbol: ETHUSDT, venue: binance-usdm, price_decimals: 2, quantity_decimals: 3, max_order_qty: "1", position_limit: "2" }
        """

    @Test func instrumentsAndFeedsNameTheirVenueAndTakeItsFees() throws {
        let c = try parse(Self.twoVenues)
        #expect(c.notices.isEmpty)
        #expect(c.venues.map(\.name) == ["binance-spot", "binance-usdm"])
        #expect(c.venues.map(\.paper.venueId) == [0, 1])
        #expect(c.venues[1].paper.latencyFixedNs == 300_000 && c.venues[1].paper.makerFeePartsPerMillion == 200)
        #expect(c.feeds.map(\.venue) == [0, 1])
        // BTCUSDT is listed once per venue; an instrument without `venue:` is on the first.
        #expect(c.risk.instruments.map(\.symbol) == ["BTCUSDT", "BTCUSDT", "ETHUSDT"])
        #expect(c.risk.instruments.map(\.spec.venue) == [0, 1, 1])
        // Each instrument's fee is its venue's higher one.
        #expect(c.risk.instruments.map(\.spec.feePartsPerMillion) == [1_000, 500, 500])
    }

    @Test func aConfigWithoutVenuesHasOnePaperVenue() throws {
        let c = try parse("instance: x\n")
        let venues = c.venues
        #expect(venues.count == 1)
        #expect(venues.first?.name == "paper")
        #expect(venues.first?.paper == PaperVenueConfig())
        #expect(c.notices.isEmpty)
    }

    @Test func namesWhatIsWrongWithVenues() {
        let unknown = message(Self.twoVenues.replacingOccurrences(of: "venue: binance-spot }", with: "venue: binance-coinm }"))
        #expect(unknown?.contains("feed 'spot' names venue 'binance-coinm', which venues does not list (listed: binance-spot, binance-usdm)") == true)
        let unknownOfInstrument = message(Self.twoVenues.replacingOccurrences(of: "venue: binance-usdm, price_decimals: 1", with: "venue: kite, price_decimals: 1"))
        #expect(unknownOfInstrument?.contains("instrument BTCUSDT names venue 'kite'") == true)
        let twice = message(Self.twoVenues.replacingOccurrences(of: "venue: binance-usdm, price_decimals: 2", with: "venue: binance-usdm, price_decimals: 1"
            ).replacingOccurrences(of: "symbol: ETHUSDT", with: "symbol: BTCUSDT"))
        #expect(twice?.contains("instrument BTCUSDT is listed twice on venue binance-usdm") == true)
        let sameName = message("venues: [{ name: a }, { name: a }]\n")
        #expect(sameName?.contains("venue a is listed twice") == true)
        #expect(message("venues: []\n")?.contains("venues is empty") == true)
        #expect(message("venues: [{ name: 'has space' }]\n")?.contains("must be 1-32 characters") == true)
        #expect(message("venues: [{ kind: paper }]\n")?.contains("a venue needs a name") == true)
        #expect(message("venues: [{ name: a, kind: broker }]\n") != nil)
        let both = message("venues: [{ name: a }]\nvenue: { latency_us: 5 }\n")
        #expect(both?.contains("'venue:' (the old single map) and 'venues:' are both set") == true)
    }
}
