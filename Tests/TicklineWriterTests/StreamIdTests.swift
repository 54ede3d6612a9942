#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineTestSupport
import TicklineWriter

/// The stream script against a real `redis-server` on a free loopback port: ids unique and
/// increasing per stream whatever the records' clocks say and however many producers feed
/// a stream; a redelivery recognised by its producer and sequence, and only that.
@Suite(.serialized) struct StreamIdTests {
    static let ms: Int64 = 1_700_000_000_123
    static let wall = WallNanos(ms * 1_000_000 + 456_789)

    /// A redis-server on a free loopback port and a client of it.
    static func server(_ tag: String) throws -> (RedisServer, RedisClient) {
        let redis = RedisServer(directory: TestSupport.tempDirectory(tag))
        try redis.start()
        let client = RedisClient(address: try RedisAddress.parse("redis://127.0.0.1:\(redis.port)/0"), timeoutMs: 2_000)
        return (redis, client)
    }

    static func write(_ orders: [OrderEvent], keys: RedisKeys, _ client: RedisClient) -> RedisOutcome {
        let out = ByteBuffer(capacity: 64 * 1_024)
        for var o in orders { _ = withUnsafePointer(to: &o) { OrderEncoder.appendRedis($0, keys: keys, to: out) } }
        return client.write(out.bytes, count: orders.count)
    }

    static func write(_ fills: [FillEvent], keys: RedisKeys, _ client: RedisClient) -> RedisOutcome {
        let out = ByteBuffer(capacity: 64 * 1_024)
        for var f in fills { _ = withUnsafePointer(to: &f) { FillEncoder.appendRedis($0, keys: keys, to: out) } }
        return client.write(out.bytes, count: fills.count)
    }

    static func order(_ sequence: UInt64, venue: VenueId = 0, wallNs: WallNanos = wall) -> OrderEvent {
        OrderEvent(sequence: sequence, clientOrderId: sequence, instrument: 1, strategy: 2, quantity: Quantity(units: 5),
                   priceDecimals: 2, quantityDecimals: 3, venue: venue, receiveWallNs: wallNs)
    }

    /// Entry ids of a stream, oldest first.
    static func ids(_ redis: RedisServer, _ stream: String) throws -> [String] {
        try redis.cli(["XRANGE", stream, "-", "+"]).split(separator: "\n").map(String.init).filter { $0.contains("-") && $0.first?.isNumber == true }
    }

    static var keys: RedisKeys {
        var k = RedisKeys(instance: "ids", streamMaxLength: 10_000)
        k.producerEpoch = 1_000
        return k
    }

    @Test(.enabled(if: TestSupport.runIntegration, "needs redis-server and redis-cli on PATH"))
    func twoProducersInOneMillisecondGetDistinctIncreasingIds() throws {
        let (redis, client) = try Self.server("ids-same-ms")
        defer { redis.stop() }
        // Venue 0's and venue 1's records both carry sequence 1 and 2 in the same millisecond.
        let batch = [Self.order(1, venue: 0), Self.order(1, venue: 1), Self.order(2, venue: 0), Self.order(2, venue: 1)]
        #expect(Self.write(batch, keys: Self.keys, client) == .written(duplicates: 0, errors: 0, firstError: nil))
        let ids = try Self.ids(redis, "tickline:ids:orders")
        #expect(ids == ["\(Self.ms)-0", "\(Self.ms)-1", "\(Self.ms)-2", "\(Self.ms)-3"], "\(ids)")
    }

    @Test(.enabled(if: TestSupport.runIntegration, "needs redis-server and redis-cli on PATH"))
    func idsKeepIncreasingWhenTheRecordClockGoesBackwards() throws {
        let (redis, client) = try Self.server("ids-backwards")
        defer { redis.stop() }
        let later = Self.wall + 5_000_000_000, earlier = Self.wall - 60_000_000_000
        let batch = [Self.order(1, wallNs: later), Self.order(2, wallNs: earlier), Self.order(3, wallNs: Self.wall)]
        #expect(Self.write(batch, keys: Self.keys, client) == .written(duplicates: 0, errors: 0, firstError: nil))
        let top = Self.ms + 5_000
        #expect(try Self.ids(redis, "tickline:ids:orders") == ["\(top)-0", "\(top)-1", "\(top)-2"])
        // A later record moves the ms on again.
        #expect(Self.write([Self.order(4, wallNs: later + 1_000_000)], keys: Self.keys, client) == .written(duplicates: 0, errors: 0, firstError: nil))
        #expect(try Self.ids(redis, "tickline:ids:orders").last == "\(top + 1)-0")
    }

    /// A producer whose records reach the writer out of order (sequence 3 before 2) loses
    /// none of them: only a sequence already written is a repeat.
    @Test(.enabled(if: TestSupport.runIntegration, "needs redis-server and redis-cli on PATH"))
    func recordsOfOneProducerOutOfOrderAreAllWritten() throws {
        let (redis, client) = try Self.server("ids-out-of-order")
        defer { redis.stop() }
        #expect(Self.write([Self.order(1), Self.order(3), Self.order(2)], keys: Self.keys, client)
                == .written(duplicates: 0, errors: 0, firstError: nil))
        #expect(Self.write([Self.order(2), Self.order(3), Self.order(4)], keys: Self.keys, client)
                == .written(duplicates: 2, errors: 0, firstError: nil))
        #expect(try redis.streamLength("tickline:ids:orders") == 4)
        let sequences = try redis.cli(["XRANGE", "tickline:ids:orders", "-", "+"]).split(separator: "\n")
        var seqs: [String] = []
        for (i, line) in sequences.enumerated() where line == "seq" && i + 1 < sequences.count { seqs.append(String(sequences[i + 1])) }
        #expect(seqs == ["1", "3", "2", "4"])
    }

    /// Entries of a stream as their `seq`, `venue` and `client_order_id` fields, oldest first.
    static func entries(_ redis: RedisServer, _ stream: String) throws -> [String] {
        let lines = try redis.cli(["XRANGE", stream, "-", "+"]).split(separator: "\n").map(String.init)
        var out: [String] = []
        var current: [String: String] = [:]
        for (i, line) in lines.enumerated() where i + 1 < lines.count && ["seq", "venue", "client_order_id"].contains(line) {
            current[line] = lines[i + 1]
            if current.count == 3 {
                out.append("\(current["seq"]!)@\(current["venue"]!)#\(current["client_order_id"]!)")
                current = [:]
            }
        }
        return out
    }

    /// The risk stage numbers its orders once for all venues; each paper venue of the
    /// execution stage numbers its reports from 1. A writer restarted after the server took
    /// a batch sends it again with new records behind it: every record of either producer is
    /// stored exactly once, none taken for another venue's.
    @Test(.enabled(if: TestSupport.runIntegration, "needs redis-server and redis-cli on PATH"))
    func recordsOfSeveralVenuesAreEachStoredOnceAcrossARedelivery() throws {
        let (redis, client) = try Self.server("ids-venues")
        defer { redis.stop() }
        // One counter, orders alternating between venue 0 and venue 1.
        let orders = (UInt64(1)...6).map { Self.order($0, venue: VenueId($0 % 2)) }
        // Two counters: venue 0's reports 1, 2 and venue 1's reports 1, 2 (each an execution).
        func fill(_ seq: UInt64, venue: VenueId, clientOrderId: UInt64, qty: Int64) -> FillEvent {
            var f = FillEvent(sequence: seq, clientOrderId: clientOrderId, instrument: 1, strategy: 2, price: Price(units: 10_000),
                              quantity: Quantity(units: qty), venueTradeId: seq, status: .partiallyFilled, priceDecimals: 2,
                              quantityDecimals: 3, receiveWallNs: Self.wall)
            f.stageRaw = StageId.execution.rawValue
            f.venue = venue
            return f
        }
        let fills = [fill(1, venue: 0, clientOrderId: 2, qty: 10), fill(1, venue: 1, clientOrderId: 1, qty: 100),
                     fill(2, venue: 0, clientOrderId: 2, qty: 20), fill(2, venue: 1, clientOrderId: 1, qty: 200)]
        #expect(Self.write(Array(orders.prefix(4)), keys: Self.keys, client) == .written(duplicates: 0, errors: 0, firstError: nil))
        #expect(Self.write(Array(fills.prefix(3)), keys: Self.keys, client) == .written(duplicates: 0, errors: 0, firstError: nil))

        // The restarted writer: the same region (epoch), the last batches again and what followed them.
        let restarted = RedisClient(address: client.address, timeoutMs: 2_000)
        #expect(Self.write(Array(orders[2...]), keys: Self.keys, restarted) == .written(duplicates: 2, errors: 0, firstError: nil))
        #expect(Self.write(fills, keys: Self.keys, restarted) == .written(duplicates: 3, errors: 0, firstError: nil))
        #expect(try Self.entries(redis, "tickline:ids:orders") == ["1@1#1", "2@0#2", "3@1#3", "4@0#4", "5@1#5", "6@0#6"])
        #expect(try Self.entries(redis, "tickline:ids:fills") == ["1@0#2", "1@1#1", "2@0#2", "2@1#1"])
        #expect(try redis.hashField("tickline:ids:position:1", "qty_units") == "330")
    }

    /// A writer killed after the server took a batch but before the cursor moved sends the
    /// batch again on restart: the repeats are refused by identity (counted as duplicates),
    /// the new records behind them written, positions moved once. A new engine run (a new
    /// region, sequences from 1 again) is not a redelivery.
    @Test(.enabled(if: TestSupport.runIntegration, "needs redis-server and redis-cli on PATH"))
    func aRedeliveryAfterAWriterRestartIsRecognisedByProducerAndSequence() throws {
        let (redis, client) = try Self.server("ids-redelivery")
        defer { redis.stop() }
        func report(_ seq: UInt64, _ status: OrderStatus, qty: Int64 = 0, strategy: StrategyId = 2, side: Side = .buy) -> FillEvent {
            FillEvent(sequence: seq, clientOrderId: 9, instrument: 1, strategy: strategy, side: side, price: Price(units: qty > 0 ? 10_000 : 0),
                      quantity: Quantity(units: qty), venueTradeId: qty > 0 ? seq : 0, status: status, priceDecimals: 2,
                      quantityDecimals: 3, receiveWallNs: Self.wall)
        }
        let first = [report(1, .accepted), report(2, .partiallyFilled, qty: 250), report(3, .filled, qty: 750, strategy: 4)]
        #expect(Self.write(first, keys: Self.keys, client) == .written(duplicates: 0, errors: 0, firstError: nil))

        // The restarted writer: a new connection, the same region (epoch), the batch again and one more.
        let restarted = RedisClient(address: client.address, timeoutMs: 2_000)
        let again = first + [report(4, .filled, qty: 500, side: .sell)]
        #expect(Self.write(again, keys: Self.keys, restarted) == .written(duplicates: 3, errors: 0, firstError: nil))
        #expect(try redis.streamLength("tickline:ids:reports") == 1)
        #expect(try redis.streamLength("tickline:ids:fills") == 3)
        #expect(try redis.hashField("tickline:ids:position:1", "qty_units") == "500")  // 250 + 750 − 500
        #expect(try redis.hashField("tickline:ids:position:1:2", "qty_units") == "-250")
        #expect(try redis.hashField("tickline:ids:position:1:4", "qty_units") == "750")
        let fillIds = try Self.ids(redis, "tickline:ids:fills")
        #expect(try redis.hashField("tickline:ids:position:1", "last_fill_id") == fillIds.last)

        // The engine restarted: a new region, its execution stage numbers from 1 again.
        var next = Self.keys
        next.producerEpoch = 2_000
        #expect(Self.write([report(1, .filled, qty: 100)], keys: next, restarted) == .written(duplicates: 0, errors: 0, firstError: nil))
        #expect(try redis.streamLength("tickline:ids:fills") == 4)
        #expect(try redis.hashField("tickline:ids:position:1", "qty_units") == "600")
    }
}
