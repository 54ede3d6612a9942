#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
@testable import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineWebSocket

/// The feed agent against the real `tickline-feed` server: sync, publish, and recover from
/// every fault the server can inject. Every wait is bounded; no assertion is about speed.
@Suite(.serialized, .needsFeedServer)
struct FeedAgentTests {
    static let symbols = (0..<3).map(syntheticSymbol)

    /// A server and a synced feed on it.
    func start(connections: Int = 1, backend: NetBackend = NetBackend.detect().backend, serverExtra: [String] = [],
               configure: (inout FeedConfig) -> Void = { _ in })
        throws -> (FeedServerProcess, FeedHarness)
    {
        let server = try FeedServerProcess(symbols: 3, extra: serverExtra)
        var config = testConfig(server: server, symbols: Self.symbols, connections: connections)
        configure(&config)
        let harness = try FeedHarness(config: config, instruments: try syntheticTable(4), backend: backend)
        #expect(harness.agent.connections.allSatisfy { $0.backend == backend })
        harness.server = server
        let synced = harness.run(seconds: 20) { $0.allSynced(Self.symbols) && $0.market.count >= 50 }
        #expect(synced, "not synced: \(harness.counters)")
        return (server, harness)
    }

    /// After a fault: the feed reconnected (more opens than `opensBefore`) and every book
    /// synced again from a snapshot loaded after the fault.
    func expectRecovered(_ harness: FeedHarness, opensBefore: UInt64, snapshotsBefore: UInt64,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        let recovered = harness.run(seconds: 20) {
            $0.counters.opened > opensBefore && $0.counters.snapshotsSynced >= snapshotsBefore + UInt64(Self.symbols.count)
                && $0.allSynced(Self.symbols)
        }
        #expect(recovered, "not recovered: \(harness.counters)", sourceLocation: sourceLocation)
        let eventsBefore = harness.market.count
        let flowing = harness.run(seconds: 10) { $0.market.count >= eventsBefore + 20 }
        #expect(flowing, "no events after recovery", sourceLocation: sourceLocation)
    }

    @Test(arguments: availableBackends)
    func connectsSyncsBooksAndPublishesEventsWithSocketReadStamps(backend: NetBackend) throws {
        let (_, harness) = try start(connections: 2, backend: backend)
        // Symbols were split over both connections.
        #expect(harness.agent.connections.allSatisfy { !$0.symbols.isEmpty })
        #expect(Set(Self.symbols.compactMap { harness.agent.connection(of: $0) }) == [0, 1])
        harness.run(seconds: 1)
        let counters = harness.counters
        #expect(counters.decodeErrors == 0)
        #expect(counters.protocolViolations == 0)
        #expect(counters.gaps == 0)
        #expect(counters.snapshotsSynced >= 3)
        #expect(counters.subscribeMessages >= 2)
        #expect(counters.controlReplies >= 2)
        // Every kind arrives, stamped with the read batch's monotonic time and the wall clock.
        let kinds = Set(harness.market.compactMap(\.kind))
        #expect(kinds.isSuperset(of: [.trade, .quote, .bookTop]))
        let now = Clock.monotonic()
        let wall = Clock.wall()
        let data = harness.market.filter { $0.kind != .stale && $0.kind != .fresh }
        #expect(data.allSatisfy { $0.timestamps.socketReadNs > 0 && $0.timestamps.socketReadNs <= now })
        #expect(data.allSatisfy { $0.timestamps.decodedNs >= $0.timestamps.socketReadNs })
        #expect(data.allSatisfy { $0.receiveWallNs > wall - 120_000_000_000 && $0.receiveWallNs <= wall })
        // Sequences are dense; the journal got a copy of each event.
        #expect(zip(harness.market, harness.market.dropFirst()).allSatisfy { $1.sequence == $0.sequence + 1 })
        #expect(harness.journalCount == harness.market.count)
        // Depth snapshots: one per book change, numbered like the book top they go with.
        #expect(!harness.depth.isEmpty)
        #expect(harness.depth.allSatisfy { $0.bidLevels > 0 && $0.askLevels > 0 })
        let tops = Dictionary(harness.market.filter { $0.kind == .bookTop }.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        let matched = harness.depth.allSatisfy { snapshot in
            guard let top = tops[snapshot.sequence] else { return false }
            return top.bidPrice == snapshot.bids[0].price && top.askPrice == snapshot.asks[0].price
                && top.venueSequence == snapshot.updateId
        }
        #expect(matched)
        // The server's quotes carry its book's top and update id: every quote naming the
        // update id of the latest published book top must match it exactly.
        var lastTop: [InstrumentId: MarketEvent] = [:]
        var checks = 0
        var mismatches = 0
        for event in harness.market {
            if event.kind == .bookTop { lastTop[event.instrument] = event }
            guard event.kind == .quote, let top = lastTop[event.instrument], top.venueSequence == event.venueSequence else { continue }
            checks += 1
            if top.bidPrice != event.bidPrice || top.bidQuantity != event.bidQuantity || top.askPrice != event.askPrice
                || top.askQuantity != event.askQuantity { mismatches += 1 }
        }
        #expect(checks > 20)
        #expect(mismatches == 0)
        // Quotes of the synthetic server name the book's update id: spot-check the book.
        for symbol in Self.symbols {
            let book = try #require(harness.agent.book(symbol))
            guard book.state == .synced else { continue }
            let bid = try #require(book.bids.best, "\(symbol): \(book.state) \(book.counters) \(harness.counters)")
            let ask = try #require(book.asks.best, "\(symbol): \(book.state) \(book.counters)")
            #expect(bid.price < ask.price)
        }
    }

    @Test(arguments: availableBackends)
    func reconnectsResubscribesAndResyncsAfterTheServerDropsTheConnection(backend: NetBackend) throws {
        let (server, harness) = try start(backend: backend)
        let opens = harness.counters.opened
        let snapshots = harness.counters.snapshotsSynced
        #expect(try server.fault("kind=drop") == 200)
        expectRecovered(harness, opensBefore: opens, snapshotsBefore: snapshots)
        #expect(harness.counters.peerDisconnects >= 1)
        #expect(harness.counters.reconnects >= 1)
        #expect(harness.counters.subscribeMessages >= 2)
    }

    @Test func detectsASilentServerByItsMissingPongAndReconnects() throws {
        let (server, harness) = try start()
        let opens = harness.counters.opened
        let snapshots = harness.counters.snapshotsSynced
        #expect(try server.fault("kind=silence&seconds=2") == 200)
        let detected = harness.run(seconds: 10) { $0.counters.silentDisconnects >= 1 }
        #expect(detected, "\(harness.counters)")
        #expect(harness.counters.pingsSent >= 1)
        expectRecovered(harness, opensBefore: opens, snapshotsBefore: snapshots)
    }

    @Test func marksSymbolsStaleWhileNoDataComesAndFreshWhenItReturns() throws {
        let (server, harness) = try start { $0.pongTimeoutMs = 60_000 }
        #expect(try server.fault("kind=silence&seconds=1.5") == 200)
        let staleSeen = harness.run(seconds: 10) { h in Self.symbols.allSatisfy { h.agent.isStale($0) } }
        #expect(staleSeen, "\(harness.counters)")
        let freshSeen = harness.run(seconds: 15) { h in Self.symbols.allSatisfy { !h.agent.isStale($0) } }
        #expect(freshSeen, "\(harness.counters)")
        for k in 0..<Self.symbols.count {
            let id = InstrumentId(100 + k)
            #expect(harness.events(of: id, kind: .stale) >= 1)
            #expect(harness.events(of: id, kind: .fresh) >= 1)
            // Stale comes before fresh.
            let stale = harness.market.firstIndex { $0.instrument == id && $0.kind == .stale }
            let fresh = harness.market.lastIndex { $0.instrument == id && $0.kind == .fresh }
            #expect(stale != nil && fresh != nil && stale! < fresh!)
        }
        #expect(harness.counters.staleEvents >= 3 && harness.counters.freshEvents >= 3)
        // Silence then data: the books saw a gap (the server's book moved on) and resynced.
        let resynced = harness.run(seconds: 20) { $0.allSynced(Self.symbols) }
        #expect(resynced)
    }

    @Test(arguments: [
        ("garbage", CloseCode.protocolError, ProtocolViolation.unknownOpcode),
        ("oversized", CloseCode.messageTooBig, ProtocolViolation.frameTooBig),
        ("bad-utf8", CloseCode.invalidPayload, ProtocolViolation.invalidUTF8),
    ])
    func closesWithTheRightCodeOnAProtocolViolationAndReconnects(fault: String, code: CloseCode, violation: ProtocolViolation) throws {
        let (server, harness) = try start()
        let opens = harness.counters.opened
        let snapshots = harness.counters.snapshotsSynced
        #expect(try server.fault("kind=\(fault)") == 200)
        let failed = harness.run(seconds: 10) { $0.counters.protocolViolations >= 1 && $0.counters.reconnects >= 1 }
        #expect(failed, "\(harness.counters)")
        #expect(harness.agent.connections[0].lastCloseCode == code)
        if fault != "garbage" {
            // Garbage starts with a random reserved opcode or RSV bits: any of them is 1002.
            #expect(harness.counters.violations(violation) == 1)
        }
        expectRecovered(harness, opensBefore: opens, snapshotsBefore: snapshots)
    }

    @Test func resyncsABookFromAFreshSnapshotAfterADepthGap() throws {
        let (server, harness) = try start()
        let snapshots = harness.counters.snapshotsSynced
        let opens = harness.counters.opened
        let gapSymbol = Self.symbols[1]
        let book = try #require(harness.agent.book(gapSymbol))
        let bookGaps = book.counters.gaps
        #expect(try server.fault("kind=skip-depth&count=1&symbol=\(gapSymbol)") == 200)
        let resynced = harness.run(seconds: 20) {
            $0.counters.gaps >= 1 && $0.counters.resyncs >= 1 && $0.counters.snapshotsSynced > snapshots
                && $0.allSynced(Self.symbols)
        }
        #expect(resynced, "\(harness.counters)")
        #expect(book.counters.gaps > bookGaps)
        // The gap was handled on the live connection: no reconnect.
        #expect(harness.counters.opened == opens)
        let after = book.counters.appliedDiffs
        #expect(harness.run(seconds: 10) { _ in book.counters.appliedDiffs > after + 3 && book.state == .synced })
    }

    @Test func reconnectsByItselfAfterTheServerIsKilledAndRestarted() throws {
        let (server, harness) = try start()
        let opens = harness.counters.opened
        let snapshots = harness.counters.snapshotsSynced
        server.stop()
        let lost = harness.run(seconds: 10) { $0.agent.connections[0].phase == .down }
        #expect(lost)
        // Reconnect attempts fail while it is gone, with growing delays.
        harness.run(seconds: 1)
        #expect(harness.counters.connectFailures >= 1)
        try server.restart()
        expectRecovered(harness, opensBefore: opens, snapshotsBefore: snapshots)
    }

    @Test func reconnectsProactivelyBeforeTheVenuesCut() throws {
        let (_, harness) = try start { $0.proactiveReconnectMs = 1_500 }
        let opens = harness.counters.opened
        let snapshots = harness.counters.snapshotsSynced
        let cut = harness.run(seconds: 10) { $0.counters.proactiveReconnects >= 1 }
        #expect(cut, "\(harness.counters) \(harness.agent.connections[0].phase)")
        expectRecovered(harness, opensBefore: opens, snapshotsBefore: snapshots)
        #expect(harness.agent.connections[0].lastCloseCode == .goingAway)
    }

    @Test func keepsControlMessagesWithinTheRateLimitAndStreamsWithinTheConnectionLimit() throws {
        let server = try FeedServerProcess(symbols: 3, rate: 200)
        var config = testConfig(server: server, symbols: [])
        config.connections = 2
        config.streams = ["trade"]
        config.streamsPerConnection = 6
        config.streamsPerControlMessage = 1
        config.pingIntervalMs = 60_000
        let table = try syntheticTable(20)
        let harness = try FeedHarness(config: config, instruments: table)
        harness.server = server
        for k in 0..<12 { #expect(harness.agent.subscribe(syntheticSymbol(k))) }
        // Both connections are full: the 13th is refused and counted.
        #expect(!harness.agent.subscribe(syntheticSymbol(12)))
        #expect(harness.counters.subscribeRefused == 1)
        #expect(harness.agent.connections.map(\.streams) == [6, 6])
        // 12 SUBSCRIBEs of one stream each, at most 5 per second per connection.
        var samples: [(MonotonicNanos, [UInt64])] = []
        var sent: [UInt64] = [0, 0]
        let done = harness.run(seconds: 10) { h in
            for (k, c) in h.agent.connections.enumerated() where c.phase == .open {
                sent[k] = UInt64(6 - c.toSubscribe.count)
            }
            samples.append((Clock.monotonic(), sent))
            return h.counters.subscribeMessages == 12
        }
        #expect(done, "\(harness.counters)")
        #expect(harness.counters.controlRateLimited > 0)
        for k in 0..<2 {
            for (i, sample) in samples.enumerated() {
                let windowEnd = sample.0 + 999_000_000
                let last = samples[i...].last { $0.0 <= windowEnd }!
                #expect(last.1[k] - sample.1[k] <= 5, "connection \(k) sent more than 5 control messages in one second")
            }
        }
    }

    @Test func backsOffExponentiallyWithJitterUpToTheCap() throws {
        let server = try FeedServerProcess(symbols: 1)
        var config = testConfig(server: server, symbols: [])
        config.backoffInitialMs = 100
        config.backoffMaxMs = 1_000
        config.jitter = 0.2
        let harness = try FeedHarness(config: config, instruments: try syntheticTable(1))
        for attempt in 1...8 {
            let base = Double(min(1_000, 100 << (attempt - 1))) * 1e6
            let delays = (0..<50).map { _ in Double(harness.agent.backoffNs(attempt: attempt, initialMs: 100, maxMs: 1_000, jitter: 0.2)) }
            #expect(delays.allSatisfy { $0 <= base && $0 >= base * 0.8 }, "attempt \(attempt): \(delays.min()!)…\(delays.max()!)")
            // Jitter spreads the delays.
            #expect(Set(delays).count > 40)
        }
    }

    @Test func rateLimiterAllowsFivePerSlidingSecond() throws {
        let server = try FeedServerProcess(symbols: 1)
        let harness = try FeedHarness(config: testConfig(server: server, symbols: []), instruments: try syntheticTable(1))
        let c = harness.agent.connections[0]
        let t0 = MonotonicNanos(10_000_000_000)
        for k in 0..<5 {
            #expect(c.controlAllowed(nowNs: t0 + Nanos(k) * 100_000_000))
            c.recordControl(nowNs: t0 + Nanos(k) * 100_000_000)
        }
        #expect(!c.controlAllowed(nowNs: t0 + 999_999_999))
        #expect(c.controlAllowed(nowNs: t0 + 1_000_000_000))
        c.recordControl(nowNs: t0 + 1_000_000_000)
        #expect(!c.controlAllowed(nowNs: t0 + 1_099_999_999))
        #expect(c.controlAllowed(nowNs: t0 + 1_100_000_000))
    }

    @Test func spendsNoMoreRESTWeightOnSnapshotsThanTheBudget() throws {
        let server = try FeedServerProcess(symbols: 3)
        var config = testConfig(server: server, symbols: Self.symbols)
        config.snapshotLimit = 100  // weight 5 each
        config.snapshotWeightPerMinute = 10  // two at once, then one every 30 s
        let harness = try FeedHarness(config: config, instruments: try syntheticTable(4))
        harness.server = server
        let twoSynced = harness.run(seconds: 15) { h in Self.symbols.filter { h.agent.book($0)?.state == .synced }.count == 2 }
        #expect(twoSynced, "\(harness.counters)")
        harness.run(seconds: 2)
        #expect(harness.counters.snapshotRequests == 2)
        #expect(harness.counters.snapshotBudgetWaits > 0)
        #expect(Self.symbols.filter { harness.agent.book($0)?.state == .synced }.count == 2)
    }

    @Test func countsAndRetriesSnapshotBodiesThatAreNotSnapshots() throws {
        let server = try FeedServerProcess(symbols: 1)
        var config = testConfig(server: server, symbols: [syntheticSymbol(0)])
        // `/healthz?x=/api/v3/depth?…` answers 200 with the server's health JSON.
        config.restBase = "http://\(server.address)/healthz?x="
        let harness = try FeedHarness(config: config, instruments: try syntheticTable(1))
        harness.server = server
        let retried = harness.run(seconds: 15) { $0.counters.snapshotsMalformed >= 3 }
        #expect(retried, "\(harness.counters)")
        #expect(harness.agent.book(syntheticSymbol(0))?.state == .awaitingSnapshot)
        #expect(harness.counters.snapshotsSynced == 0)
        // Nothing about the book was published; trades and quotes still flow.
        #expect(harness.events(of: 100, kind: .bookTop) == 0)
        #expect(harness.events(of: 100, kind: .trade) > 0)
    }
}
