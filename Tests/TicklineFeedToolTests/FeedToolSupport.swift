#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineTestSupport
import Testing

/// Finds the built tool, the venv Python with `websockets` and the recordings; starts
/// servers and clients as child processes with bounded waits.
enum FeedTool {
    /// Folder of the test binary: `tickline-feed` is built beside it.
    static let buildDirectory: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }()
    static var feedPath: String { buildDirectory.appendingPathComponent("tickline-feed").path }

    /// <package root> (this file is <root>/Tests/TicklineFeedToolTests/FeedToolSupport.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let clientScript = packageRoot.appendingPathComponent("Tests/TicklineFeedToolTests/Clients/feed_client.py").path

    static let environment = ProcessInfo.processInfo.environment
    static let requireReferences = environment["TICKLINE_REQUIRE_REFERENCES"] == "1"
    /// TICKLINE_PYTHON, else <package root>/.venv/bin/python.
    static let python = environment["TICKLINE_PYTHON"] ?? packageRoot.appendingPathComponent(".venv/bin/python").path
    static let pythonPresent = FileManager.default.isExecutableFile(atPath: python)
    /// Python clients run when the venv exists, or must run (and fail) when required.
    static let runPython = pythonPresent || requireReferences

    static let dataDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/binance_spot_btcusdt")
    static let dataFiles = ["btcusdt_20240808.gz", "btcusdt_20240809.gz"].map { dataDirectory.appendingPathComponent($0).path }
    static let dataPresent = dataFiles.allSatisfy { FileManager.default.isReadableFile(atPath: $0) }
    static let runRecorded = (pythonPresent && dataPresent) || requireReferences

    static func tempPath(_ tag: String) -> String {
        NSTemporaryDirectory() + "tickline-feed-test-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Polls `condition` every 20 ms for at most `seconds`.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        TicklineTestSupport.waitUntil(seconds, pollUs: 20_000, condition)
    }

    /// Runs a Python client scenario (bounded) and returns its JSON answer.
    static func client(_ arguments: [String], seconds: Double = 60) throws -> [String: Any] {
        try #require(pythonPresent, "TICKLINE_REQUIRE_REFERENCES=1 but \(python) is missing: run Tools/python-env or set TICKLINE_PYTHON")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [clientScript, "--timeout", String(seconds)] + arguments
        let output = tempPath("client")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        if !waitUntil(seconds: seconds + 15, { !process.isRunning }) {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("client \(arguments) did not finish in \(seconds + 15) s")
        }
        process.waitUntilExit()
        try handle.close()
        let errorText = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any]
        let result = try #require(object, "client \(arguments) printed no JSON: \(text) \(errorText)")
        if let error = result["error"] { Issue.record("client \(arguments) failed: \(error)") }
        return result
    }

    /// Starts a client that runs in the background (the `hold` scenario); its JSON lines go to a file.
    static func backgroundClient(_ arguments: [String], seconds: Double) throws -> (Process, String) {
        try #require(pythonPresent, "TICKLINE_REQUIRE_REFERENCES=1 but \(python) is missing")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [clientScript, "--timeout", String(seconds)] + arguments
        let output = tempPath("hold")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, output)
    }

    static func jsonLines(_ path: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// A plain HTTP/1.1 request over a socket (no Python needed): status and body.
    static func http(_ method: String, _ host: String, _ target: String) throws -> (status: Int, body: String) {
        let parts = host.split(separator: ":")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(String(parts[0]))
        address.sin_port = in_port_t(UInt16(parts[1])!.bigEndian)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(rc == 0, "cannot connect to \(host)")
        let request = Array("\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 0\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}

/// A running `tickline-feed`; its address comes from its first stdout line.
final class FeedServerProcess {
    let process = Process()
    let stdoutPath = FeedTool.tempPath("out")
    let stderrPath = FeedTool.tempPath("err")
    private(set) var address = ""

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: FeedTool.feedPath)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        var line = ""
        // Loading a recording in a debug build takes a few seconds.
        let ready = FeedTool.waitUntil(seconds: 60) {
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            guard let first = text.split(separator: "\n").first, text.contains("\n") else { return !process.isRunning }
            line = String(first)
            return true
        }
        guard ready, line.hasPrefix("listening ") else {
            stop()
            throw FeedTestError("tickline-feed \(arguments) did not print 'listening HOST:PORT' (stdout '\(line)', stderr: \(stderr))")
        }
        address = String(line.dropFirst("listening ".count))
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// SIGTERM (or `signal`), then SIGKILL if it outlives 10 s.
    func stop(signal: Int32 = SIGTERM) {
        if process.isRunning {
            kill(process.processIdentifier, signal)
            if !FeedTool.waitUntil(seconds: 10, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    deinit {
        stop(signal: SIGKILL)
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}

struct FeedTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Trait where Self == ConditionTrait {
    static var needsPython: Self {
        .enabled(if: FeedTool.runPython,
                 "Python websockets clients skipped: \(FeedTool.python) is missing (run Tools/python-env or set TICKLINE_PYTHON; TICKLINE_REQUIRE_REFERENCES=1 turns this into a failure)")
    }
    static var needsRecording: Self {
        .enabled(if: FeedTool.runRecorded,
                 "recorded-data tests skipped: the venv Python or ../shared/data/binance_spot_btcusdt is missing (TICKLINE_REQUIRE_REFERENCES=1 turns this into a failure)")
    }
}
