#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineCore
import TicklineFeed
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRuntime

/// A `tickline-feed` child process (the replay server built beside the test binary) on a
/// loopback port, with bounded waits everywhere.
final class FeedServerProcess {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static let buildDirectory: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }()
    static var binary: String { buildDirectory.appendingPathComponent("tickline-feed").path }
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    let arguments: [String]
    private(set) var process: Process
    private(set) var port: UInt16 = 0
    var address: String { "127.0.0.1:\(port)" }

    /// Starts `tickline-feed --synthetic symbols` (plus `extra`) on a free port, or on `port`.
    init(symbols: Int, rate: Int = 2_000, extra: [String] = [], port: UInt16 = 0) throws {
        arguments = ["--synthetic", String(symbols), "--rate", String(rate)] + extra
        process = Process()
        try launch(port: port)
    }

    private func launch(port wanted: UInt16) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--listen", "127.0.0.1:\(wanted)"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // First line: `listening HOST:PORT`. Read with a bounded wait.
        let fd = out.fileHandleForReading.fileDescriptor
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("\n") && Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 100) > 0 {
                var chunk = [UInt8](repeating: 0, count: 256)
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { break }
                text += String(decoding: chunk[0..<n], as: UTF8.self)
            }
        }
        guard let line = text.split(separator: "\n").first, line.hasPrefix("listening "),
              let port = UInt16(line.split(separator: ":").last ?? "")
        else {
            stop()
            throw Failure(description: "tickline-feed did not start: '\(text)'")
        }
        self.port = port
    }

    /// SIGKILL, then start again on the same port (SO_REUSEADDR lets it bind at once).
    func restart() throws {
        stop()
        try launch(port: port)
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(1_000) }
    }

    deinit { stop() }

    /// `POST /fault?…` (e.g. `kind=drop`); returns the HTTP status.
    @discardableResult
    func fault(_ query: String) throws -> Int { try Self.http("POST", address, "/fault?\(query)").status }

    /// A plain HTTP/1.1 request over a socket with a 10 s receive timeout.
    static func http(_ method: String, _ host: String, _ target: String) throws -> (status: Int, body: String) {
        let parts = host.split(separator: ":")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(String(parts[0]))
        address.sin_port = in_port_t(UInt16(parts[1])!.bigEndian)
        // SIGCHLD of the servers other tests killed may interrupt any of these calls: retry EINTR.
        var rc: Int32 = -1
        repeat {
            rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } while rc != 0 && errno == EINTR
        guard rc == 0 || errno == EISCONN else { throw Failure(description: "cannot connect to \(host)") }
        let request = Array("\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 0\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            sent += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}

extension Trait where Self == ConditionTrait {
    static var needsFeedServer: Self {
        .enabled(if: FeedServerProcess.isAvailable, "tickline-feed is not built beside the test binary")
    }
}

/// The synthetic server's symbols: SYM0000USDT… with 8 decimals (its prices and quantities).
func syntheticTable(_ count: Int) throws -> InstrumentTable {
    try InstrumentTable((0..<count).map { k in
        let digits = String(k)
        let symbol = "SYM" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "USDT"
        return InstrumentSpec(symbol: symbol, id: InstrumentId(100 + k), priceDecimals: 8, quantityDecimals: 8)
    })
}

/// The backends this host can run: posix always, io_uring when a ring can be created.
let availableBackends: [NetBackend] = NetBackend.detect().backend == .ioUring ? [.ioUring, .posix] : [.posix]

func syntheticSymbol(_ k: Int) -> String {
    let digits = String(k)
    return "SYM" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "USDT"
}

/// A feed agent on a private region, run by an `AgentInvoker` on the test thread, with the
/// rings drained into arrays after every duty cycle; `desk` is the control plane's end of its
/// `control.feed` ring.
final class FeedHarness {
    let region: SharedRegion
    let agent: FeedAgent
    let desk: FeedSubscriptionDesk
    let invoker: AgentInvoker
    var marketRing: RingConsumer<MarketEvent>
    var depthRing: RingConsumer<DepthSnapshot>
    var journalRing: RingConsumer<MarketEvent>
    var market: [MarketEvent] = []
    var depth: [DepthSnapshot] = []
    var journalCount = 0
    /// The server the feed talks to, kept alive as long as the harness (Swift may end a
    /// local's lifetime at its last use, and the server's deinit kills it).
    var server: FeedServerProcess?

    init(config: FeedConfig, instruments: InstrumentTable, backend: NetBackend = NetBackend.detect().backend) throws {
        let instance = "feedtest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let specs = [
            RingSpec.of(MarketEvent.self, name: "market", capacity: 1 << 14, overflow: .dropNewest),
            RingSpec.of(DepthSnapshot.self, name: "depth", capacity: 1 << 12, overflow: .dropNewest),
            RingSpec.of(MarketEvent.self, name: "journal.market", capacity: 1 << 14, overflow: .dropNewest),
            RingSpec.of(FeedCommand.self, name: "control.feed", capacity: 1 << 6, overflow: .refuse),
        ]
        region = try SharedRegion.create(instance: instance, rings: specs,
                                         options: RegionOptions(lockMemory: false, hugePages: false)).0
        marketRing = try region.consumer(of: MarketEvent.self, ring: "market")
        depthRing = try region.consumer(of: DepthSnapshot.self, ring: "depth")
        journalRing = try region.consumer(of: MarketEvent.self, ring: "journal.market")
        // The feed stage of one feed, which drains `control.feed` for it as an engine's does.
        let stage = try FeedStage(feeds: [(config, instruments)], region: region, backend: backend, venueCopies: false, commands: true)
        agent = stage.feeds[0]
        desk = try FeedSubscriptionDesk(universes: [instruments], feeds: [config],
                                        ring: region.producer(of: FeedCommand.self, ring: "control.feed"))
        invoker = AgentInvoker([stage])
        invoker.start()
    }

    deinit {
        invoker.close()
        region.unlink()
    }

    /// Runs duty cycles until `condition` holds or `seconds` pass (sleeping 200 µs when idle).
    @discardableResult
    func run(seconds: Double, until condition: (FeedHarness) -> Bool = { _ in false }) -> Bool {
        let deadline = Clock.monotonic() + Int64(seconds * 1e9)
        while Clock.monotonic() < deadline {
            let work = invoker.invoke(now: .now())
            drain()
            if condition(self) { return true }
            if work == 0 { usleep(200) }
        }
        return condition(self)
    }

    func drain() {
        _ = marketRing.drain(limit: 1 << 14) { event, _ in market.append(event.pointee) }
        _ = depthRing.drain(limit: 1 << 12) { snapshot, _ in depth.append(snapshot.pointee) }
        journalCount += journalRing.drain(limit: 1 << 14) { _, _ in }
    }

    var counters: FeedCounters { agent.counters }

    /// Every subscribed symbol's book is synced.
    func allSynced(_ symbols: [String]) -> Bool {
        symbols.allSatisfy { agent.book($0)?.state == .synced }
    }

    func events(of instrument: InstrumentId, kind: MarketEventKind) -> Int {
        market.reduce(0) { $0 + ($1.instrument == instrument && $1.kind == kind ? 1 : 0) }
    }
}

/// A config for the local server: fast timers, so faults are seen within a second or two.
func testConfig(server: FeedServerProcess, symbols: [String], connections: Int = 1) -> FeedConfig {
    var config = FeedConfig()
    config.name = "test"
    config.streamAddress = server.address
    config.restBase = "http://\(server.address)"
    config.symbols = symbols
    config.connections = connections
    config.backoffInitialMs = 50
    config.backoffMaxMs = 500
    config.staleAfterMs = 400
    config.pingIntervalMs = 200
    config.pongTimeoutMs = 600
    config.openTimeoutMs = 2_000
    config.snapshotTimeoutMs = 2_000
    config.snapshotRetryInitialMs = 20
    config.snapshotRetryMaxMs = 300
    config.snapshotLimit = 100
    return config
}
