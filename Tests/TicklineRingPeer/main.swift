// A second process for the ring tests (two-process stress, consumer killed and
// restarted, a region left by a dead engine). Test tooling only: never shipped.
//
//   tickline-ring-peer produce --instance I --ring R --count N
//   tickline-ring-peer consume --instance I --ring R --until N --out FILE
//   tickline-ring-peer create-and-exit --instance I --ring R --count N
#if canImport(Glibc)
import Glibc
#endif
import TicklineCore
import TicklineRing

/// 64 bytes: the sequence, its complement (detects torn or corrupted slots), payload.
struct PeerMessage: BitwiseCopyable {
    var sequence: UInt64
    var check: UInt64
    var payload: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    init(_ s: UInt64) {
        sequence = s
        check = ~s
    }
}

func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = "tickline-ring-peer: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(status)
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let role = arguments.first else { fail("usage: produce|consume|create-and-exit ...") }
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: "--\(name)"), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
func required(_ name: String) -> String {
    guard let v = option(name) else { fail("--\(name) missing") }
    return v
}
func requiredCount(_ name: String) -> UInt64 {
    guard let v = UInt64(required(name)) else { fail("--\(name) must be a whole number") }
    return v
}
let instance = required("instance")
let ringName = option("ring") ?? "stress"
/// No test may spin forever: give up after this long without progress.
let stallLimitNs: Int64 = 60_000_000_000

switch role {
case "produce":
    let count = requiredCount("count")
    do {
        let region = try SharedRegion.attach(instance: instance)
        var producer = try region.producer(of: PeerMessage.self, ring: ringName)
        var next = producer.published
        var lastProgress = Clock.monotonic()
        while next < count {
            if producer.tryPush(PeerMessage(next)) {
                next += 1
                if next & 0xFFF == 0 { lastProgress = Clock.monotonic() }
            } else if Clock.monotonic() - lastProgress > stallLimitNs {
                fail("producer stalled at \(next)", status: 3)
            }
        }
    } catch { fail("\(error)") }

case "consume":
    // Consumes in batches; records each batch's range in FILE *before* releasing it, so a
    // kill between the two repeats a batch and never loses one.
    let until = requiredCount("until")
    let out = required("out")
    let fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if fd < 0 { fail("cannot open \(out)") }
    do {
        let region = try SharedRegion.attach(instance: instance)
        var consumer = try region.consumer(of: PeerMessage.self, ring: ringName)
        var expected = consumer.consumed
        var lastProgress = Clock.monotonic()
        while expected < until {
            let n = consumer.available(limit: 1024)
            if n == 0 {
                if Clock.monotonic() - lastProgress > stallLimitNs { fail("consumer stalled at \(expected)", status: 3) }
                continue
            }
            let first = expected
            var errors = 0
            for i in 0..<n {
                let m = consumer.peek(i).pointee
                if m.sequence != expected || m.check != ~m.sequence { errors += 1 }
                expected += 1
            }
            let line = "\(first) \(expected - 1) \(errors)\n"
            _ = line.withCString { write(fd, $0, strlen($0)) }
            consumer.advance(by: n)
            lastProgress = Clock.monotonic()
        }
        close(fd)
    } catch { fail("\(error)") }

case "create-and-exit":
    // Leaves a region with records behind, as a crashed engine would.
    let count = requiredCount("count")
    do {
        let (region, _) = try SharedRegion.create(instance: instance, rings: [
            .of(PeerMessage.self, name: ringName, capacity: 1024, overflow: .refuse)
        ], options: RegionOptions(lockMemory: false, hugePages: false))
        var producer = try region.producer(of: PeerMessage.self, ring: ringName)
        for s in 0..<count { producer.push(PeerMessage(s)) }
    } catch { fail("\(error)") }
    exit(0)

default:
    fail("unknown role \(role)")
}
