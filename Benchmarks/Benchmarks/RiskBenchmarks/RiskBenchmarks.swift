// Risk and execution hot paths, with the allocation gate (`mallocCountTotal` p90 threshold
// 0; wall clock reported, never gated: the machines are shared). With `scalingFactor: .kilo`
// the wall clock is ns per operation.
//
// - Risk.signalToOrder (16 instruments priced) and Risk.signalToOrder.10kInstruments (the
//   decision does not depend on the number of instruments): one signal through
//   `PreTradeRisk.decide` (every check) to an approved order inserted into the `OrderTable` and marked
//   sent. To stay in steady state, each iteration then applies the venue's reject report
//   (order table → `PreTradeRisk.apply(fill:)`), which releases the open quantity; so the
//   figure is decision + order insert + one report applied.
// - Risk.exitsPerPriceUpdate.10kInstruments: `ExitMonitor.onPrice` with 10,000 open
//   positions, one on each of 10,000 instruments, prices moving inside take-profit/stop.
// - Risk.exitsPerPriceUpdate.10kOnOneInstrument: the same with 10,000 positions (strategies)
//   on one instrument: inside the band the cost does not depend on the count.
// - Risk.exitsPerPriceUpdate.10kOnOneInstrumentTrailingNewHigh: the worst case, 10,000
//   trailing-stop longs on one instrument and a price that makes a new high on every update,
//   so every update scans all of them (O(k)).

import Benchmark
import BenchmarkGate
import TicklineCore
import TicklineExecution
import TicklineRisk

nonisolated(unsafe) let configuration = gatedConfiguration()

let spec = InstrumentRiskSpec(priceDecimals: 2, quantityDecimals: 3, maxOrderQuantityUnits: 1_000_000, positionLimitUnits: 10_000_000)

/// `count` positions: long 1.000 at 100.00, take-profit 110.00, stop 90.00 (or a 5.00 trailing stop).
func exitMonitor(strategies: Int, instruments: Int, trailing: Bool) -> ExitMonitor {
    var m = ExitMonitor(strategyCapacity: strategies, instrumentCapacity: instruments)
    for i in 0..<instruments { m.register(instrument: InstrumentId(i), priceDecimals: 2, quantityDecimals: 3) }
    let plan = trailing ? ExitPlan(trailingDistanceUnits: 500)
                        : ExitPlan(takeProfit: Price(units: 11_000), stopLoss: Price(units: 9_000))
    for s in 0..<strategies {
        for i in 0..<instruments {
            m.setPosition(strategy: StrategyId(s), instrument: InstrumentId(i), quantityUnits: 1_000, entryPriceUnits: 10_000, plan: plan, nowNs: 0)
        }
    }
    return m
}

let benchmarks: @Sendable () -> Void = {
    func signalToOrderBenchmark(_ name: String, instruments: Int) {
        Benchmark(name, configuration: configuration) { benchmark in
            var risk = PreTradeRisk(strategyCapacity: 4, instrumentCapacity: instruments, limits: .unbounded())
            for i in 0..<instruments {
                risk.register(instrument: InstrumentId(i), spec: spec)
                risk.updatePrice(instrument: InstrumentId(i), price: Price(units: 10_000), nowNs: 1)
            }
            var orders = OrderTable(capacity: 1_024)
            var sink = 0
            var n = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let side: Side = n & 1 == 0 ? .buy : .sell
                let signal = SignalEvent(sequence: UInt64(n), instrument: InstrumentId(n % instruments), strategy: StrategyId(n & 3),
                                         side: side, quantity: Quantity(units: 1_000), entryPrice: Price(units: 10_000),
                                         takeProfit: Price(units: 10_000 + side.sign * 300), stopLoss: Price(units: 10_000 - side.sign * 100),
                                         priceDecimals: 2, quantityDecimals: 3)
                if case .order(let o) = risk.decide(signal: signal, nowNs: 2, stampNs: 2) {
                    _ = orders.insert(o, nowNs: 2)
                    _ = orders.markSent(clientOrderId: o.clientOrderId, nowNs: 2)
                    let reject = FillEvent(clientOrderId: o.clientOrderId, instrument: o.instrument, strategy: o.strategy, side: side,
                                           status: .rejected, priceDecimals: 2, quantityDecimals: 3)
                    if let f = orders.apply(report: reject, nowNs: 3).fill { _ = risk.apply(fill: f) }
                    sink &+= 1
                }
                n &+= 1
            }
            benchmark.stopMeasurement()
            precondition(sink == n, "\(n - sink) signals denied: the benchmark must measure approvals")
            blackHole(sink)
        }
    }

    signalToOrderBenchmark("Risk.signalToOrder", instruments: 16)
    signalToOrderBenchmark("Risk.signalToOrder.10kInstruments", instruments: 10_000)

    func exitsBenchmark(_ name: String, strategies: Int, instruments: Int, trailing: Bool, price: @escaping @Sendable (Int) -> Int64) {
        Benchmark(name, configuration: configuration) { benchmark in
            var m = exitMonitor(strategies: strategies, instruments: instruments, trailing: trailing)
            var exits = 0
            var n = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                exits &+= m.onPrice(instrument: InstrumentId(n % instruments), price: Price(units: price(n)), nowNs: 1) { _, _ in }
                n &+= 1
            }
            benchmark.stopMeasurement()
            precondition(exits == 0 && m.openPositions == strategies * instruments, "exits \(exits): prices must stay inside the band")
            blackHole(m.scans)
        }
    }

    // Prices wander between 95.00 and 104.99 (inside take-profit 110 and stop 90).
    exitsBenchmark("Risk.exitsPerPriceUpdate.10kInstruments", strategies: 1, instruments: 10_000, trailing: false) { 9_500 + Int64(($0 &* 7_919) % 1_000) }
    exitsBenchmark("Risk.exitsPerPriceUpdate.10kOnOneInstrument", strategies: 10_000, instruments: 1, trailing: false) { 9_500 + Int64(($0 &* 7_919) % 1_000) }
    exitsBenchmark("Risk.exitsPerPriceUpdate.10kOnOneInstrumentTrailingNewHigh", strategies: 10_000, instruments: 1, trailing: true) { 10_001 + Int64($0) }
}
