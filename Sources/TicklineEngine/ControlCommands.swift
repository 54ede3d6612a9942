import Synchronization
import TicklineControl
import TicklineCore
import TicklineRisk

extension ControlRequest {
    /// `riskCommands(symbols: [])`: symbol-scoped commands are refused as unknown.
    public var riskCommands: Result<[ControlCommand], ControlRefusal>? { riskCommands(symbols: []) }

    /// The risk stage's control-ring commands for this request, or why it is refused (an
    /// unknown limit key, a value a limit cannot take, a symbol the engine does not trade).
    /// `symbols` are the engine's instruments, indexed by instrument id. Subscriptions are
    /// the feed's, not risk's: nil. One place for the translation the demo and `tickline
    /// run` share.
    public func riskCommands(symbols: [String]) -> Result<[ControlCommand], ControlRefusal>? {
        switch self {
        case .halt: return .success([ControlCommand(kind: .halt)])
        case .reduce: return .success([ControlCommand(kind: .reduce)])
        case .resume: return .success([ControlCommand(kind: .resume)])
        case .resumeAfterKill: return .success([ControlCommand(kind: .resume, value: ControlCommand.resumeLiftsKillSwitch)])
        case .flatten: return .success([ControlCommand(kind: .flatten)])
        case .kill: return .success([ControlCommand(kind: .killSwitch)])
        case .scoped(let change, let target):
            let kind: ControlCommandKind = switch change {
            case .halt: .halt
            case .reduce: .reduce
            case .resume: .resume
            }
            switch target {
            case .strategy(let id):
                guard let s = StrategyId(exactly: id) else {
                    return .failure(ControlRefusal(message: "strategy \(id) is not a strategy id"))
                }
                return .success([ControlCommand(kind: kind, scope: .strategy, strategy: s)])
            case .symbol(let name):
                guard let i = symbols.firstIndex(of: name) else {
                    return .failure(ControlRefusal(message: "unknown symbol \(name) (this engine trades: \(symbols.joined(separator: ", ")))"))
                }
                return .success([ControlCommand(kind: kind, scope: .symbol, instrument: InstrumentId(i))])
            }
        case .setLimits(let values):
            var commands: [ControlCommand] = []
            for (key, value) in values {
                guard let e = RiskLimitCode.entry(key: key) else {
                    return .failure(ControlRefusal(message: "unknown limit \(key) (known: \(RiskLimitCode.entries.map(\.key).joined(separator: ", ")))"))
                }
                guard let v = RiskLimitCode.internalValue(value, unit: e.unit) else {
                    return .failure(ControlRefusal(message: "\(value) is not a valid value for \(key)"))
                }
                commands.append(ControlCommand(kind: .setLimit, limitId: e.code, value: v))
            }
            return .success(commands)
        case .subscribe, .unsubscribe:
            return nil
        }
    }
}

/// Why a control request was refused (the API replies with it).
public struct ControlRefusal: Error, Sendable, Equatable {
    public let message: String
}

/// Requests of the API bound for the risk stage's control ring, as `tickline run` and
/// `tickline demo` both answer them: checked when they arrive (a refusal is the reply,
/// 422), numbered, queued, and pushed onto the ring by the one thread that owns its producer
/// (`forward`); the request then waits, bounded by `ackTimeoutNs`, for the risk stage's
/// acknowledgement of each of its commands in `acks`, and answers with what the stage did:
/// applied (200, with the state or limits now in force), refused (422, with the stage's
/// reason), or 503 when the ring was full (nothing of it queued after that) or no ack came
/// in time (it may still apply). Safe from any thread (one lock around the queue; the acks
/// are read without it). Never on the risk stage's thread.
public final class RiskCommandQueue: Sendable {
    struct State {
        var pending: [ControlCommand] = []
        var nextSequence: UInt64 = 1
        /// Sequences the ring refused in `forward`, until their request collects them.
        var ringRefused: Set<UInt64> = []
    }

    let state = Mutex(State())
    let acks: ControlAcks
    /// The reply to a subscription request this engine cannot serve.
    let subscriptionRefusal: String
    /// The engine's instruments by id, to resolve symbol-scoped commands.
    let symbols: [String]
    let ackTimeoutNs: Nanos
    /// Sleep between two looks at the acks.
    let pollNs: UInt64

    public init(acks: ControlAcks, subscriptionRefusal: String, symbols: [String] = [], ackTimeoutNs: Nanos = 2_000_000_000,
                pollNs: UInt64 = 1_000_000) {
        self.acks = acks
        self.symbols = symbols
        self.subscriptionRefusal = subscriptionRefusal
        self.ackTimeoutNs = ackTimeoutNs
        self.pollNs = pollNs
    }

    /// Checks, queues and waits for `request` (see the type's summary).
    public func submit(_ request: ControlRequest) async -> ControlReply {
        let commands: [ControlCommand]
        switch request.riskCommands(symbols: symbols) {
        case nil:
            return ControlReply(outcome: .refused, message: subscriptionRefusal)
        case .failure(let refusal)?:
            return ControlReply(outcome: .refused, message: refusal.message)
        case .success(let c)?:
            commands = c
        }
        guard !commands.isEmpty else { return ControlReply(outcome: .applied, message: "nothing to change") }
        let numbered: [ControlCommand] = state.withLock { s in
            let first = s.nextSequence
            s.nextSequence &+= UInt64(commands.count)
            let wall = Clock.wall()
            let numbered = commands.enumerated().map { k, c in
                var c = c
                c.sequence = first + UInt64(k)
                c.issuedWallNs = wall
                return c
            }
            s.pending += numbered
            return numbered
        }
        let sequences = numbered.map(\.sequence)
        let deadline = Clock.monotonic() &+ ackTimeoutNs
        while true {
            let refusedByRing = state.withLock { s -> Bool in
                guard sequences.contains(where: { s.ringRefused.contains($0) }) else { return false }
                for q in sequences { s.ringRefused.remove(q) }
                return true
            }
            if refusedByRing {
                let taken = sequences.filter { if case .pending = acks.ack(of: $0) { false } else { true } }.count
                return ControlReply(outcome: .unavailable,
                                    message: "control ring full: not queued" + (taken > 0 ? " (\(taken) of its \(sequences.count) commands went before it filled)" : ""))
            }
            var lookups: [ControlAcks.Lookup] = []
            for q in sequences {
                let l = acks.ack(of: q)
                if l == .pending { break }
                lookups.append(l)
            }
            if lookups.count == sequences.count { return Self.reply(numbered, lookups) }
            if Clock.monotonic() >= deadline { break }
            try? await Task.sleep(nanoseconds: pollNs)
        }
        let unsent = state.withLock { s in
            let before = s.pending.count
            s.pending.removeAll { sequences.contains($0.sequence) }
            for q in sequences { s.ringRefused.remove(q) }
            return before - s.pending.count
        }
        let seconds = Double(ackTimeoutNs) / 1e9
        if unsent > 0 {
            return ControlReply(outcome: .unavailable, message: "not taken onto the control ring in \(seconds) s: dropped, not applied")
        }
        return ControlReply(outcome: .unavailable, message: "on the control ring, but no acknowledgement from the risk stage in \(seconds) s: it may still apply")
    }

    /// The reply once every command of a request has its ack.
    static func reply(_ commands: [ControlCommand], _ lookups: [ControlAcks.Lookup]) -> ControlReply {
        var refusals: [String] = []
        var limits: [String: Double] = [:]
        var state: TradingState?
        var waits = false
        var overwritten = 0
        for (c, l) in zip(commands, lookups) {
            guard case .acked(let ack) = l else { overwritten += 1; continue }
            if let why = ack.outcome.refusal {
                refusals.append(c.kind == .setLimit ? "limit \(Self.limitKey(c.limitId)): \(why)" : why)
                continue
            }
            if ack.outcome == .waitsForJournal { waits = true }
            state = ack.state ?? state
            if c.kind == .setLimit, let e = RiskLimitCode.entries.first(where: { $0.code == c.limitId }) {
                limits[e.key] = RiskLimitCode.personValue(c.value, unit: e.unit)
            }
        }
        let stateText = state.map { "\($0)" }
        let limitsOrNil = limits.isEmpty ? nil : limits
        if !refusals.isEmpty {
            return ControlReply(outcome: .refused, message: "refused by the risk stage: " + refusals.joined(separator: "; "),
                                state: stateText, limits: limitsOrNil)
        }
        if overwritten > 0 {
            return ControlReply(outcome: .accepted, message: "taken by the risk stage; the outcome of \(overwritten) of its commands was overwritten by later acks before it was read",
                                state: stateText, limits: limitsOrNil)
        }
        if waits {
            return ControlReply(outcome: .accepted, message: "the journal refuses writes: trading resumes once a write succeeds",
                                state: stateText, limits: limitsOrNil)
        }
        return ControlReply(outcome: .applied, message: "applied by the risk stage", state: stateText, limits: limitsOrNil)
    }

    static func limitKey(_ code: UInt16) -> String {
        RiskLimitCode.entries.first { $0.code == code }?.key ?? "#\(code)"
    }

    /// Pushes the queued commands in order with `tryPush`. When the ring refuses one, that
    /// one and every later one are not queued (their requests answer 503): a command the
    /// ring cannot take is refused now rather than applied at some later, unknown time.
    /// Returns how many went.
    @discardableResult
    public func forward(_ tryPush: (ControlCommand) -> Bool) -> Int {
        state.withLock { s in
            var sent = 0
            while sent < s.pending.count && tryPush(s.pending[sent]) { sent += 1 }
            for c in s.pending[sent...] { s.ringRefused.insert(c.sequence) }
            s.pending.removeAll(keepingCapacity: true)
            return sent
        }
    }

    /// Commands waiting for `forward`.
    public var waiting: Int { state.withLock { $0.pending.count } }
}

/// How the risk stage took a control command (the low byte pair of an ack word).
public enum ControlAckOutcome: UInt8, Sendable {
    case applied = 1
    /// A global resume while the journal refuses writes: the stage resumes once a write
    /// succeeds (it stays halted until then).
    case waitsForJournal = 2
    case unknownLimit = 3
    case strategyOutOfRange = 4
    case symbolOutOfRange = 5
    case unknownCommand = 6
    /// A resume (or reduce) while the kill switch is latched, without `{"confirm":"kill"}`.
    case killSwitchLatched = 7

    /// Why the risk stage refused, as the API says it (nil when not refused).
    public var refusal: String? {
        switch self {
        case .applied, .waitsForJournal: nil
        case .unknownLimit: "the risk stage does not know this limit id"
        case .strategyOutOfRange: "strategy id out of range"
        case .symbolOutOfRange: "symbol id out of range"
        case .unknownCommand: "the risk stage does not know this command"
        case .killSwitchLatched: #"the kill switch is engaged: only POST /api/resume with {"confirm":"kill"} lifts it"#
        }
    }
}

/// One acknowledgement: the command's sequence, the outcome, and the trading state in force
/// after it (the command's scope: global, strategy or symbol).
public struct ControlAck: Sendable, Equatable {
    public var sequence: UInt64
    public var outcome: ControlAckOutcome
    public var state: TradingState?

    public init(sequence: UInt64, outcome: ControlAckOutcome, state: TradingState?) {
        self.sequence = sequence
        self.outcome = outcome
        self.state = state
    }
}

/// The risk stage's acknowledgements of control commands, read by the control plane
/// without locks: a table of `slotCount` atomic words, the ack of sequence `s` in slot
/// `s % slotCount` as `s << 16 | outcome << 8 | state`. One word per ack, so a reader never
/// sees a sequence with another command's outcome; a slot is reused only after
/// `slotCount` more commands, far more than the control plane has waiting at once (a reader
/// that finds a later sequence knows its command was taken, not how).
///
/// Thread-safe: one writer (the risk stage's thread, `publish`), any number of readers.
/// `publish` allocates nothing and takes no lock.
public final class ControlAcks: @unchecked Sendable {
    public static let slotCount = 64
    // SAFETY: allocated and initialised in `init`, freed in `deinit`; only ever accessed
    // through `Atomic`'s operations.
    let slots: UnsafeMutablePointer<Atomic<UInt64>>

    public init() {
        slots = .allocate(capacity: Self.slotCount)
        for i in 0..<Self.slotCount { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: Self.slotCount)
        slots.deallocate()
    }

    /// Records the ack of `sequence` (risk stage's thread only). Sequence 0 (a command not
    /// sent by the control plane) is not recorded.
    public func publish(_ ack: ControlAck) {
        guard ack.sequence != 0 else { return }
        let word = ack.sequence << 16 | UInt64(ack.outcome.rawValue) << 8 | UInt64(ack.state?.rawValue ?? 0)
        // Pairs with `ack(of:)`'s acquiring load: what the command changed is visible to a
        // reader that sees its ack.
        slots[Int(ack.sequence % UInt64(Self.slotCount))].store(word, ordering: .releasing)
    }

    /// What the slot of `sequence` holds: its ack, nil when not yet acknowledged, or
    /// `.overwritten` when a later command's ack has taken the slot.
    public func ack(of sequence: UInt64) -> Lookup {
        let word = slots[Int(sequence % UInt64(Self.slotCount))].load(ordering: .acquiring)
        let seen = word >> 16
        if seen < sequence || word == 0 { return .pending }
        if seen > sequence { return .overwritten }
        guard let outcome = ControlAckOutcome(rawValue: UInt8(truncatingIfNeeded: word >> 8)) else {
            preconditionFailure("ControlAcks: slot of sequence \(sequence) holds outcome byte \(UInt8(truncatingIfNeeded: word >> 8))")
        }
        return .acked(ControlAck(sequence: sequence, outcome: outcome, state: TradingState(rawValue: UInt8(truncatingIfNeeded: word))))
    }

    public enum Lookup: Sendable, Equatable {
        case pending
        case acked(ControlAck)
        case overwritten
    }
}
