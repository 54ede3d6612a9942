#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TicklineConfig
import TicklineCore
import TicklineExecution
import TicklineFeed
import TicklineIndicators
import TicklineMarketData
import TicklineRing
import TicklineRisk
import TicklineRuntime
import TicklineStrategy

// `tickline bench e2e`: the live pipeline (feed on io_uring sockets → strategy → risk →
// the venue's `orders` ring) fed by a `tickline-feed` server on loopback at a fixed
// offered rate, with the latency of every order measured from its socket read.

/// Counts market events over all symbols; owned by the strategy thread (the only writer
/// and reader once the pipeline runs).
public final class BenchEventCounter: @unchecked Sendable {
    var value: UInt64 = 0
    public init() {}
}

/// The benchmark's strategy: every `every`-th market event (trades, quotes and book tops
/// of all symbols together) becomes a buy signal at that event's price (the ask for quotes),
/// sized at `quantityUnits`, with a bracket far enough away (×0.5, ×2) that no exit fires
/// during a run. Counting over all symbols (not per symbol) keeps the signal rate at
/// rate / every whatever the symbol count.
public struct EveryNthStrategy: SymbolStrategy {
    public typealias State = Void
    public let common: StrategyCommon
    public let every: UInt64
    let counter: BenchEventCounter

    public static var readsTicks: Bool { true }

    public init(id: StrategyId, every: Int, quantityUnits: Int64, timeframe: BarKind, counter: BenchEventCounter = BenchEventCounter()) {
        precondition(every >= 1, "EveryNthStrategy: every \(every) must be at least 1")
        common = StrategyCommon(id: id, timeframe: timeframe, symbols: nil, sizing: .quantity(units: quantityUnits), horizon: .swing)
        self.every = UInt64(every)
        self.counter = counter
    }

    public func makeState() {}

    public func onBar(_ bar: OHLCVBar, indicators: borrowing IndicatorSet, state: inout Void) -> StrategyDecision? { nil }

    @inline(__always)
    public func onTrade(price: Double, quantity: Double, state: inout Void) -> StrategyDecision? { decide(price) }

    @inline(__always)
    public func onQuote(bid: Double, ask: Double, state: inout Void) -> StrategyDecision? { decide(ask) }

    @inline(__always)
    func decide(_ price: Double) -> StrategyDecision? {
        counter.value &+= 1
        guard counter.value % every == 0, price > 0 else { return nil }
        return StrategyDecision(side: .buy, entry: price, takeProfit: price * 2, stopLoss: price * 0.5, confidence: 1)
    }

    public static func == (a: EveryNthStrategy, b: EveryNthStrategy) -> Bool {
        a.common == b.common && a.every == b.every && a.counter === b.counter
    }
}

/// The half-open window of socket-read times whose orders are measured (set by the
/// controlling thread, read by the sink).
final class MeasureWindow: Sendable {
    let startNs = Atomic<Int64>(Int64.max)
    let endNs = Atomic<Int64>(Int64.max)
}

/// Stands in for `tickline-writer` (which would drain the journal rings from another
/// process on core 0): drains every journal ring and discards the records, and takes the
/// latency of each new entry order from its timestamp chain (`journal.orders` carries the
/// same stamps as the venue's copy). Owned by its runner thread.
final class BenchJournalSink: Agent {
    let roleName = "bench.sink"
    var market: RingConsumer<MarketEvent>
    var bars: RingConsumer<BarEvent>
    var signals: RingConsumer<SignalEvent>
    var orders: RingConsumer<OrderEvent>
    var fills: RingConsumer<FillEvent>
    var risk: RingConsumer<RiskEvent>
    var telemetry: RingConsumer<TelemetryRecord>
    let stats: StatsBoard
    let window: MeasureWindow
    let feed: StatsBoard.Histogram
    let strategy: StatsBoard.Histogram
    let riskStage: StatsBoard.Histogram
    let send: StatsBoard.Histogram
    let tickToOrder: StatsBoard.Histogram

    init(region: SharedRegion, stats: StatsBoard, window: MeasureWindow) throws(RegionError) {
        market = try region.consumer(of: MarketEvent.self, ring: "journal.market")
        bars = try region.consumer(of: BarEvent.self, ring: "journal.bars")
        signals = try region.consumer(of: SignalEvent.self, ring: "journal.signals")
        orders = try region.consumer(of: OrderEvent.self, ring: "journal.orders")
        fills = try region.consumer(of: FillEvent.self, ring: "journal.fills")
        risk = try region.consumer(of: RiskEvent.self, ring: "journal.risk")
        telemetry = try region.consumer(of: TelemetryRecord.self, ring: "journal.telemetry")
        self.stats = stats
        self.window = window
        feed = stats.stageLatency("feed")
        strategy = stats.stageLatency("strategy")
        riskStage = stats.stageLatency("risk")
        send = stats.stageLatency("send")
        tickToOrder = stats.tickToOrder()
    }

    func doWork(now: DutyCycleTime) -> Int {
        let limit = 4_096
        var work = market.drain(limit: limit) { _, _ in }
        work += bars.drain(limit: limit) { _, _ in }
        work += signals.drain(limit: limit) { _, _ in }
        work += fills.drain(limit: limit) { _, _ in }
        work += risk.drain(limit: limit) { _, _ in }
        work += telemetry.drain(limit: limit) { _, _ in }
        let start = window.startNs.load(ordering: .relaxed), end = window.endNs.load(ordering: .relaxed)
        work += orders.drain(limit: limit) { o, _ in
            let order = o.pointee
            let t = order.timestamps
            guard order.action == .new, order.flags & OrderEvent.flagReduceOnly == 0, t.socketReadNs.ns >= start, t.socketReadNs.ns < end
            else { return }
            stats.record(feed, t.decodedNs - t.socketReadNs)
            stats.record(strategy, t.signalNs - t.decodedNs)
            stats.record(riskStage, t.riskDecidedNs - t.signalNs)
            stats.record(send, t.orderSentNs - t.riskDecidedNs)
            stats.record(tickToOrder, t.orderSentNs - t.socketReadNs)
        }
        return work
    }
}

/// The pipeline of one benchmark scenario: a region of its own, the real `FeedAgent`
/// (io_uring sockets when the host has them), `StrategyAgent<EveryNthStrategy>`,
/// `RiskAgent` with limits that let every signal through, `ExecutionAgent` (paper venue)
/// reading the `orders` ring, placed on runners by `threading` exactly as `tickline run`
/// places them; plus the journal sink on a runner of its own (where the writer would be).
public final class BenchPipeline {
    /// Symbols per connection: 3 streams each within the venue's 1,024 streams per connection.
    public static let symbolsPerConnection = 1_024 / 3

    public let symbols: [String]
    public let region: SharedRegion
    let feedStage: FeedStage
    public let strategy: StrategyAgent<EveryNthStrategy>
    public let risk: RiskAgent
    public let execution: ExecutionAgent
    public let runners: [AgentRunner]
    let sinkRunner: AgentRunner
    /// The pipeline's one feed.
    public var feed: FeedAgent { feedStage.feeds[0] }
    /// Latency histograms written by the sink: stages feed, strategy, risk, send; tick-to-order.
    public let stats = StatsBoard()
    let window = MeasureWindow()

    /// `tickline-feed --synthetic`'s symbol names: SYM0000USDT, SYM0001USDT, …
    public static func syntheticSymbols(_ count: Int) -> [String] {
        (0..<count).map { k in
            let digits = String(k)
            return "SYM" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "USDT"
        }
    }

    /// Builds everything (cold path).
    /// - Parameters:
    ///   - address: the feed server's numeric `host:port`.
    ///   - every: one signal per this many market events.
    ///   - threading: runners for `feed`, `strategy`, `risk`, `execution` (the default config fuses them).
    ///   - sinkCores: the journal sink's cores (empty: not pinned).
    public init(symbolCount: Int, address: String, every: Int, instance: String, threading: ThreadingConfig,
                sinkCores: [Int]) throws(EngineError) {
        precondition(symbolCount >= 1, "BenchPipeline: symbol count \(symbolCount) must be at least 1")
        symbols = Self.syntheticSymbols(symbolCount)
        // The synthetic server writes prices and quantities with 8 decimals.
        let table: InstrumentTable
        do {
            table = try InstrumentTable(symbols.enumerated().map {
                InstrumentSpec(symbol: $0.element, id: InstrumentId($0.offset), priceDecimals: 8, quantityDecimals: 8)
            })
        } catch { throw EngineError(description: "instrument table: \(error)") }
        // The journal rings are drained continuously here, so they need not hold minutes.
        var rings = RingCatalog.defaultSpecs
        for i in rings.indices where rings[i].name.hasPrefix("journal.") {
            rings[i].capacity = rings[i].name == "journal.market" ? 1 << 18 : 1 << 16
        }
        var feedConfig = FeedConfig()
        feedConfig.name = "bench"
        feedConfig.streamAddress = address
        feedConfig.restBase = "http://\(address)"
        feedConfig.symbols = symbols
        feedConfig.connections = (symbolCount + Self.symbolsPerConnection - 1) / Self.symbolsPerConnection
        // Every book needs a REST snapshot before it publishes; the local server has no
        // venue weight limit, and 10,000 books must sync within the warm-up.
        feedConfig.snapshotLimit = 100
        feedConfig.snapshotWeightPerMinute = 100_000_000
        feedConfig.snapshotParallel = 8
        feedConfig.staleAfterMs = 60_000
        feedConfig.pendingLevels = 2_048
        var settings = StrategySettings()
        settings.symbolCount = symbolCount
        // One-minute bars only: no bar closes during a run, so the strategy stage's work is the events.
        settings.timeBars = [.minutes1]
        let custom = EveryNthStrategy(id: 1, every: every, quantityUnits: 100_000, timeframe: .minutes1)
        var venue = PaperVenueConfig()
        venue.startingCapitalMoney = Int64.max / 4
        venue.inFlightCapacity = 16_384
        venue.reportCapacity = 16_384
        // The engine `tickline run` builds, without latency histograms of its own (the sink
        // takes every stage's latency from the orders' timestamp chains).
        let engine = try EngineAssembly(region: RegionPlan(instance: instance, rings: rings), feeds: [(feedConfig, table)],
                                        strategy: settings, custom: [custom], risk: Self.permissiveRisk(symbolCount: symbolCount),
                                        venues: [venue], instrumentVenues: Array(repeating: 0, count: symbolCount), stats: nil,
                                        feedCommands: false)
        region = engine.region
        (feedStage, strategy, risk, execution) = (engine.feed, engine.strategy, engine.risk, engine.execution)
        do throws(EngineError) {
            runners = try engine.runners(threading)
            let sink: BenchJournalSink
            do { sink = try BenchJournalSink(region: region, stats: stats, window: window) } catch {
                throw EngineError(description: "journal sink: \(error.description)")
            }
            sinkRunner = AgentRunner(name: "bench.sink", cores: sinkCores, idle: IdleStrategy(IdleStrategy.parking.kind), agents: [sink])
        } catch {
            region.unlink()
            throw error
        }
    }

    /// Limits that let every benchmark signal through: the benchmark measures the checks'
    /// cost, not their refusals. Instruments as the synthetic server quotes them (8 decimals).
    static func permissiveRisk(symbolCount: Int) -> RiskStageSettings {
        var limits = RiskLimits()
        let huge = Int64.max / 8
        limits.startingCapitalMoney = MoneyScale.money(1_000_000_000)
        limits.priceCollarBasisPoints = 10_000
        limits.maxReferencePriceAgeNs = 3_600_000_000_000
        limits.maxOrderNotionalMoney = huge
        limits.maxGrossExposureMoney = huge
        limits.maxNetExposureMoney = huge
        limits.maxOpenIntradayPositions = Int.max / 2
        limits.maxOpenSwingPositions = Int.max / 2
        limits.submitBurst = 1_000_000_000
        limits.submitPerSecond = 1_000_000_000
        limits.strategyBudgetMoney = huge
        limits.riskPartsPerMillion = 1_000_000
        limits.dailyLossPartsPerMillion = 1_000_000
        limits.weeklyLossPartsPerMillion = 1_000_000
        limits.monthlyLossPartsPerMillion = 1_000_000
        limits.drawdownPartsPerMillion = 1_000_000
        let spec = InstrumentRiskSpec(priceDecimals: 8, quantityDecimals: 8, maxOrderQuantityUnits: huge, positionLimitUnits: huge)
        var settings = RiskStageSettings(limits: limits, instruments: Array(repeating: spec, count: symbolCount), strategyCapacity: 4)
        settings.orderCapacity = 65_536
        return settings
    }

    public func start() {
        sinkRunner.start()
        for r in runners { r.start() }
    }

    /// Stops the pipeline runners, then the sink (which drains what is left), and removes the region.
    public func stop() {
        for r in runners { r.stop() }
        sinkRunner.stop()
        region.unlink()
    }

    /// Measures orders whose market event was read from the socket from now on.
    public func openWindow(atNs: MonotonicNanos) { window.startNs.store(atNs.ns, ordering: .relaxed) }
    /// Stops measuring events read from the socket after `atNs`.
    public func closeWindow(atNs: MonotonicNanos) { window.endNs.store(atNs.ns, ordering: .relaxed) }

    /// Ring counters now (any thread).
    public func ringStats() -> [RingStats] { region.ringNames.compactMap { try? region.stats(ring: $0) } }

    public var stageHistograms: [(stage: String, histogram: StatsBoard.HistogramSnapshot)] {
        stats.histograms.enumerated().map { ($0.element.labels.first?.1 ?? "tick_to_order", stats.snapshot(histogramAt: $0.offset)) }
    }
}

/// A `tickline-feed` child process: started with pipes on stdout and stderr, stopped with
/// SIGTERM (SIGKILL if it lingers), reaped with its CPU time. Started through
/// `setpriv --pdeathsig KILL` when present, so it dies with the benchmark even on a crash.
public final class FeedServerChild {
    public let pid: pid_t
    public let address: String
    let stdoutFd: Int32
    let stderrFd: Int32
    public private(set) var exited = false
    /// The server's counters at exit (`/healthz` JSON from its last stderr line), once reaped.
    public private(set) var finalHealth: [String: Any] = [:]
    /// User + system CPU seconds of the server, once reaped.
    public private(set) var cpuSeconds: Double = 0

    /// Starts `binary` with `arguments` and waits (≤ 10 s) for its `listening HOST:PORT` line.
    public init(binary: String, arguments: [String]) throws(EngineError) {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw EngineError(description: "pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        posix_spawn_file_actions_addclose(&actions, outPipe[0])
        posix_spawn_file_actions_addclose(&actions, errPipe[0])
        let setpriv = "/usr/bin/setpriv"
        let argv = (access(setpriv, X_OK) == 0 ? [setpriv, "--pdeathsig", "KILL", "--", binary] : [binary]) + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, nil, &cArgs, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw EngineError(description: "cannot start \(binary): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdoutFd = outPipe[0]
        stderrFd = errPipe[0]
        // The first stdout line names the port.
        var line: [UInt8] = []
        let deadline = Clock.monotonic() + 10_000_000_000
        var byte: UInt8 = 0
        while Clock.monotonic() < deadline {
            var p = pollfd(fd: stdoutFd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            guard read(stdoutFd, &byte, 1) == 1 else { break }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening ") else {
            address = ""
            stop()
            throw EngineError(description: "tickline-feed did not start (first line '\(text)'): \(finalStderr)")
        }
        address = String(text.dropFirst("listening ".count))
    }

    deinit { stop() }

    var finalStderr = ""

    /// SIGTERM, up to `graceMs` for a clean exit, then SIGKILL; reaps the child. Idempotent.
    public func stop(graceMs: Int = 3_000) {
        guard !exited else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        var usage = rusage()
        var waited = 0
        while wait4(pid, &status, WNOHANG, &usage) == 0 {
            if waited >= graceMs {
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                break
            }
            usleep(10_000)
            waited += 10
        }
        exited = true
        cpuSeconds = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        // The child is gone: its stderr is complete and small (a few status lines).
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(stderrFd, $0.baseAddress, 4_096) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        close(stdoutFd)
        close(stderrFd)
        finalStderr = String(decoding: bytes, as: UTF8.self)
        for line in finalStderr.split(separator: "\n") {
            guard let brace = line.firstIndex(of: "{"), line.contains("stopped") else { continue }
            if let object = try? JSONSerialization.jsonObject(with: Data(line[brace...].utf8)) as? [String: Any] { finalHealth = object }
        }
    }

    /// A counter from the final health JSON (0 when absent).
    public func counter(_ name: String) -> UInt64 { (finalHealth[name] as? NSNumber)?.uint64Value ?? 0 }
}

/// One scenario of `tickline bench e2e`.
public struct EndToEndScenario: Sendable {
    public var rate: Double
    public var symbols: Int
    public var durationSeconds: Double
    /// Seconds of sending before the measurement window opens (connections subscribe,
    /// books load their snapshots, caches warm).
    public var warmupSeconds: Double
    public var every: Int
    public var feedBinary: String
    public var threading: ThreadingConfig = .default()
    /// The journal sink's cores (core 0 on a multi-core host, where the writer would run).
    public var sinkCores: [Int] = []

    public init(rate: Double, symbols: Int, durationSeconds: Double, warmupSeconds: Double, every: Int, feedBinary: String) {
        self.rate = rate
        self.symbols = symbols
        self.durationSeconds = durationSeconds
        self.warmupSeconds = warmupSeconds
        self.every = every
        self.feedBinary = feedBinary
    }
}

/// What one scenario measured.
public struct EndToEndResult: Sendable {
    public var scenario: EndToEndScenario
    public var connections = 0
    /// Measurement window, seconds (socket-read times of measured orders fall in it).
    public var windowSeconds = 0.0
    /// Messages the server generated over the whole run, and over the window.
    public var produced: UInt64 = 0
    public var producedInWindow: UInt64 = 0
    /// From the first market event to the server's stop, seconds (warm-up included).
    public var sendingSeconds = 0.0
    /// The rate the server achieved (it catches up at full speed when late; below the
    /// offered rate when it cannot keep up).
    public var achievedRate: Double { sendingSeconds > 0 ? Double(produced) / sendingSeconds : 0 }
    /// Market events published into the `market` ring during the window, and over the run.
    public var events: UInt64 = 0
    public var eventsTotal: UInt64 = 0
    public var signals: UInt64 = 0
    public var orders: UInt64 = 0
    public var denials: UInt64 = 0
    public var venueOrders: UInt64 = 0
    /// Records dropped by drop-newest rings over the run, by ring.
    public var ringDrops: [String: UInt64] = [:]
    /// Pushes refused by refuse rings (kept and retried, not lost).
    public var ringRefusals: [String: UInt64] = [:]
    /// Frames the server could not queue for us (slow consumer) and clients it closed for it.
    public var serverFramesDropped: UInt64 = 0
    public var serverSlowConsumers: UInt64 = 0
    /// Messages the feed received (data and control) and its decode errors, depth gaps, resyncs.
    public var feedMessages: UInt64 = 0
    public var decodeErrors: UInt64 = 0
    public var gaps: UInt64 = 0
    public var reconnects: UInt64 = 0
    public var subscribeRefused: UInt64 = 0
    public var snapshotsSynced: UInt64 = 0
    /// Engine process CPU seconds during the window (all threads), and the server's over its life.
    public var cpuSeconds = 0.0
    public var feedServerCpuSeconds = 0.0
    public var rssMB = 0.0
    public var peakRssMB = 0.0
    /// The host's 1-minute load average at the end of the run (other work competing for the cores).
    public var loadAverage = 0.0
    /// Per stage (feed, strategy, risk, send) and tick_to_order.
    public var latency: [(stage: String, histogram: StatsBoard.HistogramSnapshot)] = []

    /// Everything that was lost: records dropped by drop-newest rings, records the journal
    /// rings refused (their producers do not retry them: they never reach the writer), the
    /// server's frames dropped for us and clients it closed as slow consumers. Refusals of
    /// the signals, orders and fills rings are retried, so they are not losses.
    public var drops: UInt64 {
        ringDrops.values.reduce(0, +) + ringRefusals.filter { $0.key.hasPrefix("journal.") }.values.reduce(0, +)
            + serverFramesDropped + serverSlowConsumers
    }

    public var tickToOrder: StatsBoard.HistogramSnapshot {
        if let h = latency.first(where: { $0.stage == "tick_to_order" })?.histogram { return h }
        let empty = StatsBoard(counterCapacity: 1, histogramCapacity: 1)
        return empty.snapshot(empty.histogram("empty", ""))
    }
}

/// Runs scenarios of `tickline bench e2e`: a `tickline-feed --synthetic` server on loopback
/// at the offered rate (open loop: it never waits for the pipeline), the pipeline on its
/// runners, a warm-up, then the measurement window.
public enum EndToEndBench {
    /// Runs one scenario; `log` gets progress lines. Throws when something could not start;
    /// stops early (with what it has) when SIGINT/SIGTERM arrives.
    public static func run(_ s: EndToEndScenario, log: (String) -> Void) throws(EngineError) -> EndToEndResult {
        // Hand memory freed by earlier scenarios back to the kernel, so this one's RSS is its
        // own (glibc's malloc_trim, which the Glibc module does not export).
        if let trim = dlsym(nil, "malloc_trim") {
            _ = unsafeBitCast(trim, to: (@convention(c) (Int) -> Int32).self)(0)
        }
        let connections = (s.symbols + BenchPipeline.symbolsPerConnection - 1) / BenchPipeline.symbolsPerConnection
        let server = try FeedServerChild(binary: s.feedBinary, arguments: [
            "--synthetic", "\(s.symbols)", "--rate", "\(Int(s.rate))", "--listen", "127.0.0.1:0",
            "--wait-clients", "\(connections)", "--slow-consumer", "drop", "--ping-interval", "3600", "--pong-timeout", "3600",
        ])
        defer { server.stop() }
        let pipeline = try BenchPipeline(symbolCount: s.symbols, address: server.address, every: s.every,
                                         instance: "bench-e2e-\(getpid())", threading: s.threading, sinkCores: s.sinkCores)
        var result = EndToEndResult(scenario: s)
        result.connections = connections
        pipeline.start()
        var stopped = false
        defer { if !stopped { pipeline.stop() } }

        func published(_ ring: String) -> UInt64 { (try? pipeline.region.stats(ring: ring).published) ?? 0 }
        func sleepUntil(_ ns: MonotonicNanos) -> Bool {
            while Clock.monotonic() < ns {
                if ShutdownSignal.requested != nil { return false }
                usleep(20_000)
            }
            return true
        }
        // Sending starts once every connection is up: the first market event marks it.
        let connectDeadline = Clock.monotonic() + 30_000_000_000
        while published("market") == 0 {
            if ShutdownSignal.requested != nil { throw EngineError(description: "interrupted") }
            guard Clock.monotonic() < connectDeadline else {
                throw EngineError(description: "no market event within 30 s (\(connections) connection(s) to \(server.address))")
            }
            usleep(5_000)
        }
        let sendingNs = Clock.monotonic()
        guard sleepUntil(sendingNs + Nanos(s.warmupSeconds * 1e9)) else { throw EngineError(description: "interrupted") }

        let startNs = Clock.monotonic()
        pipeline.openWindow(atNs: startNs)
        let eventsAtStart = published("market")
        let cpuAtStart = processCpuSeconds()
        _ = sleepUntil(startNs + Nanos(s.durationSeconds * 1e9))
        let endNs = Clock.monotonic()
        pipeline.closeWindow(atNs: endNs)
        result.windowSeconds = Double(endNs - startNs) / 1e9
        result.events = published("market") &- eventsAtStart
        result.cpuSeconds = processCpuSeconds() - cpuAtStart
        result.rssMB = residentMB()
        log(String(format: "  window %.2f s: %llu events", result.windowSeconds, result.events))

        // The server stops (its counters come with its exit); the pipeline drains what it has.
        result.sendingSeconds = Double(Clock.monotonic() - sendingNs) / 1e9
        server.stop()
        let drainDeadline = Clock.monotonic() + 3_000_000_000
        while Clock.monotonic() < drainDeadline {
            let busy = ["market", "signals", "orders", "journal.orders"].contains {
                ((try? pipeline.region.stats(ring: $0).depth) ?? 0) > 0
            }
            if !busy { break }
            usleep(10_000)
        }
        usleep(50_000)
        for r in pipeline.ringStats() {
            if r.dropped > 0 { result.ringDrops[r.name] = r.dropped }
            if r.refused > 0 { result.ringRefusals[r.name] = r.refused }
        }
        result.eventsTotal = published("market")
        pipeline.stop()
        stopped = true
        result.loadAverage = loadAverage()

        // Agents are stopped: their counters are safe to read here.
        let f = pipeline.feed.counters
        result.feedMessages = f.messages
        result.decodeErrors = f.decodeErrors
        result.gaps = f.gaps
        result.reconnects = f.reconnects
        result.subscribeRefused = f.subscribeRefused
        result.snapshotsSynced = f.snapshotsSynced
        result.signals = pipeline.risk.counters.signals
        result.orders = pipeline.risk.counters.orders
        result.denials = pipeline.risk.counters.denials
        result.venueOrders = pipeline.execution.ordersReceived
        result.produced = server.counter("produced")
        result.producedInWindow = UInt64(s.rate * result.windowSeconds)
        result.serverFramesDropped = server.counter("frames_dropped")
        result.serverSlowConsumers = server.counter("slow_consumers")
        result.feedServerCpuSeconds = server.cpuSeconds
        result.peakRssMB = peakResidentMB()
        result.latency = pipeline.stageHistograms
        return result
    }

    /// The 1-minute load average (how busy the shared host was).
    public static func loadAverage() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return 0 }
        return Double(text.split(separator: " ").first ?? "") ?? 0
    }

    /// User + system CPU seconds of this process so far.
    public static func processCpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    /// Resident set size now (VmRSS), MB.
    public static func residentMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }

    /// Peak resident set size of this process so far, MB.
    public static func peakResidentMB() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }
}
