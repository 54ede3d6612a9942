#if canImport(Glibc)
import Glibc
#endif
import TicklineCore

/// One writer per instance. The journal rings are single-consumer: a second writer draining
/// the same region would race the first for every record (duplicates, lost records, torn
/// cursors), and both would share the spill files and checkpoints. So a writer holds an
/// exclusive `flock` on `/dev/shm/tickline-<instance>.writer-lock` (beside the region, so
/// writers with different spill folders still exclude each other) for as long as it runs.
/// The kernel releases it when the holder dies, however it dies.
public final class WriterLock {
    public let path: String
    let fd: Int32

    public static func path(instance: String) -> String { "/dev/shm/tickline-\(instance).writer-lock" }

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the instance's lock, waiting while another writer holds it (said once, with
    /// its pid). Returns nil when `shouldStop` says so or `timeoutMs` (> 0) passes first.
    public static func acquire(instance: String, timeoutMs: Int, shouldStop: () -> Bool) throws(WriterError) -> WriterLock? {
        let path = path(instance: instance)
        let deadline = timeoutMs > 0 ? Clock.monotonic().ns + Int64(timeoutMs) * 1_000_000 : Int64.max
        var reported = false
        while !shouldStop() {
            if let lock = try tryAcquire(path: path) { return lock }
            if !reported {
                writerLog("instance has a writer already (pid \(holder(path: path).map(String.init) ?? "unknown"), lock \(path)): waiting for it to exit")
                reported = true
            }
            if Clock.monotonic().ns > deadline { return nil }
            usleep(50_000)
        }
        return nil
    }

    /// One attempt: the lock, or nil while another process holds it.
    static func tryAcquire(path: String) throws(WriterError) -> WriterLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .lock(call: "open", path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK || e == EINTR { return nil }
            throw .lock(call: "flock", path: path, errno: e)
        }
        // The previous holder unlinks the file when it exits: a lock taken on the file it
        // just unlinked guards nothing (the next writer creates a new one). Only a lock on
        // the file at the path counts.
        var mine = stat(), atPath = stat()
        guard fstat(fd, &mine) == 0, stat(path, &atPath) == 0, mine.st_ino == atPath.st_ino, mine.st_dev == atPath.st_dev else {
            close(fd)
            return try tryAcquire(path: path)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        return WriterLock(path: path, fd: fd)
    }

    /// The pid written by the lock's holder (nil if unreadable).
    static func holder(path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first.flatMap { Int32($0) }
    }

    /// Removes the file, then releases the lock (in that order: a writer waiting on this
    /// file sees it is no longer at the path and opens the new one).
    deinit {
        unlink(path)
        close(fd)
    }
}

