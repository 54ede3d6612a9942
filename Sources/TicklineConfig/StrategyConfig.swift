import TicklineCore
import TicklineStrategy

/// The `strategies:` section: preallocated symbol count, the bars built per symbol, and the
/// strategy instances with their parameters. Every key is optional except where noted; the
/// defaults are those of `StrategySettings` and of each strategy's initialiser (documented in
/// Config/laptop.yaml). Unknown keys are refused. Cold path.
public struct StrategyConfig: Sendable, Equatable {
    public var settings: StrategySettings

    public init(settings: StrategySettings = StrategySettings()) {
        self.settings = settings
    }

    public static let sectionKeys = ["symbols", "bars", "pending_signals", "pending_bars", "batch_limit", "instances"]
    public static let types = ["sma_crossover", "ema_adx_trend", "zscore_reversion", "rsi_bollinger_reversal", "vote", "pairs"]
    static let commonKeys = ["id", "type", "timeframe", "symbols", "sizing", "risk_ppm", "quantity_units", "horizon", "exits"]
    static let exitKeys = ["trailing", "max_hold_ms"]
    static let trailingKeys = ["ticks", "percent", "atr"]

    /// Parses the section. Errors name the file, line and key.
    public static func parse(_ value: ConfigValue) throws(ConfigError) -> StrategyConfig {
        var m = try value.mapping()
        var s = StrategySettings()
        if let v = m.optional("symbols") { s.symbolCount = try v.int(in: 1...1_000_000) }
        if let v = m.optional("bars") {
            var bars = try v.mapping()
            if let t = bars.optional("time") {
                var kinds: [BarKind] = []
                for item in try t.list() {
                    let kind = try parseKind(item, allowed: BarKind.allKinds.filter(\.isTimeBar))
                    if kinds.contains(kind) { throw item.error("\(kind.configName) is listed twice") }
                    kinds.append(kind)
                }
                s.timeBars = kinds
            }
            if let t = bars.optional("tick_trades") { s.tickBarTrades = try t.int(in: 0...100_000_000) }
            if let t = bars.optional("volume_units") { s.volumeBarUnits = Int64(try t.int(in: 0...Int(Int64.max))) }
            try bars.finish(allowed: ["time", "tick_trades", "volume_units"])
            if s.barSlots.isEmpty { throw v.error("no bars are built: list at least one time bar or set tick_trades/volume_units") }
        }
        if let v = m.optional("pending_signals") { s.pendingSignals = try v.int(in: 1...(1 << 24)) }
        if let v = m.optional("pending_bars") { s.pendingBars = try v.int(in: 1...(1 << 24)) }
        if let v = m.optional("batch_limit") { s.batchLimit = try v.int(in: 1...(1 << 20)) }
        var instancesValue: ConfigValue?
        if let v = m.optional("instances") {
            instancesValue = v
            for item in try v.list() { try parseInstance(item, into: &s) }
        }
        try m.finish(allowed: sectionKeys)
        if let problem = s.problem() { throw (instancesValue ?? value).error(problem) }
        let perEvent = estimateSignalsPerEvent(s)
        if s.pendingSignals < perEvent {
            throw value.error("pending_signals \(s.pendingSignals) is below the \(perEvent) signals one event can produce with these instances")
        }
        if s.pendingBars < s.barSlots.count {
            throw value.error("pending_bars \(s.pendingBars) is below the \(s.barSlots.count) bars one event can close")
        }
        return StrategyConfig(settings: s)
    }

    static func estimateSignalsPerEvent(_ s: StrategySettings) -> Int {
        var legs: [InstrumentId: Int] = [:]
        for p in s.pairs {
            legs[p.legA, default: 0] += 1
            legs[p.legB, default: 0] += 1
        }
        let perBar = s.smaCrossover.count + s.emaADXTrend.count + s.zScoreMeanReversion.count + s.rsiBollingerReversal.count
            + s.vote.count + 2 * (legs.values.max() ?? 0)
        return max(1, s.barSlots.count * perBar)
    }

    static func parseKind(_ value: ConfigValue, allowed: [BarKind]) throws(ConfigError) -> BarKind {
        let name = try value.choice(allowed.map(\.configName))
        return allowed.first { $0.configName == name }!
    }

    /// `exits: { trailing: { ticks: N | percent: P | atr: M }, max_hold_ms: T }`: exactly one
    /// trailing kind, every value positive.
    static func parseExits(_ value: ConfigValue) throws(ConfigError) -> StrategyExits {
        var m = try value.mapping()
        var exits = StrategyExits()
        if let t = m.optional("trailing") {
            var tm = try t.mapping()
            let ticks = tm.optional("ticks"), percent = tm.optional("percent"), atr = tm.optional("atr")
            try tm.finish(allowed: trailingKeys)
            let given = zip(trailingKeys, [ticks, percent, atr]).filter { $0.1 != nil }.map(\.0)
            guard given.count == 1 else {
                throw t.error(given.isEmpty ? "name one of \(trailingKeys.joined(separator: ", "))"
                                            : "give one trailing distance, not \(given.joined(separator: " and "))")
            }
            func positive(_ v: ConfigValue, upTo limit: Double) throws(ConfigError) -> Double {
                let x = try v.double()
                guard x > 0, x <= limit else { throw v.error("\(x) must be greater than 0 and at most \(limit)") }
                return x
            }
            if let ticks {
                exits.trailing = .ticks(Int64(try ticks.int(in: 1...1_000_000_000)))
            } else if let percent {
                exits.trailing = .percent(try positive(percent, upTo: 100))
            } else if let atr {
                exits.trailing = .atr(try positive(atr, upTo: 1_000))
            }
        }
        // Up to a year, in milliseconds like every other duration of the config.
        if let v = m.optional("max_hold_ms") { exits.maxHoldNs = Nanos(try v.int(in: 1...31_536_000_000)) * 1_000_000 }
        try m.finish(allowed: exitKeys)
        return exits
    }

    static func parseInstance(_ item: ConfigValue, into s: inout StrategySettings) throws(ConfigError) {
        var m = try item.mapping()
        let idValue = try m.required("id")
        let id = StrategyId(try idValue.int(in: 1...Int(StrategyId.max)))
        let type = try m.required("type").choice(types)
        var common = StrategyCommon(id: id)
        if let v = m.optional("timeframe") { common.timeframe = try parseKind(v, allowed: BarKind.allKinds) }
        if type != "pairs", let v = m.optional("symbols") {
            if case .scalar = v.node {
                _ = try v.choice(["all"])
            } else {
                var ids: [InstrumentId] = []
                for x in try v.list() { ids.append(InstrumentId(try x.int(in: 0...1_000_000))) }
                guard !ids.isEmpty else { throw v.error("an empty symbol list trades nothing: name symbols or write 'all'") }
                common.symbols = ids
            }
        }
        let sizing = try m.optional("sizing")?.choice(["risk", "quantity"]) ?? "risk"
        let ppm = try m.optional("risk_ppm")?.int(in: 0...1_000_000) ?? 0
        let quantityValue = m.optional("quantity_units")
        let quantity = try quantityValue?.int(in: 1...Int(Int64.max))
        if sizing == "quantity" {
            guard let quantity else { throw item.error("sizing: quantity needs quantity_units").withKey("\(item.path).quantity_units") }
            common.sizing = .quantity(units: Int64(quantity))
        } else {
            if let quantityValue { throw quantityValue.error("quantity_units applies to sizing: quantity only") }
            common.sizing = .riskFraction(partsPerMillion: UInt32(ppm))
        }
        if let v = m.optional("horizon") { common.horizon = try v.choice(["intraday", "swing"]) == "intraday" ? .intraday : .swing }
        if let v = m.optional("exits") { common.exits = try parseExits(v) }

        func positive(_ key: String, _ fallback: Double) throws(ConfigError) -> Double {
            guard let v = m.optional(key) else { return fallback }
            let x = try v.double(in: 0...1e9)
            guard x > 0 else { throw v.error("must be greater than 0") }
            return x
        }
        func period(_ key: String, _ fallback: Int, minimum: Int = 1) throws(ConfigError) -> Int {
            try m.optional(key)?.int(in: minimum...100_000) ?? fallback
        }
        func ordered(_ value: @autoclosure () -> Bool, _ message: String) throws(ConfigError) {
            if !value() { throw item.error(message) }
        }

        var keys = commonKeys
        switch type {
        case "sma_crossover":
            keys += ["fast", "slow", "stop_atr", "reward_risk"]
            let fast = try period("fast", 50)
            let slow = try period("slow", 200, minimum: 2)
            try ordered(fast < slow, "fast (\(fast)) must be below slow (\(slow))")
            s.smaCrossover.append(SMACrossover(common: common, fastPeriod: fast, slowPeriod: slow, stopATR: try positive("stop_atr", 2),
                                               rewardRisk: try positive("reward_risk", 2)))
        case "ema_adx_trend":
            keys += ["fast", "slow", "adx_period", "adx_threshold", "stop_atr", "reward_risk"]
            let fast = try period("fast", 20)
            let slow = try period("slow", 50, minimum: 2)
            try ordered(fast < slow, "fast (\(fast)) must be below slow (\(slow))")
            let threshold = try m.optional("adx_threshold")?.double(in: 0...100) ?? 25
            s.emaADXTrend.append(EMAADXTrend(common: common, fastPeriod: fast, slowPeriod: slow, adxPeriod: try period("adx_period", 14),
                                             adxThreshold: threshold, stopATR: try positive("stop_atr", 2),
                                             rewardRisk: try positive("reward_risk", 2)))
        case "zscore_reversion":
            keys += ["period", "entry_z", "exit_z", "stop_z"]
            let p = try period("period", 20, minimum: 2)
            let entry = try positive("entry_z", 2)
            let exit = try m.optional("exit_z")?.double(in: 0...1e3) ?? 0.5
            let stop = try positive("stop_z", 3)
            try ordered(exit < entry && entry < stop, "need exit_z < entry_z < stop_z (have \(exit), \(entry), \(stop))")
            s.zScoreMeanReversion.append(ZScoreMeanReversion(common: common, period: p, entryZ: entry, exitZ: exit, stopZ: stop))
        case "rsi_bollinger_reversal":
            keys += ["rsi_period", "oversold", "overbought", "band_period", "band_deviations", "stop_atr"]
            let oversold = try m.optional("oversold")?.double(in: 0...100) ?? 30
            let overbought = try m.optional("overbought")?.double(in: 0...100) ?? 70
            try ordered(oversold > 0 && oversold < overbought && overbought < 100,
                        "need 0 < oversold < overbought < 100 (have \(oversold), \(overbought))")
            s.rsiBollingerReversal.append(RSIBollingerReversal(
                common: common, rsiPeriod: try period("rsi_period", 14), oversold: oversold, overbought: overbought,
                bandPeriod: try period("band_period", 20, minimum: 2), bandDeviations: try positive("band_deviations", 2),
                stopATR: try positive("stop_atr", 1.5)))
        case "vote":
            keys += ["weights", "min_confidence", "min_reward_risk", "rsi_oversold", "rsi_overbought", "stochastic_oversold",
                     "stochastic_overbought", "adx_threshold", "atr_breakout", "stop_atr"]
            var weights = VoteWeights()
            if let v = m.optional("weights") {
                var w = try v.mapping()
                if let x = w.optional("rsi") { weights.rsi = try x.double(in: 0...1e6) }
                if let x = w.optional("macd") { weights.macd = try x.double(in: 0...1e6) }
                if let x = w.optional("bollinger") { weights.bollinger = try x.double(in: 0...1e6) }
                if let x = w.optional("adx") { weights.adx = try x.double(in: 0...1e6) }
                if let x = w.optional("stochastic") { weights.stochastic = try x.double(in: 0...1e6) }
                if let x = w.optional("atr") { weights.atr = try x.double(in: 0...1e6) }
                try w.finish(allowed: ["rsi", "macd", "bollinger", "adx", "stochastic", "atr"])
                guard weights.total > 0 else { throw v.error("the weights must not all be 0") }
            }
            let minConfidence = try m.optional("min_confidence")?.double(in: 0...1) ?? 0.6
            let minRewardRisk = try m.optional("min_reward_risk")?.double(in: 0...1e6) ?? 1.5
            let rsiLow = try m.optional("rsi_oversold")?.double(in: 0...100) ?? 30
            let rsiHigh = try m.optional("rsi_overbought")?.double(in: 0...100) ?? 70
            let stochLow = try m.optional("stochastic_oversold")?.double(in: 0...100) ?? 20
            let stochHigh = try m.optional("stochastic_overbought")?.double(in: 0...100) ?? 80
            try ordered(rsiLow < rsiHigh, "rsi_oversold (\(rsiLow)) must be below rsi_overbought (\(rsiHigh))")
            try ordered(stochLow < stochHigh, "stochastic_oversold (\(stochLow)) must be below stochastic_overbought (\(stochHigh))")
            let adx = try m.optional("adx_threshold")?.double(in: 0...100) ?? 25
            s.vote.append(WeightedVote(common: common, weights: weights, minConfidence: minConfidence, minRewardRisk: minRewardRisk,
                                       rsiOversold: rsiLow, rsiOverbought: rsiHigh, stochasticOversold: stochLow,
                                       stochasticOverbought: stochHigh, adxThreshold: adx, atrBreakout: try positive("atr_breakout", 1),
                                       stopATR: try positive("stop_atr", 1)))
        default:  // pairs
            keys += ["legs", "lookback", "entry_z", "exit_z", "stop_z", "hedge_ratio"]
            let legsValue = try m.required("legs")
            let legs = try legsValue.list()
            guard legs.count == 2 else { throw legsValue.error("pairs needs exactly two legs [A, B], found \(legs.count)") }
            let a = InstrumentId(try legs[0].int(in: 0...1_000_000))
            let b = InstrumentId(try legs[1].int(in: 0...1_000_000))
            guard a != b else { throw legsValue.error("the two legs must differ (both \(a))") }
            let lookback = try period("lookback", 100, minimum: 2)
            let entry = try positive("entry_z", 2)
            let exit = try m.optional("exit_z")?.double(in: 0...1e3) ?? 0.5
            let stop = try positive("stop_z", 4)
            try ordered(exit < entry && entry < stop, "need exit_z < entry_z < stop_z (have \(exit), \(entry), \(stop))")
            if m.keys.contains("symbols") { throw item.error("pairs names its symbols in legs, not symbols").withKey("\(item.path).symbols") }
            s.pairs.append(PairsTrading(common: common, legA: a, legB: b, lookback: lookback, entryZ: entry, exitZ: exit, stopZ: stop,
                                        hedgeRatio: try positive("hedge_ratio", 1)))
        }
        try m.finish(allowed: keys)
    }
}
