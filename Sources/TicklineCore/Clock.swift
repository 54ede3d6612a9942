#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds as a signed 64-bit count. Latency stamps use the monotonic clock; stored
/// points use the wall clock.
public typealias Nanos = Int64

/// Reads of the two clocks every event carries. Thread-safe: each call reads the kernel clock.
public enum Clock {
    /// CLOCK_MONOTONIC in ns: for latency stamps (comparable across processes on one host).
    /// The corresponding C function is `clock_gettime(CLOCK_MONOTONIC, …)` (vDSO, no syscall).
    @inlinable
    public static func monotonicNs() -> Nanos {
        var ts = timespec()
        _ = unsafe clock_gettime(CLOCK_MONOTONIC, &ts)
        return Nanos(ts.tv_sec) &* 1_000_000_000 &+ Nanos(ts.tv_nsec)
    }

    /// CLOCK_REALTIME in ns since the Unix epoch: the receive time stored points carry.
    @inlinable
    public static func wallNs() -> Nanos {
        var ts = timespec()
        _ = unsafe clock_gettime(CLOCK_REALTIME, &ts)
        return Nanos(ts.tv_sec) &* 1_000_000_000 &+ Nanos(ts.tv_nsec)
    }
}

/// A clock that only moves when told to: for invoker-mode tests and replay.
/// Not thread-safe: owned by the test or the replay driver.
public struct ManualClock: Sendable {
    public private(set) var nowNs: Nanos

    public init(startNs: Nanos = 0) { nowNs = startNs }

    /// Moves time forward; traps if asked to go backwards.
    public mutating func advance(byNs delta: Nanos) {
        precondition(delta >= 0, "ManualClock cannot go backwards (delta \(delta) ns)")
        nowNs += delta
    }

    public mutating func set(_ ns: Nanos) {
        precondition(ns >= nowNs, "ManualClock cannot go backwards (\(nowNs) -> \(ns))")
        nowNs = ns
    }
}
