#if canImport(Glibc)
import Glibc
#endif
import CTicklineLinux
import Foundation
import Histogram
import TicklineCore
import TicklineRing

/// `tickline bench ring`: two processes over one shared-memory ring of 64-byte slots, the
/// producer pinned to one CPU and the consumer to another. Phase 1 pushes `messages` as
/// fast as possible with `tryPush` while the consumer drains them in batches of up to 256
/// (`drain(limit:)`, one cursor store per batch) checking each for order; phase 2 sends `paced`
/// messages one every `intervalNs`, each stamped with CLOCK_MONOTONIC just before the push,
/// and the consumer records now − stamp just after the pop (one-way hop latency) in an
/// HdrHistogram. `Benchmarks/ring-baseline` does exactly the same in C11.
public struct RingBenchmark: Sendable {
    public struct Options: Sendable {
        public var messages = 20_000_000
        public var paced = 200_000
        public var intervalNs = 5_000
        public var capacity = 65_536
        public var producerCpu = 0
        public var consumerCpu = 1
        public init() {}
    }

    public struct Result: Sendable {
        public var messages: Int
        public var messagesPerSecond: Double
        public var hopP50Ns: UInt64
        public var hopP99Ns: UInt64
        public var hopP999Ns: UInt64
        public var errors: UInt64
        /// What creating the region did on this host (mlock, huge pages, NUMA).
        public var regionReport: [String] = []

        public var json: String {
            "{\"messages\":\(messages),\"messages_per_second\":\(Int(messagesPerSecond)),\"hop_p50_ns\":\(hopP50Ns),\"hop_p99_ns\":\(hopP99Ns),\"hop_p999_ns\":\(hopP999Ns),\"errors\":\(errors)}"
        }

        public var text: String {
            """
            ring: \(messages) messages of 64 bytes, \(String(format: "%.1f", messagesPerSecond / 1e6))M messages/s
            hop latency (paced): p50 \(hopP50Ns) ns, p99 \(hopP99Ns) ns, p99.9 \(hopP999Ns) ns
            errors (lost, reordered or corrupted): \(errors)
            \(regionReport.map { "  " + $0 }.joined(separator: "\n"))
            """
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case setup(String)
        case consumer(String)
        public var description: String {
            switch self {
            case .setup(let s): return "bench ring setup: \(s)"
            case .consumer(let s): return "bench ring consumer: \(s)"
            }
        }
    }

    /// One 64-byte slot: sequence at 0, stamp at 8, sequence again at 56 (the whole line is written).
    struct Message: BitwiseCopyable {
        var sequence: UInt64
        var stampNs: Int64
        var pad0: UInt64 = 0, pad1: UInt64 = 0, pad2: UInt64 = 0, pad3: UInt64 = 0, pad4: UInt64 = 0
        var sequenceCheck: UInt64
    }

    /// Consumer -> producer: phase results.
    struct Reply: BitwiseCopyable {
        var kind: UInt64  // 1 ready, 2 throughput done, 3 latency done
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0, e: UInt64 = 0, f: UInt64 = 0, g: UInt64 = 0
    }

    /// Phase 1: most records the consumer releases per cursor store (as the C baseline).
    static let batchLimit = 256
    static let dataRing = "bench"
    static let replyRing = "bench.reply"
    /// Wait bound for any handshake: a consumer that makes no progress this long has failed.
    static let stallLimitNs: Int64 = 30_000_000_000

    public let options: Options
    public init(options: Options) { self.options = options }

    /// Runs the producer here and the consumer in `consumerCommand` (this binary re-run with
    /// the consumer role; `{instance}` is replaced by the region's instance name).
    public func run(consumerCommand: [String]) throws(Failure) -> Result {
        precondition(MemoryLayout<Message>.stride == 64 && MemoryLayout<Reply>.stride == 64)
        let instance = "bench-\(getpid())"
        SharedRegion.unlink(instance: instance)
        let region: SharedRegion
        let report: RegionReport
        do {
            (region, report) = try SharedRegion.create(instance: instance, rings: [
                .of(Message.self, name: Self.dataRing, capacity: options.capacity, overflow: .refuse),
                .of(Reply.self, name: Self.replyRing, capacity: 16, overflow: .refuse),
            ], options: RegionOptions(lockMemory: true, hugePages: true))
        } catch { throw .setup(error.description) }
        defer { region.unlink() }

        let child = Process()
        child.executableURL = URL(fileURLWithPath: consumerCommand[0])
        child.arguments = consumerCommand.dropFirst().map { $0.replacingOccurrences(of: "{instance}", with: instance) }
        do { try child.run() } catch { throw .setup("cannot start consumer \(consumerCommand[0]): \(error)") }
        defer { if child.isRunning { child.terminate() }; child.waitUntilExit() }

        let pinned = tl_pin_current_thread(Int32(options.producerCpu))
        if pinned != 0 { throw .setup("cannot pin the producer to CPU \(options.producerCpu): errno \(pinned)") }

        var producer = try Self.setup { () throws(RegionError) in try region.producer(of: Message.self, ring: Self.dataRing) }
        var replies = try Self.setup { () throws(RegionError) in try region.consumer(of: Reply.self, ring: Self.replyRing) }

        _ = try awaitReply(&replies, kind: 1, child: child)

        // Phase 1: throughput.
        let startNs = Clock.monotonic()
        var sequence: UInt64 = 0
        let total = UInt64(options.messages)
        while sequence < total {
            if producer.tryPush(Message(sequence: sequence, stampNs: 0, sequenceCheck: sequence)) {
                sequence &+= 1
            }
        }
        let done = try awaitReply(&replies, kind: 2, child: child)
        let elapsedNs = Double(Int64(bitPattern: done.a) - startNs.ns)
        var errors = done.b

        // Phase 2: paced latency.
        let paced = UInt64(options.paced)
        let interval = Int64(options.intervalNs)
        var next = Clock.monotonic() + interval
        var i: UInt64 = 0
        while i < paced {
            while Clock.monotonic() < next {}
            let message = Message(sequence: total &+ i, stampNs: Clock.monotonic().ns, sequenceCheck: total &+ i)
            if producer.tryPush(message) {
                i &+= 1
                next += interval
            }
        }
        let latency = try awaitReply(&replies, kind: 3, child: child)
        errors &+= latency.d
        child.waitUntilExit()
        if child.terminationStatus != 0 {
            throw .consumer("exited with status \(child.terminationStatus)")
        }
        return Result(messages: options.messages, messagesPerSecond: Double(options.messages) / elapsedNs * 1e9,
                      hopP50Ns: latency.a, hopP99Ns: latency.b, hopP999Ns: latency.c, errors: errors,
                      regionReport: report.lines)
    }

    private static func setup<T: ~Copyable>(_ body: () throws(RegionError) -> T) throws(Failure) -> T {
        do { return try body() } catch { throw .setup(error.description) }
    }

    private func awaitReply(_ replies: inout RingConsumer<Reply>, kind: UInt64, child: Process) throws(Failure) -> Reply {
        let deadline = Clock.monotonic() + Self.stallLimitNs
        while true {
            if let r = replies.tryPop() {
                guard r.kind == kind else { throw .consumer("expected reply \(kind), got \(r.kind)") }
                return r
            }
            if !child.isRunning {
                // It may have pushed its last reply just before exiting: look once more.
                if let r = replies.tryPop(), r.kind == kind { return r }
                throw .consumer("exited (status \(child.terminationStatus)) before reply \(kind)")
            }
            if Clock.monotonic() > deadline { throw .consumer("no reply \(kind) within \(Self.stallLimitNs / 1_000_000_000) s") }
            tl_cpu_relax()
        }
    }

    /// The consumer role, run in the child process: attaches, pins, checks every message,
    /// reports through the reply ring. Returns the process exit status.
    public static func runConsumer(instance: String, options: Options) -> Int32 {
        do {
            let region = try SharedRegion.attach(instance: instance)
            var consumer = try region.consumer(of: Message.self, ring: dataRing)
            var replies = try region.producer(of: Reply.self, ring: replyRing)
            let pinned = tl_pin_current_thread(Int32(options.consumerCpu))
            if pinned != 0 {
                printError("bench ring consumer: cannot pin to CPU \(options.consumerCpu): errno \(pinned)")
                return 2
            }
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            replies.push(Reply(kind: 1))

            let total = UInt64(options.messages)
            var expected: UInt64 = 0
            var errors: UInt64 = 0
            var sum: UInt64 = 0
            var lastProgressNs = Clock.monotonic()
            var expectedAtLastCheck: UInt64 = 0
            var spins = 0
            // Phase 1 drains batches (one cursor store per batch), as agents do.
            while expected < total {
                let limit = Int(min(UInt64(batchLimit), total &- expected))
                let n = consumer.drain(limit: limit) { m, _ in
                    if m.pointee.sequence != expected || m.pointee.sequenceCheck != expected { errors &+= 1 }
                    sum &+= m.pointee.sequence
                    expected &+= 1
                }
                if n == 0 {
                    spins &+= 1
                    if spins & 0xFFFFF == 0 {
                        let now = Clock.monotonic()
                        if expected != expectedAtLastCheck {
                            expectedAtLastCheck = expected
                            lastProgressNs = now
                        } else if now - lastProgressNs > stallLimitNs {
                            printError("bench ring consumer: no message for \(stallLimitNs / 1_000_000_000) s")
                            return 3
                        }
                    }
                }
            }
            let endNs = Clock.monotonic()
            if sum != total &* (total &- 1) / 2 { errors &+= 1 }
            replies.push(Reply(kind: 2, a: UInt64(bitPattern: endNs.ns), b: errors))

            let paced = UInt64(options.paced)
            let warmup = paced / 100
            var received: UInt64 = 0
            var latencyErrors: UInt64 = 0
            let deadline = Clock.monotonic() + stallLimitNs + Int64(paced) * Int64(options.intervalNs)
            while received < paced {
                if let m = consumer.tryPop() {
                    let now = Clock.monotonic()
                    if m.sequence != total &+ received { latencyErrors &+= 1 }
                    if received >= warmup { _ = histogram.record(UInt64(max(0, now.ns - m.stampNs))) }
                    received &+= 1
                } else if Clock.monotonic() > deadline {
                    printError("bench ring consumer: paced phase did not finish in time")
                    return 3
                }
            }
            replies.push(Reply(kind: 3, a: histogram.valueAtPercentile(50), b: histogram.valueAtPercentile(99),
                               c: histogram.valueAtPercentile(99.9), d: latencyErrors))
            return 0
        } catch {
            printError("bench ring consumer: \(error)")
            return 1
        }
    }
}

/// Writes one line to standard error (cold path).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
