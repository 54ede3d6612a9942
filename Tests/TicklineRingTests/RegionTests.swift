#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
@testable import TicklineRing

@Suite struct RegionTests {
    private func overwrite<T>(_ path: String, offset: Int, with value: T) {
        let fd = open(path, O_RDWR)
        precondition(fd >= 0)
        var v = value
        _ = withUnsafeBytes(of: &v) { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        close(fd)
    }

    private func writeFile(_ path: String, bytes: [UInt8]) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    @Test func attachingAMissingRegionNamesTheInstanceAndPath() {
        let instance = "t-missing-\(getpid())"
        #expect(throws: RegionError.noSuchRegion(instance: instance, path: "/dev/shm/tickline-\(instance)")) {
            _ = try SharedRegion.attach(instance: instance)
        }
        let message = RegionError.noSuchRegion(instance: instance, path: "/dev/shm/tickline-\(instance)").description
        #expect(message.contains("no shared-memory region for instance '\(instance)'"))
    }

    @Test func attachingAnotherLayoutVersionFailsWithBothVersions() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        overwrite(t.region.path, offset: 8, with: UInt32(999))
        do {
            _ = try SharedRegion.attach(instance: t.instance)
            Issue.record("attach succeeded on a wrong version")
        } catch {
            #expect(error == .wrongLayoutVersion(instance: t.instance, found: 999, expected: LayoutManifest.version))
            #expect(error.description.contains("layout version 999, this binary speaks version \(LayoutManifest.version)"))
        }
    }

    @Test func attachingAnotherLayoutHashFails() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        overwrite(t.region.path, offset: 16, with: UInt64(0xDEAD))
        #expect(throws: RegionError.wrongLayoutHash(instance: t.instance, found: 0xDEAD, expected: RegionLayout.layoutHash)) {
            _ = try SharedRegion.attach(instance: t.instance)
        }
    }

    @Test func attachingATruncatedFileSaysTooSmall() {
        let instance = "t-small-\(getpid())"
        writeFile("/dev/shm/tickline-\(instance)", bytes: Array(repeating: 0, count: 100))
        defer { SharedRegion.unlink(instance: instance) }
        #expect(throws: RegionError.tooSmall(instance: instance, size: 100, required: 4096)) {
            _ = try SharedRegion.attach(instance: instance)
        }
    }

    @Test func attachingARegionWhoseHeaderIsUnfinishedSaysNotReady() {
        let instance = "t-unready-\(getpid())"
        writeFile("/dev/shm/tickline-\(instance)", bytes: Array(repeating: 0, count: 4096))
        defer { SharedRegion.unlink(instance: instance) }
        #expect(throws: RegionError.notReady(instance: instance)) { _ = try SharedRegion.attach(instance: instance) }
    }

    @Test func attachingAForeignFileSaysBadMagic() {
        let instance = "t-foreign-\(getpid())"
        writeFile("/dev/shm/tickline-\(instance)", bytes: Array(repeating: 0xAB, count: 4096))
        defer { SharedRegion.unlink(instance: instance) }
        #expect(throws: RegionError.badMagic(instance: instance, found: 0xABAB_ABAB_ABAB_ABAB)) {
            _ = try SharedRegion.attach(instance: instance)
        }
    }

    @Test func creatingARegionOwnedByALiveProcessFails() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        #expect(throws: RegionError.ownedByLiveProcess(instance: t.instance, pid: getpid())) {
            _ = try SharedRegion.create(instance: t.instance, rings: [.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        }
    }

    @Test func unknownRingAndWrongSlotSizeAreNamed() throws {
        let t = try TestRegion([.of(Probe.self, name: "r", capacity: 8, overflow: .refuse)])
        #expect(throws: RegionError.noSuchRing(instance: t.instance, ring: "nope", available: ["r"])) {
            _ = try t.region.producer(of: Probe.self, ring: "nope")
        }
        #expect(throws: RegionError.slotSizeMismatch(ring: "r", ringSlotSize: 64, messageSize: 136)) {
            _ = try t.region.producer(of: MarketEvent.self, ring: "r")
        }
    }

    @Test func rejectsBadNamesAndRingSpecs() {
        #expect(throws: RegionError.invalidInstanceName("a/b")) { _ = try SharedRegion.create(instance: "a/b", rings: []) }
        #expect(throws: RegionError.invalidRingSpec("ring 'r': capacity 6 must be a power of two from 2 to 2^30")) {
            _ = try SharedRegion.create(instance: "t-spec-\(getpid())", rings: [RingSpec(name: "r", slotSize: 64, capacity: 6, overflow: .refuse)])
        }
        #expect(throws: RegionError.invalidRingSpec("ring name 'r' appears twice")) {
            _ = try SharedRegion.create(instance: "t-spec-\(getpid())", rings: [
                .of(Probe.self, name: "r", capacity: 8, overflow: .refuse), .of(Probe.self, name: "r", capacity: 8, overflow: .refuse),
            ])
        }
    }

    @Test func aSecondAttachmentSeesTheRingsAndCounters() throws {
        let t = try TestRegion([
            .of(Probe.self, name: "a", capacity: 8, overflow: .refuse),
            .of(MarketEvent.self, name: "b", capacity: 16, overflow: .dropNewest),
        ])
        var producer = try t.region.producer(of: Probe.self, ring: "a")
        producer.push(Probe(1))
        producer.push(Probe(2))
        let other = try SharedRegion.attach(instance: t.instance)
        #expect(other.ringNames == ["a", "b"])
        #expect(other.rings[1] == RingSpec(name: "b", slotSize: 136, capacity: 16, overflow: .dropNewest))
        #expect(other.creatorPid == getpid())
        #expect(other.creatorIsAlive)
        #expect(try other.stats(ring: "a").published == 2)
        var consumer = try other.consumer(of: Probe.self, ring: "a")
        let r26 = consumer.tryPop()
        #expect(r26 == Probe(1))
        #expect(try t.region.stats(ring: "a").consumed == 1)
    }

    @Test func creationReportSaysWhatTheHostDid() throws {
        let instance = "t-report-\(getpid())"
        defer { SharedRegion.unlink(instance: instance) }
        let (region, report) = try SharedRegion.create(instance: instance, rings: [.of(Probe.self, name: "r", capacity: 1024, overflow: .refuse)])
        #expect(report.bytes == region.size)
        #expect(region.size == 4096 + 1024 + 64 * 1024 + (4096 - 1024))  // header + one page-rounded ring
        #expect(report.memoryLock == "locked" || report.memoryLock.hasPrefix("not locked:"))
        #expect(!report.hugePages.isEmpty && !report.numa.isEmpty)
        #expect(report.lines.count >= 4)
    }

    @Test func regionHeaderOffsetsArePinned() {
        #expect(RegionLayout.versionOffset == 8)
        #expect(RegionLayout.layoutHashOffset == 16)
        #expect(RegionLayout.creatorPidOffset == 24)
        #expect(RegionLayout.directoryOffset == 128)
        #expect(RegionLayout.directoryOffset + RegionLayout.maxRings * RegionLayout.directoryEntrySize <= RegionLayout.headerSize)
        // Each side's cursor sits on its own 128-byte line pair.
        let lines = [RegionLayout.producerCursorOffset, RegionLayout.producerCountersOffset,
                     RegionLayout.consumerCursorOffset, RegionLayout.consumerCountersOffset]
        for (a, b) in zip(lines, lines.dropFirst()) { #expect(b - a >= 128) }
        #expect(RegionLayout.consumerCountersOffset + 128 <= RegionLayout.ringHeaderSize)
    }
}
