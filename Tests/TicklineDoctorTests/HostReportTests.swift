import Foundation
import Testing
import TicklineDoctor

/// The real host, and the text and JSON renderings.
@Suite struct HostReportTests {
    /// The check names, in order: a contract with the CLI and JSON consumers.
    static let checkNames = [
        "cpu model", "online cores", "smt", "numa", "numa balancing", "isolcpus", "nohz_full", "rcu_nocbs",
        "cpu governor", "cpu idle", "clocksource", "tsc", "thp", "thp defrag", "thp shmem", "huge pages",
        "hugetlbfs", "mlock limit", "/dev/shm", "swap", "rt throttling", "io_uring", "irqbalance", "kernel",
    ]

    static func contents(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8)).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test func realHostReportHasEveryCheckInOrder() {
        #expect(HostReport.probe().checks.map(\.name) == Self.checkNames)
    }

    @Test func realHostOnlineCoreCountMatchesSysconf() throws {
        let check = try #require(HostReport.probe().check(named: "online cores"))
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        #expect(check.value.hasPrefix("\(online):") || check.value.hasPrefix("\(online) (sysconf"), "\(check)")
        let list = try #require(Self.contents("/sys/devices/system/cpu/online").flatMap { CPUList(parsing: $0) })
        #expect(list.count == online)
        #expect(check.value.hasPrefix("\(online): \(list)"))
    }

    @Test func realHostIoUringProbeAgreesWithTheDisabledSysctl() {
        let sysctl = Self.contents("/proc/sys/kernel/io_uring_disabled").flatMap { Int($0) }
        let probe = IoUringSupport.probe()
        #expect(probe.disabledSysctl == sysctl)
        #expect(probe.isAvailable == (probe.setupErrno == nil))
        #expect(probe.isAvailable == (probe.features != 0))
        if let sysctl { #expect(probe.detail.contains("kernel.io_uring_disabled=\(sysctl)")) }
        switch sysctl {
        case 2?:
            #expect(!probe.isAvailable, "io_uring_disabled=2 forbids every ring")
            #expect(probe.setupErrno == EPERM)
        case 1?:
            if geteuid() == 0 { #expect(probe.isAvailable, "io_uring_disabled=1 still allows root") }
        default:
            // Allowed by the sysctl: only a seccomp filter (EPERM) or a kernel without
            // io_uring (ENOSYS) may refuse, and the detail must say which.
            if !probe.isAvailable {
                #expect(probe.setupErrno == EPERM || probe.setupErrno == ENOSYS, "\(probe.detail)")
                #expect(probe.detail.contains("seccomp") || probe.detail.contains("CONFIG_IO_URING"))
            }
        }
        let check = HostReport.probe().check(named: "io_uring")
        #expect(check?.status == (probe.isAvailable && sysctl != 1 ? .ok : .advice))
    }

    @Test func realHostMemlockCheckShowsGetrlimit() throws {
        var limit = rlimit()
        #expect(getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit) == 0)
        let check = try #require(HostReport.probe().check(named: "mlock limit"))
        if limit.rlim_cur == rlim_t.max {
            #expect(check.value.contains("soft unlimited"))
        } else if limit.rlim_cur % (1 << 20) == 0 {
            #expect(check.value.contains("soft \(limit.rlim_cur >> 20) MiB"), "\(check)")
        }
    }

    @Test func realHostHugePagesMatchMeminfo() throws {
        let meminfo = try #require(Self.contents("/proc/meminfo"))
        let total = try #require(
            meminfo.split(separator: "\n").first { $0.hasPrefix("HugePages_Total:") }?
                .split(separator: " ").last.flatMap { Int($0) })
        let check = try #require(HostReport.probe().check(named: "huge pages"))
        #expect(check.value.hasPrefix("total \(total),"))
        if total == 0 { #expect(check.status == .advice) }
    }

    @Test func realHostJsonParsesAndNamesEveryCheck() throws {
        let report = HostReport.probe()
        let json = report.renderJSON()
        #expect(!json.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Array(object.keys) == ["checks"])
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.compactMap { $0["name"] as? String } == Self.checkNames)
        for (parsed, check) in zip(checks, report.checks) {
            #expect(Set(parsed.keys) == ["name", "value", "status", "advice"])
            #expect(parsed["value"] as? String == check.value)
            #expect(parsed["status"] as? String == check.status.rawValue)
            if let advice = check.advice {
                #expect(parsed["advice"] as? String == advice)
            } else {
                #expect(parsed["advice"] is NSNull)
            }
        }
    }

    @Test func jsonEscapesQuotesBackslashesAndControlCharacters() throws {
        let awkward = "say \"hi\" \\ path\nnext\tcol\r\u{01}\u{1F}\u{7F} é 🚀 </script>"
        let report = HostReport(checks: [
            HostCheck(name: "a\"b", value: awkward, status: .advice, advice: awkward),
            HostCheck(name: "plain", value: "", status: .unavailable, advice: nil),
        ])
        let json = report.renderJSON()
        #expect(!json.contains("\n") && !json.contains("\u{01}"))
        #expect(json.hasPrefix(#"{"checks":[{"name":"a\"b","value":"say \"hi\" \\ path\nnext\tcol\r\u0001\u001f\u007f é"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.count == 2)
        #expect(checks[0]["name"] as? String == "a\"b")
        #expect(checks[0]["value"] as? String == awkward)
        #expect(checks[0]["advice"] as? String == awkward)
        #expect(checks[1]["advice"] is NSNull)
        #expect(checks[1]["status"] as? String == "unavailable")
    }

    @Test func textHasOneAlignedLinePerCheckWithValueAndAdvice() {
        let report = HostReport(checks: [
            HostCheck(name: "short", value: "v1", status: .ok),
            HostCheck(name: "longer name", value: "v2", status: .advice, advice: "do x"),
            HostCheck(name: "x", value: "v3", status: .unavailable),
        ])
        #expect(report.renderText() == """
            ok           short        v1
            advice       longer name  v2 -> do x
            unavailable  x            v3
            """)
    }

    @Test func realHostTextShowsEveryValueOnItsOwnLine() {
        let report = HostReport.probe()
        let lines = report.renderText().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == report.checks.count)
        for (line, check) in zip(lines, report.checks) {
            #expect(line.hasPrefix(check.status.rawValue))
            #expect(line.contains(check.name) && line.contains(check.value))
            #expect(!check.value.isEmpty, "\(check.name) has no value")
            #expect((check.status == .advice) == (check.advice != nil), "\(check)")
        }
    }
}

/// The kernel's CPU list syntax.
@Suite struct CPUListTests {
    @Test func parsesRangesSinglesAndEmptyLists() {
        #expect(CPUList(parsing: "0-3,5,7-8\n")?.cpus == [0, 1, 2, 3, 5, 7, 8])
        #expect(CPUList(parsing: "")?.cpus == [])
        #expect(CPUList(parsing: "(null)")?.cpus == [])
        #expect(CPUList(parsing: "3,1,1")?.cpus == [1, 3])
    }

    @Test func parsesLastCpuAndGroupSyntax() {
        #expect(CPUList(parsing: "2-N", lastCPU: 5)?.cpus == [2, 3, 4, 5])
        #expect(CPUList(parsing: "N") == nil)
        #expect(CPUList(parsing: "0-15:2/8")?.cpus == [0, 1, 8, 9])
    }

    @Test func rejectsMalformedLists() {
        for bad in ["a", "3-1", "1-", "-1", "1,,2", "0-3:3/2", "1-2-3", "٣"] {
            #expect(CPUList(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func printsCompressedRanges() {
        #expect(CPUList([7, 0, 1, 2, 4, 5]).description == "0-2,4-5,7")
        #expect(CPUList([3]).description == "3")
        #expect(CPUList([]).description == "")
        #expect(CPUList([0, 1, 2, 3]).subtracting(CPUList([1])).description == "0,2-3")
    }
}
