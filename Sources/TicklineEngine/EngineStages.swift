import TicklineConfig
import TicklineCore
import TicklineFeed
import TicklineNet
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

/// The stages of one engine, built in one place from a config on a region: the feed stage
/// (every feed of `feeds:`), the strategy stage, pre-trade risk and execution (one paper
/// venue per entry of `venues:`). `tickline run` places them on its runners; `replay` and the
/// demo step them on one thread on a simulated clock, with the feed stage reading recordings
/// through its transports. Built on the calling thread (cold path).
public final class EngineStages {
    public let feed: FeedStage
    public let strategy: StrategyAgent<NoCustomStrategy>
    public let risk: RiskAgent
    public let execution: ExecutionAgent

    /// - Parameters:
    ///   - clock: the risk stage's clock at start (nil: the real clocks).
    ///   - feedCommands: the feed stage consumes `control.feed` (run-time subscriptions).
    ///   - transport: each feed connection's transport by feed and connection index (nil:
    ///     TCP sockets).
    public init(config: EngineConfig, region: SharedRegion, stats: StatsBoard, clock: DutyCycleTime? = nil, feedCommands: Bool,
                transport: ((_ feed: Int, _ connection: Int) -> any Transport)? = nil) throws(EngineError) {
        let tables = try LiveEngine.feedTables(config)
        let instruments = config.risk.instruments
        do {
            feed = try FeedStage(feeds: Array(zip(config.feeds, tables)).map { ($0, $1) }, region: region, venueCopies: true,
                                 commands: feedCommands, transport: transport)
        } catch { throw EngineError(description: "feeds: \(error)") }
        var strategySettings = config.strategies.settings
        strategySettings.symbolCount = max(strategySettings.symbolCount, instruments.count)
        strategySettings.tickUnits = instruments.map(\.spec.tickSizeUnits)
        strategySettings.instrumentVenues = instruments.map(\.spec.venue)
        do {
            strategy = try StrategyAgent(settings: strategySettings,
                                         market: region.consumer(of: MarketEvent.self, ring: "market"),
                                         signals: region.producer(of: SignalEvent.self, ring: "signals"),
                                         barJournal: region.producer(of: BarEvent.self, ring: "journal.bars"))
        } catch { throw EngineError(description: "strategy stage: \(error.description)") }
        let now = clock ?? .now()
        risk = try RiskAgent(settings: RiskStageSettings(config: config.risk, instance: config.instance), region: region, stats: stats,
                             nowNs: now.monotonic, wallNs: now.wall)
        execution = try ExecutionAgent(venues: config.venues.map(\.paper), instrumentVenues: instruments.map(\.spec.venue),
                                       holding: risk, region: region, stats: stats)
    }

    /// The four stages by the role names `threading:` places.
    public var agents: [String: any Agent] { ["feed": feed, "strategy": strategy, "risk": risk, "execution": execution] }
}
