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
