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
