import Foundation
import Testing

/// Open-loop sending: a client that stops reading never slows the feed; the policy decides
/// what happens to it.
@Suite(.serialized, .needsPython)
struct SlowConsumerTests {
    static func health(_ address: String) -> [String: Any] {
        guard let (status, body) = try? FeedTool.http("GET", address, "/healthz"), status == 200 else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func disconnectsAClientThatStopsReading() throws {
        let server = try FeedServerProcess(["--synthetic", "4", "--rate", "0", "--client-buffer-bytes", "65536"])
        let (client, output) = try FeedTool.backgroundClient(["stall", server.address, "sym0000usdt@trade/sym0001usdt@bookTicker", "--stall", "4"], seconds: 30)
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 30) { Self.health(server.address)["slow_consumers"] as? Int == 1 })
        #expect(FeedTool.waitUntil(seconds: 30) { Self.health(server.address)["clients"] as? Int == 0 })
        #expect(FeedTool.waitUntil(seconds: 40) { !client.isRunning })
        let result = FeedTool.jsonLines(output).last ?? [:]
        #expect(result["eof"] as? Bool == true, "\(result)")
    }

    @Test func dropPolicyKeepsTheClientAndCountsLostFrames() throws {
        let server = try FeedServerProcess(["--synthetic", "4", "--rate", "0", "--client-buffer-bytes", "65536", "--slow-consumer", "drop"])
        let (client, output) = try FeedTool.backgroundClient(["stall", server.address, "sym0000usdt@trade/sym0001usdt@bookTicker", "--stall", "3"], seconds: 30)
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 30) { (Self.health(server.address)["frames_dropped"] as? Int ?? 0) > 0 })
        #expect(FeedTool.waitUntil(seconds: 40) { !client.isRunning })
        let result = FeedTool.jsonLines(output).last ?? [:]
        // Still connected after the stall: the drain ended on a quiet second, not on EOF.
        #expect(result["eof"] as? Bool == false, "\(result)")
        #expect((result["bytes"] as? Int ?? 0) > 0)
        #expect(Self.health(server.address)["slow_consumers"] as? Int == 0)
    }
}
