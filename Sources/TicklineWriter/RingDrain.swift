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

    func pump(_ w: JournalWriter, nowNs: Int64) -> Int {
        let n = consumer.available(limit: w.batchRecords)
        guard n > 0 else { return 0 }
        let influx = w.influx, redis = w.redis
        // A sink whose spill cannot take another full batch: hold back rings that must not
        // lose records; shed market data for that sink (counted).
        var influxOn = influx.enabled
        var redisOn = redis.enabled
        if influxOn && influx.wouldSpill(nowNs: nowNs) && !influx.spillCanTake(w.influxBuffer.capacity) {
            if !E.mayShed { metrics.blockedBatches &+= 1; return 0 }
            influxOn = false
        }
        if redisOn && redis.wouldSpill(nowNs: nowNs) && !redis.spillCanTake(w.redisBuffer.capacity) {
            if !E.mayShed { metrics.blockedBatches &+= 1; return 0 }
            redisOn = false
        }

        let lineBuffer = w.influxBuffer, commandBuffer = w.redisBuffer
        lineBuffer.removeAll()
        commandBuffer.removeAll()
        clock.beginBatch()
        var lines = 0
        var commands = 0
        var taken = 0
        let lineLimit = w.influxLineLimit
        while taken < n {
            if lineBuffer.remaining < E.maxLineBytes || commandBuffer.remaining < E.maxRespBytes || lines >= lineLimit { break }
            let e = consumer.peek(taken)
            taken += 1
            if let why = E.validate(e) {
                metrics.malformed[why.rawValue] &+= 1
                if loggedMalformed < 10 {
                    loggedMalformed += 1
                    writerLog("\(E.ringName): record at cursor \(consumer.consumed + UInt64(taken - 1)) is malformed (\(why.label)); skipped and counted")
                }
                continue
            }
            if influxOn {
                let ts = clock.stamp(series: E.seriesKey(e), rawNs: E.wallNs(e))
                E.appendLine(e, timestampNs: ts, to: lineBuffer)
                lines += 1
            }
            if redisOn { commands += E.appendRedis(e, keys: w.keys, to: commandBuffer) }
        }

        let toInflux = influxOn ? influx.submit(lineBuffer.bytes, count: lines, nowNs: nowNs) : .delivered
        if toInflux == .full && !E.mayShed {
            clock.rollback()
            metrics.blockedBatches &+= 1
            return 0
        }
        let toRedis = redisOn ? redis.submit(commandBuffer.bytes, count: commands, nowNs: nowNs) : .delivered
        if toRedis == .full && !E.mayShed {
            clock.rollback()
            metrics.blockedBatches &+= 1
            return 0
        }
        if influx.enabled && (!influxOn || toInflux == .full) { influx.metrics.shedRecords &+= UInt64(taken) }
        if redis.enabled && (!redisOn || toRedis == .full) { redis.metrics.shedRecords &+= UInt64(taken) }

        // Durably handed off: record the timestamp state at the new cursor, then release.
        checkpoint?.save(clock: clock, cursor: consumer.consumed + UInt64(taken))
        consumer.advance(by: taken)
        clock.commitBatch()
        metrics.records &+= UInt64(taken)
        metrics.batches &+= 1
        return taken
    }
}

/// The series clock's state at a ring cursor, kept in two alternating files
/// (`<dir>/<instance>.<ring>.series.{0,1}`) so a restarted writer re-stamps repeated
/// records exactly as before. Written before each cursor advance (not synced: a killed
/// process loses no page-cache writes; after a power loss timestamps restart fresh).
/// Owned by one ring's drain.
final class SeriesCheckpoint {
    let paths: [String]
    let regionStartNs: Int64
    let buffer: ByteBuffer
    var next = 0
    static let magic: UInt64 = 0x5445_5349_5245_5354  // "TSERISET"

    init(directory: String, instance: String, ring: String, regionStartNs: Int64, capacity: Int) {
        paths = (0..<2).map { "\(directory)/\(instance).\(ring).series.\($0)" }
        self.regionStartNs = regionStartNs
        buffer = ByteBuffer(capacity: capacity + 64)
    }

    func save(clock: SeriesClock, cursor: UInt64) {
        buffer.removeAll()
        withUnsafeBytes(of: Self.magic) { buffer.append($0) }
        withUnsafeBytes(of: regionStartNs) { buffer.append($0) }
        withUnsafeBytes(of: cursor) { buffer.append($0) }
        clock.checkpoint(into: buffer)
        let sum = SpillFile.fnv1a(buffer.bytes)
        withUnsafeBytes(of: sum) { buffer.append($0) }
        let fd = open(paths[next], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd >= 0 {
            _ = write(fd, buffer.base, buffer.count)
            close(fd)
        }
        next ^= 1
    }

    /// Restores the checkpoint taken at `cursor` for this region, if one exists.
    func restore(into clock: SeriesClock, cursor: UInt64) -> Bool {
        for (i, path) in paths.enumerated() {
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
                  raw.loadUnaligned(fromByteOffset: 8, as: Int64.self) == regionStartNs,
                  raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self) == cursor else { continue }
            if clock.restore(from: UnsafeRawBufferPointer(rebasing: body[24...])) {
                next = i ^ 1
                return true
            }
        }
        return false
    }
}
