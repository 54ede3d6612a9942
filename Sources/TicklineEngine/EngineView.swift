#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TicklineControl
import TicklineCore
import TicklineExecution
import TicklineRisk
import TicklineRuntime

/// Fixed sizes of the engine view (what a reader copies in one go, about 33 KiB).
public enum EngineViewCapacity {
    /// Non-flat (strategy, instrument) positions shown; `positionsTotal` counts all of them.
    public static let positions = 64
    /// Open orders shown; `openOrdersTotal` counts all of them.
    public static let openOrders = 32
    /// Recent signals, trades and denials kept (each).
    public static let recent = 20
    /// Equity samples kept (one per `RiskStageSettings.viewEquitySampleNs`).
    public static let equitySamples = 512
    /// Denial counters by `DenialReason.rawValue & 63` (as `PreTradeRisk.deniedByReason`).
    public static let denialReasons = 64
    /// Most recent closed round trips kept; `roundTripsClosed` counts all of them.
    public static let roundTrips = 64
    /// Strategies shown (ids 0..<32).
    public static let strategies = 32
}

/// One strategy's money (units of `MoneyScale`) and its closed round trips.
public struct ViewStrategy: Sendable, BitwiseCopyable {
    public var strategy: StrategyId = 0
    public var trades: UInt64 = 0
    public var realisedMoney: Int64 = 0
    public var unrealisedMoney: Int64 = 0
    public var feesMoney: Int64 = 0
    public init() {}
}

/// One strategy's position on one instrument, in the instrument's units (money: `MoneyScale`).
public struct ViewPosition: Sendable, BitwiseCopyable {
    public var instrument: InstrumentId = 0
    public var strategy: StrategyId = 0
    public var priceDecimals: UInt8 = 0
    public var quantityDecimals: UInt8 = 0
    public var quantityUnits: Int64 = 0
    public var averagePriceUnits: Int64 = 0
    public var markPriceUnits: Int64 = 0
    public var realisedMoney: Int64 = 0
    public var unrealisedMoney: Int64 = 0
    public var feesMoney: Int64 = 0
    /// Money lost if the stop is hit (`ExitMonitor.moneyAtRisk`).
    public var moneyAtRiskMoney: Int64 = 0
    public init() {}
}

/// One open order.
public struct ViewOrder: Sendable, BitwiseCopyable {
    public var clientOrderId: UInt64 = 0
    public var instrument: InstrumentId = 0
    public var strategy: StrategyId = 0
    public var sideRaw: UInt8 = 0
    public var typeRaw: UInt8 = 0
    public var stateRaw: UInt8 = 0
    public var priceDecimals: UInt8 = 0
    public var quantityDecimals: UInt8 = 0
    public var priceUnits: Int64 = 0
    public var quantityUnits: Int64 = 0
    public var filledUnits: Int64 = 0
    public init() {}
}

/// A signal, trade or denial.
public struct ViewActivity: Sendable, BitwiseCopyable, Equatable {
    public var wallNs: WallNanos = 0
    public var instrument: InstrumentId = 0
    public var strategy: StrategyId = 0
    public var sideRaw: UInt8 = 0
    public var priceDecimals: UInt8 = 0
    public var quantityDecimals: UInt8 = 0
    /// Denials: `DenialReason.rawValue`; trades: `Liquidity.rawValue`.
    public var detail: UInt16 = 0
    public var priceUnits: Int64 = 0
    public var quantityUnits: Int64 = 0
    public init() {}

    init(signal s: SignalEvent, detail: UInt16 = 0) {
        wallNs = s.receiveWallNs
        instrument = s.instrument
        strategy = s.strategy
        sideRaw = s.sideRaw
        priceDecimals = s.priceDecimals
        quantityDecimals = s.quantityDecimals
        self.detail = detail
        priceUnits = s.entryPrice.units
        quantityUnits = s.quantity.units
    }

    init(fill f: FillEvent) {
        wallNs = f.receiveWallNs
        instrument = f.instrument
        strategy = f.strategy
        sideRaw = f.sideRaw
        priceDecimals = f.priceDecimals
        quantityDecimals = f.quantityDecimals
        detail = UInt16(f.liquidityRaw)
        priceUnits = f.price.units
        quantityUnits = f.quantity.units
    }
}

/// The last `EngineViewCapacity.recent` activities, overwriting the oldest.
public struct ViewActivityRing: Sendable, BitwiseCopyable {
    var items = InlineArray<20, ViewActivity>(repeating: ViewActivity())
    /// Activities ever appended (the newest is at `(appended - 1) % capacity`).
    public private(set) var appended: UInt64 = 0
    public init() {}

    public var count: Int { Int(min(appended, UInt64(items.count))) }

    mutating func append(_ a: ViewActivity) {
        items[Int(appended % UInt64(items.count))] = a
        appended &+= 1
    }

    /// Oldest first.
    public func forEach(_ body: (ViewActivity) -> Void) {
        let n = count
        let first = appended - UInt64(n)
        for k in 0..<UInt64(n) { body(items[Int((first + k) % UInt64(items.count))]) }
    }
}

/// Account-wide money (units of `MoneyScale`).
public struct ViewAccount: Sendable, BitwiseCopyable {
    public var startingCapitalMoney: Int64 = 0
    public var equityMoney: Int64 = 0
    public var realisedMoney: Int64 = 0
    public var unrealisedMoney: Int64 = 0
    public var feesMoney: Int64 = 0
    public var peakEquityMoney: Int64 = 0
    public var drawdownMoney: Int64 = 0
    public var drawdownPartsPerMillion: Int64 = 0
    /// The largest drawdown seen at a publish.
    public var maxDrawdownPartsPerMillion: Int64 = 0
    public var moneyAtRiskMoney: Int64 = 0
    /// Fees paid on positions still open (`RoundTrips.openFeesMoney`).
    public var openFeesMoney: Int64 = 0
    public init() {}
}

/// Everything the control plane shows of the risk stage, as plain fixed-size values (no
/// references, no `String`s: a reader on another thread copies it byte for byte). Written by
/// the risk agent into its private staging copy, then published through `EngineView`.
public struct EngineViewData: Sendable, BitwiseCopyable {
    /// The risk agent's clock and the wall clock at the publish.
    public var publishedNs: MonotonicNanos = 0
    public var wallNs: WallNanos = 0
    /// Publishes so far (1 = the first).
    public var publishes: UInt64 = 0
    public var globalStateRaw: UInt8 = TradingState.active.rawValue
    /// The circuit breakers: their state and cause, the kill latch, baselines and peak.
    public var breakers = BreakerSnapshot()
    /// The `errno` of the journal write that failed while the stage is halted for it (0:
    /// the journal is healthy).
    public var journalErrno: Int32 = 0
    /// Signals held since a journal write failed, to be decided again on resume.
    public var heldSignals = 0
    public var counters = RiskStageCounters()
    /// Risk events emitted (denials, state changes, breakers, limit changes...).
    public var riskEvents: UInt64 = 0
    public var deniedByReason = InlineArray<64, UInt64>(repeating: 0)
    public var account = ViewAccount()
    public var limits = RiskLimits()

    public var positionsTotal = 0
    public var positionCount = 0
    public var positions = InlineArray<64, ViewPosition>(repeating: ViewPosition())
    public var openOrdersTotal = 0
    public var openOrderCount = 0
    public var openOrders = InlineArray<32, ViewOrder>(repeating: ViewOrder())

    public var recentSignals = ViewActivityRing()
    public var recentTrades = ViewActivityRing()
    public var recentDenials = ViewActivityRing()

    /// Strategies that traded (fees paid), by id; `strategyCount` of them.
    public var strategyCount = 0
    public var strategies = InlineArray<32, ViewStrategy>(repeating: ViewStrategy())
    /// The last `roundTripCount` closed round trips, oldest first; `roundTripsClosed` ever.
    public var roundTripsClosed: UInt64 = 0
    public var roundTripCount = 0
    public var roundTrips = InlineArray<64, RoundTrip>(repeating: RoundTrip())

    /// (wall ns, equity money) samples; `equitySamples` ever taken, newest at `(equitySamples - 1) % 512`.
    public var equityWallNs = InlineArray<512, Int64>(repeating: 0)
    public var equityMoney = InlineArray<512, Int64>(repeating: 0)
    public var equitySamples: UInt64 = 0

    public init() {}

    mutating func sampleEquity(wallNs: WallNanos, money: Int64) {
        let k = Int(equitySamples % UInt64(equityMoney.count))
        equityWallNs[k] = wallNs.ns
        equityMoney[k] = money
        equitySamples &+= 1
    }

    /// The kept equity samples, oldest first.
    public func forEachEquitySample(_ body: (Nanos, Int64) -> Void) {
        let cap = UInt64(equityMoney.count)
        let n = min(equitySamples, cap)
        for k in (equitySamples - n)..<equitySamples { body(equityWallNs[Int(k % cap)], equityMoney[Int(k % cap)]) }
    }
}

/// The risk stage's view for other threads: the risk agent's thread publishes, any thread
/// reads a consistent copy (see `Seqlock`).
public typealias EngineView = Seqlock<EngineViewData>

extension Seqlock where Value == EngineViewData {
    public convenience init() { self.init(EngineViewData()) }
}

/// The one translation of the risk view into what the control plane shows, used by
/// `tickline run` and `tickline demo`.
public enum EngineSnapshotBuilder {
    /// - Parameters:
    ///   - symbols: names by instrument id.
    ///   - stats: latency histograms (nil: none).
    ///   - strategyNames: names by strategy id (missing: the id).
    /// `events` and `eventsPerSecond` are the caller's (the view holds the risk stage only).
    public static func snapshot(instance: String, view v: EngineViewData, symbols: [String], stats: StatsBoard?,
                                wallNs: WallNanos, strategyNames: [String] = []) -> EngineSnapshot {
        func name(_ i: InstrumentId) -> String { Int(i) < symbols.count ? symbols[Int(i)] : "#\(i)" }
        func strategy(_ s: StrategyId) -> String { strategyName(s, names: strategyNames) }
        func scaled(_ units: Int64, _ decimals: UInt8) -> Double { Double(units) / pow(10, Double(decimals)) }
        func money(_ m: Int64) -> Double { Double(m) / Double(MoneyScale.one) }
        func side(_ raw: UInt8) -> String { Side(rawValue: raw).map { $0 == .buy ? "buy" : "sell" } ?? "" }
        func activity(_ a: ViewActivity, detail: String = "") -> EngineSnapshot.Activity {
            .init(wallNs: a.wallNs.ns, symbol: name(a.instrument), strategy: strategy(a.strategy), side: side(a.sideRaw),
                  price: scaled(a.priceUnits, a.priceDecimals), quantity: scaled(a.quantityUnits, a.quantityDecimals), detail: detail)
        }

        var s = EngineSnapshot(instance: instance, wallNs: wallNs.ns,
                               tradingState: TradingState(rawValue: v.globalStateRaw).map { "\($0)" } ?? "unknown")
        s.killSwitchEngaged = v.breakers.killSwitchEngaged
        s.breakers = breakers(v.breakers)
        let c = v.counters
        s.signals = c.signals
        s.orders = c.orders
        s.exits = c.exits
        for trigger in ExitReason.allCases { s.exitsByTrigger["\(trigger.label)"] = c.exitsByTrigger[trigger] }
        s.cancelRequests = c.cancelRequests
        s.fills = c.fills
        for kind in ReportCounts.kinds { s.reports["\(kind.label)"] = c.reports[kind: kind] }
        s.denials = c.denials
        forEachDenialReason(v) { name, n in s.denialsByReason[name] = n }
        s.equity = money(v.account.equityMoney)
        s.peakEquity = money(v.account.peakEquityMoney)
        s.drawdown = Double(v.account.drawdownPartsPerMillion) / 1_000_000
        s.realisedPnl = money(v.account.realisedMoney)
        s.unrealisedPnl = money(v.account.unrealisedMoney)
        v.forEachEquitySample { wall, equity in s.equityCurve.append([Double(wall), money(equity)]) }
        if let stats {
            for (i, h) in stats.histograms.enumerated() {
                let snap = stats.snapshot(histogramAt: i)
                let stage: String = h.labels.first?.1 ?? "tick_to_order"
                s.latency.append(EngineSnapshot.Latency(stage: stage, count: snap.count, p50: Int64(snap.percentile(0.5)),
                                                        p99: Int64(snap.percentile(0.99)), p999: Int64(snap.percentile(0.999)),
                                                        max: Int64(snap.max)))
            }
        }
        for k in 0..<min(v.positionCount, EngineViewCapacity.positions) {
            let p = v.positions[k]
            s.positions.append(.init(symbol: name(p.instrument), strategy: strategy(p.strategy),
                                     quantity: scaled(p.quantityUnits, p.quantityDecimals),
                                     averagePrice: scaled(p.averagePriceUnits, p.priceDecimals),
                                     markPrice: scaled(p.markPriceUnits, p.priceDecimals),
                                     realisedPnl: money(p.realisedMoney), unrealisedPnl: money(p.unrealisedMoney),
                                     moneyAtRisk: money(p.moneyAtRiskMoney)))
        }
        for k in 0..<min(v.openOrderCount, EngineViewCapacity.openOrders) {
            let o = v.openOrders[k]
            s.openOrders.append(.init(clientOrderId: o.clientOrderId, symbol: name(o.instrument), strategy: strategy(o.strategy),
                                      side: side(o.sideRaw), type: OrderType(rawValue: o.typeRaw) == .market ? "market" : "limit",
                                      price: scaled(o.priceUnits, o.priceDecimals), quantity: scaled(o.quantityUnits, o.quantityDecimals),
                                      filled: scaled(o.filledUnits, o.quantityDecimals),
                                      state: OrderState(rawValue: o.stateRaw).map { "\($0)" } ?? "unknown"))
        }
        v.recentSignals.forEach { s.recentSignals.append(activity($0)) }
        v.recentTrades.forEach { s.recentTrades.append(activity($0, detail: Liquidity(rawValue: UInt8(truncatingIfNeeded: $0.detail)).map { "\($0)" } ?? "")) }
        v.recentDenials.forEach { s.recentDenials.append(activity($0, detail: denialName($0.detail))) }
        s.limits = RiskLimitCode.describe(v.limits)
        s.openFees = money(v.account.openFeesMoney)
        for k in 0..<min(v.strategyCount, EngineViewCapacity.strategies) {
            let st = v.strategies[k]
            s.strategies.append(.init(strategy: strategy(st.strategy), trades: st.trades, realisedPnl: money(st.realisedMoney),
                                      unrealisedPnl: money(st.unrealisedMoney), fees: money(st.feesMoney),
                                      netPnl: money(st.realisedMoney &+ st.unrealisedMoney &- st.feesMoney)))
        }
        s.roundTripsClosed = v.roundTripsClosed
        for k in 0..<min(v.roundTripCount, EngineViewCapacity.roundTrips) {
            s.recentRoundTrips.append(record(v.roundTrips[k], symbols: symbols, strategyNames: strategyNames))
        }
        s.utilisation = [
            .init(name: "drawdown %", used: s.drawdown * 100, limit: Double(v.limits.drawdownPartsPerMillion) / 10_000),
            .init(name: "open positions", used: Double(v.positionsTotal),
                  limit: Double(v.limits.maxOpenSwingPositions + v.limits.maxOpenIntradayPositions)),
        ]
        return s
    }

    /// The breakers as the control plane shows them: dates for the day, week and month.
    public static func breakers(_ b: BreakerSnapshot) -> EngineSnapshot.Breakers {
        func money(_ m: Int64) -> Double { Double(m) / Double(MoneyScale.one) }
        func date(_ day: Int64) -> String {
            let c = CircuitBreakers.civil(day)
            return String(format: "%04lld-%02lld-%02lld", c.year, c.month, c.day)
        }
        var out = EngineSnapshot.Breakers()
        out.state = "\(b.state)"
        out.cause = b.cause.map { "\($0)" } ?? ""
        out.day = date(b.dayIndex)
        out.dayStartEquity = money(b.dayStartEquityMoney)
        out.week = date(CircuitBreakers.firstDay(ofWeek: b.weekIndex))
        out.weekStartEquity = money(b.weekStartEquityMoney)
        let year: Int64 = 1970 + (b.monthIndex >= 0 ? b.monthIndex / 12 : (b.monthIndex - 11) / 12)
        out.month = String(format: "%04lld-%02lld", year, b.monthIndex - (year - 1970) * 12 + 1)
        out.monthStartEquity = money(b.monthStartEquityMoney)
        out.drawdownPeakEquity = money(b.peakEquityMoney)
        return out
    }

    /// A strategy's name: its entry in `names`, else its id.
    public static func strategyName(_ s: StrategyId, names: [String] = []) -> String {
        Int(s) < names.count ? names[Int(s)] : "\(s)"
    }

    /// The one translation of a closed round trip into what reports and the API show.
    public static func record(_ t: RoundTrip, symbols: [String], strategyNames: [String] = []) -> RoundTripRecord {
        let q = Double(t.quantityUnits)
        let priceScale = pow(10, Double(t.priceDecimals))
        func money(_ m: Int64) -> Double { Double(m) / Double(MoneyScale.one) }
        return RoundTripRecord(
            sequence: t.sequence, strategy: strategyName(t.strategy, names: strategyNames),
            symbol: Int(t.instrument) < symbols.count ? symbols[Int(t.instrument)] : "#\(t.instrument)",
            entryNs: t.entryWallNs.ns, exitNs: t.exitWallNs.ns, side: t.side == .sell ? "short" : "long",
            qty: q / pow(10, Double(t.quantityDecimals)),
            entryPrice: q > 0 ? Double(t.entryNotional) / q / priceScale : 0,
            exitPrice: q > 0 ? Double(t.exitNotional) / q / priceScale : 0,
            openingFee: money(t.openingFeesMoney), closingFee: money(t.closingFeesMoney),
            grossPnl: money(t.grossMoney), netPnl: money(t.netMoney))
    }

    /// A denial reason's name.
    public static func denialName(_ raw: UInt16) -> String {
        DenialReason(rawValue: raw).map { "\($0)" } ?? "reason\(raw)"
    }

    /// Denials by reason name, every reason (zeros included).
    public static func forEachDenialReason(_ v: EngineViewData, _ body: (String, UInt64) -> Void) {
        for reason in DenialReason.allCases { body("\(reason)", v.deniedByReason[Int(reason.rawValue) & 63]) }
    }

    /// The view's counters as Prometheus families (orders, fills, reports, exits and denials
    /// by kind, PnL, equity). Each count means what `RiskStageCounters` says.
    public static func prometheus(_ v: EngineViewData, into p: inout PrometheusText) {
        let c = v.counters
        p.single("tickline_signals_total", .counter, "Signals the risk stage took.", [], Double(c.signals))
        p.family("tickline_orders_total", .counter, "New orders sent to the venue, by kind (entry, exit).")
        p.sample("tickline_orders_total", [("kind", "entry")], Double(c.orders &- c.exits))
        p.sample("tickline_orders_total", [("kind", "exit")], Double(c.exits))
        p.single("tickline_cancel_requests_total", .counter, "Cancel requests sent to the venue.", [], Double(c.cancelRequests))
        p.single("tickline_fills_total", .counter, "Executions: venue reports with quantity > 0.", [], Double(c.fills))
        p.family("tickline_reports_total", .counter, "Venue reports that change an order's state without an execution, by kind.")
        for kind in ReportCounts.kinds { p.sample("tickline_reports_total", [("kind", "\(kind.label)")], Double(c.reports[kind: kind])) }
        p.family("tickline_exits_total", .counter, "Exit orders sent, by trigger.")
        for trigger in ExitReason.allCases { p.sample("tickline_exits_total", [("trigger", "\(trigger.label)")], Double(c.exitsByTrigger[trigger])) }
        p.family("tickline_denials_total", .counter, "Signals and exits denied, by reason.")
        forEachDenialReason(v) { name, n in p.sample("tickline_denials_total", [("reason", name)], Double(n)) }
        p.single("tickline_risk_signals_blocked_seconds_total", .counter,
                 "Time the risk stage left signals in their ring because its outbox had no room for entries.", [],
                 Double(c.signalsBlockedNs) / 1e9)
        p.single("tickline_journal_write_errors_total", .counter, "Journal appends that failed (nothing of their batch was sent).", [],
                 Double(c.journalWriteErrors))
        p.single("tickline_journal_held_signals", .gauge, "Signals decided before a failed journal write, held to be decided again.", [],
                 Double(v.heldSignals))
        p.single("tickline_risk_events_total", .counter, "Risk events emitted (denials, state changes, breakers).", [], Double(v.riskEvents))
        p.single("tickline_realised_pnl", .gauge, "Realised PnL, account currency.", [], Double(v.account.realisedMoney) / Double(MoneyScale.one))
        p.single("tickline_unrealised_pnl", .gauge, "Unrealised PnL, marked to the last mid.", [], Double(v.account.unrealisedMoney) / Double(MoneyScale.one))
        p.single("tickline_fees", .gauge, "Fees paid, account currency.", [], Double(v.account.feesMoney) / Double(MoneyScale.one))
        p.single("tickline_equity", .gauge, "Account equity, marked to market.", [], Double(v.account.equityMoney) / Double(MoneyScale.one))
        p.single("tickline_drawdown_ratio", .gauge, "Drawdown from peak equity (0-1).", [], Double(v.account.drawdownPartsPerMillion) / 1e6)
        p.single("tickline_open_positions", .gauge, "Non-flat (strategy, symbol) positions.", [], Double(v.positionsTotal))
        p.single("tickline_open_orders", .gauge, "Orders not in a terminal state.", [], Double(v.openOrdersTotal))
        p.single("tickline_trading_state", .gauge, "1 active, 2 reducing, 3 halted.", [], Double(v.globalStateRaw))
        let b = v.breakers
        p.single("tickline_breaker_state", .gauge, "What the circuit breakers alone require: 1 active, 2 reducing, 3 halted.", [],
                 Double(b.stateRaw))
        p.single("tickline_kill_switch_engaged", .gauge, "1 while the kill switch is latched (until a confirmed resume).", [],
                 b.killSwitchEngaged ? 1 : 0)
        p.family("tickline_breaker_start_equity", .gauge, "Equity the loss breakers measure from, by window (UTC day, week, month).")
        p.sample("tickline_breaker_start_equity", [("window", "day")], Double(b.dayStartEquityMoney) / Double(MoneyScale.one))
        p.sample("tickline_breaker_start_equity", [("window", "week")], Double(b.weekStartEquityMoney) / Double(MoneyScale.one))
        p.sample("tickline_breaker_start_equity", [("window", "month")], Double(b.monthStartEquityMoney) / Double(MoneyScale.one))
        p.single("tickline_breaker_drawdown_peak_equity", .gauge, "The drawdown breaker's base: highest equity since start or the last resume.",
                 [], Double(b.peakEquityMoney) / Double(MoneyScale.one))
    }
}

/// Every round trip the risk view has shown, kept on the control plane's side (cold path):
/// each read of the view adds the ones closed since the last read. The view holds the last
/// `EngineViewCapacity.roundTrips`; more closing between two reads are counted in `missed`.
/// Keeps at most `limit` (the oldest go first). Not thread-safe: one reader thread.
public struct RoundTripLog: Sendable {
    public private(set) var records: [RoundTripRecord] = []
    public private(set) var lastSequence: UInt64 = 0
    public private(set) var missed: UInt64 = 0
    public let limit: Int

    public init(limit: Int = 100_000) { self.limit = limit }

    public mutating func add(from v: EngineViewData, symbols: [String], strategyNames: [String] = []) {
        for k in 0..<min(v.roundTripCount, EngineViewCapacity.roundTrips) {
            let t = v.roundTrips[k]
            guard t.sequence > lastSequence else { continue }
            missed += t.sequence - lastSequence - 1
            lastSequence = t.sequence
            records.append(EngineSnapshotBuilder.record(t, symbols: symbols, strategyNames: strategyNames))
        }
        if records.count > limit { records.removeFirst(records.count - limit) }
    }
}

extension InlineArray where Element == UInt64 {
    var sum: UInt64 {
        var t: UInt64 = 0
        for i in indices { t &+= self[i] }
        return t
    }
}

/// This process's CPU time and resident memory, from /proc/self (cold path).
public enum ProcessUsage {
    /// User + system CPU seconds (`/proc/self/stat` fields 14 and 15 over `_SC_CLK_TCK`).
    public static func cpuSeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident set size in bytes (`/proc/self/statm` field 2 × page size).
    public static func residentBytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return nil }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `process_cpu_seconds_total` and `process_resident_memory_bytes` (the Prometheus client
    /// libraries' names).
    public static func prometheus(into p: inout PrometheusText) {
        if let cpu = cpuSeconds() { p.single("process_cpu_seconds_total", .counter, "User and system CPU time, seconds.", [], cpu) }
        if let rss = residentBytes() { p.single("process_resident_memory_bytes", .gauge, "Resident memory, bytes.", [], rss) }
    }
}
