import Foundation
import Testing

/// Open-loop sending: a client that stops reading never slows the feed; the policy decides
/// what happens to it. The stalled client reads nothing until the server's counters show
/// the policy acted, then drains (SIGUSR1), so the outcome does not depend on timing.
@Suite(.serialized, .needsPython)
struct SlowConsumerTests {
    static func health(_ address: String) -> [String: Any] {
        guard let (status, body) = try? FeedTool.http("GET", address, "/healthz"), status == 200 else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
    }

    static func stalledClient(_ address: String, drainSeconds: Int) throws -> (Process, String) {
        let (client, output) = try FeedTool.backgroundClient(
            ["stall", address, "sym0000usdt@trade/sym0001usdt@bookTicker", "--stall", "60", "--drain", String(drainSeconds)], seconds: 90)
        #expect(FeedTool.waitUntil(seconds: 30) { FeedTool.jsonLines(output).contains { $0["connected"] as? Bool == true } })
        return (client, output)
    }

    @Test func disconnectsAClientThatStopsReading() throws {
        let server = try FeedServerProcess(["--synthetic", "4", "--rate", "0", "--client-buffer-bytes", "65536"])
        let (client, output) = try Self.stalledClient(server.address, drainSeconds: 30)
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 60) { Self.health(server.address)["slow_consumers"] as? Int == 1 })
        #expect(FeedTool.waitUntil(seconds: 30) { Self.health(server.address)["clients"] as? Int == 0 })
        kill(client.processIdentifier, SIGUSR1)
        #expect(FeedTool.waitUntil(seconds: 60) { !client.isRunning })
        let result = FeedTool.jsonLines(output).last ?? [:]
        #expect(result["eof"] as? Bool == true, "\(result)")
    }

    @Test func dropPolicyKeepsTheClientAndCountsLostFrames() throws {
        let server = try FeedServerProcess(["--synthetic", "4", "--rate", "0", "--client-buffer-bytes", "65536", "--slow-consumer", "drop"])
        let (client, output) = try Self.stalledClient(server.address, drainSeconds: 2)
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 60) { (Self.health(server.address)["frames_dropped"] as? Int ?? 0) > 0 })
        kill(client.processIdentifier, SIGUSR1)
        #expect(FeedTool.waitUntil(seconds: 60) { !client.isRunning })
        let result = FeedTool.jsonLines(output).last ?? [:]
        // Still connected: data kept coming for the whole drain, no EOF.
        #expect(result["eof"] as? Bool == false, "\(result)")
        #expect((result["bytes"] as? Int ?? 0) > 0)
        #expect(Self.health(server.address)["slow_consumers"] as? Int == 0)
    }
}
