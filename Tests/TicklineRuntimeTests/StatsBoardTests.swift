#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineRuntime

@Suite struct StatsBoardTests {
    @Test func bucketsAreOrderedAndBoundEachValueWithinAQuarter() {
        var previous = -1
        var v: UInt64 = 0
        while v < 1 << 44 {
            let b = StatsBoard.bucket(of: v)
            #expect(b >= previous)
            previous = b
            let upper = StatsBoard.upperBound(ofBucket: b)
            #expect(upper >= v)
            #expect(Double(upper) <= Double(v) * 1.25 + 1)
            if b > 0 { #expect(StatsBoard.upperBound(ofBucket: b - 1) < v) }
            v = v < 64 ? v + 1 : v + v / 7
        }
        #expect(StatsBoard.bucket(of: UInt64.max) == StatsBoard.bucketCount - 1)
    }

    @Test func percentilesMatchAnExactSortWithinTheBucketError() {
        let board = StatsBoard()
        let h = board.histogram("lat", "latency")
        var generator = SystemRandomNumberGenerator()
        var samples: [Int64] = []
        for _ in 0..<50_000 {
            let v = Int64.random(in: 100...2_000_000, using: &generator) / Int64.random(in: 1...50, using: &generator)
            samples.append(v)
            board.record(h, v)
        }
        samples.sort()
        let s = board.snapshot(h)
        #expect(s.count == 50_000)
        #expect(s.max == UInt64(samples.last!))
        #expect(s.sum == UInt64(samples.reduce(0, +)))
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = Double(samples[Int((Double(samples.count) * q).rounded(.up)) - 1])
            let got = Double(s.percentile(q))
            #expect(got >= exact && got <= exact * 1.25 + 1, "p\(q): \(got) vs exact \(exact)")
        }
    }

    @Test func writesCountersAndHistogramsThatPromtoolAccepts() throws {
        let board = StatsBoard()
        let c = board.counter("tickline_events_total", "Events decoded.", labels: [("feed", "binance")])
        let g = board.counter("tickline_ring_depth", "Records waiting.", kind: .gauge, labels: [("ring", "market")])
        let h = board.histogram("tickline_stage_latency_seconds", "Per-stage latency.", labels: [("stage", "risk")])
        board.add(c, 41)
        board.add(c)
        board.set(g, 7)
        for v in [500, 1_500, 3_000, 3_000, 2_000_000_000] as [Int64] { board.record(h, v) }
        var exposition = PrometheusText()
        board.prometheus(into: &exposition)
        let text = exposition.text
        #expect(text.contains("tickline_events_total{feed=\"binance\"} 42\n"))
        #expect(text.contains("tickline_ring_depth{ring=\"market\"} 7\n"))
        #expect(text.contains("tickline_stage_latency_seconds_bucket{stage=\"risk\",le=\"1.024e-06\"} 1\n"))
        #expect(text.contains("tickline_stage_latency_seconds_bucket{stage=\"risk\",le=\"4.096e-06\"} 4\n"))
        #expect(text.contains("tickline_stage_latency_seconds_bucket{stage=\"risk\",le=\"+Inf\"} 5\n"))
        #expect(text.contains("tickline_stage_latency_seconds_count{stage=\"risk\"} 5\n"))
        for promtool in ["/usr/bin/promtool"] where access(promtool, X_OK) == 0 {
            let file = NSTemporaryDirectory() + "statsboard-\(getpid()).prom"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "\(promtool) check metrics < \(file)"]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
    }

    @Test func aReaderOnAnotherThreadSeesAWritersProgress() {
        let board = StatsBoard()
        let c = board.counter("n", "n")
        let writer = Thread { for _ in 0..<1_000_000 { board.add(c) } }
        writer.start()
        var last: UInt64 = 0
        let deadline = Date().addingTimeInterval(30)
        while board.value(c) < 1_000_000 && Date() < deadline {
            let now = board.value(c)
            #expect(now >= last)  // monotonic to a reader
            last = now
        }
        #expect(board.value(c) == 1_000_000)
    }
}
