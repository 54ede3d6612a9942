// CPU checks: model, online cores, SMT, NUMA, isolation, frequency, idle states, clocks.

extension HostProbe {
    func cpuModel() -> HostCheck {
        let name = "cpu model"
        let path = "/proc/cpuinfo"
        let read = files.read(path)
        guard let text = read.text else { return .unavailable(name, reading: path, read) }
        var model: String?
        var processors = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = trim(String(line[..<colon]))
            if key == "processor" { processors += 1 }
            if model == nil && (key == "model name" || key == "Hardware" || key == "uarch") {
                model = trim(String(line[line.index(after: colon)...]))
            }
        }
        guard let model, !model.isEmpty else {
            return .unavailable(name, "no \"model name\" line in \(path)")
        }
        return .ok(name, "\(model), \(processors) logical CPUs in \(path)")
    }

    func onlineCores() -> HostCheck {
        let name = "online cores"
        var value: String
        if onlineFromSysfs != nil {
            value = "\(online.count): \(online)"
        } else {
            value = "\(online.count) (sysconf; /sys/devices/system/cpu/online not present)"
        }
        if let offline = files.trimmed("/sys/devices/system/cpu/offline").flatMap({ CPUList(parsing: $0) }),
            !offline.isEmpty
        {
            value += "; offline: \(offline)"
        }
        let allowed = files.keyValues("/proc/self/status")?["Cpus_allowed_list"].flatMap { CPUList(parsing: $0) }
        if let allowed {
            value += "; this process may run on \(allowed)"
            let excluded = online.subtracting(allowed)
            if !excluded.isEmpty {
                return .advise(
                    name, value,
                    "cores \(excluded) are outside this process's affinity (cgroup cpuset or taskset): "
                        + "run tickline with all the cores it pins to allowed")
            }
        }
        if online.count < 2 {
            return .advise(
                name, value, "one core: agents, kernel and interrupts share it; use a host with spare cores")
        }
        return .ok(name, value)
    }

    func smt() -> HostCheck {
        let name = "smt"
        let control = files.trimmed("/sys/devices/system/cpu/smt/control")
        let active = files.trimmed("/sys/devices/system/cpu/smt/active")
        var groups: [CPUList] = []
        var sawTopology = false
        for cpu in online.cpus {
            guard let text = files.trimmed(HostProbe.cpuPath(cpu, "topology/thread_siblings_list")) else { continue }
            sawTopology = true
            if let group = CPUList(parsing: text), group.count > 1, !groups.contains(group) {
                groups.append(group)
            }
        }
        if control == nil && active == nil && !sawTopology {
            return .unavailable(name, "/sys/devices/system/cpu/smt and cpu*/topology not present")
        }
        var value = "control \(control ?? "n/a"), active \(active ?? "n/a")"
        if groups.isEmpty {
            value += "; one thread per core"
            return .ok(name, value)
        }
        let shown = groups.prefix(4).map { "{\($0)}" }.joined(separator: " ")
        value += "; siblings \(shown)\(groups.count > 4 ? " …" : "")"
        if !isolated.isEmpty {
            let exposed = groups.filter { group in
                group.cpus.contains(where: isolated.contains) && !group.isSubset(of: isolated)
            }
            if exposed.isEmpty { return .ok(name, value + "; isolated cores own their siblings") }
            let partners = CPUList(exposed.flatMap(\.cpus)).subtracting(isolated)
            return .advise(
                name, value,
                "siblings \(partners) of isolated cores are not isolated: isolate whole cores "
                    + "(add \(partners) to isolcpus/nohz_full) or disable SMT (echo off > /sys/devices/system/cpu/smt/control)")
        }
        return .advise(
            name, value,
            "a trading core shares L1/L2 and execution units with its sibling: isolate both threads "
                + "of each trading core, or disable SMT (echo off > /sys/devices/system/cpu/smt/control, or boot with nosmt)")
    }

    /// NUMA nodes under `/sys/devices/system/node` with their CPU lists.
    func numaNodes() -> [(node: Int, cpus: String)] {
        numberedEntries(prefix: "node", in: "/sys/devices/system/node").map { node in
            (node, files.trimmed("/sys/devices/system/node/node\(node)/cpulist") ?? "?")
        }
    }

    var numaNodeCount: Int {
        let fromSysfs = numaNodes().count
        if fromSysfs > 0 { return fromSysfs }
        return system.numaMaxNode.map { $0 + 1 } ?? 1
    }

    func numa() -> HostCheck {
        let name = "numa"
        let nodes = numaNodes()
        let library = system.numaAvailable
            ? "libnuma numa_max_node()=\(system.numaMaxNode.map(String.init) ?? "?")"
            : "libnuma numa_available()=-1"
        if nodes.isEmpty && !system.numaAvailable {
            return .unavailable(name, "/sys/devices/system/node not present; \(library)")
        }
        let count = numaNodeCount
        let listed = nodes.isEmpty
            ? "/sys/devices/system/node not present"
            : nodes.map { "node\($0.node): cpus \($0.cpus)" }.joined(separator: ", ")
        let value = "\(count) node\(count == 1 ? "" : "s") (\(listed)); \(library)"
        if count > 1 {
            return .advise(
                name, value,
                "keep each pipeline's threads, its rings and its NIC on one node "
                    + "(numactl --cpunodebind=N --membind=N; NIC node in /sys/class/net/IFACE/device/numa_node)")
        }
        return .ok(name, value)
    }

    func numaBalancing() -> HostCheck {
        let name = "numa balancing"
        let path = "/proc/sys/kernel/numa_balancing"
        let read = files.read(path)
        guard let text = read.text.map(trim) else { return .unavailable(name, reading: path, read) }
        if text == "0" { return .ok(name, "kernel.numa_balancing=0") }
        if numaNodeCount < 2 { return .ok(name, "kernel.numa_balancing=\(text) (no effect with one node)") }
        return .advise(
            name, "kernel.numa_balancing=\(text)",
            "sysctl kernel.numa_balancing=0: balancing unmaps pages to sample them and migrates them, stalling the hot path")
    }

    /// `isolcpus=` on the command line and `/sys/devices/system/cpu/isolated`.
    func isolcpus() -> HostCheck {
        let name = "isolcpus"
        let raw = cmdline?["isolcpus"]
        let cmdText = cmdline == nil ? cmdlineRead.describe("/proc/cmdline") : raw.map { "isolcpus=\($0)" } ?? "no isolcpus="
        let sysText = isolatedFromSysfs.map { "isolated: \($0.isEmpty ? "none" : $0.description)" }
            ?? "/sys/devices/system/cpu/isolated not present"
        let value = "\(cmdText); \(sysText)"
        if cmdline == nil && isolatedFromSysfs == nil { return .unavailable(name, value) }
        if let raw, isolcpusFromCmdline == nil {
            return .advise(name, value, "isolcpus=\(raw) is not a CPU list the doctor understands: write it as isolcpus=2-7")
        }
        if !isolated.isEmpty {
            if online.isSubset(of: isolated) {
                return .advise(name, value, "every online core is isolated: leave one (e.g. cpu\(online.cpus.first ?? 0)) to the kernel and housekeeping")
            }
            return .ok(name, value)
        }
        if suggestedIsolation.isEmpty {
            return .advise(name, value, "one core online: nothing to isolate; use a host with spare cores")
        }
        let s = suggestedIsolation
        return .advise(
            name, value,
            "add isolcpus=\(s) nohz_full=\(s) rcu_nocbs=\(s) to the kernel command line "
                + "(GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot) and pin the agents there")
    }

    /// The cores `nohz_full`/`rcu_nocbs` should cover: the isolated ones, else the suggestion.
    private var isolationTarget: CPUList { isolated.isEmpty ? suggestedIsolation : isolated }

    func nohzFull() -> HostCheck {
        let name = "nohz_full"
        let raw = cmdline?["nohz_full"]
        let sysPath = "/sys/devices/system/cpu/nohz_full"
        let sysRead = files.read(sysPath)
        let fromSysfs = sysRead.text.flatMap { CPUList(parsing: $0, lastCPU: online.cpus.last) }
        let fromCmdline = raw.flatMap { CPUList(parsing: $0, lastCPU: online.cpus.last) }
        let cmdText = cmdline == nil ? cmdlineRead.describe("/proc/cmdline") : raw.map { "nohz_full=\($0)" } ?? "no nohz_full="
        let sysText = fromSysfs.map { "\(sysPath): \($0.isEmpty ? "none" : $0.description)" }
            ?? sysRead.describe(sysPath) + " (kernel without CONFIG_NO_HZ_FULL?)"
        let value = "\(cmdText); \(sysText)"
        if cmdline == nil && sysRead.text == nil { return .unavailable(name, value) }
        let active = (fromSysfs?.isEmpty == false ? fromSysfs : fromCmdline) ?? CPUList([])
        let target = isolationTarget
        if target.isEmpty {
            return active.isEmpty ? .ok(name, value + "; one core, nothing to do") : .ok(name, value)
        }
        if active.isEmpty {
            let rebuild = sysRead == .missing ? "; this kernel also needs CONFIG_NO_HZ_FULL=y" : ""
            return .advise(
                name, value,
                "add nohz_full=\(target) to the kernel command line (stops the scheduler tick on those cores)\(rebuild)")
        }
        if !isolated.isEmpty && !isolated.isSubset(of: active) {
            return .advise(name, value, "set nohz_full=\(isolated) to match the isolated cores")
        }
        return .ok(name, value)
    }

    func rcuNocbs() -> HostCheck {
        let name = "rcu_nocbs"
        guard let cmdline else { return .unavailable(name, reading: "/proc/cmdline", cmdlineRead) }
        let target = isolationTarget
        let nohz = cmdline["nohz_full"].flatMap { CPUList(parsing: $0, lastCPU: online.cpus.last) } ?? CPUList([])
        guard let raw = cmdline["rcu_nocbs"] else {
            if !nohz.isEmpty && target.isSubset(of: nohz) {
                return .ok(name, "no rcu_nocbs=; implied by nohz_full=\(nohz) (CONFIG_RCU_NOCB_CPU)")
            }
            if target.isEmpty { return .ok(name, "no rcu_nocbs=; one core, nothing to do") }
            return .advise(
                name, "no rcu_nocbs=",
                "add rcu_nocbs=\(target) to the kernel command line (moves RCU callbacks off those cores)")
        }
        guard let listed = CPUList(parsing: raw, lastCPU: online.cpus.last), !raw.isEmpty else {
            return .advise(name, "rcu_nocbs=\(raw)", "give the cores explicitly: rcu_nocbs=\(target)")
        }
        let covered = CPUList(listed.cpus + nohz.cpus)
        if !target.isEmpty && !target.isSubset(of: covered) {
            return .advise(name, "rcu_nocbs=\(raw)", "set rcu_nocbs=\(target) to match the isolated cores")
        }
        return .ok(name, "rcu_nocbs=\(raw)")
    }

    func cpuGovernor() -> HostCheck {
        let name = "cpu governor"
        var byGovernor: [String: [Int]] = [:]
        for cpu in online.cpus {
            if let governor = files.trimmed(HostProbe.cpuPath(cpu, "cpufreq/scaling_governor")) {
                byGovernor[governor, default: []].append(cpu)
            }
        }
        if byGovernor.isEmpty {
            let probed = HostProbe.cpuPath(online.cpus.first ?? 0, "cpufreq/scaling_governor")
            return .unavailable(
                name, "no cpufreq (\(probed) not present): typical of a VM, where the hypervisor sets the frequency")
        }
        let value = byGovernor.sorted { $0.value.first ?? 0 < $1.value.first ?? 0 }
            .map { "\($0.key) on \(CPUList($0.value))" }.joined(separator: ", ")
        let slow = CPUList(byGovernor.filter { $0.key != "performance" }.flatMap(\.value))
        if slow.isEmpty { return .ok(name, value) }
        return .advise(
            name, value,
            "echo performance | tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor "
                + "(or cpupower frequency-set -g performance) so cores \(slow) do not ramp up from idle")
    }

    func cpuIdle() -> HostCheck {
        let name = "cpu idle"
        let driverPath = "/sys/devices/system/cpu/cpuidle/current_driver"
        let driverRead = files.read(driverPath)
        guard let driver = driverRead.text.map(trim) else {
            return .unavailable(name, driverRead.describe(driverPath) + " (no cpuidle: idle is the default halt)")
        }
        var deepStates: [Int: String] = [:]  // state index -> "C6 (133 us)"
        var firstCPUStates: [String] = []
        for cpu in online.cpus {
            for index in numberedEntries(prefix: "state", in: HostProbe.cpuPath(cpu, "cpuidle")) {
                let base = HostProbe.cpuPath(cpu, "cpuidle/state\(index)/")
                let stateName = files.trimmed(base + "name") ?? "state\(index)"
                let latencyUs = files.trimmed(base + "latency").flatMap { Int($0) } ?? 0
                let disabled = files.trimmed(base + "disable") == "1"
                if cpu == online.cpus.first {
                    firstCPUStates.append("\(stateName) \(latencyUs) us\(disabled ? " (disabled)" : "")")
                }
                if !disabled && latencyUs > HostProbe.idleExitLatencyLimitUs {
                    deepStates[index] = "\(stateName) (\(latencyUs) us)"
                }
            }
        }
        let states = firstCPUStates.isEmpty ? "no states listed" : firstCPUStates.joined(separator: ", ")
        let value = "driver \(driver); cpu\(online.cpus.first ?? 0): \(states)"
        if deepStates.isEmpty { return .ok(name, value) }
        let indexes = deepStates.keys.sorted()
        let glob = indexes.count == 1 ? "state\(indexes[0])" : "state{\(indexes.map(String.init).joined(separator: ","))}"
        let listed = indexes.compactMap { deepStates[$0] }.joined(separator: ", ")
        return .advise(
            name, value,
            "deep idle states \(listed) add wake-up latency: echo 1 | tee /sys/devices/system/cpu/cpu*/cpuidle/\(glob)/disable "
                + "on the trading cores, or boot with intel_idle.max_cstate=1 processor.max_cstate=1")
    }

    /// Idle states slower than this to leave are reported (C1 is ~1-2 us, C1E ~10, C6 ~100).
    static let idleExitLatencyLimitUs = 5

    func clocksource() -> HostCheck {
        let name = "clocksource"
        let base = "/sys/devices/system/clocksource/clocksource0/"
        let read = files.read(base + "current_clocksource")
        guard let current = read.text.map(trim) else {
            return .unavailable(name, reading: base + "current_clocksource", read)
        }
        let available = files.trimmed(base + "available_clocksource")
        let value = "\(current)" + (available.map { " (available: \($0))" } ?? "")
        if current == "tsc" { return .ok(name, value) }
        let offered = available?.split(separator: " ").contains("tsc") ?? false
        if offered {
            return .advise(
                name, value,
                "echo tsc > \(base)current_clocksource (or boot with clocksource=tsc): clock_gettime is cheapest on tsc")
        }
        return .advise(
            name, value,
            "the kernel does not offer tsc (marked unstable? see dmesg | grep -i tsc): every clock read costs more on \(current)")
    }

    func tscFlags() -> HostCheck {
        let name = "tsc"
        let path = "/proc/cpuinfo"
        let read = files.read(path)
        guard let text = read.text else { return .unavailable(name, reading: path, read) }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let colon = line.firstIndex(of: ":")
        else {
            return .unavailable(name, "no flags line in \(path) (not x86)")
        }
        let flags = Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        let wanted = ["constant_tsc", "nonstop_tsc"]
        let present = wanted.filter(flags.contains)
        let missing = wanted.filter { !flags.contains($0) }
        if missing.isEmpty { return .ok(name, present.joined(separator: " ")) }
        return .advise(
            name, present.isEmpty ? "no constant_tsc, no nonstop_tsc" : "\(present.joined(separator: " ")); no \(missing.joined(separator: ", no "))",
            "the TSC may change rate or stop in idle: time with clock_gettime(CLOCK_MONOTONIC), not raw rdtsc")
    }
}
