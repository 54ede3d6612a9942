import CURing
import Glibc

/// Whether this process can create an io_uring, found by creating one.
///
/// The feed calls `IoUringSupport.probe()` once at start-up to choose between its io_uring
/// path and the fallback; `tickline doctor` reports the same result. Plain data; thread-safe.
public struct IoUringSupport: Sendable, Equatable {
    /// `true` when `io_uring_queue_init` succeeded.
    public let isAvailable: Bool
    /// One line for humans: what was tried, the errno on failure, the sysctl, a likely cause.
    public let detail: String
    /// The errno `io_uring_queue_init` returned (it returns `-errno`); `nil` on success.
    public let setupErrno: Int32?
    /// `io_uring_params.features` of the probe ring (`IORING_FEAT_*` bits); 0 on failure.
    public let features: UInt32
    /// `/proc/sys/kernel/io_uring_disabled` (0 allowed, 1 root or `io_uring_group` only,
    /// 2 nobody); `nil` when the kernel has no such sysctl (before 6.6).
    public let disabledSysctl: Int?

    public init(
        isAvailable: Bool, detail: String, setupErrno: Int32? = nil, features: UInt32 = 0,
        disabledSysctl: Int? = nil
    ) {
        self.isAvailable = isAvailable
        self.detail = detail
        self.setupErrno = setupErrno
        self.features = features
        self.disabledSysctl = disabledSysctl
    }

    /// Creates and destroys an 8-entry ring; cost is two syscalls and a few mmaps.
    ///
    /// The corresponding C functions are `io_uring_queue_init` and `io_uring_queue_exit`.
    public static func probe() -> IoUringSupport {
        probe(disabledSysctlText: HostFiles().trimmed("/proc/sys/kernel/io_uring_disabled"))
    }

    static func probe(disabledSysctlText: String?) -> IoUringSupport {
        let disabled = disabledSysctlText.flatMap { Int($0) }
        let sysctl = disabled.map { "kernel.io_uring_disabled=\($0)" } ?? "no kernel.io_uring_disabled sysctl"
        var ring = io_uring()
        let rc = io_uring_queue_init(8, &ring, 0)
        if rc == 0 {
            let features = ring.features
            io_uring_queue_exit(&ring)
            return IoUringSupport(
                isAvailable: true,
                detail: "io_uring_queue_init(8) ok, features 0x\(String(features, radix: 16)); \(sysctl)",
                setupErrno: nil, features: features, disabledSysctl: disabled)
        }
        let code = -rc
        var cause = ""
        switch code {
        case EPERM where disabled == 2 || disabled == 1:
            cause = " (io_uring is disabled by the sysctl)"
        case EPERM:
            cause = " (a seccomp filter, e.g. a container's default profile, blocks io_uring_setup)"
        case ENOSYS:
            cause = " (kernel built without CONFIG_IO_URING)"
        case ENOMEM:
            cause = " (RLIMIT_MEMLOCK too small for the ring on kernels before 5.12)"
        default:
            break
        }
        return IoUringSupport(
            isAvailable: false,
            detail: "io_uring_queue_init(8) failed: \(errnoDescription(code))\(cause); \(sysctl)",
            setupErrno: code, features: 0, disabledSysctl: disabled)
    }
}
