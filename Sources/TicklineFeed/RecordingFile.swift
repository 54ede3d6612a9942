#if canImport(Glibc)
import Glibc
#endif

/// Why a recording could not be read.
public struct RecordingReadError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// The bytes of a recording (`<receive ns> <json>` lines, split by `RecordingLine`), plain or
/// gzip (told by its magic bytes). Gzip goes through `gzip -dc`, which keeps zlib out of the
/// product binary. Cold path:
/// `verify`, `replay`, `bench decode`, the demo, the tests and the benchmarks all load files
/// through this one reader (`RecordingWriter` writes them).
public enum RecordingFile {
    public static func load(_ path: String) throws(RecordingReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordingReadError(description: "\(path): cannot open (\(String(cString: strerror(errno))))") }
        var magic: (UInt8, UInt8) = (0, 0)
        let n = read(fd, &magic, 2)
        guard n == 2, magic == (0x1F, 0x8B) else {
            defer { close(fd) }
            guard lseek(fd, 0, SEEK_SET) == 0 else { throw RecordingReadError(description: "\(path): cannot seek") }
            return try readAll(fd, path: path)
        }
        close(fd)
        return try gunzip(path)
    }

    /// Everything `fd` yields until end of file.
    static func readAll(_ fd: Int32, path: String) throws(RecordingReadError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                throw RecordingReadError(description: "\(path): read failed (\(String(cString: strerror(errno))))")
            }
            bytes += chunk[0..<n]
        }
    }

    /// `gzip -dc -- path` through a pipe.
    static func gunzip(_ path: String) throws(RecordingReadError) -> [UInt8] {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw RecordingReadError(description: "\(path): pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        let words: [String] = ["gzip", "-dc", "--", path]
        let argv = words.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, "gzip", &actions, nil, argv, environ)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard rc == 0 else { throw RecordingReadError(description: "\(path): cannot run gzip -dc (\(String(cString: strerror(rc))))") }
        let bytes: [UInt8]
        do throws(RecordingReadError) { bytes = try readAll(pipeEnds[0], path: path) } catch {
            kill(child, SIGKILL)
            var ignored: Int32 = 0
            waitpid(child, &ignored, 0)
            throw error
        }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw RecordingReadError(description: "\(path): gzip -dc failed (wait status \(status): not gzip, or truncated)")
        }
        return bytes
    }
}
