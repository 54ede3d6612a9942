#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CTicklineLinux
import Foundation

/// `tickline-feed`: a WebSocket server that replays recorded Binance market data or a
/// synthetic multi-symbol stream, for tests, the demo and benchmarks.
@main
struct FeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickline-feed",
        abstract: "WebSocket replay server speaking Binance's stream protocol, with depth snapshots over HTTP and fault injection.",
        discussion: """
            Sources (one of): --data FILE... replays recorded lines `<recv ns> <raw JSON>` (plain or .gz, in \
            order; the first REST depth snapshot in them seeds the book); --synthetic N generates SYM0000USDT… \
            with random-walk trades, bookTicker quotes and depth diffs (10% depth, 70% quotes, 20% trades); \
            with --futures its diffs, quotes and snapshots take Binance USD-M futures' form (diffs carry T and pu, \
            and their update ids skip a few between one diff's u and the next's U, so only pu chains them).

            WebSocket (RFC 6455) on the listen port: /ws/<stream>[/<stream>…] sends bare events; \
            /stream?streams=a/b/c wraps them as {"stream":…,"data":…}. Clients may send \
            {"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[…],"id":N} and {"method":"LIST_SUBSCRIPTIONS","id":N}; \
            replies are {"result":null,"id":N}. Streams: <symbol>@trade, <symbol>@bookTicker, <symbol>@depth@100ms \
            (symbol lower case). The server pings every --ping-interval and closes (1008) a client whose pong does \
            not come within --pong-timeout; it answers client pings and completes the close handshake.

            HTTP on the same port: GET /api/v3/depth?symbol=BTCUSDT&limit=N, or /fapi/v1/depth (the server's own book, \
            consistent with the diffs already sent: lastUpdateId is the u of the last diff applied), GET /healthz (counters as JSON), \
            POST /fault?kind=drop|silence&seconds=S|garbage|oversized|bad-utf8|skip-depth&count=N[&symbol=SYM].

            Faults: drop closes TCP without a close frame; silence stops data, pings, pongs and replies for S \
            seconds (the source keeps running, so clients see a gap afterwards); garbage sends bytes that are no \
            frame (clients fail with 1002); oversized sends a header declaring a 1 TiB frame (1009); bad-utf8 a text \
            frame that is not UTF-8 (1007); skip-depth withholds the next N depth diffs, of SYM or of any symbol (the server's book still \
            applies them), so clients see a U/u gap.

            Pacing is open loop on the monotonic clock: message n is due at start + n/rate, whatever the clients \
            do. Each client has a send buffer (--client-buffer-bytes); frames are batched into it and sent many \
            per send(). A client whose buffer is full is closed with 1008 "slow consumer" (--slow-consumer \
            disconnect, the default) or loses the frames that do not fit, counted (--slow-consumer drop).

            The first stdout line is `listening HOST:PORT` (use --listen 127.0.0.1:0 for a free port). SO_REUSEADDR \
            lets a killed server restart on the same port at once. --bench-client URL instead connects to a \
            server, counts what arrives for --duration seconds and prints one JSON line.
            """)

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
    var listen = "127.0.0.1:0"

    @Option(parsing: .upToNextOption, help: "Recorded files to replay in order (plain or .gz).")
    var data: [String] = []

    @Option(help: "Generate this many synthetic symbols instead of replaying a file.")
    var synthetic: Int?

    @Option(name: .customLong("symbol"), help: "With --synthetic: the name of a synthetic symbol, in order (repeatable; the others are SYM0000USDT…), e.g. --symbol BTCUSDT to feed Config/laptop.yaml.")
    var symbolNames: [String] = []

    @Flag(help: "With --synthetic: write Binance USD-M futures messages (diffs with pu and non-contiguous update ids).")
    var futures = false

    @Option(help: "Seed of the synthetic generator.")
    var seed: UInt64 = 1

    @Option(help: "Messages per second over all streams (0: as fast as possible).")
    var rate: Double = 0

    @Flag(help: "Start the recording again at its end (for benchmarks: books reset to the recorded snapshot and update ids go back, so a client's book sees stale diffs).")
    var loop = false

    @Option(help: "Stop (close 1001 to every client, exit 0) after this many seconds of sending.")
    var duration: Double?

    @Option(help: "Seconds between server pings.")
    var pingInterval: Double = 20

    @Option(help: "Seconds a client may take to answer a ping before it is closed.")
    var pongTimeout: Double = 60

    @Option(help: "Do not start sending until this many WebSocket clients are connected.")
    var waitClients = 0

    @Option(help: "Send buffer per client, in bytes.")
    var clientBufferBytes = 8 << 20

    @Option(help: "disconnect (close 1008) or drop (count frames that do not fit).")
    var slowConsumer = "disconnect"

    @Option(help: "Inject a fault at a time after sending starts: KIND@SECONDS, e.g. drop@5, silence=3@10, skip-depth@2 (repeatable).")
    var fault: [String] = []

    @Option(help: "Bench mode: connect to ws://HOST:PORT/PATH, count messages for --duration seconds, print JSON.")
    var benchClient: String?

    func validate() throws {
        if benchClient != nil { return }
        guard data.isEmpty != (synthetic == nil) else { throw ValidationError("give exactly one of --data FILE... or --synthetic N") }
        if let synthetic, !(1...10_000).contains(synthetic) { throw ValidationError("--synthetic \(synthetic): between 1 and 10000 symbols") }
        if futures && synthetic == nil { throw ValidationError("--futures shapes synthetic messages: give it with --synthetic N (--data replays files as recorded)") }
        if !symbolNames.isEmpty {
            guard let synthetic, symbolNames.count <= synthetic else {
                throw ValidationError("--symbol names synthetic symbols: give at most --synthetic N of them (\(symbolNames.count) given)")
            }
            for name in symbolNames where name.isEmpty || name.count > 20 || !name.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) }) {
                throw ValidationError("--symbol \(name): 1-20 characters of A-Z 0-9, as Binance spells symbols")
            }
            guard Set(symbolNames).count == symbolNames.count else { throw ValidationError("--symbol: a name is given twice") }
        }
        // Upper bounds keep every deadline computed from these (Int64 ns) and the buffers
        // allocated from them in range.
        guard rate == 0 || (rate >= 0.001 && rate <= 1e9) else {
            throw ValidationError("--rate \(rate): must be 0 (as fast as possible) or from 0.001 to 1000000000")
        }
        if let duration, !(duration > 0 && duration <= 604_800) {
            throw ValidationError("--duration \(duration): must be a number of seconds greater than 0 and at most 604800")
        }
        guard waitClients >= 0 else { throw ValidationError("--wait-clients \(waitClients): must be 0 or more") }
        guard pingInterval > 0, pongTimeout > 0, pingInterval <= 86_400, pongTimeout <= 86_400 else {
            throw ValidationError("--ping-interval and --pong-timeout must be greater than 0 and at most 86400 seconds")
        }
        guard clientBufferBytes >= 64 * 1024, clientBufferBytes <= 1 << 30 else {
            throw ValidationError("--client-buffer-bytes \(clientBufferBytes): from 65536 to 1073741824")
        }
        guard SlowConsumerPolicy(rawValue: slowConsumer) != nil else { throw ValidationError("--slow-consumer \(slowConsumer): disconnect or drop") }
        for spec in fault where Self.parseFault(spec) == nil {
            throw ValidationError("--fault \(spec): expected KIND@SECONDS (at most 604800) with KIND drop, silence=S, garbage, oversized, bad-utf8, skip-depth[=N]")
        }
    }

    static func parseFault(_ spec: String) -> (Fault, Double)? {
        guard let at = spec.lastIndex(of: "@"), let seconds = Double(spec[spec.index(after: at)...]), seconds >= 0, seconds <= 604_800,
              let fault = Fault(String(spec[..<at])) else { return nil }
        return (fault, seconds)
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        _ = tl_install_signal_handlers()

        if let benchClient {
            let result = try BenchClient.run(url: benchClient, seconds: duration ?? 5)
            print(result)
            return
        }

        let source: any MessageSource
        if let synthetic {
            source = SyntheticSource(symbolCount: synthetic, seed: seed, names: symbolNames, futures: futures)
        } else {
            do {
                source = try ReplaySource(files: data, loop: loop)
            } catch {
                FileHandle.standardError.write(Data("tickline-feed: \(error.description)\n".utf8))
                throw ExitCode(66)
            }
        }
        let settings = ConnectionSettings(
            pingIntervalNs: Int64(pingInterval * 1e9), pongTimeoutNs: Int64(pongTimeout * 1e9),
            bufferBytes: clientBufferBytes, slowConsumer: SlowConsumerPolicy(rawValue: slowConsumer) ?? .disconnect)
        let server: FeedServer
        do {
            server = try FeedServer(source: source, listen: listen, rate: rate, waitClients: waitClients, settings: settings)
        } catch {
            FileHandle.standardError.write(Data("tickline-feed: \(error.description)\n".utf8))
            throw ExitCode(69)
        }
        // Unbuffered, so a test reading the pipe sees it at once.
        FileHandle.standardOutput.write(Data("listening \(server.address)\n".utf8))
        server.start(faults: fault.compactMap(Self.parseFault))

        while tl_shutdown_signal() == 0 {
            let startNs = server.sendingStartedNs
            if let duration, startNs != 0, monotonicNs() - startNs >= Int64(duration * 1e9) { break }
            sleepNs(20_000_000)
        }
        server.stop()
        FileHandle.standardError.write(Data("tickline-feed: stopped \(server.health())\n".utf8))
    }
}
