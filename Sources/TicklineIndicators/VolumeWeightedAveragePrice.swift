/// When a `VolumeWeightedAveragePrice` starts a new session (resets its sums).
public enum VWAPSession: Sendable, Hashable {
    /// A new session at every UTC midnight (the default).
    case utcDay
    /// A new session whenever floor((timestampNs − offsetNs) / lengthNs) changes, e.g.
    /// `.fixed(lengthNs: 86_400_000_000_000, offsetNs: 13 * 3_600_000_000_000 + 30 * 60_000_000_000)`
    /// for sessions starting at 13:30 UTC. Traps at init if `lengthNs` <= 0.
    case fixed(lengthNs: Int64, offsetNs: Int64)
    /// Never reset: cumulative since init or `reset()`.
    case never

    /// Nanoseconds in a UTC day.
    public static let nanosPerDay: Int64 = 86_400_000_000_000
}

/// Volume-weighted average price: Σ(typical price × volume) / Σ volume over the current
/// session, typical price = (high + low + close) / 3. Resets when a bar's timestamp falls in
/// another session than the previous bar's (by default at each UTC midnight; a timestamp
/// that goes back into an earlier session also starts a new one).
///
/// Ready once the session has seen a positive total volume. The sums are Neumaier-compensated
/// (there is no window to recompute from, and with `.never` they grow for the whole stream),
/// so the value stays within a few ulps over 10^8+ bars. O(1) per update, no allocation (the
/// session check compares against cached bounds; it divides only when a bar leaves them).
/// A value type owned by one thread.
public struct VolumeWeightedAveragePrice: Sendable {
    public let session: VWAPSession
    /// Session length in ns; 0 = never reset.
    @usableFromInline let lengthNs: Int64
    @usableFromInline let offsetNs: Int64
    /// The current session is [sessionStartNs, sessionEndNs).
    @usableFromInline var sessionStartNs: Int64
    @usableFromInline var sessionEndNs: Int64
    @usableFromInline var started: Bool
    @usableFromInline var priceVolume: CompensatedSum
    @usableFromInline var volume: CompensatedSum

    /// A fresh VWAP. Traps if a `.fixed` session length is <= 0.
    @inlinable
    public init(session: VWAPSession = .utcDay) {
        self.session = session
        switch session {
        case .utcDay:
            lengthNs = VWAPSession.nanosPerDay
            offsetNs = 0
        case .fixed(let length, let offset):
            precondition(length > 0, "VWAP session length \(length) ns must be positive")
            lengthNs = length
            offsetNs = offset
        case .never:
            lengthNs = 0
            offsetNs = 0
        }
        sessionStartNs = 0
        sessionEndNs = 0
        started = false
        priceVolume = CompensatedSum()
        volume = CompensatedSum()
    }

    /// Whether the current session has a positive total volume.
    @inlinable public var isReady: Bool { volume.value > 0 }

    /// The VWAP of the current session; NaN until ready.
    @inlinable
    public var value: Double {
        let totalVolume = volume.value
        return totalVolume > 0 ? priceVolume.value / totalVolume : .nan
    }

    /// Total volume of the current session.
    @inlinable public var sessionVolume: Double { volume.value }

    /// Adds one bar (`volume` must be >= 0).
    @inlinable
    public mutating func update(timestampNs: Int64, high: Double, low: Double, close: Double, volume barVolume: Double) {
        if lengthNs != 0 && (timestampNs < sessionStartNs || timestampNs >= sessionEndNs || !started) {
            startSession(containing: timestampNs)
        }
        started = true
        let typical = (high + low + close) / 3
        priceVolume.add(typical * barVolume)
        volume.add(barVolume)
    }

    /// Adds one bar.
    @inlinable
    public mutating func update(_ bar: OHLCVBar) {
        update(timestampNs: bar.timestampNs, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume)
    }

    @inlinable
    mutating func startSession(containing timestampNs: Int64) {
        let shifted = timestampNs &- offsetNs
        var index = shifted / lengthNs
        if shifted % lengthNs < 0 { index -= 1 }
        sessionStartNs = index &* lengthNs &+ offsetNs
        sessionEndNs = sessionStartNs &+ lengthNs
        if sessionEndNs < sessionStartNs { sessionEndNs = .max }
        priceVolume.reset()
        volume.reset()
    }

    /// Back to the initial state.
    @inlinable
    public mutating func reset() {
        sessionStartNs = 0
        sessionEndNs = 0
        started = false
        priceVolume.reset()
        volume.reset()
    }
}
