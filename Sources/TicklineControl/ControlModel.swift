import TicklineCore

/// What the control plane shows, as JSON. The engine fills it from its seqlock-protected
/// snapshots in shared memory (never by reaching into a pinned stage's state).
public struct EngineSnapshot: Codable, Sendable, Equatable {
    public struct Position: Codable, Sendable, Equatable {
        public var symbol: String
        public var strategy: String
        public var quantity: Double
        public var averagePrice: Double
        public var markPrice: Double
        public var realisedPnl: Double
        public var unrealisedPnl: Double
        public var moneyAtRisk: Double
        public init(symbol: String, strategy: String, quantity: Double, averagePrice: Double, markPrice: Double,
                    realisedPnl: Double, unrealisedPnl: Double, moneyAtRisk: Double) {
            self.symbol = symbol
            self.strategy = strategy
            self.quantity = quantity
            self.averagePrice = averagePrice
            self.markPrice = markPrice
            self.realisedPnl = realisedPnl
            self.unrealisedPnl = unrealisedPnl
            self.moneyAtRisk = moneyAtRisk
        }
    }

    public struct Order: Codable, Sendable, Equatable {
        public var clientOrderId: UInt64
        public var symbol: String
        public var strategy: String
        public var side: String
        public var type: String
        public var price: Double
        public var quantity: Double
        public var filled: Double
        public var state: String
        public init(clientOrderId: UInt64, symbol: String, strategy: String, side: String, type: String, price: Double,
                    quantity: Double, filled: Double, state: String) {
            self.clientOrderId = clientOrderId
            self.symbol = symbol
            self.strategy = strategy
            self.side = side
            self.type = type
            self.price = price
            self.quantity = quantity
            self.filled = filled
            self.state = state
        }
    }

    /// A signal, trade or denial in the recent-activity lists.
    public struct Activity: Codable, Sendable, Equatable {
        public var wallNs: Int64
        public var symbol: String
        public var strategy: String
        public var side: String
        public var price: Double
        public var quantity: Double
        /// The denial reason, or the fill's liquidity, or "".
        public var detail: String
        public init(wallNs: Int64, symbol: String, strategy: String, side: String, price: Double, quantity: Double, detail: String = "") {
            self.wallNs = wallNs
            self.symbol = symbol
            self.strategy = strategy
            self.side = side
            self.price = price
            self.quantity = quantity
            self.detail = detail
        }
    }

    /// Latency percentiles of one stage (or "tick_to_order"), ns.
    public struct Latency: Codable, Sendable, Equatable {
        public var stage: String
        public var count: UInt64
        public var p50: Int64
        public var p99: Int64
        public var p999: Int64
        public var max: Int64
        public init(stage: String, count: UInt64, p50: Int64, p99: Int64, p999: Int64, max: Int64) {
            self.stage = stage
            self.count = count
            self.p50 = p50
            self.p99 = p99
            self.p999 = p999
            self.max = max
        }
    }

    /// How much of a limit is used (exposure, positions, daily loss, ...).
    public struct Utilisation: Codable, Sendable, Equatable {
        public var name: String
        public var used: Double
        public var limit: Double
        public init(name: String, used: Double, limit: Double) {
            self.name = name
            self.used = used
            self.limit = limit
        }
    }

    /// One strategy's money: realised and unrealised PnL, every fee it paid, and its
    /// round trips closed so far.
    public struct StrategyPnl: Codable, Sendable, Equatable {
        public var strategy: String
        public var trades: UInt64
        public var realisedPnl: Double
        public var unrealisedPnl: Double
        public var fees: Double
        /// realised + unrealised − fees.
        public var netPnl: Double
        public init(strategy: String, trades: UInt64, realisedPnl: Double, unrealisedPnl: Double, fees: Double, netPnl: Double) {
            self.strategy = strategy
            self.trades = trades
            self.realisedPnl = realisedPnl
            self.unrealisedPnl = unrealisedPnl
            self.fees = fees
            self.netPnl = netPnl
        }
    }

    /// The circuit breakers (journaled, restored at start). Money in the account currency.
    public struct Breakers: Codable, Sendable, Equatable {
        /// What the breakers alone require: active, reducing (a daily loss) or halted (a
        /// weekly, monthly or drawdown loss, or the kill switch). `tradingState` is the
        /// engine's, which a manual halt or reduce also sets.
        public var state = "active"
        /// The breaker behind a state that is not active (`dailyLoss`, `weeklyLoss`,
        /// `monthlyLoss`, `drawdown`, `killSwitch`), or "".
        public var cause = ""
        /// The UTC day (YYYY-MM-DD), week (its Monday) and calendar month (YYYY-MM) the
        /// loss breakers measure from, and the equity each began with (or the equity at the
        /// last resume, which rebases all of them).
        public var day = ""
        public var dayStartEquity: Double = 0
        public var week = ""
        public var weekStartEquity: Double = 0
        public var month = ""
        public var monthStartEquity: Double = 0
        /// The drawdown breaker's base: the highest equity since the breakers were first
        /// started or last resumed (`peakEquity` is the account's since this process started).
        public var drawdownPeakEquity: Double = 0
        public init() {}
    }

    public var instance: String
    public var wallNs: Int64
    /// active, reducing or halted.
    public var tradingState: String
    /// The kill switch is latched: only a resume with `{"confirm":"kill"}` lifts it, also
    /// across a restart.
    public var killSwitchEngaged = false
    public var breakers = Breakers()
    public var eventsPerSecond: Double
    public var events: UInt64
    public var signals: UInt64
    /// New orders sent to the venue: entries and exits.
    public var orders: UInt64
    /// The exit orders among `orders`, and by trigger (`take_profit`, `stop_loss`,
    /// `trailing_stop`, `time_stop`, `session_end`, `flatten`, `kill_switch`).
    public var exits: UInt64
    public var exitsByTrigger: [String: UInt64]
    /// Cancel requests sent (not orders).
    public var cancelRequests: UInt64
    /// Executions: venue reports with quantity > 0.
    public var fills: UInt64
    /// Venue reports that change an order's state without an execution, by kind
    /// (`accepted`, `cancelled`, `expired`, `rejected`).
    public var reports: [String: UInt64]
    /// Signals and exits denied, and by reason.
    public var denials: UInt64
    public var denialsByReason: [String: UInt64]
    public var equity: Double
    public var peakEquity: Double
    public var drawdown: Double
    public var realisedPnl: Double
    public var unrealisedPnl: Double
    /// (wall ns, equity) samples, oldest first.
    public var equityCurve: [[Double]]
    public var latency: [Latency]
    public var positions: [Position]
    public var openOrders: [Order]
    public var recentSignals: [Activity]
    public var recentTrades: [Activity]
    public var recentDenials: [Activity]
    public var utilisation: [Utilisation]
    /// The risk limits in force, by config key (e.g. `max_order_notional`).
    public var limits: [String: Double]
    /// Fees paid on positions still open (their part of `fees` not yet in a round trip).
    public var openFees: Double
    /// Per strategy that traded, by id.
    public var strategies: [StrategyPnl]
    /// Round trips closed so far, and the most recent of them, oldest first.
    public var roundTripsClosed: UInt64
    public var recentRoundTrips: [RoundTripRecord]

    public init(instance: String, wallNs: Int64 = 0, tradingState: String = "active") {
        self.instance = instance
        self.wallNs = wallNs
        self.tradingState = tradingState
        eventsPerSecond = 0
        events = 0
        signals = 0
        orders = 0
        exits = 0
        exitsByTrigger = [:]
        cancelRequests = 0
        fills = 0
        reports = [:]
        denials = 0
        denialsByReason = [:]
        equity = 0
        peakEquity = 0
        drawdown = 0
        realisedPnl = 0
        unrealisedPnl = 0
        equityCurve = []
        latency = []
        positions = []
        openOrders = []
        recentSignals = []
        recentTrades = []
        recentDenials = []
        utilisation = []
        limits = [:]
        openFees = 0
        strategies = []
        roundTripsClosed = 0
        recentRoundTrips = []
    }
}

/// One closed round trip as reports and `GET /api/trades` show it (the same fields in
/// `tickline replay --json`, `tickline demo --json` and the API). Money in the account
/// currency; `fees` = `opening_fee` + `closing_fee`; `net_pnl` = `gross_pnl` − `fees`.
public struct RoundTripRecord: Codable, Sendable, Equatable {
    /// 1 for the first round trip closed, then 2, 3, ...
    public var sequence: UInt64
    /// The strategy id of the order that opened the position.
    public var strategy: String
    public var symbol: String
    /// Wall ns of the fill that opened the position and of the fill that closed this quantity.
    public var entryNs: Int64
    public var exitNs: Int64
    public var holdingNs: Int64
    /// long or short.
    public var side: String
    public var qty: Double
    /// Average entry cost and exit fill price.
    public var entryPrice: Double
    public var exitPrice: Double
    public var openingFee: Double
    public var closingFee: Double
    public var fees: Double
    public var grossPnl: Double
    public var netPnl: Double

    public init(sequence: UInt64, strategy: String, symbol: String, entryNs: Int64, exitNs: Int64, side: String, qty: Double,
                entryPrice: Double, exitPrice: Double, openingFee: Double, closingFee: Double, grossPnl: Double, netPnl: Double) {
        self.sequence = sequence
        self.strategy = strategy
        self.symbol = symbol
        self.entryNs = entryNs
        self.exitNs = exitNs
        holdingNs = exitNs - entryNs
        self.side = side
        self.qty = qty
        self.entryPrice = entryPrice
        self.exitPrice = exitPrice
        self.openingFee = openingFee
        self.closingFee = closingFee
        fees = openingFee + closingFee
        self.grossPnl = grossPnl
        self.netPnl = netPnl
    }

    enum CodingKeys: String, CodingKey {
        case sequence, strategy, symbol, side, qty, fees
        case entryNs = "entry_ns", exitNs = "exit_ns", holdingNs = "holding_ns", entryPrice = "entry_price"
        case exitPrice = "exit_price", openingFee = "opening_fee", closingFee = "closing_fee", grossPnl = "gross_pnl"
        case netPnl = "net_pnl"
    }
}

/// One readiness condition (`GET /readiness` is 200 only when all pass).
public struct ReadinessCheck: Codable, Sendable, Equatable {
    public var name: String
    public var ok: Bool
    public var detail: String
    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

/// A request of the API that changes the engine; the engine turns it into commands on
/// the control ring.
public enum ControlRequest: Sendable, Equatable {
    case subscribe([String])
    case unsubscribe([String])
    /// Global halt, reduce, resume and flatten.
    case halt
    case reduce
    case resume
    case flatten
    /// Halt, reduce or resume one strategy or one symbol (its own state; the global state
    /// is unchanged).
    case scoped(ScopedChange, ControlTarget)
    /// The kill switch: halt, cancel every open order, flatten when `flatten_on_kill`.
    /// Latched: a plain resume is refused until `resumeAfterKill`.
    case kill
    /// A global resume that also lifts the kill latch (`{"confirm":"kill"}`).
    case resumeAfterKill
    /// New values of risk limits, by config key.
    case setLimits([String: Double])

    public enum ScopedChange: String, Sendable, Equatable { case halt, reduce, resume }
}

/// Whom a scoped command addresses: a strategy by its config id, a symbol by its name.
public enum ControlTarget: Sendable, Equatable {
    case strategy(Int)
    case symbol(String)
}

/// The engine's answer to a request that changes it, and the HTTP status it goes out with.
public struct ControlReply: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// The risk stage applied it (200); `state` and `limits` say what is now in force.
        case applied
        /// Taken but not known to be in force (202): a subscription the feed will act on, a
        /// resume that waits for the journal to take a write, or a command whose ack later
        /// ones overwrote before it was read.
        case accepted
        /// Refused with the reason (422): by the control plane's checks or by the risk stage.
        case refused
        /// Not applied, or not known to be (503): the control ring was full, or the risk
        /// stage did not acknowledge in time.
        case unavailable
    }

    public var outcome: Outcome
    /// True for `applied` and `accepted`.
    public var accepted: Bool
    public var message: String
    /// The trading state in force after the command (its scope's), when acknowledged.
    public var state: String?
    /// The limits the command set, in people's units, as applied.
    public var limits: [String: Double]?

    public init(outcome: Outcome, message: String, state: String? = nil, limits: [String: Double]? = nil) {
        self.outcome = outcome
        accepted = outcome == .applied || outcome == .accepted
        self.message = message
        self.state = state
        self.limits = limits
    }

    /// Accepted (not yet applied) or refused.
    public init(accepted: Bool, message: String) {
        self.init(outcome: accepted ? .accepted : .refused, message: message)
    }

    /// 200, 202, 422 or 503.
    public var httpStatus: Int {
        switch outcome {
        case .applied: 200
        case .accepted: 202
        case .refused: 422
        case .unavailable: 503
        }
    }
}

/// The engine, as the control plane sees it. Called from the server's threads, possibly
/// concurrently: implementations synchronise (e.g. one lock around the control ring's
/// producer) and read hot-path state only through snapshots.
public protocol ControlPlaneSource: Sendable {
    func snapshot() -> EngineSnapshot
    func readiness() -> [ReadinessCheck]
    /// The Prometheus text exposition of every metric (see `PrometheusText`).
    func prometheusMetrics() -> String
    /// Checks `request`, hands it on and, for the risk stage's commands, waits (bounded)
    /// for its acknowledgement. Runs on the control plane's thread, never a pinned one.
    func submit(_ request: ControlRequest) async -> ControlReply
    /// The closed round trips, oldest first (`GET /api/trades`).
    func roundTrips() -> [RoundTripRecord]
}

extension ControlPlaneSource {
    /// The snapshot's recent round trips (a source that keeps them all overrides this).
    public func roundTrips() -> [RoundTripRecord] { snapshot().recentRoundTrips }
}
