/// The control plane (`control:`): HTTP API, metrics and dashboard on ordinary threads
/// outside the pinned set. Loopback by default; every request but `GET /healthz` needs the
/// bearer token.
public struct ControlConfig: Sendable, Equatable {
    public var enabled: Bool
    /// Address to listen on, `HOST:PORT` (port 0 = any free port, printed at start).
    public var listen: String
    /// The bearer token. Empty: `TICKLINE_CONTROL_TOKEN` if set, else a random token made
    /// at start and written to `token_file` (mode 0600).
    public var token: String
    /// Where a generated token is written; `{instance}` is replaced by the instance name.
    public var tokenFile: String
    /// Refresh period of the dashboard's live updates (server-sent events), ms.
    public var pushIntervalMs: Int

    public init(enabled: Bool = true, listen: String = "127.0.0.1:8080", token: String = "",
                tokenFile: String = "/tmp/tickline-{instance}.token", pushIntervalMs: Int = 1_000) {
        self.enabled = enabled
        self.listen = listen
        self.token = token
        self.tokenFile = tokenFile
        self.pushIntervalMs = pushIntervalMs
    }

    public static let keys = ["enabled", "listen", "token", "token_file", "push_interval_ms"]

    /// `listen` split into host and port.
    public var hostAndPort: (host: String, port: Int) {
        let i = listen.lastIndex(of: ":")!
        return (String(listen[..<i]), Int(listen[listen.index(after: i)...])!)
    }

    /// Parses `control:`; errors name the file, line and key.
    public static func parse(_ value: ConfigValue) throws(ConfigError) -> ControlConfig {
        var m = try value.mapping()
        var c = ControlConfig()
        if let v = m.optional("enabled") { c.enabled = try v.bool() }
        if let v = m.optional("listen") {
            c.listen = try v.string()
            guard let i = c.listen.lastIndex(of: ":"), !c.listen[..<i].isEmpty,
                  let port = Int(c.listen[c.listen.index(after: i)...]), (0...65_535).contains(port) else {
                throw v.error("'\(c.listen)' is not HOST:PORT (e.g. 127.0.0.1:8080)")
            }
        }
        if let v = m.optional("token") {
            c.token = try v.string()
            guard c.token.isEmpty || c.token.utf8.count >= 16 else { throw v.error("a token must have at least 16 characters") }
        }
        if let v = m.optional("token_file") {
            c.tokenFile = try v.string()
            guard c.tokenFile.hasPrefix("/") else { throw v.error("'\(c.tokenFile)' must be an absolute path") }
        }
        if let v = m.optional("push_interval_ms") { c.pushIntervalMs = try v.int(in: 50...60_000) }
        try m.finish(allowed: keys)
        return c
    }
}
