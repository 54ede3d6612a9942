#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux

/// A thread that performs one sink's deliveries, so the drain thread can encode the next
/// batch while the server works on this one (the InfluxDB request is most of a batch's
/// time; before this the two ran one after the other).
///
/// One job at a time: `start` hands a batch over, `finish` waits for its result. Between
/// `finish` and the next `start` the transport is idle and the drain thread may use it
/// directly (spill replay, metrics). The bytes passed to `start` must stay untouched until
/// `finish` returns. The two semaphores are the only synchronisation, and they order the
/// job and result fields between the threads.
final class SinkWorker: @unchecked Sendable {
    let transport: SinkTransport
    private var jobBytes = UnsafeRawBufferPointer(start: nil, count: 0)
    private var jobCount = 0
    private var result: Delivery = .ok(written: 0, dropped: 0, duplicates: 0, note: nil)
    private var stopping = false
    private(set) var busy = false
    private var startSemaphore = sem_t()
    private var doneSemaphore = sem_t()
    private var thread = pthread_t()

    init(transport: SinkTransport, name: String) {
        self.transport = transport
        sem_init(&startSemaphore, 0, 0)
        sem_init(&doneSemaphore, 0, 0)
        let context = Unmanaged.passRetained(Box(self, name: name)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = box.name.withCString { tl_name_current_thread($0) }
            box.worker.loop()
            return nil
        }, context)
        precondition(rc == 0, "SinkWorker: pthread_create failed (\(rc))")
    }

    private final class Box {
        let worker: SinkWorker
        let name: String
        init(_ worker: SinkWorker, name: String) { self.worker = worker; self.name = name }
    }

    private func loop() {
        while true {
            while sem_wait(&startSemaphore) != 0 {}  // EINTR
            if stopping { return }
            result = transport.deliver(jobBytes, count: jobCount)
            sem_post(&doneSemaphore)
        }
    }

    /// Hands `bytes` (`count` items) to the thread; the caller must `finish` before the
    /// next `start` and keep the bytes alive and unchanged until then.
    func start(_ bytes: UnsafeRawBufferPointer, count: Int) {
        precondition(!busy, "SinkWorker.start while a delivery is in flight")
        jobBytes = bytes
        jobCount = count
        busy = true
        sem_post(&startSemaphore)
    }

    /// Waits for the delivery started last and returns its result.
    func finish() -> Delivery {
        precondition(busy, "SinkWorker.finish without a delivery in flight")
        while sem_wait(&doneSemaphore) != 0 {}  // EINTR
        busy = false
        return result
    }

    /// Stops and joins the thread (nothing may be in flight).
    func stop() {
        if busy { _ = finish() }
        stopping = true
        sem_post(&startSemaphore)
        pthread_join(thread, nil)
        sem_destroy(&startSemaphore)
        sem_destroy(&doneSemaphore)
    }
}
