#if canImport(Glibc)
import Glibc
#endif
import Testing
import TicklineCore
import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRuntime

/// The feed agent replaying recorded messages through a `RecordingTransport`: the agent's own
/// handshake, framing, decode, book and publish code, on a simulated clock.
@Suite struct RecordingTransportTests {
    /// A feed agent of one symbol over a recording, on a private region, stepped by hand.
    final class Replayed {
        let region: SharedRegion
        let agent: FeedAgent
        let transport = RecordingTransport(maxMessageBytes: 4_096)
        /// The feed's connection: `transport`, unless another was given.
        let connection: any Transport
        var market: RingConsumer<MarketEvent>
        var depth: RingConsumer<DepthSnapshot>
        var events: [MarketEvent] = []
        var snapshots: [DepthSnapshot] = []
        var clock: DutyCycleTime

        init(startNs: Int64, connection: (any Transport)? = nil) throws {
            let specs = [
                RingSpec.of(MarketEvent.self, name: "market", capacity: 1 << 10, overflow: .dropNewest),
                RingSpec.of(DepthSnapshot.self, name: "depth", capacity: 1 << 8, overflow: .dropNewest),
                RingSpec.of(MarketEvent.self, name: "journal.market", capacity: 1 << 10, overflow: .dropNewest),
            ]
            region = try SharedRegion.create(instance: "rectransport-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", rings: specs,
                                             options: RegionOptions(lockMemory: false, hugePages: false)).0
            region.unlink()
            market = try region.consumer(of: MarketEvent.self, ring: "market")
            depth = try region.consumer(of: DepthSnapshot.self, ring: "depth")
            var config = FeedConfig()
            config.name = "replayed"
            config.symbols = [syntheticSymbol(0)]
            config.snapshotsOnStream = true
            let connection = connection ?? transport
            self.connection = connection
            agent = try FeedAgent(config: config, instruments: try syntheticTable(1), outlet: try FeedOutlet(region: region, venueCopies: false),
                                  transport: { _ in connection })
            clock = DutyCycleTime(simulatedNs: startNs)
        }

        /// Duty cycles at `clock` until the agent has nothing to do (bounded).
        func settle() {
            for _ in 0..<16 where agent.doWork(now: clock) > 0 {}
            _ = market.drain(limit: 1 << 10) { e, _ in events.append(e.pointee) }
            _ = depth.drain(limit: 1 << 8) { d, _ in snapshots.append(d.pointee) }
        }

        /// Moves the clock to `ns`, delivers `line` stamped with it, runs the agent.
        @discardableResult
        func play(_ line: String, atNs ns: Int64) -> Bool {
            clock = DutyCycleTime(simulatedNs: ns)
            if !transport.isOpen { settle() }
            var bytes = Array(line.utf8)
            let taken = bytes.withUnsafeMutableBytes { transport.deliver(UnsafeRawBufferPointer($0), receiveWallNs: WallNanos(ns)) }
            settle()
            return taken
        }
    }

    static let t0: Int64 = 1_723_161_253_000_000_000
    static let snapshot = #"{"stream":"sym0000usdt@depth","data":{"lastUpdateId":100,"bids":[["1.00000000","2.00000000"]],"asks":[["1.10000000","3.00000000"]]}}"#
    static func diff(_ first: Int, _ last: Int, bid: String) -> String {
        #"{"stream":"sym0000usdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"SYM0000USDT","U":\#(first),"u":\#(last),"b":[["\#(bid)","1.00000000"]],"a":[]}}"#
    }
    static let trade = #"{"stream":"sym0000usdt@trade","data":{"e":"trade","E":2,"s":"SYM0000USDT","t":7,"p":"1.05000000","q":"0.50000000","T":2,"m":false,"M":true}}"#

    @Test func aRecordedSnapshotSyncsTheBookAndEveryEventCarriesItsRecordedTime() throws {
        let r = try Replayed(startNs: Self.t0)
        #expect(r.play(Self.diff(99, 101, bid: "1.01000000"), atNs: Self.t0 + 1_000))
        #expect(r.transport.handshakes == 1 && r.agent.connections[0].phase == .open)
        #expect(r.agent.book(syntheticSymbol(0))?.state != .synced && r.events.isEmpty, "a diff before any snapshot is buffered")
        #expect(r.play(Self.snapshot, atNs: Self.t0 + 2_000))
        #expect(r.agent.book(syntheticSymbol(0))?.state == .synced)
        // The buffered diff applied on top of the snapshot: the best bid is 1.01.
        let top = try #require(r.events.last)
        #expect(top.kind == .bookTop && top.receiveWallNs == WallNanos(Self.t0 + 2_000) && top.bidPrice.units == 101_000_000, "\(top)")
        #expect(r.snapshots.count == 1 && r.snapshots[0].receiveWallNs == WallNanos(Self.t0 + 2_000))
        #expect(r.play(Self.diff(102, 102, bid: "1.02000000"), atNs: Self.t0 + 3_000))
        #expect(r.play(Self.trade, atNs: Self.t0 + 4_000))
        #expect(r.events.map(\.kind) == [.bookTop, .bookTop, .trade])
        #expect(r.events.map(\.receiveWallNs) == [Self.t0 + 2_000, Self.t0 + 3_000, Self.t0 + 4_000].map { WallNanos($0) })
        #expect(r.snapshots.count == 2)
        let c = r.agent.counters
        #expect(c.messages == 4 && c.decodeErrors == 0 && c.snapshotRequests == 0, "no snapshot is asked of REST: \(c)")
        #expect(r.transport.messagesFromFeed >= 1, "the feed's SUBSCRIBE reached the recording's end")
    }

    @Test func silenceOnTheSimulatedClockBringsAPingThatIsAnsweredAndAStaleEvent() throws {
        let r = try Replayed(startNs: Self.t0)
        r.play(Self.snapshot, atNs: Self.t0)
        r.play(Self.trade, atNs: Self.t0 + 1_000_000)
        let before = r.events.count
        // 20 s of recorded silence (past the ping interval and the stale limit), then a trade.
        r.clock = DutyCycleTime(simulatedNs: Self.t0 + 20_000_000_000)
        r.settle()
        #expect(r.agent.counters.pingsSent == 1 && r.transport.pingsAnswered == 1)
        let stale = r.events.dropFirst(before).filter { $0.kind == .stale }
        #expect(stale.count == 1 && stale.first?.receiveWallNs == WallNanos(Self.t0 + 20_000_000_000), "\(r.events)")
        r.clock = DutyCycleTime(simulatedNs: Self.t0 + 21_000_000_000)
        r.settle()
        #expect(r.agent.counters.pongsReceived == 1 && r.agent.counters.silentDisconnects == 0)
        #expect(r.play(Self.trade, atNs: Self.t0 + 22_000_000_000))
        #expect(r.events.suffix(2).map(\.kind) == [.fresh, .trade])
        #expect(r.agent.connections[0].phase == .open && r.transport.handshakes == 1)
    }

    @Test func bytesThatAreNotUTF8AreABinaryFrameTheDecoderRefusesAndALongLineIsNotTaken() throws {
        let r = try Replayed(startNs: Self.t0)
        r.play(Self.snapshot, atNs: Self.t0)
        var bytes: [UInt8] = Array(#"{"stream":"sym0000usdt@trade","data":{"s":""#.utf8) + [0xFF, 0xFE] + Array(#""}}"#.utf8)
        let taken = bytes.withUnsafeMutableBytes { r.transport.deliver(UnsafeRawBufferPointer($0), receiveWallNs: WallNanos(Self.t0 + 1)) }
        r.settle()
        #expect(taken && r.agent.counters.decodeErrors == 1 && r.agent.counters.protocolViolations == 0)
        #expect(!r.play(String(repeating: "x", count: 4_097), atNs: Self.t0 + 2))
        #expect(r.play(Self.trade, atNs: Self.t0 + 3) && r.events.last?.kind == .trade)
        #expect(r.agent.connections[0].phase == .open && r.transport.handshakes == 1)
    }

    @Test func aPacedFeedMakesItsMessagesOnTheFeedsThreadOnTheMarketClockAndCountsThoseItCannotFrame() throws {
        let start = WallNanos(Self.t0)
        let clock = DutyCycleClock.market(speed: 10, startWall: start)
        var made = 0
        // The snapshot first, then trades, every fourth message longer than a frame may be.
        let paced = PacedTransport(rate: 1_000_000, clock: clock, maxMessageBytes: 4_096, batch: 8) { _, deliver in
            made += 1
            var text = made % 4 == 0 ? String(repeating: "x", count: 5_000) : (made == 1 ? Self.snapshot : Self.trade)
            text.withUTF8 { deliver(UnsafeRawBufferPointer($0)) }
        }
        let r = try Replayed(startNs: Self.t0, connection: paced)
        // Each duty cycle's read makes what fell due (at most a batch); wait on progress.
        let deadline = Clock.monotonic() + 30_000_000_000
        while made < 400 && Clock.monotonic() < deadline {
            r.clock = clock.now()
            r.settle()
        }
        let delivered = paced.delivered.load(ordering: .relaxed), refused = paced.refused.load(ordering: .relaxed)
        #expect(made >= 400 && delivered + refused == UInt64(made) && refused == UInt64(made / 4), "made \(made), delivered \(delivered), refused \(refused)")
        #expect(r.agent.counters.messages == delivered && r.agent.counters.decodeErrors == 0)
        let trades = r.events.filter { $0.kind == .trade }
        #expect(trades.count == Int(delivered) - 1, "every trade after the snapshot published: \(trades.count) of \(delivered - 1)")
        // Stamped on the market clock: from its start, ten market ns a real ns.
        let end = clock.now().wall
        #expect(trades.allSatisfy { $0.receiveWallNs >= start && $0.receiveWallNs <= end })
    }
}
