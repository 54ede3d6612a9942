// The risk stage under backpressure, with the allocation gate (`mallocCountTotal` p90
// threshold 0; wall clock reported, never gated: the machines are shared).
//
// - Risk.stageWithOrdersRingFull: `RiskAgent.doWork` while the `orders` ring is full (4
//   slots, nobody reads it) and the outbox's entry part is full too: each iteration offers
//   one signal (it stays in the signals ring) and one book update (marks, exits, breakers),
//   then the duty cycle tries to send and counts the blocked time. Nothing may allocate.
// With `scalingFactor: .kilo`, the wall clock is ns per duty cycle.

import Benchmark
import BenchmarkGate
import Glibc
import TicklineCore
import TicklineEngine
import TicklineRing
import TicklineRisk

let instance = "alloc-gate-risk-stage-\(getpid())"
nonisolated(unsafe) let region: SharedRegion = {
    SharedRegion.unlink(instance: instance)
    let rings = EnginePeerPipeline.smallRings.map {
        $0.name == "orders" ? RingSpec(name: $0.name, slotSize: $0.slotSize, capacity: 4, overflow: $0.overflow) : $0
    }
    let (region, _) = try! SharedRegion.create(instance: instance, rings: rings, options: RegionOptions(lockMemory: false, hugePages: false))
    region.unlink()  // the mapping lives on; nothing is left in /dev/shm
    return region
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark("Risk.stageWithOrdersRingFull", configuration: gatedConfiguration()) { benchmark in
        var clock = ManualClock(startNs: 1_000_000_000)
        let p = try! EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false, now: clock.now) { s in
            s.limits = RiskLimits.unbounded()
            s.outboxEntries = 16
        }
        p.publishBook(nowNs: clock.now.monotonic)
        // Fill the orders ring (4) and the outbox's entry part (16) with sell entries.
        var sequence: UInt64 = 0
        while p.risk.outbox.count < 16 {
            sequence += 1
            p.sendSignal(side: .sell, strategy: 0, sequence: sequence)
            clock.advance(byNs: 1_000)
            _ = p.risk.doWork(now: clock.now)
        }
        let blockedBefore = p.risk.counters.signalsBlockedNs
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            sequence &+= 1
            p.sendSignal(side: .sell, strategy: 0, sequence: sequence)
            clock.advance(byNs: 1_000)
            p.publishBook(nowNs: clock.now.monotonic, bid: 6_100_000 - Int64(sequence & 7), ask: 6_100_010)
            _ = p.risk.doWork(now: clock.now)
        }
        benchmark.stopMeasurement()
        precondition(p.risk.outbox.count == 16 && p.risk.counters.signalsBlockedNs > blockedBefore,
                     "the stage must stay blocked: outbox \(p.risk.outbox.count)")
        blackHole(p.risk.counters)
    }
}
