#if canImport(Glibc)
import Glibc
#endif

/// InfluxDB line protocol appended to a local file instead of posted to a server
/// (`writer.influx.url: file:///absolute/path`): the same bytes a server would receive, so
/// the file can be loaded later with `influx -import` or `curl --data-binary @FILE`.
/// `tickline demo` points the writer here when no InfluxDB answers on loopback.
/// Owned by the influx sink's worker thread; not thread-safe.
final class LineProtocolFile: SinkTransport {
    static let scheme = "file://"
    let path: String
    let fd: Int32

    /// - Parameter url: `file:///absolute/path` (the file is created, or appended to).
    init(url: String) throws(WriterError) {
        guard url.hasPrefix(Self.scheme), url.dropFirst(Self.scheme.count).hasPrefix("/") else {
            throw .invalidURL(url, why: "a line-protocol file is named file:///absolute/path")
        }
        path = String(url.dropFirst(Self.scheme.count))
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .output(call: "open", path: path, errno: errno) }
    }

    deinit { close(fd) }

    /// Appends `bytes` (whole lines): a short or failed write is retried later like a
    /// server that is down (the batch spills meanwhile), never half-counted.
    func deliver(_ bytes: UnsafeRawBufferPointer, count: Int) -> Delivery {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return .retry(afterMs: nil, reason: "write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        return .ok(written: count, dropped: 0, duplicates: 0, note: nil)
    }
}
