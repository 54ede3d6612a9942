import ArgumentParser
import Foundation
import TicklineBench

@main
struct Tickline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickline",
        abstract: "A low-latency live trading pipeline: shared-memory rings, pinned stages, zero allocation per event.",
        subcommands: [Run.self, Demo.self, Replay.self, Record.self, Verify.self, Bench.self, Doctor.self, Indicators.self])
}

/// Fails a command with a message and exit status 1 (errors name what is wrong).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The path of the running executable (for re-running itself in another role).
func currentExecutablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

/// Refuses a flag's integer value outside `range`, naming the flag and the range (nil: not given).
func checkRange<T: BinaryInteger>(_ flag: String, _ value: T?, in range: ClosedRange<T>) throws(ValidationError) {
    guard let value, !range.contains(value) else { return }
    throw ValidationError("\(flag) must be from \(range.lowerBound) to \(range.upperBound) (got \(value))")
}

/// Refuses a flag's number unless `lower` < value <= `upper` (so 0, negatives, NaN and
/// infinity when `lower` is 0), naming the flag and the range (nil: not given).
func checkRange(_ flag: String, _ value: Double?, above lower: Double, upTo upper: Double) throws(ValidationError) {
    guard let value, !(value > lower && value <= upper) else { return }
    throw ValidationError("\(flag) must be greater than \(lower.formatted()) and at most \(upper.formatted()) (got \(value.formatted()))")
}

extension Double {
    /// Without a trailing ".0" for whole numbers (messages).
    func formatted() -> String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : "\(self)" }
}
