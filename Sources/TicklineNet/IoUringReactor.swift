import CURing
import Glibc

/// One io_uring shared by the sockets of one agent thread. Sockets queue recv/send
/// requests; `pollOnce()` submits what is queued and reaps completions without blocking,
/// handing each to the socket that asked (by slot number in `user_data`).
///
/// Owned by one thread (the agent's). Not thread-safe.
public final class IoUringReactor {
    /// The ring lives at a fixed address: liburing keeps pointers into it.
    let ring: UnsafeMutablePointer<io_uring>
    private var sockets: [Unmanaged<TCPTransport>?]
    /// Bumped on every attach, and carried in `user_data`, so that a completion that
    /// arrives after its socket gave up the slot is dropped instead of reaching a new owner.
    private var generations: [UInt32]
    private var unsubmitted = 0

    /// Completion kinds, stored in the low byte of `user_data`.
    enum Operation: UInt64 {
        case recv = 1
        case send = 2
    }

    /// - Parameters:
    ///   - entries: submission queue size (power of two; two per socket is enough).
    ///   - maxSockets: how many sockets may be attached at once.
    public init(entries: UInt32 = 64, maxSockets: Int = 32) throws(NetError) {
        ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        let rc = io_uring_queue_init(entries, ring, 0)
        guard rc == 0 else {
            ring.deallocate()
            throw .ioUringSetup(errno: -rc)
        }
        precondition(maxSockets > 0 && maxSockets < (1 << 24), "maxSockets \(maxSockets) out of range")
        sockets = Array(repeating: nil, count: maxSockets)
        generations = Array(repeating: 0, count: maxSockets)
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
    }

    /// Attaches a socket; returns its slot, or `nil` when all slots are taken.
    func attach(_ socket: TCPTransport) -> Int? {
        guard let slot = sockets.firstIndex(where: { $0 == nil }) else { return nil }
        sockets[slot] = Unmanaged.passUnretained(socket)
        generations[slot] &+= 1
        return slot
    }

    private func userData(slot: Int, _ operation: Operation) -> UInt64 {
        UInt64(generations[slot]) << 32 | UInt64(slot) << 8 | operation.rawValue
    }

    /// Detaches a socket that has no request in flight.
    func detach(slot: Int) {
        sockets[slot] = nil
    }

    /// A free submission entry, submitting queued ones first if the queue is full.
    private func nextSQE() -> UnsafeMutablePointer<io_uring_sqe>? {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = io_uring_submit(ring)
        unsubmitted = 0
        return io_uring_get_sqe(ring)
    }

    /// Queues a recv into `buffer`; submitted by the next `submit()` or `pollOnce()`.
    func queueRecv(slot: Int, fd: Int32, buffer: UnsafeMutableRawPointer, count: Int) -> Bool {
        guard let sqe = nextSQE() else { return false }
        io_uring_prep_recv(sqe, fd, buffer, count, 0)
        io_uring_sqe_set_data64(sqe, userData(slot: slot, .recv))
        unsubmitted += 1
        return true
    }

    /// Queues a send of `count` bytes at `buffer`.
    func queueSend(slot: Int, fd: Int32, buffer: UnsafeRawPointer, count: Int) -> Bool {
        guard let sqe = nextSQE() else { return false }
        io_uring_prep_send(sqe, fd, buffer, count, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData(slot: slot, .send))
        unsubmitted += 1
        return true
    }

    /// Hands queued requests to the kernel (one `io_uring_enter`, skipped when none).
    @discardableResult
    public func submit() -> Int32 {
        guard unsubmitted > 0 else { return 0 }
        unsubmitted = 0
        return io_uring_submit(ring)
    }

    /// Submits queued requests and dispatches every completion already posted. Never blocks.
    /// - Returns: the number of completions handled (work count for an agent's `doWork`).
    @discardableResult
    public func pollOnce() -> Int {
        submit()
        var handled = 0
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        while io_uring_peek_cqe(ring, &cqe) == 0, let completion = cqe {
            dispatch(userData: completion.pointee.user_data, result: completion.pointee.res)
            io_uring_cqe_seen(ring, completion)
            handled += 1
        }
        return handled
    }

    /// Waits up to `timeoutNs` for one completion and dispatches what is there (close path only).
    func waitOnce(timeoutNs: Int64) {
        submit()
        var timeout = __kernel_timespec(tv_sec: timeoutNs / 1_000_000_000, tv_nsec: timeoutNs % 1_000_000_000)
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        _ = io_uring_wait_cqe_timeout(ring, &cqe, &timeout)
        pollOnce()
    }

    private func dispatch(userData: UInt64, result: Int32) {
        let slot = Int(userData >> 8 & 0xFF_FFFF)
        guard slot < sockets.count, let socket = sockets[slot], UInt32(userData >> 32) == generations[slot],
              let operation = Operation(rawValue: userData & 0xFF)
        else { return }
        socket.takeUnretainedValue().complete(operation, result: result)
    }
}
