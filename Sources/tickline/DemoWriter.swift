#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TicklineConfig
import TicklineEngine

/// The demo's journal writer: a real `tickline-writer` process attached to the demo's
/// region, pointed at Redis and InfluxDB on loopback when they answer, and otherwise at a
/// local line-protocol file (InfluxDB's `file://` sink), so a new user sees where signals,
/// orders, fills and risk events went without installing a server.
struct DemoWriter {
    let supervisor: WriterSupervisor
    /// Where the journal goes, for the screen ("InfluxDB http://…, Redis redis://…").
    let destination: String

    /// Starts the writer for `instance` (its config, spill and line-protocol file go in
    /// `directory`); nil and the reason, for the screen, when it cannot run (not built).
    static func start(instance: String, directory: String) -> (DemoWriter?, String) {
        let redis = probe(port: 6379, request: "PING\r\n", expect: "+PONG")
        var influx = probe(port: 8086, request: "GET /ping HTTP/1.0\r\n\r\n", expect: " 204")
        // The writer posts to db=tickline, which must exist; creating it again is harmless.
        if influx {
            influx = probe(port: 8086, request: "POST /query?q=CREATE%20DATABASE%20tickline HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
                           expect: " 200")
        }
        let influxURL = influx ? "http://127.0.0.1:8086/write?db=tickline" : "file://\(directory)/\(instance).lp"
        let yaml = """
            instance: \(instance)
            writer:
              influx:
                url: \(influxURL)
              redis:
                enabled: \(redis)
              spill_dir: \(directory)
              on_region_gone: exit
              attach_timeout_ms: 10000
              restart_delay_ms: 200
            """
        let configPath = "\(directory)/writer.yaml"
        do { try yaml.write(toFile: configPath, atomically: true, encoding: .utf8) } catch {
            return (nil, "writer: cannot write \(configPath): \(error); journal kept in process")
        }
        let config: WriterConfig
        do { config = try EngineConfig.load(path: configPath).writer } catch {
            return (nil, "writer: \(error.description); journal kept in process")
        }
        let supervisor = WriterSupervisor(instance: instance, configPath: configPath, config: config)
        do { try supervisor.start() } catch {
            return (nil, "writer: \(error.description) (build it: swift build -c release --product tickline-writer); journal kept in process")
        }
        var sinks = [influx ? "InfluxDB \(influxURL)" : "line protocol to \(directory)/\(instance).lp (no InfluxDB on 127.0.0.1:8086)"]
        sinks.append(redis ? "Redis redis://127.0.0.1:6379/0 (streams tickline:\(instance):*)" : "Redis off (none on 127.0.0.1:6379)")
        let writer = DemoWriter(supervisor: supervisor, destination: sinks.joined(separator: "; "))
        return (writer, "writer: tickline-writer pid \(supervisor.pid ?? 0) -> \(writer.destination)")
    }

    /// True when a server on 127.0.0.1:`port` answers `request` with a reply containing
    /// `expect` within 300 ms.
    static func probe(port: UInt16, request: String, expect: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected, send(fd, request, request.utf8.count, Int32(MSG_NOSIGNAL)) == request.utf8.count else { return false }
        var reply = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &reply, reply.count, 0)
        return n > 0 && String(decoding: reply[0..<n], as: UTF8.self).contains(expect)
    }
}
