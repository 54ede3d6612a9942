#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineConfig
import TicklineControl
import TicklineCore
import TicklineExecution
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

/// How the risk stage is set up (the `risk:` section, once wired from YAML).
public struct RiskStageSettings: Sendable {
    public var limits: RiskLimits
    /// Per instrument id (index = `InstrumentId`): decimals, tick/step, venue min/max, limits.
    public var instruments: [InstrumentRiskSpec]
    public var strategyCapacity: Int
    /// Open plus recently ended orders the table keeps.
    public var orderCapacity: Int = 4_096
    public var exits = ExitMonitorConfig()
    /// Entries are limit orders at the signal's price with this time in force (IOC:
    /// marketable or cancelled, never resting on stale prices). Exits are market orders.
    public var entryTimeInForce: TimeInForce = .immediateOrCancel
    /// The kill switch (`killSwitch` command) also flattens every position.
    public var flattenOnKill = true
    /// A halt also cancels the resting entry orders in its scope (exits stay).
    public var cancelEntriesOnHalt = false
    /// The append-only journal file (nil: none, for tests and benchmarks).
    public var journalPath: String?
    public var journalFsync = false
    /// After a failed journal write (the stage halts and sends nothing unjournaled): wait for
    /// a resume command, or retry by itself every `journalRetryIntervalNs`.
    public var onJournalError: JournalErrorPolicy = .halt
    public var journalRetryIntervalNs: Nanos = 1_000_000_000
    /// Outbox slots entries may fill while the `orders` ring refuses; then signals stay in
    /// their ring.
    public var outboxEntries = 256
    /// Outbox slots kept for reduce-only orders and cancel requests on top of `outboxEntries`.
    public var outboxReduceOnly = 1_024
    /// Events taken from each ring per duty cycle.
    public var batchLimit = 256
    /// The engine view (`RiskAgent.view`) is published at most this often, risk clock ns.
    public var viewIntervalNs: Nanos = 100_000_000
    /// Positions (strategy × instrument slots) the view scans per duty cycle: a publish is
    /// spread over as many cycles as the slots need, so no cycle does more than this.
    public var viewSlotsPerCycle = 1_024
    /// The view's equity curve takes a sample at most this often, risk clock ns.
    public var viewEquitySampleNs: Nanos = 1_000_000_000

    public init(limits: RiskLimits = RiskLimits(), instruments: [InstrumentRiskSpec], strategyCapacity: Int) {
        self.limits = limits
        self.instruments = instruments
        self.strategyCapacity = strategyCapacity
    }

    /// From the `risk:` section; instrument ids are the order of `risk.instruments`.
    public init(config: RiskConfig, instance: String) {
        self.init(limits: config.limits, instruments: config.instruments.map(\.spec), strategyCapacity: config.strategies)
        orderCapacity = config.orderCapacity
        exits = config.exits
        entryTimeInForce = config.entryTimeInForce
        flattenOnKill = config.flattenOnKill
        cancelEntriesOnHalt = config.cancelEntriesOnHalt
        journalPath = config.journal.isEmpty ? nil : config.journal.replacingOccurrences(of: "{instance}", with: instance)
        journalFsync = config.journalFsync
        onJournalError = config.onJournalError
    }
}

/// Counters of the risk stage (read by its owner; the engine copies them to its StatsBoard).
/// Each count means one thing wherever it is shown (live view, `--json`, `/api/snapshot`,
/// `/metrics`) and equals what the journal holds of it.
public struct RiskStageCounters: Sendable, Equatable, BitwiseCopyable {
    public var signals: UInt64 = 0
    /// New orders sent to the venue: entries and exits (`exits` of them are exits).
    public var orders: UInt64 = 0
    /// Exit orders sent (reduce-only), a part of `orders`; by trigger in `exitsByTrigger`.
    public var exits: UInt64 = 0
    public var exitsByTrigger = ExitTriggerCounts()
    /// Cancel requests sent (the kill switch): order requests that are not orders.
    public var cancelRequests: UInt64 = 0
    /// Signals and exits denied (by reason: `PreTradeRisk.deniedByReason` and `tableFullDenials`).
    public var denials: UInt64 = 0
    /// Executions: venue reports with quantity > 0.
    public var fills: UInt64 = 0
    /// Venue reports that change an order's state without an execution, by kind.
    public var reports = ReportCounts()
    public var refusedReports: UInt64 = 0
    public var overfills: UInt64 = 0
    public var ordersRingFull: UInt64 = 0
    public var journalRingsFull: UInt64 = 0
    public var commands: UInt64 = 0
    public var badCommands: UInt64 = 0
    /// Nanoseconds the stage left signals in their ring because the outbox had no room for
    /// entries (the `orders` ring refused).
    public var signalsBlockedNs: UInt64 = 0
    /// Journal appends that failed (nothing of their batch was sent).
    public var journalWriteErrors: UInt64 = 0
    /// Kill-switch cancels the full outbox could not take: the order is left working (its
    /// cancel taken back) for the next kill or cancel.
    public var cancelsNotQueued: UInt64 = 0
    public init() {}
}

/// Exit orders sent, by what triggered them.
public struct ExitTriggerCounts: Sendable, Equatable, BitwiseCopyable {
    var counts: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    public init() {}

    public subscript(_ trigger: ExitReason) -> UInt64 {
        get {
            switch trigger {
            case .takeProfit: return counts.0
            case .stopLoss: return counts.1
            case .trailingStop: return counts.2
            case .timeStop: return counts.3
            case .sessionEnd: return counts.4
            case .flatten: return counts.5
            case .killSwitch: return counts.6
            }
        }
        set {
            switch trigger {
            case .takeProfit: counts.0 = newValue
            case .stopLoss: counts.1 = newValue
            case .trailingStop: counts.2 = newValue
            case .timeStop: counts.3 = newValue
            case .sessionEnd: counts.4 = newValue
            case .flatten: counts.5 = newValue
            case .killSwitch: counts.6 = newValue
            }
        }
    }

    public static func == (a: Self, b: Self) -> Bool { ExitReason.allCases.allSatisfy { a[$0] == b[$0] } }
}

/// Venue reports that change an order's state without an execution, by kind.
public struct ReportCounts: Sendable, Equatable, BitwiseCopyable {
    public var accepted: UInt64 = 0
    public var cancelled: UInt64 = 0
    public var expired: UInt64 = 0
    public var rejected: UInt64 = 0
    public init() {}

    /// The kinds, in the order shown (names: `OrderStatus.label`).
    public static let kinds: [OrderStatus] = [.accepted, .cancelled, .expired, .rejected]

    /// The count of one kind (0 for a status that is not one).
    public subscript(kind kind: OrderStatus) -> UInt64 {
        switch kind {
        case .accepted: return accepted
        case .cancelled: return cancelled
        case .expired: return expired
        case .rejected: return rejected
        default: return 0
        }
    }

    public var total: UInt64 { accepted &+ cancelled &+ expired &+ rejected }

    /// Counts one report by its status (statuses that are not state changes are not counted).
    mutating func count(_ status: OrderStatus?) {
        switch status {
        case .accepted?: accepted &+= 1
        case .cancelled?: cancelled &+= 1
        case .expired?: expired &+= 1
        case .rejected?: rejected &+= 1
        default: break
        }
    }
}

/// The risk stage: every signal becomes an order or a denial (journaled with its
/// reason, never dropped); venue reports update the order table, positions and PnL;
/// every book update marks positions, runs the post-trade exits and the circuit breakers;
/// control commands change states and limits. Write-ahead: an order goes to the venue ring
/// only after its journal record is in the journal file (and synced with `journalFsync`).
/// When a write fails nothing of that duty cycle's orders is sent: the stage halts (a risk
/// event with reason `journalUnwritable`), holds their signals, and decides them again once
/// a write succeeds (after a resume command, or by itself with `onJournalError: .retry`),
/// denying those older than the reference price's maximum age (`heldTooLong`).
///
/// Backpressure: orders wait in a fixed outbox while the `orders` ring refuses; once the
/// part entries may use is full the stage leaves signals in their ring (counted in
/// `signalsBlockedNs`) while reports, books, exits and control commands go on.
///
/// Rings: consumes `signals`, `fills`, `depth`, `control.risk`; produces `orders` and the
/// journal rings `journal.signals|orders|fills|risk`. Owned by one runner thread; no
/// allocation per event (buffers reserved in `init`). Other threads see positions, orders,
/// PnL and recent activity only through `view` (seqlock-protected, published every
/// `viewIntervalNs`, at most `viewSlotsPerCycle` position slots scanned per duty cycle).
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class RiskAgent: Agent {
    public let roleName = "risk"
    let settings: RiskStageSettings
    @exclusivity(unchecked) var signals: RingConsumer<SignalEvent>
    @exclusivity(unchecked) var reports: RingConsumer<FillEvent>
    @exclusivity(unchecked) var depth: RingConsumer<DepthSnapshot>
    @exclusivity(unchecked) var control: RingConsumer<ControlCommand>
    @exclusivity(unchecked) var orders: RingProducer<OrderEvent>
    @exclusivity(unchecked) var journalSignals: RingProducer<SignalEvent>
    @exclusivity(unchecked) var journalOrders: RingProducer<OrderEvent>
    @exclusivity(unchecked) var journalFills: RingProducer<FillEvent>
    @exclusivity(unchecked) var journalRisk: RingProducer<RiskEvent>

    @exclusivity(unchecked) public private(set) var risk: PreTradeRisk
    @exclusivity(unchecked) public private(set) var table: OrderTable
    @exclusivity(unchecked) public private(set) var exits: ExitMonitor
    @exclusivity(unchecked) public private(set) var breakers: CircuitBreakers
    @exclusivity(unchecked) public private(set) var counters = RiskStageCounters()
    @exclusivity(unchecked) var encoder = JournalEncoder()
    public let journal: JournalFile?
    @exclusivity(unchecked) var journalBytes: [UInt8] = []
    /// Orders on their way to the venue ring (journaled first).
    @exclusivity(unchecked) public private(set) var outbox: RiskOutbox
    /// Signals whose orders could not be journaled, to be decided again when a write succeeds.
    @exclusivity(unchecked) var held: FixedQueue<DecidedOrder>
    /// The `errno` of the failed journal write the stage is halted for (0: healthy).
    @exclusivity(unchecked) public private(set) var journalErrno: Int32 = 0
    @exclusivity(unchecked) var journalResumeRequested = false
    @exclusivity(unchecked) var nextJournalRetryNs: MonotonicNanos = 0
    /// The global state to return to when the journal is writable again (retry policy).
    @exclusivity(unchecked) var stateAfterJournal: TradingState = .active
    /// Since when signals have been left in their ring (nil: not blocked).
    @exclusivity(unchecked) var signalsBlockedSinceNs: MonotonicNanos?
    @exclusivity(unchecked) var riskSequence: UInt64 = 0
    /// The time of the duty cycle under way (both clocks, as the runner passed them): every
    /// decision and every wall time this stage writes comes from it.
    @exclusivity(unchecked) var cycle: DutyCycleTime
    /// The real monotonic clock read once at the start of the duty cycle: the latency stamp
    /// (`riskDecidedNs`) of what this stage decides in it, even when `cycle` is simulated.
    @exclusivity(unchecked) var batchStampNs: MonotonicNanos = 0
    /// Optional telemetry (per-stage latency, tick-to-order).
    let stats: StatsBoard?
    let strategyLatency: StatsBoard.Histogram?
    let riskLatency: StatsBoard.Histogram?
    let tickToOrder: StatsBoard.Histogram?
    /// What other threads see of this stage (positions, orders, PnL, recent activity),
    /// published every `settings.viewIntervalNs`; see `publishViewWork`.
    public let view = EngineView()
    /// The acknowledgement of each control command, for the control plane (`ControlAcks`).
    public let acks = ControlAcks()
    /// Where the view's position scan is (slot index; nil: no publish under way).
    @exclusivity(unchecked) var viewScanSlot: Int?
    @exclusivity(unchecked) var nextViewNs: MonotonicNanos = 0
    @exclusivity(unchecked) var nextEquitySampleNs: MonotonicNanos = 0

    /// Builds the stage on `region`'s rings; with a journal path, rebuilds positions, open
    /// orders and states from the journal first, and refuses (throws) when it cannot.
    public init(settings: RiskStageSettings, region: SharedRegion, stats: StatsBoard? = nil,
                nowNs: MonotonicNanos = Clock.monotonic(), wallNs: WallNanos = Clock.wall()) throws(EngineError) {
        self.settings = settings
        do {
            signals = try region.consumer(of: SignalEvent.self, ring: "signals")
            reports = try region.consumer(of: FillEvent.self, ring: "fills")
            depth = try region.consumer(of: DepthSnapshot.self, ring: "depth")
            control = try region.consumer(of: ControlCommand.self, ring: "control.risk")
            orders = try region.producer(of: OrderEvent.self, ring: "orders")
            journalSignals = try region.producer(of: SignalEvent.self, ring: "journal.signals")
            journalOrders = try region.producer(of: OrderEvent.self, ring: "journal.orders")
            journalFills = try region.producer(of: FillEvent.self, ring: "journal.fills")
            journalRisk = try region.producer(of: RiskEvent.self, ring: "journal.risk")
        } catch {
            throw EngineError(description: "risk stage: \(error.description)")
        }
        let instruments = settings.instruments.count
        risk = PreTradeRisk(strategyCapacity: settings.strategyCapacity, instrumentCapacity: instruments, limits: settings.limits)
        exits = ExitMonitor(strategyCapacity: settings.strategyCapacity, instrumentCapacity: instruments, config: settings.exits)
        for (i, spec) in settings.instruments.enumerated() {
            risk.register(instrument: InstrumentId(i), spec: spec)
            exits.register(instrument: InstrumentId(i), priceDecimals: spec.priceDecimals, quantityDecimals: spec.quantityDecimals)
        }
        table = OrderTable(capacity: settings.orderCapacity)
        breakers = CircuitBreakers(limits: settings.limits, equityMoney: settings.limits.startingCapitalMoney, wallNs: wallNs)
        journalBytes.reserveCapacity(1 << 20)
        // The kill switch's exits (one per position) and the cancels the outbox refuses (one
        // per order slot at most), reserved so the first kill does not allocate.
        pendingExits.reserveCapacity(settings.strategyCapacity * settings.instruments.count)
        pendingCancelsRefused.reserveCapacity(settings.orderCapacity)
        outbox = RiskOutbox(capacity: settings.outboxEntries + settings.outboxReduceOnly, entryCapacity: settings.outboxEntries)
        held = FixedQueue(capacity: outbox.capacity, filler: DecidedOrder(order: OrderEvent(), exit: false, decidedNs: 0))
        cycle = DutyCycleTime(monotonic: nowNs, wall: wallNs)
        self.stats = stats
        // The strategy stage's latency is recorded here, where its signals arrive (one
        // writer per histogram: this thread).
        strategyLatency = stats?.stageLatency("strategy")
        riskLatency = stats?.stageLatency("risk")
        tickToOrder = stats?.tickToOrder()

        if let path = settings.journalPath {
            do throws(JournalFileError) {
                let file = try JournalFile(path: path, fsync: settings.journalFsync)
                let bytes = try file.readAll()
                switch JournalRecovery.recover(bytes, risk: &risk, orders: &table, nowNs: nowNs) {
                case .failure(let c):
                    throw JournalFileError(description: "the journal \(path) is corrupt at byte \(c.offset) (record \(c.sequence), \(c.error)): "
                                           + "refusing to trade; move it aside after reconciling positions with the venue")
                case .success(let summary):
                    if summary.scan.tornBytes > 0 { try file.truncate(to: summary.scan.validBytes) }
                    encoder = JournalEncoder(after: summary.scan.lastSequence)
                    risk.continueClientOrderIds(after: table.highestClientOrderId)
                    // Baselines, a trip and the kill latch as they were; the first equity
                    // observation rolls the day, week and month from there, as live.
                    if let saved = summary.breakers {
                        breakers.restore(saved)
                        journaledBreakers = saved
                    }
                    recovered = summary
                }
                journal = file
                // Positions rebuilt above get their exits back (take-profit and stop-loss of
                // the entry orders that filled them).
                _ = JournalRecovery.rebuildExits(bytes, risk: risk, exits: &exits, nowNs: wallNs)
            } catch {
                throw EngineError(description: error.description)
            }
        } else {
            journal = nil
        }
        // The first publish here, off the hot path (type metadata the view's code needs is
        // instantiated once, on this thread); the first duty cycle publishes again.
        publishView(nowNs: nowNs)
        nextViewNs = 0
        nextEquitySampleNs = 0
    }

    /// What the journal held at start (nil without a journal).
    @exclusivity(unchecked) public private(set) var recovered: RecoverySummary?
    /// The breakers' state in the last `riskState` record appended (nil: none yet).
    @exclusivity(unchecked) var journaledBreakers: BreakerSnapshot?
    /// A move of the peak alone is journaled no sooner than this (risk clock ns).
    @exclusivity(unchecked) var nextPeakJournalNs: MonotonicNanos = 0

    public var journalPath: String? { journal?.path }

    /// Signals held since a journal write failed.
    public var heldSignalCount: Int { held.count }

    /// One line on what recovery found at start, naming a torn last record it cut off (nil
    /// without a journal).
    public var recoveryReport: String? {
        guard let r = recovered, let path = journal?.path else { return nil }
        var line = "journal \(path): \(r.scan.records) records, \(r.orders) orders, \(r.reports) reports, \(r.openOrders) open orders"
        if r.scan.tornBytes > 0 {
            line += "; cut a torn last record of \(r.scan.tornBytes) bytes at byte \(r.scan.validBytes) (a write cut short)"
        }
        return line
    }

    /// The readiness check of the journal at `path` from a published view: failing while the
    /// stage is halted because the journal refused a write.
    public static func journalReadiness(_ v: EngineViewData, path: String) -> ReadinessCheck {
        guard v.journalErrno != 0 else { return ReadinessCheck(name: "journal", ok: true, detail: "\(path) takes writes") }
        return ReadinessCheck(name: "journal", ok: false,
                              detail: "\(path): write failed (\(String(cString: strerror(v.journalErrno)))): trading halted, "
                                  + "nothing unjournaled sent, \(v.heldSignals) signals held until the journal takes writes")
    }

    public func doWork(now: DutyCycleTime) -> Int {
        cycle = now
        batchStampNs = Clock.monotonic()
        let nowNs = now.monotonic
        var work = drainControl(nowNs: nowNs)
        work += drainReports(nowNs: nowNs)
        work += drainDepth(nowNs: nowNs)
        work += drainSignals(nowNs: nowNs)
        work += exits.checkTime(nowNs: cycle.wall) { signal, trigger in self.handle(exit: signal, trigger: trigger, nowNs: nowNs) }
        journalExitStates(now: cycle)
        work += flush(nowNs: nowNs)
        publishViewWork(nowNs: nowNs)
        return work
    }

    // MARK: Inputs

    /// Takes signals while the outbox has room for their orders; otherwise leaves them in the
    /// ring and counts the time.
    func drainSignals(nowNs: MonotonicNanos) -> Int {
        let room = outbox.entryCapacity - outbox.count - held.count
        if room <= 0 && signals.available(limit: 1) > 0 {
            if let since = signalsBlockedSinceNs { counters.signalsBlockedNs &+= UInt64(max(nowNs - since, 0)) }
            signalsBlockedSinceNs = nowNs
            return 0
        }
        if let since = signalsBlockedSinceNs {
            counters.signalsBlockedNs &+= UInt64(max(nowNs - since, 0))
            signalsBlockedSinceNs = nil
        }
        guard room > 0 else { return 0 }
        return signals.drain(limit: min(settings.batchLimit, room)) { s, _ in
            var signal = s.pointee
            counters.signals &+= 1
            if let stats, let h = strategyLatency, signal.timestamps.decodedNs > 0 {
                stats.record(h, signal.timestamps.signalNs - signal.timestamps.decodedNs)
            }
            view.staging.pointee.recentSignals.append(ViewActivity(signal: signal))
            if !journalSignals.tryPush(signal) { counters.journalRingsFull &+= 1 }
            signal.timestamps.riskDecidedNs = 0
            decide(signal, nowNs: nowNs, exit: nil)
        }
    }

    func drainReports(nowNs: MonotonicNanos) -> Int {
        reports.drain(limit: settings.batchLimit) { r, _ in
            let report = r.pointee
            if report.flags & VenueReportFlags.cancelRejected != 0 {
                if table.cancelRejected(clientOrderId: report.clientOrderId, nowNs: nowNs) != nil {
                    counters.refusedReports &+= 1
                } else {
                    encoder.append(report: report, to: &journalBytes)
                }
                return
            }
            switch table.apply(report: report, nowNs: nowNs) {
            case .applied(let fill):
                onFill(fill, nowNs: nowNs)
            case .overfilled(let fill, let excess):
                counters.overfills &+= 1
                onFill(fill, nowNs: nowNs)
                // Stop trading the symbol until positions are reconciled with the venue.
                let from = risk.state(instrument: fill.instrument)
                if risk.setState(.halted, instrument: fill.instrument) {
                    emitRisk(RiskEvent(kind: .overfill, scope: .symbol, reason: 0, instrument: fill.instrument,
                                       strategy: fill.strategy, fromState: from, toState: .halted, observed: excess, limit: 0,
                                       clientOrderId: fill.clientOrderId, receiveWallNs: cycle.wall))
                }
            case .refused:
                counters.refusedReports &+= 1
            }
        }
    }

    func onFill(_ fill: FillEvent, nowNs: MonotonicNanos) {
        if fill.isExecution {
            counters.fills &+= 1
            view.staging.pointee.recentTrades.append(ViewActivity(fill: fill))
        } else {
            counters.reports.count(fill.status)
        }
        encoder.append(report: fill, to: &journalBytes)
        if !journalFills.tryPush(fill) { counters.journalRingsFull &+= 1 }
        risk.apply(fill: fill)
        let q = risk.positions.quantity(strategy: fill.strategy, instrument: fill.instrument)
        let p = risk.positions.position(strategy: fill.strategy, instrument: fill.instrument)
        let was = exits.watchedQuantity(strategy: fill.strategy, instrument: fill.instrument)
        let previous = exits.plan(strategy: fill.strategy, instrument: fill.instrument)
        // An entry's fill brings its order's plan when the position is now on the order's side
        // (opened, grown or reversed by it). An exit's fill, or an entry of the other side that
        // only reduced the position (a reversal partly filled), leaves what is left under the
        // plan it had: the other side's plan would put its stop on the wrong side of the price.
        var plan = previous
        if let r = table.record(clientOrderId: fill.clientOrderId), r.order.flags & OrderEvent.flagReduceOnly == 0,
           q != 0, (q > 0) == (fill.side == .buy) {
            plan = ExitPlan(takeProfit: r.order.takeProfit, stopLoss: r.order.stopLoss,
                            trailingDistanceUnits: r.order.trailingDistance.units, maxHoldNs: r.order.maxHoldNs)
        }
        exits.setPosition(strategy: fill.strategy, instrument: fill.instrument, quantityUnits: q,
                          entryPriceUnits: p.averagePriceUnits, plan: plan, nowNs: cycle.wall)
        let fresh = q != 0 && (was == 0 || (was > 0) != (q > 0))
        if was != 0 && (q == 0 || fresh) && previous.journalsExitState {
            journalExitState(strategy: fill.strategy, instrument: fill.instrument, cause: .closed)
        }
        if fresh && plan.journalsExitState {
            journalExitState(strategy: fill.strategy, instrument: fill.instrument, cause: .opened)
        }
        observeEquity(nowNs: nowNs)
    }

    /// Journals a position's trailing best and time-stop deadline (restored at a restart).
    func journalExitState(strategy: StrategyId, instrument: InstrumentId, cause: ExitStateCause, trigger: ExitReason? = nil) {
        encoder.append(exitState: ExitStateRecord(
            instrument: instrument, strategy: strategy, cause: cause, trigger: trigger,
            bestPriceUnits: exits.bestPrice(strategy: strategy, instrument: instrument),
            deadlineWallNs: exits.timeStopDeadline(strategy: strategy, instrument: instrument), wallNs: cycle.wall),
            to: &journalBytes)
    }

    /// Trailing bests that moved go to the journal at most once a second per position, and at
    /// most this many per duty cycle (so a cycle's records stay within the journal buffer
    /// reserved at start; the rest go in the next cycles).
    static let exitStateIntervalNs: Nanos = 1_000_000_000
    static let exitStatesPerCycle = 1_024

    /// The cycle's exit states: every position a trailing or time stop was fired for, and the
    /// trailing bests that moved (throttled).
    func journalExitStates(now: DutyCycleTime) {
        let wall = now.wall
        exits.takeFired { strategy, instrument, trigger, best, deadline in
            encoder.append(exitState: ExitStateRecord(instrument: instrument, strategy: strategy, cause: .fired, trigger: trigger,
                                                      bestPriceUnits: best, deadlineWallNs: deadline, wallNs: wall), to: &journalBytes)
        }
        exits.takeMovedBests(nowNs: wall, intervalNs: Self.exitStateIntervalNs, limit: Self.exitStatesPerCycle) {
            strategy, instrument, best, deadline in
            encoder.append(exitState: ExitStateRecord(instrument: instrument, strategy: strategy, cause: .moved, bestPriceUnits: best,
                                                      deadlineWallNs: deadline, wallNs: wall), to: &journalBytes)
        }
    }

    func drainDepth(nowNs: MonotonicNanos) -> Int {
        depth.drain(limit: settings.batchLimit) { d, _ in
            let book = d.pointee
            let bid = book.bidLevels > 0 ? book.bids[0].price.units : 0
            let ask = book.askLevels > 0 ? book.asks[0].price.units : 0
            // (bid + ask) / 2 without the sum, which overflows for prices near Int64.max.
            let mid = bid > 0 && ask > 0 ? (bid >> 1) + (ask >> 1) + (bid & ask & 1) : max(bid, ask)
            guard mid > 0 else { return }
            let price = Price(units: mid)
            risk.updatePrice(instrument: book.instrument, price: price, nowNs: nowNs)
            exits.onPrice(instrument: book.instrument, price: price, nowNs: cycle.wall) { signal, trigger in
                self.handle(exit: signal, trigger: trigger, nowNs: nowNs)
            }
            observeEquity(nowNs: nowNs)
        }
    }

    func drainControl(nowNs: MonotonicNanos) -> Int {
        control.drain(limit: 16) { c, _ in
            counters.commands &+= 1
            let outcome = apply(command: c.pointee, nowNs: nowNs)
            switch outcome {
            case .applied, .waitsForJournal: break
            default: counters.badCommands &+= 1
            }
            acks.publish(ControlAck(sequence: c.pointee.sequence, outcome: outcome, state: stateInForce(scope: c.pointee)))
        }
    }

    // MARK: Decisions

    /// Most orders one exit is split into (the venue's or our max quantity per order).
    static let maxExitOrders = 64

    /// An exit goes out as one market order, or as several when the max quantity per order
    /// requires, until its quantity (the whole position when it names none) is covered.
    func handle(exit signal: SignalEvent, trigger: ExitReason, nowNs: MonotonicNanos) {
        var rest = signal
        for _ in 0..<Self.maxExitOrders {
            guard let sent = decide(rest, nowNs: nowNs, exit: trigger), let side = signal.side else { return }
            if signal.quantity.units > 0 {
                rest.quantity = Quantity(units: rest.quantity.units - sent)
                guard rest.quantity.units > 0 else { return }
            }
            guard risk.reducibleQuantity(strategy: signal.strategy, instrument: signal.instrument, side: side) > 0 else { return }
        }
    }

    /// Turns `signal` into an order in the outbox (journaled and sent by `flush`) or a denial;
    /// `exit`: what triggered an exit (nil for a strategy's signal); `decidedNs`: when it was
    /// first decided (a held signal decided again). Returns the order's quantity (nil when denied).
    @discardableResult
    func decide(_ signal: SignalEvent, nowNs: MonotonicNanos, exit: ExitReason?, decidedNs: MonotonicNanos? = nil) -> Int64? {
        switch risk.decide(signal: signal, nowNs: nowNs, stampNs: batchStampNs) {
        case .denied(let d):
            deny(d, signal, nowNs: nowNs)
            return nil
        case .order(var o):
            if exit != nil {
                o.typeRaw = OrderType.market.rawValue
                o.timeInForceRaw = TimeInForce.immediateOrCancel.rawValue
            } else {
                o.timeInForceRaw = settings.entryTimeInForce.rawValue
            }
            if table.insert(o, nowNs: nowNs) != nil {
                // Every slot holds an open order: the approval is taken back and denied.
                deny(risk.revoke(o, .orderTableFull, observed: Int64(table.openCount), limit: Int64(table.capacity)), signal, nowNs: nowNs)
                return nil
            }
            // Held signals keep their slots: they come back as orders on resume.
            let waiting = outbox.count + held.count
            guard waiting < outbox.capacity,
                  outbox.append(DecidedOrder(order: o, signal: signal, exit: exit != nil, trigger: exit, decidedNs: decidedNs ?? nowNs)) else {
                table.withdraw(clientOrderId: o.clientOrderId)
                deny(risk.revoke(o, .outboxFull, observed: Int64(waiting), limit: Int64(outbox.capacity)), signal, nowNs: nowNs)
                return nil
            }
            counters.orders &+= 1
            if let exit {
                counters.exits &+= 1
                counters.exitsByTrigger[exit] &+= 1
                let age = risk.referenceAgeNs(instrument: o.instrument, nowNs: nowNs)
                if age > risk.limits.maxReferencePriceAgeNs {
                    // Sent all the same (an exit must go out), but on a book this old: say so.
                    emitRisk(RiskEvent(kind: .stale, scope: .symbol, reason: DenialReason.staleReferencePrice.rawValue,
                                       instrument: o.instrument, strategy: o.strategy, referenceSequence: signal.sequence,
                                       observed: age, limit: risk.limits.maxReferencePriceAgeNs, clientOrderId: o.clientOrderId,
                                       receiveWallNs: cycle.wall))
                }
            }
            return o.quantity.units
        }
    }

    /// A denial: counted, shown in the view, and published on the journal's risk ring (the
    /// journal file keeps denials only as counts).
    func deny(_ d: Denial, _ signal: SignalEvent, nowNs: MonotonicNanos) {
        counters.denials &+= 1
        view.staging.pointee.recentDenials.append(ViewActivity(signal: signal, detail: d.reason.rawValue))
        riskSequence &+= 1
        let event = d.riskEvent(for: signal, sequence: riskSequence, stampNs: batchStampNs)
        if !journalRisk.tryPush(event) { counters.journalRingsFull &+= 1 }
    }

    /// The trading state of the command's scope (global, its strategy or its symbol); nil
    /// when the id is out of range.
    func stateInForce(scope c: ControlCommand) -> TradingState? {
        switch c.scope {
        case .strategy?: risk.state(strategy: c.strategy)
        case .symbol?: risk.state(instrument: c.instrument)
        default: risk.globalState
        }
    }

    /// Applies one control command; returns how (the ack the control plane waits for).
    func apply(command c: ControlCommand, nowNs: MonotonicNanos) -> ControlAckOutcome {
        let wall = cycle.wall
        let equity = risk.positions.equityMoney
        switch c.kind {
        case .halt?: return setState(.halted, scope: c, wallNs: wall)
        case .reduce?:
            // Reducing would let the latched kill switch's halt go: only a confirmed resume may.
            if breakers.killSwitchEngaged && (c.scope ?? .global) == .global { return .killSwitchLatched }
            return setState(.reducing, scope: c, wallNs: wall)
        case .resume?:
            if breakers.killSwitchEngaged && (c.scope ?? .global) == .global && c.value != ControlCommand.resumeLiftsKillSwitch {
                return .killSwitchLatched
            }
            if journalErrno != 0 && (c.scope ?? .global) == .global {
                // Not before the journal takes a write again: `flush` tries now.
                journalResumeRequested = true
                return .waitsForJournal
            }
            // The breakers (and the kill latch) are global: a strategy's or a symbol's
            // resume leaves them as they are.
            if (c.scope ?? .global) == .global, var e = breakers.resume(equityMoney: equity, wallNs: wall) {
                e.fromStateRaw = risk.globalState.rawValue
                emitRisk(e)
            }
            return setState(.active, scope: c, wallNs: wall)
        case .flatten?:
            exits.flattenAll(nowNs: wall) { signal, trigger in self.handle(exit: signal, trigger: trigger, nowNs: nowNs) }
        case .killSwitch?:
            // Idempotent: the first kill already cancelled every open order and sent the
            // flattening exits (which `ExitMonitor` retries until flat), and nothing new
            // can be entered while halted; engaging again would send a second exit for
            // positions whose first one is still in flight.
            if breakers.killSwitchEngaged { return .applied }
            let from = risk.globalState
            var event = KillSwitch.engage(
                breakers: &breakers, risk: &risk, orders: &table, exits: &exits, flatten: settings.flattenOnKill,
                wallNs: wall, nowNs: nowNs,
                sendCancel: { cancel in
                    if self.outbox.append(DecidedOrder(order: cancel, exit: true, decidedNs: nowNs)) {
                        self.counters.cancelRequests &+= 1
                    } else {
                        self.pendingCancelsRefused.append(cancel.clientOrderId)
                    }
                },
                cancelled: { report in self.encoder.append(report: report, to: &self.journalBytes) },
                exit: { signal, _ in self.pendingExits.append(signal) })
            event.fromStateRaw = from.rawValue
            emitRisk(event)
            for id in pendingCancelsRefused {
                table.cancelRejected(clientOrderId: id, nowNs: nowNs)
                counters.cancelsNotQueued &+= 1
            }
            pendingCancelsRefused.removeAll(keepingCapacity: true)
            for s in pendingExits { handle(exit: s, trigger: .killSwitch, nowNs: nowNs) }
            pendingExits.removeAll(keepingCapacity: true)
        case .setLimit?:
            guard RiskLimitCode.apply(c.limitId, value: c.value, to: &risk.limits) else { return .unknownLimit }
            breakers.limits = risk.limits
            emitRisk(RiskEvent(kind: .limitChanged, scope: .global, reason: c.limitId, observed: c.value, limit: 0, receiveWallNs: wall))
        default:
            return .unknownCommand
        }
        return .applied
    }

    /// Cancels the open orders `including` picks (a halt with `cancel_entries_on_halt`):
    /// each cancel request goes out through the outbox (one it refuses is taken back and
    /// counted), an order never sent ends here and its report is journaled.
    func cancelOpen(nowNs: MonotonicNanos, including: (OrderEvent) -> Bool) {
        table.cancelAll(nowNs: nowNs, including: including, send: { request in
            var cancel = request
            self.risk.stamp(request: &cancel)  // a request of its own, after every order sent before it
            if self.outbox.append(DecidedOrder(order: cancel, exit: true, decidedNs: nowNs)) {
                self.counters.cancelRequests &+= 1
            } else {
                self.pendingCancelsRefused.append(cancel.clientOrderId)
            }
        }, cancelled: { report in
            self.risk.apply(fill: report)
            self.encoder.append(report: report, to: &self.journalBytes)
        })
        for id in pendingCancelsRefused {
            table.cancelRejected(clientOrderId: id, nowNs: nowNs)
            counters.cancelsNotQueued &+= 1
        }
        pendingCancelsRefused.removeAll(keepingCapacity: true)
    }

    @exclusivity(unchecked) var pendingExits: [SignalEvent] = []
    /// Kill-switch cancels the outbox refused, taken back after the kill switch returns.
    @exclusivity(unchecked) var pendingCancelsRefused: [UInt64] = []

    func setState(_ state: TradingState, scope c: ControlCommand, wallNs: WallNanos) -> ControlAckOutcome {
        let from: TradingState?
        switch c.scope {
        case .strategy?:
            from = risk.state(strategy: c.strategy)
            guard risk.setState(state, strategy: c.strategy) else { return .strategyOutOfRange }
        case .symbol?:
            from = risk.state(instrument: c.instrument)
            guard risk.setState(state, instrument: c.instrument) else { return .symbolOutOfRange }
        default:
            from = risk.globalState
            // While the journal refuses writes the stage stays halted; this is the state it
            // returns to.
            if journalErrno != 0 { stateAfterJournal = state } else { risk.setGlobalState(state) }
        }
        if state == .halted && settings.cancelEntriesOnHalt {
            // Entries resting at the venue would still fill after the halt; exits keep
            // working so positions can still be closed.
            let scope = c.scope ?? .global, strategy = c.strategy, instrument = c.instrument
            cancelOpen(nowNs: cycle.monotonic) { o in
                o.flags & OrderEvent.flagReduceOnly == 0
                    && (scope != .strategy || o.strategy == strategy) && (scope != .symbol || o.instrument == instrument)
            }
        }
        emitRisk(RiskEvent(kind: .stateChange, scope: c.scope ?? .global, reason: 0, instrument: c.instrument,
                           strategy: c.strategy, fromState: from, toState: state, receiveWallNs: wallNs))
        return .applied
    }

    func observeEquity(nowNs: MonotonicNanos) {
        if var e = breakers.observe(equityMoney: risk.positions.equityMoney, wallNs: cycle.wall) {
            // The engine's state before (a halt command may have set it), not the breakers' own.
            e.fromStateRaw = risk.globalState.rawValue
            if let to = e.toState { risk.setGlobalState(to) }
            emitRisk(e)
        }
    }

    func emitRisk(_ e: RiskEvent) {
        riskSequence &+= 1
        var event = e
        event.sequence = riskSequence
        encoder.append(risk: event, to: &journalBytes)
        if !journalRisk.tryPush(event) { counters.journalRingsFull &+= 1 }
    }

    // MARK: Output

    /// Writes the cycle's journal records, then hands journaled orders to the venue ring
    /// (what the ring refuses waits in the outbox; nothing is dropped).
    func flush(nowNs: MonotonicNanos) -> Int {
        if let journal {
            journalBreakers(nowNs: nowNs)
            writeJournal(journal, nowNs: nowNs)
        } else {
            journalBytes.removeAll(keepingCapacity: true)
            outbox.markJournaled()
        }
        return send(nowNs: nowNs)
    }

    /// Appends a `riskState` record when the breakers changed since the last one: at once
    /// for a trip, a resume, a kill or a new day, week or month; for the peak alone at most
    /// once a second (it moves with every mark while equity climbs). Into the reserved
    /// journal buffer: no allocation.
    func journalBreakers(nowNs: MonotonicNanos) {
        let now = breakers.snapshot
        if let last = journaledBreakers {
            guard now != last else { return }
            if now.sameButPeak(last) && nowNs < nextPeakJournalNs { return }
        }
        encoder.append(riskState: now, to: &journalBytes)
        journaledBreakers = now
        nextPeakJournalNs = nowNs &+ 1_000_000_000
    }

    /// Appends the cycle's records, its orders' records last, in one write. When the write
    /// fails (the file is cut back to its last whole record) the orders' records are dropped
    /// and their signals held; the other records (reports, risk events) stay buffered and go
    /// first in the next write, so sequences stay gapless.
    func writeJournal(_ journal: JournalFile, nowNs: MonotonicNanos) {
        if journalErrno != 0 {
            let attempt = journalResumeRequested || (settings.onJournalError == .retry && nowNs >= nextJournalRetryNs)
            guard attempt else { holdUnjournaled(); return }
            let byCommand = journalResumeRequested
            journalResumeRequested = false
            let error = journalBytes.withUnsafeBytes { journal.append($0) }
            guard error == 0 else {
                counters.journalWriteErrors &+= 1
                journalErrno = error
                nextJournalRetryNs = nowNs &+ settings.journalRetryIntervalNs
                holdUnjournaled()
                return
            }
            journalBytes.removeAll(keepingCapacity: true)
            journalWritable(nowNs: nowNs, byCommand: byCommand)
        }
        guard !journalBytes.isEmpty || outbox.unjournaled > 0 else { return }
        let otherRecords = journalBytes.count
        let encoderBefore = encoder
        for k in outbox.journaled..<outbox.count { encoder.append(order: outbox[k].order, to: &journalBytes) }
        let error = journalBytes.withUnsafeBytes { journal.append($0) }
        if error == 0 {
            journalBytes.removeAll(keepingCapacity: true)
            outbox.markJournaled()
            return
        }
        journalBytes.removeSubrange(otherRecords...)
        encoder = encoderBefore
        counters.journalWriteErrors &+= 1
        journalUnwritable(error, nowNs: nowNs)
        holdUnjournaled()
    }

    /// No durable journal, no trading: halt (so entries are denied at once) and say why.
    func journalUnwritable(_ error: Int32, nowNs: MonotonicNanos) {
        journalErrno = error
        nextJournalRetryNs = nowNs &+ settings.journalRetryIntervalNs
        let from = risk.globalState
        stateAfterJournal = from
        risk.setGlobalState(.halted)
        emitRisk(RiskEvent(kind: .stateChange, scope: .global, reason: BreakerReason.journalUnwritable.rawValue, fromState: from,
                           toState: .halted, observed: Int64(error), limit: 0, receiveWallNs: cycle.wall))
    }

    /// A write succeeded again: resume (the resume command that asked for it, or the state
    /// the retry policy returns to), then decide the held signals again.
    func journalWritable(nowNs: MonotonicNanos, byCommand: Bool) {
        journalErrno = 0
        let wall = cycle.wall
        // A kill switch engaged during the outage stays latched (only a confirmed resume lifts
        // it, and that needs a journal that takes writes); a breaker that tripped meanwhile
        // keeps its state: the stage returns to nothing looser than what they require.
        let resume = byCommand && !breakers.killSwitchEngaged
        if resume, let e = breakers.resume(equityMoney: risk.positions.equityMoney, wallNs: wall) { emitRisk(e) }
        let target: TradingState = resume ? .active : stateAfterJournal
        let to = target.rawValue >= breakers.state.rawValue ? target : breakers.state
        risk.setGlobalState(to)
        emitRisk(RiskEvent(kind: .stateChange, scope: .global, reason: BreakerReason.journalWritable.rawValue, fromState: .halted,
                           toState: to, receiveWallNs: wall))
        let maxAge = risk.limits.maxReferencePriceAgeNs
        while let h = held.first {
            held.removeFirst()
            let age = nowNs &- h.decidedNs
            if age > maxAge {
                deny(risk.count(Denial(reason: .heldTooLong, observed: age, limit: maxAge)), h.signal, nowNs: nowNs)
            } else {
                decide(h.signal, nowNs: nowNs, exit: h.trigger, decidedNs: h.decidedNs)
            }
        }
    }

    /// Takes this cycle's new orders back out of the outbox (never sent, never journaled:
    /// their approvals and table slots are released) and holds their signals; cancel requests
    /// stay and wait for the journal.
    func holdUnjournaled() {
        guard outbox.unjournaled > 0 else { return }
        outbox.removeUnjournaled { d in
            guard d.isNew else { return false }
            table.withdraw(clientOrderId: d.order.clientOrderId)
            risk.withdraw(d.order)
            counters.orders &-= 1
            if let trigger = d.trigger {
                counters.exits &-= 1
                counters.exitsByTrigger[trigger] &-= 1
            }
            // Room is certain: outbox and held together never exceed the outbox's capacity.
            _ = held.append(d)
            return true
        }
    }

    /// Hands journaled orders to the venue ring, oldest first, until it refuses.
    func send(nowNs: MonotonicNanos) -> Int {
        guard outbox.firstJournaled != nil else { return 0 }
        // The latency stamp of this batch: the real clock, once, after the journal write.
        let sentNs = Clock.monotonic()
        var sent = 0
        while let d = outbox.firstJournaled {
            var o = d.order
            // An order the kill switch ended before it was sent stays unsent, and leaves the
            // counts of orders sent.
            if d.isNew && table.state(clientOrderId: o.clientOrderId) != .new {
                outbox.removeFirstJournaled()
                counters.orders &-= 1
                if let trigger = d.trigger {
                    counters.exits &-= 1
                    counters.exitsByTrigger[trigger] &-= 1
                }
                continue
            }
            o.timestamps.orderSentNs = sentNs
            guard orders.tryPush(o) else { counters.ordersRingFull &+= 1; break }
            outbox.removeFirstJournaled()
            if d.isNew { _ = table.markSent(clientOrderId: o.clientOrderId, nowNs: nowNs) }
            if !journalOrders.tryPush(o) { counters.journalRingsFull &+= 1 }
            if let stats {
                if o.timestamps.signalNs > 0, let h = riskLatency { stats.record(h, o.timestamps.riskDecidedNs - o.timestamps.signalNs) }
                if o.timestamps.socketReadNs > 0, let h = tickToOrder { stats.record(h, o.timestamps.orderSentNs - o.timestamps.socketReadNs) }
            }
            sent += 1
        }
        return sent
    }
}

// MARK: The engine view

extension RiskAgent {
    /// Risk events emitted so far (denials, state changes, breakers, limit changes).
    public var riskEvents: UInt64 { riskSequence }

    /// One duty cycle's share of the view: starts a publish when `viewIntervalNs` has passed,
    /// scans at most `viewSlotsPerCycle` position slots, and when the scan is done fills in
    /// orders, account, counters and limits and publishes. No allocation (fixed-size storage).
    func publishViewWork(nowNs: MonotonicNanos) {
        if viewScanSlot == nil {
            guard nowNs >= nextViewNs else { return }
            viewScanSlot = 0
            view.staging.pointee.positionsTotal = 0
            view.staging.pointee.positionCount = 0
        }
        let slots = risk.strategyCapacity * risk.instrumentCapacity
        let start = viewScanSlot ?? 0
        let end = min(slots, start + max(1, settings.viewSlotsPerCycle))
        scanPositions(start..<end)
        if end < slots {
            viewScanSlot = end
            return
        }
        viewScanSlot = nil
        nextViewNs = nowNs + settings.viewIntervalNs
        finishView(nowNs: nowNs)
    }

    /// A whole publish at once (tests, tools, the end of a replay): owner thread only.
    public func publishView(nowNs: MonotonicNanos) {
        view.staging.pointee.positionsTotal = 0
        view.staging.pointee.positionCount = 0
        scanPositions(0..<(risk.strategyCapacity * risk.instrumentCapacity))
        viewScanSlot = nil
        nextViewNs = nowNs + settings.viewIntervalNs
        finishView(nowNs: nowNs)
    }

    /// Copies the non-flat positions among slots `range` (slot = strategy × instruments + instrument).
    func scanPositions(_ range: Range<Int>) {
        let instruments = risk.instrumentCapacity
        let positions = risk.positions
        let v = view.staging
        for slot in range {
            let strategy = StrategyId(truncatingIfNeeded: slot / instruments)
            let instrument = InstrumentId(truncatingIfNeeded: slot % instruments)
            guard positions.quantity(strategy: strategy, instrument: instrument) != 0 else { continue }
            v.pointee.positionsTotal += 1
            let k = v.pointee.positionCount
            guard k < EngineViewCapacity.positions else { continue }
            let p = positions.position(strategy: strategy, instrument: instrument)
            let spec = settings.instruments[Int(instrument)]
            var out = ViewPosition()
            out.instrument = instrument
            out.strategy = strategy
            out.priceDecimals = spec.priceDecimals
            out.quantityDecimals = spec.quantityDecimals
            out.quantityUnits = p.quantityUnits
            out.averagePriceUnits = p.averagePriceUnits
            out.markPriceUnits = positions.markPriceUnits[Int(instrument)]
            out.realisedMoney = p.realisedMoney
            out.unrealisedMoney = p.unrealisedMoney
            out.feesMoney = p.feesMoney
            out.moneyAtRiskMoney = exits.moneyAtRisk(strategy: strategy, instrument: instrument)
            v.pointee.positions[k] = out
            v.pointee.positionCount = k + 1
        }
    }

    /// Open orders (a scan of the order table, bounded by its capacity), account, counters,
    /// limits and states; then publishes.
    func finishView(nowNs: MonotonicNanos) {
        let v = view.staging
        let wall = cycle.wall
        v.pointee.openOrdersTotal = table.openCount
        v.pointee.openOrderCount = 0
        table.forEachOpen { r in
            let k = v.pointee.openOrderCount
            guard k < EngineViewCapacity.openOrders else { return }
            var o = ViewOrder()
            o.clientOrderId = r.clientOrderId
            o.instrument = r.order.instrument
            o.strategy = r.order.strategy
            o.sideRaw = r.order.sideRaw
            o.typeRaw = r.order.typeRaw
            o.stateRaw = r.state.rawValue
            o.priceDecimals = r.order.priceDecimals
            o.quantityDecimals = r.order.quantityDecimals
            o.priceUnits = r.order.price.units
            o.quantityUnits = r.order.quantity.units
            o.filledUnits = r.filledUnits
            v.pointee.openOrders[k] = o
            v.pointee.openOrderCount = k + 1
        }
        let positions = risk.positions
        var a = ViewAccount()
        a.startingCapitalMoney = positions.startingCapitalMoney
        a.equityMoney = positions.equityMoney
        a.realisedMoney = positions.realisedMoney
        a.unrealisedMoney = positions.unrealisedMoney
        a.feesMoney = positions.feesMoney
        a.peakEquityMoney = positions.peakEquityMoney
        a.drawdownMoney = positions.drawdownMoney
        a.drawdownPartsPerMillion = positions.drawdownPartsPerMillion
        a.maxDrawdownPartsPerMillion = max(v.pointee.account.maxDrawdownPartsPerMillion, a.drawdownPartsPerMillion)
        a.moneyAtRiskMoney = exits.moneyAtRiskMoney
        a.openFeesMoney = positions.roundTrips.openFeesMoney
        v.pointee.account = a
        copyRoundTrips(positions, into: v)
        if nowNs >= nextEquitySampleNs {
            nextEquitySampleNs = nowNs + settings.viewEquitySampleNs
            v.pointee.sampleEquity(wallNs: wall, money: a.equityMoney)
        }
        for r in 0..<min(EngineViewCapacity.denialReasons, risk.deniedByReason.count) { v.pointee.deniedByReason[r] = risk.deniedByReason[r] }
        v.pointee.counters = counters
        v.pointee.riskEvents = riskSequence
        v.pointee.limits = risk.limits
        v.pointee.globalStateRaw = risk.globalState.rawValue
        v.pointee.breakers = breakers.snapshot
        v.pointee.journalErrno = journalErrno
        v.pointee.heldSignals = held.count
        v.pointee.publishedNs = nowNs
        v.pointee.wallNs = wall
        v.pointee.publishes &+= 1
        view.publish()
    }
}

extension RiskAgent {
    /// The strategies that paid fees (so traded) and the last closed round trips, into the
    /// view's fixed-size storage. O(strategies + `EngineViewCapacity.roundTrips`).
    func copyRoundTrips(_ positions: Positions, into v: UnsafeMutablePointer<EngineViewData>) {
        let trips = positions.roundTrips
        var n = 0
        for s in 0..<min(positions.strategyCapacity, EngineViewCapacity.strategies) {
            let p = positions.strategy(StrategyId(truncatingIfNeeded: s))
            guard p.feesMoney != 0 || p.realisedMoney != 0 || p.unrealisedMoney != 0 else { continue }
            var out = ViewStrategy()
            out.strategy = StrategyId(truncatingIfNeeded: s)
            out.trades = trips.closedByStrategy[s]
            out.realisedMoney = p.realisedMoney
            out.unrealisedMoney = p.unrealisedMoney
            out.feesMoney = p.feesMoney
            v.pointee.strategies[n] = out
            n += 1
        }
        v.pointee.strategyCount = n
        let kept = UInt64(EngineViewCapacity.roundTrips)
        let after = trips.closed > kept ? trips.closed - kept : 0
        var k = 0
        trips.forEach(after: after) { t in
            guard k < EngineViewCapacity.roundTrips else { return }
            v.pointee.roundTrips[k] = t
            k += 1
        }
        v.pointee.roundTripCount = k
        v.pointee.roundTripsClosed = trips.closed
    }
}

/// Why an engine stage could not be built.
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(description: String) { self.description = description }
}

extension StatsBoard {
    /// `tickline_stage_latency_seconds{stage=…}`, one family wherever a stage is measured
    /// (the risk stage here, every stage in `tickline bench e2e`).
    func stageLatency(_ stage: String) -> Histogram {
        histogram("tickline_stage_latency_seconds", "Latency of each stage, from its input's stamp to its output.", labels: [("stage", stage)])
    }

    /// `tickline_tick_to_order_seconds`: socket read to order in the venue ring.
    func tickToOrder() -> Histogram {
        histogram("tickline_tick_to_order_seconds", "Socket read to order in the venue ring.")
    }
}
