import Foundation
import Testing
import TicklineConfig
import TicklineCore
import TicklineStrategy

@Suite struct StrategyConfigTests {
    func parse(_ strategies: String) throws(ConfigError) -> StrategySettings {
        try EngineConfig.parse("instance: t\nstrategies:\n" + strategies, file: "test.yaml", onlineCpus: 2).strategies.settings
    }

    func failure(_ strategies: String) -> ConfigError? {
        do {
            _ = try parse(strategies)
            return nil
        } catch {
            return error
        }
    }

    @Test func anAbsentSectionGivesTheDefaults() throws {
        let config = try EngineConfig.parse("instance: t\n", file: "test.yaml", onlineCpus: 2)
        #expect(config.strategies.settings == StrategySettings())
        #expect(config.strategies.settings.timeBars == [.seconds1, .minutes1])
    }

    @Test func parsesEveryStrategyTypeWithDefaultsAndOverrides() throws {
        let s = try parse("""
              symbols: 4
              bars: { time: [1s, 1m, 1h], tick_trades: 100, volume_units: 5000 }
              instances:
                - { id: 1, type: sma_crossover, timeframe: 1m }
                - { id: 2, type: ema_adx_trend, timeframe: 1h, symbols: [0, 2], adx_threshold: 30 }
                - { id: 3, type: zscore_reversion, timeframe: tick, period: 50, entry_z: 2.5 }
                - { id: 4, type: rsi_bollinger_reversal, timeframe: volume, sizing: quantity, quantity_units: 100 }
                - id: 5
                  type: vote
                  weights: { rsi: 0.5, macd: 0.5, bollinger: 0, adx: 0, stochastic: 0, atr: 0 }
                  min_confidence: 0.7
                - { id: 6, type: pairs, legs: [0, 1], lookback: 60, hedge_ratio: 1.2, risk_ppm: 2000, horizon: intraday }
            """)
        #expect(s.symbolCount == 4)
        #expect(s.barSlots == [.seconds1, .minutes1, .hours1, .tick, .volume])
        #expect(s.smaCrossover == [SMACrossover(common: StrategyCommon(id: 1, timeframe: .minutes1))])
        #expect(s.smaCrossover[0].fastPeriod == 50 && s.smaCrossover[0].slowPeriod == 200)
        #expect(s.emaADXTrend[0].common.symbols == [0, 2] && s.emaADXTrend[0].adxThreshold == 30)
        #expect(s.zScoreMeanReversion[0].period == 50 && s.zScoreMeanReversion[0].entryZ == 2.5 && s.zScoreMeanReversion[0].exitZ == 0.5)
        #expect(s.rsiBollingerReversal[0].common.sizing == .quantity(units: 100))
        #expect(s.vote[0].weights.rsi == 0.5 && s.vote[0].minConfidence == 0.7 && s.vote[0].minRewardRisk == 1.5)
        #expect(s.pairs[0].legA == 0 && s.pairs[0].legB == 1 && s.pairs[0].hedgeRatio == 1.2)
        #expect(s.pairs[0].common.sizing == .riskFraction(partsPerMillion: 2000) && s.pairs[0].common.horizon == .intraday)
    }

    @Test func refusesAnUnknownKeyNamingItsLine() {
        let error = failure("""
              instances:
                - id: 1
                  type: sma_crossover
                  fastt: 10
            """)
        #expect(error?.key == "strategies.instances[0].fastt")
        #expect(error?.line == 6)
        #expect(error?.file == "test.yaml")
        #expect(error?.message.contains("unknown key") == true)
        #expect(failure("  colour: blue\n")?.key == "strategies.colour")
    }

    @Test func refusesInconsistentParameters() {
        #expect(failure("  instances: [{ id: 1, type: sma_crossover, fast: 200, slow: 50 }]\n")?.message.contains("fast (200) must be below slow (50)") == true)
        #expect(failure("  instances: [{ id: 1, type: zscore_reversion, entry_z: 3, stop_z: 2 }]\n")?.message.contains("exit_z < entry_z < stop_z") == true)
        #expect(failure("  instances: [{ id: 1, type: pairs, legs: [3] }]\n")?.message.contains("exactly two legs") == true)
        #expect(failure("  instances: [{ id: 1, type: pairs, legs: [2, 2] }]\n")?.message.contains("must differ") == true)
        #expect(failure("  instances: [{ id: 1, type: rsi_bollinger_reversal, sizing: quantity }]\n")?.key == "strategies.instances[0].quantity_units")
        #expect(failure("  instances: [{ id: 1, type: vote, weights: { rsi: 0, macd: 0, bollinger: 0, adx: 0, stochastic: 0, atr: 0 } }]\n")?
            .message.contains("must not all be 0") == true)
        #expect(failure("  instances: [{ id: 1, type: martingale }]\n")?.key == "strategies.instances[0].type")
    }

    @Test func refusesTimeframesNotBuiltDuplicateIdsAndSymbolsOutOfRange() {
        #expect(failure("  instances: [{ id: 1, type: vote, timeframe: 5m }]\n")?.message.contains("5m bars, which are not built") == true)
        #expect(failure("  instances: [{ id: 1, type: vote }, { id: 1, type: sma_crossover }]\n")?.message.contains("id 1 is used twice") == true)
        #expect(failure("  symbols: 2\n  instances: [{ id: 1, type: vote, symbols: [5] }]\n")?.message.contains("symbol 5, outside 0..<2") == true)
        #expect(failure("  bars: { time: [1s, 1s] }\n")?.message.contains("listed twice") == true)
        #expect(failure("  bars: { time: [2m] }\n")?.key == "strategies.bars.time[0]")
        #expect(failure("  bars: { time: [] }\n")?.message.contains("no bars are built") == true)
    }

    @Test func readsEachStrategysExitsInTicksPercentOrATRAndAMaxHold() throws {
        let s = try parse("""
              instances:
                - { id: 1, type: sma_crossover, exits: { trailing: { ticks: 20 } } }
                - { id: 2, type: vote, exits: { trailing: { percent: 0.5 }, max_hold_ms: 90000 } }
                - { id: 3, type: pairs, legs: [0, 1], exits: { trailing: { atr: 2 } } }
                - { id: 4, type: zscore_reversion, exits: { max_hold_ms: 1500 } }
                - { id: 5, type: rsi_bollinger_reversal }
            """)
        #expect(s.smaCrossover[0].common.exits == StrategyExits(trailing: .ticks(20)))
        #expect(s.vote[0].common.exits == StrategyExits(trailing: .percent(0.5), maxHoldNs: 90_000_000_000))
        #expect(s.pairs[0].common.exits == StrategyExits(trailing: .atr(2)))
        #expect(s.zScoreMeanReversion[0].common.exits == StrategyExits(maxHoldNs: 1_500_000_000))
        #expect(s.rsiBollingerReversal[0].common.exits == StrategyExits())
    }

    @Test func refusesBadExitsNamingTheKey() {
        let two = failure("  instances: [{ id: 1, type: vote, exits: { trailing: { ticks: 20, percent: 1 } } }]\n")
        #expect(two?.key == "strategies.instances[0].exits.trailing")
        #expect(two?.message.contains("give one trailing distance, not ticks and percent") == true)
        let none = failure("  instances: [{ id: 1, type: vote, exits: { trailing: {} } }]\n")
        #expect(none?.key == "strategies.instances[0].exits.trailing" && none?.message.contains("name one of ticks, percent, atr") == true)
        let negative = failure("  instances: [{ id: 1, type: vote, exits: { trailing: { percent: -0.5 } } }]\n")
        #expect(negative?.key == "strategies.instances[0].exits.trailing.percent")
        #expect(negative?.message.contains("must be greater than 0") == true)
        #expect(failure("  instances: [{ id: 1, type: vote, exits: { trailing: { ticks: -3 } } }]\n")?.key
                    == "strategies.instances[0].exits.trailing.ticks")
        #expect(failure("  instances: [{ id: 1, type: vote, exits: { trailing: { ticks: 2.5 } } }]\n")?.message.contains("expected an integer") == true)
        #expect(failure("  instances: [{ id: 1, type: vote, exits: { trailing: { atr: 0 } } }]\n")?.key == "strategies.instances[0].exits.trailing.atr")
        let hold = failure("  instances: [{ id: 1, type: vote, exits: { max_hold_ms: -1 } }]\n")
        #expect(hold?.key == "strategies.instances[0].exits.max_hold_ms" && hold?.message.contains("out of range") == true)
        let unknown = failure("  instances: [{ id: 1, type: vote, exits: { max_hold: 30 } }]\n")
        #expect(unknown?.key == "strategies.instances[0].exits.max_hold" && unknown?.message.contains("unknown key") == true)
        let unknownKind = failure("  instances: [{ id: 1, type: vote, exits: { trailing: { pips: 3 } } }]\n")
        #expect(unknownKind?.key == "strategies.instances[0].exits.trailing.pips" && unknownKind?.message.contains("unknown key") == true)
    }

    @Test func refusesAPendingBufferTooSmallForOneEvent() {
        let error = failure("""
              pending_signals: 2
              instances: [{ id: 1, type: vote }, { id: 2, type: sma_crossover }]
            """)
        #expect(error?.message.contains("pending_signals 2 is below the 4") == true)
    }

    @Test func theExampleConfigsParse() throws {
        for name in ["laptop.yaml", "server.yaml"] {
            let repoPath = Repository.root + "/Config/" + name
            let config = try EngineConfig.load(path: repoPath, onlineCpus: 8)
            #expect(!config.strategies.settings.allCommons.isEmpty, "\(name) documents strategies")
        }
    }
}

enum Repository {
    /// <repo> (this file is <repo>/Tests/TicklineStrategyTests/StrategyConfigTests.swift).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
}
