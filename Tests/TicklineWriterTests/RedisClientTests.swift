#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineTestSupport
import TicklineWriter

/// The Redis client against a real `redis-server` in states a restart or a script puts it
/// in: a command refused with "not now" is retried, never counted as written or dropped.
@Suite(.serialized) struct RedisClientTests {
    static func xadds(_ ids: [String]) -> ByteBuffer {
        let out = ByteBuffer(capacity: 4_096)
        for id in ids { RESP.command(["XADD", "s", id, "f", "v"], out) }
        return out
    }

    /// A server busy in a script answers every command with BUSY (as one still loading its
    /// data after a restart answers LOADING): the batch must come back as "retry later".
    @Test func aBusyServerMeansRetryNotWritten() throws {
        guard TestSupport.serversPresent || TestSupport.requireReferences else { return }
        let directory = TestSupport.tempDirectory("redis-busy")
        let redis = RedisServer(directory: directory)
        try redis.start()
        defer { redis.stop() }
        _ = try redis.cli(["CONFIG", "SET", "lua-time-limit", "100"])
        let script = try ChildProcess(launching: TestSupport.which("redis-cli") ?? "/usr/bin/redis-cli",
                                      ["-p", "\(redis.port)", "EVAL", "while true do end", "0"], outputPath: directory + "/script.out")
        defer { script.stop(seconds: 5) }
        #expect(TestSupport.waitUntil(seconds: 10) { ((try? redis.cli(["PING"])) ?? "").hasPrefix("BUSY") }, "the script did not make the server busy")

        let client = RedisClient(address: try RedisAddress.parse("redis://127.0.0.1:\(redis.port)/0"), timeoutMs: 2_000)
        let batch = Self.xadds(["1-1", "1-2"])
        let busy = client.write(batch.bytes, count: 2)
        guard case .retryLater(let reason) = busy else {
            Issue.record("a BUSY server's refusal came back as \(busy): the batch would be counted as written or dropped")
            return
        }
        #expect(reason.contains("BUSY"), "\(reason)")

        _ = try? redis.cli(["SCRIPT", "KILL"])
        #expect(TestSupport.waitUntil(seconds: 10) { (try? redis.cli(["PING"])) == "PONG" })
        #expect(client.write(batch.bytes, count: 2) == .written(duplicates: 0, errors: 0, firstError: nil))
        #expect(try redis.streamLength("s") == 2)
    }
}
