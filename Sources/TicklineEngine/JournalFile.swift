#if canImport(Glibc)
import Glibc
#endif
import TicklineExecution

/// Why the journal file cannot be used: the engine refuses to trade.
public struct JournalFileError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// The risk stage's append-only journal on local disk (records of
/// `TicklineExecution.JournalEncoder`: orders, venue reports, risk events and state changes).
/// Written ahead: a duty cycle's records reach the file (one `write`) before its orders
/// are handed to the venue, so a process killed at any point never has an order out that
/// the journal lacks. A killed process loses nothing the kernel took; `fsync: true` also
/// survives a power loss at one `fdatasync` per batch. Owned by the risk thread.
public final class JournalFile {
    public let path: String
    let fd: Int32
    let fsync: Bool
    /// Bytes of whole records on disk (after a torn tail was cut at open).
    public private(set) var length: Int
    /// Failed appends that had written part of their bytes (a disk that filled mid-write).
    public private(set) var shortWrites: UInt64 = 0
    /// A cut back to the last whole record failed: the next append tries it again first.
    var tailPending = false

    /// Opens (creating) the journal and reads what it holds, for recovery. A torn last
    /// record (a crash mid-write) is cut off; corruption anywhere else throws.
    public init(path: String, fsync: Bool = false) throws(JournalFileError) {
        self.path = path
        self.fsync = fsync
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JournalFileError(description: "cannot open the journal \(path): \(String(cString: strerror(errno)))")
        }
        length = 0
    }

    deinit { close(fd) }

    /// The whole file (cold path: start-up).
    public func readAll() throws(JournalFileError) -> [UInt8] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw JournalFileError(description: "cannot stat the journal \(path)") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw JournalFileError(description: "cannot read the journal \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        length = bytes.count
        return bytes
    }

    /// Cuts the file to `validBytes` (a torn tail found by the reader).
    public func truncate(to validBytes: Int) throws(JournalFileError) {
        guard ftruncate(fd, off_t(validBytes)) == 0 else {
            throw JournalFileError(description: "cannot cut the torn tail of the journal \(path): \(String(cString: strerror(errno)))")
        }
        length = validBytes
    }

    /// Appends `bytes` (whole records) and, with `fsync`, syncs them. On failure the file is
    /// cut back to its length before the call, so it always ends at a whole record (a short
    /// write on a full disk leaves no partial record for the next append to bury), and the
    /// `errno` is returned: the caller sends nothing of what it tried to write. 0 on success.
    public func append(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        // A cut that failed is tried again first: appending after a partial record would
        // bury it mid-file, where recovery refuses it.
        if tailPending && ftruncate(fd, off_t(length)) != 0 { return failed(errno) }
        tailPending = false
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if done > 0 { shortWrites &+= 1 }
                return failed(n == 0 ? EIO : errno)
            }
            done += n
        }
        if fsync && fdatasync(fd) != 0 { return failed(errno) }
        length += bytes.count
        return 0
    }

    /// Cuts the file back to `length` (O_APPEND writes continue there) and returns `error`.
    private func failed(_ error: Int32) -> Int32 {
        tailPending = ftruncate(fd, off_t(length)) != 0
        return error
    }
}
