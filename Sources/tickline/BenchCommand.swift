import ArgumentParser
import Foundation
import TicklineBench
import TicklineCore
import TicklineFeed
import TicklineMarketData

#if AllocationCounter
import CTicklineAllocationCounter
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput and latency benchmarks (figures in Benchmarks/RESULTS.md).",
        subcommands: [Ring.self, RingConsumer.self, Decode.self, BenchE2E.self])

    struct RingOptions: ParsableArguments {
        @Option(help: "Messages in the throughput phase, 1-100000000000.") var messages = 20_000_000
        @Option(help: "Messages in the paced latency phase, 100-1000000000.") var paced = 200_000
        @Option(name: .customLong("interval-ns"), help: "Spacing of paced messages, ns, 1-1000000000.") var intervalNs = 5_000
        @Option(help: "Ring capacity in 64-byte slots (a power of two, 2-1073741824).") var capacity = 65_536
        @Option(name: .customLong("producer-cpu"), help: "CPU the producer is pinned to, 0-1023.") var producerCpu = 0
        @Option(name: .customLong("consumer-cpu"), help: "CPU the consumer is pinned to, 0-1023.") var consumerCpu = 1

        // The upper bounds keep the arithmetic on them (deadlines, region sizes, CPU masks)
        // inside its integer types (CPUs: a glibc cpu_set_t holds 1024); a run at the largest
        // takes hours, not forever.
        func validate() throws {
            try checkRange("--messages", messages, in: 1...100_000_000_000)
            try checkRange("--paced", paced, in: 100...1_000_000_000)
            try checkRange("--interval-ns", intervalNs, in: 1...1_000_000_000)
            try checkRange("--capacity", capacity, in: 2...(1 << 30))
            guard capacity & (capacity - 1) == 0 else { throw ValidationError("--capacity \(capacity) is not a power of two") }
            try checkRange("--producer-cpu", producerCpu, in: 0...1_023)
            try checkRange("--consumer-cpu", consumerCpu, in: 0...1_023)
        }

        var options: RingBenchmark.Options {
            var o = RingBenchmark.Options()
            o.messages = messages
            o.paced = paced
            o.intervalNs = intervalNs
            o.capacity = capacity
            o.producerCpu = producerCpu
            o.consumerCpu = consumerCpu
            return o
        }

        var arguments: [String] {
            ["--messages", "\(messages)", "--paced", "\(paced)", "--interval-ns", "\(intervalNs)", "--capacity", "\(capacity)",
             "--producer-cpu", "\(producerCpu)", "--consumer-cpu", "\(consumerCpu)"]
        }
    }

    struct Ring: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Two processes over a shared-memory SPSC ring of 64-byte slots: messages/s, then paced one-way hop latency.")

        @OptionGroup var ring: RingOptions
        @Flag(help: "Print one JSON line.") var json = false

        func run() throws {
            let bench = RingBenchmark(options: ring.options)
            let command = [currentExecutablePath(), "bench", "ring-consumer", "--instance", "{instance}"] + ring.arguments
            do {
                let result = try bench.run(consumerCommand: command)
                print(json ? result.json : result.text)
                if result.errors > 0 { throw ExitCode(4) }
            } catch let failure as RingBenchmark.Failure {
                throw CommandFailure(failure.description)
            }
        }
    }

    struct RingConsumer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ring-consumer", abstract: "The consumer side of `bench ring` (started by it).", shouldDisplay: false)

        @Option var instance: String
        @OptionGroup var ring: RingOptions

        func run() throws {
            let status = RingBenchmark.runConsumer(instance: instance, options: ring.options)
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Binance messages from a recording decoded to events in memory (with the L2 book update): messages/s.",
            discussion: """
                Loads every line of the file (`<receive ns> <json>`, plain or gzip) into memory (a line that is \
                not one is counted in decode_errors and left out of the timing), then runs \
                the feed's per-message work (decode, book update, top-of-book and depth snapshot, events) \
                over all of them, several timed passes from fresh books, and prints the median pass. A \
                file without a REST snapshot line leaves the books buffering (book_updates 0). \
                allocations_per_message counts every allocation made during the timed passes, divided \
                by messages × passes, in a build with the counter \
                (`swift build -c release --traits AllocationCounter --product tickline`); the product \
                build links no counter and prints null (the allocation gate, Benchmarks/DecodeBenchmarks, \
                measures it there).

                """)

        @Option(help: "Recorded file: `<receive ns> <json>` lines, plain or gzip.") var input: String
        @Option(help: "Timed passes over all messages (median reported), 1-10000.") var passes = 7
        @Flag(help: "Print one JSON line.") var json = false
        @Flag(name: .customLong("decode-only"), help: "Time the decoder alone (no book, no events), as a JSON-parser baseline does.")
        var decodeOnly = false

        func validate() throws { try checkRange("--passes", passes, in: 1...10_000) }

        func run() throws {
            let bytes = try RecordingFile.load(input)
            let table = try RecordingFile.table(for: [bytes], symbols: [], priceDecimals: 8, quantityDecimals: 8)
            let workload = DecodeWorkload(recording: bytes, instruments: table)
            guard workload.count > 0 else { throw CommandFailure("\(input): no messages") }
            let pass = decodeOnly ? workload.runDecodeOnlyPass : workload.runPass
            var sink = pass()  // warm-up
            // Lines that are not `<receive ns> <message>` did not decode either (as in verify).
            let failed = workload.processor.decoder.counters.totalErrors + UInt64(workload.malformedLines)
            var durations: [Int64] = []
            var cpuDurations: [Int64] = []
            durations.reserveCapacity(passes)
            cpuDurations.reserveCapacity(passes)
            let allocationsBefore = Bench.allocationCount()
            for _ in 0..<passes {
                let cpuStart = Bench.threadCpuNs()
                let start = Clock.monotonic()
                sink &+= pass()
                durations.append(Clock.monotonic() - start)
                cpuDurations.append(Bench.threadCpuNs() - cpuStart)
            }
            let allocationsAfter = Bench.allocationCount()
            durations.sort()
            cpuDurations.sort()
            // Diffs applied to a synced book per pass: 0 when the file has no REST snapshot
            // line (the books then only buffer), so the figure is not read as including the book.
            let applied = workload.processor.books.reduce(UInt64(0)) { $0 + $1.counters.appliedDiffs }
            let bookUpdates = decodeOnly ? 0 : applied / UInt64(passes + 1)
            let cpuNsPerMessage = Double(cpuDurations[cpuDurations.count / 2]) / Double(workload.count)
            let median = Double(durations[durations.count / 2])
            let messages = workload.count
            let perSecond = Double(messages) / (median / 1e9)
            let nsPerMessage = median / Double(messages)
            let mbPerSecond = Double(workload.payloadBytes) / (median / 1e9) / 1e6
            // nil in a build without the counter.
            let allocationsPerMessage = allocationsBefore.flatMap { before in
                allocationsAfter.map { Double($0 &- before) / Double(messages * passes) }
            }
            if json {
                print("{\"messages\":\(messages),\"messages_per_second\":\(Int(perSecond.rounded())),"
                      + "\"ns_per_message\":\((nsPerMessage * 10).rounded() / 10),\"allocations_per_message\":\(allocationsPerMessage.map { "\($0)" } ?? "null"),"
                      + "\"allocation_counter\":\(allocationsPerMessage != nil),"
                      + "\"bytes\":\(workload.payloadBytes),\"mb_per_second\":\((mbPerSecond * 10).rounded() / 10),"
                      + "\"cpu_ns_per_message\":\((cpuNsPerMessage * 10).rounded() / 10),\"passes\":\(passes),\"work\":\"\(decodeOnly ? "decode" : "decode+book")\",\"book_updates\":\(bookUpdates),\"decode_errors\":\(failed),\"checksum\":\(sink & 0xFFFF)}")
            } else {
                print("decode\(decodeOnly ? " (decoder only)" : " + book"): \(messages) messages (\(workload.payloadBytes) B), median of \(passes) passes: "
                      + "\(Int(perSecond.rounded())) messages/s, \((nsPerMessage * 10).rounded() / 10) ns/message, "
                      + "\((mbPerSecond * 10).rounded() / 10) MB/s, \(bookUpdates) book updates per pass (thread CPU \((cpuNsPerMessage * 10).rounded() / 10) ns/message); \(failed) decode errors; "
                      + (allocationsPerMessage.map { "\($0) allocations/message" }
                          ?? "allocations: not counted in this build (see --help; Benchmarks/DecodeBenchmarks is the allocation gate)"))
            }
        }
    }

    /// Allocations the process has made so far, or nil when this build links no counter
    /// (the `AllocationCounter` trait adds it).
    static func allocationCount() -> UInt64? {
        #if AllocationCounter
        return tl_allocation_count()
        #else
        return nil
        #endif
    }

    /// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): unlike the wall clock it
    /// does not count time the thread spent descheduled on a shared machine.
    static func threadCpuNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
