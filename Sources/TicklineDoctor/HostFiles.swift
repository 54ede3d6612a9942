import Glibc

/// The outcome of reading one host file.
enum FileRead: Sendable, Equatable {
    case text(String)
    /// `ENOENT`/`ENOTDIR`: the kernel, the VM or the fake root does not provide it.
    case missing
    /// Present but unreadable; carries `errno`.
    case failed(Int32)

    var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    /// `"/proc/cmdline not present"`, `"/x unreadable: EACCES (Permission denied)"`.
    func describe(_ path: String) -> String {
        switch self {
        case .text: return path
        case .missing: return "\(path) not present"
        case .failed(let code): return "\(path) unreadable: \(errnoDescription(code))"
        }
    }
}

/// Reads host files relative to a root directory, so that tests can point every probe at a
/// temporary tree (`HostFiles(root: "/tmp/fake")` reads `/tmp/fake/proc/cmdline`).
///
/// Stateless apart from the root; thread-safe. Never traps on a missing or unreadable file.
struct HostFiles: Sendable {
    /// The directory that stands for `/`.
    let root: String

    init(root: String = "/") {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed.isEmpty ? "/" : trimmed
    }

    /// The real path of an absolute host path (`"/proc/cmdline"`) under `root`.
    func path(_ hostPath: String) -> String {
        root == "/" ? hostPath : root + hostPath
    }

    /// Reads a whole file. `/proc` and `/sys` files report size 0, so this reads until EOF
    /// (at most 8 MiB) instead of trusting `fstat`.
    func read(_ hostPath: String) -> FileRead {
        let fd = open(path(hostPath), O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            return code == ENOENT || code == ENOTDIR ? .missing : .failed(code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while bytes.count < 8 << 20 {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                break
            } else {
                let code = errno
                if code == EINTR { continue }
                return .failed(code)
            }
        }
        return .text(String(decoding: bytes, as: UTF8.self))
    }

    /// The file's content with surrounding whitespace removed, or `nil` if it cannot be read.
    func trimmed(_ hostPath: String) -> String? {
        read(hostPath).text.map(trim)
    }

    func exists(_ hostPath: String) -> Bool {
        access(path(hostPath), F_OK) == 0
    }

    /// Entry names of a directory, sorted, without `.` and `..`; `nil` if it cannot be opened.
    func list(_ hostPath: String) -> [String]? {
        guard let dir = opendir(path(hostPath)) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Size and free space of the file system holding `hostPath`.
    /// The corresponding C function is `statvfs`.
    func fileSystemSpace(_ hostPath: String) -> (totalBytes: UInt64, freeBytes: UInt64)? {
        var info = statvfs()
        guard statvfs(path(hostPath), &info) == 0 else { return nil }
        let unit = UInt64(info.f_frsize == 0 ? info.f_bsize : info.f_frsize)
        return (UInt64(info.f_blocks) * unit, UInt64(info.f_bavail) * unit)
    }

    /// `key: value` lines (`/proc/meminfo`, `/proc/self/status`) as a dictionary.
    func keyValues(_ hostPath: String) -> [String: String]? {
        guard let text = read(hostPath).text else { return nil }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = trim(String(line[..<colon]))
            if result[key] == nil { result[key] = trim(String(line[line.index(after: colon)...])) }
        }
        return result
    }
}

// MARK: - Small text helpers

func trim(_ s: String) -> String {
    var view = Substring(s)
    while let first = view.first, first.isWhitespace { view.removeFirst() }
    while let last = view.last, last.isWhitespace { view.removeLast() }
    return String(view)
}

/// `"EPERM (Operation not permitted)"`.
func errnoDescription(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
        EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT",
        EBUSY: "EBUSY", EINVAL: "EINVAL", ENFILE: "ENFILE", EMFILE: "EMFILE", ENOSPC: "ENOSPC",
        ENOSYS: "ENOSYS", EOPNOTSUPP: "EOPNOTSUPP",
    ]
    let text = String(cString: strerror(code))
    return "\(names[code] ?? "errno \(code)") (\(text))"
}

/// `8388608` -> `"8 MiB"`, `25275514880` -> `"23.5 GiB"`.
func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var unit = 0
    var scale: UInt64 = 1
    while unit < units.count - 1 && bytes / scale >= 1024 {
        scale *= 1024
        unit += 1
    }
    let tenths = (bytes % scale) * 10 / scale
    if unit == 0 || tenths == 0 { return "\(bytes / scale) \(units[unit])" }
    return "\(bytes / scale).\(tenths) \(units[unit])"
}
