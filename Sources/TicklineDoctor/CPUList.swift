/// A set of CPU numbers in the kernel's list format (`"0-3,8,10-11"`).
///
/// Plain immutable data; thread-safe.
public struct CPUList: Sendable, Equatable, CustomStringConvertible {
    /// Sorted, without duplicates.
    public let cpus: [Int]

    public init(_ cpus: some Sequence<Int>) {
        self.cpus = Array(Set(cpus)).sorted()
    }

    /// Parses the kernel's list syntax: `"0-3,8"`, an empty string (no CPUs), `"N"` for the
    /// last CPU (needs `lastCPU`) and the group form `"0-15:2/4"` (the first 2 of every 4).
    /// Returns `nil` for anything else.
    public init?(parsing text: String, lastCPU: Int? = nil) {
        let body = trim(text)
        if body.isEmpty || body == "(null)" {
            self.init([])
            return
        }
        var result: [Int] = []
        for item in body.split(separator: ",", omittingEmptySubsequences: false) {
            guard let expanded = CPUList.expand(Substring(trim(String(item))), lastCPU: lastCPU)
            else { return nil }
            result += expanded
        }
        self.init(result)
    }

    public var isEmpty: Bool { cpus.isEmpty }
    public var count: Int { cpus.count }

    public func contains(_ cpu: Int) -> Bool { cpus.contains(cpu) }

    public func isSubset(of other: CPUList) -> Bool { Set(cpus).isSubset(of: other.cpus) }

    public func subtracting(_ other: CPUList) -> CPUList { CPUList(Set(cpus).subtracting(other.cpus)) }

    /// The compressed list form, `"0-3,8"`; `""` when empty.
    public var description: String {
        var parts: [String] = []
        var index = 0
        while index < cpus.count {
            var end = index
            while end + 1 < cpus.count && cpus[end + 1] == cpus[end] + 1 { end += 1 }
            parts.append(end == index ? "\(cpus[index])" : "\(cpus[index])-\(cpus[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }

    private static func expand(_ item: Substring, lastCPU: Int?) -> [Int]? {
        func number(_ s: Substring) -> Int? {
            if s == "N" { return lastCPU }
            guard !s.isEmpty, s.allSatisfy(\.isASCII), let n = Int(s), n >= 0 else { return nil }
            return n
        }
        var range = item
        var used = 1
        var group = 1
        if let colon = item.firstIndex(of: ":") {
            range = item[..<colon]
            let spec = item[item.index(after: colon)...].split(separator: "/", omittingEmptySubsequences: false)
            guard spec.count == 2, let u = number(spec[0]), let g = number(spec[1]), u >= 1, g >= u
            else { return nil }
            used = u
            group = g
        }
        let bounds = range.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = bounds.first.flatMap(number) else { return nil }
        var last = first
        if bounds.count == 2 {
            guard let l = number(bounds[1]), l >= first else { return nil }
            last = l
        } else if bounds.count != 1 {
            return nil
        }
        guard last - first < 1 << 16 else { return nil }
        var result: [Int] = []
        for start in stride(from: first, through: last, by: group) {
            result += Array(start..<min(start + used, last + 1))
        }
        return result
    }
}
