import TicklineCore
import TicklineRisk
import TicklineTestSupport

/// Instrument 0 of the fixtures: prices at 2 decimals (tick 0.01), quantities at 3 decimals
/// in steps of 0.010; reference price 100.00 = 10,000 units.
let referenceUnits: Int64 = 10_000
let startNs = MonotonicNanos(1_000_000_000)

func fixtureSpec(tick: Int64 = 1, step: Int64 = 10, venueMin: Int64 = 10, venueMax: Int64 = 10_000_000,
                 minNotional: Int64 = 0, maxOrder: Int64 = 10_000_000, positionLimit: Int64 = 10_000_000) -> InstrumentRiskSpec {
    InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, tickSizeUnits: tick, stepSizeUnits: step,
                       venueMinQuantityUnits: venueMin, venueMaxQuantityUnits: venueMax, venueMinNotionalMoney: minNotional,
                       maxOrderQuantityUnits: maxOrder, positionLimitUnits: positionLimit)
}

/// Limits where nothing binds unless a test tightens it (collar 2 %, reward:risk 1.5 and
/// freshness 5 s stay at their defaults).
func generousLimits() -> RiskLimits {
    var l = RiskLimits()
    l.maxOrderNotionalMoney = MoneyScale.money(1_000_000_000)
    l.maxGrossExposureMoney = MoneyScale.money(1_000_000_000)
    l.maxNetExposureMoney = MoneyScale.money(1_000_000_000)
    l.maxOpenIntradayPositions = 100
    l.maxOpenSwingPositions = 100
    l.submitBurst = 1_000_000
    l.submitPerSecond = 1_000_000
    l.strategyBudgetMoney = MoneyScale.money(1_000_000_000)
    l.riskPartsPerMillion = 1_000_000
    return l
}

func makeRisk(strategies: Int = 4, instruments: Int = 2, spec: InstrumentRiskSpec = fixtureSpec(),
              _ configure: (inout RiskLimits) -> Void = { _ in }) -> PreTradeRisk {
    var limits = generousLimits()
    configure(&limits)
    var risk = PreTradeRisk(strategyCapacity: strategies, instrumentCapacity: instruments, limits: limits)
    for i in 0..<instruments {
        risk.register(instrument: InstrumentId(i), spec: spec)
        risk.updatePrice(instrument: InstrumentId(i), price: Price(units: referenceUnits), nowNs: startNs)
    }
    return risk
}

/// An entry: limit at `price`, stop 1.00 away, take-profit 2.00 away (reward:risk 2).
func entry(_ side: Side = .buy, quantity: Int64 = 1_000, price: Int64 = referenceUnits, stop: Int64? = nil, takeProfit: Int64? = nil,
           strategy: StrategyId = 0, instrument: InstrumentId = 0, horizon: Horizon = .swing) -> SignalEvent {
    let sign = side.sign
    return SignalEvent(sequence: 1, instrument: instrument, strategy: strategy, side: side, sizing: .quantity,
                       quantity: Quantity(units: quantity), entryPrice: Price(units: price),
                       takeProfit: Price(units: takeProfit ?? price + sign * 200), stopLoss: Price(units: stop ?? price - sign * 100),
                       horizon: horizon, priceDecimals: 2, quantityDecimals: 3)
}

func exit(_ side: Side, quantity: Int64 = 0, strategy: StrategyId = 0, instrument: InstrumentId = 0) -> SignalEvent {
    SignalEvent(sequence: 2, instrument: instrument, strategy: strategy, side: side, sizing: .quantity,
                quantity: Quantity(units: quantity), entryPrice: Price(units: referenceUnits),
                priceDecimals: 2, quantityDecimals: 3, flags: SignalEvent.flagReduceOnly)
}

func fill(_ order: OrderEvent, quantity: Int64? = nil, price: Int64? = nil, fee: Int64 = 0) -> FillEvent {
    FillEvent(clientOrderId: order.clientOrderId, instrument: order.instrument, strategy: order.strategy,
              side: order.side ?? .buy, price: Price(units: price ?? order.price.units),
              quantity: Quantity(units: quantity ?? order.quantity.units), fee: fee, priceDecimals: 2, quantityDecimals: 3)
}

extension PreTradeRisk {
    /// Decides at `startNs` (fresh price) unless told otherwise.
    mutating func check(_ signal: SignalEvent, nowNs: MonotonicNanos = startNs) -> RiskDecision {
        decide(signal: signal, nowNs: nowNs, stampNs: nowNs)
    }

    /// Decides and fills the whole order at its price; returns the order.
    @discardableResult
    mutating func enterAndFill(_ signal: SignalEvent, nowNs: MonotonicNanos = startNs) -> OrderEvent? {
        guard let o = check(signal, nowNs: nowNs).order else { return nil }
        apply(fill: fill(o))
        return o
    }
}

