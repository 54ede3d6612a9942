#if canImport(Glibc)
import Glibc
#endif
import TicklineCore

/// A sink's state as the writer's metrics report it.
public enum SinkHealth: String, Sendable, Equatable {
    /// Writes go straight to the sink.
    case ok
    /// The last write failed (connection, timeout, 429/5xx): batches go to the spill and
    /// are replayed after backoff.
    case down
    /// 401/403/404, AUTH/SELECT refused: alerted once, probed again only every
    /// `config_error_retry_ms`; batches spill meanwhile.
    case configError = "config_error"
    /// Turned off in the config.
    case disabled
}

/// The result of one delivery attempt, whatever the sink.
enum Delivery {
    /// Handed off. `written` items stored; `dropped` refused by the server for good
    /// (partial write, error replies); `duplicates` were already there (repeats).
    case ok(written: Int, dropped: Int, duplicates: Int, note: String?)
    case retry(afterMs: Int?, reason: String)
    case serverError(reason: String)
    case configError(reason: String)
    /// Refused for good as a whole: quarantined, never resent.
    case reject(reason: String)
}

/// One sink (its client) behind the batch-level API the drain loop uses.
protocol SinkTransport: AnyObject {
    func deliver(_ bytes: UnsafeRawBufferPointer, count: Int) -> Delivery
}

extension InfluxClient: SinkTransport {
    func deliver(_ bytes: UnsafeRawBufferPointer, count: Int) -> Delivery {
        switch write(bytes, lines: count) {
        case .written(let dropped):
            return .ok(written: count - dropped, dropped: dropped, duplicates: 0,
                       note: dropped > 0 ? "partial write: \(dropped) lines dropped by the server: \(lastResponseBody)" : nil)
        case .retryLater(let afterMs, let reason): return .retry(afterMs: afterMs, reason: reason)
        case .serverError(_, let reason): return .serverError(reason: reason)
        case .configError(_, let reason): return .configError(reason: reason)
        case .rejected(_, let reason): return .reject(reason: reason)
        }
    }
}

extension RedisClient: SinkTransport {
    func deliver(_ bytes: UnsafeRawBufferPointer, count: Int) -> Delivery {
        switch write(bytes, count: count) {
        case .written(let duplicates, let errors, let first):
            return .ok(written: count - duplicates - errors, dropped: errors, duplicates: duplicates,
                       note: errors > 0 ? "\(errors) commands failed, first: \(first ?? "?")" : nil)
        case .retryLater(let reason): return .retry(afterMs: nil, reason: reason)
        case .configError(let reason): return .configError(reason: reason)
        }
    }
}

/// Counters of one sink, as published in `WriterMetrics`.
public struct SinkMetrics: Sendable, Equatable {
    public var name: String
    public var health: SinkHealth = .ok
    /// Points (InfluxDB) or commands (Redis) the sink stored.
    public var written: UInt64 = 0
    /// Requests / pipelines sent that succeeded.
    public var batches: UInt64 = 0
    /// Failed attempts (each followed by backoff).
    public var retries: UInt64 = 0
    /// Items the server refused for good (partial writes, error replies).
    public var droppedByServer: UInt64 = 0
    /// Repeats the sink already held (stream entries of a record delivered before).
    public var duplicates: UInt64 = 0
    /// Batches quarantined (never resent), and their items.
    public var quarantinedBatches: UInt64 = 0
    public var quarantinedItems: UInt64 = 0
    /// Batches appended to the spill, and replayed from it.
    public var spilledBatches: UInt64 = 0
    public var replayedBatches: UInt64 = 0
    /// The spill now: bytes and batches waiting.
    public var spillBytes: UInt64 = 0
    public var spillBatches: UInt64 = 0
    /// Records of market-data rings not given to this sink because its spill was full.
    public var shedRecords: UInt64 = 0
    public var lastError: String = ""

    public init(name: String, health: SinkHealth = .ok) {
        self.name = name
        self.health = health
    }
}

/// What `submit` did with a batch.
enum Submitted: Equatable {
    /// The sink took it (or it was quarantined): handed off.
    case delivered
    /// Appended to the spill (durable): handed off.
    case spilled
    /// The spill is full: not handed off.
    case full
}

/// A sink with its spill, backoff and counters: sends batches straight to the sink while
/// it is healthy and its spill empty; otherwise appends them to the spill (keeping order)
/// and replays the spill when the backoff expires. Owned by the writer thread.
final class SinkChannel {
    let transport: SinkTransport?
    /// Delivers batches on a thread of the sink's own while the drain thread encodes the
    /// next one (`begin`/`end`); replay and metrics writes use the transport directly.
    let worker: SinkWorker?
    let spill: SpillFile?
    let directory: String
    var metrics: SinkMetrics
    let backoffInitialNs: Int64
    let backoffMaxNs: Int64
    let configRetryNs: Int64
    let serverErrorRetries: Int
    var backoffNs: Int64
    var nextAttemptNs: Int64 = 0
    var headAttempts = 0
    var loggedNotes = 0

    init(name: String, transport: SinkTransport?, spill: SpillFile?, directory: String, backoffInitialMs: Int,
         backoffMaxMs: Int, configRetryMs: Int, serverErrorRetries: Int) {
        self.transport = transport
        worker = transport.map { SinkWorker(transport: $0, name: "writer-\(name)") }
        self.spill = spill
        self.directory = directory
        metrics = SinkMetrics(name: name, health: transport == nil ? .disabled : .ok)
        backoffInitialNs = Int64(backoffInitialMs) * 1_000_000
        backoffMaxNs = Int64(backoffMaxMs) * 1_000_000
        configRetryNs = Int64(configRetryMs) * 1_000_000
        self.serverErrorRetries = serverErrorRetries
        backoffNs = backoffInitialNs
        if let spill, !spill.isEmpty {
            metrics.health = .down
            writerLog("\(name): \(spill.chunks) batches (\(spill.liveBytes) bytes) left in the spill \(spill.path): replaying them first")
        }
        refreshSpillGauges()
    }

    deinit { worker?.stop() }

    var enabled: Bool { transport != nil }

    /// Whether a batch submitted now would go to the spill.
    func wouldSpill(nowNs: Int64) -> Bool {
        guard let spill else { return false }
        return !spill.isEmpty || nowNs < nextAttemptNs || metrics.health == .configError
    }

    /// Whether the spill could take `bytes` more.
    func spillCanTake(_ bytes: Int) -> Bool { spill?.canAppend(bytes) ?? false }

    func submit(_ bytes: UnsafeRawBufferPointer, count: Int, nowNs: Int64) -> Submitted {
        guard let transport, count > 0 else { return .delivered }
        if !wouldSpill(nowNs: nowNs) {
            let result = transport.deliver(bytes, count: count)
            if handle(result, bytes: bytes, count: count, nowNs: nowNs, fromSpill: false) { return .delivered }
        }
        return toSpill(bytes, count: count)
    }

    /// Starts a batch on the sink's thread when it would go straight to the sink. False
    /// when it would go to the spill: the caller `submit`s it instead.
    func begin(_ bytes: UnsafeRawBufferPointer, count: Int, nowNs: Int64) -> Bool {
        guard let worker, count > 0, !wouldSpill(nowNs: nowNs) else { return false }
        worker.start(bytes, count: count)
        return true
    }

    /// Waits for the batch `begin` started (the same `bytes`), then does what `submit` does
    /// with the result: handed off, or appended to the spill, or `.full`.
    func end(_ bytes: UnsafeRawBufferPointer, count: Int, nowNs: Int64) -> Submitted {
        let result = worker!.finish()
        if handle(result, bytes: bytes, count: count, nowNs: nowNs, fromSpill: false) { return .delivered }
        return toSpill(bytes, count: count)
    }

    func toSpill(_ bytes: UnsafeRawBufferPointer, count: Int) -> Submitted {
        guard let spill, spill.append(bytes, count: count) else { return .full }
        metrics.spilledBatches &+= 1
        refreshSpillGauges()
        return .spilled
    }

    /// Replays up to `budget` spilled batches if the backoff allows. Returns how many.
    @discardableResult
    func replay(nowNs: Int64, budget: Int) -> Int {
        guard let transport, let spill else { return 0 }
        var done = 0
        while done < budget && !spill.isEmpty && nowNs >= nextAttemptNs {
            guard let (payload, count) = spill.peek() else {
                metrics.lastError = "cannot read the spill \(spill.path)"
                fail(nowNs: nowNs, afterMs: nil, reason: metrics.lastError)
                break
            }
            let result = transport.deliver(payload, count: count)
            if handle(result, bytes: payload, count: count, nowNs: nowNs, fromSpill: true) {
                spill.consume()
                metrics.replayedBatches &+= 1
                headAttempts = 0
                done += 1
            } else {
                break
            }
        }
        if spill.isEmpty && metrics.health != .ok && done > 0 {
            writerLog("\(metrics.name): spill replayed; writing directly again")
            metrics.health = .ok
        }
        refreshSpillGauges()
        return done
    }

    /// Applies a delivery result to the counters and backoff. True = handed off.
    func handle(_ result: Delivery, bytes: UnsafeRawBufferPointer, count: Int, nowNs: Int64, fromSpill: Bool) -> Bool {
        switch result {
        case .ok(let written, let dropped, let duplicates, let note):
            metrics.written &+= UInt64(max(written, 0))
            metrics.droppedByServer &+= UInt64(dropped)
            metrics.duplicates &+= UInt64(duplicates)
            metrics.batches &+= 1
            if let note {
                metrics.lastError = note
                if loggedNotes < 20 { writerLog("\(metrics.name): \(note)"); loggedNotes += 1 }
            }
            if metrics.health == .configError { writerLog("\(metrics.name): accepted writes again") }
            metrics.health = fromSpill ? .down : .ok  // replay() sets .ok once the spill is empty
            backoffNs = backoffInitialNs
            nextAttemptNs = 0
            return true
        case .reject(let reason):
            toQuarantine(bytes, count: count, reason: reason)
            return true
        case .serverError(let reason):
            metrics.lastError = reason
            headAttempts += 1
            if fromSpill && headAttempts > serverErrorRetries {
                toQuarantine(bytes, count: count, reason: "gave up after \(headAttempts) attempts: \(reason)")
                headAttempts = 0
                return true
            }
            fail(nowNs: nowNs, afterMs: nil, reason: reason)
            return false
        case .retry(let afterMs, let reason):
            metrics.lastError = reason
            fail(nowNs: nowNs, afterMs: afterMs, reason: reason)
            return false
        case .configError(let reason):
            if metrics.health != .configError {
                writerLog("\(metrics.name): CONFIGURATION ERROR, not retrying for \(configRetryNs / 1_000_000) ms: \(reason)")
            }
            metrics.lastError = reason
            metrics.retries &+= 1
            metrics.health = .configError
            nextAttemptNs = nowNs + configRetryNs
            return false
        }
    }

    func fail(nowNs: Int64, afterMs: Int?, reason: String) {
        if metrics.health == .ok { writerLog("\(metrics.name): down (\(reason)); spilling and backing off") }
        metrics.retries &+= 1
        if metrics.health != .configError { metrics.health = .down }
        var wait = backoffNs
        if let afterMs { wait = max(wait, Int64(afterMs) * 1_000_000) }
        nextAttemptNs = nowNs + wait
        backoffNs = min(backoffNs * 2, backoffMaxNs)
    }

    func toQuarantine(_ bytes: UnsafeRawBufferPointer, count: Int, reason: String) {
        metrics.quarantinedBatches &+= 1
        metrics.quarantinedItems &+= UInt64(count)
        metrics.lastError = reason
        writerLog("\(metrics.name): batch of \(count) quarantined in \(directory)/\(metrics.name).quarantine: \(reason.prefix(300))")
        quarantine(bytes, reason: reason, directory: directory, sink: metrics.name)
    }

    func refreshSpillGauges() {
        metrics.spillBytes = UInt64(spill?.liveBytes ?? 0)
        metrics.spillBatches = UInt64(spill?.chunks ?? 0)
    }
}
