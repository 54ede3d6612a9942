#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineTestSupport
@testable import TicklineWriter

/// The instance lock in one process: `flock` locks of two `open`s conflict like two
/// processes' would.
@Suite struct WriterLockTests {
    let instance = "lock-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    @Test func aSecondHolderWaitsAndTimesOutWhileTheFirstHolds() throws {
        var first = try WriterLock.acquire(instance: instance, timeoutMs: 0, shouldStop: { false })
        #expect(first != nil)
        #expect(WriterLock.holder(path: WriterLock.path(instance: instance)) == getpid())
        #expect(try WriterLock.acquire(instance: instance, timeoutMs: 200, shouldStop: { false }) == nil)
        #expect(try WriterLock.acquire(instance: instance, timeoutMs: 0, shouldStop: { true }) == nil, "a stop ends the wait")
        first = nil
        #expect(access(WriterLock.path(instance: instance), F_OK) != 0, "the file goes with its holder")
        let second = try WriterLock.acquire(instance: instance, timeoutMs: 200, shouldStop: { false })
        #expect(second != nil)
    }

    /// A writer waiting on the file the holder unlinks must not keep a lock on that orphaned
    /// file: it takes the lock of the file at the path, which then excludes everyone else.
    @Test func aWaiterEndsUpHoldingTheFileAtThePath() throws {
        var first = try WriterLock.acquire(instance: instance, timeoutMs: 0, shouldStop: { false })
        let instance = self.instance
        final class Slot: @unchecked Sendable {  // written once by the waiter, read after under the lock
            let mutex = NSLock()
            var lock: WriterLock?
            func withLock<T>(_ body: (inout WriterLock?) -> T) -> T { mutex.lock(); defer { mutex.unlock() }; return body(&lock) }
        }
        let got = Slot()
        let waiter = Thread {
            let lock = try? WriterLock.acquire(instance: instance, timeoutMs: 30_000, shouldStop: { false })
            got.withLock { $0 = lock }
        }
        waiter.start()
        usleep(100_000)
        first = nil
        #expect(waitUntil(30) { got.withLock { $0 != nil } })
        let path = WriterLock.path(instance: instance)
        var atPath = stat(), held = stat()
        #expect(stat(path, &atPath) == 0)
        got.withLock { lock in _ = lock.map { fstat($0.fd, &held) } }
        #expect(atPath.st_ino == held.st_ino)
        #expect(try WriterLock.tryAcquire(path: path) == nil, "the waiter's lock excludes a newcomer")
        got.withLock { $0 = nil }
        _ = first
    }

    @Test func aFolderThatCannotHoldTheFileIsAClearError() {
        #expect(throws: WriterError.lock(call: "open", path: "/nonexistent-dir/x.writer-lock", errno: ENOENT)) {
            _ = try WriterLock.tryAcquire(path: "/nonexistent-dir/x.writer-lock")
        }
    }
}
