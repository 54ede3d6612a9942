import Foundation
import Testing

/// Each fault is observable by an independent client (Python `websockets`).
@Suite(.serialized, .needsPython)
struct FaultTests {
    static let streams = "sym0000usdt@trade/sym0001usdt@bookTicker"

    @Test func dropClosesTCPWithoutACloseFrame() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "2000"])
        let result = try FeedTool.client(["fault", server.address, Self.streams, "drop"])
        #expect(result["closed"] as? Bool == true)
        #expect(result["received_close_frame"] as? Bool == false)
        #expect(result["sent_code"] is NSNull)
    }

    /// garbage → 1002 (a reserved opcode), oversized → 1009 (a 1 TiB header), bad-utf8 → 1007.
    @Test(arguments: [("garbage", 1002, "ProtocolError"), ("oversized", 1009, "PayloadTooBig"), ("bad-utf8", 1007, "UnicodeDecodeError")])
    func clientFailsTheConnectionWithTheExpectedCode(kind: String, code: Int, cause: String) throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "2000"])
        let result = try FeedTool.client(["fault", server.address, Self.streams, kind])
        #expect(result["closed"] as? Bool == true)
        #expect(result["sent_code"] as? Int == code, "\(result)")
        #expect(result["cause"] as? String == cause, "\(result)")
        let health = try FeedTool.http("GET", server.address, "/healthz")
        #expect(health.body.contains("\"faults\":1"))
    }

    @Test func silenceStopsDataAndPongsThenDataResumes() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "2000"])
        let result = try FeedTool.client(["silence", server.address, Self.streams, "--seconds", "3"])
        #expect(result["checked_within_silence"] as? Bool == true, "the checks took longer than the silence: \(result)")
        #expect(result["ping_answered_during_silence"] as? Bool == false)
        #expect(result["data_during_silence"] as? Bool == false)
        #expect(result["data_after_silence"] as? Bool == true)
        #expect(result["ping_answered_after_silence"] as? Bool == true)
    }

    @Test func skipDepthLeavesOneGapInTheUpdateIds() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "3000"])
        let result = try FeedTool.client(["skip-depth", server.address, "SYM0001USDT", "--diffs", "40"])
        #expect(result["applied"] as? Int == 40)
        #expect(result["gaps"] as? Int == 1, "\(result)")
    }

    @Test func closesAClientThatDoesNotAnswerPings() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "200", "--ping-interval", "0.2", "--pong-timeout", "0.5"])
        let result = try FeedTool.client(["no-pong", server.address, "sym0000usdt@trade"], seconds: 20)
        #expect(result["status_line"] as? String == "HTTP/1.1 101 Switching Protocols")
        #expect((result["pings"] as? Int ?? 0) >= 1)
        #expect(result["close_code"] as? Int == 1008)
        #expect(result["close_reason"] as? String == "pong timeout")
        #expect(result["eof"] as? Bool == true)
        #expect(try FeedTool.http("GET", server.address, "/healthz").body.contains("\"pong_timeouts\":1"))
    }

    @Test func faultScheduledOnTheCommandLineFires() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "1000", "--wait-clients", "1", "--fault", "drop@1"])
        let (holder, output) = try FeedTool.backgroundClient(["hold", server.address, "sym0000usdt@bookTicker"], seconds: 30)
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 40) { !holder.isRunning })
        let ended = FeedTool.jsonLines(output).last ?? [:]
        #expect(ended["closed"] as? Bool == true, "\(ended)")
        #expect(ended["received_close_frame"] as? Bool == false)
    }
}
