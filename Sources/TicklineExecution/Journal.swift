import TicklineCore
import TicklineRisk

// The local journal file's records: orders, venue reports and risk events, append-only.
// Layout (little endian, explicit, independent of Swift's struct layout):
//
//   offset 0  u16 magic 0x4A54 ("TJ")   offset 2  u8 kind   offset 3  u8 version (3; 1 and 2 still read)
//   offset 4  u32 payload length         offset 8  u64 record sequence (1, 2, 3, … no gaps)
//   offset 16 payload (fields of the event in declaration order, fixed length per kind and version;
//             version 2 adds the exit plan to orders and the exit-state kind; version 3 adds
//             the venue, u16, at the end of order and report payloads: records of versions 1
//             and 2 were all for the first venue and read as venue 0)
//   then      u32 CRC-32C of everything before it in the record
//
// Records are written whole by one writer. After a crash, the last record may be torn
// (cut short, or complete in length but with a bad checksum at the very end of the file):
// it is ignored and reported. Anything else wrong is corruption and recovery refuses.

/// What a journal record holds.
public enum JournalRecordKind: UInt8, Sendable, CaseIterable {
    /// An order risk approved and execution sent (action new), or a cancel request (action cancel).
    case order = 1
    /// A venue report as the order table applied it (canonical), or a refused cancel
    /// (`VenueReportFlags.cancelRejected`).
    case report = 2
    /// A denial, breaker trip, kill switch or trading-state change.
    case risk = 3
    /// The circuit breakers' whole state (`BreakerSnapshot`), written whenever it changes;
    /// the last one in the journal is the state restored at start.
    case riskState = 4
    /// The trailing best and time-stop deadline of a position with a trailing or time stop:
    /// when it opens, when its best moves (throttled), when an exit fires and when it closes.
    case exitState = 5
}

/// Why a journal cannot be trusted (recovery refuses to trade).
public enum JournalError: UInt8, Sendable, CaseIterable, Error {
    case badMagic = 1
    case unknownKind = 2
    case unsupportedVersion = 3
    /// The payload length is not the kind's.
    case badLength = 4
    /// A checksum mismatch before the last record.
    case checksumMismatch = 5
    /// Record sequences must be 1, 2, 3, …
    case sequenceGap = 6
}

/// A corrupt journal: what and where (byte offset of the record, its sequence if readable).
public struct JournalCorruption: Error, Sendable, Equatable {
    public var error: JournalError
    public var offset: Int
    public var sequence: UInt64

    public init(error: JournalError, offset: Int, sequence: UInt64) {
        self.error = error
        self.offset = offset
        self.sequence = sequence
    }
}

/// Why an exit-state record was written.
public enum ExitStateCause: UInt8, Sendable, CaseIterable {
    case opened = 1
    /// The trailing best moved.
    case moved = 2
    /// An exit was sent (`trigger` says which).
    case fired = 3
    /// The position is flat: what was recorded for it before no longer applies.
    case closed = 4
}

/// What a restart needs to go on watching a position's trailing and time stops.
public struct ExitStateRecord: Sendable, Equatable {
    public var instrument: InstrumentId
    public var strategy: StrategyId
    public var causeRaw: UInt8
    /// `ExitReason` raw of a fired exit (0 otherwise).
    public var triggerRaw: UInt8
    /// Best price since entry (highest for longs, lowest for shorts), price units.
    public var bestPriceUnits: Int64
    /// Wall ns at which the time stop fires (entry fill + max hold); `Nanos.max` = none.
    public var deadlineWallNs: WallNanos
    /// When this was recorded, wall ns.
    public var wallNs: WallNanos

    public init(instrument: InstrumentId, strategy: StrategyId, cause: ExitStateCause, trigger: ExitReason? = nil,
                bestPriceUnits: Int64, deadlineWallNs: WallNanos, wallNs: WallNanos) {
        self.instrument = instrument
        self.strategy = strategy
        self.causeRaw = cause.rawValue
        self.triggerRaw = trigger?.rawValue ?? 0
        self.bestPriceUnits = bestPriceUnits
        self.deadlineWallNs = deadlineWallNs
        self.wallNs = wallNs
    }

    public var cause: ExitStateCause? { ExitStateCause(rawValue: causeRaw) }
    public var trigger: ExitReason? { ExitReason(rawValue: triggerRaw) }
}

/// One decoded record.
public enum JournalRecord: Sendable {
    case order(OrderEvent)
    case report(FillEvent)
    case risk(RiskEvent)
    case riskState(BreakerSnapshot)
    case exitState(ExitStateRecord)
}

public enum JournalFormat {
    public static let magic: UInt16 = 0x4A54
    /// The version records are written in; `versionOne` and `versionTwo` records are still read.
    public static let version: UInt8 = 3
    public static let versionOne: UInt8 = 1
    public static let versionTwo: UInt8 = 2
    /// The first version whose orders and reports carry their venue.
    public static let venueSince: UInt8 = 3
    public static let headerBytes = 16
    public static let checksumBytes = 4

    /// Payload lengths per kind (the current version).
    public static let orderPayloadBytes = orderPayloadBytesVersionTwo + 2
    /// Orders before the venue was journaled.
    public static let orderPayloadBytesVersionTwo = orderPayloadBytesVersionOne + 8 + 8
    /// Orders before the exit plan (trailing distance, max hold) was journaled.
    public static let orderPayloadBytesVersionOne = 8 + 8 + 4 + 2 + 1 + 1 + 8 * 5 + 1 + 1 + 1 + 1 + 1 + 8 + 8 * 5
    public static let reportPayloadBytes = reportPayloadBytesVersionTwo + 2
    /// Reports before the venue was journaled (versions 1 and 2).
    public static let reportPayloadBytesVersionTwo = 8 + 8 + 4 + 2 + 1 + 1 + 8 * 5 + 1 + 1 + 1 + 1 + 8 + 8 + 8 * 5
    public static let riskPayloadBytes = 8 + 1 + 1 + 2 + 4 + 2 + 1 + 1 + 8 * 4 + 8 + 8 + 8 * 5
    /// state, cause, kill latch, then day/week/month indexes, their start equity and the peak.
    public static let riskStatePayloadBytes = 1 + 2 + 1 + 8 * 7
    public static let exitStatePayloadBytes = 4 + 2 + 1 + 1 + 8 * 3

    public static func payloadBytes(_ kind: JournalRecordKind) -> Int {
        switch kind {
        case .order: orderPayloadBytes
        case .report: reportPayloadBytes
        case .risk: riskPayloadBytes
        case .riskState: riskStatePayloadBytes
        case .exitState: exitStatePayloadBytes
        }
    }

    /// The payload length of `kind` in records of `version` (nil: the version does not have it).
    public static func payloadBytes(_ kind: JournalRecordKind, version v: UInt8) -> Int? {
        switch (v, kind) {
        case (version, _): payloadBytes(kind)
        case (versionTwo, .order): orderPayloadBytesVersionTwo
        case (versionOne, .order): orderPayloadBytesVersionOne
        case (versionOne, .exitState): nil
        case (versionOne, .report), (versionTwo, .report): reportPayloadBytesVersionTwo
        case (versionOne, _), (versionTwo, _): payloadBytes(kind)
        default: nil
        }
    }

    /// The largest record, for sizing write buffers.
    public static let maxRecordBytes = headerBytes + max(max(orderPayloadBytes, reportPayloadBytes), max(riskPayloadBytes, max(riskStatePayloadBytes, exitStatePayloadBytes)))
        + checksumBytes
}

/// Appends journal records to a byte buffer, numbering them. The engine writes the buffer
/// to the journal file (append, then fsync per its durability policy) and clears it with
/// `removeAll(keepingCapacity: true)`; with capacity reserved, appending does not allocate.
/// Owned by one thread.
public struct JournalEncoder: Sendable {
    /// The sequence the next record gets.
    public private(set) var nextSequence: UInt64

    /// `after`: the last sequence already in the journal (0 for a new one).
    public init(after lastSequence: UInt64 = 0) { nextSequence = lastSequence + 1 }

    public mutating func append(order o: OrderEvent, to out: inout [UInt8]) {
        let start = begin(.order, &out)
        var w = ByteWriter()
        w.u64(o.sequence, &out); w.u64(o.clientOrderId, &out); w.u32(o.instrument, &out); w.u16(o.strategy, &out)
        w.u8(o.sideRaw, &out); w.u8(o.typeRaw, &out)
        w.i64(o.price.units, &out); w.i64(o.quantity.units, &out); w.i64(o.takeProfit.units, &out); w.i64(o.stopLoss.units, &out)
        w.u64(o.signalSequence, &out)
        w.u8(o.timeInForceRaw, &out); w.u8(o.flags, &out); w.u8(o.priceDecimals, &out); w.u8(o.quantityDecimals, &out); w.u8(o.actionRaw, &out)
        w.i64(o.receiveWallNs.ns, &out)
        w.chain(o.timestamps, &out)
        w.i64(o.trailingDistance.units, &out); w.i64(o.maxHoldNs, &out)
        w.u16(o.venue, &out)
        finish(start, &out)
    }

    public mutating func append(report f: FillEvent, to out: inout [UInt8]) {
        let start = begin(.report, &out)
        var w = ByteWriter()
        w.u64(f.sequence, &out); w.u64(f.clientOrderId, &out); w.u32(f.instrument, &out); w.u16(f.strategy, &out)
        w.u8(f.sideRaw, &out); w.u8(f.liquidityRaw, &out)
        w.i64(f.price.units, &out); w.i64(f.quantity.units, &out); w.i64(f.fee, &out); w.i64(f.leavesQuantity.units, &out)
        w.u64(f.venueTradeId, &out)
        w.u8(f.statusRaw, &out); w.u8(f.flags, &out); w.u8(f.priceDecimals, &out); w.u8(f.quantityDecimals, &out)
        w.i64(f.venueTimeNs.ns, &out); w.i64(f.receiveWallNs.ns, &out)
        w.chain(f.timestamps, &out)
        w.u16(f.venue, &out)
        finish(start, &out)
    }

    public mutating func append(risk r: RiskEvent, to out: inout [UInt8]) {
        let start = begin(.risk, &out)
        var w = ByteWriter()
        w.u64(r.sequence, &out); w.u8(r.kindRaw, &out); w.u8(r.scopeRaw, &out); w.u16(r.reason, &out)
        w.u32(r.instrument, &out); w.u16(r.strategy, &out); w.u8(r.fromStateRaw, &out); w.u8(r.toStateRaw, &out)
        w.u64(r.referenceSequence, &out); w.i64(r.observed, &out); w.i64(r.limit, &out); w.u64(r.clientOrderId, &out)
        w.i64(r.venueTimeNs.ns, &out); w.i64(r.receiveWallNs.ns, &out)
        w.chain(r.timestamps, &out)
        finish(start, &out)
    }

    public mutating func append(riskState b: BreakerSnapshot, to out: inout [UInt8]) {
        let start = begin(.riskState, &out)
        var w = ByteWriter()
        w.u8(b.stateRaw, &out); w.u16(b.causeRaw, &out); w.u8(b.killSwitchEngaged ? 1 : 0, &out)
        w.i64(b.dayIndex, &out); w.i64(b.weekIndex, &out); w.i64(b.monthIndex, &out)
        w.i64(b.dayStartEquityMoney, &out); w.i64(b.weekStartEquityMoney, &out); w.i64(b.monthStartEquityMoney, &out)
        w.i64(b.peakEquityMoney, &out)
        finish(start, &out)
    }

    public mutating func append(exitState e: ExitStateRecord, to out: inout [UInt8]) {
        let start = begin(.exitState, &out)
        var w = ByteWriter()
        w.u32(e.instrument, &out); w.u16(e.strategy, &out); w.u8(e.causeRaw, &out); w.u8(e.triggerRaw, &out)
        w.i64(e.bestPriceUnits, &out); w.i64(e.deadlineWallNs.ns, &out); w.i64(e.wallNs.ns, &out)
        finish(start, &out)
    }

    private mutating func begin(_ kind: JournalRecordKind, _ out: inout [UInt8]) -> Int {
        let start = out.count
        var w = ByteWriter()
        w.u16(JournalFormat.magic, &out)
        w.u8(kind.rawValue, &out)
        w.u8(JournalFormat.version, &out)
        w.u32(UInt32(JournalFormat.payloadBytes(kind)), &out)
        w.u64(nextSequence, &out)
        nextSequence += 1
        return start
    }

    private func finish(_ start: Int, _ out: inout [UInt8]) {
        var w = ByteWriter()
        w.u32(CRC32C.checksum(out, from: start, to: out.count), &out)
    }
}

/// How a journal read ended.
public struct JournalScan: Sendable, Equatable {
    /// Whole, valid records.
    public var records: Int
    /// Bytes they occupy (the journal should be truncated here before appending again).
    public var validBytes: Int
    /// Bytes of a torn last record that were ignored (0 when none).
    public var tornBytes: Int
    public var lastSequence: UInt64

    public init(records: Int, validBytes: Int, tornBytes: Int, lastSequence: UInt64) {
        self.records = records
        self.validBytes = validBytes
        self.tornBytes = tornBytes
        self.lastSequence = lastSequence
    }
}

/// Reads journal records.
public enum JournalReader {
    /// Validates every record and calls `body` with each, in order. A torn last record is
    /// reported in the result's `tornBytes`, not passed on; anything else wrong is
    /// `JournalCorruption` (and `body` may have seen earlier records: validate first with a
    /// no-op body when that matters, as `JournalRecovery` does).
    public static func read(_ bytes: [UInt8], _ body: (JournalRecord) -> Void = { _ in }) -> Result<JournalScan, JournalCorruption> {
        var offset = 0
        var records = 0
        var last: UInt64 = 0
        while offset < bytes.count {
            let remaining = bytes.count - offset
            guard remaining >= JournalFormat.headerBytes else { return .success(scan(records, offset, remaining, last)) }
            var r = ByteReader(bytes, offset)
            let magic = r.u16(), kindRaw = r.u8(), version = r.u8(), length = Int(r.u32()), sequence = r.u64()
            guard magic == JournalFormat.magic else { return .failure(JournalCorruption(error: .badMagic, offset: offset, sequence: 0)) }
            guard let kind = JournalRecordKind(rawValue: kindRaw) else {
                return .failure(JournalCorruption(error: .unknownKind, offset: offset, sequence: sequence))
            }
            guard version >= JournalFormat.versionOne && version <= JournalFormat.version else {
                return .failure(JournalCorruption(error: .unsupportedVersion, offset: offset, sequence: sequence))
            }
            guard length == JournalFormat.payloadBytes(kind, version: version) else {
                return .failure(JournalCorruption(error: .badLength, offset: offset, sequence: sequence))
            }
            let total = JournalFormat.headerBytes + length + JournalFormat.checksumBytes
            guard remaining >= total else { return .success(scan(records, offset, remaining, last)) }  // torn: cut short
            var c = ByteReader(bytes, offset + total - JournalFormat.checksumBytes)
            if c.u32() != CRC32C.checksum(bytes, from: offset, to: offset + total - JournalFormat.checksumBytes) {
                if offset + total == bytes.count { return .success(scan(records, offset, remaining, last)) }  // torn at the end
                return .failure(JournalCorruption(error: .checksumMismatch, offset: offset, sequence: sequence))
            }
            guard sequence == last + 1 else { return .failure(JournalCorruption(error: .sequenceGap, offset: offset, sequence: sequence)) }
            switch kind {
            case .order: body(.order(r.order(withExitPlan: version >= JournalFormat.versionTwo, withVenue: version >= JournalFormat.venueSince)))
            case .report: body(.report(r.report(withVenue: version >= JournalFormat.venueSince)))
            case .risk: body(.risk(r.risk()))
            case .riskState: body(.riskState(r.riskState()))
            case .exitState: body(.exitState(r.exitState()))
            }
            last = sequence
            records += 1
            offset += total
        }
        return .success(scan(records, offset, 0, last))
    }

    private static func scan(_ records: Int, _ valid: Int, _ torn: Int, _ last: UInt64) -> JournalScan {
        JournalScan(records: records, validBytes: valid, tornBytes: torn, lastSequence: last)
    }
}

/// What recovery rebuilt.
public struct RecoverySummary: Sendable, Equatable {
    public var scan: JournalScan
    public var orders = 0
    public var cancelRequests = 0
    public var reports = 0
    public var riskEvents = 0
    /// Reports the order table refused while replaying (0 for a journal this code wrote).
    public var refusedReports = 0
    /// Open orders after replay: to reconcile with the venue before trading.
    public var openOrders = 0
    /// The circuit breakers' last journaled state, brought up to the breaker events after
    /// it (nil: none in the journal, e.g. one an older version wrote), for
    /// `CircuitBreakers.restore`.
    public var breakers: BreakerSnapshot?
}

/// Rebuilds positions, open orders and trading states from a journal before the engine
/// trades: orders are restored into pre-trade risk and the order table,
/// reports are applied to both, global/strategy/symbol state changes are re-applied (a
/// breaker or kill switch that halted trading stays in force, a manual halt of the engine,
/// a strategy or a symbol too), and the breakers' last state is returned in the summary.
/// Refuses (returns the
/// corruption, changes nothing) for a journal that is corrupt anywhere but a torn last
/// record. Cold path.
public enum JournalRecovery {
    public static func recover(_ bytes: [UInt8], risk: inout PreTradeRisk, orders: inout OrderTable,
                               nowNs: MonotonicNanos) -> Result<RecoverySummary, JournalCorruption> {
        // Validate everything first, so a corrupt journal changes nothing.
        let scan: JournalScan
        switch JournalReader.read(bytes) {
        case .failure(let c): return .failure(c)
        case .success(let s): scan = s
        }
        var summary = RecoverySummary(scan: scan)
        var r = risk, t = orders
        _ = JournalReader.read(Array(bytes[0..<scan.validBytes])) { record in
            switch record {
            case .order(let o):
                if o.action == .replace {
                    // The risk stage sends no replaces: a record of one is not restored.
                    summary.refusedReports += 1
                } else if o.action == .cancel {
                    summary.cancelRequests += 1
                    if case .failure = t.requestCancel(clientOrderId: o.clientOrderId, nowNs: nowNs) { summary.refusedReports += 1 }
                } else {
                    summary.orders += 1
                    r.restore(openOrder: o)
                    if t.insert(o, nowNs: nowNs) != nil || t.markSent(clientOrderId: o.clientOrderId, nowNs: nowNs) != nil {
                        summary.refusedReports += 1
                    }
                }
            case .report(let f):
                summary.reports += 1
                if f.flags & VenueReportFlags.cancelRejected != 0 {
                    if t.cancelRejected(clientOrderId: f.clientOrderId, nowNs: nowNs) != nil { summary.refusedReports += 1 }
                    return
                }
                switch t.apply(report: f, nowNs: nowNs) {
                case .applied(let fill), .overfilled(let fill, _): r.apply(fill: fill)
                case .refused: summary.refusedReports += 1
                }
            case .exitState: break  // `rebuildExits` reads these
            case .risk(let e):
                summary.riskEvents += 1
                summary.breakers?.follow(e)
                guard let to = e.toState, let kind = e.kind, kind != .denial, let scope = e.scope else { return }
                switch scope {
                case .global: r.setGlobalState(to)
                case .strategy: r.setState(to, strategy: e.strategy)
                case .symbol: r.setState(to, instrument: e.instrument)
                }
            case .riskState(let b):
                summary.breakers = b
            }
        }
        summary.openOrders = t.openCount
        risk = r
        orders = t
        return .success(summary)
    }
}

extension JournalRecovery {
    /// After `recover`: puts every open position of `risk` under `exits`, with the exit plan
    /// (take-profit, stop-loss, trailing distance, max hold) of the last entry (not
    /// reduce-only) order of that strategy and symbol in the journal that was filled at least
    /// in part, and the trailing best and absolute time-stop deadline of its last exit-state
    /// record (a position without one trails from its average price and times out `maxHold`
    /// after `nowNs`). Horizon is not journaled: `plan` supplies it. Returns the number of
    /// positions watched, or the corruption (nothing changed). Cold path.
    public static func rebuildExits(_ bytes: [UInt8], risk: PreTradeRisk, exits: inout ExitMonitor, nowNs: WallNanos,
                                    plan: (StrategyId, InstrumentId) -> ExitPlan = { _, _ in ExitPlan() }) -> Result<Int, JournalCorruption> {
        let strategies = min(risk.strategyCapacity, exits.strategyCapacity)
        let instruments = min(risk.instrumentCapacity, exits.instrumentCapacity)
        var plans = Array(repeating: ExitPlan(), count: strategies * instruments)
        var states: [Int: ExitStateRecord] = [:]
        var entries: [UInt64: (pair: Int, plan: ExitPlan)] = [:]
        let read = JournalReader.read(bytes) { record in
            switch record {
            case .order(let o):
                guard o.action == .new, o.flags & OrderEvent.flagReduceOnly == 0, Int(o.strategy) < strategies,
                      Int(o.instrument) < instruments else { return }
                entries[o.clientOrderId] = (Int(o.strategy) * instruments + Int(o.instrument),
                                            ExitPlan(takeProfit: o.takeProfit, stopLoss: o.stopLoss,
                                                     trailingDistanceUnits: o.trailingDistance.units, maxHoldNs: o.maxHoldNs))
            case .report(let f):
                if f.quantity.units > 0, let e = entries[f.clientOrderId] { plans[e.pair] = e.plan }
            case .exitState(let e):
                guard Int(e.strategy) < strategies, Int(e.instrument) < instruments else { return }
                let pair = Int(e.strategy) * instruments + Int(e.instrument)
                if e.cause == .closed { states[pair] = nil } else { states[pair] = e }
            case .risk, .riskState: break
            }
        }
        if case .failure(let c) = read { return .failure(c) }
        var watched = 0
        for s in 0..<strategies {
            for i in 0..<instruments {
                let view = risk.positions.position(strategy: StrategyId(s), instrument: InstrumentId(i))
                guard view.quantityUnits != 0 else { continue }
                var p = plan(StrategyId(s), InstrumentId(i))
                let journaled = plans[s * instruments + i]
                p.takeProfit = journaled.takeProfit
                p.stopLoss = journaled.stopLoss
                p.trailingDistanceUnits = journaled.trailingDistanceUnits
                p.maxHoldNs = journaled.maxHoldNs
                exits.setPosition(strategy: StrategyId(s), instrument: InstrumentId(i), quantityUnits: view.quantityUnits,
                                  entryPriceUnits: view.averagePriceUnits, plan: p, nowNs: nowNs)
                if let state = states[s * instruments + i] {
                    exits.restore(strategy: StrategyId(s), instrument: InstrumentId(i), bestPriceUnits: state.bestPriceUnits,
                                  deadlineWallNs: state.deadlineWallNs)
                }
                watched += 1
            }
        }
        return .success(watched)
    }
}

// MARK: Bytes

struct ByteWriter {
    @inline(__always) func u8(_ v: UInt8, _ out: inout [UInt8]) { out.append(v) }
    @inline(__always) func u16(_ v: UInt16, _ out: inout [UInt8]) { out.append(UInt8(truncatingIfNeeded: v)); out.append(UInt8(truncatingIfNeeded: v >> 8)) }
    @inline(__always) func u32(_ v: UInt32, _ out: inout [UInt8]) { for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    @inline(__always) func u64(_ v: UInt64, _ out: inout [UInt8]) { for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    @inline(__always) func i64(_ v: Int64, _ out: inout [UInt8]) { u64(UInt64(bitPattern: v), &out) }
    func chain(_ c: TimestampChain, _ out: inout [UInt8]) {
        i64(c.socketReadNs.ns, &out); i64(c.decodedNs.ns, &out); i64(c.signalNs.ns, &out); i64(c.riskDecidedNs.ns, &out); i64(c.orderSentNs.ns, &out)
    }
}

/// Reads little-endian fields; the caller has checked the record is long enough.
struct ByteReader {
    let bytes: [UInt8]
    var at: Int
    init(_ bytes: [UInt8], _ at: Int) { self.bytes = bytes; self.at = at }
    mutating func u8() -> UInt8 { defer { at += 1 }; return bytes[at] }
    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { var v: UInt32 = 0; for k in 0..<4 { v |= UInt32(u8()) << (8 * k) }; return v }
    mutating func u64() -> UInt64 { var v: UInt64 = 0; for k in 0..<8 { v |= UInt64(u8()) << (8 * k) }; return v }
    mutating func i64() -> Int64 { Int64(bitPattern: u64()) }
    mutating func wall() -> WallNanos { WallNanos(i64()) }
    mutating func mono() -> MonotonicNanos { MonotonicNanos(i64()) }
    mutating func chain() -> TimestampChain {
        TimestampChain(socketReadNs: mono(), decodedNs: mono(), signalNs: mono(), riskDecidedNs: mono(), orderSentNs: mono())
    }
    /// An order of a version without the exit plan has none; one without the venue was for
    /// the first venue (0), the only one there was.
    mutating func order(withExitPlan: Bool, withVenue: Bool) -> OrderEvent {
        var o = OrderEvent()
        o.sequence = u64(); o.clientOrderId = u64(); o.instrument = u32(); o.strategy = u16(); o.sideRaw = u8(); o.typeRaw = u8()
        o.price = Price(units: i64()); o.quantity = Quantity(units: i64()); o.takeProfit = Price(units: i64()); o.stopLoss = Price(units: i64())
        o.signalSequence = u64()
        o.timeInForceRaw = u8(); o.flags = u8(); o.priceDecimals = u8(); o.quantityDecimals = u8(); o.actionRaw = u8()
        o.receiveWallNs = wall()
        o.timestamps = chain()
        if withExitPlan {
            o.trailingDistance = Price(units: i64())
            o.maxHoldNs = i64()
        }
        if withVenue { o.venue = u16() }
        return o
    }
    mutating func report(withVenue: Bool) -> FillEvent {
        var f = FillEvent()
        f.sequence = u64(); f.clientOrderId = u64(); f.instrument = u32(); f.strategy = u16(); f.sideRaw = u8(); f.liquidityRaw = u8()
        f.price = Price(units: i64()); f.quantity = Quantity(units: i64()); f.fee = i64(); f.leavesQuantity = Quantity(units: i64())
        f.venueTradeId = u64()
        f.statusRaw = u8(); f.flags = u8(); f.priceDecimals = u8(); f.quantityDecimals = u8()
        f.venueTimeNs = wall(); f.receiveWallNs = wall()
        f.timestamps = chain()
        if withVenue { f.venue = u16() }
        return f
    }
    mutating func riskState() -> BreakerSnapshot {
        var b = BreakerSnapshot()
        b.stateRaw = u8(); b.causeRaw = u16(); b.killSwitchEngaged = u8() != 0
        b.dayIndex = i64(); b.weekIndex = i64(); b.monthIndex = i64()
        b.dayStartEquityMoney = i64(); b.weekStartEquityMoney = i64(); b.monthStartEquityMoney = i64()
        b.peakEquityMoney = i64()
        return b
    }
    mutating func exitState() -> ExitStateRecord {
        var e = ExitStateRecord(instrument: u32(), strategy: u16(), cause: .opened, bestPriceUnits: 0, deadlineWallNs: 0, wallNs: 0)
        e.causeRaw = u8(); e.triggerRaw = u8()
        e.bestPriceUnits = i64(); e.deadlineWallNs = wall(); e.wallNs = wall()
        return e
    }
    mutating func risk() -> RiskEvent {
        var e = RiskEvent()
        e.sequence = u64(); e.kindRaw = u8(); e.scopeRaw = u8(); e.reason = u16()
        e.instrument = u32(); e.strategy = u16(); e.fromStateRaw = u8(); e.toStateRaw = u8()
        e.referenceSequence = u64(); e.observed = i64(); e.limit = i64(); e.clientOrderId = u64()
        e.venueTimeNs = wall(); e.receiveWallNs = wall()
        e.timestamps = chain()
        return e
    }
}

/// CRC-32C (Castagnoli), table-driven.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8], from: Int, to: Int) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for k in from..<to { c = table[Int((c ^ UInt32(bytes[k])) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
