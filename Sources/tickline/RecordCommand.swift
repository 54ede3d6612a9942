#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import TicklineConfig
import TicklineCore
import TicklineEngine
import TicklineFeed
import TicklineRing
import TicklineRuntime

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Records what a feed receives, in the line format tickline verify, tickline replay and tickline-feed read.",
        discussion: """
            Connects the feed of the config exactly as `tickline run` does (connections, subscriptions,
            reconnects, REST depth snapshots) and writes every WebSocket text message and every REST
            snapshot as it arrived: `<receive wall ns> <payload>`, one per line, in arrival order, so a
            live session replays as it happened. Stops after --duration or on SIGINT/SIGTERM; the last
            line on stderr counts what was written. Config errors name the file, line and key (exit 78).
            """)

    @Option(help: "The engine config (YAML): its feeds: and risk.instruments.") var config: String
    @Option(help: "Which feed (by name; default the first).") var feed: String?
    @Option(help: "The recording to write (created or truncated).") var out: String
    @Option(parsing: .unconditional, help: "Stop after this many seconds, 0 < S <= 604800 (default: until SIGINT/SIGTERM).") var duration: Double?

    func validate() throws { try checkRange("--duration", duration, above: 0, upTo: 604_800) }

    func run() throws {
        let say = { (line: String) in FileHandle.standardError.write(Data("tickline record: \(line)\n".utf8)) }
        let engineConfig: EngineConfig
        do { engineConfig = try EngineConfig.load(path: config) } catch {
            say(error.description)
            throw ExitCode(78)
        }
        for notice in engineConfig.notices { say("notice: \(notice)") }
        guard let feedIndex = feed.map({ name in engineConfig.feeds.firstIndex { $0.name == name } }) ?? engineConfig.feeds.indices.first else {
            say("no feed named '\(feed ?? "")' in \(config) (feeds: \(engineConfig.feeds.map(\.name).joined(separator: ", ")))")
            throw ExitCode(78)
        }
        let feedConfig = engineConfig.feeds[feedIndex]
        let agent: FeedAgent
        do {
            let table = try LiveEngine.feedTables(engineConfig)[feedIndex]
            // A private region: the feed publishes as in the live engine; this loop discards it.
            let (region, _) = try SharedRegion.create(instance: "record-\(getpid())", rings: RingCatalog.defaultSpecs)
            region.unlink()
            agent = try FeedAgent(config: feedConfig, instruments: table, region: region)
            agent.recorder = try RecordingWriter(path: out)
            var market = try region.consumer(of: MarketEvent.self, ring: "market")
            var depth = try region.consumer(of: DepthSnapshot.self, ring: "depth")
            var journal = try region.consumer(of: MarketEvent.self, ring: "journal.market")
            ShutdownSignal.install()
            say("recording feed '\(feedConfig.name)' (\(feedConfig.symbols.joined(separator: ", "))) from \(feedConfig.streamAddress) to \(out)")
            let start = Clock.monotonic()
            agent.onStart()
            while ShutdownSignal.requested == nil {
                let now = DutyCycleTime.now()
                if let duration, Double(now.monotonic - start) / 1e9 >= duration { break }
                var work = agent.doWork(now: now)
                work += market.drain(limit: 4_096) { _, _ in } + depth.drain(limit: 4_096) { _, _ in } + journal.drain(limit: 4_096) { _, _ in }
                if work == 0 { usleep(200) }
            }
        } catch {
            say("\(error)")
            throw ExitCode(1)
        }
        agent.onClose()
        let recorder = agent.recorder!
        recorder.flush()
        let c = agent.counters
        say("\(recorder.lines) lines (\(recorder.bytes) bytes) written to \(out); messages \(c.messages), snapshots synced \(c.snapshotsSynced), "
            + "decode errors \(c.decodeErrors), reconnects \(c.reconnects), lost lines \(recorder.lost)"
            + (recorder.lastError.map { " (\($0))" } ?? ""))
        if recorder.lost > 0 { throw ExitCode(1) }
    }
}
