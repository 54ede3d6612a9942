// Kernel checks: RT throttling, io_uring, irqbalance, kernel version.

import Glibc

extension HostProbe {
    func rtThrottling() -> HostCheck {
        let name = "rt throttling"
        let runtimePath = "/proc/sys/kernel/sched_rt_runtime_us"
        let read = files.read(runtimePath)
        guard let runtimeText = read.text.map(trim) else { return .unavailable(name, reading: runtimePath, read) }
        guard let runtime = Int(runtimeText) else {
            return .unavailable(name, "\(runtimePath): \"\(runtimeText)\" is not a number")
        }
        let period = files.trimmed("/proc/sys/kernel/sched_rt_period_us").flatMap { Int($0) }
        if runtime < 0 { return .ok(name, "kernel.sched_rt_runtime_us=-1 (RT threads are not throttled)") }
        let periodUs = period ?? 1_000_000
        let pausedMs = max(0, periodUs - runtime) / 1000
        return .advise(
            name,
            "kernel.sched_rt_runtime_us=\(runtime) of period \(period.map(String.init) ?? "? (taken as 1000000)") us: "
                + "spinning SCHED_FIFO threads are stopped \(pausedMs) ms in every \(periodUs / 1000) ms",
            "keep spinning agents SCHED_OTHER on isolated cores; set kernel.sched_rt_runtime_us=-1 only with care "
                + "(a runaway RT thread then owns its core)")
    }

    func ioUring() -> HostCheck {
        let name = "io_uring"
        let support = system.ioUring
        let value = support.detail
        if !support.isAvailable {
            var fix = "allow io_uring_setup in the seccomp profile"
            if let disabled = support.disabledSysctl, disabled != 0 { fix = "sysctl kernel.io_uring_disabled=0" }
            if support.setupErrno == ENOSYS { fix = "use a kernel built with CONFIG_IO_URING" }
            return .advise(name, value, "the feed falls back to a slower non-io_uring path; to enable io_uring: \(fix)")
        }
        if support.disabledSysctl == 1 && system.effectiveUserID != 0 {
            // A non-root process that created a ring under setting 1 is in kernel.io_uring_group.
            return .ok(name, value + " (allowed through kernel.io_uring_group)")
        }
        if support.disabledSysctl == 1 {
            return .advise(
                name, value,
                "root may use io_uring but other users may not: a non-root tickline needs "
                    + "sysctl kernel.io_uring_group=<its gid> or kernel.io_uring_disabled=0")
        }
        return .ok(name, value)
    }

    func irqbalance() -> HostCheck {
        let name = "irqbalance"
        guard let entries = files.list("/proc") else { return .unavailable(name, "/proc not present") }
        var pids: [Int] = []
        for entry in entries {
            guard let pid = Int(entry), entry.allSatisfy(\.isASCII) else { continue }
            if files.trimmed("/proc/\(entry)/comm") == "irqbalance" { pids.append(pid) }
        }
        guard !pids.isEmpty else { return .ok(name, "not running") }
        let running = "running (pid \(pids.sorted().map(String.init).joined(separator: ", ")))"
        for config in ["/etc/default/irqbalance", "/etc/sysconfig/irqbalance"] {
            guard let text = files.read(config).text else { continue }
            for line in text.split(separator: "\n").map({ trim(String($0)) }) where !line.hasPrefix("#") {
                for key in ["IRQBALANCE_BANNED_CPULIST=", "IRQBALANCE_BANNED_CPUS="] where line.hasPrefix(key) {
                    let banned = String(line.dropFirst(key.count)).filter { $0 != "\"" && $0 != "'" }
                    if !banned.isEmpty { return .ok(name, "\(running); \(config): \(key)\(banned)") }
                }
            }
        }
        let target = isolated.isEmpty ? suggestedIsolation : isolated
        return .advise(
            name, running,
            "it may move interrupts onto the trading cores: set IRQBALANCE_BANNED_CPULIST=\(target) in /etc/default/irqbalance, "
                + "or stop it (systemctl disable --now irqbalance) and pin IRQs with /proc/irq/*/smp_affinity_list")
    }

    func kernel() -> HostCheck {
        let name = "kernel"
        let value = [system.kernelName, system.kernelRelease, system.kernelVersion, system.machine]
            .filter { !$0.isEmpty }.joined(separator: " ")
        guard let (major, minor) = HostProbe.kernelVersion(system.kernelRelease) else {
            return .unavailable(name, value.isEmpty ? "uname gave no release" : value)
        }
        if (major, minor) < (6, 1) {
            return .advise(
                name, value,
                "upgrade to 6.1 or later: older kernels lack io_uring features the feed prefers "
                    + "(multishot recv 6.0, DEFER_TASKRUN 6.1)")
        }
        return .ok(name, value)
    }

    /// `"6.18.44-fc-v595"` -> `(6, 18)`.
    static func kernelVersion(_ release: String) -> (Int, Int)? {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2, release.first?.isNumber == true else { return nil }
        return (numbers[0], numbers[1])
    }
}
