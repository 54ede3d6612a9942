#if canImport(Glibc)
import Glibc
#endif
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

/// Where an engine's region lives and what it holds.
public struct RegionPlan: Sendable {
    /// The region's name in /dev/shm (`tickline-<instance>`), for a writer process to
    /// attach to; nil = a private region, unlinked at once and gone with the process.
    public var instance: String?
    public var rings: [RingSpec]
    public var options: RegionOptions

    public init(instance: String?, rings: [RingSpec], options: RegionOptions = .init()) {
        self.instance = instance
        self.rings = rings
        self.options = options
    }

    /// A private region with the catalog's rings at most `capacity` slots each (replay and
    /// tests: the journal rings' default million slots would make every region ~700 MiB).
    public static func small(instance: String? = nil, capacity: Int) -> RegionPlan {
        RegionPlan(instance: instance, rings: RingCatalog.defaultSpecs.map {
            RingSpec(name: $0.name, slotSize: $0.slotSize, capacity: min($0.capacity, capacity), overflow: $0.overflow)
        })
    }
}

/// One engine, built in one place: its region and rings, the feed stage (every feed, one
/// thread), the strategy stage (the built-ins and any `Custom` strategies), pre-trade risk
/// and execution (one venue per configured venue). `tickline run`, the demo and
/// `bench e2e` place it on pinned runners (`runners`); `replay` and the tests step it on
/// the calling thread on a simulated clock (`step`), with the feed stage reading
/// recordings through its transports. Built on the calling thread (cold path).
public final class EngineAssembly<Custom: SymbolStrategy> {
    public let region: SharedRegion
    public let feed: FeedStage
    public let strategy: StrategyAgent<Custom>
    public let risk: RiskAgent
    public let execution: ExecutionAgent

    /// - Parameters:
    ///   - region: where the region lives and its rings; removed again when a stage cannot be built.
    ///   - feeds: each feed with its universe (its venue's instruments, with the engine's ids).
    ///   - instrumentVenues: the venue of each instrument (index = instrument id).
    ///   - stats: the latency histograms risk and execution record into (nil: none kept).
    ///   - clock: the risk stage's clock at start (nil: the real clocks).
    ///   - feedCommands: the feed stage consumes `control.feed` (run-time subscriptions).
    ///   - transport: each feed connection's transport by feed and connection index (nil:
    ///     TCP sockets).
    public init(region plan: RegionPlan, feeds: [(config: FeedConfig, instruments: InstrumentTable)],
                strategy strategySettings: StrategySettings, custom: [Custom], risk riskSettings: RiskStageSettings,
                venues: [PaperVenueConfig], instrumentVenues: [VenueId], stats: StatsBoard?, clock: DutyCycleTime? = nil,
                feedCommands: Bool, transport: ((_ feed: Int, _ connection: Int) -> any Transport)? = nil) throws(EngineError) {
        let instance = plan.instance ?? "engine-\(getpid())-\(UInt32.random(in: 0...UInt32.max) % 100_000)"
        do {
            (region, _) = try SharedRegion.create(instance: instance, rings: plan.rings, options: plan.options)
        } catch { throw EngineError(description: error.description) }
        if plan.instance == nil { region.unlink() }  // private: gone with the process
        do throws(EngineError) {
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
        } catch {
            region.unlink()
            throw error
        }
    }

    /// The four stages by the role names `threading:` places.
    public var agents: [String: any Agent] { ["feed": feed, "strategy": strategy, "risk": risk, "execution": execution] }

    /// The stages on runners as `threading` places them, every runner handing its agents
    /// `clock`'s time. `companions` run right after the stage they are listed under, on its
    /// thread (an agent that reads the risk stage's positions runs beside it).
    public func runners(_ threading: ThreadingConfig, companions: [String: [any Agent]] = [:],
                        clock: DutyCycleClock = .real) throws(EngineError) -> [AgentRunner] {
        do { return try threading.makeRunners(agents: agents, companions: companions, clock: clock) } catch {
            throw EngineError(description: error.description)
        }
    }

    /// One step on the calling thread at `now`: one duty cycle of the feed stage (its input,
    /// a recording's transport, changes once per message), then the other stages until idle
    /// (orders, reports and exits answer one another; at most `maxCycles`). The stages are
    /// called as their own types, not as `any Agent`: through the protocol a generic stage
    /// (the strategy stage) runs unspecialized, which cost a replay a fifth of its speed.
    @inline(__always)
    public func step(now: DutyCycleTime, maxCycles: Int = 64) {
        _ = feed.doWork(now: now)
        for _ in 0..<maxCycles {
            if settle(now: now) == 0 { break }
        }
    }

    /// One duty cycle of every stage but the feed, on the calling thread (after the runners
    /// stopped, the feed's connections are closed: what is in flight settles); its work.
    @inline(__always) @discardableResult
    public func settle(now: DutyCycleTime) -> Int {
        strategy.doWork(now: now) + risk.doWork(now: now) + execution.doWork(now: now)
    }
}

extension EngineAssembly where Custom == NoCustomStrategy {
    /// The engine a config describes: its region and rings, its `feeds:`, the built-in
    /// strategies of `strategies:` over every instrument of `risk.instruments`, its risk
    /// limits, and one paper venue per entry of `venues:`. `region` overrides where the
    /// region lives (nil: the config's instance, rings and options).
    public convenience init(config: EngineConfig, region: RegionPlan? = nil, stats: StatsBoard, clock: DutyCycleTime? = nil,
                            feedCommands: Bool, transport: ((_ feed: Int, _ connection: Int) -> any Transport)? = nil) throws(EngineError) {
        let tables = try LiveEngine.feedTables(config)
        let instruments = config.risk.instruments
        var strategySettings = config.strategies.settings
        strategySettings.symbolCount = max(strategySettings.symbolCount, instruments.count)
        strategySettings.tickUnits = instruments.map(\.spec.tickSizeUnits)
        strategySettings.instrumentVenues = instruments.map(\.spec.venue)
        try self.init(region: region ?? RegionPlan(instance: config.instance, rings: config.rings, options: config.region),
                      feeds: Array(zip(config.feeds, tables)).map { ($0, $1) }, strategy: strategySettings, custom: [],
                      risk: RiskStageSettings(config: config.risk, instance: config.instance), venues: config.venues.map(\.paper),
                      instrumentVenues: instruments.map(\.spec.venue), stats: stats, clock: clock,
                      feedCommands: feedCommands, transport: transport)
    }
}
