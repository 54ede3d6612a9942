#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux
import Synchronization

/// One ordinary thread that runs the control plane's tasks (the server and its request
/// handlers inherit it as their executor preference). So the control plane never waits for
/// a thread of Swift's shared cooperative pool, which has one thread per core and may be
/// busy (or blocked in a caller that waits for the server to start).
final class ControlExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = Mutex<[UnownedJob]>([])
    private var wakeup = sem_t()
    private var thread = pthread_t()
    private let name: String

    /// - Parameter name: the thread's name (at most 15 bytes are kept).
    init(name: String) {
        self.name = String(name.utf8.prefix(15))!
        sem_init(&wakeup, 0, 0)
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let executor = Unmanaged<ControlExecutor>.fromOpaque(raw!).takeRetainedValue()
            executor.loop()
            return nil
        }, context)
        precondition(rc == 0, "ControlExecutor: pthread_create failed (\(rc))")
        pthread_detach(thread)  // lives as long as the process, like the control plane
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.withLock { $0.append(unowned) }
        sem_post(&wakeup)
    }

    private func loop() {
        _ = tl_name_current_thread(name)
        while true {
            while sem_wait(&wakeup) != 0 {}  // EINTR
            guard let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
