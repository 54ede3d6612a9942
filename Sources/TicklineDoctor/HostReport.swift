/// Every host check of `tickline doctor`, in a fixed order.
///
/// Plain immutable data; thread-safe. Probing reads `/proc`, `/sys` and rlimits and creates
/// one io_uring; it never writes to the host and never traps on a missing file.
public struct HostReport: Sendable {
    public let checks: [HostCheck]

    public init(checks: [HostCheck]) {
        self.checks = checks
    }

    /// Probes this host.
    public static func probe() -> HostReport {
        probe(root: "/")
    }

    /// Probes with every file read relative to `root` (a fake tree in tests) and the
    /// system-call facts taken from `system` (this host's by default).
    public static func probe(root: String, system: HostSystemFacts = .live()) -> HostReport {
        HostReport(checks: HostProbe(files: HostFiles(root: root), system: system).checks())
    }

    /// The check with this name, if the report has one.
    public func check(named name: String) -> HostCheck? {
        checks.first { $0.name == name }
    }

    /// One line per check, `status  name  value[ -> advice]`, names aligned; no trailing
    /// newline.
    public func renderText() -> String {
        let statusWidth = "unavailable".count
        let nameWidth = checks.map(\.name.count).max() ?? 0
        func pad(_ s: String, _ width: Int) -> String {
            s + String(repeating: " ", count: max(0, width - s.count))
        }
        return checks.map { check in
            var line = pad(check.status.rawValue, statusWidth) + "  " + pad(check.name, nameWidth)
                + "  " + check.value
            if let advice = check.advice { line += " -> " + advice }
            return line
        }.joined(separator: "\n")
    }

    /// One JSON object on one line:
    /// `{"checks":[{"name":"…","value":"…","status":"ok","advice":null},…]}`.
    public func renderJSON() -> String {
        var out = #"{"checks":["#
        for (index, check) in checks.enumerated() {
            if index > 0 { out += "," }
            out += #"{"name":"# + jsonString(check.name)
            out += #","value":"# + jsonString(check.value)
            out += #","status":"# + jsonString(check.status.rawValue)
            out += #","advice":"# + (check.advice.map(jsonString) ?? "null")
            out += "}"
        }
        return out + "]}"
    }
}

/// A JSON string literal (RFC 8259): quotes, backslash and control characters escaped;
/// everything else passes through as UTF-8.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case let c where c.value < 0x20 || c.value == 0x7F:
            let hex = String(c.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default:
            out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
