import TicklineCore

// One encoder per journal ring type: line protocol for InfluxDB and RESP commands for
// Redis, appended into preallocated buffers. No Foundation, no String building, no
// allocation per record. The layouts (measurements, tags, fields, Redis keys) are a public
// contract documented in Sources/TicklineWriter/README.md.

/// Why a record was skipped instead of written (counted per ring, never a crash).
public enum MalformedReason: Int, Sendable, CaseIterable {
    /// An enum byte (kind, side, status…) holds no known value.
    case unknownEnum = 0
    /// `priceDecimals`/`quantityDecimals` above 18.
    case badDecimals = 1
    /// The timestamp is not a plausible CLOCK_REALTIME ns (before 2001 or negative).
    case badTimestamp = 2

    public var label: String {
        switch self {
        case .unknownEnum: return "unknown enum value"
        case .badDecimals: return "decimals above 18"
        case .badTimestamp: return "implausible timestamp"
        }
    }
}

/// Keys and constants the Redis encoders write, built once from the instance name.
/// Safe to share; `producerEpoch` is set by the writer when it attaches to a region.
public struct RedisKeys: Sendable {
    /// One stream: its key and its short name (the `delivered` keys use it).
    public struct Stream: Sendable {
        public let key: [UInt8]
        public let name: [UInt8]
        init(prefix: String, _ name: String) {
            key = Array((prefix + name).utf8)
            self.name = Array(name.utf8)
        }
    }

    public let instance: String
    /// `tickline:<instance>:`
    public let prefix: [UInt8]
    public let signals: Stream
    public let orders: Stream
    /// Executions (reports with quantity > 0) only.
    public let fills: Stream
    /// Order state changes: accepted, cancelled, expired, rejected.
    public let reports: Stream
    public let risk: Stream
    /// Prefix of the per-producer sets of delivered sequences,
    /// `tickline:<i>:delivered:<stream>/<stage>/<venue>/<epoch>` (see `StreamScript`).
    public let delivered: [UInt8]
    /// Hash prefixes, completed with the instrument id (and `:<timeframe>` for bars,
    /// `:<strategy>` for a strategy's position).
    public let quote: [UInt8]
    public let trade: [UInt8]
    public let bar: [UInt8]
    public let position: [UInt8]
    /// Hash: instrument id → venue, symbol and decimals.
    public let instruments: [UInt8]
    /// Hash of the writer's own metrics.
    public let writer: [UInt8]
    public let streamMaxLength: UInt64
    /// Which run of the producers the records come from (the region's start time, ns):
    /// sequences start again at 1 when the engine restarts, in a new region.
    public var producerEpoch: UInt64 = 0

    public init(instance: String, streamMaxLength: Int) {
        self.instance = instance
        let p = "tickline:\(instance):"
        prefix = Array(p.utf8)
        signals = Stream(prefix: p, "signals")
        orders = Stream(prefix: p, "orders")
        fills = Stream(prefix: p, "fills")
        reports = Stream(prefix: p, "reports")
        risk = Stream(prefix: p, "risk")
        delivered = Array((p + "delivered:").utf8)
        quote = Array((p + "quote:").utf8)
        trade = Array((p + "trade:").utf8)
        bar = Array((p + "bar:").utf8)
        position = Array((p + "position:").utf8)
        instruments = Array((p + "instruments").utf8)
        writer = Array((p + "writer").utf8)
        self.streamMaxLength = UInt64(streamMaxLength)
    }
}

/// Encodes one journal ring's event type. Static functions, specialised per type by the
/// generic drain; each `append…` writes at most `maxLineBytes`/`maxRespBytes` bytes.
public protocol JournalEncoder {
    associatedtype Event: BitwiseCopyable
    /// The ring in `RingCatalog` this encoder drains.
    static var ringName: String { get }
    /// The InfluxDB measurement.
    static var measurement: StaticString { get }
    static var maxLineBytes: Int { get }
    static var maxRespBytes: Int { get }
    /// Whether records may be shed for a sink whose spill is full (market data), or the
    /// ring must stop instead (signals, orders, fills, risk: never dropped).
    static var mayShed: Bool { get }
    /// CLOCK_REALTIME ns the point is stamped with (before uniqueness).
    static func wallNs(_ e: UnsafePointer<Event>) -> Int64
    static func validate(_ e: UnsafePointer<Event>) -> MalformedReason?
    /// Non-zero key of the record's series (measurement + tag set).
    static func seriesKey(_ e: UnsafePointer<Event>) -> UInt64
    static func appendLine(_ e: UnsafePointer<Event>, timestampNs: Int64, to out: ByteBuffer)
    /// Appends the record's Redis commands; returns how many.
    static func appendRedis(_ e: UnsafePointer<Event>, keys: RedisKeys, to out: ByteBuffer) -> Int
}

/// Receive times before this (2001-09-09) are not CLOCK_REALTIME readings.
@usableFromInline let plausibleWallNs: Int64 = 1_000_000_000_000_000_000

@inline(__always)
func checkCommon(decimals a: UInt8, _ b: UInt8, wallNs: Int64) -> MalformedReason? {
    if a > DecimalScale.maxDecimals || b > DecimalScale.maxDecimals { return .badDecimals }
    if wallNs < plausibleWallNs { return .badTimestamp }
    return nil
}

@inline(__always)
func appendTimestamp(_ ns: Int64, _ out: ByteBuffer) {
    out.append(32)
    out.append(signed: ns)
    out.append(10)
}

/// The `venue` tag every measurement but telemetry ends its tag set with (tags stay in key
/// order: `venue` sorts after every other tag key used).
@inline(__always)
func appendVenueTag(_ venue: VenueId, _ out: ByteBuffer) {
    out.append(",venue=")
    out.append(unsigned: UInt64(venue))
}

@inline(__always)
func appendBool(_ v: Bool, _ out: ByteBuffer) { if v { out.append("true") } else { out.append("false") } }

@inline(__always)
func appendInt(_ v: Int64, _ out: ByteBuffer) {
    out.append(signed: v)
    out.append(UInt8(ascii: "i"))
}

/// Sequences are written as signed integers (InfluxDB 1.x has no unsigned type); values
/// past 2^63 wrap (no producer gets there).
@inline(__always)
func appendSeq(_ v: UInt64, _ out: ByteBuffer) { appendInt(Int64(bitPattern: v), out) }

/// Adds one entry to a stream, in a Lua script so that, atomically on the server:
/// - a record already written is refused with `DUPLICATE` (a redelivery: after a writer
///   restart, or a spilled batch the server had in fact taken). Its identity is its stage,
///   its venue, the run and its sequence: a sorted set per stream, stage, venue and run
///   keeps the last `window` sequences written, so a record is a repeat when its sequence is
///   in the set, or below all of them once the set is full (older than any batch a writer
///   can send again). A stage numbers its records either once for all venues (risk: orders
///   and risk events; strategy: signals) or once per venue (each paper venue of the
///   execution stage numbers its reports from 1), and the set is right for both: one
///   counter split by venue still increases within each venue, while a set per stage alone
///   would take venue 1's report 1 for a repeat of venue 0's and lose it. A producer's
///   records arriving out of order are still all written;
/// - the entry id is `<ms>-<n>` with ms = max(the record's receive ms, the stream's last ms)
///   and n chosen by the server, so ids increase per stream whatever the clocks do and
///   however many producers feed it;
/// - for an execution (4 keys), the instrument's net position and the strategy's position
///   on it move by the signed quantity, once.
/// KEYS[1] stream, KEYS[2] the producer's delivered set, [KEYS[3] net position, KEYS[4]
/// strategy position]; ARGV[1] maxlen, ARGV[2] sequence, ARGV[3] record ms, [ARGV[4] signed
/// quantity units, ARGV[5] quantity decimals, ARGV[6] price]; then the entry's field/value
/// pairs. The set keeps 16,384 sequences, more than a killed writer can have sent without
/// releasing (the batch on the wire and the one encoded behind it, 2 × `batch_records` with
/// the default 5,000), and expires a week after its last write.
public enum StreamScript {
    public static let text: StaticString = """
        local first = 4
        if #KEYS == 4 then first = 7 end
        local seq = tonumber(ARGV[2])
        if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
          return redis.error_reply('DUPLICATE ' .. KEYS[2] .. ' sequence ' .. ARGV[2] .. ' already written')
        end
        local held = redis.call('ZCARD', KEYS[2])
        if held >= 16384 then
          local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
          if seq < tonumber(oldest[2]) then
            return redis.error_reply('DUPLICATE ' .. KEYS[2] .. ' sequence ' .. ARGV[2] .. ' older than every one kept')
          end
        end
        local ms = tonumber(ARGV[3])
        if redis.call('EXISTS', KEYS[1]) == 1 then
          local info = redis.call('XINFO', 'STREAM', KEYS[1])
          for i = 1, #info, 2 do
            if info[i] == 'last-generated-id' then
              local top = tonumber(string.match(info[i + 1], '^(%d+)'))
              if top > ms then ms = top end
              break
            end
          end
        end
        local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], string.format('%d-*', ms), unpack(ARGV, first))
        redis.call('ZADD', KEYS[2], seq, ARGV[2])
        if held + 1 > 16384 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, held - 16384) end
        redis.call('EXPIRE', KEYS[2], 604800)
        if #KEYS == 4 then
          for k = 3, 4 do
            redis.call('HINCRBY', KEYS[k], 'qty_units', ARGV[4])
            redis.call('HSET', KEYS[k], 'qty_decimals', ARGV[5], 'last_price', ARGV[6], 'last_fill_id', id)
          end
        end
        return id
        """

    /// A position change an execution carries into the script.
    struct Position {
        var instrument: InstrumentId
        var strategy: StrategyId
        var signedUnits: Int64
        var quantityDecimals: UInt8
        var price: Int64
        var priceDecimals: UInt8
    }

    /// Writes the script call up to the entry's field/value pairs (`fieldPairs` of them follow).
    /// `venue` is the record's own venue (see the identity above).
    @inline(__always)
    static func begin(_ stream: RedisKeys.Stream, stage: UInt8, venue: VenueId, sequence: UInt64, wallNs: Int64,
                      fieldPairs: Int, position: Position? = nil, keys: RedisKeys, _ out: ByteBuffer) {
        let keyCount = position == nil ? 2 : 4
        RESP.beginCommand(argumentCount: 3 + keyCount + (position == nil ? 3 : 6) + fieldPairs * 2, out)
        RESP.argument("EVAL", out)
        RESP.argument(text, out)
        RESP.argument(unsigned: UInt64(keyCount), out)
        RESP.argument(stream.key, out)
        // tickline:<i>:delivered:<stream>/<stage>/<venue>/<epoch>
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(keys.delivered.count + stream.name.count + 3 + ByteBuffer.digitCount(UInt64(stage))
                                    + ByteBuffer.digitCount(UInt64(venue)) + ByteBuffer.digitCount(keys.producerEpoch)))
        out.append("\r\n")
        out.append(keys.delivered)
        out.append(stream.name)
        out.append(UInt8(ascii: "/"))
        out.append(unsigned: UInt64(stage))
        out.append(UInt8(ascii: "/"))
        out.append(unsigned: UInt64(venue))
        out.append(UInt8(ascii: "/"))
        out.append(unsigned: keys.producerEpoch)
        out.append("\r\n")
        if let p = position {
            RESP.argument(prefix: keys.position, id: UInt64(p.instrument), out)
            // tickline:<i>:position:<instrument>:<strategy>
            out.append(UInt8(ascii: "$"))
            out.append(unsigned: UInt64(keys.position.count + ByteBuffer.digitCount(UInt64(p.instrument)) + 1
                                        + ByteBuffer.digitCount(UInt64(p.strategy))))
            out.append("\r\n")
            out.append(keys.position)
            out.append(unsigned: UInt64(p.instrument))
            out.append(UInt8(ascii: ":"))
            out.append(unsigned: UInt64(p.strategy))
            out.append("\r\n")
        }
        RESP.argument(unsigned: keys.streamMaxLength, out)
        RESP.argument(unsigned: sequence, out)
        RESP.argument(unsigned: UInt64(max(0, wallNs / 1_000_000)), out)
        if let p = position {
            RESP.argument(signed: p.signedUnits, out)
            RESP.argument(unsigned: UInt64(p.quantityDecimals), out)
            RESP.argument(fixed: p.price, decimals: p.priceDecimals, out)
        }
    }
}

enum Names {
    static func side(_ raw: UInt8) -> StaticString { raw == Side.sell.rawValue ? "sell" : "buy" }
    static func marketKind(_ k: MarketEventKind) -> StaticString {
        switch k {
        case .trade: return "trade"
        case .quote: return "quote"
        case .bookTop: return "book"
        case .stale: return "stale"
        case .fresh: return "fresh"
        }
    }
    static func barKind(_ k: BarKind) -> StaticString {
        switch k {
        case .seconds1: return "1s"
        case .minutes1: return "1m"
        case .minutes5: return "5m"
        case .minutes15: return "15m"
        case .hours1: return "1h"
        case .days1: return "1d"
        case .tick: return "tick"
        case .volume: return "volume"
        }
    }
    static func state(_ raw: UInt8) -> StaticString {
        switch TradingState(rawValue: raw) {
        case .active: return "active"
        case .reducing: return "reducing"
        case .halted: return "halted"
        case nil: return "none"
        }
    }
    static func status(_ s: OrderStatus) -> StaticString { s.label }
    static func riskKind(_ k: RiskEventKind) -> StaticString {
        switch k {
        case .denial: return "denial"
        case .stateChange: return "state_change"
        case .breakerTripped: return "breaker_tripped"
        case .killSwitch: return "kill_switch"
        case .overfill: return "overfill"
        case .limitChanged: return "limit_changed"
        case .stale: return "stale"
        }
    }
    static func riskScope(_ s: RiskScope) -> StaticString {
        switch s {
        case .global: return "global"
        case .strategy: return "strategy"
        case .symbol: return "symbol"
        }
    }
    static func telemetryKind(_ k: TelemetryKind) -> StaticString {
        switch k {
        case .latency: return "latency"
        case .counter: return "counter"
        case .gauge: return "gauge"
        }
    }
}

// MARK: - Market data

/// `journal.market` → measurement `market`, tags `instrument`, `kind`, `venue`; Redis hashes
/// `tickline:<i>:quote:<id>` (quotes, book tops, stale/fresh) and `…:trade:<id>` (trades),
/// each with a `venue` field.
public enum MarketEncoder: JournalEncoder {
    public typealias Event = MarketEvent
    public static let ringName = "journal.market"
    public static var measurement: StaticString { "market" }
    public static let maxLineBytes = 512
    public static let maxRespBytes = 512
    public static let mayShed = true

    public static func wallNs(_ e: UnsafePointer<MarketEvent>) -> Int64 { e.pointee.receiveWallNs.ns }

    public static func validate(_ e: UnsafePointer<MarketEvent>) -> MalformedReason? {
        if e.pointee.kind == nil { return .unknownEnum }
        return checkCommon(decimals: e.pointee.priceDecimals, e.pointee.quantityDecimals, wallNs: e.pointee.receiveWallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<MarketEvent>) -> UInt64 {
        (1 << 63) | UInt64(e.pointee.kindRaw) << 32 | UInt64(e.pointee.instrument)
    }


    public static func appendLine(_ e: UnsafePointer<MarketEvent>, timestampNs: Int64, to out: ByteBuffer) {
        let m = e.pointee
        let kind = m.kind ?? .trade
        out.append("market,instrument=")
        out.append(unsigned: UInt64(m.instrument))
        out.append(",kind=")
        out.append(Names.marketKind(kind))
        appendVenueTag(m.venue, out)
        let p = m.priceDecimals, q = m.quantityDecimals
        switch kind {
        case .trade:
            out.append(" price=")
            out.append(fixed: m.price.units, decimals: p)
            out.append(",qty=")
            out.append(fixed: m.quantity.units, decimals: q)
            out.append(",aggressor_sold=")
            appendBool(m.flags & MarketEvent.flagAggressorSold != 0, out)
            out.append(",trade_id=")
        case .quote, .bookTop:
            out.append(" bid=")
            out.append(fixed: m.bidPrice.units, decimals: p)
            out.append(",bid_qty=")
            out.append(fixed: m.bidQuantity.units, decimals: q)
            out.append(",ask=")
            out.append(fixed: m.askPrice.units, decimals: p)
            out.append(",ask_qty=")
            out.append(fixed: m.askQuantity.units, decimals: q)
            out.append(",update_id=")
        case .stale, .fresh:
            out.append(" venue_seq=")
        }
        appendSeq(m.venueSequence, out)
        out.append(",venue_ns=")
        appendInt(m.venueTimeNs.ns, out)
        out.append(",seq=")
        appendSeq(m.sequence, out)
        appendTimestamp(timestampNs, out)
    }


    public static func appendRedis(_ e: UnsafePointer<MarketEvent>, keys: RedisKeys, to out: ByteBuffer) -> Int {
        let m = e.pointee
        let p = m.priceDecimals, q = m.quantityDecimals
        switch m.kind ?? .trade {
        case .trade:
            RESP.beginCommand(argumentCount: 2 + 5 * 2, out)
            RESP.argument("HSET", out)
            RESP.argument(prefix: keys.trade, id: UInt64(m.instrument), out)
            RESP.argument("venue", out); RESP.argument(unsigned: UInt64(m.venue), out)
            RESP.argument("price", out); RESP.argument(fixed: m.price.units, decimals: p, out)
            RESP.argument("qty", out); RESP.argument(fixed: m.quantity.units, decimals: q, out)
            RESP.argument("ts_ns", out); RESP.argument(signed: m.receiveWallNs.ns, out)
            RESP.argument("seq", out); RESP.argument(unsigned: m.sequence, out)
        case .quote, .bookTop:
            RESP.beginCommand(argumentCount: 2 + 8 * 2, out)
            RESP.argument("HSET", out)
            RESP.argument(prefix: keys.quote, id: UInt64(m.instrument), out)
            RESP.argument("venue", out); RESP.argument(unsigned: UInt64(m.venue), out)
            RESP.argument("bid", out); RESP.argument(fixed: m.bidPrice.units, decimals: p, out)
            RESP.argument("bid_qty", out); RESP.argument(fixed: m.bidQuantity.units, decimals: q, out)
            RESP.argument("ask", out); RESP.argument(fixed: m.askPrice.units, decimals: p, out)
            RESP.argument("ask_qty", out); RESP.argument(fixed: m.askQuantity.units, decimals: q, out)
            RESP.argument("ts_ns", out); RESP.argument(signed: m.receiveWallNs.ns, out)
            RESP.argument("seq", out); RESP.argument(unsigned: m.sequence, out)
            RESP.argument("stale", out); RESP.argument("0", out)
        case .stale, .fresh:
            RESP.beginCommand(argumentCount: 2 + 3 * 2, out)
            RESP.argument("HSET", out)
            RESP.argument(prefix: keys.quote, id: UInt64(m.instrument), out)
            RESP.argument("venue", out); RESP.argument(unsigned: UInt64(m.venue), out)
            RESP.argument("stale", out); RESP.argument(m.kind == .stale ? "1" : "0", out)
            RESP.argument("stale_ts_ns", out); RESP.argument(signed: m.receiveWallNs.ns, out)
        }
        return 1
    }
}

/// `journal.bars` → measurement `bars` (stamped with the bar's end time), tags
/// `instrument`, `timeframe`, `venue`; Redis hash `tickline:<i>:bar:<id>:<timeframe>` with a
/// `venue` field.
public enum BarEncoder: JournalEncoder {
    public typealias Event = BarEvent
    public static let ringName = "journal.bars"
    public static var measurement: StaticString { "bars" }
    public static let maxLineBytes = 512
    public static let maxRespBytes = 512
    public static let mayShed = true

    public static func wallNs(_ e: UnsafePointer<BarEvent>) -> Int64 { e.pointee.endWallNs.ns }

    public static func validate(_ e: UnsafePointer<BarEvent>) -> MalformedReason? {
        if e.pointee.kind == nil { return .unknownEnum }
        return checkCommon(decimals: e.pointee.priceDecimals, e.pointee.quantityDecimals, wallNs: e.pointee.endWallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<BarEvent>) -> UInt64 {
        (1 << 63) | UInt64(e.pointee.kindRaw) << 32 | UInt64(e.pointee.instrument)
    }


    public static func appendLine(_ e: UnsafePointer<BarEvent>, timestampNs: Int64, to out: ByteBuffer) {
        let b = e.pointee
        let p = b.priceDecimals
        out.append("bars,instrument=")
        out.append(unsigned: UInt64(b.instrument))
        out.append(",timeframe=")
        out.append(Names.barKind(b.kind ?? .minutes1))
        appendVenueTag(b.venue, out)
        out.append(" open=")
        out.append(fixed: b.open.units, decimals: p)
        out.append(",high=")
        out.append(fixed: b.high.units, decimals: p)
        out.append(",low=")
        out.append(fixed: b.low.units, decimals: p)
        out.append(",close=")
        out.append(fixed: b.close.units, decimals: p)
        out.append(",volume=")
        out.append(fixed: b.volume.units, decimals: b.quantityDecimals)
        out.append(",trades=")
        appendSeq(b.tradeCount, out)
        out.append(",start_ns=")
        appendInt(b.startWallNs.ns, out)
        out.append(",seq=")
        appendSeq(b.sequence, out)
        appendTimestamp(timestampNs, out)
    }


    public static func appendRedis(_ e: UnsafePointer<BarEvent>, keys: RedisKeys, to out: ByteBuffer) -> Int {
        let b = e.pointee
        let p = b.priceDecimals
        let tf = Names.barKind(b.kind ?? .minutes1)
        RESP.beginCommand(argumentCount: 2 + 10 * 2, out)
        RESP.argument("HSET", out)
        // tickline:<i>:bar:<id>:<tf>
        out.append(UInt8(ascii: "$"))
        out.append(unsigned: UInt64(keys.bar.count + ByteBuffer.digitCount(UInt64(b.instrument)) + 1 + tf.utf8CodeUnitCount))
        out.append("\r\n")
        out.append(keys.bar)
        out.append(unsigned: UInt64(b.instrument))
        out.append(UInt8(ascii: ":"))
        out.append(tf)
        out.append("\r\n")
        RESP.argument("venue", out); RESP.argument(unsigned: UInt64(b.venue), out)
        RESP.argument("open", out); RESP.argument(fixed: b.open.units, decimals: p, out)
        RESP.argument("high", out); RESP.argument(fixed: b.high.units, decimals: p, out)
        RESP.argument("low", out); RESP.argument(fixed: b.low.units, decimals: p, out)
        RESP.argument("close", out); RESP.argument(fixed: b.close.units, decimals: p, out)
        RESP.argument("volume", out); RESP.argument(fixed: b.volume.units, decimals: b.quantityDecimals, out)
        RESP.argument("trades", out); RESP.argument(unsigned: b.tradeCount, out)
        RESP.argument("start_ns", out); RESP.argument(signed: b.startWallNs.ns, out)
        RESP.argument("end_ns", out); RESP.argument(signed: b.endWallNs.ns, out)
        RESP.argument("seq", out); RESP.argument(unsigned: b.sequence, out)
        return 1
    }
}

// MARK: - Trading events (streams)

/// `journal.signals` → measurement `signals`, tags `instrument`, `strategy`, `venue`; stream
/// `tickline:<i>:signals` (producer: the strategy stage), with a `venue` field.
public enum SignalEncoder: JournalEncoder {
    public typealias Event = SignalEvent
    public static let ringName = "journal.signals"
    public static var measurement: StaticString { "signals" }
    public static let maxLineBytes = 640
    public static let maxRespBytes = 2_560
    public static let mayShed = false

    public static func wallNs(_ e: UnsafePointer<SignalEvent>) -> Int64 { e.pointee.receiveWallNs.ns }

    public static func validate(_ e: UnsafePointer<SignalEvent>) -> MalformedReason? {
        let s = e.pointee
        if s.side == nil || s.sizing == nil || s.horizon == nil { return .unknownEnum }
        return checkCommon(decimals: s.priceDecimals, s.quantityDecimals, wallNs: s.receiveWallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<SignalEvent>) -> UInt64 {
        (1 << 63) | UInt64(e.pointee.strategy) << 32 | UInt64(e.pointee.instrument)
    }


    public static func appendLine(_ e: UnsafePointer<SignalEvent>, timestampNs: Int64, to out: ByteBuffer) {
        let s = e.pointee
        let p = s.priceDecimals
        out.append("signals,instrument=")
        out.append(unsigned: UInt64(s.instrument))
        out.append(",strategy=")
        out.append(unsigned: UInt64(s.strategy))
        appendVenueTag(s.venue, out)
        out.append(" side=\"")
        out.append(Names.side(s.sideRaw))
        out.append("\",sizing=\"")
        out.append(s.sizing == .riskFraction ? "risk_fraction" : "quantity")
        out.append("\",horizon=\"")
        out.append(s.horizon == .intraday ? "intraday" : "swing")
        out.append("\",qty=")
        out.append(fixed: s.quantity.units, decimals: s.quantityDecimals)
        out.append(",entry=")
        out.append(fixed: s.entryPrice.units, decimals: p)
        out.append(",take_profit=")
        out.append(fixed: s.takeProfit.units, decimals: p)
        out.append(",stop_loss=")
        out.append(fixed: s.stopLoss.units, decimals: p)
        out.append(",risk_ppm=")
        appendInt(Int64(s.riskPartsPerMillion), out)
        out.append(",confidence_bp=")
        appendInt(Int64(s.confidenceBasisPoints), out)
        out.append(",reduce_only=")
        appendBool(s.flags & SignalEvent.flagReduceOnly != 0, out)
        out.append(",market_seq=")
        appendSeq(s.marketSequence, out)
        out.append(",seq=")
        appendSeq(s.sequence, out)
        appendTimestamp(timestampNs, out)
    }


    public static func appendRedis(_ e: UnsafePointer<SignalEvent>, keys: RedisKeys, to out: ByteBuffer) -> Int {
        let s = e.pointee
        let p = s.priceDecimals
        StreamScript.begin(keys.signals, stage: StageId.strategy.rawValue, venue: s.venue, sequence: s.sequence, wallNs: s.receiveWallNs.ns,
                           fieldPairs: 11, keys: keys, out)
        RESP.argument("seq", out); RESP.argument(unsigned: s.sequence, out)
        RESP.argument("instrument", out); RESP.argument(unsigned: UInt64(s.instrument), out)
        RESP.argument("venue", out); RESP.argument(unsigned: UInt64(s.venue), out)
        RESP.argument("strategy", out); RESP.argument(unsigned: UInt64(s.strategy), out)
        RESP.argument("side", out); RESP.argument(Names.side(s.sideRaw), out)
        RESP.argument("qty", out); RESP.argument(fixed: s.quantity.units, decimals: s.quantityDecimals, out)
        RESP.argument("entry", out); RESP.argument(fixed: s.entryPrice.units, decimals: p, out)
        RESP.argument("take_profit", out); RESP.argument(fixed: s.takeProfit.units, decimals: p, out)
        RESP.argument("stop_loss", out); RESP.argument(fixed: s.stopLoss.units, decimals: p, out)
        RESP.argument("confidence_bp", out); RESP.argument(unsigned: UInt64(s.confidenceBasisPoints), out)
        RESP.argument("ts_ns", out); RESP.argument(signed: s.receiveWallNs.ns, out)
        return 1
    }
}

/// `journal.orders` → measurement `orders`, tags `instrument`, `strategy`, `venue`; stream
/// `tickline:<i>:orders` (with a `venue` field): every order request sent (entries, exits,
/// cancels).
public enum OrderEncoder: JournalEncoder {
    public typealias Event = OrderEvent
    public static let ringName = "journal.orders"
    public static var measurement: StaticString { "orders" }
    public static let maxLineBytes = 640
    public static let maxRespBytes = 2_560
    public static let mayShed = false

    public static func wallNs(_ e: UnsafePointer<OrderEvent>) -> Int64 { e.pointee.receiveWallNs.ns }

    public static func validate(_ e: UnsafePointer<OrderEvent>) -> MalformedReason? {
        let o = e.pointee
        if o.side == nil || o.type == nil || o.timeInForce == nil || o.action == nil { return .unknownEnum }
        return checkCommon(decimals: o.priceDecimals, o.quantityDecimals, wallNs: o.receiveWallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<OrderEvent>) -> UInt64 {
        (1 << 63) | UInt64(e.pointee.strategy) << 32 | UInt64(e.pointee.instrument)
    }

    static func typeName(_ o: OrderEvent) -> StaticString { o.type == .limit ? "limit" : "market" }
    static func tifName(_ o: OrderEvent) -> StaticString {
        switch o.timeInForce ?? .goodTillCancel {
        case .goodTillCancel: return "gtc"
        case .immediateOrCancel: return "ioc"
        case .fillOrKill: return "fok"
        }
    }


    public static func appendLine(_ e: UnsafePointer<OrderEvent>, timestampNs: Int64, to out: ByteBuffer) {
        let o = e.pointee
        let p = o.priceDecimals
        out.append("orders,instrument=")
        out.append(unsigned: UInt64(o.instrument))
        out.append(",strategy=")
        out.append(unsigned: UInt64(o.strategy))
        appendVenueTag(o.venue, out)
        out.append(" action=\"")
        out.append((o.action ?? .new).label)
        out.append("\",side=\"")
        out.append(Names.side(o.sideRaw))
        out.append("\",type=\"")
        out.append(typeName(o))
        out.append("\",tif=\"")
        out.append(tifName(o))
        out.append("\",client_order_id=")
        appendSeq(o.clientOrderId, out)
        out.append(",price=")
        out.append(fixed: o.price.units, decimals: p)
        out.append(",qty=")
        out.append(fixed: o.quantity.units, decimals: o.quantityDecimals)
        out.append(",take_profit=")
        out.append(fixed: o.takeProfit.units, decimals: p)
        out.append(",stop_loss=")
        out.append(fixed: o.stopLoss.units, decimals: p)
        out.append(",reduce_only=")
        appendBool(o.flags & OrderEvent.flagReduceOnly != 0, out)
        out.append(",signal_seq=")
        appendSeq(o.signalSequence, out)
        out.append(",seq=")
        appendSeq(o.sequence, out)
        appendTimestamp(timestampNs, out)
    }


    public static func appendRedis(_ e: UnsafePointer<OrderEvent>, keys: RedisKeys, to out: ByteBuffer) -> Int {
        let o = e.pointee
        let p = o.priceDecimals
        StreamScript.begin(keys.orders, stage: o.stageRaw, venue: o.venue, sequence: o.sequence, wallNs: o.receiveWallNs.ns,
                           fieldPairs: 13, keys: keys, out)
        RESP.argument("seq", out); RESP.argument(unsigned: o.sequence, out)
        RESP.argument("reduce_only", out); RESP.argument(o.flags & OrderEvent.flagReduceOnly != 0 ? "1" : "0", out)
        RESP.argument("client_order_id", out); RESP.argument(unsigned: o.clientOrderId, out)
        RESP.argument("instrument", out); RESP.argument(unsigned: UInt64(o.instrument), out)
        RESP.argument("venue", out); RESP.argument(unsigned: UInt64(o.venue), out)
        RESP.argument("strategy", out); RESP.argument(unsigned: UInt64(o.strategy), out)
        RESP.argument("action", out); RESP.argument((o.action ?? .new).label, out)
        RESP.argument("side", out); RESP.argument(Names.side(o.sideRaw), out)
        RESP.argument("type", out); RESP.argument(typeName(o), out)
        RESP.argument("tif", out); RESP.argument(tifName(o), out)
        RESP.argument("price", out); RESP.argument(fixed: o.price.units, decimals: p, out)
        RESP.argument("qty", out); RESP.argument(fixed: o.quantity.units, decimals: o.quantityDecimals, out)
        RESP.argument("ts_ns", out); RESP.argument(signed: o.receiveWallNs.ns, out)
        return 1
    }
}

/// `journal.fills` → executions (quantity > 0) to measurement `fills` and stream
/// `tickline:<i>:fills`, moving the position hashes `tickline:<i>:position:<id>` (net) and
/// `…:position:<id>:<strategy>` in the same script as their entry, so a redelivered fill
/// never moves a position twice; order state changes (accepted, cancelled, expired,
/// rejected) to measurement `reports` and stream `tickline:<i>:reports`. Tags `instrument`,
/// `strategy`, `venue`; streams with a `venue` field.
public enum FillEncoder: JournalEncoder {
    public typealias Event = FillEvent
    public static let ringName = "journal.fills"
    public static var measurement: StaticString { "fills" }
    public static let maxLineBytes = 640
    /// The script text (1,334 bytes), four keys and 13 field pairs: 2,234 bytes at the
    /// extremes (every number at its widest, 18 decimals, a 32-byte instance name).
    public static let maxRespBytes = 2_560
    public static let mayShed = false

    public static func wallNs(_ e: UnsafePointer<FillEvent>) -> Int64 { e.pointee.receiveWallNs.ns }

    public static func validate(_ e: UnsafePointer<FillEvent>) -> MalformedReason? {
        let f = e.pointee
        if f.side == nil || f.liquidity == nil || f.status == nil { return .unknownEnum }
        return checkCommon(decimals: f.priceDecimals, f.quantityDecimals, wallNs: f.receiveWallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<FillEvent>) -> UInt64 {
        (1 << 63) | (e.pointee.isExecution ? 0 : 1 << 62) | UInt64(e.pointee.strategy) << 32 | UInt64(e.pointee.instrument)
    }

    public static func appendLine(_ e: UnsafePointer<FillEvent>, timestampNs: Int64, to out: ByteBuffer) {
        let f = e.pointee
        let p = f.priceDecimals, q = f.quantityDecimals
        out.append(f.isExecution ? "fills,instrument=" : "reports,instrument=")
        out.append(unsigned: UInt64(f.instrument))
        out.append(",strategy=")
        out.append(unsigned: UInt64(f.strategy))
        appendVenueTag(f.venue, out)
        out.append(" side=\"")
        out.append(Names.side(f.sideRaw))
        out.append("\",liquidity=\"")
        out.append(f.liquidity == .maker ? "maker" : "taker")
        out.append("\",status=\"")
        out.append(Names.status(f.status ?? .filled))
        out.append("\",client_order_id=")
        appendSeq(f.clientOrderId, out)
        out.append(",price=")
        out.append(fixed: f.price.units, decimals: p)
        out.append(",qty=")
        out.append(fixed: f.quantity.units, decimals: q)
        out.append(",fee=")
        out.append(fixed: f.fee, decimals: p)
        out.append(",leaves_qty=")
        out.append(fixed: f.leavesQuantity.units, decimals: q)
        out.append(",trade_id=")
        appendSeq(f.venueTradeId, out)
        out.append(",venue_ns=")
        appendInt(f.venueTimeNs.ns, out)
        out.append(",seq=")
        appendSeq(f.sequence, out)
        appendTimestamp(timestampNs, out)
    }

    public static func appendRedis(_ e: UnsafePointer<FillEvent>, keys: RedisKeys, to out: ByteBuffer) -> Int {
        let f = e.pointee
        let p = f.priceDecimals, q = f.quantityDecimals
        if f.isExecution {
            let position = StreamScript.Position(
                instrument: f.instrument, strategy: f.strategy, signedUnits: f.side == .sell ? -f.quantity.units : f.quantity.units,
                quantityDecimals: q, price: f.price.units, priceDecimals: p)
            StreamScript.begin(keys.fills, stage: f.stageRaw, venue: f.venue, sequence: f.sequence, wallNs: f.receiveWallNs.ns,
                               fieldPairs: 13, position: position, keys: keys, out)
        } else {
            StreamScript.begin(keys.reports, stage: f.stageRaw, venue: f.venue, sequence: f.sequence, wallNs: f.receiveWallNs.ns,
                               fieldPairs: 13, keys: keys, out)
        }
        RESP.argument("seq", out); RESP.argument(unsigned: f.sequence, out)
        RESP.argument("client_order_id", out); RESP.argument(unsigned: f.clientOrderId, out)
        RESP.argument("instrument", out); RESP.argument(unsigned: UInt64(f.instrument), out)
        RESP.argument("venue", out); RESP.argument(unsigned: UInt64(f.venue), out)
        RESP.argument("strategy", out); RESP.argument(unsigned: UInt64(f.strategy), out)
        RESP.argument("side", out); RESP.argument(Names.side(f.sideRaw), out)
        RESP.argument("status", out); RESP.argument(Names.status(f.status ?? .filled), out)
        RESP.argument("price", out); RESP.argument(fixed: f.price.units, decimals: p, out)
        RESP.argument("qty", out); RESP.argument(fixed: f.quantity.units, decimals: q, out)
        RESP.argument("fee", out); RESP.argument(fixed: f.fee, decimals: p, out)
        RESP.argument("leaves_qty", out); RESP.argument(fixed: f.leavesQuantity.units, decimals: q, out)
        RESP.argument("trade_id", out); RESP.argument(unsigned: f.venueTradeId, out)
        RESP.argument("ts_ns", out); RESP.argument(signed: f.receiveWallNs.ns, out)
        return 1
    }
}

/// `journal.risk` → measurement `risk`, tags `kind`, `scope`, `venue`; stream
/// `tickline:<i>:risk`, with a `venue` field.
public enum RiskEncoder: JournalEncoder {
    public typealias Event = RiskEvent
    public static let ringName = "journal.risk"
    public static var measurement: StaticString { "risk" }
    public static let maxLineBytes = 640
    public static let maxRespBytes = 2_560
    public static let mayShed = false

    public static func wallNs(_ e: UnsafePointer<RiskEvent>) -> Int64 { e.pointee.receiveWallNs.ns }

    public static func validate(_ e: UnsafePointer<RiskEvent>) -> MalformedReason? {
        let r = e.pointee
        if r.kind == nil || r.scope == nil { return .unknownEnum }
        return checkCommon(decimals: 0, 0, wallNs: r.receiveWallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<RiskEvent>) -> UInt64 {
        (1 << 63) | UInt64(e.pointee.venue) << 16 | UInt64(e.pointee.kindRaw) << 8 | UInt64(e.pointee.scopeRaw)
    }


    public static func appendLine(_ e: UnsafePointer<RiskEvent>, timestampNs: Int64, to out: ByteBuffer) {
        let r = e.pointee
        out.append("risk,kind=")
        out.append(Names.riskKind(r.kind ?? .denial))
        out.append(",scope=")
        out.append(Names.riskScope(r.scope ?? .global))
        appendVenueTag(r.venue, out)
        out.append(" reason=")
        appendInt(Int64(r.reason), out)
        out.append(",instrument=")
        appendInt(Int64(r.instrument), out)
        out.append(",strategy=")
        appendInt(Int64(r.strategy), out)
        out.append(",from_state=\"")
        out.append(Names.state(r.fromStateRaw))
        out.append("\",to_state=\"")
        out.append(Names.state(r.toStateRaw))
        out.append("\",reference_seq=")
        appendSeq(r.referenceSequence, out)
        out.append(",observed=")
        appendInt(r.observed, out)
        out.append(",limit=")
        appendInt(r.limit, out)
        out.append(",client_order_id=")
        appendSeq(r.clientOrderId, out)
        out.append(",seq=")
        appendSeq(r.sequence, out)
        appendTimestamp(timestampNs, out)
    }


    public static func appendRedis(_ e: UnsafePointer<RiskEvent>, keys: RedisKeys, to out: ByteBuffer) -> Int {
        let r = e.pointee
        StreamScript.begin(keys.risk, stage: StageId.risk.rawValue, venue: r.venue, sequence: r.sequence, wallNs: r.receiveWallNs.ns,
                           fieldPairs: 12, keys: keys, out)
        RESP.argument("seq", out); RESP.argument(unsigned: r.sequence, out)
        RESP.argument("kind", out); RESP.argument(Names.riskKind(r.kind ?? .denial), out)
        RESP.argument("scope", out); RESP.argument(Names.riskScope(r.scope ?? .global), out)
        RESP.argument("venue", out); RESP.argument(unsigned: UInt64(r.venue), out)
        RESP.argument("reason", out); RESP.argument(unsigned: UInt64(r.reason), out)
        RESP.argument("instrument", out); RESP.argument(unsigned: UInt64(r.instrument), out)
        RESP.argument("strategy", out); RESP.argument(unsigned: UInt64(r.strategy), out)
        RESP.argument("from_state", out); RESP.argument(Names.state(r.fromStateRaw), out)
        RESP.argument("to_state", out); RESP.argument(Names.state(r.toStateRaw), out)
        RESP.argument("observed", out); RESP.argument(signed: r.observed, out)
        RESP.argument("limit", out); RESP.argument(signed: r.limit, out)
        RESP.argument("ts_ns", out); RESP.argument(signed: r.receiveWallNs.ns, out)
        return 1
    }
}

/// `journal.telemetry` → measurement `telemetry`, tags `kind`, `stage`, `metric` (stamped
/// with `wallNs`). Nothing in Redis: counters will be read from the region's counters area.
public enum TelemetryEncoder: JournalEncoder {
    public typealias Event = TelemetryRecord
    public static let ringName = "journal.telemetry"
    public static var measurement: StaticString { "telemetry" }
    public static let maxLineBytes = 256
    public static let maxRespBytes = 256
    public static let mayShed = true

    public static func wallNs(_ e: UnsafePointer<TelemetryRecord>) -> Int64 { e.pointee.wallNs.ns }

    public static func validate(_ e: UnsafePointer<TelemetryRecord>) -> MalformedReason? {
        if e.pointee.kind == nil { return .unknownEnum }
        return checkCommon(decimals: 0, 0, wallNs: e.pointee.wallNs.ns)
    }

    public static func seriesKey(_ e: UnsafePointer<TelemetryRecord>) -> UInt64 {
        (1 << 63) | UInt64(e.pointee.kindRaw) << 24 | UInt64(e.pointee.stage) << 16 | UInt64(e.pointee.metric)
    }


    public static func appendLine(_ e: UnsafePointer<TelemetryRecord>, timestampNs: Int64, to out: ByteBuffer) {
        let t = e.pointee
        out.append("telemetry,kind=")
        out.append(Names.telemetryKind(t.kind ?? .counter))
        out.append(",metric=")
        out.append(unsigned: UInt64(t.metric))
        out.append(",stage=")
        out.append(unsigned: UInt64(t.stage))
        out.append(" value=")
        appendInt(t.value, out)
        out.append(",instrument=")
        appendInt(Int64(t.instrument), out)
        out.append(",mono_ns=")
        appendInt(t.monotonicNs.ns, out)
        out.append(",seq=")
        appendSeq(t.sequence, out)
        appendTimestamp(timestampNs, out)
    }


    public static func appendRedis(_ e: UnsafePointer<TelemetryRecord>, keys: RedisKeys, to out: ByteBuffer) -> Int { 0 }
}
