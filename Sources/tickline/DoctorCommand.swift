import ArgumentParser
import TicklineDoctor

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What on this host helps or hurts latency, and what to change (always exits 0).")

    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let report = HostReport.probe()
        print(json ? report.renderJSON() : report.renderText())
    }
}
