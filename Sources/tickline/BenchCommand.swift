import ArgumentParser
import Foundation
import TicklineBench

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput and latency benchmarks (figures in Benchmarks/RESULTS.md).",
        subcommands: [Ring.self, RingConsumer.self])

    struct RingOptions: ParsableArguments {
        @Option(help: "Messages in the throughput phase.") var messages = 20_000_000
        @Option(help: "Messages in the paced latency phase.") var paced = 200_000
        @Option(name: .customLong("interval-ns"), help: "Spacing of paced messages, ns.") var intervalNs = 5_000
        @Option(help: "Ring capacity in 64-byte slots (a power of two).") var capacity = 65_536
        @Option(name: .customLong("producer-cpu"), help: "CPU the producer is pinned to.") var producerCpu = 0
        @Option(name: .customLong("consumer-cpu"), help: "CPU the consumer is pinned to.") var consumerCpu = 1

        func validate() throws {
            guard messages > 0, paced >= 100 else { throw ValidationError("--messages must be > 0 and --paced at least 100") }
            guard capacity >= 2, capacity & (capacity - 1) == 0 else { throw ValidationError("--capacity \(capacity) is not a power of two") }
            guard intervalNs > 0 else { throw ValidationError("--interval-ns must be > 0") }
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
}
