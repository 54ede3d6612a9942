#if canImport(Glibc)
import Glibc
#endif
import TicklineRing

/// A region with a unique instance name, unlinked when the test is done with it.
final class TestRegion {
    private static let counter = Counter()
    let instance: String
    let region: SharedRegion

    init(_ rings: [RingSpec], tag: String = #function) throws {
        let cleanTag = String(tag.prefix { $0.isLetter || $0.isNumber }.prefix(16))
        instance = "t-\(getpid())-\(Self.counter.next())-\(cleanTag)"
        (region, _) = try SharedRegion.create(instance: instance, rings: rings, options: RegionOptions(lockMemory: false, hugePages: false))
    }

    deinit { SharedRegion.unlink(instance: instance) }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func next() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        value += 1
        return value
    }
}

/// 64-byte test message: a sequence and its complement (torn/corrupt slot detection).
struct Probe: BitwiseCopyable, Equatable {
    var sequence: UInt64
    var check: UInt64
    var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    init(_ s: UInt64) {
        sequence = s
        check = ~s
    }
    var isIntact: Bool { check == ~sequence }
    static func == (a: Probe, b: Probe) -> Bool { a.sequence == b.sequence && a.check == b.check }
}
