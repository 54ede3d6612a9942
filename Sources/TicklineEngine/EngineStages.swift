import TicklineConfig
import TicklineCore
import TicklineExecution
import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

/// The stages of one engine, built in one place on a region: the feed stage (every feed,
/// one thread), the strategy stage (the built-ins and any `Custom` strategies), pre-trade
/// risk and execution (one paper venue per venue). `tickline run` and `bench e2e` place them
/// on their runners; `replay` and the demo step them on one thread on a simulated clock,
/// with the feed stage reading recordings through its transports. Built on the calling
/// thread (cold path).
public final class EngineStages<Custom: SymbolStrategy> {
    public let feed: FeedStage
    public let strategy: StrategyAgent<Custom>
    public let risk: RiskAgent
    public let execution: ExecutionAgent

    /// - Parameters:
    ///   - feeds: each feed with its universe (its venue's instruments, with the engine's ids).
    ///   - instrumentVenues: the venue of each instrument (index = instrument id).
    ///   - stats: the latency histograms risk and execution record into (nil: none kept).
    ///   - clock: the risk stage's clock at start (nil: the real clocks).
    ///   - feedCommands: the feed stage consumes `control.feed` (run-time subscriptions).
    ///   - transport: each feed connection's transport by feed and connection index (nil:
    ///     TCP sockets).
    public init(feeds: [(config: FeedConfig, instruments: InstrumentTable)], strategy strategySettings: StrategySettings,
                custom: [Custom], risk riskSettings: RiskStageSettings, venues: [PaperVenueConfig], instrumentVenues: [VenueId],
                region: SharedRegion, stats: StatsBoard?, clock: DutyCycleTime? = nil, feedCommands: Bool,
                transport: ((_ feed: Int, _ connection: Int) -> any Transport)? = nil) throws(EngineError) {
        do {
            feed = try FeedStage(feeds: feeds, region: region, venueCopies: true, commands: feedCommands, transport: transport)
        } catch { throw EngineError(description: "feeds: \(error)") }
        do {
            strategy = StrategyAgent(settings: strategySettings, custom: custom,
                                     market: try region.consumer(of: MarketEvent.self, ring: "market"),
                                     signals: try region.producer(of: SignalEvent.self, ring: "signals"),
                                     barJournal: try region.producer(of: BarEvent.self, ring: "journal.bars"))
        } catch { throw EngineError(description: "strategy stage: \(error.description)") }
        let now = clock ?? .now()
        risk = try RiskAgent(settings: riskSettings, region: region, stats: stats, nowNs: now.monotonic, wallNs: now.wall)
        execution = try ExecutionAgent(venues: venues, instrumentVenues: instrumentVenues, holding: risk, region: region, stats: stats)
    }

    /// The four stages by the role names `threading:` places.
    public var agents: [String: any Agent] { ["feed": feed, "strategy": strategy, "risk": risk, "execution": execution] }
}

extension EngineStages where Custom == NoCustomStrategy {
    /// The stages a config describes: its `feeds:`, the built-in strategies of
    /// `strategies:` over every instrument of `risk.instruments`, its risk limits, and one
    /// paper venue per entry of `venues:`.
    public convenience init(config: EngineConfig, region: SharedRegion, stats: StatsBoard, clock: DutyCycleTime? = nil,
                            feedCommands: Bool, transport: ((_ feed: Int, _ connection: Int) -> any Transport)? = nil) throws(EngineError) {
        let tables = try LiveEngine.feedTables(config)
        let instruments = config.risk.instruments
        var strategySettings = config.strategies.settings
        strategySettings.symbolCount = max(strategySettings.symbolCount, instruments.count)
        strategySettings.tickUnits = instruments.map(\.spec.tickSizeUnits)
        strategySettings.instrumentVenues = instruments.map(\.spec.venue)
        try self.init(feeds: Array(zip(config.feeds, tables)).map { ($0, $1) }, strategy: strategySettings, custom: [],
                      risk: RiskStageSettings(config: config.risk, instance: config.instance), venues: config.venues.map(\.paper),
                      instrumentVenues: instruments.map(\.spec.venue), region: region, stats: stats, clock: clock,
                      feedCommands: feedCommands, transport: transport)
    }
}
