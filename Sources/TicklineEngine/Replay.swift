#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineConfig
import TicklineCore
import TicklineExecution
import TicklineMarketData
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

/// What a replay (backtest) did: `tickline replay --json` prints it as one line.
public struct ReplayReport: Codable, Sendable {
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
    /// Round trips closed (a (strategy, symbol) position back to flat) and the fraction that
    /// made money after fees.
    public var trades: UInt64 = 0
    public var winRate: Double = 0
    public var realisedPnl: Double = 0
    public var unrealisedPnl: Double = 0
    public var fees: Double = 0
    public var startingEquity: Double = 0
    public var finalEquity: Double = 0
    /// Largest fall from a peak of equity, as a fraction of that peak.
    public var maxDrawdown: Double = 0
    /// Mean over standard deviation of per-minute equity returns, × √(minutes per year).
    public var sharpe: Double = 0
    /// Largest |net position| seen per symbol, and its limit, in the symbol's quantity.
    public var maxAbsPosition: [String: Double] = [:]
    public var positionLimit: [String: Double] = [:]
    public var decodeErrors: UInt64 = 0
    public var depthGaps: UInt64 = 0
    /// (wall ns, equity) once a minute of replayed time: the equity curve.
    public var equityCurve: [[Double]] = []

    enum CodingKeys: String, CodingKey {
        case messages, events, seconds, signals, orders, fills, exits, denials, trades, fees, sharpe
        case eventsPerSecond = "events_per_second", denialsByReason = "denials_by_reason", winRate = "win_rate"
        case realisedPnl = "realised_pnl", unrealisedPnl = "unrealised_pnl", startingEquity = "starting_equity"
        case finalEquity = "final_equity", maxDrawdown = "max_drawdown", maxAbsPosition = "max_abs_position"
        case positionLimit = "position_limit", decodeErrors = "decode_errors", depthGaps = "depth_gaps"
        case equityCurve = "equity_curve"
    }
}

/// A backtest over recorded data through exactly the live stages (strategy, risk, paper
/// venue agents on real rings in a private region), on one thread with a simulated clock:
/// each recorded message's receive time is "now" for every stage. The feed side is the
/// live feed's per-message code (`BinanceFeedProcessor`) publishing to the same rings.
public final class ReplayEngine {
    public let symbols: [String]
    let instruments: InstrumentTable
    let processor: BinanceFeedProcessor
    let region: SharedRegion
    let strategy: StrategyAgent<NoCustomStrategy>
    let risk: RiskAgent
    let execution: ExecutionAgent
    var market: RingProducer<MarketEvent>
    var venueMarket: RingProducer<MarketEvent>
    var depth: RingProducer<DepthSnapshot>
    var venueDepth: RingProducer<DepthSnapshot>
    var control: RingProducer<ControlCommand>
    /// The journal rings' consumer ends when this process drains them; nil when a writer
    /// process does (each ring has one consumer).
    let journals: JournalConsumers?
    /// Per-stage and tick-to-order latency (real clock only: `demo`).
    public let stats = StatsBoard()
    let specs: [InstrumentRiskSpec]
    let startingCapital: Double

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
    ///     a symbol without one gets `fallbackSpec`), venue.
    /// - Parameters:
    ///   - startNowNs, startWallNs: the clock at start (0, 0 for a simulated clock that starts
    ///     at the first message's receive time).
    ///   - sharedInstance: nil = a private region (gone with the process); else the region is
    ///     `/dev/shm/tickline-<sharedInstance>`, for a writer process to attach to (the demo),
    ///     removed by `close()`.
    ///   - drainsJournals: false when a writer process drains the journal rings.
    public init(symbols: [String], config: EngineConfig, fallbackSpec: InstrumentRiskSpec,
                startNowNs: Nanos = 0, startWallNs: Nanos = 0, sharedInstance: String? = nil,
                drainsJournals: Bool = true) throws {
        self.symbols = symbols
        var specs: [InstrumentRiskSpec] = []
        var tableSpecs: [InstrumentSpec] = []
        for (i, s) in symbols.enumerated() {
            let spec = config.risk.instruments.first { $0.symbol == s }?.spec ?? fallbackSpec
            specs.append(spec)
            tableSpecs.append(InstrumentSpec(symbol: s, id: InstrumentId(i), priceDecimals: spec.priceDecimals,
                                             quantityDecimals: spec.quantityDecimals))
        }
        self.specs = specs
        instruments = try InstrumentTable(tableSpecs)
        processor = BinanceFeedProcessor(instruments: instruments, bookCapacityPerSide: 5_000)
        let rings = RingCatalog.defaultSpecs.map {
            RingSpec(name: $0.name, slotSize: $0.slotSize, capacity: min($0.capacity, 1 << 14), overflow: $0.overflow)
        }
        let instance = sharedInstance ?? "replay-\(getpid())-\(UInt32.random(in: 0...UInt32.max) % 100_000)"
        (region, _) = try SharedRegion.create(instance: instance, rings: rings)
        if sharedInstance == nil { region.unlink() }  // private: gone with the process
        var strategySettings = config.strategies.settings
        if strategySettings.smaCrossover.isEmpty && strategySettings.emaADXTrend.isEmpty && strategySettings.zScoreMeanReversion.isEmpty
            && strategySettings.rsiBollingerReversal.isEmpty && strategySettings.vote.isEmpty && strategySettings.pairs.isEmpty {
            strategySettings = Self.defaultStrategies(symbols: symbols.count)
        }
        strategySettings.symbolCount = max(strategySettings.symbolCount, symbols.count)
        strategy = StrategyAgent(settings: strategySettings,
                                 market: try region.consumer(of: MarketEvent.self, ring: "market"),
                                 signals: try region.producer(of: SignalEvent.self, ring: "signals"),
                                 barJournal: try region.producer(of: BarEvent.self, ring: "journal.bars"),
                                 wallClockOffsetNs: startWallNs - startNowNs)
        var riskSettings = RiskStageSettings(config: config.risk, instance: instance)
        riskSettings.instruments = specs
        riskSettings.strategyCapacity = max(config.risk.strategies, 8)
        riskSettings.journalPath = nil  // a backtest journals nothing to disk
        risk = try RiskAgent(settings: riskSettings, region: region, stats: stats, nowNs: startNowNs, wallNs: startWallNs)
        execution = try ExecutionAgent(venue: config.risk.venue, instrumentCapacity: symbols.count, region: region,
                                       wallOffsetNs: startWallNs - startNowNs)
        market = try region.producer(of: MarketEvent.self, ring: "market")
        venueMarket = try region.producer(of: MarketEvent.self, ring: "market.venue")
        depth = try region.producer(of: DepthSnapshot.self, ring: "depth")
        venueDepth = try region.producer(of: DepthSnapshot.self, ring: "depth.venue")
        control = try region.producer(of: ControlCommand.self, ring: "control.risk")
        journals = drainsJournals ? try JournalConsumers(region: region) : nil
        startingCapital = Double(config.risk.limits.startingCapitalMoney) / Double(MoneyScale.one)
        report.startingEquity = startingCapital
        maxAbs = [Int64](repeating: 0, count: symbols.count)
        wasFlat = [Bool](repeating: true, count: symbols.count * 64)
        realisedAtOpen = [Int64](repeating: 0, count: symbols.count * 64)
    }

    // Accumulated while stepping.
    var report = ReplayReport()
    var peak = 0.0
    var maxAbs: [Int64] = []
    var lastMinute: Int64 = -1
    var minuteEquity: [Double] = []
    var wasFlat: [Bool] = []
    var realisedAtOpen: [Int64] = []
    var lastNowNs: Int64 = 0
    var startedNs: Int64 = 0

    /// Replays `recording` (lines `<receive ns> <json>`). `pace`: 0 = as fast as possible,
    /// else replayed seconds per wall second. `progress` gets the fraction done now and then.
    public func run(_ recording: [UInt8], pace: Double = 0, progress: (Double) -> Void = { _ in }) -> ReplayReport {
        let startWall = Clock.monotonicNs()
        var firstRecv: Int64 = 0
        var nextProgress = 0
        recording.withUnsafeBytes { raw in
            var i = 0
            let n = raw.count
            while i < n {
                var end = i
                while end < n && raw[end] != 10 { end += 1 }
                defer { i = end + 1 }
                guard end > i else { continue }
                // "<receive ns> <json>"
                var recv: Int64 = 0
                var j = i
                while j < end, raw[j] >= 48, raw[j] <= 57 { recv = recv * 10 + Int64(raw[j] - 48); j += 1 }
                guard j < end, raw[j] == 32 else { report.decodeErrors += 1; continue }
                if firstRecv == 0 { firstRecv = recv }
                if pace > 0 {
                    let due = startWall + Int64(Double(recv - firstRecv) / pace)
                    while Clock.monotonicNs() < due { usleep(200) }
                }
                // Simulated clock: the receive time is "now" for every stage.
                step(UnsafeRawBufferPointer(rebasing: raw[(j + 1)..<end]), receiveWallNs: recv, nowNs: recv)
                let done = Int(Double(i) / Double(max(n, 1)) * 100)
                if done >= nextProgress { progress(Double(done) / 100); nextProgress = done + 1 }
            }
        }
        progress(1)
        return finish(elapsedSeconds: Double(Clock.monotonicNs() - startWall) / 1e9)
    }

    /// One message through the feed code and one duty cycle of every stage (until idle) at
    /// `nowNs`, then the report's bookkeeping. `receiveWallNs` stamps the events.
    public func step(_ json: UnsafeRawBufferPointer, receiveWallNs recv: Int64, nowNs: Int64) {
        runStages(json, receiveWallNs: recv, nowNs: nowNs)
        account(recv)
    }

    /// `step` without the report's bookkeeping (which grows the equity curve): the live
    /// stages' path alone, what the allocation gate measures per message.
    public func runStages(_ json: UnsafeRawBufferPointer, receiveWallNs recv: Int64, nowNs: Int64) {
        if report.messages == 0 {
            peak = report.startingEquity
            startedNs = nowNs
        }
        report.messages += 1
        lastNowNs = nowNs
        var chain = TimestampChain()
        chain.socketReadNs = nowNs
        switch processor.process(json, receiveWallNs: recv, timestamps: chain) {
        case .marketEvent:
            let e = stamped(processor.event)
            push(e, recv)
            report.events += 1
            // A feed without depth diffs (or before its book syncs): the quote is the book
            // that risk marks against and the venue fills against, one level a side.
            if e.kind == .quote, Int(e.instrument) < processor.books.count,
               processor.books[Int(e.instrument)].state != .synced {
                var d = DepthSnapshot(sequence: e.sequence, instrument: e.instrument, priceDecimals: e.priceDecimals,
                                      quantityDecimals: e.quantityDecimals)
                d.bids[0] = BookLevel(price: e.bidPrice, quantity: e.bidQuantity)
                d.asks[0] = BookLevel(price: e.askPrice, quantity: e.askQuantity)
                d.bidLevels = 1
                d.askLevels = 1
                d.receiveWallNs = recv
                d.socketReadNs = e.timestamps.socketReadNs
                d.decodedNs = e.timestamps.decodedNs
                _ = depth.tryPush(d)
                _ = venueDepth.tryPush(d)
            }
        case .bookUpdated, .snapshotLoaded:
            push(stamped(processor.event), recv)
            var d = processor.depth
            d.decodedNs = Clock.monotonicNs()
            _ = depth.tryPush(d)
            _ = venueDepth.tryPush(d)
            report.events += 1
        case .bookGap, .bookResync:
            report.depthGaps += 1
        case .decodeFailed:
            report.decodeErrors += 1
        case .bookPending, .control:
            break
        }
        var work = 1
        var cycles = 0
        while work > 0 && cycles < 64 {
            work = strategy.doWork(nowNs: nowNs) + risk.doWork(nowNs: nowNs) + execution.doWork(nowNs: nowNs)
            cycles += 1
        }
        drainJournals()
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

    /// Empties the journal rings (nothing here reads them: recent activity comes from the view).
    func drainJournals() {
        guard let j = journals else { return }
        _ = j.signals.drain(limit: 1_024) { _, _ in }
        _ = j.orders.drain(limit: 1_024) { _, _ in }
        _ = j.fills.drain(limit: 1_024) { _, _ in }
        _ = j.risk.drain(limit: 1_024) { _, _ in }
        _ = j.bars.drain(limit: 1_024) { _, _ in }
    }

    /// Queues a control command for the risk stage (taken at its next duty cycle).
    public func send(_ command: ControlCommand) -> Bool { control.tryPush(command) }

    /// The risk stage (positions, orders, limits) for views; read on the stepping thread.
    public var riskStage: RiskAgent { risk }

    /// The decoded stamp (a simulated clock leaves it at the read time).
    @inline(__always)
    func stamped(_ e: MarketEvent) -> MarketEvent {
        var e = e
        e.timestamps.decodedNs = max(Clock.monotonicNs(), e.timestamps.socketReadNs)
        return e
    }

    func account(_ recv: Int64) {
        let positions = risk.risk.positions
        for s in 0..<symbols.count {
            maxAbs[s] = max(maxAbs[s], abs(positions.quantity(instrument: InstrumentId(s))))
        }
        // Round trips: a (strategy, symbol) position that goes back to flat.
        if risk.counters.fills != report.fills {
            report.fills = risk.counters.fills
            for st in 0..<min(64, risk.settings.strategyCapacity) {
                for s in 0..<symbols.count {
                    let view = positions.position(strategy: StrategyId(st), instrument: InstrumentId(s))
                    let k = st * symbols.count + s
                    let flat = view.quantityUnits == 0
                    if wasFlat[k] && !flat { realisedAtOpen[k] = view.realisedMoney - view.feesMoney }
                    if !wasFlat[k] && flat {
                        report.trades += 1
                        if view.realisedMoney - view.feesMoney > realisedAtOpen[k] { report.winRate += 1 }
                    }
                    wasFlat[k] = flat
                }
            }
        }
        let equity = Double(positions.equityMoney) / Double(MoneyScale.one)
        peak = max(peak, equity)
        if peak > 0 { report.maxDrawdown = max(report.maxDrawdown, (peak - equity) / peak) }
        let minute = recv / 60_000_000_000
        if minute != lastMinute {
            lastMinute = minute
            minuteEquity.append(equity)
            report.equityCurve.append([Double(recv), equity])
        }
    }

    /// Lets the venue's last reports arrive (its latency past the last message) and builds
    /// the report.
    public func finish(elapsedSeconds: Double) -> ReplayReport {
        for step in 1...100 {
            let now = lastNowNs + Int64(step) * 10_000_000
            _ = strategy.doWork(nowNs: now) + risk.doWork(nowNs: now) + execution.doWork(nowNs: now)
        }
        risk.publishView(nowNs: lastNowNs + 100 * 10_000_000)
        return current(elapsedSeconds: elapsedSeconds)
    }

    /// The report so far.
    public func current(elapsedSeconds: Double) -> ReplayReport {
        var report = self.report
        let positions = risk.risk.positions
        report.seconds = elapsedSeconds
        report.eventsPerSecond = elapsedSeconds > 0 ? Double(report.events) / elapsedSeconds : 0
        report.signals = risk.counters.signals
        report.orders = risk.counters.orders
        report.fills = risk.counters.fills
        report.exits = risk.counters.exits
        for trigger in ExitReason.allCases { report.exitsByTrigger["\(trigger.label)"] = risk.counters.exitsByTrigger[trigger] }
        for kind in ReportCounts.kinds { report.reports["\(kind.label)"] = risk.counters.reports[kind: kind] }
        report.cancelRequests = risk.counters.cancelRequests
        report.denials = risk.counters.denials
        for r in DenialReason.allCases {
            let count = risk.risk.deniedByReason[Int(r.rawValue) & 63]
            if count > 0 { report.denialsByReason["\(r)"] = count }
        }
        report.winRate = report.trades > 0 ? report.winRate / Double(report.trades) : 0
        report.realisedPnl = Double(positions.realisedMoney) / Double(MoneyScale.one)
        report.unrealisedPnl = Double(positions.unrealisedMoney) / Double(MoneyScale.one)
        report.fees = Double(positions.feesMoney) / Double(MoneyScale.one)
        report.finalEquity = Double(positions.equityMoney) / Double(MoneyScale.one)
        var returns: [Double] = []
        for k in 1..<max(minuteEquity.count, 1) where minuteEquity[k - 1] > 0 { returns.append(minuteEquity[k] / minuteEquity[k - 1] - 1) }
        if returns.count > 1 {
            let mean = returns.reduce(0, +) / Double(returns.count)
            let sd = (returns.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(returns.count - 1)).squareRoot()
            report.sharpe = sd > 0 ? mean / sd * (525_600.0).squareRoot() : 0
        }
        for (s, name) in symbols.enumerated() {
            let scale = pow(10, Double(specs[s].quantityDecimals))
            report.maxAbsPosition[name] = Double(maxAbs[s]) / scale
            report.positionLimit[name] = Double(specs[s].positionLimitUnits) / scale
        }
        return report
    }

    @inline(__always)
    func push(_ e: MarketEvent, _ recv: Int64) {
        _ = market.tryPush(e)
        if e.kind == .trade { _ = venueMarket.tryPush(e) }
    }
}

/// The consumer ends of the journal rings, for a process that drains them itself.
final class JournalConsumers {
    var signals: RingConsumer<SignalEvent>
    var orders: RingConsumer<OrderEvent>
    var fills: RingConsumer<FillEvent>
    var risk: RingConsumer<RiskEvent>
    var bars: RingConsumer<BarEvent>

    init(region: SharedRegion) throws {
        signals = try region.consumer(of: SignalEvent.self, ring: "journal.signals")
        orders = try region.consumer(of: OrderEvent.self, ring: "journal.orders")
        fills = try region.consumer(of: FillEvent.self, ring: "journal.fills")
        risk = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
        bars = try region.consumer(of: BarEvent.self, ring: "journal.bars")
    }
}
