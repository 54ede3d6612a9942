/// The kernel command line split into parameters; the last occurrence of a key wins, a bare
/// flag maps to `""`, and everything after `--` (init's arguments) is ignored.
struct KernelCommandLine: Sendable {
    let parameters: [String: String]

    init(_ text: String) {
        var parameters: [String: String] = [:]
        for word in text.split(whereSeparator: \.isWhitespace) {
            if word == "--" { break }
            if let eq = word.firstIndex(of: "=") {
                parameters[String(word[..<eq])] = String(word[word.index(after: eq)...])
            } else {
                parameters[String(word)] = ""
            }
        }
        self.parameters = parameters
    }

    subscript(key: String) -> String? { parameters[key] }
}

/// Runs the checks against one file tree and one set of system facts.
///
/// Facts several checks share (online CPUs, the isolated set) are read once in `init`.
struct HostProbe {
    let files: HostFiles
    let system: HostSystemFacts

    let cmdlineRead: FileRead
    let cmdline: KernelCommandLine?
    /// `/sys/devices/system/cpu/online`, or `nil` when absent or unparsable.
    let onlineFromSysfs: CPUList?
    /// The online CPUs, from sysfs or else `0..<sysconf(_SC_NPROCESSORS_ONLN)`.
    let online: CPUList
    /// `/sys/devices/system/cpu/isolated` (`nil` when absent).
    let isolatedFromSysfs: CPUList?
    /// The CPU list of `isolcpus=` without its flags (`nil` when absent or unparsable).
    let isolcpusFromCmdline: CPUList?
    /// The cores set aside for the pipeline: sysfs's isolated set, else the command line's.
    let isolated: CPUList
    /// What to isolate when nothing is: every online core but the first.
    let suggestedIsolation: CPUList

    init(files: HostFiles, system: HostSystemFacts) {
        self.files = files
        self.system = system
        cmdlineRead = files.read("/proc/cmdline")
        cmdline = cmdlineRead.text.map(KernelCommandLine.init)
        onlineFromSysfs = files.trimmed("/sys/devices/system/cpu/online").flatMap { CPUList(parsing: $0) }
        online = onlineFromSysfs ?? CPUList(0..<max(system.onlineProcessorCount, 0))
        let lastCPU = online.cpus.last
        isolatedFromSysfs = files.trimmed("/sys/devices/system/cpu/isolated").flatMap {
            CPUList(parsing: $0, lastCPU: lastCPU)
        }
        isolcpusFromCmdline = cmdline?["isolcpus"].flatMap { HostProbe.isolcpusList($0, lastCPU: lastCPU) }
        if let sysfs = isolatedFromSysfs, !sysfs.isEmpty {
            isolated = sysfs
        } else {
            isolated = isolcpusFromCmdline ?? CPUList([])
        }
        suggestedIsolation = CPUList(online.cpus.dropFirst())
    }

    /// `isolcpus=[flag,...,]<cpu-list>`: drops the leading flags (`nohz`, `domain`,
    /// `managed_irq`) and parses the rest.
    static func isolcpusList(_ value: String, lastCPU: Int?) -> CPUList? {
        var items = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        while let first = items.first, first.contains(where: \.isLetter), first != "N" {
            items.removeFirst()
        }
        return CPUList(parsing: items.joined(separator: ","), lastCPU: lastCPU)
    }

    func checks() -> [HostCheck] {
        [
            cpuModel(), onlineCores(), smt(), numa(), numaBalancing(),
            isolcpus(), nohzFull(), rcuNocbs(), cpuGovernor(), cpuIdle(), clocksource(), tscFlags(),
            transparentHugePages(), transparentHugePagesDefrag(), transparentHugePagesShmem(),
            hugePages(), hugetlbfs(), mlockLimit(), devShm(), swap(),
            rtThrottling(), ioUring(), irqbalance(), kernel(),
        ]
    }

    /// A `/sys/devices/system/cpu/cpuN` path.
    static func cpuPath(_ cpu: Int, _ rest: String) -> String {
        "/sys/devices/system/cpu/cpu\(cpu)/\(rest)"
    }

    /// Numbered entries of a directory: `numberedEntries(prefix: "cpu", in: ...)` -> [0, 1].
    func numberedEntries(prefix: String, in dir: String) -> [Int] {
        (files.list(dir) ?? []).compactMap { name in
            guard name.hasPrefix(prefix) else { return nil }
            let rest = name.dropFirst(prefix.count)
            guard !rest.isEmpty, rest.allSatisfy(\.isASCII) else { return nil }
            return Int(rest)
        }.sorted()
    }
}
