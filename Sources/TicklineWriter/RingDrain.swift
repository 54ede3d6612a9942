#if canImport(Glibc)
import Glibc
#endif
import TicklineCore
import TicklineRing

/// Counters of one journal ring, as published in `WriterMetrics`.
public struct RingMetrics: Sendable, Equatable {
    public var name: String
    /// Records released (cursor advanced past them) by this writer since it started.
    public var records: UInt64 = 0
    public var batches: UInt64 = 0
    /// Records skipped as malformed, by `MalformedReason.rawValue`.
    public var malformed: [UInt64] = Array(repeating: 0, count: MalformedReason.allCases.count)
    /// Times a batch was held back because a sink's spill was full (signals, orders, fills,
    /// risk: never dropped, so the ring stops advancing instead).
    public var blockedBatches: UInt64 = 0
    /// Records waiting in the ring (published − consumed), and the age of the oldest one.
    public var lagRecords: UInt64 = 0
    public var lagSeconds: Double = 0
    /// The producer's counters: records dropped (market data) or pushes refused.
    public var producerDropped: UInt64 = 0
    public var producerRefused: UInt64 = 0
    /// Points whose timestamp was moved by 1+ ns to stay unique in their series.
    public var timestampsBumped: UInt64 = 0

    public init(name: String) { self.name = name }

    public var malformedTotal: UInt64 { malformed.reduce(0, &+) }
}

/// One journal ring being drained: the consumer end, its encoder and series clock.
/// Type-erased so the writer can hold rings of every event type. Owned by the writer thread.
protocol JournalDrain: AnyObject {
    var name: String { get }
    var metrics: RingMetrics { get }
    /// Takes one batch and hands it to the sinks; returns records released.
    func pump(_ w: JournalWriter, nowNs: Int64) -> Int
    func refreshLag(wallNs: Int64)
    /// True when nothing waits in the ring.
    var isEmpty: Bool { get }
}

/// The consumer of one journal ring typed by its encoder. Owned by the writer thread.
final class RingDrain<E: JournalEncoder>: JournalDrain {
    var consumer: RingConsumer<E.Event>
    let region: SharedRegion
    let clock: SeriesClock
    let checkpoint: SeriesCheckpoint?
    var metrics: RingMetrics
    var loggedMalformed = 0

    var name: String { E.ringName }

    init(region: SharedRegion, batchRecords: Int, checkpointDirectory: String?) throws(RegionError) {
        self.region = region
        consumer = try region.consumer(of: E.Event.self, ring: E.ringName)
        clock = SeriesClock(batchCapacity: batchRecords)
        metrics = RingMetrics(name: E.ringName)
        if let dir = checkpointDirectory {
            checkpoint = SeriesCheckpoint(directory: dir, instance: region.instance, ring: E.ringName,
                                          regionStartNs: region.startWallNs, capacity: 32 + clock.capacity * 12)
            if checkpoint!.restore(into: clock, cursor: consumer.consumed) {
                writerLog("\(E.ringName): resumed at record \(consumer.consumed) with its timestamp checkpoint")
            }
        } else {
            checkpoint = nil
        }
    }

    var isEmpty: Bool { consumer.available(limit: 1) == 0 }

    func refreshLag(wallNs: Int64) {
        if let s = try? region.stats(ring: E.ringName) {
            metrics.lagRecords = s.depth
            metrics.producerDropped = s.dropped
            metrics.producerRefused = s.refused
        }
        if consumer.available(limit: 1) > 0 {
            let oldest = E.wallNs(consumer.peek(0))
            metrics.lagSeconds = oldest > 0 && wallNs > oldest ? Double(wallNs - oldest) / 1e9 : 0
        } else {
            metrics.lagSeconds = 0
        }
        metrics.timestampsBumped = clock.bumped
    }

    /// One encoded batch: records `[offset, offset + taken)` past the cursor, in buffer
    /// set `set`, and how each sink takes it.
    struct Batch {
        var offset: Int
        var taken: Int
        var lines: Int
        var commands: Int
        var influxOn: Bool
        var redisOn: Bool
        var set: Int
        /// Started on the sink's thread (else submitted inline when finished).
        var influxAsync = false
        var redisAsync = false
        var end: Int { offset + taken }
    }

    /// Takes up to `JournalWriter.pipelineBatches` batches and hands them to the sinks,
    /// encoding each next batch while the sinks write the one before (the requests are most
    /// of the time). Nothing is in flight when it returns, so replay and metrics may use
    /// the connections between pumps. Returns records released.
    func pump(_ w: JournalWriter, nowNs: Int64) -> Int {
        let lineLimit = w.influxLineLimit  // a 413 on the sink's thread may lower it: read while idle
        var released = 0
        var inFlight: Batch?
        var encoded = 0
        var set = 0
        while true {
            var next: Batch?
            if encoded < w.pipelineBatches {
                next = encode(w, offset: inFlight?.end ?? 0, set: set, lineLimit: lineLimit, nowNs: nowNs)
                if next != nil { encoded += 1; set ^= 1 }
            }
            if let a = inFlight {
                guard finish(a, w) else {
                    // Not handed off (a spill is full): undo the stamps of this batch and of
                    // the one behind it; both are encoded again later.
                    clock.rollback()
                    metrics.blockedBatches &+= 1
                    return released
                }
                consumer.advance(by: a.taken)
                clock.commitBatch()
                metrics.records &+= UInt64(a.taken)
                metrics.batches &+= 1
                released += a.taken
                if var b = next {
                    b.offset -= a.taken  // offsets are relative to the cursor, which moved
                    next = b
                }
            }
            guard var b = next else { return released }
            start(&b, w)
            inFlight = b
        }
    }

    /// Encodes the records from `offset` past the cursor into buffer set `set` and saves the
    /// series clock's state at the batch's end. Nil when there is nothing to take, or a
    /// ring that must not lose records is held back because a sink's spill is full.
    func encode(_ w: JournalWriter, offset: Int, set: Int, lineLimit: Int, nowNs: Int64) -> Batch? {
        let n = consumer.available(limit: offset + w.batchRecords) - offset
        guard n > 0 else { return nil }
        let influx = w.influx, redis = w.redis
        // A sink whose spill cannot take another full batch: hold back rings that must not
        // lose records; shed market data for that sink (counted).
        var influxOn = influx.enabled
        var redisOn = redis.enabled
        let lineBuffer = w.influxBuffers[set], commandBuffer = w.redisBuffers[set]
        if influxOn && influx.wouldSpill(nowNs: nowNs) && !influx.spillCanTake(lineBuffer.capacity) {
            if !E.mayShed { metrics.blockedBatches &+= 1; return nil }
            influxOn = false
        }
        if redisOn && redis.wouldSpill(nowNs: nowNs) && !redis.spillCanTake(commandBuffer.capacity) {
            if !E.mayShed { metrics.blockedBatches &+= 1; return nil }
            redisOn = false
        }

        lineBuffer.removeAll()
        commandBuffer.removeAll()
        clock.beginBatch()
        var batch = Batch(offset: offset, taken: 0, lines: 0, commands: 0, influxOn: influxOn, redisOn: redisOn, set: set)
        while batch.taken < n {
            if lineBuffer.remaining < E.maxLineBytes || commandBuffer.remaining < E.maxRespBytes || batch.lines >= lineLimit { break }
            let e = consumer.peek(offset + batch.taken)
            batch.taken += 1
            if let why = E.validate(e) {
                metrics.malformed[why.rawValue] &+= 1
                if loggedMalformed < 10 {
                    loggedMalformed += 1
                    writerLog("\(E.ringName): record at cursor \(consumer.consumed + UInt64(offset + batch.taken - 1)) is malformed (\(why.label)); skipped and counted")
                }
                continue
            }
            if influxOn {
                let ts = clock.stamp(series: E.seriesKey(e), rawNs: E.wallNs(e))
                E.appendLine(e, timestampNs: ts, to: lineBuffer)
                batch.lines += 1
            }
            if redisOn { batch.commands += E.appendRedis(e, keys: w.keys, to: commandBuffer) }
        }
        let released = consumer.consumed
        checkpoint?.save(clock: clock, cursor: released + UInt64(batch.end), released: released,
                         inFlightEnd: offset > 0 ? released + UInt64(offset) : nil)
        return batch
    }

    /// Starts the batch on each sink's thread when it goes straight to the sink.
    func start(_ b: inout Batch, _ w: JournalWriter) {
        let now = Clock.monotonic().ns
        if b.influxOn { b.influxAsync = w.influx.begin(w.influxBuffers[b.set].bytes, count: b.lines, nowNs: now) }
        if b.redisOn { b.redisAsync = w.redis.begin(w.redisBuffers[b.set].bytes, count: b.commands, nowNs: now) }
    }

    /// Completes the batch on both sinks (waiting for the threads, or submitting inline to
    /// go to the spill). True when both handed it off (or shed it, for market data).
    func finish(_ b: Batch, _ w: JournalWriter) -> Bool {
        let influx = w.influx, redis = w.redis
        let lines = w.influxBuffers[b.set].bytes, commands = w.redisBuffers[b.set].bytes
        let now = Clock.monotonic().ns
        let toInflux: Submitted = !b.influxOn ? .delivered
            : b.influxAsync ? influx.end(lines, count: b.lines, nowNs: now) : influx.submit(lines, count: b.lines, nowNs: now)
        let toRedis: Submitted = !b.redisOn ? .delivered
            : b.redisAsync ? redis.end(commands, count: b.commands, nowNs: now) : redis.submit(commands, count: b.commands, nowNs: now)
        // Rings that must not lose records stay put when either sink could not take the batch
        // (the other sink may then get it twice: writes are idempotent).
        if !E.mayShed && (toInflux == .full || toRedis == .full) { return false }
        if influx.enabled && (!b.influxOn || toInflux == .full) { influx.metrics.shedRecords &+= UInt64(b.taken) }
        if redis.enabled && (!b.redisOn || toRedis == .full) { redis.metrics.shedRecords &+= UInt64(b.taken) }
        return true
    }
}

/// The series clock's state at a ring cursor, kept in three rotating files
/// (`<dir>/<instance>.<ring>.series.{0,1,2}`) so a restarted writer re-stamps repeated
/// records exactly as before. Each batch's state is saved when it is encoded, before the
/// sinks have it, and becomes the live one when the cursor reaches its end; three files
/// because two batches may be open (one being written, one encoded behind it) while the
/// state at the cursor itself must survive. Not synced: a killed process loses no
/// page-cache writes; after a power loss timestamps restart fresh. Owned by one ring's drain.
final class SeriesCheckpoint {
    let paths: [String]
    let regionStartNs: Int64
    let buffer: ByteBuffer
    /// The cursor each file holds the state at (nil: none or unreadable).
    var labels: [UInt64?] = [nil, nil, nil]
    static let magic: UInt64 = 0x5445_5349_5245_5354  // "TSERISET"

    init(directory: String, instance: String, ring: String, regionStartNs: Int64, capacity: Int) {
        paths = (0..<3).map { "\(directory)/\(instance).\(ring).series.\($0)" }
        self.regionStartNs = regionStartNs
        buffer = ByteBuffer(capacity: capacity + 64)
    }

    /// Saves the clock's state as the state at `cursor` (the end of a batch just encoded),
    /// keeping the files that hold the state at `released` (the ring's cursor now) and at
    /// `inFlightEnd` (the end of the batch the sinks are writing, when there is one). Any
    /// other file may go, including states a killed writer saved for batches it never
    /// released.
    func save(clock: SeriesClock, cursor: UInt64, released: UInt64, inFlightEnd: UInt64?) {
        let slot = labels.indices.first { i in
            guard let l = labels[i] else { return true }
            return l != released && l != inFlightEnd
        }!  // three files, at most two kept
        buffer.removeAll()
        withUnsafeBytes(of: Self.magic) { buffer.append($0) }
        withUnsafeBytes(of: regionStartNs) { buffer.append($0) }
        withUnsafeBytes(of: cursor) { buffer.append($0) }
        clock.checkpoint(into: buffer)
        let sum = SpillFile.fnv1a(buffer.bytes)
        withUnsafeBytes(of: sum) { buffer.append($0) }
        let fd = open(paths[slot], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        labels[slot] = nil
        if fd >= 0 {
            if write(fd, buffer.base, buffer.count) == buffer.count { labels[slot] = cursor }
            close(fd)
        }
    }

    /// Restores the checkpoint taken at `cursor` for this region, if one exists.
    func restore(into clock: SeriesClock, cursor: UInt64) -> Bool {
        var restored = false
        for (i, path) in paths.enumerated() {
            labels[i] = nil
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            buffer.removeAll()
            let n = read(fd, buffer.base, buffer.capacity)
            close(fd)
            guard n >= 48 else { continue }
            buffer.length = n
            let raw = buffer.bytes
            let body = UnsafeRawBufferPointer(rebasing: raw[0..<(n - 8)])
            guard raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == SpillFile.fnv1a(body),
                  raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self) == Self.magic,
                  raw.loadUnaligned(fromByteOffset: 8, as: Int64.self) == regionStartNs else { continue }
            let at = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            labels[i] = at
            if at == cursor && !restored {
                restored = clock.restore(from: UnsafeRawBufferPointer(rebasing: body[24...]))
            }
        }
        return restored
    }
}
