import TicklineCore

/// Money in the account currency as an integer count of 10^-8 units (`MoneyScale.decimals`).
/// Every money field in this module (capital, notional, PnL, fees, budgets) uses it.
public enum MoneyScale {
    public static let decimals: UInt8 = 8
    public static let one: Int64 = 100_000_000

    /// Whole currency units as money units (cold path: config, tests).
    @inlinable public static func money(_ whole: Int64) -> Int64 { whole * one }

    /// price × quantity in money units: `priceUnits × quantityUnits × 10^8 / 10^(pd+qd)`,
    /// truncated toward zero and saturated to ±Int64.max. Intermediates are `Int128`
    /// (the product of two Int64 fits; the scale factors are at most 10^36).
    @inlinable
    public static func notional(priceUnits: Int64, quantityUnits: Int64, priceDecimals: UInt8, quantityDecimals: UInt8) -> Int64 {
        fromPriceQuantity(Int128(priceUnits) * Int128(quantityUnits), priceDecimals: priceDecimals, quantityDecimals: quantityDecimals)
    }

    /// A price×quantity product (in units at pd+qd decimals) as money units, saturated.
    @inlinable
    public static func fromPriceQuantity(_ pq: Int128, priceDecimals: UInt8, quantityDecimals: UInt8) -> Int64 {
        let exponent = Int(priceDecimals) + Int(quantityDecimals) - Int(decimals)
        let value: Int128
        if exponent >= 0 {
            // Fast path: a product that fits in 64 bits divides in 64 bits (an Int128
            // division is a library call several times slower; this runs many times per decision).
            if exponent <= 18, let small = Int64(exactly: pq) { return small / DecimalScale.multiplier(UInt8(exponent)) }
            value = pq / power(exponent)
        } else {
            let (m, o) = pq.multipliedReportingOverflow(by: power(-exponent))
            value = o ? (pq < 0 ? Int128(Int64.min) : Int128(Int64.max)) : m
        }
        return saturate(value)
    }

    /// A quote-currency amount at `priceDecimals` (e.g. a fill's fee) as money units, saturated.
    @inlinable
    public static func fromQuote(_ units: Int64, priceDecimals: UInt8) -> Int64 {
        fromPriceQuantity(Int128(units), priceDecimals: priceDecimals, quantityDecimals: 0)
    }

    /// 10^e as Int128 (0 ≤ e ≤ 38).
    @inlinable
    public static func power(_ e: Int) -> Int128 {
        precondition(e >= 0 && e <= 38, "power of ten \(e) out of range")
        var m: Int128 = 1
        for _ in 0..<e { m &*= 10 }
        return m
    }

    @inlinable
    public static func saturate(_ v: Int128) -> Int64 {
        if v > Int128(Int64.max) { return Int64.max }
        if v < -Int128(Int64.max) { return -Int64.max }
        return Int64(v)
    }
}

/// The account-wide pre-trade limits and breaker thresholds. Per-instrument limits (venue
/// filters, max order quantity, position limit) are in `InstrumentRiskSpec`, because they are
/// in that instrument's quantity units. Plain values: set from the config (cold path) and
/// replaced at run time through the control ring.
public struct RiskLimits: Sendable, Equatable, BitwiseCopyable {
    /// Starting capital, money units (default 50,000).
    public var startingCapitalMoney: Int64 = MoneyScale.money(50_000)
    /// Price collar: |entry − last| ≤ last × collar / 10,000 (default 2 %).
    public var priceCollarBasisPoints: Int64 = 200
    /// Max age of the reference price in ns; older fails closed (default 5 s).
    public var maxReferencePriceAgeNs: Nanos = 5_000_000_000
    /// Max notional of one order, money units (default 10,000).
    public var maxOrderNotionalMoney: Int64 = MoneyScale.money(10_000)
    /// Max gross exposure (Σ |worst-case position| × last price), money units (default 100,000 = 2× capital).
    public var maxGrossExposureMoney: Int64 = MoneyScale.money(100_000)
    /// Max |net exposure| (Σ signed worst-case position × last price), money units (default 50,000).
    public var maxNetExposureMoney: Int64 = MoneyScale.money(50_000)
    /// Max open positions with an intraday horizon (default 2).
    public var maxOpenIntradayPositions: Int = 2
    /// Max open positions with a swing horizon (default 4).
    public var maxOpenSwingPositions: Int = 4
    /// Token bucket: burst size in orders (default 10).
    public var submitBurst: Int64 = 10
    /// Token bucket: orders per second refilled (default 5).
    public var submitPerSecond: Int64 = 5
    /// Reduce-only orders' own token bucket: burst (default 20) and orders per second (default 10).
    public var exitSubmitBurst: Int64 = 20
    public var exitSubmitPerSecond: Int64 = 10
    /// Default per-strategy budget (Σ |worst-case position| × last price of its positions), money units (default 25,000).
    public var strategyBudgetMoney: Int64 = MoneyScale.money(25_000)
    /// Capital at risk between entry and stop per trade, parts per million of equity (default 1 % = 10,000).
    public var riskPartsPerMillion: Int64 = 10_000
    /// Min reward:risk ×1000 (default 1.5 → 1,500).
    public var minRewardRiskMilli: Int64 = 1_500
    /// Daily loss breaker, parts per million of the day's starting equity (default 3 %) → reducing.
    public var dailyLossPartsPerMillion: Int64 = 30_000
    /// Weekly loss breaker, ppm of the week's starting equity (default 6 %) → halted.
    public var weeklyLossPartsPerMillion: Int64 = 60_000
    /// Monthly loss breaker, ppm of the calendar month's (UTC) starting equity (default 8 %) → halted.
    public var monthlyLossPartsPerMillion: Int64 = 80_000
    /// Drawdown from peak equity breaker, ppm of the peak (default 10 %) → halted.
    public var drawdownPartsPerMillion: Int64 = 100_000

    public init() {}

    /// Limits no test or benchmark signal reaches for rate, size or exposure (the defaults
    /// for the rest): for tests and benchmarks that exercise something else.
    public static func unbounded() -> RiskLimits {
        var l = RiskLimits()
        l.submitBurst = 1 << 40
        l.submitPerSecond = 1 << 30
        l.maxOrderNotionalMoney = MoneyScale.money(1_000_000_000)
        l.maxGrossExposureMoney = MoneyScale.money(1_000_000_000)
        l.maxNetExposureMoney = MoneyScale.money(1_000_000_000)
        l.strategyBudgetMoney = MoneyScale.money(1_000_000_000)
        l.maxOpenSwingPositions = 1_000
        return l
    }
}

/// One instrument as pre-trade risk knows it: the venue's filters and this symbol's limits,
/// all in the instrument's own units.
public struct InstrumentRiskSpec: Sendable, Equatable {
    public var priceDecimals: UInt8
    public var quantityDecimals: UInt8
    /// Price tick in price units (prices must be multiples).
    public var tickSizeUnits: Int64
    /// Quantity step in quantity units (quantities must be multiples).
    public var stepSizeUnits: Int64
    /// Venue min/max quantity per order, quantity units.
    public var venueMinQuantityUnits: Int64
    public var venueMaxQuantityUnits: Int64
    /// Venue min notional per order, money units.
    public var venueMinNotionalMoney: Int64
    /// Our max quantity per order, quantity units.
    public var maxOrderQuantityUnits: Int64
    /// Our position limit for the symbol, quantity units: Σ over strategies of each one's
    /// worst-case |position| (position plus its open orders on the side that grows it).
    public var positionLimitUnits: Int64
    /// The venue the instrument trades on: its orders go there.
    public var venue: VenueId
    /// The venue's fee per side (the higher of maker and taker), parts per million of
    /// notional: reward:risk is checked net of it.
    public var feePartsPerMillion: Int64

    public init(priceDecimals: UInt8, quantityDecimals: UInt8, tickSizeUnits: Int64 = 1, stepSizeUnits: Int64 = 1,
                venueMinQuantityUnits: Int64 = 1, venueMaxQuantityUnits: Int64 = Int64.max,
                venueMinNotionalMoney: Int64 = 0, maxOrderQuantityUnits: Int64, positionLimitUnits: Int64,
                venue: VenueId = 0, feePartsPerMillion: Int64 = 0) {
        precondition(tickSizeUnits > 0 && stepSizeUnits > 0, "tick \(tickSizeUnits) and step \(stepSizeUnits) must be positive")
        precondition(priceDecimals <= DecimalScale.maxDecimals && quantityDecimals <= DecimalScale.maxDecimals,
                     "decimals \(priceDecimals)/\(quantityDecimals) exceed \(DecimalScale.maxDecimals)")
        self.priceDecimals = priceDecimals
        self.quantityDecimals = quantityDecimals
        self.tickSizeUnits = tickSizeUnits
        self.stepSizeUnits = stepSizeUnits
        self.venueMinQuantityUnits = venueMinQuantityUnits
        self.venueMaxQuantityUnits = venueMaxQuantityUnits
        self.venueMinNotionalMoney = venueMinNotionalMoney
        self.maxOrderQuantityUnits = maxOrderQuantityUnits
        self.positionLimitUnits = positionLimitUnits
        self.venue = venue
        self.feePartsPerMillion = feePartsPerMillion
    }
}

/// Why a signal was denied: one case per check, numbered by the step of
/// `PreTradeRisk.decide` it belongs to (its doc gives the exact order). The raw values are
/// stable (journal, `RiskEvent.reason`): never renumber, only add. `observed`/`limit` units
/// are given per case.
public enum DenialReason: UInt16, Sendable, CaseIterable {
    /// Side, sizing or horizon byte unknown. observed = the bad byte.
    case malformedSignal = 1
    /// Engine not active and the signal is not reduce-only. observed/limit = state raw / active raw.
    case globalNotActive = 2
    /// The strategy is not active and the signal is not reduce-only.
    case strategyNotActive = 3
    /// The symbol is not active and the signal is not reduce-only.
    case symbolNotActive = 4
    /// Reduce-only, but the strategy holds nothing on the other side to reduce. observed = reducible quantity units.
    case nothingToReduce = 5
    /// Strategy id outside 0..<strategyCapacity. observed = id.
    case unknownStrategy = 10
    /// Instrument id outside the table or not registered. observed = id.
    case unknownInstrument = 11
    /// No reference price yet (fail closed).
    case noReferencePrice = 12
    /// Reference price older than the limit. observed/limit = age / max age, ns.
    case staleReferencePrice = 13
    /// Risk sizing impossible: no stop, stop on the wrong side of entry, or equity ≤ 0. observed = stop units, limit = entry units.
    case cannotSizeFromRisk = 14
    /// Signal decimals differ from the instrument's. observed = signal price decimals × 256 + quantity decimals.
    case precisionMismatch = 20
    /// Entry price not a positive multiple of the tick. observed = price units, limit = tick units.
    case priceOffTick = 21
    /// Quantity not a multiple of the step. observed = quantity units, limit = step units.
    case quantityOffStep = 22
    /// Quantity below the venue minimum (includes 0). quantity units.
    case quantityBelowVenueMinimum = 23
    /// Quantity above the venue maximum. quantity units.
    case quantityAboveVenueMaximum = 24
    /// Notional below the venue minimum. money units.
    case notionalBelowVenueMinimum = 25
    /// |entry − last| beyond the collar. observed = deviation in basis points (rounded up), limit = collar bps.
    case priceOutsideCollar = 30
    /// Quantity above our max per order. quantity units.
    case orderQuantityAboveMaximum = 31
    /// Notional above our max per order. money units.
    case orderNotionalAboveMaximum = 32
    /// Symbol position limit (counting open orders). observed = worst-case Σ|position| after the order, quantity units.
    case positionLimit = 33
    /// Gross exposure limit. money units.
    case grossExposure = 34
    /// Net exposure limit (|net| after the order). money units.
    case netExposure = 35
    /// Too many open positions of the signal's horizon. observed = open count, limit = max.
    case maxOpenPositions = 36
    /// Submit-rate token bucket empty (denied, not queued). observed = available tokens ×1000, limit = 1000.
    case submitRate = 37
    /// The strategy's budget after the order. money units.
    case strategyBudget = 38
    /// Money at risk between entry and stop above the per-trade risk (fixed-quantity signals). money units.
    case riskPerTrade = 39
    /// Reward:risk below the minimum. observed/limit = ratio ×1000.
    case rewardRisk = 40
    /// An opposite-side order of ours rests on the symbol. observed = its open quantity units.
    case selfTrade = 41
    /// Risk approved, but every order-table slot holds an open order. observed/limit = open orders / capacity.
    case orderTableFull = 42
    /// A value of the signal outside what an order can carry: take-profit or stop-loss
    /// negative, confidence above 10,000 bp, risk fraction above 1,000,000 ppm, or an entry
    /// whose distance to the stop overflows. observed = the value.
    case valueOutOfRange = 43
    /// Decided before a journal write failed and held; too old to decide again on resume.
    /// observed/limit = age since the first decision / max reference age, ns.
    case heldTooLong = 44
    /// Every slot of the risk stage's outbox, the reserve for reduce-only orders included,
    /// holds an order the venue ring has not taken yet. observed/limit = orders waiting / capacity.
    case outboxFull = 45
    /// The reduce-only orders' token bucket is empty. observed = available tokens ×1000, limit = 1000.
    case exitSubmitRate = 50
}

/// Reasons carried by breaker and kill-switch `RiskEvent`s (`reason`), disjoint from `DenialReason`.
public enum BreakerReason: UInt16, Sendable, CaseIterable {
    /// observed = loss since the day's start, limit = allowed loss, money units.
    case dailyLoss = 100
    case weeklyLoss = 101
    /// observed = drawdown from peak, limit = allowed drawdown, money units.
    case drawdown = 102
    case killSwitch = 103
    /// A new UTC day lifted a daily-loss reduction.
    case newTradingDay = 104
    case manualResume = 105
    /// The journal refused a write (halted; nothing unjournaled was sent). observed = errno.
    case journalUnwritable = 106
    /// A write to the journal succeeded again after `journalUnwritable` (resumed).
    case journalWritable = 107
    /// observed = loss since the calendar month's start (UTC), limit = allowed loss, money units.
    case monthlyLoss = 108
}

/// A submit-rate token bucket in thousandths of a token, refilled from the time passed.
/// Plain value, owned by the risk stage.
public struct TokenBucket: Sendable, Equatable, BitwiseCopyable {
    public private(set) var tokensMilli: Int64
    public private(set) var lastRefillNs: MonotonicNanos = 0

    /// Full at start.
    public init(burst: Int64) { tokensMilli = burst * 1000 }

    @inlinable public var hasToken: Bool { tokensMilli >= 1000 }

    /// Takes one token (the caller checked `hasToken`).
    public mutating func take() { tokensMilli -= 1000 }

    /// Returns a token taken for an order that was never sent (the next refill caps the
    /// bucket at its burst).
    public mutating func giveBack() { tokensMilli += 1000 }

    /// Adds the tokens earned since the last refill, up to `burst`.
    public mutating func refill(nowNs: MonotonicNanos, burst: Int64, perSecond rate: Int64) {
        let capacity = burst * 1000
        guard nowNs > lastRefillNs, rate > 0, tokensMilli < capacity else {
            if tokensMilli >= capacity || rate <= 0 { lastRefillNs = max(lastRefillNs, nowNs) }
            tokensMilli = min(tokensMilli, capacity)
            return
        }
        // elapsed ns × tokens/s × 1000 milli / 1e9 ns; time is consumed only for whole
        // milli-tokens added, so frequent calls do not lose the fractions.
        let added = Int128(nowNs - lastRefillNs) * Int128(rate) / 1_000_000
        if Int128(tokensMilli) + added >= Int128(capacity) {
            tokensMilli = capacity
            lastRefillNs = nowNs
        } else {
            tokensMilli += Int64(added)
            lastRefillNs += Int64(added * 1_000_000 / Int128(rate))
        }
    }
}
