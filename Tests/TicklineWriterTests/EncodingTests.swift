#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineConfig
import TicklineCore
@testable import TicklineWriter

@Suite struct ByteBufferNumberTests {
    @Test func unsignedAndFixedPointDigitsMatchTheStandardLibraryAtEveryLength() {
        var values: [UInt64] = [0, 9, 10, 11, 99, 100, 101, 999, 1_000, UInt64.max, UInt64.max - 1, 10_000_000_000_000_000_000]
        var p: UInt64 = 1
        for _ in 0..<19 { values += [p - 1, p, p + 1]; p *= 10 }
        let out = ByteBuffer(capacity: 64)
        for v in values {
            out.removeAll()
            out.append(unsigned: v)
            #expect(out.text == String(v))
            #expect(ByteBuffer.digitCount(v) == String(v).count)
        }
        for (units, decimals, text) in [(Int64(6_183_763), UInt8(2), "61837.63"), (5, 3, "0.005"), (-1_500, 3, "-1.500"),
                                        (Int64.min, 0, String(Int64.min)), (Int64.max, 18, "9.223372036854775807")] {
            out.removeAll()
            out.append(fixed: units, decimals: decimals)
            #expect(out.text == text)
            #expect(ByteBuffer.fixedLength(units, decimals: decimals) == text.utf8.count)
        }
    }
}

@Suite struct LineProtocolTests {
    @Test func escapesEachElementAsSpecsSectionSixTwoSays() {
        #expect(LineProtocol.escape("my meas,x", as: .measurement) == #"my\ meas\,x"#)
        #expect(LineProtocol.escape("tag key=1", as: .tagOrFieldKey) == #"tag\ key\=1"#)
        #expect(LineProtocol.escape("a,b=c d", as: .tagOrFieldKey) == #"a\,b\=c\ d"#)
        #expect(LineProtocol.escape("f k", as: .tagOrFieldKey) == #"f\ k"#)
        #expect(LineProtocol.escape(#"he said "hi" \ ok"#, as: .stringFieldValue) == #"he said \"hi\" \\ ok"#)
        // Nothing else is escaped: quotes in names, '=' in a measurement, commas in strings.
        #expect(LineProtocol.escape(#"a"b=c"#, as: .measurement) == #"a"b=c"#)
        #expect(LineProtocol.escape("x,y=z", as: .stringFieldValue) == "x,y=z")
        // A newline would end the line: replaced by a space.
        #expect(LineProtocol.escape("a\nb", as: .tagOrFieldKey) == #"a\ b"#)
    }

    @Test func reproducesTheOfficialClientsExampleLine() {
        let out = ByteBuffer(capacity: 256)
        LineProtocol.appendEscaped("my meas,x", as: .measurement, to: out)
        out.append(",")
        LineProtocol.appendEscaped("tag key=1", as: .tagOrFieldKey, to: out)
        out.append("=")
        LineProtocol.appendEscaped("a,b=c d", as: .tagOrFieldKey, to: out)
        out.append(" ")
        LineProtocol.appendEscaped("f k", as: .tagOrFieldKey, to: out)
        out.append("=\"")
        LineProtocol.appendEscaped(#"he said "hi" \ ok"#, as: .stringFieldValue, to: out)
        out.append("\",flag=true,px=")
        out.append(fixed: 6_183_763, decimals: 2)
        out.append(",qty=5i ")
        out.append(signed: 1_723_161_255_208)
        #expect(out.text == #"my\ meas\,x,tag\ key\=1=a\,b\=c\ d f\ k="he said \"hi\" \\ ok",flag=true,px=61837.63,qty=5i 1723161255208"#)
    }

    @Test func writesFixedPointValuesExactlyWithoutDouble() {
        func text(_ u: Int64, _ d: UInt8) -> String {
            let b = ByteBuffer(capacity: 64)
            b.append(fixed: u, decimals: d)
            #expect(b.count == ByteBuffer.fixedLength(u, decimals: d))
            return b.text
        }
        #expect(text(6_183_763, 2) == "61837.63")
        #expect(text(5, 3) == "0.005")
        #expect(text(-5, 3) == "-0.005")
        #expect(text(-1_200, 2) == "-12.00")
        #expect(text(42, 0) == "42")
        #expect(text(Int64.min, 18) == "-9.223372036854775808")
        #expect(text(Int64.max, 0) == "9223372036854775807")
    }

    @Test func encodesRespArgumentsWithTheirByteLengths() {
        let b = ByteBuffer(capacity: 256)
        RESP.beginCommand(argumentCount: 4, b)
        RESP.argument("HSET", b)
        RESP.argument(prefix: Array("k:".utf8), id: 42, b)
        RESP.argument(unsigned: 1_700_000_000_123, b)
        RESP.argument(fixed: -150, decimals: 2, b)
        #expect(b.text == "*4\r\n$4\r\nHSET\r\n$4\r\nk:42\r\n$13\r\n1700000000123\r\n$5\r\n-1.50\r\n")
    }
}

@Suite struct EncoderTests {
    let keys = RedisKeys(instance: "t1", streamMaxLength: 1_000)

    @Test func encodesATradeAsOneLineStampedWithItsReceiveTime() {
        var e = MarketEvent(sequence: 9, instrument: 3, venue: 2, kind: .trade, flags: MarketEvent.flagAggressorSold, priceDecimals: 2,
                            quantityDecimals: 3, price: Price(units: 6_183_763), quantity: Quantity(units: 1_500),
                            venueSequence: 77, venueTimeNs: 1_700_000_000_000_000_000, receiveWallNs: 1_700_000_000_000_000_123)
        let out = ByteBuffer(capacity: 1_024)
        withUnsafePointer(to: &e) { MarketEncoder.appendLine($0, timestampNs: $0.pointee.receiveWallNs.ns, to: out) }
        #expect(out.text == "market,instrument=3,kind=trade,venue=2 price=61837.63,qty=1.500,aggressor_sold=true,trade_id=77i,venue_ns=1700000000000000000i,seq=9i 1700000000000000123\n")
    }

    @Test func passesTheProducerIdentityAndReceiveMillisecondsToTheStreamScript() {
        var k = keys
        k.producerEpoch = 77
        var s = SignalEvent(sequence: 12, instrument: 1, venue: 1, strategy: 2, side: .sell, quantity: Quantity(units: 5),
                            priceDecimals: 1, quantityDecimals: 0, receiveWallNs: 1_700_000_000_123_456_789)
        let out = ByteBuffer(capacity: 4_096)
        let n = withUnsafePointer(to: &s) { SignalEncoder.appendRedis($0, keys: k, to: out) }
        #expect(n == 1)
        let script = "\(StreamScript.text)"
        // EVAL script 2 stream delivered-set maxlen sequence ms, then 11 field pairs; the
        // delivered set is the strategy stage's (2) on the signal's venue (1).
        #expect(out.text.hasPrefix("*30\r\n$4\r\nEVAL\r\n$\(script.utf8.count)\r\n\(script)\r\n$1\r\n2\r\n$19\r\ntickline:t1:signals\r\n"
                                   + "$36\r\ntickline:t1:delivered:signals/2/1/77\r\n$4\r\n1000\r\n$2\r\n12\r\n$13\r\n1700000000123\r\n"),
                "\(out.text.prefix(200))")
    }

    @Test func sendsExecutionsToFillsAndStateChangesToReports() {
        var fill = FillEvent(sequence: 3, instrument: 4, strategy: 5, side: .sell, price: Price(units: 100), quantity: Quantity(units: 7),
                             venueTradeId: 1, status: .filled, receiveWallNs: 1_700_000_000_000_000_000)
        var ack = FillEvent(sequence: 2, instrument: 4, strategy: 5, status: .accepted, receiveWallNs: 1_700_000_000_000_000_000)
        let out = ByteBuffer(capacity: 8_192), lines = ByteBuffer(capacity: 2_048)
        _ = withUnsafePointer(to: &fill) { FillEncoder.appendRedis($0, keys: keys, to: out) }
        #expect(out.text.contains("tickline:t1:fills\r\n") && out.text.contains("tickline:t1:position:4\r\n")
                && out.text.contains("tickline:t1:position:4:5\r\n") && out.text.contains("$2\r\n-7\r\n"))
        out.removeAll()
        _ = withUnsafePointer(to: &ack) { FillEncoder.appendRedis($0, keys: keys, to: out) }
        #expect(out.text.contains("tickline:t1:reports\r\n") && !out.text.contains("position"))
        withUnsafePointer(to: &fill) { FillEncoder.appendLine($0, timestampNs: 1, to: lines) }
        withUnsafePointer(to: &ack) { FillEncoder.appendLine($0, timestampNs: 2, to: lines) }
        #expect(lines.text.hasPrefix("fills,instrument=4,strategy=5,venue=0 ") && lines.text.contains("\nreports,instrument=4,strategy=5,venue=0 "))
        #expect(withUnsafePointer(to: &fill) { FillEncoder.seriesKey($0) } != withUnsafePointer(to: &ack) { FillEncoder.seriesKey($0) })
    }

    /// Every kind names its venue the same way: the last tag of its line (`venue=<id>`) and a
    /// `venue` field of its Redis entry or hash.
    @Test func everyKindNamesItsVenueAsATagAndARedisField() {
        let wall = WallNanos(1_700_000_000_000_000_000)
        func check<E: JournalEncoder>(_ encoder: E.Type, _ event: E.Event, _ prefix: String) {
            var e = event
            let line = ByteBuffer(capacity: 1_024), redis = ByteBuffer(capacity: 8_192)
            withUnsafePointer(to: &e) { E.appendLine($0, timestampNs: wall.ns, to: line) }
            _ = withUnsafePointer(to: &e) { E.appendRedis($0, keys: keys, to: redis) }
            #expect(line.text.hasPrefix(prefix + ",venue=7 "), "\(line.text)")
            #expect(line.text.components(separatedBy: "venue=").count == 2, "\(line.text)")
            #expect(redis.text.contains("\r\n$5\r\nvenue\r\n$1\r\n7\r\n"), "\(E.self)")
        }
        check(MarketEncoder.self, MarketEvent(instrument: 1, venue: 7, kind: .trade, receiveWallNs: wall), "market,instrument=1,kind=trade")
        check(MarketEncoder.self, MarketEvent(instrument: 1, venue: 7, kind: .quote, receiveWallNs: wall), "market,instrument=1,kind=quote")
        check(MarketEncoder.self, MarketEvent(instrument: 1, venue: 7, kind: .stale, receiveWallNs: wall), "market,instrument=1,kind=stale")
        check(BarEncoder.self, BarEvent(instrument: 1, venue: 7, kind: .seconds1, endWallNs: wall), "bars,instrument=1,timeframe=1s")
        check(SignalEncoder.self, SignalEvent(instrument: 1, venue: 7, strategy: 2, horizon: .swing, receiveWallNs: wall),
              "signals,instrument=1,strategy=2")
        check(OrderEncoder.self, OrderEvent(instrument: 1, strategy: 2, venue: 7, receiveWallNs: wall), "orders,instrument=1,strategy=2")
        var fill = FillEvent(instrument: 1, strategy: 2, quantity: Quantity(units: 3), receiveWallNs: wall)
        fill.venue = 7
        check(FillEncoder.self, fill, "fills,instrument=1,strategy=2")
        fill.quantity = .zero
        fill.statusRaw = OrderStatus.accepted.rawValue
        check(FillEncoder.self, fill, "reports,instrument=1,strategy=2")
        check(RiskEncoder.self, RiskEvent(kind: .denial, scope: .symbol, instrument: 1, venue: 7, receiveWallNs: wall),
              "risk,kind=denial,scope=symbol")
        // Risk events of two venues are two series.
        var a = RiskEvent(kind: .denial, scope: .symbol, venue: 0), b = RiskEvent(kind: .denial, scope: .symbol, venue: 1)
        #expect(withUnsafePointer(to: &a) { RiskEncoder.seriesKey($0) } != withUnsafePointer(to: &b) { RiskEncoder.seriesKey($0) })
    }

    @Test func rejectsMalformedRecordsWithAReason() {
        var m = MarketEvent(kind: .trade, receiveWallNs: 1_700_000_000_000_000_000)
        m.kindRaw = 99
        #expect(withUnsafePointer(to: &m) { MarketEncoder.validate($0) } == .unknownEnum)
        var s = SignalEvent(priceDecimals: 40, receiveWallNs: 1_700_000_000_000_000_000)
        #expect(withUnsafePointer(to: &s) { SignalEncoder.validate($0) } == .badDecimals)
        var o = OrderEvent(receiveWallNs: 0)
        #expect(withUnsafePointer(to: &o) { OrderEncoder.validate($0) } == .badTimestamp)
        var ok = FillEvent(receiveWallNs: 1_700_000_000_000_000_000)
        #expect(withUnsafePointer(to: &ok) { FillEncoder.validate($0) } == nil)
    }
}

@Suite struct SeriesClockTests {
    @Test func keepsTwoPointsOfOneSeriesInTheSameNanosecondApart() {
        let c = SeriesClock(batchCapacity: 16)
        c.beginBatch()
        #expect(c.stamp(series: 1 << 63 | 1, rawNs: 1_000) == 1_000)
        #expect(c.stamp(series: 1 << 63 | 1, rawNs: 1_000) == 1_001)
        #expect(c.stamp(series: 1 << 63 | 1, rawNs: 1_000) == 1_002)
        #expect(c.stamp(series: 1 << 63 | 2, rawNs: 1_000) == 1_000)  // another series is independent
        #expect(c.stamp(series: 1 << 63 | 1, rawNs: 5_000) == 5_000)
        #expect(c.bumped == 2)
    }

    @Test func stampsARolledBackBatchTheSameWayAgain() {
        let c = SeriesClock(batchCapacity: 16)
        c.beginBatch()
        _ = c.stamp(series: 1 << 63 | 1, rawNs: 1_000)
        c.commitBatch()
        c.beginBatch()
        let first = (0..<3).map { _ in c.stamp(series: 1 << 63 | 1, rawNs: 1_000) }
        #expect(c.rollback())
        c.beginBatch()
        let again = (0..<3).map { _ in c.stamp(series: 1 << 63 | 1, rawNs: 1_000) }
        #expect(first == [1_001, 1_002, 1_003])
        #expect(again == first)
    }

    @Test func keepsTwoOpenBatchesAndUndoesOnlyWhatWasNotReleased() {
        let c = SeriesClock(batchCapacity: 4)
        let s: UInt64 = 1 << 63 | 7
        c.beginBatch()                                  // A: being written by the sinks
        let a = (0..<2).map { _ in c.stamp(series: s, rawNs: 1_000) }
        c.beginBatch()                                  // B: encoded behind A
        let b = (0..<2).map { _ in c.stamp(series: s, rawNs: 1_000) }
        #expect(a == [1_000, 1_001] && b == [1_002, 1_003])
        c.commitBatch()                                 // A released
        #expect(c.openBatches == 1)
        #expect(c.rollback())                           // B not handed off
        c.beginBatch()
        #expect((0..<2).map { _ in c.stamp(series: s, rawNs: 1_000) } == b)
        c.beginBatch()
        _ = c.stamp(series: s, rawNs: 1_000)
        #expect(c.rollback())                           // both open batches undone
        #expect(c.openBatches == 0)
        c.beginBatch()
        #expect((0..<2).map { _ in c.stamp(series: s, rawNs: 1_000) } == b)
        #expect(c.bumped == 3)
    }

    @Test func resumesFromACheckpointAsIfNeverStopped() {
        let a = SeriesClock(batchCapacity: 16)
        a.beginBatch()
        _ = a.stamp(series: 1 << 63 | 1, rawNs: 1_000)
        _ = a.stamp(series: 1 << 63 | 1, rawNs: 1_000)
        a.commitBatch()
        let saved = ByteBuffer(capacity: 1 << 20)
        a.checkpoint(into: saved)
        let b = SeriesClock(batchCapacity: 16)
        #expect(b.restore(from: saved.bytes))
        #expect(b.stamp(series: 1 << 63 | 1, rawNs: 1_000) == a.stamp(series: 1 << 63 | 1, rawNs: 1_000))
    }
}

@Suite struct SpillFileTests {
    @Test func replaysBatchesInOrderAndCutsATornTailAtOpen() throws {
        let dir = TestSupport.tempDirectory("spill")
        let path = dir + "/s.spill"
        do {
            let s = try SpillFile(path: path, maxBytes: 1 << 20, maxChunkBytes: 1_024)
            for i in 0..<3 {
                let text = Array("batch \(i)\n".utf8)
                #expect(text.withUnsafeBytes { s.append($0, count: i + 1) })
            }
            let (payload, count) = try #require(s.peek())
            #expect(String(decoding: payload, as: UTF8.self) == "batch 0\n" && count == 1)
            s.consume()
        }
        // A crash mid-append: garbage after the last whole record.
        let fd = open(path, O_WRONLY | O_APPEND)
        _ = write(fd, "TLSPxx", 6)
        close(fd)
        let reopened = try SpillFile(path: path, maxBytes: 1 << 20, maxChunkBytes: 1_024)
        #expect(reopened.tornAtOpen == 1)
        #expect(reopened.chunks == 2)
        let (payload, count) = try #require(reopened.peek())
        #expect(String(decoding: payload, as: UTF8.self) == "batch 1\n" && count == 2)
    }

    @Test func refusesABatchThatWouldPassTheBound() throws {
        let dir = TestSupport.tempDirectory("spillfull")
        let s = try SpillFile(path: dir + "/s.spill", maxBytes: 100, maxChunkBytes: 1_024)
        let big = [UInt8](repeating: 65, count: 60)
        #expect(big.withUnsafeBytes { s.append($0, count: 1) })
        #expect(!big.withUnsafeBytes { s.append($0, count: 1) })
    }
}

@Suite struct WriterConfigTests {
    @Test func readsTheWriterSectionWithDefaultsForMissingKeys() throws {
        let yaml = """
            instance: x
            writer:
              influx:
                url: http://10.0.0.1:8086/api/v2/write?org=o&bucket=b
                token: secret
                gzip: true
              redis:
                url: redis://:pw@10.0.0.2:6380/3
                stream_max_length: 5000
              spill_dir: /tmp/spill
              on_region_gone: exit
            """
        let c = try EngineConfig.parse(yaml, file: "t.yaml", onlineCpus: 2).writer
        #expect(c.influx.url == "http://10.0.0.1:8086/api/v2/write?org=o&bucket=b")
        #expect(c.influx.gzip && c.influx.token == "secret" && c.influx.batchLines == 5_000)
        #expect(c.redis.streamMaxLength == 5_000)
        #expect(c.spillDirectory == "/tmp/spill" && c.onRegionGone == "exit" && c.batchRecords == 5_000)
        let env = c.applyingEnvironment(["TICKLINE_REDIS_URL": "redis://127.0.0.1:6379/0"])
        #expect(env.redis.url == "redis://127.0.0.1:6379/0" && env.influx.url == c.influx.url)
    }

    @Test func namesTheLineAndKeyOfABadWriterValue() {
        let yaml = "writer:\n  redis:\n    url: http://nope\n"
        #expect(throws: ConfigError.self) { try EngineConfig.parse(yaml, file: "t.yaml", onlineCpus: 2) }
        do {
            _ = try EngineConfig.parse("writer:\n  spill_max: 5\n", file: "t.yaml", onlineCpus: 2)
            Issue.record("an unknown key was accepted")
        } catch {
            #expect(error.description.contains("t.yaml:2") && error.description.contains("writer.spill_max"))
        }
    }

    @Test func parsesRedisAddressesWithPasswordAndDatabase() throws {
        let a = try RedisAddress.parse("redis://:p%40ss@127.0.0.1:6390/2")
        #expect(a.host == "127.0.0.1" && a.port == 6390 && a.password == "p@ss" && a.user == nil && a.database == 2)
        let b = try RedisAddress.parse("redis://user:pw@h")
        #expect(b.user == "user" && b.password == "pw" && b.port == 6379 && b.database == 0)
        #expect(throws: WriterError.self) { try RedisAddress.parse("redis://h:99999/0") }
    }
}

@Suite struct SeriesCheckpointTests {
    /// A writer killed with two batches encoded past its cursor left files for cursors it
    /// never released; the restarted writer must reuse them (it crashed here once).
    @Test func aRestartedWriterOverwritesStatesOfBatchesItNeverReleased() {
        let dir = TestSupport.tempDirectory("ckpt")
        let clock = SeriesClock(batchCapacity: 8)
        let before = SeriesCheckpoint(directory: dir, instance: "i", ring: "r", regionStartNs: 1, capacity: 1 << 16)
        before.save(clock: clock, cursor: 100, released: 0, inFlightEnd: nil)
        before.save(clock: clock, cursor: 200, released: 0, inFlightEnd: 100)
        before.save(clock: clock, cursor: 300, released: 100, inFlightEnd: 200)  // killed: cursor stays at 100
        let after = SeriesCheckpoint(directory: dir, instance: "i", ring: "r", regionStartNs: 1, capacity: 1 << 16)
        #expect(after.restore(into: SeriesClock(batchCapacity: 8), cursor: 100))
        #expect(Set(after.labels.compactMap { $0 }) == [100, 200, 300])
        // Different batch boundaries now: one batch past both stale states, then another.
        after.save(clock: clock, cursor: 400, released: 100, inFlightEnd: nil)
        after.save(clock: clock, cursor: 520, released: 100, inFlightEnd: 400)
        #expect(after.labels.contains(100) && after.labels.contains(400) && after.labels.contains(520))
        let again = SeriesCheckpoint(directory: dir, instance: "i", ring: "r", regionStartNs: 1, capacity: 1 << 16)
        #expect(again.restore(into: SeriesClock(batchCapacity: 8), cursor: 100))
    }
}
