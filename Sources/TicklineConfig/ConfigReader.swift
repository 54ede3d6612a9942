import Yams

/// A config problem, naming the file, line and key at fault and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// 1-based; 0 when the problem has no position (a missing file).
    public let line: Int
    public let column: Int
    /// Dotted path of the key at fault (`threading.runners[0].cores`), or "" for the file.
    public let key: String
    public let message: String

    public init(file: String, line: Int, column: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        let position = line > 0 ? "\(file):\(line):\(column)" : file
        return key.isEmpty ? "\(position): \(message)" : "\(position): \(key): \(message)"
    }
}

/// One YAML value with where it came from: typed reads that fail with a `ConfigError`
/// naming the line and key. Cold path.
public struct ConfigValue {
    let node: Node
    public let path: String
    let file: String

    var line: Int { (node.mark?.line ?? 0) }
    var column: Int { (node.mark?.column ?? 0) }

    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, key: path, message: message)
    }

    private func scalarText(_ expected: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw error("expected \(expected), found a \(kindName)") }
        return s.string
    }

    var kindName: String {
        switch node {
        case .scalar: return "scalar"
        case .mapping: return "mapping"
        case .sequence: return "list"
        case .alias: return "alias"
        }
    }

    public func string() throws(ConfigError) -> String { try scalarText("a string") }

    public func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        let text = try scalarText("an integer")
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")) else { throw error("expected an integer, found '\(text)'") }
        if let range, !range.contains(v) { throw error("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    public func double(in range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        let text = try scalarText("a number")
        guard let v = Double(text.replacingOccurrences(of: "_", with: "")), v.isFinite else { throw error("expected a number, found '\(text)'") }
        if let range, !range.contains(v) { throw error("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    public func bool() throws(ConfigError) -> Bool {
        let text = try scalarText("true or false")
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, found '\(text)'")
        }
    }

    /// One of `choices`, named in the error otherwise.
    public func choice(_ choices: [String]) throws(ConfigError) -> String {
        let text = try string()
        guard choices.contains(text) else { throw error("'\(text)' is not one of: \(choices.joined(separator: ", "))") }
        return text
    }

    public func list() throws(ConfigError) -> [ConfigValue] {
        guard case .sequence(let seq) = node else { throw error("expected a list, found a \(kindName)") }
        return seq.enumerated().map { ConfigValue(node: $0.element, path: "\(path)[\($0.offset)]", file: file) }
    }

    public func mapping() throws(ConfigError) -> ConfigMapping {
        guard case .mapping(let m) = node else { throw error("expected a mapping, found a \(kindName)") }
        var pairs: [(String, Node, Node)] = []
        for (k, v) in m {
            guard case .scalar(let s) = k else {
                throw ConfigError(file: file, line: k.mark?.line ?? line, column: k.mark?.column ?? column, key: path, message: "keys must be plain names")
            }
            pairs.append((s.string, k, v))
        }
        return ConfigMapping(pairs: pairs, value: self)
    }
}

/// A YAML mapping read key by key; `finish()` rejects any key nobody asked for (a typo
/// must not silently fall back to a default).
public struct ConfigMapping {
    let pairs: [(String, Node, Node)]
    let value: ConfigValue
    private var used: Set<String> = []

    init(pairs: [(String, Node, Node)], value: ConfigValue) {
        self.pairs = pairs
        self.value = value
    }

    public var path: String { value.path }
    public var keys: [String] { pairs.map(\.0) }

    private func child(_ key: String, _ node: Node) -> ConfigValue {
        ConfigValue(node: node, path: value.path.isEmpty ? key : "\(value.path).\(key)", file: value.file)
    }

    /// The value at `key`, or nil when absent (or explicitly null).
    public mutating func optional(_ key: String) -> ConfigValue? {
        guard let pair = pairs.first(where: { $0.0 == key }) else { return nil }
        used.insert(key)
        if case .scalar(let s) = pair.2, s.tag.description == Tag.Name.null.rawValue || s.string == "~" || s.string == "null" {
            return nil
        }
        return child(key, pair.2)
    }

    /// The value at `key`; a missing key is an error naming the mapping's line.
    public mutating func required(_ key: String) throws(ConfigError) -> ConfigValue {
        guard let v = optional(key) else { throw value.error("missing required key '\(key)'").withKey(value.path.isEmpty ? key : "\(value.path).\(key)") }
        return v
    }

    /// Every (key, value) pair, marking all as used (for maps keyed by name).
    public mutating func entries() -> [(String, ConfigValue)] {
        pairs.map { used.insert($0.0); return ($0.0, child($0.0, $0.2)) }
    }

    /// Fails on the first key that was never read, naming its line and the keys allowed.
    public func finish(allowed: [String]) throws(ConfigError) {
        for (key, keyNode, _) in pairs where !used.contains(key) {
            let at = keyNode.mark
            throw ConfigError(
                file: value.file, line: at?.line ?? value.line, column: at?.column ?? value.column,
                key: value.path.isEmpty ? key : "\(value.path).\(key)",
                message: "unknown key (allowed here: \(allowed.joined(separator: ", ")))")
        }
    }
}

extension ConfigError {
    func withKey(_ key: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, key: key, message: message)
    }
}

enum ConfigDocument {
    /// Parses YAML text into the root value; syntax errors name the line.
    static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigValue {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: 0, column: 0, key: "", message: "the file is empty")
            }
            return ConfigValue(node: node, path: "", file: file)
        } catch let e as ConfigError {
            throw e
        } catch let e as YamlError {
            throw ConfigError(file: file, line: e.line, column: e.column, key: "", message: "YAML syntax: \(e.problem)")
        } catch {
            throw ConfigError(file: file, line: 0, column: 0, key: "", message: "YAML: \(error)")
        }
    }
}

extension YamlError {
    var line: Int {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 0
        }
    }
    var column: Int {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.column
        default: return 0
        }
    }
    var problem: String {
        switch self {
        case .scanner(let ctx, let p, _, _), .parser(let ctx, let p, _, _), .composer(let ctx, let p, _, _):
            if let ctx { return "\(p) (\(ctx.text))" }
            return p
        case .duplicatedKeysInMapping(let dups, _): return "duplicated keys: \(dups.joined(separator: ", "))"
        default: return "\(self)"
        }
    }
}
