#if canImport(Glibc)
import Glibc
#endif

/// Writes what a feed received in the recording line format of `../shared/data`:
/// `<receive wall ns> <payload>\n`, one line per WebSocket text message and per REST depth
/// snapshot, in arrival order, so `tickline verify` and `tickline replay` replay it as it
/// came. A REST snapshot names no symbol, so it is written in the combined-stream form of
/// Binance's partial-depth stream, `{"stream":"<symbol>@depth","data":<body>}`, which the
/// decoder attributes by the stream name (a file with several symbols stays unambiguous). A payload's raw CR/LF bytes
/// (legal JSON whitespace, never inside a JSON string) become spaces so a line stays one
/// message; counted. Buffered in a preallocated 1 MiB buffer (no allocation per message);
/// a write error is kept and counted, and the feed goes on. Owned by the feed's thread.
public final class RecordingWriter {
    public let path: String
    let fd: Int32
    let capacity = 1 << 20
    let buffer: UnsafeMutablePointer<UInt8>
    var used = 0
    public private(set) var lines: UInt64 = 0
    public private(set) var bytes: UInt64 = 0
    /// Payload CR/LF bytes written as spaces.
    public private(set) var lineBreaksReplaced: UInt64 = 0
    /// Lines not written (a payload over 1 MiB, or a failed write); `lastError` says why.
    public private(set) var lost: UInt64 = 0
    public private(set) var lastError: String?

    /// Creates (or truncates) `path`.
    public init(path: String) throws(FeedSetupError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .recording("cannot create \(path): \(String(cString: strerror(errno)))") }
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        flush()
        close(fd)
        buffer.deallocate()
    }

    /// Appends a REST depth snapshot of `symbol` (its body as received).
    public func appendSnapshot(wallNs: Int64, symbol: String, body: UnsafeRawBufferPointer) {
        // Cold path (a snapshot per symbol per sync): a String here is fine.
        let head = Array("{\"stream\":\"\(symbol.lowercased())@depth\",\"data\":".utf8)
        let wrapped = head + Array(body) + [UInt8(ascii: "}")]
        wrapped.withUnsafeBytes { append(wallNs: wallNs, payload: $0) }
    }

    /// Appends one line.
    public func append(wallNs: Int64, payload: UnsafeRawBufferPointer) {
        let need = 21 + payload.count + 1
        guard need <= capacity else {
            lost &+= 1
            lastError = "a \(payload.count)-byte message does not fit the recording buffer"
            return
        }
        if used + need > capacity { flush() }
        // The timestamp, digits written backwards into a small scratch then copied.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var v = UInt64(max(0, wallNs))
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
                v /= 10
            } while v > 0
            let n = scratch.count - i
            (buffer + used).update(from: scratch.baseAddress!.advanced(by: i).assumingMemoryBound(to: UInt8.self), count: n)
            return n
        }
        used += count
        buffer[used] = UInt8(ascii: " ")
        used += 1
        for b in payload {
            if b == 0x0A || b == 0x0D {
                buffer[used] = UInt8(ascii: " ")
                lineBreaksReplaced &+= 1
            } else {
                buffer[used] = b
            }
            used += 1
        }
        buffer[used] = 0x0A
        used += 1
        lines &+= 1
    }

    /// Writes the buffered lines to the file.
    public func flush() {
        var offset = 0
        while offset < used {
            let n = write(fd, buffer + offset, used - offset)
            if n < 0 {
                if errno == EINTR { continue }
                lastError = "write \(path): \(String(cString: strerror(errno)))"
                lost &+= 1
                break
            }
            offset += n
        }
        bytes &+= UInt64(offset)
        used = 0
    }
}
