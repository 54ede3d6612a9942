#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineEngine
import TicklineExecution
import TicklineTestSupport

/// Trailing and time stops in `tickline run` against `tickline-feed`: configured per
/// strategy, fired as reduce-only orders, and kept across a kill -9 and a restart.
extension RunCommandTests {
    /// SMA crossovers on 1 s bars whose own target and stop are far out of reach (200 ATR,
    /// 5 × that as the target): only the configured exits close their positions.
    static func crossover(id: Int, exits: String) -> String {
        "{ id: \(id), type: sma_crossover, timeframe: 1s, fast: 2, slow: 5, stop_atr: 200, reward_risk: 5, sizing: quantity, "
            + "quantity_units: 5000000, exits: \(exits) }"
    }

    /// Strategy 3 trails 3 ticks behind its best; strategy 4 holds 1 s at most.
    static let trailingAndTimeStops = crossover(id: 3, exits: "{ trailing: { ticks: 3 } }") + "\n    - "
        + crossover(id: 4, exits: "{ max_hold_ms: 1000 }")

    static func journalRecords(_ path: String) -> [JournalRecord] {
        var out: [JournalRecord] = []
        _ = JournalReader.read([UInt8](FileManager.default.contents(atPath: path) ?? Data())) { out.append($0) }
        return out
    }

    static func exitsByTrigger(_ s: [String: Any], _ trigger: String) -> Int {
        ((s["exitsByTrigger"] as? [String: Any])?[trigger] as? Int) ?? 0
    }

    /// The fired exit states of `strategy` with `trigger`, each with the reduce-only order that
    /// followed it in the journal before the position's next state (nil when none did: an
    /// entry of the other side, already sent, was closing the position, so there was nothing
    /// left to reduce).
    static func firedExits(_ records: [JournalRecord], strategy: StrategyId, trigger: ExitReason) -> [(ExitStateRecord, OrderEvent?)] {
        var out: [(ExitStateRecord, OrderEvent?)] = []
        for (k, r) in records.enumerated() {
            guard case .exitState(let e) = r, e.strategy == strategy, e.cause == .fired, e.trigger == trigger else { continue }
            var order: OrderEvent?
            for rec in records[(k + 1)...] {
                if case .exitState(let next) = rec, next.strategy == strategy, next.instrument == e.instrument, next.cause != .moved { break }
                if case .order(let o) = rec, o.strategy == strategy, o.instrument == e.instrument, o.action == .new,
                   o.flags & OrderEvent.flagReduceOnly != 0 {
                    order = o
                    break
                }
            }
            out.append((e, order))
        }
        return out
    }

    @Test func aTrailingStopAndATimeStopFireAsReduceOnlyOrders() throws {
        let run = try Self.startEngine("exitstest", strategy: Self.trailingAndTimeStops) { $0 }
        defer { run.stop() }
        let (port, engine) = (run.port, run.engine)
        var last: [String: Any] = [:]
        let fired = waitUntil(120, pollUs: 50_000) {
            last = Self.snapshot(port: port)
            return Self.exitsByTrigger(last, "trailing_stop") > 0 && Self.exitsByTrigger(last, "time_stop") > 0
        }
        #expect(fired, "exits by trigger after 120 s: \(last["exitsByTrigger"] ?? "?"); engine log:\n\(engine.errors)")
        #expect(Self.exitsByTrigger(last, "stop_loss") == 0 && Self.exitsByTrigger(last, "take_profit") == 0, "\(last)")

        let records = Self.journalRecords("\(run.dir)/risk.journal")
        let trailing = Self.firedExits(records, strategy: 3, trigger: .trailingStop)
        let timed = Self.firedExits(records, strategy: 4, trigger: .timeStop)
        #expect(trailing.contains { $0.1 != nil } && timed.contains { $0.1 != nil },
                "journal: \(trailing.count) trailing, \(timed.count) time stops fired, \(trailing.count { $0.1 != nil }) and \(timed.count { $0.1 != nil }) with a reduce-only order")
        for (_, order) in trailing + timed { if let o = order { #expect(o.type == .market, "\(o)") } }
        // A time stop fires at its deadline: the opening's wall time + 1 s.
        for (state, _) in timed {
            #expect(state.wallNs >= state.deadlineWallNs, "\(state)")
            let opened = records.lazy.compactMap { r -> ExitStateRecord? in
                if case .exitState(let e) = r, e.strategy == 4, e.instrument == state.instrument, e.cause == .opened,
                   e.deadlineWallNs == state.deadlineWallNs { e } else { nil }
            }.first
            #expect(opened.map { $0.deadlineWallNs == $0.wallNs + 1_000_000_000 } == true, "\(String(describing: opened)) for \(state)")
        }
        // Entries of strategy 3 carry a trailing distance of 3 ticks (0.03), those of 4 a max hold of 1 s.
        let entries = records.compactMap { r -> OrderEvent? in
            if case .order(let o) = r, o.action == .new, o.flags & OrderEvent.flagReduceOnly == 0 { o } else { nil }
        }
        #expect(entries.filter { $0.strategy == 3 }.allSatisfy { $0.trailingDistance.units == 3 && $0.maxHoldNs == 0 })
        #expect(entries.filter { $0.strategy == 4 }.allSatisfy { $0.trailingDistance.units == 0 && $0.maxHoldNs == 1_000_000_000 })
        #expect(engine.stop(seconds: 40) == 0, "engine log:\n\(engine.errors)")
    }

    /// The open state of each (strategy, instrument) with trailing or time stops: the last
    /// exit-state record of a position that has not fired or closed.
    static func openStates(_ records: [JournalRecord]) -> [String: ExitStateRecord] {
        var open: [String: ExitStateRecord] = [:]
        for r in records {
            guard case .exitState(let e) = r else { continue }
            let key = "\(e.strategy)/\(e.instrument)"
            if e.cause == .opened || e.cause == .moved { open[key] = e } else { open[key] = nil }
        }
        return open
    }

    /// A position with a time stop (and one with a trailing stop) open when the engine is
    /// killed with SIGKILL: the restarted engine fires the time stop at the deadline journaled
    /// before the kill (not a max hold after its start), and the trailing stop goes on from the
    /// journaled best. The strategies are halted before the kill (a halt is journaled and
    /// restored), so no new entry replaces those positions.
    @Test func aTimeStopAndATrailingStopSurviveAKillAndARestart() throws {
        let holdNs: Nanos = 40_000_000_000
        let strategies = Self.crossover(id: 3, exits: "{ trailing: { ticks: 200 } }") + "\n    - "
            + Self.crossover(id: 4, exits: "{ max_hold_ms: \(holdNs / 1_000_000) }")
        let run = try Self.startEngine("exitsrestart", strategy: strategies) { $0 }
        defer {
            run.stop()
            let stale = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
            for f in stale where f.hasPrefix("tickline-exitsrestart-\(getpid())") { unlink("/dev/shm/\(f)") }
        }
        let journal = "\(run.dir)/risk.journal"
        let port = run.port

        // Both positions open and strategy 3's best journaled as it moved; then both
        // strategies halted. A position that closed meanwhile: resume and wait for the next.
        var open: [String: ExitStateRecord] = [:]
        var timed: ExitStateRecord?, trailed: ExitStateRecord?
        // A time-stop position open for 3 s at least (so that its deadline and the restart's
        // time + max hold lie apart) whose deadline is 15 s ahead at least (so that it is still
        // ahead after the restart).
        func fresh(_ e: ExitStateRecord) -> Bool {
            let now = Clock.wall()
            return e.strategy == 4 && e.deadlineWallNs > now + 15_000_000_000 && e.deadlineWallNs < now + holdNs - 3_000_000_000
        }
        for attempt in 1...5 where timed == nil || trailed == nil {
            let seen = waitUntil(120, pollUs: 50_000) {
                open = Self.openStates(Self.journalRecords(journal))
                return open.values.contains(where: fresh) && open.values.contains { $0.strategy == 3 && $0.cause == .moved }
            }
            try #require(seen, "no open positions with both exits within 120 s: \(open); engine log:\n\(run.engine.errors)")
            for s in [3, 4] {
                let halt = httpRequest(port: port, path: "/api/halt", method: "POST", token: Self.token, body: #"{"strategy": \#(s)}"#)
                #expect(halt.0 == 200, "\(halt)")
            }
            // The halts in the journal (the answer may come before the cycle's write).
            #expect(waitUntil(20) {
                Self.journalRecords(journal).filter {
                    if case .risk(let e) = $0, e.kind == .stateChange, e.scope == .strategy, e.toState == .halted { true } else { false }
                }.count >= 2 * attempt
            })
            // An entry sent before the halt may still fill and open or reverse a position:
            // wait until each of the two strategies' orders has its final report.
            #expect(waitUntil(20) { Self.ordersInFlight(Self.journalRecords(journal), strategies: [3, 4]) == 0 },
                    "orders of strategies 3 and 4 still in flight 20 s after the halt")
            open = Self.openStates(Self.journalRecords(journal))
            timed = open.values.first(where: fresh)
            trailed = open.values.first { $0.strategy == 3 && $0.cause == .moved }
            if timed == nil || trailed == nil {
                for s in [3, 4] { _ = httpRequest(port: port, path: "/api/resume", method: "POST", token: Self.token, body: #"{"strategy": \#(s)}"#) }
            }
        }
        let chosen = try #require(timed, "no time-stop position held open after five tries")
        let chosenTrailing = try #require(trailed, "no trailing position held open after five tries")

        run.engine.signal(SIGKILL)
        #expect(run.engine.wait(seconds: 30) != nil, "the engine did not die")
        // The restart restores the journal as it stood at the kill.
        let atKill = Self.journalRecords(journal)
        let before = atKill.count
        let openAtKill = Self.openStates(atKill)
        let timedAtKill = try #require(openAtKill["4/\(chosen.instrument)"], "the time-stop position closed before the kill")
        let best = try #require(openAtKill["3/\(chosenTrailing.instrument)"], "the trailing position closed before the kill")
        #expect(timedAtKill == chosen && best.strategy == 3, "changed before the kill: \(chosen) → \(timedAtKill)")
        let deadline = timedAtKill.deadlineWallNs
        #expect(deadline > Clock.wall(), "the time stop's deadline passed before the restart: the test proves nothing")
        let restartWall = Clock.wall()
        let again = ChildProcess(executable: Self.bin.appendingPathComponent("tickline").path, arguments: ["run", "--config", "\(run.dir)/engine.yaml"])
        #expect(again.start())
        defer { again.stop(seconds: 30) }

        var after: [JournalRecord] = []
        let firedAgain = waitUntil(Double(holdNs) / 1e9 + 90, pollUs: 100_000) {
            after = Array(Self.journalRecords(journal).dropFirst(before))
            return Self.firedExits(after, strategy: 4, trigger: .timeStop).contains { $0.0.instrument == chosen.instrument }
        }
        #expect(firedAgain, "no time stop after the restart; engine log:\n\(again.errors)")
        let (state, order) = try #require(Self.firedExits(after, strategy: 4, trigger: .timeStop).first { $0.0.instrument == chosen.instrument })
        #expect(state.deadlineWallNs == deadline, "restored \(state.deadlineWallNs), journaled before the kill \(deadline)")
        #expect(state.wallNs >= deadline && state.wallNs < restartWall + holdNs, "fired at \(state.wallNs): deadline \(deadline), restart \(restartWall)")
        let o = try #require(order)
        #expect(o.flags & OrderEvent.flagReduceOnly != 0 && o.type == .market)
        #expect(waitUntil(20) { Self.exitsByTrigger(Self.snapshot(port: port), "time_stop") > 0 }, "the restarted engine's count")

        // Strategy 3's first state after the restart trails from at least the journaled best.
        let next = after.lazy.compactMap { r -> ExitStateRecord? in
            if case .exitState(let e) = r, e.strategy == best.strategy, e.instrument == best.instrument { e } else { nil }
        }.first
        if let next {
            let long = entriesAreLong(Self.journalRecords(journal), best)
            #expect(long ? next.bestPriceUnits >= best.bestPriceUnits : next.bestPriceUnits <= best.bestPriceUnits, "\(best) then \(next)")
        }
        print("time stop after the restart: deadline journaled before the kill, fired \((state.wallNs - deadline) / 1_000_000) ms after it, "
              + "\((restartWall + holdNs - state.wallNs) / 1_000_000) ms before the restart + max hold; trailing best before the kill "
              + "\(best.bestPriceUnits), first state after the restart: \(next.map { "\($0.cause!) best \($0.bestPriceUnits)" } ?? "none")")
        #expect(again.stop(seconds: 40) == 0, "engine log:\n\(again.errors)")
    }

    /// How many orders of `strategies` the journal shows sent without a final report
    /// (filled, cancelled, rejected or expired).
    static func ordersInFlight(_ records: [JournalRecord], strategies: Set<StrategyId>) -> Int {
        var open = Set<UInt64>()
        for r in records {
            switch r {
            case .order(let o) where o.action == .new && strategies.contains(o.strategy): open.insert(o.clientOrderId)
            case .report(let f):
                if let s = f.status, [.filled, .cancelled, .rejected, .expired].contains(s) { open.remove(f.clientOrderId) }
            default: break
            }
        }
        return open.count
    }

    /// Whether the position of `state` was opened by a buy (the last entry of its strategy and
    /// symbol before the state).
    func entriesAreLong(_ records: [JournalRecord], _ state: ExitStateRecord) -> Bool {
        var long = true
        for r in records {
            if case .order(let o) = r, o.action == .new, o.flags & OrderEvent.flagReduceOnly == 0, o.strategy == state.strategy,
               o.instrument == state.instrument { long = o.side == .buy }
            if case .exitState(let e) = r, e == state { break }
        }
        return long
    }
}
