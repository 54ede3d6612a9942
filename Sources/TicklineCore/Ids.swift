/// A small integer id for an instrument, assigned by the instrument table off the hot path.
public typealias InstrumentId = UInt32
/// A small integer id for a strategy instance, assigned from the config.
public typealias StrategyId = UInt16

/// Order side, stored in events as its raw byte.
public enum Side: UInt8, Sendable {
    case buy = 1
    case sell = 2

    @inlinable public var opposite: Side { self == .buy ? .sell : .buy }
    /// +1 for buy, −1 for sell: the sign a fill gives a position.
    @inlinable public var sign: Int64 { self == .buy ? 1 : -1 }
}

/// Active, reducing (exits only) or halted: the trading state of the whole engine, a
/// strategy or a symbol.
public enum TradingState: UInt8, Sendable {
    case active = 1
    case reducing = 2
    case halted = 3
}
