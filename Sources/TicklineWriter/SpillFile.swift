#if canImport(Glibc)
import Glibc
#endif

/// A sink's on-disk spill: an append-only file of batches the sink could not take, replayed
/// in order when it recovers. A ring's records count as handed off once their batch is
/// appended here and `fdatasync`ed. The replay position lives in `<path>.pos` (written on
/// every consumed batch, not synced: a stale position only replays batches again, which
/// the sinks treat as repeats). Bounded by `maxBytes`; when the file would pass it and
/// batches at its head were already replayed, the live tail is copied to a new file first.
///
/// Record: magic "TLSP" (u32), payload length (u32), item count (u32), reserved (u32),
/// FNV-1a 64 of the payload (u64), payload. A torn tail (a crash mid-append) fails its
/// check and is cut off at open. Owned by the writer thread; not thread-safe.
public final class SpillFile {
    public let path: String
    public let maxBytes: Int
    static let magic: UInt32 = 0x5053_4C54  // "TLSP"
    static let headerBytes = 24

    var fd: Int32
    var posFd: Int32
    public private(set) var readOffset: Int = 0
    public private(set) var writeOffset: Int = 0
    /// Batches waiting to be replayed.
    public private(set) var chunks: Int = 0
    /// Batches cut off at open because they failed their check (a torn append).
    public private(set) var tornAtOpen: Int = 0
    let readBuffer: ByteBuffer
    var peeked: (length: Int, count: Int)?

    /// Opens (or creates) the spill at `path`, validating what it holds.
    public init(path: String, maxBytes: Int, maxChunkBytes: Int) throws(WriterError) {
        self.path = path
        self.maxBytes = maxBytes
        readBuffer = ByteBuffer(capacity: maxChunkBytes + Self.headerBytes)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .spill(call: "open", path: path, errno: errno) }
        posFd = open(path + ".pos", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard posFd >= 0 else { throw .spill(call: "open", path: path + ".pos", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .spill(call: "fstat", path: path, errno: errno) }
        let size = Int(st.st_size)
        var pos: Int64 = 0
        if pread(posFd, &pos, 8, 0) == 8, pos > 0, Int(pos) <= size { readOffset = Int(pos) }
        // Walk the live records; cut a torn tail.
        var offset = readOffset
        var header = [UInt8](repeating: 0, count: Self.headerBytes)
        while offset + Self.headerBytes <= size {
            guard pread(fd, &header, Self.headerBytes, off_t(offset)) == Self.headerBytes else { break }
            let (magic, length) = header.withUnsafeBytes { ($0.load(as: UInt32.self), Int($0.load(fromByteOffset: 4, as: UInt32.self))) }
            let checksum = header.withUnsafeBytes { $0.load(fromByteOffset: 16, as: UInt64.self) }
            guard magic == Self.magic, length <= maxChunkBytes, offset + Self.headerBytes + length <= size else { break }
            readBuffer.removeAll()
            let got = pread(fd, readBuffer.base, length, off_t(offset + Self.headerBytes))
            guard got == length, Self.fnv1a(UnsafeRawBufferPointer(start: readBuffer.base, count: length)) == checksum else { break }
            offset += Self.headerBytes + length
            chunks += 1
        }
        if offset < size {
            tornAtOpen = 1
            _ = ftruncate(fd, off_t(offset))
        }
        writeOffset = offset
        if chunks == 0 { try reset() }
    }

    deinit {
        close(fd)
        close(posFd)
    }

    public var isEmpty: Bool { chunks == 0 }
    /// Bytes of batches waiting (file size past the replay position).
    public var liveBytes: Int { writeOffset - readOffset }

    /// Whether `bytes` more would fit (after compaction, if that would make room).
    public func canAppend(_ bytes: Int) -> Bool {
        liveBytes + bytes + Self.headerBytes <= maxBytes
    }

    /// Appends one batch of `count` items and syncs it to disk. Returns false when the
    /// spill is full or the write fails (nothing was handed off).
    public func append(_ payload: UnsafeRawBufferPointer, count: Int) -> Bool {
        let total = Self.headerBytes + payload.count
        guard canAppend(payload.count) else { return false }
        if writeOffset + total > maxBytes && readOffset > 0 {
            guard compact() else { return false }
        }
        var header = (Self.magic, UInt32(payload.count), UInt32(count), UInt32(0), Self.fnv1a(payload))
        let wroteHeader = withUnsafeBytes(of: &header) { h in
            pwrite(fd, h.baseAddress, Self.headerBytes, off_t(writeOffset))
        }
        guard wroteHeader == Self.headerBytes else { return false }
        if payload.count > 0 {
            guard pwrite(fd, payload.baseAddress, payload.count, off_t(writeOffset + Self.headerBytes)) == payload.count else {
                _ = ftruncate(fd, off_t(writeOffset))
                return false
            }
        }
        guard fdatasync(fd) == 0 else {
            _ = ftruncate(fd, off_t(writeOffset))
            return false
        }
        writeOffset += total
        chunks += 1
        return true
    }

    /// The oldest waiting batch (read into an internal buffer, valid until the next call),
    /// or nil when empty or unreadable.
    public func peek() -> (payload: UnsafeRawBufferPointer, count: Int)? {
        guard chunks > 0 else { return nil }
        var header = [UInt8](repeating: 0, count: Self.headerBytes)
        guard pread(fd, &header, Self.headerBytes, off_t(readOffset)) == Self.headerBytes else { return nil }
        let length = header.withUnsafeBytes { Int($0.load(fromByteOffset: 4, as: UInt32.self)) }
        let count = header.withUnsafeBytes { Int($0.load(fromByteOffset: 8, as: UInt32.self)) }
        guard length <= readBuffer.capacity else { return nil }
        readBuffer.removeAll()
        guard pread(fd, readBuffer.base, length, off_t(readOffset + Self.headerBytes)) == length else { return nil }
        readBuffer.length = length
        peeked = (length, count)
        return (readBuffer.bytes, count)
    }

    /// Drops the batch `peek` returned (it was delivered or quarantined).
    public func consume() {
        guard let p = peeked else { return }
        peeked = nil
        readOffset += Self.headerBytes + p.length
        chunks -= 1
        if chunks == 0 {
            try? reset()
        } else {
            var pos = Int64(readOffset)
            _ = pwrite(posFd, &pos, 8, 0)
        }
    }

    func reset() throws(WriterError) {
        guard ftruncate(fd, 0) == 0 else { throw .spill(call: "ftruncate", path: path, errno: errno) }
        readOffset = 0
        writeOffset = 0
        chunks = 0
        var pos: Int64 = 0
        _ = pwrite(posFd, &pos, 8, 0)
    }

    /// Copies the live tail to a new file and renames it over the old one (crash-safe: the
    /// old file stays whole until the rename).
    func compact() -> Bool {
        let tmp = path + ".compact"
        let out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { return false }
        var copied = 0
        let live = liveBytes
        let block = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 16)
        defer { buffer.deallocate() }
        while copied < live {
            let n = min(block, live - copied)
            guard pread(fd, buffer, n, off_t(readOffset + copied)) == n, pwrite(out, buffer, n, off_t(copied)) == n else {
                close(out)
                unlink(tmp)
                return false
            }
            copied += n
        }
        guard fdatasync(out) == 0, rename(tmp, path) == 0 else {
            close(out)
            unlink(tmp)
            return false
        }
        close(fd)
        fd = out
        readOffset = 0
        writeOffset = live
        var pos: Int64 = 0
        _ = pwrite(posFd, &pos, 8, 0)
        return true
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01B3
        }
        return h
    }
}

/// Batches a sink refused for good (a v2 400, a line too large after splitting, a 5xx
/// that outlived its retries): appended to `<spill_dir>/<sink>.quarantine` with a header
/// line naming why, for a person to inspect. Never resent.
func quarantine(_ payload: UnsafeRawBufferPointer, reason: String, directory: String, sink: String) {
    let path = "\(directory)/\(sink).quarantine"
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let header = "# quarantined: \(reason.prefix(500).replacing("\n", with: " "))\n"
    _ = header.withCString { write(fd, $0, strlen($0)) }
    _ = write(fd, payload.baseAddress, payload.count)
    _ = write(fd, "\n", 1)
    _ = fdatasync(fd)
}
