#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineRing

@Suite struct RingSemanticsTests {
    @Test func popsNothingFromAnEmptyRing() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        let r1 = consumer.tryPop()
        #expect(r1 == nil)
        let r2 = consumer.available()
        #expect(r2 == 0)
    }

    @Test func rejectsPushWhenFullAndCountsTheRefusal() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        for s in 0..<8 { let r3 = producer.tryPush(Probe(UInt64(s))); #expect(r3) }
        let r4 = producer.tryPush(Probe(8))
        #expect(!r4)
        let r5 = producer.tryPush(Probe(9))
        #expect(!r5)
        let stats = try t.region.stats(ring: "r")
        #expect(stats.published == 8)
        #expect(stats.refused == 2)
        #expect(stats.dropped == 0)
        #expect(stats.depth == 8)
    }

    @Test func dropNewestKeepsTheOldestAndCountsEveryDrop() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 4, overflow: .dropNewest)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        var accepted = 0
        for s in 0..<10 where producer.tryPush(Probe(UInt64(s))) { accepted += 1 }
        #expect(accepted == 4)
        #expect(try t.region.stats(ring: "r").dropped == 6)
        #expect(try t.region.stats(ring: "r").refused == 0)
        for s in 0..<4 { let r6 = consumer.tryPop(); #expect(r6 == Probe(UInt64(s))) }
        let r7 = consumer.tryPop()
        #expect(r7 == nil)
        // Space again after consuming: accepted, no new drops.
        let r8 = producer.tryPush(Probe(100))
        #expect(r8)
        #expect(try t.region.stats(ring: "r").dropped == 6)
    }

    @Test func keepsFifoOrderAcrossManyWrapArounds() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 4, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        var next: UInt64 = 0
        var expected: UInt64 = 0
        for round in 0..<1_000 {
            let pushes = round % 5  // 0...4: sometimes fills the ring exactly
            for _ in 0..<pushes where producer.tryPush(Probe(next)) { next += 1 }
            let pops = (round * 7) % 4
            for _ in 0..<pops {
                guard let p = consumer.tryPop() else { break }
                #expect(p.sequence == expected && p.isIntact)
                expected += 1
            }
        }
        while let p = consumer.tryPop() {
            #expect(p.sequence == expected)
            expected += 1
        }
        #expect(expected == next)
        #expect(next > 1_000)  // the cursors wrapped the 4-slot ring hundreds of times
    }

    @Test func claimCommitPublishesTheSlotWrittenInPlace() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 4, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        let r9 = producer.tryClaim()
        let slot = try #require(r9)
        slot.pointee = Probe(42)
        let r10 = consumer.tryPop()
        #expect(r10 == nil)  // not visible before commit
        producer.commit()
        let r11 = consumer.tryPop()
        #expect(r11 == Probe(42))
    }

    @Test func claimAbortPublishesNothingAndReusesTheSlot() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 2, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        let r12 = producer.tryClaim()
        let first = try #require(r12)
        first.pointee = Probe(1)
        producer.abort()
        #expect(producer.published == 0)
        let r13 = producer.tryClaim()
        let second = try #require(r13)
        #expect(second == first)
        second.pointee = Probe(2)
        producer.commit()
        let r14 = consumer.tryPop()
        #expect(r14 == Probe(2))
        let r15 = consumer.tryPop()
        #expect(r15 == nil)
    }

    @Test func claimOnAFullRingReturnsNilAndCounts() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 2, overflow: .dropNewest)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        let r16 = producer.tryPush(Probe(0))
        let r17 = producer.tryPush(Probe(1))
        #expect(r16 && r17)
        let r18 = producer.tryClaim()
        #expect(r18 == nil)
        #expect(try t.region.stats(ring: "r").dropped == 1)
    }

    @Test func drainHandsABatchInOrderWithEndOfBatchOnTheLast() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 16, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        for s in 0..<10 { producer.push(Probe(UInt64(s))) }
        var seen: [UInt64] = []
        var ends: [Bool] = []
        let n = consumer.drain(limit: 4) { p, end in
            seen.append(p.pointee.sequence)
            ends.append(end)
        }
        #expect(n == 4)
        #expect(seen == [0, 1, 2, 3])
        #expect(ends == [false, false, false, true])
        #expect(try t.region.stats(ring: "r").consumed == 4)
        let rest = consumer.drain(limit: 100) { p, _ in seen.append(p.pointee.sequence) }
        #expect(rest == 6)
        #expect(seen == Array(0..<10))
        let r19 = consumer.drain(limit: 100) { _, _ in }
        #expect(r19 == 0)
    }

    @Test func peekDoesNotReleaseUntilAdvance() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 2, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        var consumer = try t.region.consumer(of: Probe.self, ring: "r")
        producer.push(Probe(7))
        producer.push(Probe(8))
        let r20 = consumer.available()
        #expect(r20 == 2)
        #expect(consumer.peek(1).pointee == Probe(8))
        let r21 = producer.tryPush(Probe(9))
        #expect(!r21)  // still full: nothing released yet
        consumer.advance(by: 1)
        let r22 = producer.tryPush(Probe(9))
        #expect(r22)
    }

    @Test func aNewConsumerResumesAtTheStoredCursor() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        var producer = try t.region.producer(of: Probe.self, ring: "r")
        for s in 0..<6 { producer.push(Probe(UInt64(s))) }
        do {
            var first = try t.region.consumer(of: Probe.self, ring: "r")
            let r23 = first.tryPop()
            #expect(r23?.sequence == 0)
            let r24 = first.tryPop()
            #expect(r24?.sequence == 1)
        }
        var second = try t.region.consumer(of: Probe.self, ring: "r")
        #expect(second.consumed == 2)
        let r25 = second.tryPop()
        #expect(r25?.sequence == 2)
    }

    @Test func refusesASecondLiveHandleForTheSameEnd() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        let consumer = try t.region.consumer(of: Probe.self, ring: "r")
        #expect(throws: RegionError.endInUse(ring: "r", end: "consumer", pid: getpid())) {
            _ = try t.region.consumer(of: Probe.self, ring: "r")
        }
        _ = consumer
    }
}
