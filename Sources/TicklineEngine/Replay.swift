#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineExecution
import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

/// What a replay (backtest) did: `tickline replay --json` prints it as one line. Money in
/// the account currency; every figure is net of all fees unless its name says gross.
/// One latency histogram of a run, in ns: samples and percentiles.
public struct LatencyRow: Codable, Sendable, Equatable {
    public var count: UInt64 = 0
    public var p50: Int64 = 0
    public var p99: Int64 = 0
    public var max: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case count, p50 = "p50_ns", p99 = "p99_ns", max = "max_ns"
    }

    /// Every histogram of `stats` by its stage label (`tick_to_order` for the one without).
    static func rows(_ stats: StatsBoard) -> [String: LatencyRow] {
        var rows: [String: LatencyRow] = [:]
        for (i, h) in stats.histograms.enumerated() {
            let s = stats.snapshot(histogramAt: i)
            rows[h.labels.first?.1 ?? "tick_to_order"] = LatencyRow(count: s.count, p50: Int64(s.percentile(0.5)),
                                                                      p99: Int64(s.percentile(0.99)), max: Int64(s.max))
        }
        return rows
    }
}

public struct ReplayReport: Codable, Sendable {
    /// Non-empty lines read (as in `tickline verify`).
    public var messages: UInt64 = 0
    public var events: UInt64 = 0
    public var eventsPerSecond: Double = 0
    public var seconds: Double = 0
    public var signals: UInt64 = 0
    public var orders: UInt64 = 0
    public var fills: UInt64 = 0
    public var exits: UInt64 = 0
    /// Exit orders by trigger, reports by kind, cancel requests (meanings: `RiskStageCounters`).
    public var exitsByTrigger: [String: UInt64] = [:]
    public var reports: [String: UInt64] = [:]
    public var cancelRequests: UInt64 = 0
    public var denials: UInt64 = 0
    public var denialsByReason: [String: UInt64] = [:]
    /// Round trips closed (`roundTrips.count` plus any the report could not copy,
    /// `roundTripsMissed`), and the fraction with net (`winRate`) and gross PnL > 0.
    public var trades: UInt64 = 0
    public var winRate: Double = 0
    public var winRateGross: Double = 0
    public var realisedPnl: Double = 0
    public var unrealisedPnl: Double = 0
    /// Every fee paid; `openFees` of them on positions still open.
    public var fees: Double = 0
    public var openFees: Double = 0
    public var startingEquity: Double = 0
    public var finalEquity: Double = 0
    /// finalEquity − startingEquity = Σ round trips' net PnL + unrealisedPnl − openFees.
    public var netPnl: Double = 0
    /// Largest fall from a peak of equity (checked at every event), as a fraction of that peak.
    public var maxDrawdown: Double = 0
    /// Mean over standard deviation of the equity's returns between curve samples,
    /// annualised (× √(samples per year)); nil below `ReplayStatistics.minimumSharpeSamples`
    /// returns. `sharpeSamples` is how many returns it used.
    public var sharpe: Double?
    public var sharpeSamples: Int = 0
    /// Largest |net position| seen per symbol, and its limit, in the symbol's quantity.
    public var maxAbsPosition: [String: Double] = [:]
    public var positionLimit: [String: Double] = [:]
    /// Lines that did not decode (no receive time, or a message the decoder refused), and
    /// the feed figures `tickline verify` reports under the same names: events of streams
    /// Tickline does not use (not errors), depth diffs that broke continuity, snapshots that
    /// synced a book, books that got diffs but were never synced (they traded on quotes).
    public var decodeErrors: UInt64 = 0
    public var unsupportedMessages: UInt64 = 0
    public var depthGaps: UInt64 = 0
    public var snapshotsSynced: UInt64 = 0
    public var booksUnsynced: Int = 0
    /// The equity curve's sampling: one point at the first event of each interval of
    /// replayed time, then the final equity as the last point.
    public var curveIntervalSeconds: Double = 0
    /// (wall ns, equity) and (wall ns, drawdown from the peak as a fraction), the same times.
    public var equityCurve: [[Double]] = []
    public var drawdownCurve: [[Double]] = []
    /// Every closed round trip, oldest first.
    public var roundTrips: [RoundTripRecord] = []
    /// Round trips closed faster than the report copied them (0 unless the risk stage's
    /// round-trip ring overflowed between two messages).
    public var roundTripsMissed: UInt64 = 0
    /// Per strategy id that traded.
    public var byStrategy: [String: StrategyResult] = [:]
    /// Per-stage and tick-to-order latency, by stage name (`strategy`, `risk`, `execution`,
    /// `tick_to_order`): measured on the real monotonic clock, whatever clock the stages
    /// decide on.
    public var latency: [String: LatencyRow] = [:]

    enum CodingKeys: String, CodingKey {
        case messages, events, seconds, signals, orders, fills, exits, denials, trades, fees, sharpe, reports
        case cancelRequests = "cancel_requests", eventsPerSecond = "events_per_second", denialsByReason = "denials_by_reason", winRate = "win_rate"
        case exitsByTrigger = "exits_by_trigger", winRateGross = "win_rate_gross", openFees = "open_fees", netPnl = "net_pnl"
        case realisedPnl = "realised_pnl", unrealisedPnl = "unrealised_pnl", startingEquity = "starting_equity"
        case finalEquity = "final_equity", maxDrawdown = "max_drawdown", maxAbsPosition = "max_abs_position"
        case positionLimit = "position_limit", decodeErrors = "decode_errors", depthGaps = "depth_gaps"
        case unsupportedMessages = "unsupported_messages", snapshotsSynced = "snapshots_synced", booksUnsynced = "books_unsynced"
        case sharpeSamples = "sharpe_samples", curveIntervalSeconds = "curve_interval_s"
        case equityCurve = "equity_curve", drawdownCurve = "drawdown_curve", roundTrips = "round_trips"
        case roundTripsMissed = "round_trips_missed", byStrategy = "by_strategy", latency
    }

    public init() {}
}

/// One strategy's results: its closed round trips (trades, gross and net PnL, fees, win
/// rates), what it still holds (unrealised PnL, open fees), and its PnL curve's maximum
/// drawdown and Sharpe (on the account curve's sample times).
public struct StrategyResult: Codable, Sendable, Equatable {
    public var trades: Int = 0
    public var grossPnl: Double = 0
    public var netPnl: Double = 0
    /// Fees of the closed round trips (opening and closing).
    public var fees: Double = 0
    public var winRateGross: Double = 0
    public var winRateNet: Double = 0
    public var unrealisedPnl: Double = 0
    public var openFees: Double = 0
    /// Largest fall of the strategy's PnL (realised + unrealised − fees) from its peak, money.
    public var maxDrawdownMoney: Double = 0
    /// Returns = change of the strategy's PnL over the account's equity at the previous
    /// sample (so the strategies' returns add up to the account's); nil below the minimum.
    public var sharpe: Double?
    public var sharpeSamples: Int = 0

    enum CodingKeys: String, CodingKey {
        case trades, fees, sharpe
        case grossPnl = "gross_pnl", netPnl = "net_pnl", winRateGross = "win_rate_gross", winRateNet = "win_rate_net"
        case unrealisedPnl = "unrealised_pnl", openFees = "open_fees", maxDrawdownMoney = "max_drawdown_money"
        case sharpeSamples = "sharpe_samples"
    }

    public init() {}
}

/// The statistics of a report, in one place.
public enum ReplayStatistics {
    /// A Sharpe ratio from fewer returns than this is not shown.
    public static let minimumSharpeSamples = 30

    /// Mean over sample standard deviation of `returns`, × √`periodsPerYear`; nil below
    /// `minimumSharpeSamples` returns or with no variation.
    public static func sharpe(_ returns: [Double], periodsPerYear: Double) -> Double? {
        guard returns.count >= minimumSharpeSamples else { return nil }
        let mean = returns.reduce(0, +) / Double(returns.count)
        let variance = returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count - 1)
        guard variance > 0 else { return nil }
        return mean / variance.squareRoot() * periodsPerYear.squareRoot()
    }

    /// Largest fall from a running peak (the peak starts at the first value).
    public static func maxDrawdown(_ values: [Double]) -> Double {
        var peak = values.first ?? 0, worst = 0.0
        for v in values {
            peak = max(peak, v)
            worst = max(worst, peak - v)
        }
        return worst
    }
}

/// One position the risk stage holds: a strategy's, or the net over all strategies
/// (`strategy` nil), in the instrument's quantity units.
public struct HeldPosition: Sendable, Equatable {
    public var instrument: InstrumentId
    public var symbol: String
    public var strategy: StrategyId?
    public var quantityUnits: Int64
    public var quantityDecimals: UInt8

    public init(instrument: InstrumentId, symbol: String, strategy: StrategyId?, quantityUnits: Int64, quantityDecimals: UInt8) {
        self.instrument = instrument
        self.symbol = symbol
        self.strategy = strategy
        self.quantityUnits = quantityUnits
        self.quantityDecimals = quantityDecimals
    }

    /// The quantity as exact decimal text ("-0.00250000").
    public var quantityText: String { LiveEngine.decimalText(quantityUnits, decimals: quantityDecimals) }
}

/// A backtest over recorded data through exactly the live stages (feed, strategy, risk,
/// paper venue agents on real rings in a private region: one `EngineAssembly`), on one
/// thread with a simulated clock: each recorded message's receive time is "now" for every
/// stage. The feed stage is the live one: each message reaches it as a WebSocket frame from
/// a `RecordingTransport`, so the framing, decoding, book and publish code that trades live
/// is the code replayed.
///
/// The demo runs the same engine on a pinned runner instead (`start`), its feed a
/// `PacedTransport` on the market clock; this object then keeps its books as an agent
/// beside the risk stage and publishes its report for other threads (`published`).
public final class ReplayEngine: Agent {
    public let symbols: [String]
    let engine: EngineAssembly<NoCustomStrategy>
    var region: SharedRegion { engine.region }
    var feedStage: FeedStage { engine.feed }
    var risk: RiskAgent { engine.risk }
    /// The recording's end of the feed's connection (nil: the feed reads another transport).
    let transport: RecordingTransport?
    /// The demo's paced feed, whose messages it could not frame count as decode errors.
    let pacedFeed: PacedTransport?
    var control: RingProducer<ControlCommand>
    /// The journal rings' consumer ends when this process drains them; nil when a writer
    /// process does (each ring has one consumer).
    let journals: JournalConsumers?
    /// Per-stage and tick-to-order latency (the real monotonic clock, also in replay).
    public let stats = StatsBoard()
    let specs: [InstrumentRiskSpec]
    let startingCapital: Double
    /// The equity curve's sampling interval, replayed ns.
    public let curveIntervalNs: Int64
    /// The paper venue's fee per side the run charges, parts per million (the higher of
    /// maker and taker; the built-in fee with the built-in strategies).
    public let feePartsPerMillion: Int64

    /// The paper venue's fee per side with the built-in strategies, parts per million
    /// (0.002 %). Their 1-second targets are a few ticks: at a retail 0.1 % a side no target
    /// clears a round trip's fees, and risk (which counts them) would deny every signal.
    public static let builtInFeePartsPerMillion: Int64 = 20

    /// The built-in strategies at their defaults on 1-second bars (what `demo` and a
    /// `replay` without a config run).
    public static func defaultStrategies(symbols: Int) -> StrategySettings {
        var s = StrategySettings()
        s.symbolCount = symbols
        s.timeBars = [.seconds1, .minutes1]
        s.smaCrossover = [SMACrossover(common: StrategyCommon(id: 1, timeframe: .seconds1))]
        s.emaADXTrend = [EMAADXTrend(common: StrategyCommon(id: 2, timeframe: .seconds1))]
        s.zScoreMeanReversion = [ZScoreMeanReversion(common: StrategyCommon(id: 3, timeframe: .seconds1))]
        s.rsiBollingerReversal = [RSIBollingerReversal(common: StrategyCommon(id: 4, timeframe: .seconds1))]
        s.vote = [WeightedVote(common: StrategyCommon(id: 5, timeframe: .seconds1))]
        return s
    }

    /// - Parameters:
    ///   - symbols: the recording's symbols, in instrument-id order.
    ///   - config: strategies (none configured = the built-ins), risk (instruments by symbol;
    ///     a symbol without one gets `fallbackSpec`, or is refused when that is nil), venue.
    /// - Parameters:
    ///   - startWallNs: the simulated market clock at start (0: it starts at the first
    ///     message's receive time). Every decision of every stage runs on that clock (both
    ///     its monotonic and its wall reading), advanced by the messages' receive times; the
    ///     latency stamps are the real monotonic clock.
    ///   - sharedInstance: nil = a private region (gone with the process); else the region is
    ///     `/dev/shm/tickline-<sharedInstance>`, for a writer process to attach to (the demo),
    ///     removed by `close()`.
    ///   - drainsJournals: false when a writer process drains the journal rings.
    ///   - feedTransport: the feed's connection (nil: a `RecordingTransport` that `step`
    ///     hands each message to).
    public init(symbols: [String], config: EngineConfig, fallbackSpec: InstrumentRiskSpec?,
                startWallNs: WallNanos = 0, sharedInstance: String? = nil,
                drainsJournals: Bool = true, curveIntervalNs: Int64 = 1_000_000_000,
                feedTransport: (any Transport)? = nil) throws {
        precondition(curveIntervalNs > 0, "curve interval \(curveIntervalNs) ns must be > 0")
        self.symbols = symbols
        self.curveIntervalNs = curveIntervalNs
        guard symbols.count <= 1_024 else {
            throw EngineError(description: "\(symbols.count) symbols: a replay takes at most 1024 (one feed connection's streams)")
        }
        let unknown = symbols.filter { s in !config.risk.instruments.contains { $0.symbol == s } }
        if fallbackSpec == nil && !unknown.isEmpty {
            throw EngineError(description: "no instrument spec (decimals, tick, step) for \(unknown.joined(separator: ", ")): "
                              + "list them under risk.instruments in the config, or give an exchangeInfo file")
        }
        // Every symbol has one now (checked above): the config's, else the fallback.
        var specs = symbols.compactMap { s in config.risk.instruments.first(where: { $0.symbol == s })?.spec ?? fallbackSpec }
        // The engine a replay runs: the recording's symbols (in id order) on the first venue,
        // one feed reading the recording, the built-in strategies (at their fee) when the
        // config has none, no journal file.
        var engine = config
        var strategySettings = config.strategies.settings
        var venue = config.venues[0]
        if strategySettings.smaCrossover.isEmpty && strategySettings.emaADXTrend.isEmpty && strategySettings.zScoreMeanReversion.isEmpty
            && strategySettings.rsiBollingerReversal.isEmpty && strategySettings.vote.isEmpty && strategySettings.pairs.isEmpty {
            strategySettings = Self.defaultStrategies(symbols: symbols.count)
            venue.paper.makerFeePartsPerMillion = Self.builtInFeePartsPerMillion
            venue.paper.takerFeePartsPerMillion = Self.builtInFeePartsPerMillion
        }
        feePartsPerMillion = max(venue.paper.makerFeePartsPerMillion, venue.paper.takerFeePartsPerMillion)
        for i in specs.indices {
            specs[i].venue = 0
            specs[i].feePartsPerMillion = feePartsPerMillion
        }
        self.specs = specs
        engine.strategies.settings = strategySettings
        engine.venues = [venue]
        engine.risk.instruments = zip(symbols, specs).map { RiskConfig.Instrument(symbol: $0, spec: $1) }
        engine.risk.strategies = max(config.risk.strategies, 8)
        engine.risk.journal = ""
        engine.feeds = [Self.feedConfig(symbols: symbols)]
        clock = DutyCycleTime(simulatedNs: startWallNs.ns)
        let recording = feedTransport == nil ? RecordingTransport(maxMessageBytes: Self.maxMessageBytes) : nil
        transport = recording
        pacedFeed = feedTransport as? PacedTransport
        let connection: any Transport = feedTransport ?? recording!
        self.engine = try EngineAssembly(config: engine, region: .small(instance: sharedInstance, capacity: 1 << 14), stats: stats,
                                         clock: clock, feedCommands: false, transport: { _, _ in connection })
        control = try self.engine.region.producer(of: ControlCommand.self, ring: "control.risk")
        journals = drainsJournals ? try JournalConsumers(region: self.engine.region) : nil
        startingCapital = Double(config.risk.limits.startingCapitalMoney) / Double(MoneyScale.one)
        report.startingEquity = startingCapital
        report.curveIntervalSeconds = Double(curveIntervalNs) / 1e9
        maxAbs = [Int64](repeating: 0, count: symbols.count)
        strategyPnl = Array(repeating: [], count: self.engine.risk.risk.strategyCapacity)
    }

    // Accumulated while stepping.
    var report = ReplayReport()
    var peak = 0.0
    var maxAbs: [Int64] = []
    var lastInterval: Int64 = .min
    /// Curve samples: (wall ns, equity, drawdown fraction), and each strategy's PnL (money) then.
    var samples: [(wallNs: Int64, equity: Double, drawdown: Double)] = []
    var strategyPnl: [[Int64]] = []
    /// Closed round trips copied from the risk stage, and the last sequence copied.
    var trips: [RoundTrip] = []
    var lastTrip: UInt64 = 0
    var lastRecv: WallNanos = 0
    /// Lines that are not `<receive ns> <payload>` (messages and decode errors, beside the processor's).
    var linesWithoutTime: UInt64 = 0
    /// Messages the feed's connection did not take (longer than `maxMessageBytes`, or the
    /// connection not open): decode errors of the report.
    var messagesNotDelivered: UInt64 = 0
    /// The simulated market clock: both readings move with the receive times of the
    /// messages (never backwards), so every decision sees market time.
    public private(set) var clock: DutyCycleTime

    /// Replays `recording` (lines `<receive ns> <json>`). `pace`: 0 = as fast as possible,
    /// else replayed seconds per wall second. `progress` gets the fraction done now and then.
    public func run(_ recording: [UInt8], pace: Double = 0, progress: (Double) -> Void = { _ in }) -> ReplayReport {
        let startWall = Clock.monotonic()
        var firstRecv: Int64 = 0
        var nextProgress = 0
        recording.withUnsafeBytes { raw in
            var i = 0
            let n = raw.count
            while i < n {
                var end = i
                while end < n && raw[end] != 10 { end += 1 }
                defer { i = end + 1 }
                let line = UnsafeRawBufferPointer(rebasing: raw[i..<end])
                let recv: Int64, payload: Range<Int>
                switch RecordingLine.parse(line) {
                case .blank: continue
                case .malformed: linesWithoutTime += 1; continue
                case .message(let ns, let range): (recv, payload) = (ns, range)
                }
                if firstRecv == 0 { firstRecv = recv }
                if pace > 0 {
                    // Saturated: a recording can span more ns than the clock has left, and a
                    // time that goes back is due at once.
                    let wait = Double(recv - firstRecv) / pace
                    if wait > 0 {
                        let due = wait < Double(Int64.max - startWall.ns) ? startWall + Int64(wait) : .max
                        while Clock.monotonic() < due { usleep(200) }
                    }
                }
                step(UnsafeRawBufferPointer(rebasing: line[payload]), receiveWallNs: WallNanos(recv))
                let done = Int(Double(i) / Double(max(n, 1)) * 100)
                if done >= nextProgress { progress(Double(done) / 100); nextProgress = done + 1 }
            }
        }
        progress(1)
        return finish(elapsedSeconds: Double(Clock.monotonic() - startWall) / 1e9)
    }

    /// One message through the feed code and one duty cycle of every stage (until idle),
    /// then the report's bookkeeping. `receiveWallNs` stamps the events and advances the
    /// simulated market clock the stages decide on.
    public func step(_ json: UnsafeRawBufferPointer, receiveWallNs recv: WallNanos) {
        runStages(json, receiveWallNs: recv)
        account(recv)
    }

    /// `step` without the report's bookkeeping (which grows the equity curve): the live
    /// stages' path alone, what the allocation gate measures per message.
    public func runStages(_ json: UnsafeRawBufferPointer, receiveWallNs recv: WallNanos) {
        guard let transport else { preconditionFailure("ReplayEngine.step: the feed reads its own transport") }
        if report.messages == 0 { peak = report.startingEquity }
        report.messages += 1
        if recv > clock.wall { clock = DutyCycleTime(simulatedNs: recv.ns) }
        if !transport.isOpen { openFeed(transport) }
        if !transport.deliver(json, receiveWallNs: recv) { messagesNotDelivered += 1 }
        engine.step(now: clock)
        _ = journals?.doWork(now: clock)
    }

    // MARK: On a runner (the demo)

    public let roleName = "ledger"
    var runners: [AgentRunner] = []
    var runnerClock = DutyCycleClock.real
    /// The report as of the last publish (every 250 ms while on a runner), for other threads.
    public let published = Mutex(ReplayReport())
    var startedAt: MonotonicNanos = 0
    var nextAccount: MonotonicNanos = 0
    var nextPublish: MonotonicNanos = 0

    /// Places the engine on one pinned runner (every stage fused, as `ThreadingConfig.default`
    /// places them: the last core, parking), with this object's books right after the risk
    /// stage (they read its positions, which only its thread may) and the journal drain
    /// after execution when this process drains the journal rings; every duty cycle runs on
    /// `clock`. The feed reads the transport given at init.
    public func start(clock runnerClock: DutyCycleClock) throws(EngineError) {
        precondition(runners.isEmpty && transport == nil, "ReplayEngine.start: already started, or built to be stepped")
        peak = report.startingEquity
        startedAt = Clock.monotonic()
        self.runnerClock = runnerClock
        var companions: [String: [any Agent]] = ["risk": [self]]
        if let journals { companions["execution"] = [journals] }
        runners = try engine.runners(.default(), companions: companions, clock: runnerClock)
        for r in runners { r.start() }
    }

    /// The runner's thread (its name, cores and pin result), nil before `start`.
    public var runner: AgentRunner? { runners.first }

    /// Stops the runner (the feed closes its connection); `finish` then lets the other stages
    /// settle on the calling thread and builds the final report.
    public func stop() {
        for r in runners { r.stop() }
        runners = []
        let now = runnerClock.now()
        if now.wall > clock.wall { clock = now }
    }

    /// The books on the risk stage's thread: at most once a real millisecond (a parking
    /// runner cycles far more often), and the report published every 250 ms.
    public func doWork(now: DutyCycleTime) -> Int {
        let real = Clock.monotonic()
        guard real >= nextAccount else { return 0 }
        nextAccount = real + 1_000_000
        report.messages = feed.counters.messages
        account(now.wall)
        if real >= nextPublish {
            nextPublish = real + 250_000_000
            let r = current(elapsedSeconds: Double(real - startedAt) / 1e9, statistics: false)
            published.withLock { $0 = r }
        }
        return 0
    }

    /// The replay's one feed (its processor holds the books and decode counters).
    public var feed: FeedAgent { feedStage.feeds[0] }

    /// The longest recorded message a replay takes (a longer line is a decode error).
    public static let maxMessageBytes = 4 << 20

    /// The feed of a replay: the recording's symbols on one connection, one stream each (so
    /// up to 1024 symbols), snapshots from the recording (none fetched), no proactive
    /// reconnect in a run (the recorder's own reconnects are in the recording; one here would
    /// drop the books).
    static func feedConfig(symbols: [String]) -> FeedConfig {
        var c = FeedConfig()
        c.name = "replay"
        c.symbols = symbols
        c.streams = ["trade"]
        c.snapshotsOnStream = true
        c.proactiveReconnectMs = Int(Int32.max)
        c.bookLevelsPerSide = 5_000
        c.maxFrameBytes = maxMessageBytes
        // Nothing is fetched over REST: the fetcher's slots are kept at their smallest.
        c.snapshotParallel = 1
        c.snapshotMaxBytes = 4_096
        return c
    }

    /// Runs the feed stage until its connection to the recording is open (connect and
    /// handshake, in memory: a few cycles).
    func openFeed(_ transport: RecordingTransport) {
        for _ in 0..<8 where !transport.isOpen { _ = feedStage.doWork(now: clock) }
    }

    /// The region's name in /dev/shm (what a writer attaches to with `--instance`).
    public var instance: String { region.instance }

    /// Removes a shared region's name (a private one is already gone).
    public func close() { region.unlink() }

    /// Risk events the risk stage emitted (denials, state changes, breakers, limit changes).
    public var riskEvents: UInt64 { risk.riskEvents }

    /// The risk stage's view (positions, orders, PnL, recent signals/trades/denials),
    /// published by its duty cycles; what the demo shows.
    public var view: EngineView { risk.view }

    /// The positions the risk stage holds now, in each instrument's quantity units: per
    /// strategy the non-zero ones (by instrument, then strategy), and net per instrument
    /// (every instrument, flat ones too). Read on the stepping thread (after `finish`, the
    /// final positions).
    public func positions() -> (byStrategy: [HeldPosition], net: [HeldPosition]) {
        let book = risk.risk.positions
        var byStrategy: [HeldPosition] = []
        var net: [HeldPosition] = []
        for (i, symbol) in symbols.enumerated() {
            let instrument = InstrumentId(i)
            let decimals = specs[i].quantityDecimals
            for s in 0..<risk.risk.strategyCapacity {
                let units = book.quantity(strategy: StrategyId(s), instrument: instrument)
                if units != 0 {
                    byStrategy.append(HeldPosition(instrument: instrument, symbol: symbol, strategy: StrategyId(s),
                                                   quantityUnits: units, quantityDecimals: decimals))
                }
            }
            net.append(HeldPosition(instrument: instrument, symbol: symbol, strategy: nil,
                                    quantityUnits: book.quantity(instrument: instrument), quantityDecimals: decimals))
        }
        return (byStrategy, net)
    }

    /// The risk stage's acknowledgements of control commands (see `RiskCommandQueue`).
    public var acks: ControlAcks { risk.acks }

    /// Queues a control command for the risk stage (taken at its next duty cycle).
    public func send(_ command: ControlCommand) -> Bool { control.tryPush(command) }

    /// The risk stage (positions, orders, limits) for views; read on the stepping thread.
    public var riskStage: RiskAgent { risk }

    func account(_ recv: WallNanos) {
        let positions = risk.risk.positions
        for s in 0..<symbols.count {
            maxAbs[s] = max(maxAbs[s], abs(positions.quantity(instrument: InstrumentId(s))))
        }
        if positions.roundTrips.closed != lastTrip {
            report.roundTripsMissed += positions.roundTrips.forEach(after: lastTrip) { trips.append($0) }
            lastTrip = positions.roundTrips.closed
        }
        let equity = Double(positions.equityMoney) / Double(MoneyScale.one)
        peak = max(peak, equity)
        let drawdown = peak > 0 ? (peak - equity) / peak : 0
        report.maxDrawdown = max(report.maxDrawdown, drawdown)
        lastRecv = recv
        let interval = recv.ns / curveIntervalNs
        if interval != lastInterval {
            lastInterval = interval
            samples.append((recv.ns, equity, drawdown))
            for s in 0..<strategyPnl.count { strategyPnl[s].append(pnl(positions.strategy(StrategyId(s)))) }
        }
    }

    /// A strategy's (or the account's) PnL net of fees, money units.
    func pnl(_ p: PositionView) -> Int64 { p.realisedMoney &+ p.unrealisedMoney &- p.feesMoney }

    /// Lets the venue's last reports arrive (its latency past the last message) and builds
    /// the report.
    public func finish(elapsedSeconds: Double) -> ReplayReport {
        for _ in 1...100 {
            clock = clock.advanced(by: 10_000_000)
            if transport != nil {
                engine.step(now: clock, maxCycles: 1)
            } else {
                // Stopped on its runner: the feed's connection is closed; the rest settle.
                engine.settle(now: clock)
            }
        }
        if transport == nil { report.messages = feed.counters.messages }
        risk.publishView(nowNs: clock.monotonic)
        account(lastRecv)
        return current(elapsedSeconds: elapsedSeconds)
    }

    /// The report so far: counts, the round trips, and with `statistics` the per-strategy
    /// results and the curves with the equity now as their last point (a live view that
    /// redraws often leaves them out: they grow with the run).
    public func current(elapsedSeconds: Double, statistics: Bool = true) -> ReplayReport {
        var report = self.report
        let positions = risk.risk.positions
        func money(_ m: Int64) -> Double { Double(m) / Double(MoneyScale.one) }
        report.events = feed.counters.marketEvents
        report.seconds = elapsedSeconds
        report.eventsPerSecond = elapsedSeconds > 0 ? Double(report.events) / elapsedSeconds : 0
        report.signals = risk.counters.signals
        report.orders = risk.counters.orders
        report.fills = risk.counters.fills
        report.exits = risk.counters.exits
        for trigger in ExitReason.allCases { report.exitsByTrigger["\(trigger.label)"] = risk.counters.exitsByTrigger[trigger] }
        for kind in ReportCounts.kinds { report.reports["\(kind.label)"] = risk.counters.reports[kind: kind] }
        report.cancelRequests = risk.counters.cancelRequests
        let processor = feed.processor
        report.messages += linesWithoutTime
        report.decodeErrors = processor.counters.decodeErrors + linesWithoutTime + messagesNotDelivered
            + (pacedFeed?.refused.load(ordering: .relaxed) ?? 0)
        report.unsupportedMessages = processor.counters.unsupportedMessages
        report.depthGaps = processor.counters.depthGaps
        report.snapshotsSynced = processor.counters.snapshotsSynced
        report.booksUnsynced = processor.booksUnsynced
        report.latency = LatencyRow.rows(stats)
        report.denials = risk.counters.denials
        for r in DenialReason.allCases {
            let count = risk.risk.deniedByReason[Int(r.rawValue) & 63]
            if count > 0 { report.denialsByReason["\(r)"] = count }
        }
        report.realisedPnl = money(positions.realisedMoney)
        report.unrealisedPnl = money(positions.unrealisedMoney)
        report.fees = money(positions.feesMoney)
        report.openFees = money(positions.roundTrips.openFeesMoney)
        report.finalEquity = money(positions.equityMoney)
        report.netPnl = money(positions.equityMoney - positions.startingCapitalMoney)

        report.roundTrips = trips.map { EngineSnapshotBuilder.record($0, symbols: symbols) }
        report.trades = positions.roundTrips.closed
        if !trips.isEmpty {
            report.winRate = Double(trips.count { $0.netMoney > 0 }) / Double(trips.count)
            report.winRateGross = Double(trips.count { $0.grossMoney > 0 }) / Double(trips.count)
        }

        if statistics { addStatistics(to: &report, positions: positions) }
        for (s, name) in symbols.enumerated() {
            let scale = pow(10, Double(specs[s].quantityDecimals))
            report.maxAbsPosition[name] = Double(maxAbs[s]) / scale
            report.positionLimit[name] = Double(specs[s].positionLimitUnits) / scale
        }
        return report
    }

    /// The curves, the Sharpe ratios and the per-strategy results of `current`.
    func addStatistics(to report: inout ReplayReport, positions: Positions) {
        func money(_ m: Int64) -> Double { Double(m) / Double(MoneyScale.one) }
        // The curves: the samples, then the equity now (the last point is the final equity).
        let endNs = max(lastRecv, trips.last?.exitWallNs ?? 0).ns
        let equity = report.finalEquity
        let drawdown = peak > 0 ? max(0, (max(peak, equity) - equity) / max(peak, equity)) : 0
        let points = samples + [(endNs, equity, drawdown)]
        report.equityCurve = points.map { [Double($0.wallNs), $0.equity] }
        report.drawdownCurve = points.map { [Double($0.wallNs), $0.drawdown] }
        let perYear = 365 * 86_400 * 1e9 / Double(curveIntervalNs)
        var returns: [Double] = []
        for k in samples.indices.dropFirst() where samples[k - 1].equity > 0 {
            returns.append(samples[k].equity / samples[k - 1].equity - 1)
        }
        report.sharpe = ReplayStatistics.sharpe(returns, periodsPerYear: perYear)
        report.sharpeSamples = returns.count

        for s in 0..<strategyPnl.count {
            let id = StrategyId(s)
            let own = trips.filter { $0.strategy == id }
            let view = positions.strategy(id)
            guard !own.isEmpty || view.feesMoney != 0 else { continue }
            var r = StrategyResult()
            r.trades = own.count
            r.grossPnl = money(own.reduce(0) { $0 &+ $1.grossMoney })
            r.netPnl = money(own.reduce(0) { $0 &+ $1.netMoney })
            r.fees = money(own.reduce(0) { $0 &+ $1.feesMoney })
            if !own.isEmpty {
                r.winRateNet = Double(own.count { $0.netMoney > 0 }) / Double(own.count)
                r.winRateGross = Double(own.count { $0.grossMoney > 0 }) / Double(own.count)
            }
            r.unrealisedPnl = money(view.unrealisedMoney)
            r.openFees = money(positions.openFeesMoney(strategy: id))
            let curve = strategyPnl[s].map(money) + [money(pnl(view))]
            r.maxDrawdownMoney = ReplayStatistics.maxDrawdown([0] + curve)
            var strategyReturns: [Double] = []
            for k in samples.indices.dropFirst() where samples[k - 1].equity > 0 {
                strategyReturns.append(money(strategyPnl[s][k] - strategyPnl[s][k - 1]) / samples[k - 1].equity)
            }
            r.sharpe = ReplayStatistics.sharpe(strategyReturns, periodsPerYear: perYear)
            r.sharpeSamples = strategyReturns.count
            report.byStrategy[EngineSnapshotBuilder.strategyName(id)] = r
        }
    }

}

/// Recorded files in the order a replay reads them: by their first receive time, each
/// ending before the next begins.
public enum ReplayInput {
    /// One file's span of receive times (the first and last line's `<receive ns>`).
    public struct Span: Sendable, Equatable {
        public var name: String
        public var firstNs: Int64
        public var lastNs: Int64
        public init(name: String, firstNs: Int64, lastNs: Int64) {
            self.name = name
            self.firstNs = firstNs
            self.lastNs = lastNs
        }
    }

    /// The first and last receive times of a recording (nil: no line is a message).
    public static func span(name: String, _ bytes: [UInt8]) -> Span? {
        func stamp(at start: Int) -> Int64? {
            var end = start
            while end < bytes.count, bytes[end] != 10 { end += 1 }
            guard case .message(let ns, _) = RecordingLine.parse(bytes[start..<end]) else { return nil }
            return ns
        }
        var first: Int64?
        var i = 0
        while i < bytes.count, first == nil {
            first = stamp(at: i)
            while i < bytes.count, bytes[i] != 10 { i += 1 }
            i += 1
        }
        guard let first else { return nil }
        var last = first
        var end = bytes.count
        while end > 0 {
            var start = end - 1
            while start > 0, bytes[start - 1] != 10 { start -= 1 }
            if let t = stamp(at: start) { last = t; break }
            end = start
        }
        return Span(name: name, firstNs: first, lastNs: last)
    }

    /// The indices of `spans` by first receive time; throws naming two files whose spans
    /// overlap (their lines would interleave, which a replay cannot do).
    public static func order(_ spans: [Span]) throws(ReplayInputError) -> [Int] {
        let order = spans.indices.sorted { spans[$0].firstNs < spans[$1].firstNs }
        for (a, b) in zip(order, order.dropFirst()) where spans[b].firstNs <= spans[a].lastNs {
            throw ReplayInputError(description: "\(spans[a].name) (\(spans[a].firstNs)...\(spans[a].lastNs) ns) and "
                                   + "\(spans[b].name) (\(spans[b].firstNs)...\(spans[b].lastNs) ns) overlap in time: "
                                   + "give recordings that follow one another")
        }
        return order
    }
}

/// Why recorded files cannot be replayed together.
public struct ReplayInputError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// The consumer ends of the journal rings, for a process that drains them itself.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
final class JournalConsumers: Agent {
    let roleName = "journal.discard"

    @exclusivity(unchecked) var signals: RingConsumer<SignalEvent>
    @exclusivity(unchecked) var orders: RingConsumer<OrderEvent>
    @exclusivity(unchecked) var fills: RingConsumer<FillEvent>
    @exclusivity(unchecked) var risk: RingConsumer<RiskEvent>
    @exclusivity(unchecked) var bars: RingConsumer<BarEvent>
    @exclusivity(unchecked) var market: RingConsumer<MarketEvent>

    init(region: SharedRegion) throws {
        signals = try region.consumer(of: SignalEvent.self, ring: "journal.signals")
        orders = try region.consumer(of: OrderEvent.self, ring: "journal.orders")
        fills = try region.consumer(of: FillEvent.self, ring: "journal.fills")
        risk = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
        bars = try region.consumer(of: BarEvent.self, ring: "journal.bars")
        market = try region.consumer(of: MarketEvent.self, ring: "journal.market")
    }

    /// Empties the journal rings (nothing here reads them: recent activity comes from the view).
    func doWork(now: DutyCycleTime) -> Int {
        signals.drain(limit: 1_024) { _, _ in } + orders.drain(limit: 1_024) { _, _ in } + fills.drain(limit: 1_024) { _, _ in }
            + risk.drain(limit: 1_024) { _, _ in } + bars.drain(limit: 1_024) { _, _ in } + market.drain(limit: 1_024) { _, _ in }
    }
}
