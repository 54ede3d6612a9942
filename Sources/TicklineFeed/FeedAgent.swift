// Feed stage: WebSocket connections on io_uring, Binance decoding and books, REST
// snapshots off the thread, reconnects, staleness, and publishing into the rings.
import Glibc
import TicklineCore
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRuntime
import TicklineWebSocket

/// Why a feed could not be built (cold path).
public enum FeedSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    case config(FeedConfigError)
    /// A configured symbol is not in the instrument table.
    case unknownSymbol(String)
    case net(NetError)
    case region(String)
    /// `tickline record`'s output file.
    case recording(String)

    public var description: String {
        switch self {
        case .config(let error): error.description
        case .unknownSymbol(let symbol): "feed config: symbols: '\(symbol)' is not in the instrument table"
        case .net(let error): "feed network setup: \(error)"
        case .region(let text): "feed rings: \(text)"
        case .recording(let text): "recording: \(text)"
        }
    }
}

/// The feed stage of one market-data venue (an `Agent`), which it speaks to through the
/// venue's `FeedVenue` (stream names, subscriptions and their limits, REST snapshots, the
/// decoder): Binance spot or USD-M futures (`config.market`).
///
/// Each duty cycle it reaps io_uring completions of its connections, decodes every message
/// with the venue's `FeedDecoder` (books kept from a REST snapshot plus chained diffs), and publishes:
/// - trades, quotes and book tops into the `market` ring, with the socket-read time of the
///   read batch as `timestamps.socketReadNs` and the decode time as `decodedNs`;
/// - a top-N `DepthSnapshot` per book change into the `depth` ring;
/// - a copy of every market event into `journal.market` (drop-newest, counted).
///
/// Symbols are split over `config.connections` connections (≤ `streams_per_connection`
/// streams each); `subscribe`/`unsubscribe` change them at run time with SUBSCRIBE /
/// UNSUBSCRIBE messages, at most `control_messages_per_second` per connection (our own
/// pings count against the same budget). A connection that ends is reconnected with
/// exponential backoff and jitter, resubscribed, and every book of it resynced (invalidated,
/// then a REST snapshot once diffs are buffered). A depth gap sends that book to resync.
/// A connection silent for `pong_timeout_ms` after our ping is dropped and reconnected; one
/// older than `proactive_reconnect_ms`, or told `serverShutdown`, is closed (1001) and
/// reconnected at once. A symbol without data for `stale_after_ms` gets a `stale` event;
/// its next data a `fresh` event.
///
/// The instrument table is the universe the feed may subscribe (one book per entry,
/// preallocated); subscriptions pick from it. At run time they change only through the
/// `control.feed` ring, which the feed stage (`FeedStage`) drains at the start of each duty
/// cycle, handing each command to the feed it names (`apply`): a subscribe goes to the
/// least loaded connection with room and is sent in the next batched SUBSCRIBE within the
/// rate limit, its book fetched through the snapshot path; an unsubscribe sends
/// UNSUBSCRIBE, clears the book, publishes a `stale` event (strategies stop signalling on
/// it) and drops whatever of it is still on the way. Which entries are
/// subscribed is `connectionOf`, written and read only on this thread: the table itself never
/// changes (see `InstrumentTable`), so there is no table to swap and nothing to tear.
///
/// Owned by one runner thread after `onStart`; not thread-safe: call `subscribe` and
/// `unsubscribe` on that thread (the engine routes them through its control ring). No
/// allocation per message or per command; connects, control messages and snapshots are
/// cold paths.
///
/// Its stored properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// one thread owns it, and the checks took a fifth of a replay's time.
public final class FeedAgent: Agent {
    public let roleName: String
    public let config: FeedConfig
    public let instruments: InstrumentTable
    /// The venue's wire protocol: stream names, subscriptions, limits, snapshots.
    public let feedVenue: any FeedVenue
    /// The venue's decoder and books.
    public let processor: any FeedDecoder
    public let fetcher: SnapshotFetcher
    public let backend: NetBackend
    @exclusivity(unchecked) public private(set) var counters = FeedCounters()
    /// `counters` as other threads may read them (the control plane's metrics): published
    /// with the stale watchdog, at most every 100 ms.
    public let publishedCounters = Seqlock(FeedCounters())
    /// `tickline record`: every text message and REST snapshot as received, in the
    /// recording line format (set before the agent starts; nil in the live engine).
    @exclusivity(unchecked) public var recorder: RecordingWriter?
    public let connections: [FeedConnection]

    /// The stage's output rings, shared by every feed on this thread.
    public let outlet: FeedOutlet
    /// This feed's index in the engine's `feeds:` list: commands for another are refused.
    @exclusivity(unchecked) public internal(set) var feedIndex: UInt8 = 0
    /// The last command refused (request id and reason), for reports and tests.
    @exclusivity(unchecked) public private(set) var lastRefusal: (requestId: UInt64, reason: FeedCommandRefusal)?
    private let reactor: IoUringReactor?
    private let address: SocketAddress

    /// Per symbol (table index).
    @exclusivity(unchecked) private var connectionOf: [Int16]
    @exclusivity(unchecked) private var lastDataNs: [MonotonicNanos]
    @exclusivity(unchecked) private var stale: [Bool]
    @exclusivity(unchecked) private var generation: [UInt32]
    @exclusivity(unchecked) private var snapshotState: [UInt8]
    @exclusivity(unchecked) private var snapshotNotBeforeNs: [MonotonicNanos]
    @exclusivity(unchecked) private var snapshotAttempts: [Int]
    @exclusivity(unchecked) private var snapshotQueued: [Bool]
    /// Each symbol as the venue's stream names spell it.
    @exclusivity(unchecked) private var streamSymbols: [[UInt8]]
    /// Symbols waiting for a snapshot slot: a ring of table indexes.
    @exclusivity(unchecked) private var snapshotQueue: [Int32]
    @exclusivity(unchecked) private var snapshotQueueHead = 0
    @exclusivity(unchecked) private var snapshotQueueCount = 0

    private let streamSuffixes: [[UInt8]]
    @exclusivity(unchecked) private var controlBuffer: [UInt8]
    @exclusivity(unchecked) private var nextRequestId: Int64 = 1
    /// The processor's count of snapshots that synced a book, as of the last one published.
    @exclusivity(unchecked) private var syncedOnStream: UInt64 = 0
    @exclusivity(unchecked) private var random: UInt64
    @exclusivity(unchecked) private var nowNs: MonotonicNanos = 0
    /// The cycle's wall clock (simulated in a replay), for the status events the feed makes.
    @exclusivity(unchecked) private var wallNs: WallNanos = 0
    @exclusivity(unchecked) private var nextWatchdogNs: MonotonicNanos = 0
    private let watchdogIntervalNs: Nanos
    @exclusivity(unchecked) private var started = false
    /// REST weight budget of snapshots: a token bucket refilled continuously.
    private let snapshotWeight: Double
    @exclusivity(unchecked) private var weightTokens: Double
    @exclusivity(unchecked) private var weightRefilledNs: MonotonicNanos = 0

    private static let notYet = MonotonicNanos.min
    /// Commands applied per duty cycle at most (bounds one `doWork`; the rest wait a cycle).
    static let commandsPerCycle = 256
    private static let snapshotNone: UInt8 = 0, snapshotWanted: UInt8 = 1, snapshotInFlight: UInt8 = 2

    /// Builds the feed over the given ring ends (allocates everything: books, buffers, sockets).
    /// - Parameters:
    ///   - instruments: every symbol this feed may subscribe; `config.symbols` are subscribed at start.
    ///   - backend: the socket I/O path (default: what `NetBackend.detect()` finds).
    ///   - seed: of the reconnect jitter.
    ///   - transport: each connection's transport by connection index; nil = a TCP socket on
    ///     `backend` (a replay passes a `RecordingTransport`).
    ///   - venue: the venue the feed speaks to; nil = `config.market`.
    public init(config: FeedConfig, instruments: InstrumentTable, outlet: FeedOutlet,
                backend: NetBackend = NetBackend.detect().backend, seed: UInt64 = 0x5EED,
                transport: ((Int) -> any Transport)? = nil, venue: (any FeedVenue)? = nil) throws(FeedSetupError) {
        let feedVenue = venue ?? config.market
        do { try config.validate(venue: feedVenue) } catch { throw .config(error) }
        for symbol in config.symbols where instruments.entry(forSymbol: symbol) == nil { throw .unknownSymbol(symbol) }
        do { address = try SocketAddress(config.streamAddress) } catch { throw .net(error) }
        roleName = "feed.\(config.name)"
        self.config = config
        self.instruments = instruments
        self.backend = backend
        self.outlet = outlet
        self.feedVenue = feedVenue
        processor = feedVenue.makeDecoder(instruments: instruments, config: config)
        fetcher = SnapshotFetcher(restBase: config.restBase, venue: feedVenue, symbols: instruments.specs.map(\.symbol),
                                  limit: config.snapshotLimit, timeoutMs: config.snapshotTimeoutMs,
                                  maxBodyBytes: config.snapshotMaxBytes, parallel: config.snapshotParallel)
        if backend == .ioUring && transport == nil {
            do { reactor = try IoUringReactor(entries: UInt32(max(16, 4 * config.connections)).nextPowerOfTwo, maxSockets: config.connections) }
            catch { throw .net(error) }
        } else {
            reactor = nil
        }
        var options = ConnectionOptions()
        options.limits = FrameLimits(maxFrameBytes: config.maxFrameBytes, maxMessageBytes: config.maxFrameBytes)
        options.openTimeoutNs = Nanos(config.openTimeoutMs) * 1_000_000
        let count = instruments.count
        // One TLS context for the feed's connections (its trust store is read once).
        var tls: TLSContext?
        if let t = config.tls, transport == nil {
            let name = t.serverName ?? config.streamHost ?? address.host
            do { tls = try TLSContext(TLSOptions(serverName: name, caFile: t.caFile)) } catch { throw .net(error) }
        }
        var connections: [FeedConnection] = []
        for k in 0..<config.connections {
            var chosen: any Transport
            if let transport {
                chosen = transport(k)
            } else {
                let sendBytes = max(64 * 1024, config.streamsPerControlMessage * 128 + 4_096)
                do {
                    chosen = try TCPTransport(backend: backend, reactor: reactor, receiveBufferBytes: config.receiveBufferBytes,
                                              sendBufferBytes: sendBytes)
                } catch { throw .net(error) }
                if let tls {
                    chosen = TLSTransport(inner: chosen, context: tls, receiveBufferBytes: config.receiveBufferBytes, sendBufferBytes: sendBytes)
                }
            }
            connections.append(FeedConnection(index: k, socket: WebSocketConnection(transport: AnyTransport(chosen), options: options),
                                              symbolCapacity: count, controlMessagesPerSecond: config.controlMessagesPerSecond))
        }
        self.connections = connections
        connectionOf = Array(repeating: -1, count: count)
        lastDataNs = Array(repeating: 0, count: count)
        stale = Array(repeating: false, count: count)
        generation = Array(repeating: 0, count: count)
        snapshotState = Array(repeating: Self.snapshotNone, count: count)
        snapshotNotBeforeNs = Array(repeating: 0, count: count)
        snapshotAttempts = Array(repeating: 0, count: count)
        snapshotQueued = Array(repeating: false, count: count)
        snapshotQueue = Array(repeating: -1, count: max(count, 1))
        streamSymbols = instruments.specs.map { feedVenue.streamSymbol($0.symbol) }
        streamSuffixes = config.streams.map { Array($0.utf8) }
        let longestSuffix = streamSuffixes.map(\.count).max() ?? 0
        controlBuffer = []
        controlBuffer.reserveCapacity(config.streamsPerControlMessage * (InstrumentTable.maxSymbolBytes + longestSuffix + 4) + 96)
        random = seed | 1
        snapshotWeight = Double(feedVenue.snapshotWeight(limit: config.snapshotLimit))
        weightTokens = Double(config.snapshotWeightPerMinute)
        watchdogIntervalNs = max(1_000_000, min(Nanos(config.staleAfterMs) * 1_000_000 / 4, 100_000_000))
        for symbol in config.symbols {
            if let entry = instruments.entry(forSymbol: symbol) { _ = subscribe(index: Int(entry.index)) }
        }
    }

    /// The only feed on `region`'s output rings (see `FeedOutlet`).
    public convenience init(config: FeedConfig, instruments: InstrumentTable, region: SharedRegion,
                            backend: NetBackend = NetBackend.detect().backend, venue: Bool = false) throws(FeedSetupError) {
        do {
            try self.init(config: config, instruments: instruments, outlet: try FeedOutlet(region: region, venueCopies: venue), backend: backend)
        } catch let error as FeedSetupError {
            throw error
        } catch {
            throw .region("\(error)")
        }
    }

    public func onStart() {
        fetcher.start()
        started = true
    }

    /// Closes every connection (1001, bounded wait) and stops the snapshot thread.
    public func onClose() {
        for c in connections where c.phase == .open {
            c.socket.sendClose(.goingAway)
            c.phase = .closing
        }
        var handler = Handler(agent: self)
        var rounds = 0
        while connections.contains(where: { $0.phase == .closing || $0.phase == .connecting }) && rounds < 200 {
            nowNs = Clock.monotonic()
            for c in connections where c.phase != .down {
                handler.connection = c.index
                c.socket.poll(&handler)
            }
            rounds += 1
            if connections.contains(where: { $0.phase != .down }) { usleepBounded(5_000) }
        }
        for c in connections where c.phase != .down {
            c.socket.abort()
            c.phase = .down
        }
        fetcher.stop()
        started = false
    }

    private func usleepBounded(_ micros: UInt32) {
        var request = timespec(tv_sec: 0, tv_nsec: Int(micros) * 1_000)
        _ = nanosleep(&request, nil)
    }

    // MARK: - Duty cycle

    public func doWork(now: DutyCycleTime) -> Int {
        nowNs = now.monotonic
        wallNs = now.wall
        var work = 0
        var handler = Handler(agent: self)
        for c in connections {
            handler.connection = c.index
            work += service(c, &handler)
        }
        work += fetcher.poll { completion in snapshotArrived(completion) }
        if snapshotQueueCount > 0 { work += postSnapshotRequests() }
        if nowNs >= nextWatchdogNs {
            nextWatchdogNs = nowNs &+ watchdogIntervalNs
            work += watchStaleness()
            publishedCounters.publish { $0 = counters }
        }
        return work
    }

    /// Passes a connection's messages and events to the agent. The agent outlives every
    /// poll it is used in.
    struct Handler: WebSocketHandler {
        unowned(unsafe) let agent: FeedAgent
        var connection = 0

        init(agent: FeedAgent) { self.agent = agent }

        mutating func onMessage(_ kind: MessageKind, _ payload: Span<UInt8>, stamp: ReadStamp) {
            let agent = agent
            let connection = connection
            payload.withUnsafeBytes { agent.messageArrived($0, stamp: stamp, connection: connection) }
        }

        mutating func onEvent(_ event: ConnectionEvent) { agent.eventArrived(event, connection: connection) }
    }

    private func service(_ c: FeedConnection, _ handler: inout Handler) -> Int {
        if c.phase == .down {
            guard !c.symbols.isEmpty, nowNs >= c.reconnectAtNs else { return 0 }
            open(c)
            return 1
        }
        var work = 0
        for _ in 0..<config.readsPerCycle {
            let done = c.socket.poll(&handler)
            if done > 0 { c.lastReadNs = nowNs }
            work += done
            if done == 0 || c.phase == .down { break }
        }
        if c.phase == .open { work += maintain(c) }
        return work
    }

    private func open(_ c: FeedConnection) {
        counters.connectAttempts &+= 1
        do {
            try c.socket.connect(to: address, path: config.streamPath, host: config.streamHost)
            c.phase = .connecting
        } catch {
            counters.connectFailures &+= 1
            connectionEnded(c)
        }
    }

    /// Pings, silence, the 24 h cut, server shutdown, and pending control messages.
    private func maintain(_ c: FeedConnection) -> Int {
        if c.restartRequested || nowNs &- c.openedAtNs >= Nanos(config.proactiveReconnectMs) * 1_000_000 {
            if !c.restartRequested { counters.proactiveReconnects &+= 1 }
            c.restartRequested = false
            c.reconnectImmediately = true
            c.phase = .closing
            if c.socket.sendClose(.goingAway) != .queued {
                c.socket.abort()
                connectionEnded(c)
            }
            return 1
        }
        let activity = c.lastActivityNs
        if c.pingSentNs != 0 {
            if activity >= c.pingSentNs {
                c.pingSentNs = 0
            } else if nowNs &- c.pingSentNs >= Nanos(config.pongTimeoutMs) * 1_000_000 {
                counters.silentDisconnects &+= 1
                c.socket.abort()
                connectionEnded(c)
                return 1
            }
        }
        var work = 0
        if c.pingSentNs == 0 && nowNs &- activity >= Nanos(config.pingIntervalMs) * 1_000_000 && c.controlAllowed(nowNs: nowNs) {
            c.pingCounter &+= 1
            var payload = c.pingCounter.bigEndian
            let outcome = withUnsafeBytes(of: &payload) { raw in
                raw.withMemoryRebound(to: UInt8.self) { c.socket.sendPing($0.span) }
            }
            if outcome == .queued {
                c.recordControl(nowNs: nowNs)
                c.pingSentNs = nowNs
                counters.pingsSent &+= 1
                work += 1
            }
        }
        while !c.toUnsubscribe.isEmpty || !c.toSubscribe.isEmpty {
            guard c.controlAllowed(nowNs: nowNs) else {
                counters.controlRateLimited &+= 1
                break
            }
            let unsubscribing = !c.toUnsubscribe.isEmpty
            let sent = unsubscribing ? sendControl(c, subscribe: false, &c.toUnsubscribe) : sendControl(c, subscribe: true, &c.toSubscribe)
            guard sent else { break }
            if unsubscribing { counters.unsubscribeMessages &+= 1 } else { counters.subscribeMessages &+= 1 }
            work += 1
        }
        return work
    }

    /// Sends one subscribe (or unsubscribe) request for the first symbols of `list` and removes them.
    private func sendControl(_ c: FeedConnection, subscribe: Bool, _ list: inout [Int32]) -> Bool {
        let perSymbol = streamSuffixes.count
        let take = min(max(1, config.streamsPerControlMessage / perSymbol), list.count)
        controlBuffer.removeAll(keepingCapacity: true)
        feedVenue.appendSubscriptionRequest(subscribe: subscribe, count: take * perSymbol, id: nextRequestId, to: &controlBuffer) { k, out in
            feedVenue.appendStreamName(symbol: streamSymbols[Int(list[k / perSymbol])], suffix: streamSuffixes[k % perSymbol], to: &out)
        }
        let outcome = controlBuffer.withUnsafeBufferPointer { c.socket.sendText($0.span) }
        guard outcome == .queued else { return false }
        nextRequestId &+= 1
        list.removeFirst(take)
        c.recordControl(nowNs: nowNs)
        return true
    }

    // MARK: - Connection events

    fileprivate func eventArrived(_ event: ConnectionEvent, connection index: Int) {
        let c = connections[index]
        switch event {
        case .opened:
            counters.opened &+= 1
            c.phase = .open
            c.openedAtNs = nowNs
            c.lastPongNs = nowNs
            c.pingSentNs = 0
            c.receivedData = false
            c.restartRequested = false
            c.toUnsubscribe.removeAll(keepingCapacity: true)
            c.toSubscribe.removeAll(keepingCapacity: true)
            c.toSubscribe.append(contentsOf: c.symbols)
        case .closeReceived:
            counters.closesReceived &+= 1
        case .pingAnswered:
            counters.pingsAnswered &+= 1
        case .pong:
            counters.pongsReceived &+= 1
            c.lastPongNs = nowNs
        case .failed(let error):
            c.lastFailure = error
            switch error {
            case .connect: counters.connectFailures &+= 1
            case .handshake: counters.handshakeFailures &+= 1
            case .protocolViolation(let violation):
                counters.protocolViolations &+= 1
                counters.violations[Int(violation.rawValue)] &+= 1
            case .transport: counters.transportErrors &+= 1
            case .peerDisconnected: counters.peerDisconnects &+= 1
            case .timedOut: counters.timeouts &+= 1
            }
        case .closed(let code):
            c.lastCloseCode = code
            connectionEnded(c)
        }
    }

    /// The connection is gone: its books are no longer trusted, and a reconnect is
    /// scheduled (at once after our own 1001 close, else with backoff and jitter).
    private func connectionEnded(_ c: FeedConnection) {
        c.phase = .down
        c.pingSentNs = 0
        c.toSubscribe.removeAll(keepingCapacity: true)
        c.toUnsubscribe.removeAll(keepingCapacity: true)
        counters.reconnects &+= 1
        if c.reconnectImmediately {
            c.reconnectImmediately = false
            c.reconnectAtNs = nowNs
        } else {
            c.attempts += 1
            c.reconnectAtNs = nowNs &+ backoffNs(attempt: c.attempts, initialMs: config.backoffInitialMs,
                                                 maxMs: config.backoffMaxMs, jitter: config.jitter)
        }
        for symbol in c.symbols { invalidateBook(Int(symbol)) }
    }

    /// `initial · 2^(attempt-1)`, capped at `max`, less a random fraction up to `jitter`.
    func backoffNs(attempt: Int, initialMs: Int, maxMs: Int, jitter: Double) -> Nanos {
        let shift = min(max(attempt - 1, 0), 30)
        let baseMs = min(Int64(maxMs), Int64(initialMs) << shift)
        // SplitMix64 step: jitter needs no quality beyond spreading reconnects.
        random &+= 0x9E37_79B9_7F4A_7C15
        var z = random
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let unit = Double(z >> 11) * 0x1p-53
        let ns = Double(baseMs) * 1e6 * (1 - jitter * unit)
        return Nanos(ns)
    }

    // MARK: - Messages

    /// One decoded-to-be message of connection `index` (internal for the unit tests).
    func messageArrived(_ bytes: UnsafeRawBufferPointer, stamp: ReadStamp, connection index: Int) {
        counters.messages &+= 1
        recorder?.append(wallNs: stamp.wallNs.ns, payload: bytes)
        let outcome = processor.process(bytes, receiveWallNs: stamp.wallNs,
                                        timestamps: TimestampChain(socketReadNs: stamp.monotonicNs))
        let decodedNs = Clock.monotonic()
        let c = connections[index]
        if !c.receivedData {
            c.receivedData = true
            c.attempts = 0
        }
        switch outcome {
        case .decodeFailed:
            counters.decodeErrors &+= 1
            return
        case .unsupported:
            counters.unsupportedMessages &+= 1
            return
        case .control:
            switch processor.control {
            case .serverShutdown:
                counters.serverShutdowns &+= 1
                c.restartRequested = true
            case .error: counters.controlErrors &+= 1
            case .reply: counters.controlReplies &+= 1
            }
            return
        default:
            break
        }
        let symbol = processor.instrumentIndex
        guard symbol >= 0, Int(connectionOf[symbol]) == index else {
            counters.unsubscribedMessages &+= 1
            return
        }
        lastDataNs[symbol] = nowNs
        if stale[symbol] {
            stale[symbol] = false
            counters.freshEvents &+= 1
            publishStatus(symbol, .fresh)
        }
        switch outcome {
        case .marketEvent:
            var event = processor.event
            event.timestamps.decodedNs = decodedNs
            publish(event)
        case .bookUpdated:
            publishBook(decodedNs: decodedNs)
        case .bookPending:
            if processor.awaitsSnapshot(symbol) { wantSnapshot(symbol, notBeforeNs: nowNs) }
        case .bookGap:
            counters.gaps &+= 1
            resync(symbol)
        case .bookResync:
            counters.exhaustedBooks &+= 1
            resync(symbol)
        case .snapshotLoaded:
            // A snapshot on the stream (a partial-depth stream, or a recording's snapshot
            // in a replay) that synced the book: its top and depth go out as a REST one's do.
            if processor.counters.snapshotsSynced != syncedOnStream {
                syncedOnStream = processor.counters.snapshotsSynced
                publishBook(decodedNs: decodedNs)
            }
        case .decodeFailed, .unsupported, .control:
            break
        }
    }

    @inline(__always)
    private func publish(_ event: MarketEvent) {
        outlet.publish(event, venue: config.venue, counters: &counters)
    }

    /// The processor's book top and depth, after a diff it applied or a snapshot that synced.
    @inline(__always)
    private func publishBook(decodedNs: MonotonicNanos) {
        var event = processor.event
        event.timestamps.decodedNs = decodedNs
        publish(event)
        publishDepth(processor.depth, decodedNs: decodedNs)
    }

    @inline(__always)
    private func publishDepth(_ snapshot: DepthSnapshot, decodedNs: MonotonicNanos) {
        outlet.publishDepth(snapshot, venue: config.venue, decodedNs: decodedNs, counters: &counters)
    }

    /// A `stale` or `fresh` event: its wall time is the cycle's (simulated in a replay), its
    /// latency chain starts at the real monotonic clock, as every other event's does.
    private func publishStatus(_ symbol: Int, _ kind: MarketEventKind) {
        let entry = instruments.entry(at: symbol)
        let madeNs = Clock.monotonic()
        publish(MarketEvent(instrument: entry.id, kind: kind, priceDecimals: entry.priceDecimals,
                            quantityDecimals: entry.quantityDecimals, receiveWallNs: wallNs,
                            timestamps: TimestampChain(socketReadNs: madeNs, decodedNs: madeNs)))
    }

    // MARK: - Books and snapshots

    /// A gap or a thinned book: it already awaits a snapshot; fetch a fresh one.
    private func resync(_ symbol: Int) {
        counters.resyncs &+= 1
        generation[symbol] &+= 1
        snapshotState[symbol] = Self.snapshotNone
        snapshotAttempts[symbol] = 0
        wantSnapshot(symbol, notBeforeNs: nowNs)
    }

    /// Clears the book (after a disconnect or a subscription change); answers still on the
    /// way are discarded by the generation.
    private func invalidateBook(_ symbol: Int) {
        processor.invalidateBook(symbol)
        generation[symbol] &+= 1
        snapshotState[symbol] = Self.snapshotNone
        snapshotAttempts[symbol] = 0
    }

    private func wantSnapshot(_ symbol: Int, notBeforeNs: MonotonicNanos) {
        guard !config.snapshotsOnStream, snapshotState[symbol] == Self.snapshotNone else { return }
        snapshotState[symbol] = Self.snapshotWanted
        snapshotNotBeforeNs[symbol] = notBeforeNs
        if !snapshotQueued[symbol] {
            snapshotQueued[symbol] = true
            snapshotQueue[(snapshotQueueHead + snapshotQueueCount) % snapshotQueue.count] = Int32(symbol)
            snapshotQueueCount += 1
        }
    }

    /// Hands due snapshot requests to the fetcher while it has free slots.
    private func postSnapshotRequests() -> Int {
        var work = 0
        var remaining = snapshotQueueCount
        while remaining > 0 {
            remaining -= 1
            let symbol = Int(snapshotQueue[snapshotQueueHead])
            snapshotQueueHead = (snapshotQueueHead + 1) % snapshotQueue.count
            snapshotQueueCount -= 1
            snapshotQueued[symbol] = false
            guard snapshotState[symbol] == Self.snapshotWanted else { continue }  // cancelled
            let due = snapshotNotBeforeNs[symbol] <= nowNs
            let affordable = due && spendSnapshotWeight()
            if affordable && fetcher.tryRequest(symbolIndex: Int32(symbol), generation: generation[symbol]) {
                snapshotState[symbol] = Self.snapshotInFlight
                counters.snapshotRequests &+= 1
                work += 1
                continue
            }
            if affordable { weightTokens += snapshotWeight }  // no free slot: give the weight back
            if due && !affordable { counters.snapshotBudgetWaits &+= 1 }
            // Not due, or no free slot: back to the end of the line.
            snapshotQueued[symbol] = true
            snapshotQueue[(snapshotQueueHead + snapshotQueueCount) % snapshotQueue.count] = Int32(symbol)
            snapshotQueueCount += 1
            if !due { continue }
            break
        }
        return work
    }

    /// Takes one request's weight from the bucket (refilled at `snapshot_weight_per_minute`).
    private func spendSnapshotWeight() -> Bool {
        let budget = Double(config.snapshotWeightPerMinute)
        if weightRefilledNs == 0 { weightRefilledNs = nowNs }
        let elapsed = Double(nowNs &- weightRefilledNs)
        weightRefilledNs = nowNs
        weightTokens = min(budget, weightTokens + elapsed * budget / 60e9)
        guard weightTokens >= snapshotWeight else { return false }
        weightTokens -= snapshotWeight
        return true
    }

    private func retrySnapshot(_ symbol: Int) {
        snapshotAttempts[symbol] += 1
        snapshotState[symbol] = Self.snapshotNone
        let delay = backoffNs(attempt: snapshotAttempts[symbol], initialMs: config.snapshotRetryInitialMs,
                              maxMs: config.snapshotRetryMaxMs, jitter: config.jitter)
        wantSnapshot(symbol, notBeforeNs: nowNs &+ delay)
    }

    private func snapshotArrived(_ done: SnapshotCompletion) {
        let symbol = Int(done.symbolIndex)
        guard done.generation == generation[symbol], snapshotState[symbol] == Self.snapshotInFlight, connectionOf[symbol] >= 0
        else {
            counters.snapshotsDiscarded &+= 1
            return
        }
        guard done.status == .ok else {
            counters.snapshotFailures[Int(done.status.rawValue)] &+= 1
            retrySnapshot(symbol)
            return
        }
        recorder?.appendSnapshot(wallNs: Clock.wall().ns, symbol: instruments.specs[symbol].symbol, body: done.body)
        let readNs = Clock.monotonic()
        switch processor.loadSnapshot(done.body, index: symbol, receiveWallNs: Clock.wall(),
                                      timestamps: TimestampChain(socketReadNs: readNs, decodedNs: readNs)) {
        case .malformed:
            counters.snapshotsMalformed &+= 1
            retrySnapshot(symbol)
        case .synced:
            counters.snapshotsSynced &+= 1
            snapshotState[symbol] = Self.snapshotNone
            snapshotAttempts[symbol] = 0
            if processor.event.kind == .bookTop { publishBook(decodedNs: readNs) }
        case .tooOld:
            counters.snapshotsTooOld &+= 1
            retrySnapshot(symbol)
        case .gapInBuffer:
            // The buffered diffs had a hole: the book buffers afresh and asks again on the next diff.
            counters.gaps &+= 1
            snapshotState[symbol] = Self.snapshotNone
        }
    }

    // MARK: - Staleness

    private func watchStaleness() -> Int {
        let limit = Nanos(config.staleAfterMs) * 1_000_000
        var work = 0
        for c in connections {
            for symbol32 in c.symbols {
                let symbol = Int(symbol32)
                if lastDataNs[symbol] == Self.notYet { lastDataNs[symbol] = nowNs }
                if !stale[symbol] && nowNs &- lastDataNs[symbol] >= limit {
                    stale[symbol] = true
                    counters.staleEvents &+= 1
                    publishStatus(symbol, .stale)
                    work += 1
                }
            }
        }
        return work
    }

    // MARK: - Subscriptions (agent thread)

    /// Subscribes a symbol of the table; false when it is unknown or every connection is full.
    public func subscribe(_ symbol: String) -> Bool {
        guard let entry = instruments.entry(forSymbol: symbol) else { return false }
        return subscribe(index: Int(entry.index))
    }

    /// Unsubscribes a symbol; false when it was not subscribed.
    public func unsubscribe(_ symbol: String) -> Bool {
        guard let entry = instruments.entry(forSymbol: symbol) else { return false }
        return unsubscribe(index: Int(entry.index))
    }

    /// Assigns the symbol to the least loaded connection with room and queues its SUBSCRIBE.
    public func subscribe(index symbol: Int) -> Bool {
        precondition(symbol >= 0 && symbol < instruments.count, "symbol index \(symbol) outside the table of \(instruments.count)")
        if connectionOf[symbol] >= 0 { return true }
        let needed = streamSuffixes.count
        var best: FeedConnection?
        for c in connections where c.streams + needed <= config.streamsPerConnection {
            if best == nil || c.streams < best!.streams { best = c }
        }
        guard let c = best else {
            counters.subscribeRefused &+= 1
            return false
        }
        connectionOf[symbol] = Int16(c.index)
        c.symbols.append(Int32(symbol))
        c.streams += needed
        // Before the first duty cycle the agent's clock is unknown: the watchdog starts the wait then.
        lastDataNs[symbol] = started && nowNs != 0 ? nowNs : Self.notYet
        // `stale` stays as it is: a symbol unsubscribed before was marked stale, and its
        // first data after this publishes `fresh`.
        invalidateBook(symbol)
        if c.phase == .open {
            if let pending = c.toUnsubscribe.firstIndex(of: Int32(symbol)) {
                // Its UNSUBSCRIBE never left: the server still sends it.
                c.toUnsubscribe.remove(at: pending)
            } else {
                c.toSubscribe.append(Int32(symbol))
            }
        }
        return true
    }

    /// Removes the symbol from its connection and queues its UNSUBSCRIBE; its book is cleared.
    public func unsubscribe(index symbol: Int) -> Bool {
        precondition(symbol >= 0 && symbol < instruments.count, "symbol index \(symbol) outside the table of \(instruments.count)")
        let owner = Int(connectionOf[symbol])
        guard owner >= 0 else { return false }
        let c = connections[owner]
        connectionOf[symbol] = -1
        if let at = c.symbols.firstIndex(of: Int32(symbol)) { c.symbols.remove(at: at) }
        c.streams -= streamSuffixes.count
        if c.phase == .open {
            if let pending = c.toSubscribe.firstIndex(of: Int32(symbol)) {
                c.toSubscribe.remove(at: pending)
            } else {
                c.toUnsubscribe.append(Int32(symbol))
            }
        }
        invalidateBook(symbol)
        // Nothing more of it will be published: tell the consumers, as for a silent stream.
        if !stale[symbol] {
            stale[symbol] = true
            counters.staleEvents &+= 1
            publishStatus(symbol, .stale)
        }
        return true
    }

    /// Applies one `control.feed` command; nil when applied, else the reason (counted, and
    /// remembered in `lastRefusal`). Agent thread; no allocation.
    @discardableResult
    func apply(_ command: FeedCommand) -> FeedCommandRefusal? {
        let refusal = refusalOrApply(command)
        if let refusal {
            counters.commandRefusals[Int(refusal.rawValue)] &+= 1
            lastRefusal = (command.requestId, refusal)
        }
        return refusal
    }

    private func refusalOrApply(_ command: FeedCommand) -> FeedCommandRefusal? {
        guard command.feed == feedIndex else { return .wrongFeed }
        guard let kind = command.kind else { return .unknownKind }
        let length = min(Int(command.symbolLength), FeedCommand.maxSymbolBytes)
        var bytes = command.symbol
        let found = withUnsafeBytes(of: &bytes) { instruments.lookup(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        guard let entry = found, entry.id == command.instrument else { return .unknownSymbol }
        let symbol = Int(entry.index)
        switch kind {
        case .subscribe:
            guard connectionOf[symbol] < 0 else { return .alreadySubscribed }
            guard subscribe(index: symbol) else { return .noRoom }
            counters.subscribesApplied &+= 1
        case .unsubscribe:
            guard unsubscribe(index: symbol) else { return .notSubscribed }
            counters.unsubscribesApplied &+= 1
        }
        return nil
    }

    // MARK: - Reports

    /// Whether a symbol is subscribed (on which connection), stale, and its book.
    public func connection(of symbol: String) -> Int? {
        guard let entry = instruments.entry(forSymbol: symbol), connectionOf[Int(entry.index)] >= 0 else { return nil }
        return Int(connectionOf[Int(entry.index)])
    }

    public func isStale(_ symbol: String) -> Bool {
        guard let entry = instruments.entry(forSymbol: symbol) else { return false }
        return stale[Int(entry.index)]
    }

    public func book(_ symbol: String) -> OrderBook? {
        guard let entry = instruments.entry(forSymbol: symbol) else { return nil }
        return processor.book(at: Int(entry.index))
    }

    /// Symbols subscribed over all connections.
    public var subscribedCount: Int { connections.reduce(0) { $0 + $1.symbols.count } }

    /// The subscribed symbols in table order (cold path; read on the agent's thread or after it stopped).
    public var subscribedSymbols: [String] {
        connectionOf.indices.filter { connectionOf[$0] >= 0 }.map { instruments.specs[$0].symbol }
    }
}

/// Holds the ~Copyable consumer end of `control.feed` behind a reference (the feed stage's
/// property is optional: a replay runs its feed without one).
final class CommandInbox {
    var ring: RingConsumer<FeedCommand>
    init(_ ring: consuming RingConsumer<FeedCommand>) { self.ring = ring }
}

extension UInt32 {
    fileprivate var nextPowerOfTwo: UInt32 {
        var v: UInt32 = 1
        while v < self { v <<= 1 }
        return v
    }
}
