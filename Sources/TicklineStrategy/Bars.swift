import TicklineCore
import TicklineIndicators

extension BarKind {
    /// Length of a time bar in ns; 0 for tick and volume bars.
    @inlinable
    public var durationNs: Nanos {
        switch self {
        case .seconds1: return 1_000_000_000
        case .minutes1: return 60_000_000_000
        case .minutes5: return 300_000_000_000
        case .minutes15: return 900_000_000_000
        case .hours1: return 3_600_000_000_000
        case .days1: return 86_400_000_000_000
        case .tick, .volume: return 0
        }
    }

    /// Whether bars of this kind close on a clock boundary.
    @inlinable public var isTimeBar: Bool { durationNs > 0 }

    /// The config spelling (`1s`, `1m`, `5m`, `15m`, `1h`, `1d`, `tick`, `volume`).
    public var configName: String {
        switch self {
        case .seconds1: return "1s"
        case .minutes1: return "1m"
        case .minutes5: return "5m"
        case .minutes15: return "15m"
        case .hours1: return "1h"
        case .days1: return "1d"
        case .tick: return "tick"
        case .volume: return "volume"
        }
    }

    /// Every kind, in config order.
    public static let allKinds: [BarKind] = [.seconds1, .minutes1, .minutes5, .minutes15, .hours1, .days1, .tick, .volume]
}

/// `BarEvent.flags` bit 0: the bar was built from quote mid-prices (no trade in it).
public let barFlagFromQuotes: UInt8 = 1

/// One bar being built, of any kind. Time bars are aligned on the Unix epoch (UTC) in the
/// receive wall clock (`MarketEvent.receiveWallNs`, or the venue time when that is 0) and
/// cover [start, start + duration). A time bar holds trades and, separately, the quote
/// mid-prices seen in it: at close it reports the trades' OHLCV, or the mids' OHLC with
/// volume 0 when no trade arrived (flag `barFlagFromQuotes`). An interval with neither
/// trades nor quotes produces no bar. Tick bars close after `threshold` trades, volume bars
/// once their volume reaches `threshold` quantity units; both are built from trades only.
///
/// Plain data (no heap), owned by one thread; O(1) per update.
public struct BarBuilder: Sendable {
    public let kind: BarKind
    /// Time bars: duration in ns. Tick bars: trades per bar. Volume bars: quantity units per bar.
    public let threshold: Int64
    @usableFromInline var _isOpen: Bool
    public var isOpen: Bool { _isOpen }
    @usableFromInline var _startNs: WallNanos
    public var startNs: WallNanos { _startNs }
    /// Time bars: the end of the interval (exclusive). Others: the last trade's time.
    @usableFromInline var _endNs: WallNanos
    public var endNs: WallNanos { _endNs }
    @usableFromInline var open: Int64
    @usableFromInline var high: Int64
    @usableFromInline var low: Int64
    @usableFromInline var close: Int64
    @usableFromInline var volume: Int64
    @usableFromInline var _tradeCount: UInt64
    public var tradeCount: UInt64 { _tradeCount }
    /// Quote mids in doubled price units ((bid + ask), exact).
    @usableFromInline var midOpen2: Int64
    @usableFromInline var midHigh2: Int64
    @usableFromInline var midLow2: Int64
    @usableFromInline var midClose2: Int64
    @usableFromInline var quoteCount: UInt64

    /// A builder for `kind`. `threshold` is ignored for time bars; traps when a tick or volume
    /// bar gets a threshold < 1.
    public init(kind: BarKind, threshold: Int64 = 0) {
        self.kind = kind
        if kind.isTimeBar {
            self.threshold = kind.durationNs
        } else {
            precondition(threshold >= 1, "BarBuilder \(kind.configName): threshold \(threshold) must be at least 1")
            self.threshold = threshold
        }
        _isOpen = false
        _startNs = 0
        _endNs = 0
        open = 0
        high = 0
        low = 0
        close = 0
        volume = 0
        _tradeCount = 0
        midOpen2 = 0
        midHigh2 = 0
        midLow2 = 0
        midClose2 = 0
        quoteCount = 0
    }

    /// Whether this open time bar's interval has ended at `wallNs`.
    @inlinable
    public func isDue(atWallNs wallNs: WallNanos) -> Bool { isOpen && kind.isTimeBar && wallNs >= endNs }

    @inlinable
    mutating func openIfNeeded(_ wallNs: WallNanos) {
        guard !isOpen else { return }
        _isOpen = true
        if kind.isTimeBar {
            let d = threshold
            let ns = wallNs.ns
            var start = ns - ns % d
            if ns < 0 && ns % d != 0 { start -= d }
            _startNs = WallNanos(start)
            // The last interval before Int64.max ns ends there: a later end is not a time.
            let (end, overflow) = start.addingReportingOverflow(d)
            _endNs = WallNanos(overflow ? .max : end)
        } else {
            _startNs = wallNs
            _endNs = wallNs
        }
        _tradeCount = 0
        quoteCount = 0
        volume = 0
    }

    /// Adds a trade. Returns true when a tick or volume bar is now complete (call `close`).
    /// Time bars: the caller closes a due bar first (`isDue`).
    @inlinable
    public mutating func addTrade(priceUnits: Int64, quantityUnits: Int64, wallNs: WallNanos) -> Bool {
        openIfNeeded(wallNs)
        if tradeCount == 0 {
            open = priceUnits
            high = priceUnits
            low = priceUnits
        } else {
            if priceUnits > high { high = priceUnits }
            if priceUnits < low { low = priceUnits }
        }
        close = priceUnits
        volume &+= quantityUnits
        _tradeCount &+= 1
        switch kind {
        case .tick:
            _endNs = wallNs
            return Int64(tradeCount) >= threshold
        case .volume:
            _endNs = wallNs
            return volume >= threshold
        default:
            return false
        }
    }

    /// Adds a best bid/ask (time bars only; the mid is used when the bar has no trade).
    @inlinable
    public mutating func addQuote(bidUnits: Int64, askUnits: Int64, wallNs: WallNanos) {
        guard kind.isTimeBar, bidUnits > 0, askUnits > 0 else { return }
        openIfNeeded(wallNs)
        let mid2 = bidUnits &+ askUnits
        if quoteCount == 0 {
            midOpen2 = mid2
            midHigh2 = mid2
            midLow2 = mid2
        } else {
            if mid2 > midHigh2 { midHigh2 = mid2 }
            if mid2 < midLow2 { midLow2 = mid2 }
        }
        midClose2 = mid2
        quoteCount &+= 1
    }

    /// Closes the open bar: its journal record and the indicators' view of it (prices scaled
    /// by `priceScale` = 10^decimals). Returns nil when no bar is open. The builder is then
    /// empty until the next trade or quote.
    @inlinable
    public mutating func close(instrument: InstrumentId, priceDecimals: UInt8, quantityDecimals: UInt8,
                               priceScale: Double, quantityScale: Double) -> (event: BarEvent, bar: OHLCVBar)? {
        guard isOpen else { return nil }
        _isOpen = false
        var event = BarEvent(instrument: instrument, kind: kind, priceDecimals: priceDecimals, quantityDecimals: quantityDecimals,
                             startWallNs: startNs, endWallNs: endNs)
        let bar: OHLCVBar
        if tradeCount > 0 {
            event.open = Price(units: open)
            event.high = Price(units: high)
            event.low = Price(units: low)
            event.close = Price(units: close)
            event.volume = Quantity(units: volume)
            event.tradeCount = tradeCount
            bar = OHLCVBar(timestampNs: startNs.ns, open: Double(open) / priceScale, high: Double(high) / priceScale,
                           low: Double(low) / priceScale, close: Double(close) / priceScale,
                           volume: Double(volume) / quantityScale)
        } else {
            // Mid-prices rounded down to the price scale in the record; exact in the bar.
            event.open = Price(units: midOpen2 >> 1)
            event.high = Price(units: midHigh2 >> 1)
            event.low = Price(units: midLow2 >> 1)
            event.close = Price(units: midClose2 >> 1)
            event.flags = barFlagFromQuotes
            let scale2 = 2 * priceScale
            bar = OHLCVBar(timestampNs: startNs.ns, open: Double(midOpen2) / scale2, high: Double(midHigh2) / scale2,
                           low: Double(midLow2) / scale2, close: Double(midClose2) / scale2, volume: 0)
        }
        _tradeCount = 0
        quoteCount = 0
        volume = 0
        return (event, bar)
    }
}
