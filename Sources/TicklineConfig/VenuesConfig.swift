import TicklineCore
import TicklineExecution
import TicklineRisk

/// One venue orders go to (a `venues:` entry): the name instruments and feeds refer to it by,
/// and what executes its orders. Its `VenueId` is its position in the list (0 = the first),
/// carried by every event of its instruments. `paper` is the only kind until broker
/// adapters come; its settings are the paper venue's.
public struct VenueConfig: Sendable, Equatable {
    public var name: String
    public var paper: PaperVenueConfig

    public init(name: String, paper: PaperVenueConfig = PaperVenueConfig()) {
        self.name = name
        self.paper = paper
    }

    /// The venue of a config that names none.
    public static let defaultName = "paper"
}

/// `venues:` — a list of named venues; the old single `venue:` map is still read as one
/// venue named `paper`, with a notice saying how to write it now.
enum VenuesConfig {
    static let keys = ["name", "kind", "latency_us", "jitter_us", "seed", "maker_fee_pct", "taker_fee_pct",
                       "beyond_depth", "starting_capital"]

    static func parse(_ value: ConfigValue) throws(ConfigError) -> [VenueConfig] {
        let list = try value.list()
        guard !list.isEmpty else { throw value.error("venues is empty: name at least one venue (e.g. - { name: paper, kind: paper })") }
        guard list.count <= Int(VenueId.max) + 1 else { throw value.error("\(list.count) venues: at most \(Int(VenueId.max) + 1)") }
        var venues: [VenueConfig] = []
        for item in list {
            var m = try item.mapping()
            guard let n = m.optional("name") else { throw item.error("a venue needs a name (instruments and feeds refer to it)") }
            let name = try n.string()
            guard isValidName(name) else { throw n.error("venue name '\(name)' must be 1-32 characters of A-Z a-z 0-9 . _ -") }
            guard !venues.contains(where: { $0.name == name }) else { throw n.error("venue \(name) is listed twice") }
            var venue = VenueConfig(name: name, paper: try parsePaper(&m))
            venue.paper.venueId = VenueId(venues.count)
            try m.finish(allowed: keys)
            venues.append(venue)
        }
        return venues
    }

    /// The old form: one `venue:` map, read as the single venue `paper`.
    static func parseLegacy(_ value: ConfigValue) throws(ConfigError) -> (VenueConfig, notice: String) {
        var m = try value.mapping()
        let venue = VenueConfig(name: VenueConfig.defaultName, paper: try parsePaper(&m))
        try m.finish(allowed: keys.filter { $0 != "name" })
        let notice = "\(value.file):\(value.line): 'venue:' (one map) is the old form, read as a venue named '\(VenueConfig.defaultName)'; "
            + "write it as a list: 'venues: [{ name: \(VenueConfig.defaultName), kind: paper, ... }]' (same keys), "
            + "and name the venue of an instrument or feed with 'venue: NAME' (default: the first venue)"
        return (venue, notice)
    }

    /// The venue named `name` (by its `venue:` key at `value`), or the first when absent.
    static func resolve(_ value: ConfigValue?, in venues: [VenueConfig], for what: String) throws(ConfigError) -> VenueId {
        guard let value else { return 0 }
        let name = try value.string()
        guard let i = venues.firstIndex(where: { $0.name == name }) else {
            throw value.error("\(what) names venue '\(name)', which venues does not list (listed: \(venues.map(\.name).joined(separator: ", ")))")
        }
        return VenueId(i)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 32
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    private static func parsePaper(_ m: inout ConfigMapping) throws(ConfigError) -> PaperVenueConfig {
        var c = PaperVenueConfig()
        if let v = m.optional("kind") { _ = try v.choice(["paper"]) }  // brokers come with their adapters
        if let v = m.optional("latency_us") { c.latencyFixedNs = Nanos(try v.int(in: 0...60_000_000)) * 1_000 }
        if let v = m.optional("jitter_us") { c.latencyJitterNs = Nanos(try v.int(in: 0...60_000_000)) * 1_000 }
        if let v = m.optional("seed") { c.seed = UInt64(try v.int(in: 0...Int.max)) }
        if let v = m.optional("maker_fee_pct") { c.makerFeePartsPerMillion = Int64((try v.double(in: 0...10) * 10_000).rounded()) }
        if let v = m.optional("taker_fee_pct") { c.takerFeePartsPerMillion = Int64((try v.double(in: 0...10) * 10_000).rounded()) }
        if let v = m.optional("beyond_depth") {
            c.beyondDepth = try v.choice(["expire", "worst_level"]) == "expire" ? .expireRemainder : .fillAtWorstLevel
        }
        if let v = m.optional("starting_capital") {
            c.startingCapitalMoney = MoneyScale.saturate(Int128((try v.double(in: 0...1e12) * 1e8).rounded()))
        }
        return c
    }
}
