#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineControl
import TicklineCore
@testable import TicklineEngine
import TicklineExecution
import TicklineRing
import TicklineRisk
import TicklineRuntime

/// The risk stage's journal under faults (a full disk, a torn tail, damage) and its bounded
/// backpressure.
@Suite(.serialized) struct JournalFaultTests {
    static func instance(_ tag: String) -> String { "jf\(tag)\(getpid())" }
    static func tempPath(_ name: String) -> String { "/tmp/tickline-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    /// The full-disk tests mount a small file system in a private mount namespace: they need
    /// root and `unshare`.
    static let canMountTmpfs = getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0 && access("/usr/bin/mount", X_OK) == 0
    /// The EIO test's file system is FUSE, served by `Fixtures/failing_fs.py` (fusepy).
    static let canMountFUSE = canMountTmpfs && access("/dev/fuse", R_OK | W_OK) == 0 && access("/usr/bin/umount", X_OK) == 0
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let failingFS = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/failing_fs.py").path
    /// `TICKLINE_PYTHON`, else `<root>/.venv/bin/python` (Tools/python-env installs fusepy there).
    static let python = ProcessInfo.processInfo.environment["TICKLINE_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python").path
    static let requireReferences = ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1"
    /// fusepy imports, which also finds libfuse2.
    static let hasFusepy: Bool = {
        guard access(python, X_OK) == 0 else { return false }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = ["-c", "import fuse"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }()

    /// The small disks the peer's full-disk scenario runs on, each as large as `diskBytes`:
    /// a tmpfs, which refuses writes past its size with ENOSPC, and the FUSE file system of
    /// `Fixtures/failing_fs.py`, which counts the same 4 KiB pages and refuses them with EIO
    /// as a failing device does.
    enum SmallDisk {
        case tmpfs, failingFUSE
        var errno: Int32 { self == .tmpfs ? ENOSPC : EIO }
        var message: String { self == .tmpfs ? "No space left on device" : "Input/output error" }
    }
    static let diskBytes = 16_384

    /// Runs the peer's full-disk scenario with `disk` mounted at a fresh directory in a private
    /// mount namespace; returns its output lines and where it copied the journal.
    static func runFullDiskPeer(on disk: SmallDisk, policy: String) throws -> (lines: [String], copy: String) {
        let dir = tempPath("disk")
        let copy = tempPath("journal-copy")
        guard mkdir(dir, 0o700) == 0 else { throw EngineError(description: "mkdir \(dir)") }
        defer { rmdir(dir) }
        let peerPath = WriterSupervisor.besideThisProgram("tickline-engine-peer")
        let tag = (disk == .tmpfs ? "p" : "e") + policy.prefix(1)
        let scenario = [peerPath, "full-disk", instance(tag), dir, policy, copy]
        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        // The mount exists only in the peer's namespace and goes with it; the FUSE server
        // runs the peer itself once its mount is up and unmounts when the peer exits, so it
        // never outlives the test.
        switch disk {
        case .tmpfs:
            peer.arguments = ["-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=\(diskBytes) tmpfs \"$1\" && shift && exec \"$@\"",
                              "sh", dir] + scenario
        case .failingFUSE:
            peer.arguments = ["-m", "--propagation", "private", python, failingFS, "\(diskBytes)", dir] + scenario
        }
        let out = Pipe()
        peer.standardOutput = out
        try peer.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        peer.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(peer.terminationStatus == 0, "peer: \(lines)")
        return (lines, copy)
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : -1
    }

    static func line(_ lines: [String], _ prefix: String) -> String { lines.first { $0.hasPrefix(prefix + " ") } ?? "" }
    static func field(_ line: String, _ key: String) -> String? {
        line.split(separator: " ").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    /// A full disk mid-run (a short write at the page boundary, then ENOSPC): the orders of
    /// the batch whose write failed never reach the venue ring; the file ends at a whole
    /// record; the stage halts with a journal reason and readiness names the journal; once
    /// there is room it resumes (by a resume command, or by itself with `retry`), decides the
    /// held signals again and sends them (`stale`: the resume comes after the maximum
    /// reference age, so they are denied as held too long); a restart from the journal
    /// recovers every order the venue got.
    @Test(.enabled(if: canMountTmpfs, "needs root and unshare(1) to mount a tmpfs in a private mount namespace"),
          arguments: ["halt", "retry", "stale", "kill"])
    func aFullDiskSendsNothingUnjournaledAndRecoveryHasEverySentOrder(policy: String) throws {
        try Self.expectJournalFirst(on: .tmpfs, policy: policy)
    }

    /// The same on a device that fails with EIO (a short write, then EIO on every write and
    /// sync until room is made): the errno and its message reach the halt and `/readiness`.
    @Test(.enabled(if: canMountFUSE && (hasFusepy || requireReferences),
                   "needs root, unshare(1), /dev/fuse and fusepy in the venv (Tools/python-env) to mount the failing file system"),
          arguments: ["halt", "retry", "stale", "kill"])
    func aJournalEIOSendsNothingUnjournaledAndRecoveryHasEverySentOrder(policy: String) throws {
        try #require(Self.hasFusepy, "TICKLINE_REQUIRE_REFERENCES=1 but \(Self.python) cannot import fusepy: run Tools/python-env")
        try Self.expectJournalFirst(on: .failingFUSE, policy: policy)
    }

    static func expectJournalFirst(on disk: SmallDisk, policy: String) throws {
        let (lines, copy) = try runFullDiskPeer(on: disk, policy: policy)
        defer { unlink(copy) }
        #expect(lines.last == "done", "\(lines)")
        let fault = Self.line(lines, "fault")
        #expect(Self.field(fault, "errno") == "\(disk.errno)", "\(fault)")
        #expect(Self.field(fault, "held") == "2", "\(fault)")  // the failing batch's two signals
        #expect(Self.field(fault, "state") == "halted", "\(fault)")
        let file = Self.line(lines, "file")
        #expect(Self.field(file, "torn") == "0" && Self.field(file, "size") == Self.field(file, "valid"), "\(file)")
        // The disk filled mid-write: part of the batch was written, then cut off again.
        #expect(Self.field(file, "short-writes") == "1", "\(file)")
        let readiness = Self.line(lines, "readiness")
        #expect(readiness.contains("ok=false") && readiness.contains("risk.journal") && readiness.contains(disk.message), "\(readiness)")
        #expect(Self.line(lines, "halt-event").contains("to=halted errno=\(disk.errno)"), "\(lines)")
        if policy != "retry" && policy != "kill" {
            #expect(Self.field(Self.line(lines, "while-faulted"), "sent") == "0", "\(lines)")
            // Room alone does not resume: the resume command does.
            let freed = Self.line(lines, "freed-no-resume")
            #expect(Self.field(freed, "errno") == "\(disk.errno)" && Self.field(freed, "sent") == "0", "\(freed)")
        }
        let resumed = Self.line(lines, "resumed")
        if policy == "kill" {
            // A kill switch engaged during the outage outlives it: halted and latched once
            // writes succeed again (the held entries are then denied, not sent).
            #expect(Self.field(resumed, "errno") == "0" && Self.field(resumed, "state") == "halted" && Self.field(resumed, "held") == "0", "\(resumed)")
            #expect(Self.field(Self.line(lines, "kill"), "latched") == "true", "\(lines)")
        } else {
            #expect(Self.field(resumed, "errno") == "0" && Self.field(resumed, "state") == "active" && Self.field(resumed, "held") == "0", "\(resumed)")
            // The held signals, decided again: sent, or denied when held past the maximum age.
            #expect(Self.field(resumed, "sent-after") == (policy == "stale" ? "0" : "2"), "\(resumed)")
            #expect(Self.field(Self.line(lines, "denied"), "held-too-long") == (policy == "stale" ? "2" : "0"), "\(lines)")
            #expect(Self.field(Self.line(lines, "kill"), "latched") == "false", "\(lines)")
        }

        let sent = Self.line(lines, "sent").dropFirst(5).split(separator: ",").compactMap { UInt64($0) }
        #expect(sent.count >= 4)
        let (region, _) = try SharedRegion.create(instance: Self.instance((disk == .tmpfs ? "r" : "s") + policy.prefix(1)), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: copy, venueLatencyNs: 1, withVenue: false)
        #expect(p.risk.recovered?.scan.tornBytes == 0)
        #expect(p.risk.recovered?.orders == sent.count)
        #expect(p.risk.recovered?.refusedReports == 0)
        for id in sent { #expect(p.risk.table.state(clientOrderId: id) == .filled, "order \(id)") }
    }

    /// `/readiness` fails naming the journal while it refuses writes (here /dev/full, which
    /// answers every write with ENOSPC), and passes once the stage is healthy.
    @Test func readinessNamesTheJournalWhileItRefusesWrites() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("d"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        var clock = ManualClock(startNs: 1_000_000_000)
        let p = try EnginePeerPipeline(region: region, journal: "/dev/full", venueLatencyNs: 1, withVenue: false, now: clock.now) { s in
            s.limits = RiskLimits.unbounded()
        }
        let source = LiveControlSource(instance: "t", symbols: ["BTCUSDT"], view: p.risk.view, journal: p.risk.journalPath,
                                       control: try region.producer(of: ControlCommand.self, ring: "control.risk"), acks: p.risk.acks,
                                       writerMetricsPath: "/nonexistent/none.prom")
        p.risk.publishView(nowNs: clock.now.monotonic)
        source.refresh(region: region, stats: StatsBoard(), writerRestarts: 0, writerRunning: nil)
        #expect(source.readiness().first { $0.name == "journal" }?.ok == true)
        p.publishBook(nowNs: clock.now.monotonic)
        p.sendSignal()
        clock.advance(byNs: 1_000_000)
        _ = p.risk.doWork(now: clock.now)
        #expect(p.risk.journalErrno == ENOSPC && p.risk.heldSignalCount == 1 && p.risk.counters.orders == 0)
        p.risk.publishView(nowNs: clock.now.monotonic)
        source.refresh(region: region, stats: StatsBoard(), writerRestarts: 0, writerRunning: nil)
        let check = try #require(source.readiness().first { $0.name == "journal" })
        #expect(!check.ok && check.detail.contains("/dev/full") && check.detail.contains("No space left on device"), "\(check)")
        #expect(source.prometheusMetrics().contains("tickline_journal_write_errors_total 1"))
    }

    /// A record cut short at the end of the file (a crash mid-write) is cut off at start and
    /// reported; the records before it are recovered.
    @Test func aTornLastRecordIsCutAndReportedAtStart() throws {
        let journal = Self.tempPath("journal-torn")
        defer { unlink(journal) }
        var whole = 0
        do {
            let (region, _) = try SharedRegion.create(instance: Self.instance("t"), rings: EnginePeerPipeline.smallRings)
            defer { region.unlink() }
            let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1_000_000)
            p.publishBook(nowNs: Clock.monotonic())
            p.sendSignal()
            #expect(RiskExecutionTests.run(p) { p.risk.counters.fills > 0 })
            whole = Self.fileSize(journal)
        }
        // The first 40 bytes of the first record again: a header that promises more.
        let fd = open(journal, O_RDWR | O_APPEND)
        var head = [UInt8](repeating: 0, count: 40)
        #expect(pread(fd, &head, 40, 0) == 40)
        #expect(write(fd, head, 40) == 40)
        close(fd)
        let (region, _) = try SharedRegion.create(instance: Self.instance("t2"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 1)
        #expect(p.risk.recovered?.scan.tornBytes == 40)
        #expect(p.risk.recovered?.orders == 1)
        #expect((p.risk.recovered?.reports ?? 0) >= 1)
        #expect(Self.fileSize(journal) == whole)
        let report = p.risk.recoveryReport ?? ""
        #expect(report.contains(journal) && report.contains("torn last record of 40 bytes at byte \(whole)"), "\(report)")
    }

    /// With the `orders` ring full, entries fill their part of the outbox and then signals
    /// stay in their ring (the blocked time counted); an exit still goes through the
    /// reduce-only reserve; once the venue takes orders again everything flows.
    @Test func signalsStayInTheirRingWhileTheOrdersRingIsFullAndExitsStillPass() throws {
        // An orders ring of 4 slots, nobody reading it.
        let rings = EnginePeerPipeline.smallRings.map { $0.name == "orders" ? RingSpec(name: $0.name, slotSize: $0.slotSize, capacity: 4, overflow: $0.overflow) : $0 }
        let (region, _) = try SharedRegion.create(instance: Self.instance("b"), rings: rings)
        defer { region.unlink() }
        var clock = ManualClock(startNs: 1_000_000_000)
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false, now: clock.now) { s in
            s.limits = RiskLimits.unbounded()
            s.outboxEntries = 4
            s.orderCapacity = 64
        }
        var venue = try region.consumer(of: OrderEvent.self, ring: "orders")
        var fills = try region.producer(of: FillEvent.self, ring: "fills")
        func signalsWaiting() throws -> UInt64 { try region.stats(ring: "signals").depth }
        func cycle() { clock.advance(byNs: 1_000_000); _ = p.risk.doWork(now: clock.now) }
        p.publishBook(nowNs: clock.now.monotonic)
        // Strategy 1 goes long 0.100 (filled), so a stop can exit it later.
        p.sendSignal(side: .buy, strategy: 1)
        cycle()
        var entry: OrderEvent?
        _ = venue.drain(limit: 1) { o, _ in entry = o.pointee }
        let long = try #require(entry)
        _ = fills.tryPush(FillEvent(clientOrderId: long.clientOrderId, instrument: 0, strategy: 1, side: .buy, price: long.price,
                                    quantity: long.quantity, fee: 0, venueTradeId: 1, status: .filled, priceDecimals: 2, quantityDecimals: 3))
        cycle()
        #expect(p.risk.risk.positions.quantity(strategy: 1, instrument: 0) == 100)

        // Twelve sell entries of strategy 0: 4 fill the ring, 4 the outbox's entry part, 4 stay.
        for k in 0..<12 { #expect(p.sendSignal(side: .sell, strategy: 0, sequence: UInt64(10 + k))) }
        for _ in 0..<5 { cycle() }
        #expect(p.risk.counters.signals == 1 + 8)
        #expect(p.risk.outbox.count == 4)
        #expect(try signalsWaiting() == 4)  // still in the signals ring, not drained
        let blocked = p.risk.counters.signalsBlockedNs
        #expect(blocked > 0)
        cycle()
        #expect(p.risk.counters.signalsBlockedNs > blocked)

        // The price falls through strategy 1's stop: its exit is decided and queued in the
        // reserve (the entries' part is full).
        p.publishBook(nowNs: clock.now.monotonic, bid: 6_080_000, ask: 6_080_010)
        cycle()
        #expect(p.risk.counters.exits == 1)
        #expect(p.risk.outbox.count == 5)
        #expect(try signalsWaiting() == 4)

        // The venue drains the ring: entries, then the exit, then the last four signals go out.
        var sides: [Side] = []
        var flags: [UInt8] = []
        for _ in 0..<20 {
            _ = venue.drain(limit: 64) { o, _ in
                sides.append(o.pointee.side ?? .buy)
                flags.append(o.pointee.flags)
            }
            cycle()
        }
        #expect(try signalsWaiting() == 0)
        #expect(p.risk.outbox.count == 0)
        #expect(flags.filter { $0 & OrderEvent.flagReduceOnly != 0 }.count == 1)
        let blockedAtEnd = p.risk.counters.signalsBlockedNs
        cycle()
        #expect(p.risk.counters.signalsBlockedNs == blockedAtEnd)  // no longer blocked
    }

    /// A kill switch with more open orders than the outbox has room for queues what fits;
    /// each cancel it cannot queue is taken back (the order stays working, not stuck in
    /// pending-cancel) and counted.
    @Test func killSwitchCancelsBeyondTheOutboxAreTakenBackAndCounted() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("k"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        var clock = ManualClock(startNs: 1_000_000_000)
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false, now: clock.now) { s in
            s.limits = RiskLimits.unbounded()
            s.outboxEntries = 1
            s.outboxReduceOnly = 1
        }
        var venue = try region.consumer(of: OrderEvent.self, ring: "orders")
        var control = try region.producer(of: ControlCommand.self, ring: "control.risk")
        p.publishBook(nowNs: clock.now.monotonic)
        var ids: [UInt64] = []
        for k in 0..<5 {
            p.sendSignal(side: .buy, strategy: StrategyId(k % 2), sequence: UInt64(k + 1))
            clock.advance(byNs: 1_000_000)
            _ = p.risk.doWork(now: clock.now)
            _ = venue.drain(limit: 8) { o, _ in ids.append(o.pointee.clientOrderId) }
        }
        #expect(ids.count == 5 && p.risk.table.openCount == 5)
        _ = control.tryPush(ControlCommand(kind: .killSwitch))
        clock.advance(byNs: 1_000_000)
        _ = p.risk.doWork(now: clock.now)
        var cancels = 0
        _ = venue.drain(limit: 8) { o, _ in if o.pointee.action == .cancel { cancels += 1 } }
        #expect(cancels == 2)
        #expect(p.risk.counters.cancelsNotQueued == 3)
        let pendingCancel = ids.filter { p.risk.table.state(clientOrderId: $0) == .pendingCancel }.count
        #expect(pendingCancel == 2)
    }

    /// An approval the order table has no slot for is a denial like the others: counted by
    /// reason and published on the journal's risk ring.
    @Test func aFullOrderTableIsACountedAndPublishedDenial() throws {
        let (region, _) = try SharedRegion.create(instance: Self.instance("o"), rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        var clock = ManualClock(startNs: 1_000_000_000)
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false, now: clock.now) { s in
            s.limits = RiskLimits.unbounded()
            s.orderCapacity = 2
        }
        var riskEvents = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
        p.publishBook(nowNs: clock.now.monotonic)
        for k in 0..<3 { p.sendSignal(side: .buy, strategy: StrategyId(k % 2), sequence: UInt64(k + 1)) }
        clock.advance(byNs: 1_000_000)
        _ = p.risk.doWork(now: clock.now)
        #expect(p.risk.counters.orders == 2 && p.risk.counters.denials == 1)
        #expect(p.risk.risk.deniedByReason[Int(DenialReason.orderTableFull.rawValue)] == 1)
        var reasons: [UInt16] = []
        _ = riskEvents.drain(limit: 16) { e, _ in reasons.append(e.pointee.reason) }
        #expect(reasons == [DenialReason.orderTableFull.rawValue])
        // The revoked approval left no open quantity behind: only the two orders' 0.200 buy.
        #expect(p.risk.risk.openQuantity(strategy: 0, instrument: 0, side: .buy) + p.risk.risk.openQuantity(strategy: 1, instrument: 0, side: .buy) == 200)
    }
}
