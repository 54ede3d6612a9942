import TicklineCore
import TicklineExecution
import TicklineRisk

/// An order of instrument 0 at 2 price decimals and 3 quantity decimals.
func order(_ id: UInt64, side: Side = .buy, quantity: Int64 = 1_000, price: Int64 = 10_000, type: OrderType = .limit,
           instrument: InstrumentId = 0, strategy: StrategyId = 0, timeInForce: TimeInForce = .goodTillCancel,
           reduceOnly: Bool = false) -> OrderEvent {
    OrderEvent(clientOrderId: id, instrument: instrument, strategy: strategy, side: side, type: type, price: Price(units: price),
               quantity: Quantity(units: quantity), timeInForce: timeInForce, flags: reduceOnly ? OrderEvent.flagReduceOnly : 0,
               priceDecimals: 2, quantityDecimals: 3)
}

/// A venue report for `o`.
func report(_ o: OrderEvent, _ status: OrderStatus, quantity: Int64 = 0, price: Int64? = nil, tradeId: UInt64 = 0) -> FillEvent {
    FillEvent(clientOrderId: o.clientOrderId, instrument: o.instrument, strategy: o.strategy, side: o.side ?? .buy,
              price: Price(units: quantity > 0 ? (price ?? o.price.units) : 0), quantity: Quantity(units: quantity),
              venueTradeId: tradeId, status: status, priceDecimals: o.priceDecimals, quantityDecimals: o.quantityDecimals)
}
