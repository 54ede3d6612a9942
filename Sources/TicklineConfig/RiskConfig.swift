import TicklineCore
import TicklineExecution
import TicklineRisk

/// The risk stage (`risk:`): account limits in people's units (the keys of `RiskLimitCode`,
/// the same ones `PUT /api/limits` takes), per-instrument venue, filters and limits as
/// decimal text, the journal.
public struct RiskConfig: Sendable, Equatable {
    /// One instrument: its venue, the venue's filters and our limits, in its own decimals.
    /// A symbol may be listed once per venue (BTCUSDT spot and BTCUSDT futures).
    public struct Instrument: Sendable, Equatable {
        public var symbol: String
        public var spec: InstrumentRiskSpec
        public init(symbol: String, spec: InstrumentRiskSpec) {
            self.symbol = symbol
            self.spec = spec
        }
    }

    public var limits = RiskLimits()
    public var instruments: [Instrument] = []
    /// Strategy ids the stage keeps state for (0 ..< strategies).
    public var strategies = 16
    /// `{instance}` is replaced by the instance name; "" = no journal (refused by `run`).
    public var journal = "/var/lib/tickline/journal/{instance}.journal"
    public var journalFsync = false
    /// What the risk stage does after a journal write fails (it halts either way).
    public var onJournalError: JournalErrorPolicy = .halt
    public var entryTimeInForce: TimeInForce = .immediateOrCancel
    public var flattenOnKill = true
    /// A halt (global, a strategy's or a symbol's) also cancels the resting entry orders it
    /// covers; exits keep working.
    public var cancelEntriesOnHalt = false
    public var orderCapacity = 4_096
    public var exits = ExitMonitorConfig()

    public init() {}

    public static let keys = ["limits", "instruments", "strategies", "journal", "journal_fsync", "on_journal_error", "entry_time_in_force",
                              "flatten_on_kill", "cancel_entries_on_halt", "order_capacity", "session_end_utc", "exit_retry_ms"]
    public static let instrumentKeys = ["symbol", "venue", "price_decimals", "quantity_decimals", "tick", "step", "min_qty", "max_qty",
                                        "min_notional", "max_order_qty", "position_limit"]

    /// Parses `risk:` (instruments name one of `venues`); errors name the file, line and key.
    public static func parse(_ value: ConfigValue, venues: [VenueConfig] = [VenueConfig(name: VenueConfig.defaultName)]) throws(ConfigError) -> RiskConfig {
        var m = try value.mapping()
        var c = RiskConfig()
        if let v = m.optional("limits") {
            var lm = try v.mapping()
            for e in RiskLimitCode.entries {
                guard let x = lm.optional(e.key) else { continue }
                let number = try x.double()
                guard let scaled = RiskLimitCode.internalValue(number, unit: e.unit) else {
                    throw x.error("\(number) is not a valid value for \(e.key) (must be ≥ 0)")
                }
                _ = RiskLimitCode.apply(e.code, value: scaled, to: &c.limits)
            }
            try lm.finish(allowed: RiskLimitCode.entries.map(\.key))
        }
        if let v = m.optional("strategies") { c.strategies = try v.int(in: 1...65_535) }
        if let v = m.optional("instruments") {
            for item in try v.list() {
                let instrument = try parseInstrument(item, venues: venues)
                if c.instruments.contains(where: { $0.symbol == instrument.symbol && $0.spec.venue == instrument.spec.venue }) {
                    throw item.error("instrument \(instrument.symbol) is listed twice on venue \(venues[Int(instrument.spec.venue)].name)")
                }
                c.instruments.append(instrument)
            }
        }
        if let v = m.optional("journal") {
            c.journal = try v.string()
            guard c.journal.isEmpty || c.journal.hasPrefix("/") else { throw v.error("'\(c.journal)' must be an absolute path") }
        }
        if let v = m.optional("journal_fsync") { c.journalFsync = try v.bool() }
        if let v = m.optional("on_journal_error") { c.onJournalError = try v.choice(["halt", "retry"]) == "retry" ? .retry : .halt }
        if let v = m.optional("entry_time_in_force") {
            switch try v.choice(["ioc", "gtc", "fok"]) {
            case "gtc": c.entryTimeInForce = .goodTillCancel
            case "fok": c.entryTimeInForce = .fillOrKill
            default: c.entryTimeInForce = .immediateOrCancel
            }
        }
        if let v = m.optional("flatten_on_kill") { c.flattenOnKill = try v.bool() }
        if let v = m.optional("cancel_entries_on_halt") { c.cancelEntriesOnHalt = try v.bool() }
        if let v = m.optional("order_capacity") { c.orderCapacity = try v.int(in: 16...10_000_000) }
        if let v = m.optional("session_end_utc") {
            let text = try v.string()
            let parts = text.split(separator: ":")
            guard parts.count == 2, let h = Int(parts[0]), let mi = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(mi) else {
                throw v.error("'\(text)' is not HH:MM (UTC)")
            }
            c.exits.sessionEndUtcNs = Nanos(h * 3_600 + mi * 60) * 1_000_000_000
        }
        if let v = m.optional("exit_retry_ms") { c.exits.retryNs = Nanos(try v.int(in: 1...3_600_000)) * 1_000_000 }
        try m.finish(allowed: keys)
        return c
    }

    static func parseInstrument(_ value: ConfigValue, venues: [VenueConfig]) throws(ConfigError) -> Instrument {
        var m = try value.mapping()
        guard let s = m.optional("symbol") else { throw value.error("an instrument needs a symbol") }
        let symbol = try s.string()
        let venue = try VenuesConfig.resolve(m.optional("venue"), in: venues, for: "instrument \(symbol)")
        let fees = venues[Int(venue)].paper
        guard let pdv = m.optional("price_decimals") else { throw value.error("instrument \(symbol) needs price_decimals") }
        guard let qdv = m.optional("quantity_decimals") else { throw value.error("instrument \(symbol) needs quantity_decimals") }
        let pd = UInt8(try pdv.int(in: 0...Int(DecimalScale.maxDecimals)))
        let qd = UInt8(try qdv.int(in: 0...Int(DecimalScale.maxDecimals)))
        func units(_ key: String, _ decimals: UInt8, default d: Int64?) throws(ConfigError) -> Int64 {
            guard let v = m.optional(key) else {
                guard let d else { throw value.error("instrument \(symbol) needs \(key)") }
                return d
            }
            let text = try v.string()
            guard let u = DecimalScale.parse(text, decimals: decimals), u >= 0 else {
                throw v.error("'\(text)' is not a non-negative decimal with at most \(decimals) decimals")
            }
            return u
        }
        let tick = try units("tick", pd, default: 1)
        let step = try units("step", qd, default: 1)
        guard tick > 0 else { throw value.error("instrument \(symbol): tick must be positive") }
        guard step > 0 else { throw value.error("instrument \(symbol): step must be positive") }
        let minQty = try units("min_qty", qd, default: step)
        let maxQty = try units("max_qty", qd, default: Int64.max)
        let minNotional = try units("min_notional", 8, default: 0)  // money units (1e-8)
        let maxOrder = try units("max_order_qty", qd, default: nil)
        let limit = try units("position_limit", qd, default: nil)
        try m.finish(allowed: instrumentKeys)
        return Instrument(symbol: symbol, spec: InstrumentRiskSpec(
            priceDecimals: pd, quantityDecimals: qd, tickSizeUnits: tick, stepSizeUnits: step, venueMinQuantityUnits: minQty,
            venueMaxQuantityUnits: maxQty, venueMinNotionalMoney: minNotional, maxOrderQuantityUnits: maxOrder,
            positionLimitUnits: limit, venue: venue,
            feePartsPerMillion: max(fees.makerFeePartsPerMillion, fees.takerFeePartsPerMillion)))
    }
}

/// After a failed journal write the risk stage halts and sends nothing it could not journal;
/// this says how it comes back.
public enum JournalErrorPolicy: String, Sendable, Equatable {
    /// Stays halted until a resume command finds the journal writable again.
    case halt
    /// Tries the write again at a bounded rate and resumes by itself once one succeeds.
    case retry
}
