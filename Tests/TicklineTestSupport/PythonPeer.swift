import Foundation

/// A Python script started as a test's peer (a reference server, a scripted venue): run as
/// `python SCRIPT PORT_FILE ARGUMENTS...`, it writes its listening ports, space-separated,
/// to PORT_FILE once it listens. The folder it may write into is removed with this object,
/// and the process is killed with it.
public final class PythonPeer {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// `TICKLINE_PYTHON`, else `<package root>/.venv/bin/python`, if executable.
    public static var python: String? {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates: [String?] = [ProcessInfo.processInfo.environment["TICKLINE_PYTHON"], root.appendingPathComponent(".venv/bin/python").path]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A folder of its own for the script's files (its port file is there too).
    public let folder: String
    public let process: ChildProcess
    public let ports: [UInt16]

    /// Starts `script` and waits (at most 20 s) for `portCount` ports.
    public init(script: String, arguments: (_ folder: String) -> [String] = { _ in [] }, portCount: Int = 1) throws {
        guard let python = Self.python else {
            throw Failure(description: "no Python: set TICKLINE_PYTHON or create <root>/.venv with websockets (Tools/python-env)")
        }
        let folder = NSTemporaryDirectory() + "tickline-peer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        self.folder = folder
        let portFile = "\(folder)/ports"
        let process = ChildProcess(executable: python, arguments: [script, portFile] + arguments(folder))
        self.process = process
        var found: [UInt16] = []
        if process.start() {
            _ = waitUntil(20, pollUs: 20_000) {
                found = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").split(separator: " ").compactMap { UInt16($0) }
                return found.count == portCount || !process.isRunning
            }
        }
        guard found.count == portCount else {
            let errors = process.errors
            try? FileManager.default.removeItem(atPath: folder)
            throw Failure(description: "\(script) did not start (running: \(process.isRunning)); is `websockets` installed for \(python)? \(errors)")
        }
        ports = found
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }
}
