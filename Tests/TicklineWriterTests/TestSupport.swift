#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineEngine
import TicklineTestSupport
import Testing

/// Shared helpers: child processes with bounded waits, free ports, temp folders, and the
/// real servers (redis-server, influxd) the integration tests start on loopback.
enum TestSupport {
    /// Folder of the test binary: the writer and the peer are built beside it.
    static let buildDirectory: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }()
    static var writerPath: String { buildDirectory.appendingPathComponent("tickline-writer").path }
    static var peerPath: String { buildDirectory.appendingPathComponent("tickline-writer-peer").path }
    static let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let requireReferences = ProcessInfo.processInfo.environment["TICKLINE_REQUIRE_REFERENCES"] == "1"

    static func which(_ name: String) -> String? { executableOnPath(name) }

    static let serversPresent = which("influxd") != nil && which("redis-server") != nil && which("redis-cli") != nil && which("curl") != nil
    static let pythonPresent = which("python3") != nil
    /// Integration tests run when the servers are installed, or must run (and fail) when
    /// TICKLINE_REQUIRE_REFERENCES=1.
    static let runIntegration = serversPresent || requireReferences
    static let runFixture = pythonPresent || requireReferences

    static func tempDirectory(_ tag: String) -> String {
        let path = NSTemporaryDirectory() + "tickline-writer-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A loopback TCP port nobody listens on right now.
    static func freePort() -> Int { freeLoopbackPort() }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Polls `condition` every 50 ms for at most `seconds`; true as soon as it holds.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        TicklineTestSupport.waitUntil(seconds, pollUs: 50_000, condition)
    }

    /// Runs a command to completion (bounded) and returns its stdout; a command that outlives
    /// `seconds` is killed and recorded as an issue.
    @discardableResult
    static func run(_ path: String, _ args: [String], seconds: Double = 60) throws -> (status: Int32, output: String) {
        let r = runCommand(path, args, seconds: seconds)
        if r.status == -1 { Issue.record("\(path) \(args) did not start or finish in \(seconds) s") }
        return r
    }
}

struct WriterTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
