import CNuma
import Glibc

/// What the probes learn from system calls rather than files: rlimits, libnuma, `uname`,
/// `sysconf` and the io_uring probe.
///
/// `live()` asks this host; tests build one by hand to pair with a fake file tree.
/// Plain data; thread-safe.
public struct HostSystemFacts: Sendable {
    /// `sysconf(_SC_NPROCESSORS_ONLN)`.
    public var onlineProcessorCount: Int
    /// `RLIMIT_MEMLOCK` soft and hard limits in bytes; `nil` means unlimited.
    public var memlockSoftBytes: UInt64?
    public var memlockHardBytes: UInt64?
    /// `geteuid()`.
    public var effectiveUserID: UInt32
    /// `numa_available() >= 0`.
    public var numaAvailable: Bool
    /// `numa_max_node()`, when libnuma is available.
    public var numaMaxNode: Int?
    /// `uname` fields.
    public var kernelName: String
    public var kernelRelease: String
    public var kernelVersion: String
    public var machine: String
    /// `IoUringSupport.probe()`.
    public var ioUring: IoUringSupport

    public init(
        onlineProcessorCount: Int, memlockSoftBytes: UInt64?, memlockHardBytes: UInt64?,
        effectiveUserID: UInt32, numaAvailable: Bool, numaMaxNode: Int?, kernelName: String,
        kernelRelease: String, kernelVersion: String, machine: String, ioUring: IoUringSupport
    ) {
        self.onlineProcessorCount = onlineProcessorCount
        self.memlockSoftBytes = memlockSoftBytes
        self.memlockHardBytes = memlockHardBytes
        self.effectiveUserID = effectiveUserID
        self.numaAvailable = numaAvailable
        self.numaMaxNode = numaMaxNode
        self.kernelName = kernelName
        self.kernelRelease = kernelRelease
        self.kernelVersion = kernelVersion
        self.machine = machine
        self.ioUring = ioUring
    }

    /// Asks this host. Creates and destroys one io_uring; no other side effects.
    public static func live() -> HostSystemFacts {
        var limit = rlimit()
        var soft: UInt64? = nil
        var hard: UInt64? = nil
        if getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit) == 0 {
            // RLIM_INFINITY is (rlim_t)-1.
            soft = limit.rlim_cur == rlim_t.max ? nil : UInt64(limit.rlim_cur)
            hard = limit.rlim_max == rlim_t.max ? nil : UInt64(limit.rlim_max)
        }
        let numaAvailable = numa_available() >= 0
        var names = utsname()
        uname(&names)
        func field<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return HostSystemFacts(
            onlineProcessorCount: sysconf(Int32(_SC_NPROCESSORS_ONLN)),
            memlockSoftBytes: soft,
            memlockHardBytes: hard,
            effectiveUserID: geteuid(),
            numaAvailable: numaAvailable,
            numaMaxNode: numaAvailable ? Int(numa_max_node()) : nil,
            kernelName: field(names.sysname),
            kernelRelease: field(names.release),
            kernelVersion: field(names.version),
            machine: field(names.machine),
            ioUring: IoUringSupport.probe())
    }
}
