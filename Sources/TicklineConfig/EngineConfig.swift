#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineCore
import TicklineFeed
import TicklineRing
import TicklineRuntime

/// The engine's configuration, read once at start into immutable values. Later parts of the
/// pipeline add their sections here (feeds, strategies, risk, venues, writer, control).
public struct EngineConfig: Sendable, Equatable {
    /// Names the shared-memory region (`/dev/shm/tickline-<instance>`) and the Redis keys.
    public var instance: String
    public var region: RegionOptions
    /// Every ring of the region, with capacities after overrides.
    public var rings: [RingSpec]
    public var threading: ThreadingConfig
    /// Where `tickline-writer` sends the journal rings (`writer:`).
    public var writer: WriterConfig = WriterConfig()
    /// Bars, indicators and strategy instances of the strategy stage (`strategies:`).
    public var strategies: StrategyConfig = StrategyConfig()
    /// Market-data feeds (`feeds:`), each a `FeedConfig`.
    public var feeds: [FeedConfig] = []
    /// Pre-trade limits, instruments (each on a venue), journal, exits (`risk:`).
    public var risk: RiskConfig = RiskConfig()
    /// The venues orders go to (`venues:`), in `VenueId` order.
    public var venues: [VenueConfig] = [VenueConfig(name: VenueConfig.defaultName)]
    /// What the file says in a form still read but no longer written (shown at start, never fatal).
    public var notices: [String] = []
    /// HTTP API, metrics and dashboard (`control:`).
    public var control: ControlConfig = ControlConfig()

    public init(instance: String = "main", region: RegionOptions = .init(), rings: [RingSpec] = RingCatalog.defaultSpecs,
                threading: ThreadingConfig = .default()) {
        self.instance = instance
        self.region = region
        self.rings = rings
        self.threading = threading
    }

    public static let topLevelKeys = ["instance", "region", "rings", "threading", "writer", "feeds", "strategies", "risk", "venues", "venue", "control"]

    /// Reads and validates a config file. Every error names the file, line and key.
    public static func load(path: String, onlineCpus: Int = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) throws(ConfigError) -> EngineConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: 0, column: 0, key: "", message: "cannot read the file (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: 0, column: 0, key: "", message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path, onlineCpus: onlineCpus)
    }

    /// Parses config text (`file` names it in errors).
    public static func parse(_ text: String, file: String, onlineCpus: Int) throws(ConfigError) -> EngineConfig {
        var root = try ConfigDocument.parse(text, file: file).mapping()
        var config = EngineConfig(threading: .default(onlineCpus: onlineCpus))
        if let v = root.optional("instance") {
            config.instance = try v.string()
            do { try SharedRegion.validate(instance: config.instance) } catch { throw v.error(error.description) }
        }
        if let v = root.optional("region") { config.region = try parseRegion(v) }
        if let v = root.optional("rings") { config.rings = try RingCatalog.parse(v) }
        if let v = root.optional("threading") { config.threading = try ThreadingConfig.parse(v, onlineCpus: onlineCpus) }
        if let v = root.optional("writer") { config.writer = try WriterConfig.parse(v, onlineCpus: onlineCpus) }
        if let v = root.optional("strategies") { config.strategies = try StrategyConfig.parse(v) }
        // Venues first: feeds and instruments name theirs.
        switch (root.optional("venues"), root.optional("venue")) {
        case (_?, let old?):
            throw old.error("'venue:' (the old single map) and 'venues:' are both set: keep 'venues:' and move these keys into one of its entries")
        case (let list?, nil):
            config.venues = try VenuesConfig.parse(list)
        case (nil, let old?):
            let (venue, notice) = try VenuesConfig.parseLegacy(old)
            config.venues = [venue]
            config.notices.append(notice)
        case (nil, nil):
            break
        }
        if let v = root.optional("feeds") { config.feeds = try FeedsConfig.parse(v, venues: config.venues) }
        if let v = root.optional("risk") { config.risk = try RiskConfig.parse(v, venues: config.venues) }
        if let v = root.optional("control") { config.control = try ControlConfig.parse(v) }
        try root.finish(allowed: topLevelKeys)
        return config
    }

    static func parseRegion(_ value: ConfigValue) throws(ConfigError) -> RegionOptions {
        var m = try value.mapping()
        var options = RegionOptions()
        if let v = m.optional("lock_memory") { options.lockMemory = try v.bool() }
        if let v = m.optional("huge_pages") { options.hugePages = try v.bool() }
        if let v = m.optional("numa_node") {
            options.numaNode = (try? v.choice(["auto"])) != nil ? nil : try v.int(in: 0...1023)
        }
        try m.finish(allowed: ["lock_memory", "huge_pages", "numa_node"])
        return options
    }
}

/// The rings every engine region holds: name, message type, default capacity, overflow
/// policy. Market data may be dropped (counted); signals, orders, fills, risk events and
/// control commands never are.
public enum RingCatalog {
    public struct Entry: Sendable {
        public let name: String
        public let slotSize: Int
        public let defaultCapacity: Int
        public let overflow: OverflowPolicy
        public let purpose: String
    }

    public static let entries: [Entry] = [
        .init(name: "market", slotSize: MemoryLayout<MarketEvent>.stride, defaultCapacity: 1 << 16, overflow: .dropNewest, purpose: "feed -> strategy"),
        .init(name: "depth", slotSize: MemoryLayout<DepthSnapshot>.stride, defaultCapacity: 1 << 14, overflow: .dropNewest, purpose: "feed -> risk/execution"),
        // The paper venue's own copies (one ring per consumer): books to walk, trades to fill against.
        .init(name: "depth.venue", slotSize: MemoryLayout<DepthSnapshot>.stride, defaultCapacity: 1 << 14, overflow: .dropNewest, purpose: "feed -> execution"),
        .init(name: "market.venue", slotSize: MemoryLayout<MarketEvent>.stride, defaultCapacity: 1 << 16, overflow: .dropNewest, purpose: "feed -> execution (trades)"),
        .init(name: "signals", slotSize: MemoryLayout<SignalEvent>.stride, defaultCapacity: 1 << 14, overflow: .refuse, purpose: "strategy -> risk"),
        .init(name: "orders", slotSize: MemoryLayout<OrderEvent>.stride, defaultCapacity: 1 << 14, overflow: .refuse, purpose: "risk -> execution"),
        .init(name: "fills", slotSize: MemoryLayout<FillEvent>.stride, defaultCapacity: 1 << 14, overflow: .refuse, purpose: "execution -> risk"),
        // Run-time subscribe/unsubscribe (FeedCommand), drained by the feed each duty cycle.
        .init(name: "control.feed", slotSize: MemoryLayout<FeedCommand>.stride, defaultCapacity: 1 << 10, overflow: .refuse, purpose: "control plane -> feed (subscriptions)"),
        .init(name: "control.strategy", slotSize: MemoryLayout<ControlCommand>.stride, defaultCapacity: 1 << 10, overflow: .refuse, purpose: "control plane -> strategy"),
        .init(name: "control.risk", slotSize: MemoryLayout<ControlCommand>.stride, defaultCapacity: 1 << 10, overflow: .refuse, purpose: "control plane -> risk"),
        // Journal rings, drained by tickline-writer. Sized per DESIGN.md: market data holds
        // 1 s at 1M events/s; signals/orders/fills/risk hold 60 s at 10k events/s.
        .init(name: "journal.market", slotSize: MemoryLayout<MarketEvent>.stride, defaultCapacity: 1 << 20, overflow: .dropNewest, purpose: "ticks -> writer"),
        .init(name: "journal.bars", slotSize: MemoryLayout<BarEvent>.stride, defaultCapacity: 1 << 16, overflow: .dropNewest, purpose: "bars -> writer"),
        .init(name: "journal.signals", slotSize: MemoryLayout<SignalEvent>.stride, defaultCapacity: 1 << 20, overflow: .refuse, purpose: "signals -> writer"),
        .init(name: "journal.orders", slotSize: MemoryLayout<OrderEvent>.stride, defaultCapacity: 1 << 20, overflow: .refuse, purpose: "orders -> writer"),
        .init(name: "journal.fills", slotSize: MemoryLayout<FillEvent>.stride, defaultCapacity: 1 << 20, overflow: .refuse, purpose: "fills -> writer"),
        .init(name: "journal.risk", slotSize: MemoryLayout<RiskEvent>.stride, defaultCapacity: 1 << 20, overflow: .refuse, purpose: "risk events -> writer"),
        .init(name: "journal.telemetry", slotSize: MemoryLayout<TelemetryRecord>.stride, defaultCapacity: 1 << 18, overflow: .dropNewest, purpose: "latency samples, counters -> writer"),
    ]

    public static var defaultSpecs: [RingSpec] {
        entries.map { RingSpec(name: $0.name, slotSize: $0.slotSize, capacity: $0.defaultCapacity, overflow: $0.overflow) }
    }

    /// `rings: { <name>: { capacity: N } }`: overrides capacities of known rings.
    static func parse(_ value: ConfigValue) throws(ConfigError) -> [RingSpec] {
        var m = try value.mapping()
        var specs = defaultSpecs
        for (name, v) in m.entries() {
            guard let i = specs.firstIndex(where: { $0.name == name }) else {
                throw v.error("unknown ring (known: \(entries.map(\.name).joined(separator: ", ")))")
            }
            var ring = try v.mapping()
            if let c = ring.optional("capacity") {
                let capacity = try c.int(in: 2...(1 << 30))
                guard capacity & (capacity - 1) == 0 else { throw c.error("\(capacity) is not a power of two") }
                specs[i].capacity = capacity
            }
            try ring.finish(allowed: ["capacity"])
        }
        try m.finish(allowed: entries.map(\.name))
        return specs
    }
}

/// Runners and what they run: a runner is a thread pinned to its cores, running its agents
/// in order with an idle strategy.
public struct ThreadingConfig: Sendable, Equatable {
    public struct Runner: Sendable, Equatable {
        public var name: String
        /// CPUs to pin to; empty = not pinned.
        public var cores: [Int]
        public var idle: IdleStrategy.Kind
        /// Agent roles, in duty-cycle order.
        public var agents: [String]

        public init(name: String, cores: [Int], idle: IdleStrategy.Kind, agents: [String]) {
            self.name = name
            self.cores = cores
            self.idle = idle
            self.agents = agents
        }
    }

    public var runners: [Runner]

    /// The hot-path agent roles a runner may name.
    public static let knownAgents = ["feed", "strategy", "risk", "execution"]

    /// Small-machine default: every stage fused on one parking runner, on the last core
    /// when there are two or more (core 0 keeps the OS, the writer and the control plane).
    public static func `default`(onlineCpus: Int = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) -> ThreadingConfig {
        ThreadingConfig(runners: [
            Runner(name: "pipeline", cores: onlineCpus > 1 ? [onlineCpus - 1] : [],
                   idle: IdleStrategy.parking.kind, agents: knownAgents)
        ])
    }

    static func parse(_ value: ConfigValue, onlineCpus: Int) throws(ConfigError) -> ThreadingConfig {
        var m = try value.mapping()
        let list = try m.required("runners").list()
        try m.finish(allowed: ["runners"])
        guard !list.isEmpty else { throw value.error("threading.runners is empty: name at least one runner") }
        var runners: [Runner] = []
        var placed: [String: String] = [:]
        for item in list {
            var r = try item.mapping()
            let name = try r.required("name").string()
            guard !name.isEmpty, name.utf8.count <= 15 else { throw item.error("runner name '\(name)' must be 1-15 bytes (it becomes the thread name)") }
            var cores: [Int] = []
            if let c = r.optional("cores") {
                for core in try c.list() {
                    let n = try core.int(in: 0...4095)
                    guard n < onlineCpus else { throw core.error("core \(n) does not exist on this host (online cores: 0-\(onlineCpus - 1))") }
                    cores.append(n)
                }
            }
            let idle = try parseIdle(r.optional("idle"))
            var agents: [String] = []
            for a in try r.required("agents").list() {
                let role = try a.choice(knownAgents)
                if let other = placed[role] { throw a.error("agent '\(role)' is already placed on runner '\(other)'") }
                placed[role] = name
                agents.append(role)
            }
            try r.finish(allowed: ["name", "cores", "idle", "agents"])
            runners.append(Runner(name: name, cores: cores, idle: idle, agents: agents))
        }
        return ThreadingConfig(runners: runners)
    }

    /// `idle: park` | `busy-spin` | `spin-yield`, or a mapping with `strategy` and its knobs.
    static func parseIdle(_ value: ConfigValue?) throws(ConfigError) -> IdleStrategy.Kind {
        guard let value else { return IdleStrategy.parking.kind }
        let kinds = ["busy-spin", "spin-yield", "park"]
        if case .mapping = value.node {
            var m = try value.mapping()
            let kind = try m.required("strategy").choice(kinds)
            let spins = try m.optional("spins")?.int(in: 0...1_000_000_000) ?? 100
            let yields = try m.optional("yields")?.int(in: 0...1_000_000_000) ?? 10
            let minPark = try m.optional("min_park_us")?.int(in: 1...1_000_000) ?? 1
            let maxPark = try m.optional("max_park_us")?.int(in: 1...10_000_000) ?? 1_000
            try m.finish(allowed: ["strategy", "spins", "yields", "min_park_us", "max_park_us"])
            guard minPark <= maxPark else { throw value.error("min_park_us \(minPark) exceeds max_park_us \(maxPark)") }
            switch kind {
            case "busy-spin": return .busySpin
            case "spin-yield": return .spinThenYield(spins: spins)
            default: return .backoff(spins: spins, yields: yields, minParkNs: Int64(minPark) * 1_000, maxParkNs: Int64(maxPark) * 1_000)
            }
        }
        switch try value.choice(kinds) {
        case "busy-spin": return .busySpin
        case "spin-yield": return .spinThenYield(spins: 100)
        default: return IdleStrategy.parking.kind
        }
    }
}

extension ThreadingConfig {
    /// A config problem found when placing agents (a role the engine did not build, or a
    /// built agent no runner names).
    public struct PlacementError: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Places the engine's agents (by role) on runners as the config says. Every agent the
    /// engine built must be placed, and every role a runner names must have been built.
    /// `companions` run right after the role they are listed under, on its runner (agents
    /// that read that stage's state, which only its thread may touch); `clock` is the time
    /// every runner hands its agents.
    public func makeRunners(agents: [String: any Agent], companions: [String: [any Agent]] = [:],
                            clock: DutyCycleClock = .real) throws(PlacementError) -> [AgentRunner] {
        precondition(companions.keys.allSatisfy { agents[$0] != nil }, "companions of roles the engine does not run")
        var unplaced = Set(agents.keys)
        var runners: [AgentRunner] = []
        for r in self.runners {
            var placed: [any Agent] = []
            for role in r.agents {
                guard let agent = agents[role] else {
                    throw PlacementError(description: "runner '\(r.name)' names agent '\(role)', which this engine does not run")
                }
                placed.append(agent)
                placed += companions[role] ?? []
                unplaced.remove(role)
            }
            if !placed.isEmpty {
                runners.append(AgentRunner(name: r.name, cores: r.cores, idle: IdleStrategy(r.idle), agents: placed, clock: clock))
            }
        }
        if let role = unplaced.sorted().first {
            throw PlacementError(description: "agent '\(role)' is on no runner: add it to a runner's agents in threading.runners")
        }
        return runners
    }
}
