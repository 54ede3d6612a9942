import Testing
import TicklineConfig
import TicklineCore
import TicklineFeed
import TicklineRisk

@Suite struct RiskAndControlConfigTests {
    private func parse(_ text: String) throws(ConfigError) -> EngineConfig {
        try EngineConfig.parse(text, file: "engine.yaml", onlineCpus: 2)
    }

    private func error(_ text: String) -> ConfigError? {
        do { _ = try parse(text); return nil } catch { return error }
    }

    @Test func readsLimitsInPeoplesUnitsInstrumentsTheVenueAndTheControlPlane() throws {
        let c = try parse("""
            risk:
              limits: { starting_capital: 100000, price_collar_pct: 1.5, max_order_notional: 2500, daily_loss_pct: 2, monthly_loss_pct: 7.5, min_reward_risk: 2 }
              strategies: 4
              instruments:
                - { symbol: BTCUSDT, price_decimals: 2, quantity_decimals: 5, tick: "0.01", step: "0.00001",
                    min_qty: "0.00010", min_notional: "5", max_order_qty: "0.5", position_limit: "1.25" }
              journal: /tmp/{instance}.journal
              on_journal_error: retry
              entry_time_in_force: gtc
              session_end_utc: "21:30"
            venue: { latency_us: 250, jitter_us: 50, taker_fee_pct: 0.075, beyond_depth: worst_level }
            control: { listen: "127.0.0.1:0", token: "0123456789abcdef0123" }
            """)
        #expect(c.risk.limits.startingCapitalMoney == MoneyScale.money(100_000))
        #expect(c.risk.limits.priceCollarBasisPoints == 150)
        #expect(c.risk.limits.maxOrderNotionalMoney == MoneyScale.money(2_500))
        #expect(c.risk.limits.dailyLossPartsPerMillion == 20_000)
        #expect(c.risk.limits.monthlyLossPartsPerMillion == 75_000 && RiskLimits().monthlyLossPartsPerMillion == 80_000)
        #expect(c.risk.limits.minRewardRiskMilli == 2_000)
        #expect(c.risk.limits.maxOpenSwingPositions == 4)  // untouched default
        #expect(c.risk.strategies == 4)
        let btc = try #require(c.risk.instruments.first)
        #expect(btc.symbol == "BTCUSDT" && btc.spec.tickSizeUnits == 1 && btc.spec.stepSizeUnits == 1)
        #expect(btc.spec.venueMinQuantityUnits == 10 && btc.spec.maxOrderQuantityUnits == 50_000 && btc.spec.positionLimitUnits == 125_000)
        #expect(btc.spec.venueMinNotionalMoney == MoneyScale.money(5))
        #expect(c.risk.entryTimeInForce == .goodTillCancel)
        #expect(c.risk.onJournalError == .retry)
        #expect(RiskConfig().onJournalError == .halt)  // the default
        #expect(c.risk.exits.sessionEndUtcNs == Nanos(21 * 3_600 + 30 * 60) * 1_000_000_000)
        #expect(c.venues[0].paper.latencyFixedNs == 250_000 && c.venues[0].paper.latencyJitterNs == 50_000)
        #expect(c.venues[0].paper.takerFeePartsPerMillion == 750)
        // The old single `venue:` map is still read, as the venue `paper`, with a notice.
        #expect(c.venues.map(\.name) == ["paper"] && btc.spec.venue == 0 && btc.spec.feePartsPerMillion == 1_000)
        #expect(c.notices.count == 1 && c.notices[0].hasPrefix("engine.yaml:") && c.notices[0].contains("venues: [{ name: paper"))
        #expect(c.control.hostAndPort.port == 0 && c.control.token == "0123456789abcdef0123")
        // The same keys describe the limits back (GET /api/limits).
        #expect(RiskLimitCode.describe(c.risk.limits)["price_collar_pct"] == 1.5)
    }

    @Test func namesAnUnknownJournalErrorPolicy() throws {
        let e = try #require(error("""
            risk:
              on_journal_error: ignore
            """))
        #expect(e.line == 2 && e.message.contains("'ignore' is not one of: halt, retry"), "\(e)")
    }

    @Test func namesAMissingInstrumentKeyAWrongTypeAndAnUnknownLimit() throws {
        let missing = try #require(error("""
            risk:
              instruments:
                - { symbol: ETHUSDT, price_decimals: 2, quantity_decimals: 4, max_order_qty: "10" }
            """))
        #expect(missing.line == 3 && missing.message.contains("ETHUSDT needs position_limit"))
        let wrong = try #require(error("""
            risk:
              limits:
                max_order_notional: lots
            """))
        #expect(wrong.key == "risk.limits.max_order_notional" && wrong.line == 3)
        let unknown = try #require(error("""
            risk:
              limits: { max_order_notionall: 5 }
            """))
        #expect(unknown.key == "risk.limits.max_order_notionall")
        #expect(unknown.message.contains("max_order_notional"))  // the allowed keys are listed
        let negative = try #require(error("""
            risk:
              limits: { monthly_loss_pct: -1 }
            """))
        #expect(negative.key == "risk.limits.monthly_loss_pct" && negative.line == 2, "\(negative)")
        let tooPrecise = try #require(error("""
            risk:
              instruments:
                - { symbol: X, price_decimals: 2, quantity_decimals: 2, tick: "0.001", max_order_qty: "1", position_limit: "1" }
            """))
        #expect(tooPrecise.message.contains("at most 2 decimals"))
        let badListen = try #require(error("control: { listen: localhost }"))
        #expect(badListen.key == "control.listen" && badListen.message.contains("HOST:PORT"))
        let shortToken = try #require(error("control: { token: abc }"))
        #expect(shortToken.message.contains("at least 16"))
    }

    /// A feed names its Binance market (spot by default); an unknown one is refused by name.
    @Test func aFeedNamesItsMarket() throws {
        let c = try parse("""
            feeds:
              - { name: spot, symbols: [BTCUSDT] }
              - { name: perp, market: usdm_futures, symbols: [BTCUSDT], stream_address: "127.0.0.1:9444" }
            """)
        #expect(c.feeds.map(\.market.rawValue) == ["spot", "usdm_futures"])
        let bad = error("feeds:\n  - { name: x, market: coinm }")
        #expect(bad.map { "\($0)".contains("'coinm' is not one of: spot, usdm_futures") } == true, "\(String(describing: bad))")
    }

    @Test func aStreamURLSetsTheAddressThePathAndTLS() throws {
        let c = try parse("""
            feeds:
              - { name: secure, symbols: [BTCUSDT], stream_url: "wss://127.0.0.1:9443/stream", tls: { ca_file: /etc/ca.pem } }
              - { name: named, symbols: [BTCUSDT], stream_url: "wss://10.0.0.7/ws", tls: { server_name: stream.binance.com } }
              - { name: plain, symbols: [BTCUSDT], stream_url: "ws://localhost:9000" }
            """)
        #expect(c.feeds.map(\.streamAddress) == ["127.0.0.1:9443", "10.0.0.7:443", "127.0.0.1:9000"])
        #expect(c.feeds.map(\.streamPath) == ["/stream", "/ws", "/"])
        #expect(c.feeds.map(\.tls) == [FeedTLS(caFile: "/etc/ca.pem"), FeedTLS(serverName: "stream.binance.com"), nil])
        for (yaml, message) in [
            (#"stream_url: "wss://stream.binance.com:9443/stream""#, "the host 'stream.binance.com' is a name"),
            (#"stream_url: "https://127.0.0.1/""#, "expected wss://HOST:PORT/PATH"),
            (#"stream_url: "wss://127.0.0.1:0/""#, "the port must be a number in 1…65535"),
            (#"stream_url: "wss://127.0.0.1/", stream_address: "127.0.0.1:1""#, "give stream_url, or stream_address and stream_path, not both"),
            (#"stream_url: "ws://127.0.0.1/", tls: {}"#, "tls is set but stream_url ws://127.0.0.1/ is plain ws://"),
            (#"tls: { ca_fil: x }"#, "ca_fil"),
        ] {
            let bad = error("feeds:\n  - { name: x, symbols: [BTCUSDT], \(yaml) }")
            #expect(bad.map { "\($0)".contains(message) } == true, "\(yaml): \(String(describing: bad))")
        }
    }
}
