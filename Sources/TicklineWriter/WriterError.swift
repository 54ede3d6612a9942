#if canImport(Glibc)
import Glibc
#endif

/// Why the writer could not start or a sink could not be set up. Cold paths only; the
/// drain loop reports sink failures as values (`InfluxOutcome`, `RedisOutcome`).
public enum WriterError: Error, Equatable, CustomStringConvertible {
    case invalidURL(String, why: String)
    case curl(String)
    case redisConnect(String)
    case redisConfig(String)
    case spill(call: String, path: String, errno: Int32)
    /// The line-protocol file of a `file://` InfluxDB URL.
    case output(call: String, path: String, errno: Int32)
    case region(String)
    /// The instance's writer lock (`WriterLock`).
    case lock(call: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidURL(let url, let why): return "invalid URL '\(url)': \(why)"
        case .curl(let what): return "libcurl: \(what)"
        case .redisConnect(let what): return "redis: \(what)"
        case .redisConfig(let what): return "redis configuration: \(what)"
        case .spill(let call, let path, let e): return "spill \(call)(\(path)) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .output(let call, let path, let e): return "line-protocol file \(call)(\(path)) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .region(let what): return what
        case .lock(let call, let path, let e): return "writer lock \(call)(\(path)) failed: \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}

/// Writes one line to stderr (cold path: start-up, sink state changes, errors).
public func writerLog(_ message: String) {
    let line = "tickline-writer: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
