// A risk + execution stage in a process of its own, for the restart-recovery test:
//   tickline-engine-peer INSTANCE JOURNAL
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
let args = CommandLine.arguments
guard args.count == 3 else { say("usage: tickline-engine-peer INSTANCE JOURNAL"); exit(2) }
do {
    let (region, _) = try SharedRegion.create(instance: args[1], rings: EnginePeerPipeline.smallRings)
    let pipeline = try EnginePeerPipeline(region: region, journal: args[2], venueLatencyNs: 3_600_000_000_000)
    pipeline.publishBook(nowNs: Clock.monotonicNs())
    pipeline.sendSignal()
    let deadline = Clock.monotonicNs() + 30_000_000_000
    while pipeline.execution!.ordersReceived == 0 && Clock.monotonicNs() < deadline {
        _ = pipeline.risk.doWork(nowNs: Clock.monotonicNs())
        _ = pipeline.execution!.doWork(nowNs: Clock.monotonicNs())
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
