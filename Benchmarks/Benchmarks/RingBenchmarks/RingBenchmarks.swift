// Hot-path ring operations with a checked-in allocation threshold of 0
// (Thresholds/RingBenchmarks.*.p90.json). Single thread: the cost of the operations
// themselves; cross-core figures come from `tickline bench ring`.
import Benchmark
import BenchmarkGate
import Glibc
import TicklineCore
import TicklineRing

/// One 64-byte message, the ring bench's slot size.
struct Message: BitwiseCopyable {
    var sequence: UInt64
    var stampNs: Int64 = 0
    var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
}

let instance = "alloc-gate-\(getpid())"
nonisolated(unsafe) let region: SharedRegion = {
    SharedRegion.unlink(instance: instance)
    let (region, _) = try! SharedRegion.create(instance: instance, rings: [
        .of(Message.self, name: "push", capacity: 1024, overflow: .refuse),
        .of(Message.self, name: "claim", capacity: 1024, overflow: .refuse),
        .of(Message.self, name: "drain", capacity: 1024, overflow: .refuse),
        .of(MarketEvent.self, name: "market", capacity: 1024, overflow: .dropNewest),
    ], options: RegionOptions(lockMemory: false, hugePages: false))
    region.unlink()  // the mapping lives on; nothing is left in /dev/shm
    return region
}()

/// `Tools/alloc-gate --prove-it-fails` sets TICKLINE_ALLOC_GATE_SELFTEST to show the gate
/// catches an allocation: `every` allocates on every event, `once` in one sample only (which
/// the p90 threshold check alone would let through; the gate's p100 check must not).
let selfTest = getenv("TICKLINE_ALLOC_GATE_SELFTEST").map { String(cString: $0) }
let allocateOnPurpose = selfTest == "every"
let allocateOnce = selfTest == "once"
/// Runs of RingPushPop so far: the `once` self-test allocates in the 5th (the first runs may be warm-up).
nonisolated(unsafe) var pushPopRuns = 0

nonisolated(unsafe) let configuration = gatedConfiguration(maxDuration: .seconds(2))

let benchmarks: @Sendable () -> Void = {
    Benchmark("RingPushPop", configuration: configuration) { benchmark in
        var producer = try! region.producer(of: Message.self, ring: "push")
        var consumer = try! region.consumer(of: Message.self, ring: "push")
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(producer.tryPush(Message(sequence: UInt64(i))))
            blackHole(consumer.tryPop())
            if allocateOnPurpose { blackHole([i]) }  // the gate's self-test: one heap array per event
        }
        pushPopRuns += 1
        if allocateOnce && pushPopRuns == 5 {  // the gate's self-test: one heap array in one sample
            blackHole(Array(repeating: pushPopRuns, count: 16))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("RingClaimCommit", configuration: configuration) { benchmark in
        var producer = try! region.producer(of: Message.self, ring: "claim")
        var consumer = try! region.consumer(of: Message.self, ring: "claim")
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            if let slot = producer.tryClaim() {
                slot.pointee.sequence = UInt64(i)
                producer.commit()
            }
            blackHole(consumer.tryPop())
        }
        benchmark.stopMeasurement()
    }

    Benchmark("RingDrainBatch64", configuration: configuration) { benchmark in
        var producer = try! region.producer(of: Message.self, ring: "drain")
        var consumer = try! region.consumer(of: Message.self, ring: "drain")
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            for j in 0..<64 { blackHole(producer.tryPush(Message(sequence: UInt64(i &* 64 &+ j)))) }
            var sum: UInt64 = 0
            blackHole(consumer.drain(limit: 64) { m, end in sum &+= m.pointee.sequence &+ (end ? 1 : 0) })
            blackHole(sum)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("RingMarketEventDropNewest", configuration: configuration) { benchmark in
        // A full drop-newest ring: every push is a counted drop, and still allocation-free.
        var producer = try! region.producer(of: MarketEvent.self, ring: "market")
        while producer.tryPush(MarketEvent()) {}
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(producer.tryPush(MarketEvent(sequence: UInt64(i), kind: .trade, price: Price(units: Int64(i)))))
        }
        benchmark.stopMeasurement()
    }
}
