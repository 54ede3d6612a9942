/// One line of `tickline doctor`: what was observed on the host and, when it hurts latency,
/// the concrete change to make.
///
/// Plain immutable data; thread-safe.
public struct HostCheck: Sendable, Equatable {
    /// Whether the observed value is fine, worth changing, or could not be observed.
    public enum Status: String, Sendable {
        /// Nothing to change.
        case ok
        /// The value costs latency (or will fail at run time); `advice` names the change.
        case advice
        /// The probe could not observe the value (file not present, not supported here).
        case unavailable
    }

    /// Stable short name, also the JSON key consumers match on (`"isolcpus"`, `"io_uring"`).
    public let name: String
    /// What the probe observed, in words and numbers (`"950000 of 1000000 us"`).
    public let value: String
    public let status: HostCheck.Status
    /// The concrete change, when there is one (`"add nohz_full=2-3 to the kernel command line"`).
    public let advice: String?

    public init(name: String, value: String, status: HostCheck.Status, advice: String? = nil) {
        self.name = name
        self.value = value
        self.status = status
        self.advice = advice
    }

    static func ok(_ name: String, _ value: String) -> HostCheck {
        HostCheck(name: name, value: value, status: .ok)
    }

    static func advise(_ name: String, _ value: String, _ advice: String) -> HostCheck {
        HostCheck(name: name, value: value, status: .advice, advice: advice)
    }

    static func unavailable(_ name: String, _ value: String, _ advice: String? = nil) -> HostCheck {
        HostCheck(name: name, value: value, status: .unavailable, advice: advice)
    }

    /// The check reported when the file it needs could not be read.
    static func unavailable(_ name: String, reading path: String, _ failure: FileRead) -> HostCheck {
        HostCheck(name: name, value: failure.describe(path), status: .unavailable)
    }
}
