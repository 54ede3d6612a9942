import TicklineCore

/// What executes one venue's orders for the execution stage: the paper venue here, a broker
/// adapter in its place. The stage drives it from its one thread; every call is on the hot
/// path except `holdings()` and `restore`, and none may allocate or block (a broker adapter
/// queues its requests and does its I/O in `advance`).
///
/// - Orders (`submit`): a new order, a cancel, or a replace (`OrderEvent.action`). A cancel or
///   replace names the order by its `clientOrderId`; a replace carries the new limit price
///   and the new open quantity.
/// - Reports (`nextReport`): every order status change and every execution as a `FillEvent`
///   carrying this venue's id, in the order the venue made them. A refused cancel or
///   replace is a `rejected` report flagged `VenueReportFlags.cancelRejected` (the order
///   itself lives on).
/// - Public market data (`onDepth`, `onTrade`): a simulated venue matches against it; a real
///   venue ignores it.
/// - Reconciliation (`holdings`): what the venue says it holds, to compare with what the
///   risk stage holds.
public protocol ExecutionVenue {
    /// The venue's position in the engine's `venues:` list; every report carries it.
    var venueId: VenueId { get }
    /// Whether one more order can be taken now; while not, orders wait in their ring.
    var canTakeOrder: Bool { get }
    /// Takes an order, a cancel or a replace. False when it was not taken (no room): the
    /// caller counts it as refused.
    mutating func submit(_ order: OrderEvent, nowNs: WallNanos) -> Bool
    /// Moves the venue to `nowNs`: orders whose latency has passed reach it, its I/O is
    /// done. Returns the work done (0 = idle).
    mutating func advance(nowNs: WallNanos) -> Int
    /// The oldest report not yet read, or nil.
    mutating func nextReport() -> FillEvent?
    mutating func onDepth(_ snapshot: DepthSnapshot, nowNs: WallNanos)
    mutating func onTrade(_ trade: MarketEvent, nowNs: WallNanos)
    /// Positions (non-zero) and open orders as the venue holds them. Cold path.
    func holdings() -> VenueHoldings
    /// Starts the venue holding a position it had before a restart (a real venue already
    /// holds it and ignores this). Cold path.
    mutating func restore(strategy: StrategyId, instrument: InstrumentId, quantityUnits: Int64)
}

/// A venue's answer to a reconciliation query.
public struct VenueHoldings: Sendable, Equatable {
    public struct Position: Sendable, Equatable {
        public var strategy: StrategyId
        public var instrument: InstrumentId
        /// Signed quantity units (positive = long).
        public var quantityUnits: Int64
        public init(strategy: StrategyId, instrument: InstrumentId, quantityUnits: Int64) {
            self.strategy = strategy
            self.instrument = instrument
            self.quantityUnits = quantityUnits
        }
    }

    public struct OpenOrder: Sendable, Equatable {
        public var clientOrderId: UInt64
        public var strategy: StrategyId
        public var instrument: InstrumentId
        public var side: Side
        public var price: Price
        public var leavesQuantity: Quantity
        public init(clientOrderId: UInt64, strategy: StrategyId, instrument: InstrumentId, side: Side, price: Price,
                    leavesQuantity: Quantity) {
            self.clientOrderId = clientOrderId
            self.strategy = strategy
            self.instrument = instrument
            self.side = side
            self.price = price
            self.leavesQuantity = leavesQuantity
        }
    }

    public var positions: [Position] = []
    public var openOrders: [OpenOrder] = []
    public init() {}
}

extension PaperVenue: ExecutionVenue {
    public var venueId: VenueId { config.venueId }
    public var canTakeOrder: Bool { inFlightOrders < config.inFlightCapacity }

    public mutating func onTrade(_ trade: MarketEvent, nowNs: WallNanos) {
        guard trade.kind == .trade else { return }
        onTrade(instrument: trade.instrument, price: trade.price, quantity: trade.quantity,
                aggressorSold: trade.flags & MarketEvent.flagAggressorSold != 0, nowNs: nowNs)
    }
}
