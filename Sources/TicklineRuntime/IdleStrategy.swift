#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux

/// What a runner thread does after a duty cycle that found no work. The state it carries
/// (spin counts) is per runner.
public struct IdleStrategy: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Spin without pause: lowest latency, one core fully used (servers with isolated cores).
        case busySpin
        /// Spin `spins` times, then `sched_yield` each idle cycle.
        case spinThenYield(spins: Int)
        /// Spin, then yield, then park with exponential backoff from `minParkNs` to
        /// `maxParkNs` (small machines: the core is given back when idle).
        case backoff(spins: Int, yields: Int, minParkNs: Int64, maxParkNs: Int64)
    }

    public let kind: Kind
    @usableFromInline var idleCycles = 0
    @usableFromInline var parkNs: Int64 = 0

    public init(_ kind: Kind) {
        self.kind = kind
        if case .backoff(_, _, let minPark, _) = kind { parkNs = minPark }
    }

    public static let busySpin = IdleStrategy(.busySpin)
    /// The default for 2-core machines: 100 spins, 10 yields, then park 1 µs … 1 ms.
    public static let parking = IdleStrategy(.backoff(spins: 100, yields: 10, minParkNs: 1_000, maxParkNs: 1_000_000))

    /// Called after every duty cycle with its work count.
    @inlinable
    public mutating func idle(workCount: Int) {
        if workCount > 0 {
            reset()
            return
        }
        idleCycles &+= 1
        switch kind {
        case .busySpin:
            spinPause()
        case .spinThenYield(let spins):
            if idleCycles <= spins { spinPause() } else { sched_yield() }
        case .backoff(let spins, let yields, _, let maxPark):
            if idleCycles <= spins {
                spinPause()
            } else if idleCycles <= spins + yields {
                sched_yield()
            } else {
                park(ns: parkNs)
                parkNs = min(parkNs * 2, maxPark)
            }
        }
    }

    @inlinable
    public mutating func reset() {
        idleCycles = 0
        if case .backoff(_, _, let minPark, _) = kind { parkNs = minPark }
    }

    @usableFromInline
    func park(ns: Int64) {
        var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        nanosleep(&ts, nil)
    }

    /// A CPU hint that this is a spin-wait loop (x86 `pause`).
    @inlinable @inline(__always)
    func spinPause() { tl_cpu_relax() }
}
