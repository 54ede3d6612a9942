#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
@testable import TicklineFeed
import TicklineMarketData
@testable import TicklineNet

private let dataKinds: Set<MarketEventKind> = [.trade, .quote, .bookTop]

private func dataEvents(_ events: ArraySlice<MarketEvent>, of instrument: InstrumentId) -> Int {
    events.reduce(0) { $0 + ($1.instrument == instrument && $1.kind.map(dataKinds.contains) == true ? 1 : 0) }
}

private func refusalMessage(_ result: Result<String, FeedSubscriptionRefusal>) -> String? {
    if case .failure(let refusal) = result { return refusal.message }
    return nil
}

/// Run-time subscriptions without a venue: the command record, the control plane's checks,
/// the feed's own checks, and the per-entry subscription state that gates publishing.
@Suite(.serialized)
struct FeedSubscriptionUnitTests {
    /// A feed whose connection never opens (nothing listens on port 9): messages are handed
    /// to the agent directly, commands go through the real `control.feed` ring.
    func offlineHarness(symbols: [String], streams: [String] = ["trade"], streamsPerConnection: Int = 1024) throws -> FeedHarness {
        var config = FeedConfig()
        config.name = "unit"
        config.streamAddress = "127.0.0.1:9"
        config.restBase = "http://127.0.0.1:9"
        config.symbols = symbols
        config.streams = streams
        config.streamsPerConnection = streamsPerConnection
        config.backoffInitialMs = 60_000
        config.backoffMaxMs = 60_000
        return try FeedHarness(config: config, instruments: try syntheticTable(4), backend: .posix)
    }

    func trade(_ symbol: String, id: Int) -> [UInt8] {
        Array(#"{"e":"trade","E":1,"s":"\#(symbol)","t":\#(id),"p":"1.50000000","q":"2.00000000","T":1,"m":true}"#.utf8)
    }

    /// Hands one message to the agent as connection 0's and collects what it published.
    func deliver(_ harness: FeedHarness, _ bytes: [UInt8]) {
        let stamp = ReadStamp(monotonicNs: Clock.monotonic(), wallNs: Clock.wall())
        bytes.withUnsafeBytes { harness.agent.messageArrived($0, stamp: stamp, connection: 0) }
        harness.drain()
    }

    func cycle(_ harness: FeedHarness) {
        _ = harness.invoker.invoke(now: .now())
        harness.drain()
    }

    /// The table swap as built: the table is the fixed universe, a subscription
    /// change flips the entry's state on the feed thread, and publishing follows at once.
    @Test func subscriptionChangesGateWhatIsPublishedWithoutRebuildingTheTable() throws {
        let h = try offlineHarness(symbols: [syntheticSymbol(0)])
        let table = h.agent.instruments
        deliver(h, trade(syntheticSymbol(0), id: 1))
        #expect(h.events(of: 100, kind: .trade) == 1)
        // In the universe but not subscribed: counted, not published.
        deliver(h, trade(syntheticSymbol(1), id: 1))
        #expect(h.events(of: 101, kind: .trade) == 0)
        #expect(h.counters.unsubscribedMessages == 1)

        #expect(refusalMessage(h.desk.subscribe([syntheticSymbol(1)])) == nil)
        cycle(h)
        deliver(h, trade(syntheticSymbol(1), id: 2))
        #expect(h.events(of: 101, kind: .trade) == 1)

        #expect(refusalMessage(h.desk.unsubscribe([syntheticSymbol(0)])) == nil)
        cycle(h)
        // Consumers hear that nothing more comes (strategies stop signalling on a stale symbol).
        #expect(h.events(of: 100, kind: .stale) == 1)
        deliver(h, trade(syntheticSymbol(0), id: 3))
        #expect(h.events(of: 100, kind: .trade) == 1)
        #expect(h.counters.unsubscribedMessages == 2)

        // Back again: its first data is announced fresh, then published.
        #expect(refusalMessage(h.desk.subscribe([syntheticSymbol(0)])) == nil)
        cycle(h)
        deliver(h, trade(syntheticSymbol(0), id: 4))
        #expect(h.events(of: 100, kind: .fresh) == 1 && h.events(of: 100, kind: .trade) == 2)
        let freshAt = try #require(h.market.lastIndex { $0.instrument == 100 && $0.kind == .fresh })
        let tradeAt = try #require(h.market.lastIndex { $0.instrument == 100 && $0.kind == .trade })
        #expect(freshAt < tradeAt)

        // The same table object all along; its lookups are unchanged.
        #expect(h.agent.instruments === table)
        #expect(table.entry(forSymbol: syntheticSymbol(1))?.id == 101)
        #expect(h.counters.subscribesApplied == 2 && h.counters.unsubscribesApplied == 1)
        #expect(h.agent.subscribedSymbols == [syntheticSymbol(0), syntheticSymbol(1)])
        #expect(h.desk.subscribedSymbols() == h.agent.subscribedSymbols)
    }

    @Test func theControlPlaneRefusesBadRequestsWithTheirReasonAndQueuesNothing() throws {
        // One connection of two streams, one stream per symbol: room for two symbols.
        let h = try offlineHarness(symbols: [syntheticSymbol(0)], streamsPerConnection: 2)
        let s0 = syntheticSymbol(0), s1 = syntheticSymbol(1), s2 = syntheticSymbol(2)
        #expect(refusalMessage(h.desk.subscribe(["DOGEUSDT"]))
                    == "unknown symbol 'DOGEUSDT': not an instrument of feed 'unit''s venue (risk.instruments)")
        #expect(refusalMessage(h.desk.subscribe([s0])) == "'\(s0)' is already subscribed on feed 'unit'")
        #expect(refusalMessage(h.desk.unsubscribe([s1])) == "'\(s1)' is not subscribed on feed 'unit'")
        #expect(refusalMessage(h.desk.subscribe([s1, s1])) == "'\(s1)' is named twice")
        #expect(refusalMessage(h.desk.subscribe([s1, "DOGEUSDT"]))?.contains("unknown symbol 'DOGEUSDT'") == true)
        #expect(refusalMessage(h.desk.subscribe([s1, s2]))?.contains("has room for 2 symbols") == true)
        #expect(refusalMessage(h.desk.subscribe([])) == "name at least one symbol")
        #expect(refusalMessage(h.desk.subscribe([s1], feed: 1)) == "no feed 1 (the engine has 1)")
        cycle(h)
        #expect(h.counters.subscribesApplied == 0 && h.agent.subscribedSymbols == [s0])
        // Symbols match without regard to ASCII case; the reply names what was queued.
        guard case .success(let text) = h.desk.subscribe([s1.lowercased()]) else {
            Issue.record("refused")
            return
        }
        #expect(text == "queued subscribe of \(s1) for feed 'unit' (2 symbols subscribed)")
        cycle(h)
        #expect(h.agent.subscribedSymbols == [s0, s1])
    }

    @Test func aFullControlRingIsReportedWithWhatWasQueued() throws {
        // The harness's ring holds 64 commands; nothing drains it until `cycle`.
        var config = FeedConfig()
        config.name = "unit"
        config.streamAddress = "127.0.0.1:9"
        config.restBase = "http://127.0.0.1:9"
        config.streams = ["trade"]
        config.backoffInitialMs = 60_000
        config.backoffMaxMs = 60_000
        let h = try FeedHarness(config: config, instruments: try syntheticTable(70), backend: .posix)
        let first = (0..<60).map(syntheticSymbol)
        #expect(refusalMessage(h.desk.subscribe(first)) == nil)
        let more = (60..<70).map(syntheticSymbol)
        let message = try #require(refusalMessage(h.desk.subscribe(more)))
        #expect(message == "the feed control ring is full (the feed is not draining it): queued only "
                    + (60..<64).map(syntheticSymbol).joined(separator: ", "))
        // The view follows what was queued, and the feed, once it drains, agrees.
        #expect(h.desk.subscribedSymbols().count == 64)
        cycle(h)
        #expect(h.agent.subscribedSymbols == h.desk.subscribedSymbols())
        #expect(refusalMessage(h.desk.subscribe(Array(more[4...]))) == nil)
        cycle(h)
        #expect(h.agent.subscribedCount == 70 && h.counters.subscribesApplied == 70)
    }

    @Test func theFeedRefusesCommandsItCannotApplyAndCountsEachReason() throws {
        let h = try offlineHarness(symbols: [syntheticSymbol(0)], streamsPerConnection: 2)
        let agent = h.agent
        func command(_ kind: FeedCommandKind, _ symbol: String, _ id: InstrumentId, feed: UInt8 = 0) -> FeedCommand {
            FeedCommand(kind: kind, feed: feed, symbol: symbol, instrument: id, requestId: UInt64(id))!
        }
        #expect(agent.apply(command(.subscribe, syntheticSymbol(1), 101)) == nil)
        #expect(agent.apply(command(.subscribe, syntheticSymbol(1), 101)) == .alreadySubscribed)
        #expect(agent.apply(command(.subscribe, "DOGEUSDT", 0)) == .unknownSymbol)
        // The right symbol under another id: a control plane built from another universe.
        #expect(agent.apply(command(.subscribe, syntheticSymbol(2), 999)) == .unknownSymbol)
        #expect(agent.apply(command(.subscribe, syntheticSymbol(2), 102, feed: 1)) == .wrongFeed)
        #expect(agent.apply(command(.unsubscribe, syntheticSymbol(3), 103)) == .notSubscribed)
        #expect(agent.apply(command(.subscribe, syntheticSymbol(2), 102)) == .noRoom)
        var odd = command(.subscribe, syntheticSymbol(2), 102)
        odd.kindRaw = 99
        odd.requestId = 4_242
        #expect(agent.apply(odd) == .unknownKind)
        for reason in FeedCommandRefusal.allCases {
            #expect(agent.counters.commandRefusals(reason) == (reason == .unknownSymbol ? 2 : 1), "\(reason)")
        }
        #expect(agent.lastRefusal?.requestId == 4_242 && agent.lastRefusal?.reason == .unknownKind)
        #expect(agent.counters.subscribesApplied == 1)
        #expect(agent.subscribedSymbols == [syntheticSymbol(0), syntheticSymbol(1)])
    }
}

/// Run-time subscriptions against the real `tickline-feed` server, through the control
/// plane's desk and the `control.feed` ring. Every wait is bounded.
@Suite(.serialized, .needsFeedServer)
struct FeedSubscriptionTests {
    @Test func subscribesAndUnsubscribesAtRunTimeThroughTheControlRing() throws {
        let server = try FeedServerProcess(symbols: 3)
        let harness = try FeedHarness(config: testConfig(server: server, symbols: [syntheticSymbol(0)]),
                                      instruments: try syntheticTable(4))
        harness.server = server
        #expect(harness.run(seconds: 20) { $0.allSynced([syntheticSymbol(0)]) })
        let added = InstrumentId(102)
        #expect(harness.events(of: added, kind: .trade) == 0)

        #expect(refusalMessage(harness.desk.subscribe([syntheticSymbol(2)])) == nil)
        let flowing = harness.run(seconds: 20) {
            $0.allSynced([syntheticSymbol(2)]) && $0.events(of: added, kind: .trade) > 3 && $0.events(of: added, kind: .bookTop) > 0
        }
        #expect(flowing, "\(harness.counters)")
        #expect(harness.counters.subscribesApplied == 1)
        #expect(harness.counters.subscribeMessages >= 2)

        // Not in the universe: refused with its reason, nothing reaches the feed.
        #expect(refusalMessage(harness.desk.subscribe(["DOGEUSDT"]))?.hasPrefix("unknown symbol 'DOGEUSDT'") == true)

        #expect(refusalMessage(harness.desk.unsubscribe([syntheticSymbol(2)])) == nil)
        let replies = harness.counters.controlReplies
        let removed = harness.run(seconds: 10) { $0.counters.unsubscribesApplied == 1 && $0.counters.controlReplies > replies }
        #expect(removed, "\(harness.counters)")
        // From the drain of the command on, nothing of it is published, even frames already on the way.
        let mark = harness.market.count
        harness.run(seconds: 1)
        #expect(dataEvents(harness.market[mark...], of: added) == 0)
        #expect(dataEvents(harness.market[mark...], of: 100) > 0)
        #expect(harness.events(of: added, kind: .stale) == 1)
        #expect(harness.counters.unsubscribeMessages == 1)
        #expect(harness.agent.book(syntheticSymbol(2))?.state == .awaitingSnapshot)

        // In the universe but unknown to the server: subscribed, nothing arrives, so stale.
        #expect(refusalMessage(harness.desk.subscribe([syntheticSymbol(3)])) == nil)
        #expect(harness.run(seconds: 10) { $0.agent.isStale(syntheticSymbol(3)) })
        #expect(FeedCommandRefusal.allCases.allSatisfy { harness.counters.commandRefusals($0) == 0 })
    }

    @Test func aRequestOfSeveralSymbolsLeavesInOneSubscribeMessage() throws {
        let server = try FeedServerProcess(symbols: 3)
        let harness = try FeedHarness(config: testConfig(server: server, symbols: [syntheticSymbol(0)]),
                                      instruments: try syntheticTable(4))
        harness.server = server
        #expect(harness.run(seconds: 20) { $0.allSynced([syntheticSymbol(0)]) })
        let messages = harness.counters.subscribeMessages
        #expect(refusalMessage(harness.desk.subscribe([syntheticSymbol(1), syntheticSymbol(2)])) == nil)
        let synced = harness.run(seconds: 20) { $0.allSynced([syntheticSymbol(1), syntheticSymbol(2)]) }
        #expect(synced, "\(harness.counters)")
        #expect(harness.counters.subscribeMessages == messages + 1)
        #expect(harness.counters.subscribesApplied == 2)
    }

    @Test func resubscribesTheRunTimeSetAfterTheServerIsKilledAndRestarted() throws {
        let server = try FeedServerProcess(symbols: 3)
        let harness = try FeedHarness(config: testConfig(server: server, symbols: [syntheticSymbol(0)]),
                                      instruments: try syntheticTable(4))
        harness.server = server
        #expect(harness.run(seconds: 20) { $0.allSynced([syntheticSymbol(0)]) })
        // At run time: SYM0001 in, SYM0000 out.
        #expect(refusalMessage(harness.desk.subscribe([syntheticSymbol(1)])) == nil)
        #expect(refusalMessage(harness.desk.unsubscribe([syntheticSymbol(0)])) == nil)
        #expect(harness.run(seconds: 20) { $0.allSynced([syntheticSymbol(1)]) && $0.counters.unsubscribesApplied == 1 })
        let opens = harness.counters.opened
        let subscribes = harness.counters.subscribeMessages

        server.stop()
        #expect(harness.run(seconds: 10) { $0.agent.connections[0].phase == .down })
        try server.restart()
        let mark = harness.market.count
        let recovered = harness.run(seconds: 20) {
            $0.counters.opened > opens && $0.allSynced([syntheticSymbol(1)]) && dataEvents($0.market[mark...], of: 101) > 5
        }
        #expect(recovered, "\(harness.counters)")
        // The new connection subscribed the run-time set: the added symbol, not the removed one.
        #expect(harness.counters.subscribeMessages > subscribes)
        #expect(harness.agent.connections[0].symbols == [1])
        #expect(dataEvents(harness.market[mark...], of: 100) == 0)
        #expect(harness.agent.book(syntheticSymbol(0))?.state == .awaitingSnapshot)
        #expect(harness.agent.subscribedSymbols == [syntheticSymbol(1)])
    }
}
