import ArgumentParser
import Foundation
import TicklineConfig
import TicklineEngine

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs the live pipeline from a config file until SIGINT/SIGTERM.",
        discussion: """
            Builds the region, the feed, strategy, risk and execution agents, places them on the
            runners and cores of `threading:`, starts and supervises tickline-writer (unless
            writer.supervise is false) and the control plane; on SIGINT/SIGTERM stops the
            runners, lets the writer drain the journal rings and exit, and removes the region.
            Config errors name the file, line and key (exit status 78). See Config/laptop.yaml.
            """)

    @Option(help: "The engine config (YAML).") var config: String

    func run() throws {
        let engineConfig: EngineConfig
        do { engineConfig = try EngineConfig.load(path: config) } catch {
            FileHandle.standardError.write(Data("tickline: \(error.description)\n".utf8))
            throw ExitCode(78)
        }
        let log = { (line: String) in FileHandle.standardError.write(Data("tickline: \(line)\n".utf8)) }
        for notice in engineConfig.notices { log("notice: \(notice)") }
        do {
            let engine = try LiveEngine(config: engineConfig, configPath: config)
            try engine.run(log: log)
        } catch {
            log(error.description)
            throw ExitCode(1)
        }
    }
}
