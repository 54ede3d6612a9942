// Memory checks: transparent and explicit huge pages, mlock, /dev/shm, swap.

/// One line of `/proc/mounts`.
struct MountEntry: Sendable, Equatable {
    let device: String
    let mountPoint: String
    let type: String
    let options: String
}

extension HostProbe {
    func mounts() -> [MountEntry]? {
        guard let text = files.read("/proc/mounts").text else { return nil }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 4 else { return nil }
            return MountEntry(
                device: String(fields[0]), mountPoint: String(fields[1]), type: String(fields[2]),
                options: String(fields[3]))
        }
    }

    /// The bracketed choice of a sysfs selector: `"always [madvise] never"` -> `"madvise"`.
    static func selected(_ text: String) -> String? {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// A check of one `/sys/kernel/mm/transparent_hugepage/<file>` selector; `advice` maps
    /// the selected mode to the change to make, or `nil` when the mode is fine.
    private func transparentHugePageCheck(
        _ name: String, file: String, advice: (_ mode: String, _ path: String) -> String?
    ) -> HostCheck {
        let path = "/sys/kernel/mm/transparent_hugepage/" + file
        let read = files.read(path)
        guard let text = read.text else { return .unavailable(name, reading: path, read) }
        guard let mode = HostProbe.selected(text) else {
            return .unavailable(name, "\(path): no [selected] mode in \"\(trim(text))\"")
        }
        let value = "\(file)=[\(mode)]"
        guard let advice = advice(mode, path) else { return .ok(name, value) }
        return .advise(name, value, advice)
    }

    func transparentHugePages() -> HostCheck {
        transparentHugePageCheck("thp", file: "enabled") { mode, path in
            mode == "always"
                ? "echo madvise > \(path): with always, khugepaged collapses and compaction stall threads at random"
                : nil
        }
    }

    func transparentHugePagesDefrag() -> HostCheck {
        transparentHugePageCheck("thp defrag", file: "defrag") { mode, path in
            mode == "always"
                ? "echo defer+madvise > \(path): with always, a page fault can compact memory synchronously"
                : nil
        }
    }

    func transparentHugePagesShmem() -> HostCheck {
        transparentHugePageCheck("thp shmem", file: "shmem_enabled") { mode, path in
            // The ring region is shmem and asks for huge pages with madvise(MADV_HUGEPAGE),
            // which shmem honours only under advise, within_size or always.
            switch mode {
            case "force", "deny": return "echo advise > \(path) (\(mode) is for testing only)"
            case "never": return "echo advise > \(path) so the ring region (madvise MADV_HUGEPAGE) gets 2 MiB pages; until then it uses 4 KiB pages"
            default: return nil
            }
        }
    }

    func hugePages() -> HostCheck {
        let name = "huge pages"
        let path = "/proc/meminfo"
        guard let info = files.keyValues(path) else { return .unavailable(name, reading: path, files.read(path)) }
        guard let total = info["HugePages_Total"].flatMap({ Int($0) }),
            let free = info["HugePages_Free"].flatMap({ Int($0) })
        else {
            return .unavailable(name, "no HugePages_Total in \(path) (kernel without CONFIG_HUGETLBFS)")
        }
        let size = info["Hugepagesize"] ?? "?"
        let value = "total \(total), free \(free), size \(size)"
        if total == 0 {
            return .advise(
                name, value,
                "none reserved: the ring region uses transparent huge pages (see thp shmem) instead; "
                    + "to reserve explicit ones for other uses: sysctl vm.nr_hugepages=N (N pages of \(size))")
        }
        if free == 0 {
            return .advise(name, value, "all \(total) huge pages are in use: raise vm.nr_hugepages")
        }
        return .ok(name, value)
    }

    func hugetlbfs() -> HostCheck {
        let name = "hugetlbfs"
        guard let mounts = mounts() else {
            return .unavailable(name, reading: "/proc/mounts", files.read("/proc/mounts"))
        }
        let found = mounts.filter { $0.type == "hugetlbfs" }
        if found.isEmpty {
            return .advise(
                name, "none mounted",
                "to share huge-page rings by path: mount -t hugetlbfs -o pagesize=2M none /dev/hugepages")
        }
        let value = found.map { entry in
            let pageSize = entry.options.split(separator: ",").first { $0.hasPrefix("pagesize=") }
            return entry.mountPoint + (pageSize.map { " (\($0))" } ?? "")
        }.joined(separator: ", ")
        return .ok(name, value)
    }

    func mlockLimit() -> HostCheck {
        let name = "mlock limit"
        func limit(_ bytes: UInt64?) -> String { bytes.map(formatBytes) ?? "unlimited" }
        var value = "RLIMIT_MEMLOCK soft \(limit(system.memlockSoftBytes)), hard \(limit(system.memlockHardBytes))"
        guard system.memlockSoftBytes != nil else { return .ok(name, value) }
        if let capabilities = files.keyValues("/proc/self/status")?["CapEff"],
            let bits = UInt64(capabilities, radix: 16), bits & (1 << 14) != 0
        {
            value += "; CAP_IPC_LOCK held (euid \(system.effectiveUserID)), so this process may lock beyond it"
            return .ok(name, value)
        }
        return .advise(
            name, value,
            "raise it for the tickline user: LimitMEMLOCK=infinity in the systemd unit, "
                + "'<user> - memlock unlimited' in /etc/security/limits.conf, or grant CAP_IPC_LOCK; mlockall fails beyond the limit")
    }

    func devShm() -> HostCheck {
        let name = "/dev/shm"
        let path = "/dev/shm"
        guard files.exists(path), let space = files.fileSystemSpace(path) else {
            return .unavailable(name, "\(path) not present", "mount -t tmpfs -o size=1G tmpfs /dev/shm")
        }
        let type = mounts()?.last { $0.mountPoint == path }?.type
        let value = "\(type ?? "not a mount point"), size \(formatBytes(space.totalBytes)), free \(formatBytes(space.freeBytes))"
        if let type, type != "tmpfs" {
            return .advise(name, value, "/dev/shm is \(type), not tmpfs: mount -t tmpfs -o size=1G tmpfs /dev/shm")
        }
        if space.totalBytes < HostProbe.devShmMinimumBytes {
            return .advise(
                name, value,
                "mount -o remount,size=1G /dev/shm (in docker: --shm-size=1g); rings live there")
        }
        if space.freeBytes < HostProbe.devShmMinimumBytes / 4 {
            return .advise(name, value, "little free space: remove stale rings (ls -l /dev/shm) or grow it")
        }
        return .ok(name, value)
    }

    /// Below this, `/dev/shm` is reported (docker's default is 64 MiB).
    static let devShmMinimumBytes: UInt64 = 256 << 20

    func swap() -> HostCheck {
        let name = "swap"
        let path = "/proc/swaps"
        let read = files.read(path)
        guard let text = read.text else { return .unavailable(name, reading: path, read) }
        let devices = text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init)
        }
        let swappiness = files.trimmed("/proc/sys/vm/swappiness")
        let suffix = swappiness.map { ", vm.swappiness=\($0)" } ?? ""
        if devices.isEmpty { return .ok(name, "off\(suffix)") }
        let total = files.keyValues("/proc/meminfo")?["SwapTotal"].map { " (\($0))" } ?? ""
        return .advise(
            name, "on: \(devices.joined(separator: ", "))\(total)\(suffix)",
            "locked memory stays resident, but paging elsewhere stalls the host: swapoff -a, or sysctl vm.swappiness=1")
    }
}
