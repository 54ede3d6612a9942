import Foundation
import Testing

/// The synthetic source: subscriptions at run time and books consistent with the diffs.
@Suite(.serialized, .needsPython)
struct SyntheticTests {
    @Test func subscribeAddsAStreamAndUnsubscribeRemovesIt() throws {
        let server = try FeedServerProcess(["--synthetic", "4", "--rate", "3000"])
        let result = try FeedTool.client(["subscribe", server.address, "sym0000usdt@trade", "sym0001usdt@bookTicker", "--after", "200"])
        #expect(result["before_streams"] as? [String] == ["sym0000usdt@trade"])
        #expect((result["subscribe_reply"] as? [String: Any])?["id"] as? Int == 1)
        #expect((result["subscribe_reply"] as? [String: Any])?.keys.contains("result") == true)
        #expect(result["second_after_subscribe"] as? Int == 5)
        #expect((result["list_reply"] as? [String: Any])?["result"] as? [String] == ["sym0000usdt@trade", "sym0001usdt@bookTicker"])
        #expect((result["unsubscribe_reply"] as? [String: Any])?["id"] as? Int == 3)
        // Replies and data share one ordered buffer: nothing of the stream follows the reply.
        #expect(result["second_after_unsubscribe"] as? Int == 0)
        #expect(result["first_after_unsubscribe"] as? Int == 200)
        #expect((result["unknown_method_reply"] as? [String: Any])?["code"] as? Int == 2)
    }

    @Test func snapshotsChainWithTheSyntheticDiffs() throws {
        let server = try FeedServerProcess(["--synthetic", "4", "--rate", "4000", "--seed", "7"])
        let result = try FeedTool.client(["book", server.address, "SYM0002USDT", "--checks", "5", "--between", "20"])
        #expect(result["first_event_ok"] as? Bool == true)
        #expect(result["gaps"] as? Int == 0)
        #expect(result["checks"] as? Int == 5)
        #expect(result["mismatches"] as? Int == 0, "\(result["example"] ?? "")")
    }

    @Test func serverKilledAndRestartedOnTheSamePortAcceptsNewClients() throws {
        let first = try FeedServerProcess(["--synthetic", "2", "--rate", "2000"])
        let address = first.address
        let (holder, output) = try FeedTool.backgroundClient(["hold", address, "sym0000usdt@bookTicker"], seconds: 30)
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 30) { FeedTool.jsonLines(output).contains { $0["connected"] as? Bool == true } })
        first.stop(signal: SIGKILL)
        #expect(FeedTool.waitUntil(seconds: 30) { !holder.isRunning })
        let ended = FeedTool.jsonLines(output).last ?? [:]
        #expect(ended["closed"] as? Bool == true)
        #expect(ended["received_close_frame"] as? Bool == false)

        // The killed server's connections leave TIME_WAIT behind; SO_REUSEADDR lets us bind again.
        let second = try FeedServerProcess(["--synthetic", "2", "--rate", "2000", "--listen", address])
        #expect(second.address == address)
        let result = try FeedTool.client(["receive", address, "sym0001usdt@trade", "--count", "5"])
        #expect(result["received"] as? Int == 5)
        #expect(result["ping_answered"] as? Bool == true)
        // The client closed with 1000; the server completed the handshake by echoing it.
        #expect(result["server_close_code"] as? Int == 1000)
    }
}

extension SyntheticTests {
    @Test func stopsAfterItsDurationWithGoingAway() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "1000", "--wait-clients", "1", "--duration", "1.5"])
        let (holder, output) = try FeedTool.backgroundClient(["hold", server.address, "sym0000usdt@trade"], seconds: 30)
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }; try? FileManager.default.removeItem(atPath: output) }
        #expect(FeedTool.waitUntil(seconds: 40) { !holder.isRunning })
        let ended = FeedTool.jsonLines(output).last ?? [:]
        #expect(ended["closed"] as? Bool == true, "\(ended)")
        #expect(ended["received_code"] as? Int == 1001, "\(ended)")
        #expect(FeedTool.waitUntil(seconds: 30) { !server.process.isRunning })
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
    }
}

/// HTTP routes and the command line, checked without Python.
@Suite(.serialized)
struct HTTPAndCommandLineTests {
    @Test func answersHealthAndRejectsBadRequests() throws {
        let server = try FeedServerProcess(["--synthetic", "3", "--rate", "100"])
        let health = try FeedTool.http("GET", server.address, "/healthz")
        #expect(health.status == 200)
        #expect(health.body.contains("\"status\":\"ok\""))
        #expect(health.body.contains("\"streams\":9"))
        let snapshot = try FeedTool.http("GET", server.address, "/api/v3/depth?symbol=SYM0001USDT&limit=7")
        #expect(snapshot.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(snapshot.body.utf8)) as? [String: Any])
        #expect((object["bids"] as? [[String]])?.count == 7)
        #expect((object["asks"] as? [[String]])?.count == 7)
        let unknown = try FeedTool.http("GET", server.address, "/api/v3/depth?symbol=NOPEUSDT")
        #expect(unknown.status == 400)
        #expect(unknown.body.contains("-1121"))
        #expect(try FeedTool.http("GET", server.address, "/nowhere").status == 404)
        #expect(try FeedTool.http("POST", server.address, "/fault?kind=meteor").status == 400)
        let skip = try FeedTool.http("POST", server.address, "/fault?kind=skip-depth&count=2")
        #expect(skip.status == 200)
        #expect(skip.body.contains("\"count\":2"))
        #expect(try FeedTool.http("POST", server.address, "/fault?kind=skip-depth&symbol=NOPE").status == 400)
    }

    /// Futures mode answers the REST snapshot on the spot and the futures path, with the
    /// event and transaction times futures snapshots carry; spot mode has neither time.
    @Test func futuresModeServesSnapshotsOnBothPathsWithTheirTimes() throws {
        let server = try FeedServerProcess(["--synthetic", "1", "--futures", "--rate", "100"])
        for path in ["/fapi/v1/depth", "/api/v3/depth"] {
            let snapshot = try FeedTool.http("GET", server.address, "\(path)?symbol=SYM0000USDT&limit=5")
            #expect(snapshot.status == 200, "\(path): \(snapshot.body)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(snapshot.body.utf8)) as? [String: Any])
            #expect(object["lastUpdateId"] is Int && object["E"] is Int && object["T"] is Int, "\(path): \(snapshot.body)")
            #expect((object["bids"] as? [[String]])?.count == 5)
        }
        let spot = try FeedServerProcess(["--synthetic", "1", "--rate", "100"])
        let body = try FeedTool.http("GET", spot.address, "/fapi/v1/depth?symbol=SYM0000USDT").body
        #expect(body.hasPrefix("{\"lastUpdateId\":") && !body.contains("\"E\":"), "\(body)")
    }

    @Test func refusesFuturesWithoutSynthetic() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FeedTool.feedPath)
        process.arguments = ["--data", "x.gz", "--futures", "--listen", "127.0.0.1:0"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains("--futures") && text.contains("--synthetic"), "\(text)")
    }

    /// The built-in counting client (`--bench-client`) against the server, no Python needed.
    @Test func benchClientCountsWhatTheServerSends() throws {
        let server = try FeedServerProcess(["--synthetic", "2", "--rate", "2000", "--wait-clients", "1"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FeedTool.feedPath)
        process.arguments = ["--bench-client", "ws://\(server.address)/stream?streams=sym0000usdt@trade/sym0000usdt@bookTicker/sym0000usdt@depth@100ms",
                             "--duration", "1"]
        let output = FeedTool.tempPath("bench")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(FeedTool.waitUntil(seconds: 30) { !process.isRunning })
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let result = FeedTool.jsonLines(output).last ?? [:]
        #expect((result["messages"] as? Int ?? 0) > 0, "\(result)")
        #expect((result["bytes"] as? Int ?? 0) > (result["messages"] as? Int ?? 0))
    }

    @Test(arguments: [
        ["--synthetic", "2", "--data", "x.gz"],
        [] as [String],
        ["--synthetic", "0"],
        ["--synthetic", "2", "--fault", "meteor@3"],
        ["--synthetic", "2", "--slow-consumer", "maybe"],
        ["--data", "/nonexistent/file.gz"],
        ["--synthetic", "2", "--duration=-1"],
        ["--synthetic", "2", "--wait-clients=-1"],
        ["--synthetic", "2", "--rate", "inf"],
        ["--synthetic", "1", "--symbol", "BTCUSDT", "--symbol", "ETHUSDT"],
        ["--synthetic", "2", "--symbol", "btc-usdt"],
    ])
    func refusesBadCommandLines(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FeedTool.feedPath)
        process.arguments = arguments + ["--listen", "127.0.0.1:0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(FeedTool.waitUntil(seconds: 30) { !process.isRunning })
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
    }
}
