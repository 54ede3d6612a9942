import Synchronization
import TicklineControl
import TicklineCore
import TicklineRisk

extension ControlRequest {
    /// The risk stage's control-ring commands for this request, or why it is refused (an
    /// unknown limit key, a value a limit cannot take). Subscriptions are the feed's, not
    /// risk's: nil. One place for the translation the demo and `tickline run` share.
    public var riskCommands: Result<[ControlCommand], ControlRefusal>? {
        switch self {
        case .halt: return .success([ControlCommand(kind: .halt)])
        case .reduce: return .success([ControlCommand(kind: .reduce)])
        case .resume: return .success([ControlCommand(kind: .resume)])
        case .flatten: return .success([ControlCommand(kind: .flatten)])
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
/// 422), queued, and pushed onto the ring by the one thread that owns its producer. A
/// command the ring cannot take yet waits for the next `forward`, never dropped. Safe from
/// any thread (one lock around the queue).
public final class RiskCommandQueue: Sendable {
    let pending = Mutex<[ControlCommand]>([])
    /// The reply to a subscription request this engine cannot serve.
    let subscriptionRefusal: String

    public init(subscriptionRefusal: String) {
        self.subscriptionRefusal = subscriptionRefusal
    }

    /// Checks and queues `request`: accepted, or refused with the reason.
    public func submit(_ request: ControlRequest) -> ControlReply {
        switch request.riskCommands {
        case nil:
            return ControlReply(accepted: false, message: subscriptionRefusal)
        case .failure(let refusal)?:
            return ControlReply(accepted: false, message: refusal.message)
        case .success(let commands)?:
            pending.withLock { $0 += commands }
            return ControlReply(accepted: true, message: "queued for the control ring")
        }
    }

    /// Pushes the queued commands in order with `tryPush` until it refuses one (ring full);
    /// that one and the rest wait for the next call. Returns how many went.
    @discardableResult
    public func forward(_ tryPush: (ControlCommand) -> Bool) -> Int {
        pending.withLock { queue in
            var sent = 0
            while sent < queue.count && tryPush(queue[sent]) { sent += 1 }
            queue.removeFirst(sent)
            return sent
        }
    }

    /// Commands waiting for room on the ring.
    public var waiting: Int { pending.withLock { $0.count } }
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

    /// Why the risk stage refused, as the API says it (nil when not refused).
    public var refusal: String? {
        switch self {
        case .applied, .waitsForJournal: nil
        case .unknownLimit: "the risk stage does not know this limit id"
        case .strategyOutOfRange: "strategy id out of range"
        case .symbolOutOfRange: "symbol id out of range"
        case .unknownCommand: "the risk stage does not know this command"
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
