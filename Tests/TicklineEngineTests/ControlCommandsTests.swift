import Foundation
import Testing
import TicklineControl
import TicklineCore
import TicklineEngine
import TicklineRing
import TicklineRisk

@Suite struct ControlCommandsTests {
    @Test func translatesRequestsToRiskCommandsAndRefusesBadLimits() throws {
        let halt = try #require(try ControlRequest.halt.riskCommands?.get())
        #expect(halt.count == 1 && halt[0].kind == .halt)
        let limits = try #require(try ControlRequest.setLimits(["max_order_notional": 2_500]).riskCommands?.get())
        #expect(limits.count == 1 && limits[0].kind == .setLimit)
        #expect(limits[0].limitId == RiskLimitCode.entry(key: "max_order_notional")!.code)
        #expect(limits[0].value == MoneyScale.money(2_500))
        guard case .failure(let unknown)? = ControlRequest.setLimits(["no_such_limit": 1]).riskCommands else {
            Issue.record("an unknown limit was accepted"); return
        }
        #expect(unknown.message.hasPrefix("unknown limit no_such_limit"))
        guard case .failure(let negative)? = ControlRequest.setLimits(["drawdown_pct": -1]).riskCommands else {
            Issue.record("a negative limit was accepted"); return
        }
        #expect(negative.message.contains("not a valid value for drawdown_pct"))
        #expect(ControlRequest.subscribe(["BTCUSDT"]).riskCommands == nil)
    }
}

/// The acknowledgement round trip: the control plane numbers and queues a request, the
/// owner of the ring forwards it, the risk stage (or the test in its place) acknowledges,
/// and the request answers with what happened.
@Suite struct RiskCommandAckTests {
    /// Forwards the queue's commands with `push` once something is queued (the request is
    /// submitted concurrently); false when nothing arrived within a generous bound.
    static func forwardOnceQueued(_ queue: RiskCommandQueue, _ push: (ControlCommand) -> Bool) async -> Bool {
        let deadline = Clock.monotonic() + 30_000_000_000
        while queue.waiting == 0 {
            guard Clock.monotonic() < deadline else { return false }
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
        queue.forward(push)
        return true
    }

    @Test func answersAppliedWithTheStateTheRiskStageAcknowledged() async {
        let acks = ControlAcks()
        let queue = RiskCommandQueue(acks: acks, subscriptionRefusal: "none")
        async let reply = queue.submit(.halt)
        var sent: [ControlCommand] = []
        #expect(await Self.forwardOnceQueued(queue) { sent.append($0); return true })
        #expect(sent.count == 1 && sent[0].kind == .halt && sent[0].sequence > 0)
        acks.publish(ControlAck(sequence: sent[0].sequence, outcome: .applied, state: .halted))
        let r = await reply
        #expect(r.outcome == .applied && r.httpStatus == 200 && r.state == "halted", "\(r)")
    }

    @Test func answersTheLimitValueAppliedInPeoplesUnits() async {
        let acks = ControlAcks()
        let queue = RiskCommandQueue(acks: acks, subscriptionRefusal: "none")
        async let reply = queue.submit(.setLimits(["max_order_notional": 2_500, "daily_loss_pct": 3]))
        var sent: [ControlCommand] = []
        #expect(await Self.forwardOnceQueued(queue) { sent.append($0); return true })
        #expect(sent.count == 2 && Set(sent.map(\.sequence)).count == 2)
        for c in sent { acks.publish(ControlAck(sequence: c.sequence, outcome: .applied, state: .active)) }
        let r = await reply
        #expect(r.httpStatus == 200 && r.limits == ["max_order_notional": 2_500, "daily_loss_pct": 3], "\(r)")
    }

    @Test func answers422WithTheReasonWhenTheRiskStageRefuses() async {
        let acks = ControlAcks()
        let queue = RiskCommandQueue(acks: acks, subscriptionRefusal: "none")
        async let reply = queue.submit(.setLimits(["max_order_notional": 2_500]))
        var sent: [ControlCommand] = []
        #expect(await Self.forwardOnceQueued(queue) { sent.append($0); return true })
        acks.publish(ControlAck(sequence: sent[0].sequence, outcome: .unknownLimit, state: .active))
        let r = await reply
        #expect(r.outcome == .refused && r.httpStatus == 422, "\(r)")
        #expect(r.message.contains("max_order_notional") && r.message.contains("does not know this limit"), "\(r.message)")
    }

    @Test func answers202WhenLaterAcksOverwroteTheOutcome() async {
        let acks = ControlAcks()
        let queue = RiskCommandQueue(acks: acks, subscriptionRefusal: "none")
        async let reply = queue.submit(.reduce)
        var sent: [ControlCommand] = []
        #expect(await Self.forwardOnceQueued(queue) { sent.append($0); return true })
        acks.publish(ControlAck(sequence: sent[0].sequence + UInt64(ControlAcks.slotCount), outcome: .applied, state: .active))
        let r = await reply
        #expect(r.outcome == .accepted && r.httpStatus == 202 && r.message.contains("overwritten"), "\(r)")
    }

    @Test func answers503AndDropsTheCommandWhenTheRingIsFull() async {
        let acks = ControlAcks()
        let queue = RiskCommandQueue(acks: acks, subscriptionRefusal: "none")
        async let reply = queue.submit(.halt)
        #expect(await Self.forwardOnceQueued(queue) { _ in false })
        let r = await reply
        #expect(r.outcome == .unavailable && r.httpStatus == 503 && r.message.contains("control ring full"), "\(r)")
        // Refused means not applied later either: nothing is left to forward.
        #expect(queue.waiting == 0)
        var later = 0
        queue.forward { _ in later += 1; return true }
        #expect(later == 0)
    }

    @Test func answers503WhenNoAckComesInTime() async {
        let queue = RiskCommandQueue(acks: ControlAcks(), subscriptionRefusal: "none", ackTimeoutNs: 50_000_000)
        async let reply = queue.submit(.resume)
        #expect(await Self.forwardOnceQueued(queue) { _ in true })
        let r = await reply
        #expect(r.outcome == .unavailable && r.httpStatus == 503 && r.message.contains("no acknowledgement"), "\(r)")
    }

    @Test func answers503AndDropsTheCommandWhenNobodyForwardsIt() async {
        let queue = RiskCommandQueue(acks: ControlAcks(), subscriptionRefusal: "none", ackTimeoutNs: 50_000_000)
        let r = await queue.submit(.flatten)
        #expect(r.httpStatus == 503 && r.message.contains("not taken onto the control ring"), "\(r)")
        #expect(queue.waiting == 0)
    }

    @Test func refusesBadRequestsWithoutQueueing() async {
        let queue = RiskCommandQueue(acks: ControlAcks(), subscriptionRefusal: "fixed symbols")
        let bad = await queue.submit(.setLimits(["no_such_limit": 1]))
        #expect(bad.httpStatus == 422 && bad.message.hasPrefix("unknown limit no_such_limit"))
        let subscribe = await queue.submit(.subscribe(["BTCUSDT"]))
        #expect(subscribe.httpStatus == 422 && subscribe.message == "fixed symbols")
        #expect(queue.waiting == 0)
    }

    @Test func aReusedSlotReadsAsOverwrittenNotAsAnotherCommandsOutcome() {
        let acks = ControlAcks()
        #expect(acks.ack(of: 5) == .pending)
        acks.publish(ControlAck(sequence: 5, outcome: .strategyOutOfRange, state: nil))
        #expect(acks.ack(of: 5) == .acked(ControlAck(sequence: 5, outcome: .strategyOutOfRange, state: nil)))
        acks.publish(ControlAck(sequence: 5 + UInt64(ControlAcks.slotCount), outcome: .applied, state: .halted))
        #expect(acks.ack(of: 5) == .overwritten)
        #expect(acks.ack(of: 5 + 2 * UInt64(ControlAcks.slotCount)) == .pending)
    }

    /// The real risk stage on the control ring: it applies and acknowledges what the
    /// control plane sends, and refuses (with the reason) what it cannot apply.
    @Test func theRiskStageAcknowledgesEachCommandWithItsOutcomeAndState() async throws {
        let (region, _) = try SharedRegion.create(instance: "ack\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false)
        var ring = try region.producer(of: ControlCommand.self, ring: "control.risk")
        let queue = RiskCommandQueue(acks: p.risk.acks, subscriptionRefusal: "none")

        async let halt = queue.submit(.halt)
        let forwarded = await Self.forwardOnceQueued(queue) { ring.tryPush($0) }
        #expect(forwarded)
        _ = p.risk.doWork(now: .now())
        let h = await halt
        #expect(h.httpStatus == 200 && h.state == "halted", "\(h)")
        #expect(p.risk.risk.globalState == .halted)

        async let limit = queue.submit(.setLimits(["max_order_notional": 2_500]))
        let forwardedLimit = await Self.forwardOnceQueued(queue) { ring.tryPush($0) }
        #expect(forwardedLimit)
        _ = p.risk.doWork(now: .now())
        let l = await limit
        #expect(l.httpStatus == 200 && l.limits == ["max_order_notional": 2_500] && l.state == "halted", "\(l)")
        #expect(p.risk.risk.limits.maxOrderNotionalMoney == MoneyScale.money(2_500))

        // What the control plane's checks would stop, sent raw: refused, counted, acknowledged.
        let bad = p.risk.counters.badCommands
        let pushedLimit = ring.tryPush(ControlCommand(sequence: 1_000, kind: .setLimit, limitId: 999, value: 1))
        let pushedHalt = ring.tryPush(ControlCommand(sequence: 1_001, kind: .halt, scope: .symbol, instrument: 60_000))
        #expect(pushedLimit && pushedHalt)
        _ = p.risk.doWork(now: .now())
        #expect(p.risk.acks.ack(of: 1_000) == .acked(ControlAck(sequence: 1_000, outcome: .unknownLimit, state: .halted)))
        guard case .acked(let symbol) = p.risk.acks.ack(of: 1_001) else { Issue.record("no ack of the symbol halt"); return }
        #expect(symbol.outcome == .symbolOutOfRange)
        #expect(p.risk.counters.badCommands == bad + 2)
    }

    /// The kill switch is latched in the risk stage: a second kill changes nothing, a plain
    /// global resume or reduce is refused, a strategy's resume leaves the latch, and only a
    /// resume that confirms the kill lifts it.
    @Test func theKillSwitchStaysLatchedUntilAResumeConfirmsIt() throws {
        let (region, _) = try SharedRegion.create(instance: "kill\(getpid())", rings: EnginePeerPipeline.smallRings)
        defer { region.unlink() }
        let p = try EnginePeerPipeline(region: region, journal: nil, venueLatencyNs: 1, withVenue: false)
        var ring = try region.producer(of: ControlCommand.self, ring: "control.risk")
        var riskEvents = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
        func kinds() -> [RiskEventKind?] {
            var k: [RiskEventKind?] = []
            while let e = riskEvents.tryPop() { k.append(e.kind) }
            return k
        }
        func send(_ sequence: UInt64, _ c: ControlCommand) -> ControlAck? {
            var c = c
            c.sequence = sequence
            let pushed = ring.tryPush(c)
            #expect(pushed)
            _ = p.risk.doWork(now: .now())
            guard case .acked(let ack) = p.risk.acks.ack(of: sequence) else { return nil }
            return ack
        }
        #expect(send(1, ControlCommand(kind: .killSwitch)) == ControlAck(sequence: 1, outcome: .applied, state: .halted))
        #expect(p.risk.breakers.killSwitchEngaged && p.risk.risk.globalState == .halted)
        #expect(kinds().contains(.killSwitch))
        #expect(send(2, ControlCommand(kind: .killSwitch)) == ControlAck(sequence: 2, outcome: .applied, state: .halted))
        #expect(kinds().isEmpty, "a second kill engages nothing again")
        #expect(send(3, ControlCommand(kind: .resume))?.outcome == .killSwitchLatched)
        #expect(send(4, ControlCommand(kind: .reduce))?.outcome == .killSwitchLatched)
        #expect(send(5, ControlCommand(kind: .resume, scope: .strategy, strategy: 0))?.outcome == .applied)
        #expect(p.risk.breakers.killSwitchEngaged && p.risk.risk.globalState == .halted)
        #expect(send(6, ControlCommand(kind: .resume, value: ControlCommand.resumeLiftsKillSwitch))
                == ControlAck(sequence: 6, outcome: .applied, state: .active))
        #expect(!p.risk.breakers.killSwitchEngaged)
    }

    @Test func translatesScopedRequestsAndNamesAnUnknownSymbol() throws {
        let symbols = ["BTCUSDT", "ETHUSDT"]
        let strategy = try #require(try ControlRequest.scoped(.halt, .strategy(3)).riskCommands(symbols: symbols)?.get())
        #expect(strategy.count == 1 && strategy[0].kind == .halt && strategy[0].scope == .strategy && strategy[0].strategy == 3)
        let symbol = try #require(try ControlRequest.scoped(.resume, .symbol("ETHUSDT")).riskCommands(symbols: symbols)?.get())
        #expect(symbol.count == 1 && symbol[0].kind == .resume && symbol[0].scope == .symbol && symbol[0].instrument == 1)
        guard case .failure(let unknown)? = ControlRequest.scoped(.halt, .symbol("DOGEUSDT")).riskCommands(symbols: symbols) else {
            Issue.record("an unknown symbol was accepted"); return
        }
        #expect(unknown.message.contains("DOGEUSDT") && unknown.message.contains("BTCUSDT"))
        let kill = try #require(try ControlRequest.kill.riskCommands?.get())
        #expect(kill.map(\.kind) == [.killSwitch])
        let confirmed = try #require(try ControlRequest.resumeAfterKill.riskCommands?.get())
        #expect(confirmed.count == 1 && confirmed[0].kind == .resume && confirmed[0].value == ControlCommand.resumeLiftsKillSwitch)
    }
}
