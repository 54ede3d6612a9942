import Foundation
import Testing
import TicklineRing

@Suite struct RingStressTests {
    /// 10M messages through a small ring between two threads: nothing lost, duplicated,
    /// reordered or torn, and the sum matches.
    @Test func twoThreadsPassTenMillionMessagesInOrder() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 1024, overflow: .refuse)])
        let count: UInt64 = 10_000_000
        let region = t.region
        let done = DispatchSemaphore(value: 0)
        let producerThread = Thread {
            do {
                var producer = try region.producer(of: Probe.self, ring: "r")
                var s: UInt64 = 0
                var fullSpins = 0
                let deadline = Date().addingTimeInterval(120)  // bounded: never spin forever
                while s < count {
                    if producer.tryPush(Probe(s)) {
                        s += 1
                    } else {
                        fullSpins += 1
                        if fullSpins & 0xFFFF == 0 && Date() > deadline { break }
                    }
                }
            } catch {
                Issue.record("producer: \(error)")
            }
            done.signal()
        }
        producerThread.start()

        var consumer = try region.consumer(of: Probe.self, ring: "r")
        var expected: UInt64 = 0
        var sum: UInt64 = 0
        var errors = 0
        let deadline = Date().addingTimeInterval(120)  // bounded: never spin forever
        while expected < count && Date() < deadline {
            let n = consumer.drain(limit: 256) { p, _ in
                if p.pointee.sequence != expected || !p.pointee.isIntact { errors += 1 }
                sum &+= p.pointee.sequence
                expected += 1
            }
            if n == 0 { sched_yield() }
        }
        done.wait()
        #expect(expected == count)
        #expect(errors == 0)
        #expect(sum == count * (count - 1) / 2)
        let stats = try region.stats(ring: "r")
        #expect(stats.published == count && stats.consumed == count && stats.dropped == 0)
    }
}
