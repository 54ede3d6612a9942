/// One OHLCV bar as the indicators consume it (prices as Double; the fixed-point types of
/// TicklineCore are converted by the caller).
public struct OHLCVBar: Sendable, Hashable {
    /// Bar timestamp, ns since the Unix epoch (UTC); only VWAP reads it.
    public var timestampNs: Int64
    public var open: Double
    public var high: Double
    public var low: Double
    public var close: Double
    public var volume: Double

    @inlinable
    public init(timestampNs: Int64, open: Double, high: Double, low: Double, close: Double, volume: Double) {
        self.timestampNs = timestampNs
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }
}

/// Every indicator of `tickline indicators`, updated together from one bar: SMA(20),
/// EMA(20), RSI(14), MACD(12, 26, 9), Bollinger(20, 2), ATR(14), ADX(14) with ±DI(14),
/// Stochastic(14, 3, 3), VWAP and z-score(20).
///
/// SMA(20), Bollinger(20) and z-score(20) of the close share one `RollingMoments<20>` window
/// (the Bollinger middle band is the SMA). The whole state is inline: one set per symbol is
/// `MemoryLayout<IndicatorSet>.size` bytes (`IndicatorSet.bytesPerSymbol`), no heap.
/// `update` is O(1) (amortised for the stochastic's extremes) and never allocates.
/// A value type owned by one thread.
public struct IndicatorSet: Sendable {
    @usableFromInline var closeMoments: BollingerBands<20>
    @usableFromInline var ema20: ExponentialMovingAverage
    @usableFromInline var rsi14: RelativeStrengthIndex
    @usableFromInline var macdIndicator: MovingAverageConvergenceDivergence
    @usableFromInline var atr14: AverageTrueRange
    @usableFromInline var adx14: AverageDirectionalIndex
    @usableFromInline var stochastic14: Stochastic<14, 3, 3>
    @usableFromInline var vwapIndicator: VolumeWeightedAveragePrice
    @usableFromInline var barsSeen: Int

    /// A fresh set. `vwapSession` chooses when the VWAP resets (UTC midnight by default).
    @inlinable
    public init(vwapSession: VWAPSession = .utcDay) {
        closeMoments = BollingerBands(deviations: 2)
        ema20 = ExponentialMovingAverage(period: 20)
        rsi14 = RelativeStrengthIndex(period: 14)
        macdIndicator = MovingAverageConvergenceDivergence(fast: 12, slow: 26, signal: 9)
        atr14 = AverageTrueRange(period: 14)
        adx14 = AverageDirectionalIndex(period: 14)
        stochastic14 = Stochastic()
        vwapIndicator = VolumeWeightedAveragePrice(session: vwapSession)
        barsSeen = 0
    }

    /// Bytes of state per symbol (all inline; there is no heap part).
    public static var bytesPerSymbol: Int { MemoryLayout<IndicatorSet>.size }

    /// Bars seen since init/reset.
    @inlinable @inline(__always) public var barCount: Int { barsSeen }

    /// Updates every indicator with one bar.
    ///
    /// Not marked `@_noAllocation`: the windowed indicators are value-generic, and in debug
    /// builds (no specialisation) the checker rejects the generic calls. The allocation gate is
    /// the `Indicators.fullSetPerBar` benchmark, whose `mallocCountTotal` threshold is 0.
    @inlinable
    public mutating func update(_ bar: OHLCVBar) {
        let close = bar.close
        closeMoments.update(close)
        ema20.update(close)
        rsi14.update(close)
        macdIndicator.update(close)
        atr14.update(high: bar.high, low: bar.low, close: close)
        adx14.update(high: bar.high, low: bar.low, close: close)
        stochastic14.update(high: bar.high, low: bar.low, close: close)
        vwapIndicator.update(timestampNs: bar.timestampNs, high: bar.high, low: bar.low, close: close, volume: bar.volume)
        barsSeen += 1
    }

    /// Back to the initial state (same configuration).
    @inlinable
    public mutating func reset() {
        closeMoments.reset()
        ema20.reset()
        rsi14.reset()
        macdIndicator.reset()
        atr14.reset()
        adx14.reset()
        stochastic14.reset()
        vwapIndicator.reset()
        barsSeen = 0
    }

    /// The newest close (NaN before the first bar).
    @inlinable @inline(__always) public var close: Double { closeMoments.moments.latest }

    /// SMA(20) of the close; NaN until ready (index 19).
    @inlinable @inline(__always) public var sma20: Double { closeMoments.middle }

    /// EMA(20) of the close (index 19).
    @inlinable @inline(__always) public var ema: ExponentialMovingAverage { ema20 }

    /// RSI(14) (index 14).
    @inlinable @inline(__always) public var rsi: RelativeStrengthIndex { rsi14 }

    /// MACD(12, 26, 9) (index 33).
    @inlinable @inline(__always) public var macd: MovingAverageConvergenceDivergence { macdIndicator }

    /// Bollinger(20, 2) of the close (index 19).
    @inlinable @inline(__always) public var bollinger: BollingerBands<20> { closeMoments }

    /// ATR(14) (index 14).
    @inlinable @inline(__always) public var atr: AverageTrueRange { atr14 }

    /// ADX(14) (index 27) with ±DI(14) (index 14).
    @inlinable @inline(__always) public var adx: AverageDirectionalIndex { adx14 }

    /// Stochastic(14, 3, 3) (index 17).
    @inlinable @inline(__always) public var stochastic: Stochastic<14, 3, 3> { stochastic14 }

    /// Session VWAP.
    @inlinable @inline(__always) public var vwap: VolumeWeightedAveragePrice { vwapIndicator }

    /// (close − SMA20) / population stddev20; NaN until ready (index 19) and when the stddev
    /// is 0.
    @inlinable @inline(__always)
    public var zScore20: Double {
        let moments = closeMoments.moments
        let deviation = moments.standardDeviation
        guard deviation > 0 else { return .nan }
        return (moments.latest - moments.mean) / deviation
    }
}
