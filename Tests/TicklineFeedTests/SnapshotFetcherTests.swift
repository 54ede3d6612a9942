#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineFeed
import TicklineMarketData

/// The REST snapshot thread: each way a request can end, against real sockets.
@Suite(.serialized)
struct SnapshotFetcherTests {
    struct Answer {
        var status: SnapshotStatus
        var http: Int
        var body: [UInt8]
        var symbolIndex: Int32
        var generation: UInt32
    }

    /// Requests symbol 0 and waits (bounded) for the answer.
    func fetch(_ fetcher: SnapshotFetcher, generation: UInt32 = 7, seconds: Double = 15) -> Answer? {
        fetcher.start()
        defer { fetcher.stop() }
        #expect(fetcher.tryRequest(symbolIndex: 0, generation: generation))
        var answer: Answer?
        let deadline = Date().addingTimeInterval(seconds)
        while answer == nil && Date() < deadline {
            fetcher.poll { done in
                answer = Answer(status: done.status, http: done.httpStatus, body: Array(done.body),
                                symbolIndex: done.symbolIndex, generation: done.generation)
            }
            if answer == nil { usleep(1_000) }
        }
        return answer
    }

    @Test(.needsFeedServer) func fetchesASnapshotThatDecodesIntoTheBook() throws {
        let server = try FeedServerProcess(symbols: 2, rate: 100)
        let fetcher = SnapshotFetcher(restBase: "http://\(server.address)/", symbols: ["SYM0001USDT"], limit: 20,
                                      timeoutMs: 5_000, maxBodyBytes: 1 << 20, parallel: 2)
        let answer = try #require(withExtendedLifetime(server) { fetch(fetcher) })
        #expect(answer.status == .ok && answer.http == 200)
        #expect(answer.symbolIndex == 0 && answer.generation == 7)
        let table = try InstrumentTable([InstrumentSpec(symbol: "SYM0001USDT", id: 1, priceDecimals: 8, quantityDecimals: 8)])
        let decoder = BinanceDecoder(instruments: table)
        var message = BinanceMessage()
        #expect(decoder.decode(answer.body, into: &message, fallbackInstrumentIndex: 0) == nil)
        #expect(message.kind == .depthSnapshot)
        #expect(decoder.bids.count == 20 && decoder.asks.count == 20)
        #expect(fetcher.requested == 1)
    }

    @Test(.needsFeedServer) func reportsAnHTTPErrorWithItsStatus() throws {
        let server = try FeedServerProcess(symbols: 1, rate: 100)
        let fetcher = SnapshotFetcher(restBase: "http://\(server.address)", symbols: ["NOSUCHSYMBOL"], limit: 20,
                                      timeoutMs: 5_000, maxBodyBytes: 1 << 20, parallel: 1)
        let answer = try #require(withExtendedLifetime(server) { fetch(fetcher) })
        #expect(answer.status == .httpError && answer.http == 400)
    }

    @Test(.needsFeedServer) func refusesABodyLargerThanTheLimit() throws {
        let server = try FeedServerProcess(symbols: 1, rate: 100)
        let fetcher = SnapshotFetcher(restBase: "http://\(server.address)", symbols: ["SYM0000USDT"], limit: 1_000,
                                      timeoutMs: 5_000, maxBodyBytes: 4_096, parallel: 1)
        let answer = try #require(withExtendedLifetime(server) { fetch(fetcher) })
        #expect(answer.status == .bodyTooLarge)
    }

    @Test func timesOutOnAServerThatNeverAnswers() throws {
        // A listening socket nobody accepts from: the TCP connect succeeds, no response comes.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound && listen(fd, 4) == 0)
        let port = UInt16(bigEndian: address.sin_port)
        let fetcher = SnapshotFetcher(restBase: "http://127.0.0.1:\(port)", symbols: ["BTCUSDT"], limit: 5,
                                      timeoutMs: 300, maxBodyBytes: 1 << 16, parallel: 1)
        let answer = try #require(fetch(fetcher))
        #expect(answer.status == .timedOut)
    }

    @Test func reportsATransportFailureWhenNothingListens() throws {
        // Bind and close: the port is (very likely) free, so the connect is refused.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        close(fd)
        let fetcher = SnapshotFetcher(restBase: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))", symbols: ["BTCUSDT"],
                                      limit: 5, timeoutMs: 2_000, maxBodyBytes: 1 << 16, parallel: 1)
        let answer = try #require(fetch(fetcher))
        #expect(answer.status == .transportFailed)
    }

    /// Each market asks its own REST path, and is charged its own weights.
    @Test func asksTheMarketsDepthPathAndWeighsItsRequests() {
        let spot = SnapshotFetcher(restBase: "http://127.0.0.1:9/", symbols: ["btcusdt"], limit: 5, timeoutMs: 100,
                                   maxBodyBytes: 4_096, parallel: 1)
        let futures = SnapshotFetcher(restBase: "http://127.0.0.1:9", venue: BinanceMarket.usdmFutures, symbols: ["BTCUSDT"], limit: 1_000,
                                      timeoutMs: 100, maxBodyBytes: 4_096, parallel: 1)
        #expect(spot.url(symbolIndex: 0) == "http://127.0.0.1:9/api/v3/depth?symbol=BTCUSDT&limit=5")
        #expect(futures.url(symbolIndex: 0) == "http://127.0.0.1:9/fapi/v1/depth?symbol=BTCUSDT&limit=1000")
        #expect([5, 100, 500, 1_000, 5_000].map { BinanceMarket.spot.snapshotWeight(limit: $0) } == [5, 5, 25, 50, 250])
        #expect([5, 50, 100, 500, 1_000].map { BinanceMarket.usdmFutures.snapshotWeight(limit: $0) } == [2, 2, 5, 10, 20])
    }

    @Test func refusesRequestsWhileEverySlotIsBusy() {
        // Not started: requests stay in their slots.
        let fetcher = SnapshotFetcher(restBase: "http://127.0.0.1:9", symbols: ["A", "B", "C"], limit: 5, timeoutMs: 100,
                                      maxBodyBytes: 4_096, parallel: 2)
        #expect(fetcher.tryRequest(symbolIndex: 0, generation: 1))
        #expect(fetcher.tryRequest(symbolIndex: 1, generation: 1))
        #expect(!fetcher.tryRequest(symbolIndex: 2, generation: 1))
        #expect(fetcher.refusedBusy == 1)
        #expect(fetcher.poll { _ in } == 0)
    }
}

@Suite struct FeedConfigTests {
    @Test func defaultsAreValidAndFollowTheVenueLimits() throws {
        let config = FeedConfig()
        try config.validate()
        #expect(config.streamsPerConnection == 1024)
        #expect(config.controlMessagesPerSecond == 5)
        #expect(config.proactiveReconnectMs == 85_800_000)
    }

    @Test func refusesValuesBeyondTheVenueLimitsNamingTheKey() {
        var config = FeedConfig()
        config.streamsPerConnection = 2_000
        #expect(throws: FeedConfigError.self) { try config.validate() }
        do { try config.validate() } catch { #expect(error.description.contains("streams_per_connection")) }
        config = FeedConfig()
        config.snapshotWeightPerMinute = 10  // below one request of limit 1000 (weight 50)
        do { try config.validate() } catch { #expect(error.description.contains("snapshot_weight_per_minute")) }
        #expect(BinanceMarket.spot.snapshotWeight(limit: 101) == 25)
        // The same budget allows a futures request (weight 20 at 1000 levels).
        config.market = .usdmFutures
        config.snapshotWeightPerMinute = 20
        #expect(throws: Never.self) { try config.validate() }
        config = FeedConfig()
        config.controlMessagesPerSecond = 6
        do { try config.validate() } catch { #expect(error.description.contains("control_messages_per_second = 6")) }
    }
}
