import CCurl
import CTicklineLinux
import Glibc
import Synchronization
import TicklineCore

/// How one REST snapshot request ended.
public enum SnapshotStatus: UInt8, Sendable, CaseIterable {
    /// HTTP 200 with a body (not yet parsed).
    case ok = 0
    /// The whole request took longer than `snapshot_timeout_ms`.
    case timedOut = 1
    /// Connect, send or receive failed (libcurl error other than a timeout).
    case transportFailed = 2
    /// An HTTP status other than 200 (`httpStatus` holds it).
    case httpError = 3
    /// The body was larger than `snapshot_max_bytes`.
    case bodyTooLarge = 4
}

/// A finished request, as the feed thread sees it. `body` is valid only during the
/// `SnapshotFetcher.poll` callback.
public struct SnapshotCompletion {
    public var symbolIndex: Int32
    /// The requester's tag (the book's generation), returned unchanged.
    public var generation: UInt32
    public var status: SnapshotStatus
    public var httpStatus: Int
    public var body: UnsafeRawBufferPointer
}

/// REST depth snapshots (`GET {rest_base}{market's depth path}?symbol=X&limit=N`) over libcurl on
/// a thread of its own, so the feed thread never waits on HTTP.
///
/// Hand-off: a few preallocated slots, each with its body buffer. A slot moves
/// free → requested (the feed thread wrote the request) → done (the fetcher wrote the
/// response) → free (the feed thread consumed it). Each transition is a release store of
/// the slot's state by the side that owned the slot, read with an acquire load by the
/// other, so the slot's plain fields change hands with it. The feed thread is the only
/// caller of `tryRequest` and `poll`; neither blocks nor allocates.
///
/// Thread-safe as described (one feed thread, one fetcher thread).
public final class SnapshotFetcher: @unchecked Sendable {
    // @unchecked: the slots' plain fields are handed over by the state atomics (see above).

    final class Slot: @unchecked Sendable {
        static let free = 0, requested = 1, done = 2
        let state = Atomic<Int>(0)
        var symbolIndex: Int32 = -1
        var generation: UInt32 = 0
        var status = SnapshotStatus.ok
        var httpStatus = 0
        let body: UnsafeMutableRawPointer
        let capacity: Int
        var count = 0
        var overflowed = false

        init(capacity: Int) {
            self.capacity = capacity
            body = .allocate(byteCount: capacity, alignment: 64)
        }

        deinit { body.deallocate() }
    }

    private let slots: [Slot]
    /// One URL per symbol index, built once (read by the fetcher thread only).
    private let urls: [[CChar]]
    private let timeoutMs: Int
    private let wake: UnsafeMutablePointer<sem_t>
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?
    /// Requests handed to the fetcher (feed thread's count).
    public private(set) var requested: UInt64 = 0
    /// Requests refused because every slot was busy.
    public private(set) var refusedBusy: UInt64 = 0

    /// - Parameters:
    ///   - restBase: e.g. `http://127.0.0.1:9443` (no trailing slash needed).
    ///   - venue: where the venue keeps its snapshots (`FeedVenue.snapshotPath`).
    ///   - symbols: venue symbols by table index (upper case as the venue wants them).
    ///   - limit: levels per side to ask for.
    ///   - parallel: slots (requests in flight at once).
    public init(restBase: String, venue: any FeedVenue = BinanceMarket.spot, symbols: [String], limit: Int, timeoutMs: Int,
                maxBodyBytes: Int, parallel: Int) {
        precondition(parallel >= 1 && maxBodyBytes > 0, "SnapshotFetcher: parallel \(parallel), maxBodyBytes \(maxBodyBytes)")
        var base = restBase
        while base.hasSuffix("/") { base.removeLast() }
        urls = symbols.map { Array("\(base)\(venue.snapshotPath(symbol: $0, limit: limit))".utf8CString) }
        slots = (0..<parallel).map { _ in Slot(capacity: maxBodyBytes) }
        self.timeoutMs = timeoutMs
        wake = .allocate(capacity: 1)
        sem_init(wake, 0, 0)
    }

    /// The URL asked for the snapshot of `symbolIndex`.
    public func url(symbolIndex: Int) -> String {
        urls[symbolIndex].withUnsafeBufferPointer { String(decoding: $0.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    deinit {
        stop()
        sem_destroy(wake)
        wake.deallocate()
    }

    /// Starts the fetcher thread (named `snapshots`). Cold path; idempotent.
    public func start() {
        guard thread == nil else { return }
        stopping.store(false, ordering: .relaxed)
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let fetcher = Unmanaged<SnapshotFetcher>.fromOpaque(raw!).takeRetainedValue()
            fetcher.run()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create for the snapshot fetcher failed: \(rc)")
        thread = handle
    }

    /// Stops and joins the fetcher thread (a transfer in progress ends within its timeout).
    public func stop() {
        guard let handle = thread else { return }
        stopping.store(true, ordering: .releasing)  // pairs with the acquiring load in run()
        sem_post(wake)
        pthread_join(handle, nil)
        thread = nil
    }

    /// Asks for the snapshot of `symbolIndex`. Feed thread only; never blocks.
    /// - Returns: false when every slot is busy (ask again later).
    public func tryRequest(symbolIndex: Int32, generation: UInt32) -> Bool {
        precondition(symbolIndex >= 0 && Int(symbolIndex) < urls.count, "snapshot request for symbol index \(symbolIndex) of \(urls.count)")
        for slot in slots where slot.state.load(ordering: .acquiring) == Slot.free {
            slot.symbolIndex = symbolIndex
            slot.generation = generation
            slot.state.store(Slot.requested, ordering: .releasing)  // pairs with the fetcher's acquiring load
            sem_post(wake)
            requested &+= 1
            return true
        }
        refusedBusy &+= 1
        return false
    }

    /// Hands every finished request to `body` and frees its slot. Feed thread only.
    /// - Returns: the number of completions handled.
    @discardableResult
    public func poll(_ handle: (SnapshotCompletion) -> Void) -> Int {
        var handled = 0
        for slot in slots where slot.state.load(ordering: .acquiring) == Slot.done {  // pairs with the fetcher's release
            handle(SnapshotCompletion(symbolIndex: slot.symbolIndex, generation: slot.generation, status: slot.status,
                                      httpStatus: slot.httpStatus,
                                      body: UnsafeRawBufferPointer(start: slot.body, count: slot.count)))
            slot.state.store(Slot.free, ordering: .releasing)  // pairs with tryRequest's acquiring load
            handled += 1
        }
        return handled
    }

    // MARK: - Fetcher thread

    private func run() {
        _ = tl_name_current_thread("snapshots")
        guard let curl = curl_easy_init() else {
            // No handle: fail every request as a transport failure rather than hang the books.
            while !stopping.load(ordering: .acquiring) {
                for slot in slots where slot.state.load(ordering: .acquiring) == Slot.requested {
                    finish(slot, .transportFailed, http: 0)
                }
                waitForWork()
            }
            return
        }
        defer { curl_easy_cleanup(curl) }
        _ = tl_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = tl_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, timeoutMs)
        _ = tl_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs)
        _ = tl_curl_setopt_long(curl, CURLOPT_TCP_NODELAY, 1)
        _ = tl_curl_setopt_str(curl, CURLOPT_ACCEPT_ENCODING, "")  // gzip when the server offers it
        while !stopping.load(ordering: .acquiring) {  // pairs with stop()'s release
            var did = false
            for slot in slots where slot.state.load(ordering: .acquiring) == Slot.requested {  // pairs with tryRequest
                fetch(slot, curl)
                did = true
            }
            if !did { waitForWork() }
        }
    }

    /// Sleeps until a request is posted (or 100 ms pass, to notice `stop`).
    private func waitForWork() {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_nsec += 100_000_000
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1
            deadline.tv_nsec -= 1_000_000_000
        }
        _ = sem_timedwait(wake, &deadline)
    }

    private func fetch(_ slot: Slot, _ curl: UnsafeMutableRawPointer) {
        slot.count = 0
        slot.overflowed = false
        let rc = urls[Int(slot.symbolIndex)].withUnsafeBufferPointer { url -> CURLcode in
            _ = tl_curl_setopt_str(curl, CURLOPT_URL, url.baseAddress)
            _ = tl_curl_setopt_write_callback(curl, { data, size, count, user in
                let slot = Unmanaged<Slot>.fromOpaque(user!).takeUnretainedValue()
                let bytes = size * count
                guard slot.count + bytes <= slot.capacity, let data else {
                    slot.overflowed = true
                    return 0  // libcurl aborts the transfer (CURLE_WRITE_ERROR)
                }
                (slot.body + slot.count).copyMemory(from: data, byteCount: bytes)
                slot.count += bytes
                return bytes
            }, Unmanaged.passUnretained(slot).toOpaque())
            return curl_easy_perform(curl)
        }
        var http = 0
        _ = tl_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &http)
        if slot.overflowed {
            finish(slot, .bodyTooLarge, http: http)
        } else if rc == CURLE_OPERATION_TIMEDOUT {
            finish(slot, .timedOut, http: http)
        } else if rc != CURLE_OK {
            finish(slot, .transportFailed, http: http)
        } else if http != 200 {
            finish(slot, .httpError, http: http)
        } else {
            finish(slot, .ok, http: http)
        }
    }

    private func finish(_ slot: Slot, _ status: SnapshotStatus, http: Int) {
        slot.status = status
        slot.httpStatus = http
        slot.state.store(Slot.done, ordering: .releasing)  // pairs with poll's acquiring load
    }
}
