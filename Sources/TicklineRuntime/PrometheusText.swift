/// Builds the Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE`
/// once per family, then its samples; label values escaped. Cold path (a scrape).
public struct PrometheusText: Sendable {
    public private(set) var text = ""
    var families: Set<String> = []

    public init() {}

    public enum Kind: String, Sendable { case counter, gauge, histogram, summary, untyped }

    /// Starts a family (once per name; a repeat is ignored, so samples may be added later).
    public mutating func family(_ name: String, _ kind: Kind, _ help: String) {
        guard families.insert(name).inserted else { return }
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    /// A one-sample family.
    public mutating func single(_ name: String, _ kind: Kind, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
        family(name, kind, help)
        sample(name, labels, value)
    }

    /// A histogram from cumulative bucket counts: `buckets` are (upper bound, count of
    /// samples ≤ bound), ascending; `+Inf` is added from `count`.
    public mutating func histogram(_ name: String, _ help: String, _ labels: [(String, String)], buckets: [(Double, UInt64)],
                                   sum: Double, count: UInt64) {
        family(name, .histogram, help)
        for (bound, n) in buckets { sample(name + "_bucket", labels + [("le", Self.format(bound))], Double(n)) }
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(count))
        sample(name + "_sum", labels, sum)
        sample(name + "_count", labels, Double(count))
    }

    /// Appends text that is already in the format (e.g. the writer's metrics file).
    public mutating func append(exposition: String) {
        guard !exposition.isEmpty else { return }
        text += exposition.hasSuffix("\n") ? exposition : exposition + "\n"
    }

    public static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// A label value with `\\`, `"` and newlines escaped.
    public static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
