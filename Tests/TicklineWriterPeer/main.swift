// The engine's side of the writer tests: creates an instance's region with the journal
// rings and produces events into them at a fixed rate, never waiting on the writer (a
// full ring is counted, as the engine would). Test tooling only: never shipped.
//
//   tickline-writer-peer engine --instance I --count N [--rate R] [--capacity C]
//       [--malformed M] [--bad-slot] [--wrong-version] [--hold-ms T]
//
// Produces N events into each of journal.market/signals/orders/fills/risk and N/10 into
// journal.bars/telemetry; pairs of consecutive events share instrument and receive time
// (the writer must keep both points). With --malformed M, also M malformed records into
// market (unknown kind), signals (40 decimals) and orders (zero receive time).
// Prints one line `produced=… refused=… dropped=… maxdepth=…` when done, then keeps the
// region's creator alive until SIGTERM (or --hold-ms).
#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux
import TicklineCore
import TicklineRing

func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = "tickline-writer-peer: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(status)
}

func say(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { write(1, $0, strlen($0)) }
}

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: "--\(name)"), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
func flag(_ name: String) -> Bool { arguments.contains("--\(name)") }
func number(_ name: String, _ fallback: Int) -> Int {
    guard let v = option(name) else { return fallback }
    guard let n = Int(v) else { fail("--\(name) must be a whole number") }
    return n
}

guard arguments.first == "engine" else { fail("usage: engine --instance I --count N [--rate R] ...") }
guard let instance = option("instance") else { fail("--instance missing") }
let count = number("count", 1_000)
let rate = number("rate", 0)
let capacity = number("capacity", 1 << 16)
let malformed = number("malformed", 0)
let holdMs = number("hold-ms", 600_000)
/// `--only market|signals`: produce into that ring alone, as fast as it takes them
/// (benchmarks: Benchmarks/writer-compare).
let only = option("only")

var specs: [RingSpec] = [
    .of(MarketEvent.self, name: "journal.market", capacity: capacity, overflow: .dropNewest),
    .of(SignalEvent.self, name: "journal.signals", capacity: capacity, overflow: .refuse),
    .of(OrderEvent.self, name: "journal.orders", capacity: capacity, overflow: .refuse),
    .of(FillEvent.self, name: "journal.fills", capacity: capacity, overflow: .refuse),
    .of(RiskEvent.self, name: "journal.risk", capacity: capacity, overflow: .refuse),
    .of(TelemetryRecord.self, name: "journal.telemetry", capacity: capacity, overflow: .dropNewest),
]
if flag("bad-slot") {
    // A bars ring whose slots are larger than BarEvent: the writer must refuse it clearly.
    specs.append(RingSpec(name: "journal.bars", slotSize: 256, capacity: 1024, overflow: .dropNewest))
    specs.append(.of(BarEvent.self, name: "peer.bars", capacity: capacity, overflow: .dropNewest))
} else {
    specs.append(.of(BarEvent.self, name: "journal.bars", capacity: capacity, overflow: .dropNewest))
}

_ = tl_install_signal_handlers()
let region: SharedRegion
do {
    (region, _) = try SharedRegion.create(instance: instance, rings: specs, options: RegionOptions(lockMemory: false, hugePages: false))
} catch { fail("\(error)") }

if flag("wrong-version") {
    let fd = open(region.path, O_RDWR)
    var v: UInt32 = 999
    _ = pwrite(fd, &v, 4, 8)
    close(fd)
    say("produced=0 refused=0 dropped=0 maxdepth=0")
    while tl_shutdown_signal() == 0 { usleep(10_000) }
    exit(0)
}

/// The production loop, in a function so the ring ends are locals of one isolation
/// domain (top-level closures capturing them do not compile in release mode).
@MainActor
func produce(region: SharedRegion) throws(RegionError) {
    var market = try region.producer(of: MarketEvent.self, ring: "journal.market")
    var signals = try region.producer(of: SignalEvent.self, ring: "journal.signals")
    var orders = try region.producer(of: OrderEvent.self, ring: "journal.orders")
    var fills = try region.producer(of: FillEvent.self, ring: "journal.fills")
    var risk = try region.producer(of: RiskEvent.self, ring: "journal.risk")
    var telemetry = try region.producer(of: TelemetryRecord.self, ring: "journal.telemetry")
    // With --bad-slot the bars go to a ring the writer does not drain.
    var bars = try region.producer(of: BarEvent.self, ring: flag("bad-slot") ? "peer.bars" : "journal.bars")

    let base = Clock.wall()
    let start = Clock.monotonic()
    var refused = 0
    var produced = 0
    var maxDepth: UInt64 = 0
    let perEvent: Int64 = rate > 0 ? 1_000_000_000 / Int64(rate) : 0

    /// Pushes without waiting on the writer; a refusal is counted and the record retried
    /// on the next pass (the engine would halt trading instead). Never blocks.
    func pushAll(_ i: Int) {
        let instrument = InstrumentId((i / 4) % 8)
        let ts = base + Int64(i / 2) * 1_000  // two events per (instrument, ns)
        let seq = UInt64(i + 1)
        func onRefused(_ tries: inout Int) {
            refused += 1
            tries += 1
            if tries > 1_000_000 { fail("ring stayed full for 1M tries: the writer is not draining", status: 3) }
            usleep(100)
        }
        let kind: MarketEventKind = (i / 2) % 2 == 0 ? .trade : .quote  // pairs share kind, instrument and time
        _ = market.tryPush(MarketEvent(sequence: seq, instrument: instrument, kind: kind, priceDecimals: 2, quantityDecimals: 3,
                                       price: Price(units: 6_183_763 + Int64(i)), quantity: Quantity(units: 1_500),
                                       bidPrice: Price(units: 6_183_700), bidQuantity: Quantity(units: 2_000),
                                       askPrice: Price(units: 6_183_800), askQuantity: Quantity(units: 3_000),
                                       venueSequence: seq, venueTimeNs: ts - 500_000, receiveWallNs: ts))
        do { var tries = 0; while !signals.tryPush(SignalEvent(sequence: seq, instrument: instrument, strategy: 3, side: i % 3 == 0 ? .sell : .buy,
                                            quantity: Quantity(units: 100), entryPrice: Price(units: 6_183_763),
                                            takeProfit: Price(units: 6_300_000), stopLoss: Price(units: 6_100_000),
                                            confidenceBasisPoints: 7_500, priceDecimals: 2, quantityDecimals: 3,
                                            marketSequence: seq, receiveWallNs: ts)) { onRefused(&tries) } }
        do { var tries = 0; while !orders.tryPush(OrderEvent(sequence: seq, clientOrderId: 10_000 + seq, instrument: instrument, strategy: 3,
                                          side: .buy, type: .limit, price: Price(units: 6_183_763), quantity: Quantity(units: 100),
                                          signalSequence: seq, priceDecimals: 2, quantityDecimals: 3, receiveWallNs: ts)) { onRefused(&tries) } }
        do { var tries = 0; while !fills.tryPush(FillEvent(sequence: seq, clientOrderId: 10_000 + seq, instrument: instrument, strategy: 3,
                                        side: i % 2 == 0 ? .buy : .sell, price: Price(units: 6_183_763), quantity: Quantity(units: 100),
                                        fee: 12, venueTradeId: seq, status: .filled, priceDecimals: 2, quantityDecimals: 3,
                                        receiveWallNs: ts)) { onRefused(&tries) } }
        do { var tries = 0; while !risk.tryPush(RiskEvent(sequence: seq, kind: .denial, scope: .symbol, reason: 7, instrument: instrument,
                                       strategy: 3, referenceSequence: seq, observed: 120, limit: 100, receiveWallNs: ts)) { onRefused(&tries) } }
        if i % 10 == 0 {
            _ = telemetry.tryPush(TelemetryRecord(sequence: UInt64(i / 10 + 1), kind: .latency, stage: 1, metric: 2,
                                                  value: Int64(1_000 + i), wallNs: ts, monotonicNs: Clock.monotonic()))
            do {
                _ = bars.tryPush(BarEvent(sequence: UInt64(i / 10 + 1), instrument: instrument, kind: .seconds1, priceDecimals: 2,
                                           quantityDecimals: 3, startWallNs: ts - 1_000_000_000, endWallNs: ts,
                                           open: Price(units: 100), high: Price(units: 110), low: Price(units: 90),
                                           close: Price(units: 105), volume: Quantity(units: 5_000), tradeCount: 12))
            }
        }
        produced += 1
    }

    if let only {
        for i in 0..<count {
            let ts = base + Int64(i / 2) * 1_000
            let instrument = InstrumentId((i / 4) % 8)
            let seq = UInt64(i + 1)
            if only == "market" {
                let kind: MarketEventKind = (i / 2) % 2 == 0 ? .trade : .quote
                while !market.tryPush(MarketEvent(sequence: seq, instrument: instrument, kind: kind, priceDecimals: 2, quantityDecimals: 3,
                                                  price: Price(units: 6_183_763 + Int64(i % 1000)), quantity: Quantity(units: 1_500),
                                                  bidPrice: Price(units: 6_183_700), bidQuantity: Quantity(units: 2_000),
                                                  askPrice: Price(units: 6_183_800), askQuantity: Quantity(units: 3_000),
                                                  venueSequence: seq, venueTimeNs: ts - 500_000, receiveWallNs: ts)) { usleep(1_000) }
            } else {
                signals.push(SignalEvent(sequence: seq, instrument: instrument, strategy: 3, side: i % 3 == 0 ? .sell : .buy,
                                         quantity: Quantity(units: 100), entryPrice: Price(units: 6_183_763),
                                         takeProfit: Price(units: 6_300_000), stopLoss: Price(units: 6_100_000),
                                         confidenceBasisPoints: 7_500, priceDecimals: 2, quantityDecimals: 3,
                                         marketSequence: seq, receiveWallNs: ts))
            }
            produced += 1
        }
    }
    for i in 0..<(only == nil ? count : 0) {
        if tl_shutdown_signal() != 0 { break }
        pushAll(i)
        if i == count / 2 && malformed > 0 {
            for k in 0..<malformed {
                var m = MarketEvent(sequence: 0, instrument: 1, kind: .trade, receiveWallNs: base)
                m.kindRaw = 99
                _ = market.tryPush(m)
                _ = signals.tryPush(SignalEvent(sequence: 0, priceDecimals: 40, receiveWallNs: base + Int64(k)))
                _ = orders.tryPush(OrderEvent(sequence: 0, receiveWallNs: 0))
            }
        }
        if i & 63 == 0 {
            for name in ["journal.market", "journal.signals", "journal.orders", "journal.fills", "journal.risk"] {
                if let s = try? region.stats(ring: name) { maxDepth = max(maxDepth, s.depth) }
            }
        }
        if perEvent > 0 {
            let due = start + Int64(i + 1) * perEvent
            let now = Clock.monotonic()
            if due - now > 200_000 { usleep(UInt32((due - now) / 1_000)) }
        }
    }
    var dropped: UInt64 = 0
    for name in ["journal.market", "journal.telemetry", "journal.bars"] {
        if let s = try? region.stats(ring: name) { dropped += s.dropped }
    }
    say("produced=\(produced) refused=\(refused) dropped=\(dropped) maxdepth=\(maxDepth)")
    let holdUntil = Clock.monotonic() + Int64(holdMs) * 1_000_000
    while tl_shutdown_signal() == 0 && Clock.monotonic() < holdUntil { usleep(10_000) }
}

do { try produce(region: region) } catch { fail("\(error)") }
exit(0)

