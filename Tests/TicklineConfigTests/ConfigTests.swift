import Foundation
import Testing
import TicklineCore
import TicklineConfig
import TicklineRing
import TicklineRuntime

@Suite struct ConfigTests {
    private func parse(_ text: String, cpus: Int = 2) throws(ConfigError) -> EngineConfig {
        try EngineConfig.parse(text, file: "test.yaml", onlineCpus: cpus)
    }

    private func error(_ text: String, cpus: Int = 2) -> ConfigError? {
        do {
            _ = try parse(text, cpus: cpus)
            return nil
        } catch { return error }
    }

    @Test func anEmptyMappingGivesTheTwoCoreDefaults() throws {
        let c = try parse("{}")
        #expect(c.instance == "main")
        #expect(c.threading.runners.count == 1)
        #expect(c.threading.runners[0].agents == ThreadingConfig.knownAgents)
        #expect(c.threading.runners[0].cores == [1])
        #expect(c.threading.runners[0].idle == IdleStrategy.parking.kind)
        #expect(c.rings.map(\.name) == RingCatalog.entries.map(\.name))
    }

    @Test func readsRunnersIdleStrategiesAndRingCapacities() throws {
        let c = try parse("""
            instance: desk-1
            region:
              lock_memory: false
              numa_node: auto
            rings:
              market: { capacity: 1024 }
            threading:
              runners:
                - name: feed
                  cores: [1]
                  idle: busy-spin
                  agents: [feed]
                - name: rest
                  cores: [0]
                  idle: { strategy: park, spins: 10, yields: 2, min_park_us: 5, max_park_us: 500 }
                  agents: [strategy, risk, execution]
            """)
        #expect(c.instance == "desk-1")
        #expect(!c.region.lockMemory && c.region.numaNode == nil)
        #expect(c.rings.first { $0.name == "market" }?.capacity == 1024)
        #expect(c.threading.runners.map(\.name) == ["feed", "rest"])
        #expect(c.threading.runners[0].idle == .busySpin)
        #expect(c.threading.runners[1].idle == .backoff(spins: 10, yields: 2, minParkNs: 5_000, maxParkNs: 500_000))
    }

    @Test func aMissingKeyIsNamedWithItsLine() throws {
        let e = try #require(error("""
            threading:
              runners:
                - name: one
                  cores: [0]
            """))
        #expect(e.key == "threading.runners[0].agents")
        #expect(e.line == 3)
        #expect(e.description == "test.yaml:3:7: threading.runners[0].agents: missing required key 'agents'")
    }

    @Test func aWrongTypeIsNamedWithItsLineAndValue() throws {
        let e = try #require(error("""
            rings:
              market:
                capacity: lots
            """))
        #expect(e.key == "rings.market.capacity")
        #expect(e.line == 3)
        #expect(e.message == "expected an integer, found 'lots'")
    }

    @Test func anUnknownKeyIsRefusedNotIgnored() throws {
        let e = try #require(error("""
            instance: a
            treading: {}
            """))
        #expect(e.key == "treading")
        #expect(e.line == 2)
        #expect(e.message.hasPrefix("unknown key (allowed here: instance, region, rings, threading"))
    }

    @Test func theInfluxSinkIsAServerURLOrAnAbsoluteFileURL() throws {
        let c = try parse("writer: { influx: { url: \"file:///tmp/x.lp\" }, stop_drain_ms: 250 }")
        #expect(c.writer.influx.url == "file:///tmp/x.lp")
        #expect(c.writer.stopDrainMs == 250)
        let relative = try #require(error("writer: { influx: { url: \"file://x.lp\" } }"))
        #expect(relative.description.contains("writer.influx.url") && relative.description.contains("file:///absolute/path"), "\(relative)")
        let other = try #require(error("writer: { influx: { url: \"ftp://h/write\" } }"))
        #expect(other.description.contains("http://, https:// or file:///"), "\(other)")
    }

    @Test func aCoreTheHostLacksIsRefused() throws {
        let e = try #require(error("""
            threading:
              runners:
                - { name: x, cores: [5], agents: [feed] }
            """))
        #expect(e.message == "core 5 does not exist on this host (online cores: 0-1)")
        #expect(e.key == "threading.runners[0].cores[0]")
    }

    @Test func anAgentPlacedTwiceOrUnknownIsRefused() throws {
        let twice = try #require(error("""
            threading:
              runners:
                - { name: a, agents: [feed] }
                - { name: b, agents: [feed] }
            """))
        #expect(twice.message == "agent 'feed' is already placed on runner 'a'")
        let unknown = try #require(error("threading: { runners: [ { name: a, agents: [fed] } ] }"))
        #expect(unknown.message == "'fed' is not one of: feed, strategy, risk, execution")
    }

    @Test func aNonPowerOfTwoCapacityAndAnUnknownRingAreRefused() throws {
        #expect(error("rings: { market: { capacity: 1000 } }")?.message == "1000 is not a power of two")
        #expect(error("rings: { markt: { capacity: 1024 } }")?.message.hasPrefix("unknown ring (known: market,") == true)
    }

    @Test func yamlSyntaxErrorsNameTheLine() throws {
        let e = try #require(error("instance: a\nthreading: [\n"))
        #expect(e.line >= 2)
        #expect(e.message.hasPrefix("YAML syntax:"))
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: ConfigError(file: "/nonexistent.yaml", line: 0, column: 0, key: "", message: "cannot read the file (missing or unreadable)")) {
            _ = try EngineConfig.load(path: "/nonexistent.yaml")
        }
    }

    @Test func theShippedExampleConfigsAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let laptop = try EngineConfig.load(path: root.appendingPathComponent("Config/laptop.yaml").path, onlineCpus: 2)
        #expect(laptop.threading.runners.count == 1)
        let server = try EngineConfig.load(path: root.appendingPathComponent("Config/server.yaml").path, onlineCpus: 32)
        #expect(server.threading.runners.count == 4)
        #expect(server.threading.runners.allSatisfy { $0.idle == .busySpin && $0.cores.count == 1 })
    }
}

final class NamedAgent: Agent {
    let roleName: String
    init(_ role: String) { roleName = role }
    func doWork(now: DutyCycleTime) -> Int { 0 }
}

@Suite struct PlacementTests {
    @Test func placesEachAgentOnItsConfiguredRunnerAndCores() throws {
        let config = try EngineConfig.parse("""
            threading:
              runners:
                - { name: hot, cores: [1], idle: busy-spin, agents: [feed, strategy] }
                - { name: cold, cores: [0], agents: [risk, execution] }
            """, file: "t.yaml", onlineCpus: 2)
        let agents: [String: any Agent] = Dictionary(uniqueKeysWithValues: ThreadingConfig.knownAgents.map { ($0, NamedAgent($0)) })
        let runners = try config.threading.makeRunners(agents: agents)
        #expect(runners.map(\.name) == ["hot", "cold"])
        #expect(runners[0].cores == [1] && runners[1].cores == [0])
        #expect(runners[0].agents.map(\.roleName) == ["feed", "strategy"])
        #expect(runners[1].agents.map(\.roleName) == ["risk", "execution"])
        // A companion runs right after the stage it is listed under, on that stage's thread.
        let placed = try config.threading.makeRunners(agents: agents, companions: ["risk": [NamedAgent("ledger")]])
        #expect(placed[0].agents.map(\.roleName) == ["feed", "strategy"])
        #expect(placed[1].agents.map(\.roleName) == ["risk", "ledger", "execution"])
    }

    @Test func refusesAnAgentOnNoRunnerAndARoleNotBuilt() throws {
        let config = try EngineConfig.parse("threading: { runners: [ { name: a, agents: [feed] } ] }", file: "t.yaml", onlineCpus: 2)
        #expect(throws: ThreadingConfig.PlacementError(description: "agent 'risk' is on no runner: add it to a runner's agents in threading.runners")) {
            _ = try config.threading.makeRunners(agents: ["feed": NamedAgent("feed"), "risk": NamedAgent("risk")])
        }
        #expect(throws: ThreadingConfig.PlacementError(description: "runner 'a' names agent 'feed', which this engine does not run")) {
            _ = try config.threading.makeRunners(agents: [:])
        }
    }
}
