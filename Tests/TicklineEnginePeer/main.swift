// A risk + execution stage in a process of its own, for the restart-recovery test:
//   tickline-engine-peer INSTANCE JOURNAL
// (and `full-disk ...`, the full-disk scenario: see `fullDiskScenario`);
// creates region INSTANCE, publishes a book, sends one buy signal through the risk agent
// (journaled, handed to the paper venue, whose latency is 1 hour so the fill never comes),
// prints "order <clientOrderId>" once the order is in the venue's hands, and waits to be killed.
#if canImport(Glibc)
import Glibc
#endif
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineExecution
import TicklineRing
import TicklineRisk

/// One line straight to fd 1 (no stdio buffering: the process is killed, never flushed).
func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}
/// The journal-on-a-full-disk scenario, run by the test inside a private mount namespace
/// with `DIR` a small file system that refuses writes past its size: a tmpfs (ENOSPC) or the
/// test's FUSE file system that fails like a dying device (EIO); the scenario is the same,
/// only the errno differs (`tickline-engine-peer full-disk INSTANCE DIR halt|retry|stale|kill COPY`;
/// stale: halt, with the resume later than the maximum reference age; kill: retry, with the
/// kill switch engaged during the outage):
/// fills the disk with round after round of orders (this process plays the venue on the
/// `orders` and `fills` rings) until a journal write fails, frees room, resumes, and prints
/// what happened, one fact per line; then copies the journal to COPY (outside DIR).
func fullDiskScenario(instance: String, dir: String, policy: String, copy: String) throws {
    let journal = dir + "/risk.journal"
    let ballast = dir + "/ballast"
    // Room for the journal to be taken back later: a file that holds two pages of DIR.
    let fd = open(ballast, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var page = [UInt8](repeating: 7, count: 8_192)
    guard fd >= 0, write(fd, &page, page.count) == page.count else { say("error ballast"); exit(1) }
    close(fd)
    let (region, _) = try SharedRegion.create(instance: instance, rings: EnginePeerPipeline.smallRings)
    defer { region.unlink() }
    var clock = ManualClock(startNs: 1_000_000_000)
    let p = try EnginePeerPipeline(region: region, journal: journal, venueLatencyNs: 0, withVenue: false, now: clock.now) { s in
        s.limits = RiskLimits.unbounded()
        s.onJournalError = policy == "retry" || policy == "kill" ? .retry : .halt
        s.journalRetryIntervalNs = 1_000_000
    }
    var venueOrders = try region.consumer(of: OrderEvent.self, ring: "orders")
    var fills = try region.producer(of: FillEvent.self, ring: "fills")
    var control = try region.producer(of: ControlCommand.self, ring: "control.risk")
    var riskEvents = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
    var sent: [UInt64] = []
    var tradeId: UInt64 = 0
    /// One duty cycle of the risk stage and of this venue: every order it takes is filled.
    func cycle() -> Int {
        clock.advance(byNs: 1_000_000)
        let work = p.risk.doWork(now: clock.now)
        let got = venueOrders.drain(limit: 64) { o, _ in
            let order = o.pointee
            sent.append(order.clientOrderId)
            tradeId += 1
            _ = fills.tryPush(FillEvent(clientOrderId: order.clientOrderId, instrument: 0, strategy: order.strategy, side: order.side ?? .buy,
                                        price: order.price, quantity: order.quantity, fee: 0, venueTradeId: tradeId, status: .filled,
                                        priceDecimals: 2, quantityDecimals: 3))
        }
        return work + got
    }
    func settle() { while cycle() > 0 {} }

    clock.advance(byNs: 1_000_000)
    p.publishBook(nowNs: clock.now.monotonic)
    settle()
    // Rounds of two orders (strategies 0 and 1), buys then sells, until the journal refuses a
    // write. One duty cycle per round: the previous round's fills and this round's orders go
    // into one journal write, so the write that fails carries orders.
    var round = 0
    while p.risk.journalErrno == 0 {
        guard round < 10_000 else { say("error the journal never filled the disk"); exit(1) }
        let side: Side = round % 2 == 0 ? .buy : .sell
        p.sendSignal(side: side, strategy: 0, sequence: UInt64(2 * round + 1))
        p.sendSignal(side: side, strategy: 1, sequence: UInt64(2 * round + 2))
        let before = sent.count
        _ = cycle()
        if p.risk.journalErrno == 0 && sent.count != before + 2 { say("error round \(round) sent \(sent.count - before)"); exit(1) }
        round += 1
    }
    let sentAtFault = sent.count
    say("fault errno=\(p.risk.journalErrno) rounds=\(round) held=\(p.risk.heldSignalCount) state=\(p.risk.risk.globalState)")
    let bytes = try JournalFile(path: journal).readAll()
    if case .success(let scan) = JournalReader.read(bytes) {
        say("file size=\(bytes.count) valid=\(scan.validBytes) torn=\(scan.tornBytes) short-writes=\(p.risk.journal?.shortWrites ?? 0)")
    } else {
        say("file corrupt")
    }
    p.risk.publishView(nowNs: clock.now.monotonic)
    if let v = p.risk.view.read() {
        let check = RiskAgent.journalReadiness(v, path: journal)
        say("readiness ok=\(check.ok) \(check.detail)")
    }
    _ = riskEvents.drain(limit: 4_096) { e, _ in
        if e.pointee.reason == BreakerReason.journalUnwritable.rawValue { say("halt-event to=\(e.pointee.toState.map { "\($0)" } ?? "?") errno=\(e.pointee.observed)") }
    }
    // Still faulted: more cycles send nothing, entries are denied, the held signals wait.
    for _ in 0..<20 { _ = cycle() }
    say("while-faulted sent=\(sent.count - sentAtFault)")
    // "kill": the kill switch is engaged while the journal refuses writes; once writes succeed
    // the stage must stay halted and latched, not return to the state it had at the fault.
    if policy == "kill" {
        _ = control.tryPush(ControlCommand(kind: .killSwitch))
        for _ in 0..<5 { _ = cycle() }
    }

    unlink(ballast)
    if policy != "retry" {
        for _ in 0..<20 { _ = cycle() }
        say("freed-no-resume errno=\(p.risk.journalErrno) sent=\(sent.count - sentAtFault)")
        // "stale": the resume comes later than the reference price's maximum age (5 s).
        if policy == "stale" { clock.advance(byNs: 6_000_000_000) }
        _ = control.tryPush(ControlCommand(kind: .resume))
    }
    let deadline = Clock.monotonic() + 20_000_000_000
    while (p.risk.journalErrno != 0 || p.risk.heldSignalCount > 0) && Clock.monotonic() < deadline { _ = cycle() }
    settle()
    say("resumed errno=\(p.risk.journalErrno) state=\(p.risk.risk.globalState) held=\(p.risk.heldSignalCount) sent-after=\(sent.count - sentAtFault)")
    say("denied held-too-long=\(p.risk.risk.deniedByReason[Int(DenialReason.heldTooLong.rawValue)])")
    say("kill latched=\(p.risk.breakers.killSwitchEngaged)")
    say("sent \(sent.map(String.init).joined(separator: ","))")
    let all = try JournalFile(path: journal).readAll()
    let out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard out >= 0, all.withUnsafeBytes({ write(out, $0.baseAddress, $0.count) }) == all.count else { say("error copy"); exit(1) }
    close(out)
    say("done")
}

let args = CommandLine.arguments
if args.count == 6 && args[1] == "full-disk" {
    do { try fullDiskScenario(instance: args[2], dir: args[3], policy: args[4], copy: args[5]) } catch {
        say("error \(error)")
        exit(1)
    }
    exit(0)
}
guard args.count == 3 else { say("usage: tickline-engine-peer INSTANCE JOURNAL | full-disk INSTANCE DIR halt|retry|stale|kill COPY"); exit(2) }
do {
    let (region, _) = try SharedRegion.create(instance: args[1], rings: EnginePeerPipeline.smallRings)
    let pipeline = try EnginePeerPipeline(region: region, journal: args[2], venueLatencyNs: 3_600_000_000_000)
    pipeline.publishBook(nowNs: Clock.monotonic())
    pipeline.sendSignal()
    let deadline = Clock.monotonic() + 30_000_000_000
    while pipeline.execution!.ordersReceived == 0 && Clock.monotonic() < deadline {
        _ = pipeline.risk.doWork(now: .now())
        _ = pipeline.execution!.doWork(now: .now())
    }
    var first: UInt64?
    pipeline.risk.table.forEachOpen { if first == nil { first = $0.clientOrderId } }
    guard let open = first else { say("no order"); exit(1) }
    say("order \(open)")
    while true { sleep(1) }  // killed here: between order and fill
} catch {
    say("error \(error)")
    exit(1)
}
