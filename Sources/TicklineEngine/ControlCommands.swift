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
