import TicklineCore

/// Recorded Binance messages held in memory, and the per-message feed work over them
/// (decode, book update, events): what `tickline bench decode` times and the DecodeBenchmarks
/// allocation gate counts. Setup allocates; `process` and `runPass` do not.
/// Not thread-safe.
public final class DecodeWorkload {
    public let processor: BinanceFeedProcessor
    /// All payloads back to back; message i spans starts[i]..<ends[i].
    public let payloads: [UInt8]
    public let starts: [Int]
    public let ends: [Int]
    public let receiveNs: [Int64]
    /// Non-blank lines that are not `<receive ns> <payload>` (not in `count`).
    public let malformedLines: Int
    public var count: Int { starts.count }
    public var payloadBytes: Int { payloads.count }

    /// From a recording: lines `<receive ns> <raw JSON>` (see `RecordingLine`); lines that are
    /// not messages are left out and counted in `malformedLines`.
    public init(recording: [UInt8], instruments: InstrumentTable) {
        var payloads: [UInt8] = []
        var starts: [Int] = [], ends: [Int] = [], receiveNs: [Int64] = []
        var malformed = 0
        var lineStart = 0
        func add(_ from: Int, _ to: Int) {
            switch RecordingLine.parse(recording[from..<to]) {
            case .blank: return
            case .malformed: malformed += 1
            case .message(let ns, let payload):
                starts.append(payloads.count)
                payloads.append(contentsOf: recording[payload])
                ends.append(payloads.count)
                receiveNs.append(ns)
            }
        }
        for (i, b) in recording.enumerated() where b == 0x0A {
            add(lineStart, i)
            lineStart = i + 1
        }
        if lineStart < recording.count { add(lineStart, recording.count) }
        malformedLines = malformed
        self.payloads = payloads
        self.starts = starts
        self.ends = ends
        self.receiveNs = receiveNs
        processor = BinanceFeedProcessor(instruments: instruments, bookCapacityPerSide: 5_000, pendingDiffs: 1_024,
                                         pendingLevels: 1 << 18)
    }

    /// From whole messages (no timestamps: each is received at 0).
    public convenience init(messages: [String], instruments: InstrumentTable) {
        self.init(recording: Array(messages.map { "0 " + $0 }.joined(separator: "\n").utf8), instruments: instruments)
    }

    /// Processes message `index` (wraps around). Hot path: no allocation. Returns a value
    /// derived from the outcome and event, so the work cannot be optimised away.
    @inline(__always)
    public func process(_ index: Int) -> UInt64 {
        let i = index % count
        return unsafe payloads.withUnsafeBytes { all in
            unsafe step(UnsafeRawBufferPointer(rebasing: all[starts[i]..<ends[i]]), receiveNs[i])
        }
    }

    @inline(__always)
    private func step(_ bytes: UnsafeRawBufferPointer, _ receive: Int64) -> UInt64 {
        let outcome = unsafe processor.process(bytes, receiveWallNs: WallNanos(receive), timestamps: TimestampChain())
        let e = processor.event
        return UInt64(outcome.rawValue) &+ e.sequence &+ UInt64(bitPattern: e.price.units &+ e.bidPrice.units)
    }

    /// Clears the books, so a pass starts from the recording's own snapshot. No allocation.
    public func reset() { processor.reset() }

    /// One pass over every message from fresh books. No allocation.
    public func runPass() -> UInt64 {
        reset()
        var sum: UInt64 = 0
        unsafe payloads.withUnsafeBytes { all in
            for i in 0..<starts.count {
                sum &+= unsafe step(UnsafeRawBufferPointer(rebasing: all[starts[i]..<ends[i]]), receiveNs[i])
            }
        }
        return sum
    }

    /// One pass of the decoder alone (no book, no events): the work a JSON-parser baseline
    /// that only extracts the fields does. No allocation.
    public func runDecodeOnlyPass() -> UInt64 {
        let decoder = processor.decoder
        let fallback = processor.fallbackInstrumentIndex
        var message = BinanceMessage()
        var sum: UInt64 = 0
        unsafe payloads.withUnsafeBytes { all in
            for i in 0..<starts.count {
                let failed = unsafe decoder.decode(UnsafeRawBufferPointer(rebasing: all[starts[i]..<ends[i]]), into: &message,
                                                   fallbackInstrumentIndex: fallback) != nil
                sum &+= failed ? 1 : message.updateId &+ message.tradeId &+ UInt64(bitPattern: message.price.units)
            }
        }
        return sum
    }
}
