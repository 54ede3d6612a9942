import Foundation
import Testing

/// Recorded data through tickline-feed to an independent client (Python `websockets`).
@Suite(.serialized, .needsRecording)
struct ReplayTests {
    static let allStreams = "btcusdt@trade/btcusdt@bookTicker/btcusdt@depth@100ms"

    @Test func combinedStreamCarriesTheRecordedJSONByteForByte() throws {
        let server = try FeedServerProcess(["--data"] + FeedTool.dataFiles + ["--wait-clients", "1", "--rate", "20000"])
        let result = try FeedTool.client(["replay", server.address, Self.allStreams, FeedTool.dataFiles[0], "--count", "5000"])
        #expect(result["received"] as? Int == 5000)
        #expect(result["identical"] as? Bool == true, "first mismatch: \(result["sample"] ?? "none")")
        let kinds = result["kinds"] as? [String: Int] ?? [:]
        #expect((kinds["trade"] ?? 0) > 0 && (kinds["bookTicker"] ?? 0) > 0 && (kinds["depthUpdate"] ?? 0) > 0, "\(kinds)")
    }

    @Test func rawStreamCarriesTheBareRecordedEvents() throws {
        let server = try FeedServerProcess(["--data", FeedTool.dataFiles[0], "--wait-clients", "1", "--rate", "20000"])
        let result = try FeedTool.client(["replay", server.address, "btcusdt@trade", FeedTool.dataFiles[0], "--count", "500", "--raw"])
        #expect(result["received"] as? Int == 500)
        #expect(result["identical"] as? Bool == true, "first mismatch: \(result["sample"] ?? "none")")
    }

    @Test func snapshotsChainWithTheRecordedDiffs() throws {
        let server = try FeedServerProcess(["--data", FeedTool.dataFiles[0], "--wait-clients", "1", "--rate", "5000"])
        let result = try FeedTool.client(["book", server.address, "BTCUSDT", "--checks", "5", "--between", "20"])
        #expect(result["first_event_ok"] as? Bool == true)
        #expect(result["gaps"] as? Int == 0)
        #expect(result["checks"] as? Int == 5)
        #expect(result["mismatches"] as? Int == 0, "\(result["example"] ?? "")")
        #expect((result["applied"] as? Int ?? 0) >= 100)
    }

    /// Before any diff is sent, the snapshot is the recorded REST snapshot (line 8 of the first file).
    @Test func servesTheRecordedSnapshotBeforeAnyDiff() throws {
        let server = try FeedServerProcess(["--data", FeedTool.dataFiles[0], "--wait-clients", "1"])
        let (status, body) = try FeedTool.http("GET", server.address, "/api/v3/depth?symbol=btcusdt&limit=5")
        #expect(status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect((object["lastUpdateId"] as? NSNumber)?.int64Value == 50_093_239_218)
        let bids = try #require(object["bids"] as? [[String]])
        #expect(bids.count == 5)
        #expect(bids.first == ["61837.63000000", "3.78826000"])
    }
}

extension ReplayTests {
    @Test func severalClientsReceiveTheSameRecordedStream() throws {
        let server = try FeedServerProcess(["--data", FeedTool.dataFiles[0], "--wait-clients", "3", "--rate", "20000"])
        let result = try FeedTool.client(["replay", server.address, Self.allStreams, FeedTool.dataFiles[0], "--count", "2000", "--clients", "3"])
        #expect(result["received"] as? Int == 2000)
        #expect(result["identical"] as? Bool == true, "first mismatch: \(result["sample"] ?? "none")")
    }
}
