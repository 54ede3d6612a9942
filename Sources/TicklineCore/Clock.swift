#if canImport(Glibc)
import Glibc
#endif

/// A duration in nanoseconds (signed: the difference of two instants of one clock).
public typealias Nanos = Int64

/// Which clock an `Instant` was read from: a type only, never a value.
public protocol ClockKind {}
/// CLOCK_MONOTONIC: latency stamps and intervals inside one host.
public enum MonotonicClock: ClockKind {}
/// CLOCK_REALTIME, ns since the Unix epoch: stored timestamps, sessions, calendars, UTC days.
public enum WallClock: ClockKind {}

/// An instant of clock `C` in ns. Only comparable with, and subtractable from, instants of
/// the same clock, so the compiler refuses a mix of monotonic and wall time; instant ±
/// duration is an instant, instant − instant a duration. One `Int64`: ring events keep
/// their layout.
public struct Instant<C: ClockKind>: Sendable, BitwiseCopyable, Hashable, Comparable, ExpressibleByIntegerLiteral {
    public var ns: Int64

    @inlinable public init(_ ns: Int64) { self.ns = ns }
    @inlinable public init(integerLiteral value: Int64) { ns = value }

    @inlinable public static var zero: Self { Self(0) }
    @inlinable public static var max: Self { Self(.max) }
    @inlinable public static var min: Self { Self(.min) }

    @inlinable public static func < (a: Self, b: Self) -> Bool { a.ns < b.ns }
    @inlinable public static func + (a: Self, d: Nanos) -> Self { Self(a.ns &+ d) }
    @inlinable public static func - (a: Self, d: Nanos) -> Self { Self(a.ns &- d) }
    // Disfavoured: `instant - 5` (a literal) means the duration overload.
    @_disfavoredOverload @inlinable public static func - (a: Self, b: Self) -> Nanos { a.ns &- b.ns }
    @inlinable public static func += (a: inout Self, d: Nanos) { a.ns &+= d }
    @inlinable public static func &+= (a: inout Self, d: Nanos) { a.ns &+= d }
    @inlinable public static func &+ (a: Self, d: Nanos) -> Self { Self(a.ns &+ d) }
    @inlinable public static func &- (a: Self, d: Nanos) -> Self { Self(a.ns &- d) }
    @_disfavoredOverload @inlinable public static func &- (a: Self, b: Self) -> Nanos { a.ns &- b.ns }
}

/// An instant of the monotonic clock in ns.
public typealias MonotonicNanos = Instant<MonotonicClock>
/// An instant of the wall clock in ns since the Unix epoch.
public typealias WallNanos = Instant<WallClock>

/// The time of one duty cycle: both clocks, read once by the runner (or given by the
/// invoker: tests, replay and demo pass a simulated market clock). Decisions use it;
/// latency stamps do not (each stage reads `Clock.monotonic()` per batch for those).

public struct DutyCycleTime: Sendable, BitwiseCopyable, Equatable {
    public var monotonic: MonotonicNanos
    public var wall: WallNanos

    @inlinable public init(monotonic: MonotonicNanos, wall: WallNanos) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// A simulated clock on which both readings are `ns` (replay, demo, tests): the
    /// monotonic reading moves exactly with the simulated wall time.
    @inlinable public init(simulatedNs ns: Int64) {
        monotonic = MonotonicNanos(ns)
        wall = WallNanos(ns)
    }

    /// Both clocks read now.
    @inlinable public static func now() -> DutyCycleTime {
        DutyCycleTime(monotonic: Clock.monotonic(), wall: Clock.wall())
    }

    /// Both clocks moved forward by `d`.
    @inlinable public func advanced(by d: Nanos) -> DutyCycleTime {
        DutyCycleTime(monotonic: monotonic + d, wall: wall + d)
    }
}

/// The time a runner hands its agents each duty cycle: the real clocks (`tickline run`,
/// `bench e2e`), or a market clock that runs `speed` times faster than the real monotonic
/// clock from a starting wall time (the demo, where one-second bars close many times a
/// wall second). On the market clock both readings are the market time, as in replay.
public struct DutyCycleClock: Sendable {
    /// 0 for the real clocks.
    public let speed: Double
    public let startMonotonic: MonotonicNanos
    public let startWall: WallNanos

    /// The kernel's two clocks.
    public static let real = DutyCycleClock(speed: 0, startMonotonic: 0, startWall: 0)

    /// Market time: `startWall` at `startMonotonic`, then `speed` market ns per real ns.
    public static func market(speed: Double, startWall: WallNanos, startMonotonic: MonotonicNanos = Clock.monotonic()) -> DutyCycleClock {
        precondition(speed > 0, "market clock speed \(speed) must be positive")
        return DutyCycleClock(speed: speed, startMonotonic: startMonotonic, startWall: startWall)
    }

    /// Both readings for this duty cycle.
    @inlinable public func now() -> DutyCycleTime {
        guard speed != 0 else { return .now() }
        return DutyCycleTime(simulatedNs: (startWall + Nanos(Double(Clock.monotonic() - startMonotonic) * speed)).ns)
    }
}

/// Reads of the two kernel clocks. Thread-safe: each call reads the kernel clock.
public enum Clock {
    /// CLOCK_MONOTONIC: for latency stamps (comparable across processes on one host).
    /// The corresponding C function is `clock_gettime(CLOCK_MONOTONIC, …)` (vDSO, no syscall).
    @inlinable
    public static func monotonic() -> MonotonicNanos {
        var ts = timespec()
        _ = unsafe clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicNanos(Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec))
    }

    /// CLOCK_REALTIME since the Unix epoch: the receive time stored points carry.
    /// The corresponding C function is `clock_gettime(CLOCK_REALTIME, …)`.
    @inlinable
    public static func wall() -> WallNanos {
        var ts = timespec()
        _ = unsafe clock_gettime(CLOCK_REALTIME, &ts)
        return WallNanos(Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec))
    }
}

/// A duty-cycle time that only moves when told to: for invoker-mode tests and replay.
/// Both clocks move together. Not thread-safe: owned by the test or the replay driver.
public struct ManualClock: Sendable {
    public private(set) var now: DutyCycleTime

    /// Starts with the monotonic clock at `startNs` and the wall clock at `wallStartNs`
    /// (the same number unless given).
    public init(startNs: Int64 = 0, wallStartNs: Int64? = nil) {
        now = DutyCycleTime(monotonic: MonotonicNanos(startNs), wall: WallNanos(wallStartNs ?? startNs))
    }

    /// Moves both clocks forward; traps if asked to go backwards.
    public mutating func advance(byNs delta: Nanos) {
        precondition(delta >= 0, "ManualClock cannot go backwards (delta \(delta) ns)")
        now = now.advanced(by: delta)
    }

    /// Sets the wall clock to `wall` and moves the monotonic clock by the same amount;
    /// traps if asked to go backwards.
    public mutating func set(wall: WallNanos) {
        advance(byNs: wall - now.wall)
    }
}
