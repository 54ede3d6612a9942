import Foundation
import TicklineDoctor

/// A temporary directory standing for `/`, pre-filled as a well-tuned 8-core host
/// (cores 2-7 isolated, performance governor, 512 huge pages, RT unthrottled); tests change
/// one file and look at one check. Removed on deinit. Owned by one test.
///
/// Lives in /dev/shm when it is writable: each tree is ~130 small files, and on this VM's
/// disk writing them takes ~50x longer than on tmpfs.
final class FakeHost {
    let root: String

    init(tuned: Bool = true) throws {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm/" : NSTemporaryDirectory()
        root = base + "tickline-doctor-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if tuned { try writeTunedHost() }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    func write(_ hostPath: String, _ text: String) throws {
        let url = URL(fileURLWithPath: root + hostPath)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func makeDirectory(_ hostPath: String) throws {
        try FileManager.default.createDirectory(atPath: root + hostPath, withIntermediateDirectories: true)
    }

    func remove(_ hostPath: String) throws {
        try FileManager.default.removeItem(atPath: root + hostPath)
    }

    func report(_ system: HostSystemFacts = .tuned) -> HostReport {
        HostReport.probe(root: root, system: system)
    }

    func check(_ name: String, _ system: HostSystemFacts = .tuned) -> HostCheck {
        guard let check = report(system).check(named: name) else {
            preconditionFailure("the report has no check named \(name)")
        }
        return check
    }

    private func writeTunedHost() throws {
        let cpus = 0..<8
        try write(
            "/proc/cmdline",
            "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro isolcpus=2-7 nohz_full=2-7 rcu_nocbs=2-7 -- init-arg\n")
        try write(
            "/proc/cpuinfo",
            cpus.map {
                "processor\t: \($0)\nmodel name\t: Fake Xeon 1234\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n\n"
            }.joined())
        try write("/proc/self/status", "Name:\tdoctor\nCapEff:\t0000000000000000\nCpus_allowed_list:\t0-7\n")
        try write(
            "/proc/meminfo",
            "MemTotal:       65536000 kB\nSwapTotal:             0 kB\nHugePages_Total:     512\n"
                + "HugePages_Free:      512\nHugepagesize:       2048 kB\n")
        try write(
            "/proc/mounts",
            "proc /proc proc rw 0 0\ntmpfs /dev/shm tmpfs rw,size=4194304k 0 0\n"
                + "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n")
        try write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        try write("/proc/sys/vm/swappiness", "1\n")
        try write("/proc/sys/kernel/sched_rt_runtime_us", "-1\n")
        try write("/proc/sys/kernel/sched_rt_period_us", "1000000\n")
        try write("/proc/sys/kernel/numa_balancing", "0\n")
        try write("/proc/sys/kernel/io_uring_disabled", "0\n")
        try write("/proc/1/comm", "systemd\n")
        try write("/proc/2/comm", "kthreadd\n")
        try write("/sys/devices/system/cpu/online", "0-7\n")
        try write("/sys/devices/system/cpu/offline", "\n")
        try write("/sys/devices/system/cpu/isolated", "2-7\n")
        try write("/sys/devices/system/cpu/nohz_full", "2-7\n")
        try write("/sys/devices/system/cpu/smt/control", "off\n")
        try write("/sys/devices/system/cpu/smt/active", "0\n")
        try write("/sys/devices/system/cpu/cpuidle/current_driver", "intel_idle\n")
        for cpu in cpus {
            let base = "/sys/devices/system/cpu/cpu\(cpu)/"
            try write(base + "cpufreq/scaling_governor", "performance\n")
            try write(base + "topology/thread_siblings_list", "\(cpu)\n")
            try writeIdleState(cpu: cpu, index: 0, name: "POLL", latencyUs: 0)
            try writeIdleState(cpu: cpu, index: 1, name: "C1", latencyUs: 2)
        }
        try write("/sys/devices/system/node/node0/cpulist", "0-7\n")
        try write("/sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n")
        try write("/sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet acpi_pm\n")
        try write("/sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n")
        try write("/sys/kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never\n")
        try write("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "always within_size [advise] never deny force\n")
        try makeDirectory("/dev/shm")
    }

    func writeIdleState(cpu: Int, index: Int, name: String, latencyUs: Int, disabled: Bool = false) throws {
        let base = "/sys/devices/system/cpu/cpu\(cpu)/cpuidle/state\(index)/"
        try write(base + "name", name + "\n")
        try write(base + "latency", "\(latencyUs)\n")
        try write(base + "disable", disabled ? "1\n" : "0\n")
    }
}

extension HostSystemFacts {
    /// Matches `FakeHost`'s tuned tree: 8 cores, unlimited memlock, one NUMA node, io_uring.
    static let tuned = HostSystemFacts(
        onlineProcessorCount: 8, memlockSoftBytes: nil, memlockHardBytes: nil, effectiveUserID: 1000,
        numaAvailable: true, numaMaxNode: 0, kernelName: "Linux", kernelRelease: "6.8.0-45-generic",
        kernelVersion: "#45 SMP PREEMPT_DYNAMIC", machine: "x86_64",
        ioUring: IoUringSupport(
            isAvailable: true, detail: "io_uring_queue_init(8) ok, features 0x3fff; kernel.io_uring_disabled=0",
            features: 0x3fff, disabledSysctl: 0))

    func with(_ change: (inout HostSystemFacts) -> Void) -> HostSystemFacts {
        var copy = self
        change(&copy)
        return copy
    }
}
