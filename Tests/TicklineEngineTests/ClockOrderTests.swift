import Foundation
import Testing
import TicklineConfig
import TicklineCore
@testable import TicklineEngine
import TicklineFeed
import TicklineMarketData
import TicklineRing
import TicklineRisk
import TicklineTestSupport

/// Replay and demo decide on a simulated market clock while their latency stamps stay real:
/// journal times follow cause and effect record by record (every signal at or after the
/// market event it came from, every order at or after its signal, every fill at or after its
/// order), and the per-stage latency rows are measurements.
@Suite(.serialized) struct ClockOrderTests {
    /// Reads the journal rings of a replay engine that drains none itself, and checks each
    /// record against the one it came from.
    final class JournalChecker {
        let rings: JournalConsumers
        var marketWall: [UInt64: WallNanos] = [:]
        var signalWall: [UInt64: WallNanos] = [:]
        var orderWall: [UInt64: WallNanos] = [:]
        var signals = 0, entries = 0, fills = 0
        var violations: [String] = []

        init(_ engine: ReplayEngine) throws {
            rings = try JournalConsumers(region: engine.region)
        }

        /// One message through the engine, then every journal record it produced.
        func step(_ engine: ReplayEngine, _ json: UnsafeRawBufferPointer, _ recv: WallNanos) {
            engine.step(json, receiveWallNs: recv)
            drain()
        }

        /// The market events the feed published (their journal copies) first, then what they led to.
        func drain() {
            _ = rings.market.drain(limit: 1 << 14) { e, _ in marketWall[e.pointee.sequence] = e.pointee.receiveWallNs }
            _ = rings.signals.drain(limit: 1 << 14) { s, _ in
                let signal = s.pointee
                signals += 1
                signalWall[signal.sequence] = signal.receiveWallNs
                if let market = marketWall[signal.marketSequence] {
                    if signal.receiveWallNs < market { violations.append("signal \(signal.sequence) at \(signal.receiveWallNs.ns) before its market event at \(market.ns)") }
                } else {
                    violations.append("signal \(signal.sequence): no market event \(signal.marketSequence)")
                }
            }
            _ = rings.orders.drain(limit: 1 << 14) { o, _ in
                let order = o.pointee
                guard order.action == .new else { return }
                orderWall[order.clientOrderId] = order.receiveWallNs
                // Exits come from risk's own exit signals, which the signals journal does not hold.
                guard order.flags & OrderEvent.flagReduceOnly == 0 else { return }
                entries += 1
                if let signal = signalWall[order.signalSequence] {
                    if order.receiveWallNs < signal { violations.append("order \(order.clientOrderId) at \(order.receiveWallNs.ns) before its signal at \(signal.ns)") }
                } else {
                    violations.append("order \(order.clientOrderId): no signal \(order.signalSequence)")
                }
            }
            _ = rings.fills.drain(limit: 1 << 14) { f, _ in
                let report = f.pointee
                guard let order = orderWall[report.clientOrderId] else {
                    violations.append("report \(report.sequence): no order \(report.clientOrderId)")
                    return
                }
                if report.isExecution { fills += 1 }
                if report.receiveWallNs < order { violations.append("report \(report.sequence) at \(report.receiveWallNs.ns) before its order at \(order.ns)") }
            }
            _ = rings.risk.drain(limit: 1 << 14) { _, _ in }
            _ = rings.bars.drain(limit: 1 << 14) { _, _ in }
        }
    }

    static let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 8, maxOrderQuantityUnits: 10_000_000,
                                         positionLimitUnits: 25_000_000)

    /// Strategy, risk and execution each measured something, and more than nothing.
    static func expectMeasured(_ latency: [String: LatencyRow], sourceLocation: SourceLocation = #_sourceLocation) {
        for stage in ["strategy", "risk", "execution", "tick_to_order"] {
            let row = latency[stage]
            #expect((row?.count ?? 0) > 0 && (row?.p50 ?? 0) > 0 && (row?.max ?? 0) > 0, "\(stage): \(String(describing: row))",
                    sourceLocation: sourceLocation)
        }
    }

    @Test(.enabled(if: ReplayEngineTests.available, "skipped: ../shared/data/binance_spot_btcusdt is absent"))
    func replayOfTheRecordedDaysKeepsEveryJournalTimeAfterItsCause() throws {
        let engine = try ReplayEngine(symbols: ["BTCUSDT"], config: EngineConfig(), fallbackSpec: Self.spec, drainsJournals: false)
        let checker = try JournalChecker(engine)
        let recording = try ReplayEngineTests.recording()
        recording.withUnsafeBytes { raw in
            var i = 0
            while i < raw.count {
                var end = i
                while end < raw.count && raw[end] != 10 { end += 1 }
                defer { i = end + 1 }
                let line = UnsafeRawBufferPointer(rebasing: raw[i..<end])
                guard case .message(let recv, let payload) = RecordingLine.parse(line) else { continue }
                checker.step(engine, UnsafeRawBufferPointer(rebasing: line[payload]), WallNanos(recv))
            }
        }
        let r = engine.finish(elapsedSeconds: 1)
        checker.drain()
        #expect(checker.violations.isEmpty, "\(checker.violations.prefix(5)) (\(checker.violations.count) in all)")
        #expect(checker.signals > 0 && checker.entries > 0 && checker.fills > 0)
        #expect(UInt64(checker.fills) == r.fills)
        Self.expectMeasured(r.latency)
    }

    @Test func demoOnItsRunnerAndMarketClockKeepsEveryJournalTimeAfterItsCause() throws {
        // As the demo runs it: the engine on its pinned runner, synthetic messages at 3,000 a
        // real second made on the feed's thread, market time at 20×.
        let startWall = Clock.wall()
        let clock = DutyCycleClock.market(speed: 20, startWall: startWall)
        var synthetic = SyntheticFeed(symbols: 4)
        let feed = PacedTransport(rate: 3_000, clock: clock, maxMessageBytes: 1 << 16) { wall, deliver in
            var text = synthetic.message(venueTimeMs: wall.ns / 1_000_000)
            text.withUTF8 { deliver(UnsafeRawBufferPointer($0)) }
        }
        let engine = try ReplayEngine(symbols: SyntheticFeed(symbols: 4).symbols, config: EngineConfig(), fallbackSpec: Self.spec,
                                      startWallNs: startWall, drainsJournals: false, feedTransport: feed)
        let checker = try JournalChecker(engine)
        try engine.start(clock: clock)
        #expect(engine.runner?.name == "pipeline" && engine.runner?.isRunning == true)
        let realStart = Clock.monotonic()
        // The journal rings drained as the runner fills them, until 20,000 messages went in.
        let deadline = realStart + 120_000_000_000
        while feed.delivered.load(ordering: .relaxed) < 20_000 && Clock.monotonic() < deadline {
            checker.drain()
            usleep(1_000)
        }
        let realSeconds = Double(Clock.monotonic() - realStart) / 1e9
        engine.stop()
        let r = engine.finish(elapsedSeconds: realSeconds)
        checker.drain()
        #expect(feed.delivered.load(ordering: .relaxed) >= 20_000 && feed.refused.load(ordering: .relaxed) == 0)
        #expect(r.messages == feed.delivered.load(ordering: .relaxed) && r.decodeErrors == 0, "\(r.messages) messages, \(r.decodeErrors) decode errors")
        // The stages decided on market time: 20 market seconds a real second.
        let marketSeconds = Double(engine.clock.wall - startWall) / 1e9
        #expect(marketSeconds >= realSeconds * 15, "market \(marketSeconds) s in \(realSeconds) real s")
        #expect(checker.violations.isEmpty, "\(checker.violations.prefix(5)) (\(checker.violations.count) in all)")
        #expect(checker.signals > 0 && checker.entries > 0 && checker.fills > 0, "signals \(checker.signals), entries \(checker.entries), fills \(checker.fills)")
        #expect(UInt64(checker.fills) == r.fills && UInt64(checker.signals) == r.signals)
        Self.expectMeasured(r.latency)
    }

    @Test func demoJSONShowsMeasuredLatencyForEveryStage() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/nonexistent"  // no private servers: the journal goes to a file
        environment["TICKLINE_INFLUX_URL"] = nil
        environment["TICKLINE_REDIS_URL"] = nil
        let demo = ChildProcess(executable: DemoCommandTests.tickline, arguments: ["demo", "--duration", "3", "--json", "--rate", "3000"],
                                environment: environment)
        #expect(demo.start())
        #expect(demo.wait(seconds: 60) == 0, "\(demo.errors)")
        defer { try? FileManager.default.removeItem(atPath: "/tmp/tickline-demo-\(demo.pid)") }
        let json = try #require(try JSONSerialization.jsonObject(with: Data(demo.output.utf8)) as? [String: Any], "\(demo.output)")
        let latency = try #require(json["latency"] as? [String: [String: Any]], "\(demo.output)")
        var rows: [String: LatencyRow] = [:]
        for (stage, row) in latency {
            rows[stage] = LatencyRow(count: (row["count"] as? NSNumber)?.uint64Value ?? 0, p50: (row["p50_ns"] as? NSNumber)?.int64Value ?? 0,
                                     p99: (row["p99_ns"] as? NSNumber)?.int64Value ?? 0, max: (row["max_ns"] as? NSNumber)?.int64Value ?? 0)
        }
        Self.expectMeasured(rows)
    }
}
