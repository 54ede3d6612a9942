import Foundation
import Testing
import TicklineDoctor

/// Every check against a fake root: a tuned host gets no advice, and changing one file
/// changes the one check that reads it.
@Suite struct FakeHostTests {
    @Test func tunedHostGetsNoAdvice() throws {
        let host = try FakeHost()
        let report = host.report()
        let notOk = report.checks.filter { $0.status != .ok }
        #expect(notOk.isEmpty, "\(notOk)")
        #expect(report.checks.count == HostReportTests.checkNames.count)
    }

    @Test func emptyRootReportsFileChecksAsNotPresentWithoutCrashing() throws {
        let host = try FakeHost(tuned: false)
        let report = host.report()
        #expect(report.checks.map(\.name) == HostReportTests.checkNames)
        let fileChecks = [
            "cpu model", "smt", "numa balancing", "isolcpus", "nohz_full", "rcu_nocbs", "cpu governor",
            "cpu idle", "clocksource", "tsc", "thp", "thp defrag", "thp shmem", "huge pages", "hugetlbfs",
            "/dev/shm", "swap", "rt throttling", "irqbalance",
        ]
        for name in fileChecks {
            let check = try #require(report.check(named: name))
            #expect(check.status == .unavailable, "\(check)")
            #expect(check.value.contains("not present"), "\(check)")
        }
        let cores = try #require(report.check(named: "online cores"))
        #expect(cores.value.hasPrefix("8 (sysconf;"))
    }

    @Test func unreadableFileIsReportedWithItsErrno() throws {
        let host = try FakeHost()
        try host.remove("/proc/cmdline")
        try host.makeDirectory("/proc/cmdline")  // read(2) on a directory fails with EISDIR
        let check = host.check("rcu_nocbs")
        #expect(check.status == .unavailable)
        #expect(check.value.contains("/proc/cmdline unreadable"), "\(check)")
    }

    // MARK: CPU

    @Test func powersaveGovernorIsToldToUsePerformance() throws {
        let host = try FakeHost()
        try host.write("/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "powersave\n")
        let check = host.check("cpu governor")
        #expect(check.status == .advice)
        #expect(check.value == "performance on 0-2,4-7, powersave on 3")
        #expect(check.advice?.contains("echo performance | tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor") == true)
        #expect(check.advice?.contains("cores 3 ") == true)
    }

    @Test func missingCpufreqIsReportedAsTypicalOfVirtualMachines() throws {
        let host = try FakeHost()
        for cpu in 0..<8 { try host.remove("/sys/devices/system/cpu/cpu\(cpu)/cpufreq") }
        let check = host.check("cpu governor")
        #expect(check.status == .unavailable)
        #expect(check.value.contains("not present") && check.value.contains("VM"))
    }

    @Test func isolcpusAloneIsToldToAddMatchingNohzFullAndRcuNocbs() throws {
        let host = try FakeHost()
        try host.write("/proc/cmdline", "root=/dev/sda1 isolcpus=2-3\n")
        try host.write("/sys/devices/system/cpu/isolated", "2-3\n")
        try host.write("/sys/devices/system/cpu/nohz_full", "(null)\n")
        let report = host.report()
        let isolcpus = try #require(report.check(named: "isolcpus"))
        #expect(isolcpus.status == .ok)
        #expect(isolcpus.value == "isolcpus=2-3; isolated: 2-3")
        let nohz = try #require(report.check(named: "nohz_full"))
        #expect(nohz.status == .advice)
        #expect(nohz.advice?.contains("add nohz_full=2-3 to the kernel command line") == true)
        let rcu = try #require(report.check(named: "rcu_nocbs"))
        #expect(rcu.status == .advice)
        #expect(rcu.advice?.contains("add rcu_nocbs=2-3") == true)
    }

    @Test func hostWithoutIsolationIsToldWhichCoresToIsolate() throws {
        let host = try FakeHost()
        try host.write("/proc/cmdline", "root=/dev/sda1 quiet\n")
        try host.write("/sys/devices/system/cpu/isolated", "\n")
        try host.write("/sys/devices/system/cpu/nohz_full", "\n")
        let check = host.check("isolcpus")
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("add isolcpus=1-7 nohz_full=1-7 rcu_nocbs=1-7 to the kernel command line") == true)
        #expect(host.check("nohz_full").advice?.contains("nohz_full=1-7") == true)
    }

    @Test func isolcpusFlagsBeforeTheListAreSkipped() throws {
        let host = try FakeHost()
        try host.write("/proc/cmdline", "isolcpus=nohz,domain,managed_irq,2-3,6 nohz_full=2-3,6 rcu_nocbs=2-3,6\n")
        try host.remove("/sys/devices/system/cpu/isolated")
        try host.write("/sys/devices/system/cpu/nohz_full", "2-3,6\n")
        let report = host.report()
        #expect(report.check(named: "isolcpus")?.status == .ok)
        #expect(report.check(named: "nohz_full")?.status == .ok)
        #expect(report.check(named: "rcu_nocbs")?.status == .ok)
        #expect(report.check(named: "isolcpus")?.value.contains("/sys/devices/system/cpu/isolated not present") == true)
    }

    @Test func isolatingEveryCoreIsToldToLeaveOneForTheKernel() throws {
        let host = try FakeHost()
        try host.write("/proc/cmdline", "isolcpus=0-7 nohz_full=0-7\n")
        try host.write("/sys/devices/system/cpu/isolated", "0-7\n")
        let check = host.check("isolcpus")
        #expect(check.status == .advice)
        #expect(check.advice?.contains("leave one") == true)
    }

    @Test func nohzFullImpliesRcuNocbs() throws {
        let host = try FakeHost()
        try host.write("/proc/cmdline", "isolcpus=2-7 nohz_full=2-7\n")
        let check = host.check("rcu_nocbs")
        #expect(check.status == .ok)
        #expect(check.value.contains("implied by nohz_full=2-7"))
    }

    @Test func nohzFullNarrowerThanTheIsolatedCoresIsFlagged() throws {
        let host = try FakeHost()
        try host.write("/proc/cmdline", "isolcpus=2-7 nohz_full=2-3 rcu_nocbs=2-7\n")
        try host.write("/sys/devices/system/cpu/nohz_full", "2-3\n")
        let check = host.check("nohz_full")
        #expect(check.status == .advice)
        #expect(check.advice == "set nohz_full=2-7 to match the isolated cores")
    }

    @Test func smtSiblingsOfIsolatedCoresMustBeIsolatedToo() throws {
        let host = try FakeHost()
        try host.write("/sys/devices/system/cpu/smt/control", "on\n")
        try host.write("/sys/devices/system/cpu/smt/active", "1\n")
        for (a, b) in [(0, 4), (1, 5), (2, 6), (3, 7)] {
            try host.write("/sys/devices/system/cpu/cpu\(a)/topology/thread_siblings_list", "\(a),\(b)\n")
            try host.write("/sys/devices/system/cpu/cpu\(b)/topology/thread_siblings_list", "\(a),\(b)\n")
        }
        let check = host.check("smt")
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("siblings 0-1 of isolated cores are not isolated") == true, "\(check)")
    }

    @Test func deepIdleStatesAreFlagged() throws {
        let host = try FakeHost()
        for cpu in 0..<8 { try host.writeIdleState(cpu: cpu, index: 2, name: "C6", latencyUs: 133) }
        var check = host.check("cpu idle")
        #expect(check.status == .advice)
        #expect(check.advice?.contains("C6 (133 us)") == true)
        #expect(check.advice?.contains("/sys/devices/system/cpu/cpu*/cpuidle/state2/disable") == true)
        for cpu in 0..<8 { try host.writeIdleState(cpu: cpu, index: 2, name: "C6", latencyUs: 133, disabled: true) }
        check = host.check("cpu idle")
        #expect(check.status == .ok)
        #expect(check.value.contains("C6 133 us (disabled)"))
    }

    @Test func nonTscClocksourceIsToldToSwitchToTsc() throws {
        let host = try FakeHost()
        try host.write("/sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n")
        let check = host.check("clocksource")
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource") == true)
    }

    @Test func missingInvariantTscFlagsAreFlagged() throws {
        let host = try FakeHost()
        try host.write("/proc/cpuinfo", "processor\t: 0\nmodel name\t: Old\nflags\t\t: fpu tsc constant_tsc\n")
        let check = host.check("tsc")
        #expect(check.status == .advice)
        #expect(check.value == "constant_tsc; no nonstop_tsc")
    }

    @Test func twoNumaNodesAdvisePinningAndBalancingOff() throws {
        let host = try FakeHost()
        try host.write("/sys/devices/system/node/node0/cpulist", "0-3\n")
        try host.write("/sys/devices/system/node/node1/cpulist", "4-7\n")
        try host.write("/proc/sys/kernel/numa_balancing", "1\n")
        let report = host.report(HostSystemFacts.tuned.with { $0.numaMaxNode = 1 })
        let numa = try #require(report.check(named: "numa"))
        #expect(numa.status == .advice)
        #expect(numa.value.hasPrefix("2 nodes (node0: cpus 0-3, node1: cpus 4-7)"))
        let balancing = try #require(report.check(named: "numa balancing"))
        #expect(balancing.status == .advice)
        #expect(balancing.advice?.hasPrefix("sysctl kernel.numa_balancing=0") == true)
    }

    @Test func affinityNarrowerThanTheOnlineCoresIsFlagged() throws {
        let host = try FakeHost()
        try host.write("/proc/self/status", "CapEff:\t0\nCpus_allowed_list:\t0-3\n")
        let check = host.check("online cores")
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("cores 4-7 are outside this process's affinity") == true)
    }

    // MARK: Memory

    @Test func thpAlwaysIsToldToUseMadvise() throws {
        let host = try FakeHost()
        try host.write("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n")
        let check = host.check("thp")
        #expect(check.status == .advice)
        #expect(check.value == "enabled=[always]")
        #expect(check.advice?.hasPrefix("echo madvise > /sys/kernel/mm/transparent_hugepage/enabled") == true)
    }

    @Test func thpDefragAlwaysIsToldToDefer() throws {
        let host = try FakeHost()
        try host.write("/sys/kernel/mm/transparent_hugepage/defrag", "[always] defer defer+madvise madvise never\n")
        let check = host.check("thp defrag")
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("echo defer+madvise >") == true)
    }

    @Test func shmemHugePagesNeverIsToldToAllowMadvise() throws {
        let host = try FakeHost()
        try host.write("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "always within_size advise [never] deny force\n")
        let check = host.check("thp shmem")
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("echo advise > /sys/kernel/mm/transparent_hugepage/shmem_enabled") == true)
    }

    @Test func shmemHugePagesAdviseIsOk() throws {
        let host = try FakeHost()
        try host.write("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "always within_size [advise] never deny force\n")
        #expect(host.check("thp shmem").status == .ok)
    }

    @Test func noReservedHugePagesPointsAtTransparentOnes() throws {
        let host = try FakeHost()
        try host.write("/proc/meminfo", "HugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB\n")
        let check = host.check("huge pages")
        #expect(check.status == .advice)
        #expect(check.value == "total 0, free 0, size 2048 kB")
        #expect(check.advice?.hasPrefix("none reserved: the ring region uses transparent huge pages") == true)
        #expect(check.advice?.contains("sysctl vm.nr_hugepages=N") == true)
    }

    @Test func missingHugetlbfsMountIsFlagged() throws {
        let host = try FakeHost()
        try host.write("/proc/mounts", "tmpfs /dev/shm tmpfs rw 0 0\n")
        let check = host.check("hugetlbfs")
        #expect(check.status == .advice)
        #expect(check.advice?.contains("mount -t hugetlbfs") == true)
    }

    @Test func finiteMemlockLimitIsFlaggedUnlessCapIpcLockIsHeld() throws {
        let host = try FakeHost()
        let limited = HostSystemFacts.tuned.with {
            $0.memlockSoftBytes = 8 << 20
            $0.memlockHardBytes = 8 << 20
        }
        let check = host.check("mlock limit", limited)
        #expect(check.status == .advice)
        #expect(check.value == "RLIMIT_MEMLOCK soft 8 MiB, hard 8 MiB")
        #expect(check.advice?.contains("LimitMEMLOCK=infinity") == true)

        try host.write("/proc/self/status", "CapEff:\t000001ffffffffff\nCpus_allowed_list:\t0-7\n")
        let privileged = host.check("mlock limit", limited)
        #expect(privileged.status == .ok)
        #expect(privileged.value.contains("CAP_IPC_LOCK held"))
    }

    @Test func devShmThatIsNotTmpfsIsFlagged() throws {
        let host = try FakeHost()
        try host.write("/proc/mounts", "/dev/sda1 /dev/shm ext4 rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw 0 0\n")
        let check = host.check("/dev/shm")
        #expect(check.status == .advice)
        #expect(check.value.hasPrefix("ext4, size "))
    }

    @Test func activeSwapIsFlagged() throws {
        let host = try FakeHost()
        try host.write(
            "/proc/swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sda2 partition\t8388604\t0\t-2\n")
        let check = host.check("swap")
        #expect(check.status == .advice)
        #expect(check.value.hasPrefix("on: /dev/sda2"))
    }

    // MARK: Kernel

    @Test func rtThrottlingIsExplainedWithItsCost() throws {
        let host = try FakeHost()
        try host.write("/proc/sys/kernel/sched_rt_runtime_us", "950000\n")
        let check = host.check("rt throttling")
        #expect(check.status == .advice)
        #expect(check.value.contains("stopped 50 ms in every 1000 ms"))
        #expect(check.advice?.contains("kernel.sched_rt_runtime_us=-1 only with care") == true)
    }

    @Test func unavailableIoUringNamesTheSysctlToChange() throws {
        let host = try FakeHost()
        let disabled = HostSystemFacts.tuned.with {
            $0.ioUring = IoUringSupport(
                isAvailable: false, detail: "io_uring_queue_init(8) failed: EPERM; kernel.io_uring_disabled=2",
                setupErrno: EPERM, disabledSysctl: 2)
        }
        let check = host.check("io_uring", disabled)
        #expect(check.status == .advice)
        #expect(check.value.contains("EPERM"))
        #expect(check.advice?.contains("sysctl kernel.io_uring_disabled=0") == true)
    }

    @Test func ioUringRestrictedToRootWarnsAboutANonRootService() throws {
        let host = try FakeHost()
        let restricted = HostSystemFacts.tuned.with {
            $0.effectiveUserID = 0
            $0.ioUring = IoUringSupport(isAvailable: true, detail: "ok", features: 1, disabledSysctl: 1)
        }
        let check = host.check("io_uring", restricted)
        #expect(check.status == .advice)
        #expect(check.advice?.contains("kernel.io_uring_group") == true)
    }

    @Test func irqbalanceIsFlaggedUntilItLeavesTheTradingCoresAlone() throws {
        let host = try FakeHost()
        try host.write("/proc/812/comm", "irqbalance\n")
        var check = host.check("irqbalance")
        #expect(check.status == .advice)
        #expect(check.value == "running (pid 812)")
        #expect(check.advice?.contains("IRQBALANCE_BANNED_CPULIST=2-7") == true)

        try host.write("/etc/default/irqbalance", "# comment\nIRQBALANCE_BANNED_CPULIST=\"2-7\"\n")
        check = host.check("irqbalance")
        #expect(check.status == .ok)
        #expect(check.value.contains("IRQBALANCE_BANNED_CPULIST=2-7"))
    }

    @Test func oldKernelIsToldToUpgrade() throws {
        let host = try FakeHost()
        let old = HostSystemFacts.tuned.with { $0.kernelRelease = "5.15.0-91-generic" }
        let check = host.check("kernel", old)
        #expect(check.status == .advice)
        #expect(check.advice?.hasPrefix("upgrade to 6.1 or later") == true)
        #expect(host.check("kernel").status == .ok)
    }
}
