import TicklineCore

/// What `BinanceFeedProcessor.process` produced.
public enum ProcessOutcome: UInt8, Sendable {
    /// `event` holds a trade or quote to publish.
    case marketEvent = 1
    /// A diff was applied: `event` holds the `bookTop` and `depth` the top-N snapshot to publish.
    case bookUpdated = 2
    /// A diff was buffered (the book awaits a snapshot), or dropped as stale.
    case bookPending = 3
    /// A diff broke continuity: the book awaits a fresh REST snapshot (the owner fetches it).
    case bookGap = 4
    /// Truncation left a side with fewer known levels than are published: the book was
    /// cleared and awaits a fresh REST snapshot (not a venue gap).
    case bookResync = 8
    /// A snapshot was loaded (`event`/`depth` hold the new top when it synced the book).
    case snapshotLoaded = 5
    /// A control reply or `serverShutdown` (see `message`).
    case control = 6
    /// Decoding failed (counted by the decoder by reason).
    case decodeFailed = 7
    /// A well-formed event of a stream Tickline does not use (kline, markPriceUpdate,
    /// forceOrder, 24hrTicker, …): skipped, and not an error.
    case unsupported = 9
}

/// What loading a fetched snapshot did.
public enum SnapshotLoad: UInt8, Sendable {
    case synced = 1
    /// Older than the buffered diffs (a diff right after it is missing): fetch another.
    case tooOld = 2
    /// The buffered diffs had a gap: the book buffers afresh.
    case gapInBuffer = 3
    /// Not a depth snapshot of the book it was fetched for.
    case malformed = 4
}

/// What a processor's messages came to, by outcome: the figures `verify` and `replay` report
/// (the feed agent keeps its own). One place counts them, so both mean the same.
public struct ProcessCounters: Sendable, Equatable {
    /// Messages that did not decode (not counting `unsupportedMessages`).
    public var decodeErrors: UInt64 = 0
    /// Well-formed events of streams Tickline does not use.
    public var unsupportedMessages: UInt64 = 0
    /// Depth diffs that broke continuity (each one leaves the book awaiting a snapshot).
    public var depthGaps: UInt64 = 0
    /// Capacity truncation thinned a book below the published depth (it awaits a snapshot).
    public var bookResyncs: UInt64 = 0
    /// Snapshots by outcome: synced a book; older than the buffered diffs (a diff right after
    /// it is missing); the buffered diffs themselves had a gap; naming no symbol where the
    /// table has several (not attributable to a book).
    public var snapshotsSynced: UInt64 = 0
    public var snapshotsTooOld: UInt64 = 0
    public var snapshotsWithGap: UInt64 = 0
    public var snapshotsWithoutSymbol: UInt64 = 0

    public init() {}

    /// Snapshots of every outcome.
    public var snapshots: UInt64 { snapshotsSynced + snapshotsTooOld + snapshotsWithGap + snapshotsWithoutSymbol }
}

/// The per-message work of a Binance feed, without I/O: decode, update the instrument's
/// book, and build the events to publish. The feed agent calls it for every frame; replay,
/// `tickline verify` and the decode benchmark call the same code.
/// Not thread-safe: owned by the feed agent's thread.
public final class BinanceFeedProcessor {
    public let decoder: BinanceDecoder
    /// One book per table entry, indexed by `InstrumentEntry.index`.
    public let books: [OrderBook]
    /// The last decoded message.
    // Mutable state is stored in internal properties behind public getters: a public stored
    // property of a class costs a dynamic exclusivity check on every access.
    var messageStorage: BinanceMessage = BinanceMessage()
    public var message: BinanceMessage { messageStorage }
    /// The event to publish after `.marketEvent`, `.bookUpdated` or `.snapshotLoaded`.
    var eventStorage: MarketEvent = MarketEvent()
    public var event: MarketEvent { eventStorage }
    /// The depth snapshot to publish after `.bookUpdated` or `.snapshotLoaded`.
    var depthStorage: DepthSnapshot = DepthSnapshot()
    public var depth: DepthSnapshot { depthStorage }
    /// Sequence numbers given to the events built so far.
    var sequenceStorage: UInt64 = 0
    public var sequence: UInt64 { sequenceStorage }
    /// Table position a depth snapshot naming no symbol (the REST body) is attributed to;
    /// -1 = none. Stream messages without a symbol never take it (`BinanceDecodeError.noSymbol`).
    public var fallbackInstrumentIndex: Int32 {
        get { fallbackIndex }
        set { fallbackIndex = newValue }
    }
    var fallbackIndex: Int32
    var countersStorage = ProcessCounters()
    public var counters: ProcessCounters { countersStorage }
    /// Per book: whether it received depth diffs, and whether it was ever synced.
    var sawDiffs: [Bool]
    var everSynced: [Bool]

    /// Builds the decoder and one preallocated book per instrument (cold path).
    public init(instruments: InstrumentTable, continuity: DepthContinuity = .detect, bookCapacityPerSide: Int = 1_000,
                pendingDiffs: Int = 64, pendingLevels: Int = 4_096, levelCapacity: Int = 5_000) {
        decoder = BinanceDecoder(instruments: instruments, levelCapacity: levelCapacity)
        books = instruments.specs.map {
            OrderBook(instrument: $0.id, priceDecimals: $0.priceDecimals, quantityDecimals: $0.quantityDecimals,
                      continuity: continuity, capacityPerSide: bookCapacityPerSide, pendingDiffs: pendingDiffs,
                      pendingLevels: pendingLevels)
        }
        fallbackIndex = instruments.count == 1 ? 0 : -1
        sawDiffs = Array(repeating: false, count: instruments.count)
        everSynced = Array(repeating: false, count: instruments.count)
    }

    /// Books that received depth diffs but were never synced by a snapshot: nothing of them
    /// could be checked or traded on.
    public var booksUnsynced: Int { zip(sawDiffs, everSynced).count { $0 && !$1 } }


    /// Processes one message. Hot path: no allocation.
    @inline(__always)
    public func process(_ bytes: UnsafeRawBufferPointer, receiveWallNs: WallNanos, timestamps: TimestampChain) -> ProcessOutcome {
        // Decoding into a local and storing it once keeps the class property out of an inout
        // access across a call (which costs a dynamic exclusivity check per message).
        var decoded = BinanceMessage()
        let error = unsafe decoder.decode(bytes, into: &decoded, fallbackInstrumentIndex: fallbackIndex)
        messageStorage = decoded
        if let error {
            if error == .unsupportedEvent {
                countersStorage.unsupportedMessages &+= 1
                return .unsupported
            }
            if error == .noSymbol && decoded.kind == .depthSnapshot { countersStorage.snapshotsWithoutSymbol &+= 1 }
            countersStorage.decodeErrors &+= 1
            return .decodeFailed
        }
        switch decoded.kind {
        case .trade, .aggTrade, .bookTicker:
            sequenceStorage &+= 1
            eventStorage = messageStorage.marketEvent(sequence: sequenceStorage, receiveWallNs: receiveWallNs, timestamps: timestamps)
                ?? MarketEvent()
            return .marketEvent
        case .depthUpdate:
            let index = Int(messageStorage.instrumentIndex)
            let book = books[index]
            sawDiffs[index] = true
            switch book.apply(messageStorage, decoder: decoder) {
            case .applied:
                publishTop(book, receiveWallNs: receiveWallNs, timestamps: timestamps)
                return .bookUpdated
            case .gap:
                countersStorage.depthGaps &+= 1
                return .bookGap
            case .buffered, .stale:
                return .bookPending
            case .exhausted:
                countersStorage.bookResyncs &+= 1
                return .bookResync
            }
        case .depthSnapshot:
            let index = Int(messageStorage.instrumentIndex)
            let book = books[index]
            switch book.loadSnapshot(lastUpdateId: messageStorage.updateId, bids: decoder.bids, asks: decoder.asks) {
            case .synced:
                countersStorage.snapshotsSynced &+= 1
                everSynced[index] = true
                publishTop(book, receiveWallNs: receiveWallNs, timestamps: timestamps)
            case .tooOld:
                countersStorage.snapshotsTooOld &+= 1
            case .gapInBuffer:
                countersStorage.snapshotsWithGap &+= 1
            }
            return .snapshotLoaded
        case .controlReply, .errorReply, .serverShutdown, nil:
            return .control
        }
    }

    @inline(__always)
    private func publishTop(_ book: OrderBook, receiveWallNs: WallNanos, timestamps: TimestampChain) {
        sequenceStorage &+= 1
        storeTop(book, sequence: sequenceStorage, venueTimeNs: messageStorage.venueTimeNs, receiveWallNs: receiveWallNs,
                 timestamps: timestamps)
    }

    /// `book`'s top and depth into `event` and `depth`.
    @inline(__always)
    private func storeTop(_ book: OrderBook, sequence: UInt64, venueTimeNs: WallNanos, receiveWallNs: WallNanos,
                          timestamps: TimestampChain) {
        eventStorage = book.topEvent(sequence: sequence, venueTimeNs: venueTimeNs, receiveWallNs: receiveWallNs,
                                     timestamps: timestamps) ?? MarketEvent()
        var snapshot = DepthSnapshot()
        _ = book.fill(&snapshot, sequence: sequence, venueTimeNs: venueTimeNs, receiveWallNs: receiveWallNs,
                      socketReadNs: timestamps.socketReadNs, decodedNs: timestamps.decodedNs)
        depthStorage = snapshot
    }

    /// Loads a snapshot fetched over REST for book `index` (the body names no symbol). On
    /// `.synced`, `event` holds the book's `bookTop` and `depth` its depth (sequence 0,
    /// stamped with the times given). Not counted in `counters`: the feed agent counts what
    /// it fetched. Cold path.
    public func loadSnapshot(_ body: UnsafeRawBufferPointer, index: Int, receiveWallNs: WallNanos,
                             timestamps: TimestampChain) -> SnapshotLoad {
        var decoded = BinanceMessage()
        guard index >= 0, index < books.count,
              unsafe decoder.decode(body, into: &decoded, fallbackInstrumentIndex: Int32(index)) == nil,
              decoded.kind == .depthSnapshot
        else { return .malformed }
        let book = books[index]
        switch book.loadSnapshot(lastUpdateId: decoded.updateId, bids: decoder.bids, asks: decoder.asks) {
        case .synced:
            everSynced[index] = true
            storeTop(book, sequence: 0, venueTimeNs: 0, receiveWallNs: receiveWallNs, timestamps: timestamps)
            return .synced
        case .tooOld: return .tooOld
        case .gapInBuffer: return .gapInBuffer
        }
    }

    /// Clears every book (they await snapshots again) and the event sequence. No allocation.
    public func reset() {
        for book in books { book.invalidate() }
        sequenceStorage = 0
    }
}

/// The figures `tickline verify` prints.
public struct VerifyReport: Sendable, Equatable {
    /// Non-empty lines read.
    public var messages: UInt64 = 0
    /// bookTicker messages whose `u` equals the book's last applied update id: compared with the book's top.
    public var bookChecks: UInt64 = 0
    /// Those whose best bid/ask price or quantity differ from the book.
    public var bookMismatches: UInt64 = 0
    /// Trades (or aggregate trades) that followed another of the symbol: their ids were compared.
    public var tradeIdChecks: UInt64 = 0
    /// Those whose id does not follow the previous one of the symbol.
    public var tradeIdGaps: UInt64 = 0
    /// Decode errors, unsupported messages, depth gaps and snapshots by outcome.
    public var processed = ProcessCounters()
    /// Books that got depth diffs but no snapshot ever synced.
    public var booksUnsynced = 0
    /// Symbols in the instrument table.
    public var symbols = 0
    /// Lines that are not `<receive ns> <payload>` (decode errors, beside the processor's).
    public var malformedLines: UInt64 = 0

    public init() {}

    public var depthGaps: UInt64 { processed.depthGaps }
    public var decodeErrors: UInt64 { processed.decodeErrors + malformedLines }
    public var snapshotsSynced: UInt64 { processed.snapshotsSynced }

    /// A check found something wrong: a depth gap, a book mismatch, a trade-id gap, a line
    /// that did not decode.
    public var failed: Bool { depthGaps > 0 || bookMismatches > 0 || tradeIdGaps > 0 || decodeErrors > 0 }

    /// Why the recording could not be checked in full (empty: it was): each says what is
    /// missing and how to get it.
    public var incomplete: [String] {
        var out: [String] = []
        let p = processed
        if p.snapshotsWithoutSymbol > 0 {
            out.append("\(p.snapshotsWithoutSymbol) depth snapshots name no symbol and the recording has \(symbols) symbols, so no book "
                       + "could take them: write each as {\"stream\":\"<symbol>@depth\",\"data\":<snapshot>} (as tickline record does) "
                       + "or keep one symbol per recording")
        }
        if booksUnsynced > 0 {
            out.append("\(booksUnsynced) of \(symbols) books got depth diffs but no snapshot synced them (snapshots: \(p.snapshotsTooOld) "
                       + "older than the buffered diffs, \(p.snapshotsWithGap) with a gap in the diffs before them): record a "
                       + "snapshot taken after the diffs start")
        }
        if bookChecks == 0 && tradeIdChecks == 0 {
            out.append("nothing was checked: no bookTicker met a synced book and no trade followed another")
        }
        return out
    }

    /// One JSON line.
    public var json: String {
        let p = processed
        return "{\"messages\":\(messages),\"depth_gaps\":\(p.depthGaps),\"book_checks\":\(bookChecks),"
            + "\"book_mismatches\":\(bookMismatches),\"trade_id_checks\":\(tradeIdChecks),\"trade_id_gaps\":\(tradeIdGaps),"
            + "\"decode_errors\":\(decodeErrors),\"unsupported_messages\":\(p.unsupportedMessages),"
            + "\"snapshots_synced\":\(p.snapshotsSynced),\"snapshots_too_old\":\(p.snapshotsTooOld),"
            + "\"snapshots_with_gap\":\(p.snapshotsWithGap),\"snapshots_without_symbol\":\(p.snapshotsWithoutSymbol),"
            + "\"books_unsynced\":\(booksUnsynced),\"complete\":\(incomplete.isEmpty)}"
    }

    public var text: String {
        let p = processed
        var out = "messages \(messages), depth gaps \(p.depthGaps), book checks \(bookChecks) (mismatches \(bookMismatches)), "
            + "trade-id checks \(tradeIdChecks) (gaps \(tradeIdGaps)), decode errors \(decodeErrors), "
            + "unsupported messages \(p.unsupportedMessages)\n"
            + "snapshots: synced \(p.snapshotsSynced), too old \(p.snapshotsTooOld), gap before them \(p.snapshotsWithGap), "
            + "no symbol \(p.snapshotsWithoutSymbol); books never synced \(booksUnsynced) of \(symbols)"
        for reason in incomplete { out += "\nincomplete: \(reason)" }
        return out
    }
}

/// Replays a recording (lines `<receive ns> <raw JSON>`, as in `../shared/data`) through the
/// decoder and the books, and checks it: depth continuity, every bookTicker whose update id
/// the book reaches against the book's top, and trade-id continuity per symbol.
///
/// A bookTicker is real-time while diffs come every 100 ms, so the ticker for update id `u`
/// usually arrives before the diff that ends at `u`: the last `tickerMemory` tickers per
/// symbol are kept, and each is compared when the book's last update id equals its `u`
/// (at once when the book is already there).
/// A REST snapshot line (`{"lastUpdateId":…}`) syncs the book of the table's only symbol.
/// Cold-path tool logic (`tickline verify`), though per line it allocates nothing.
public final class RecordingVerifier {
    public let processor: BinanceFeedProcessor
    var reportStorage = VerifyReport()
    /// The figures so far.
    public var report: VerifyReport {
        var r = reportStorage
        r.processed = processor.counters
        r.booksUnsynced = processor.booksUnsynced
        r.symbols = processor.books.count
        return r
    }
    private var lastTradeId: [UInt64]
    private var lastAggregateId: [UInt64]
    /// Recent bookTickers not yet compared, a ring of `tickerMemory` per symbol (updateId 0 = empty).
    private var tickers: [BinanceMessage]
    private var tickerNext: [Int]
    public let tickerMemory = 256

    /// - Parameters:
    ///   - instruments: the symbols of the recording (see `symbols(in:)`).
    ///   - bookCapacityPerSide: 5,000 holds a full REST snapshot.
    public init(instruments: InstrumentTable, continuity: DepthContinuity = .detect, bookCapacityPerSide: Int = 5_000) {
        processor = BinanceFeedProcessor(instruments: instruments, continuity: continuity,
                                         bookCapacityPerSide: bookCapacityPerSide, pendingDiffs: 1_024,
                                         pendingLevels: 1 << 18)
        lastTradeId = Array(repeating: 0, count: instruments.count)
        lastAggregateId = Array(repeating: 0, count: instruments.count)
        tickers = Array(repeating: BinanceMessage(), count: instruments.count * tickerMemory)
        tickerNext = Array(repeating: 0, count: instruments.count)
    }

    private func check(_ ticker: BinanceMessage, against book: OrderBook) {
        reportStorage.bookChecks += 1
        let bid = book.bids.best ?? BookLevel()
        let ask = book.asks.best ?? BookLevel()
        if bid.price != ticker.bidPrice || bid.quantity != ticker.bidQuantity
            || ask.price != ticker.askPrice || ask.quantity != ticker.askQuantity {
            reportStorage.bookMismatches += 1
        }
    }

    /// Compares the remembered tickers of `index` that name the book's current update id.
    private func checkRememberedTickers(_ index: Int) {
        let book = processor.books[index]
        guard book.state == .synced else { return }
        let base = index * tickerMemory
        for i in base..<base + tickerMemory where tickers[i].updateId == book.lastUpdateId {
            check(tickers[i], against: book)
            tickers[i].updateId = 0
        }
    }

    /// Checks one line (no newline).
    public func consume(line: UnsafeRawBufferPointer) {
        let receiveNs: Int64, range: Range<Int>
        switch unsafe RecordingLine.parse(line) {
        case .blank:
            return
        case .malformed:
            reportStorage.messages += 1
            reportStorage.malformedLines += 1
            return
        case .message(let ns, let payload):
            reportStorage.messages += 1
            (receiveNs, range) = (ns, payload)
        }
        let payload = unsafe UnsafeRawBufferPointer(rebasing: line[range])
        let outcome = unsafe processor.process(payload, receiveWallNs: WallNanos(receiveNs), timestamps: TimestampChain())
        let message = processor.message
        switch outcome {
        case .snapshotLoaded:
            checkRememberedTickers(Int(message.instrumentIndex))
        case .bookUpdated:
            checkRememberedTickers(Int(message.instrumentIndex))
        case .marketEvent:
            let index = Int(message.instrumentIndex)
            switch message.kind {
            case .trade:
                checkTradeId(message.tradeId, after: &lastTradeId[index])
            case .aggTrade:
                checkTradeId(message.tradeId, after: &lastAggregateId[index])
            case .bookTicker:
                let book = processor.books[index]
                if book.state == .synced && message.updateId == book.lastUpdateId {
                    check(message, against: book)
                } else if message.updateId > book.lastUpdateId || book.state != .synced {
                    tickers[index * tickerMemory + tickerNext[index]] = message
                    tickerNext[index] = (tickerNext[index] + 1) % tickerMemory
                }
            default:
                break
            }
        case .decodeFailed, .unsupported, .bookGap, .bookPending, .control, .bookResync:
            break  // counted by the processor
        }
    }

    private func checkTradeId(_ id: UInt64, after last: inout UInt64) {
        if last != 0 {
            reportStorage.tradeIdChecks += 1
            if id != last &+ 1 { reportStorage.tradeIdGaps += 1 }
        }
        last = id
    }

    /// Checks every line of a recording held in memory.
    public func consume(recording: UnsafeRawBufferPointer) {
        var lineStart = 0
        for i in 0..<recording.count where unsafe recording[i] == 0x0A {
            unsafe consume(line: UnsafeRawBufferPointer(rebasing: recording[lineStart..<i]))
            lineStart = i + 1
        }
        if lineStart < recording.count {
            unsafe consume(line: UnsafeRawBufferPointer(rebasing: recording[lineStart..<recording.count]))
        }
    }

    public func consume(recording: [UInt8]) {
        unsafe recording.withUnsafeBytes { unsafe consume(recording: $0) }
    }

    /// The symbols a recording names, upper-cased, in order of first appearance: `s` fields
    /// and combined-stream names that are UTF-8 (cold path: a plain byte search, no JSON parse).
    public static func symbols(in recording: [UInt8]) -> [String] {
        var seen: [String] = []
        func add(_ bytes: ArraySlice<UInt8>) {
            // Bytes that are not UTF-8 name no symbol (the message is a decode error).
            guard let symbol = String(validating: bytes.map { $0 &- 97 < 26 ? $0 &- 32 : $0 }, as: UTF8.self) else { return }
            if !symbol.isEmpty && !seen.contains(symbol) { seen.append(symbol) }
        }
        let sKey = Array("\"s\":\"".utf8)
        let streamKey = Array("\"stream\":\"".utf8)
        var i = 0
        while i < recording.count {
            if recording[i] == 0x22 {
                if recording[i...].starts(with: sKey) {
                    let from = i + sKey.count
                    var to = from
                    while to < recording.count && recording[to] != 0x22 { to += 1 }
                    add(recording[from..<to])
                    i = to
                } else if recording[i...].starts(with: streamKey) {
                    let from = i + streamKey.count
                    var to = from
                    while to < recording.count && recording[to] != 0x22 && recording[to] != 0x40 { to += 1 }
                    if to < recording.count && recording[to] == 0x40 && from < to && recording[from] != 0x21 {
                        add(recording[from..<to])
                    }
                    i = to
                }
            }
            i += 1
        }
        return seen
    }
}
