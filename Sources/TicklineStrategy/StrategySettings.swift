import TicklineCore

/// Everything the strategy stage is built from (the `strategies:` config section): how many
/// symbols get preallocated state, which bars are built, and the strategy instances.
/// Immutable after start. Defaults: 16 symbols, 1 s and 1 m bars, no tick or volume bars,
/// no strategy instances (nothing trades until the config names some).
public struct StrategySettings: Sendable, Equatable {
    /// Instrument ids 0..<symbolCount get state; events of other ids are counted and ignored.
    public var symbolCount: Int = 16
    /// Time bars built for every symbol.
    public var timeBars: [BarKind] = [.seconds1, .minutes1]
    /// Trades per tick bar (0 = no tick bars).
    public var tickBarTrades: Int = 0
    /// Quantity units (at each instrument's quantity decimals) per volume bar (0 = none).
    public var volumeBarUnits: Int64 = 0
    /// Capacity of the pending-signal buffer (signals waiting for room in the signals ring).
    public var pendingSignals: Int = 1024
    /// Capacity of the buffer of closed bars waiting for the bar journal.
    public var pendingBars: Int = 1024
    /// Events handled per duty cycle at most.
    public var batchLimit: Int = 256
    /// Each instrument's tick in price units, by instrument id (trailing stops in ticks; an
    /// instrument not listed counts 1 price unit per tick). The engine fills it from the
    /// instruments of `risk:`.
    public var tickUnits: [Int64] = []
    /// The venue each instrument trades on, by instrument id (an instrument not listed is on
    /// venue 0, the first). Every bar and signal of an instrument carries its venue.
    public var instrumentVenues: [VenueId] = []

    public var smaCrossover: [SMACrossover] = []
    public var emaADXTrend: [EMAADXTrend] = []
    public var zScoreMeanReversion: [ZScoreMeanReversion] = []
    public var rsiBollingerReversal: [RSIBollingerReversal] = []
    public var vote: [WeightedVote] = []
    public var pairs: [PairsTrading] = []

    public init() {}

    /// The bar kinds built per symbol, in slot order: the time bars, then tick, then volume.
    public var barSlots: [BarKind] {
        var kinds = timeBars
        if tickBarTrades > 0 { kinds.append(.tick) }
        if volumeBarUnits > 0 { kinds.append(.volume) }
        return kinds
    }

    /// Every instance's common part, with its type name (for validation and reports).
    public var allCommons: [(type: String, common: StrategyCommon)] {
        smaCrossover.map { ("sma_crossover", $0.common) } + emaADXTrend.map { ("ema_adx_trend", $0.common) }
            + zScoreMeanReversion.map { ("zscore_reversion", $0.common) }
            + rsiBollingerReversal.map { ("rsi_bollinger_reversal", $0.common) } + vote.map { ("vote", $0.common) }
            + pairs.map { ("pairs", $0.common) }
    }

    /// The first inconsistency (duplicate id, a timeframe not built, a symbol out of range),
    /// or nil. The engine traps on these; the config parser reports them with the line.
    public func problem() -> String? {
        guard symbolCount >= 1 else { return "symbol count \(symbolCount) must be at least 1" }
        if let k = tickUnits.firstIndex(where: { $0 <= 0 }) { return "instrument \(k): tick \(tickUnits[k]) must be positive" }
        var seen: Set<StrategyId> = []
        let slots = barSlots
        for (type, common) in allCommons {
            if !seen.insert(common.id).inserted { return "strategy id \(common.id) is used twice" }
            if !slots.contains(common.timeframe) {
                return "strategy \(common.id) (\(type)) reads \(common.timeframe.configName) bars, which are not built (bars: \(slots.map(\.configName).joined(separator: ", ")))"
            }
            for s in common.symbols ?? [] where Int(s) >= symbolCount {
                return "strategy \(common.id) (\(type)) names symbol \(s), outside 0..<\(symbolCount)"
            }
        }
        for p in pairs where Int(p.legA) >= symbolCount || Int(p.legB) >= symbolCount {
            return "pairs strategy \(p.common.id) names a leg outside 0..<\(symbolCount)"
        }
        return nil
    }
}
