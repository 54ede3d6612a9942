#if canImport(Glibc)
import Glibc
#endif

/// Why a region or ring could not be created or attached. Every case names what is wrong.
public enum RegionError: Error, Equatable, CustomStringConvertible {
    case invalidInstanceName(String)
    case invalidRingSpec(String)
    case noSuchRegion(instance: String, path: String)
    case ownedByLiveProcess(instance: String, pid: Int32)
    case notReady(instance: String)
    case badMagic(instance: String, found: UInt64)
    case wrongLayoutVersion(instance: String, found: UInt32, expected: UInt32)
    case wrongLayoutHash(instance: String, found: UInt64, expected: UInt64)
    case tooSmall(instance: String, size: Int, required: Int)
    case noSuchRing(instance: String, ring: String, available: [String])
    case slotSizeMismatch(ring: String, ringSlotSize: Int, messageSize: Int)
    case endInUse(ring: String, end: String, pid: Int32)
    case system(call: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidInstanceName(let name):
            return "invalid instance name '\(name)': use 1-48 characters of A-Z a-z 0-9 . _ -"
        case .invalidRingSpec(let why):
            return "invalid ring: \(why)"
        case .noSuchRegion(let instance, let path):
            return "no shared-memory region for instance '\(instance)' (\(path) does not exist): is the engine running?"
        case .ownedByLiveProcess(let instance, let pid):
            return "region for instance '\(instance)' is owned by live process \(pid): stop it or pick another instance name"
        case .notReady(let instance):
            return "region for instance '\(instance)' is not initialised (its creator has not finished, or died while creating it)"
        case .badMagic(let instance, let found):
            return "region for instance '\(instance)' is not a Tickline region (magic 0x\(String(found, radix: 16)))"
        case .wrongLayoutVersion(let instance, let found, let expected):
            return "region for instance '\(instance)' has layout version \(found), this binary speaks version \(expected): run matching builds"
        case .wrongLayoutHash(let instance, let found, let expected):
            return "region for instance '\(instance)' has layout hash 0x\(String(found, radix: 16)), this binary expects 0x\(String(expected, radix: 16)): run matching builds"
        case .tooSmall(let instance, let size, let required):
            return "region for instance '\(instance)' is too small: \(size) bytes, at least \(required) needed"
        case .noSuchRing(let instance, let ring, let available):
            return "region for instance '\(instance)' has no ring '\(ring)' (it has: \(available.joined(separator: ", ")))"
        case .slotSizeMismatch(let ring, let ringSlotSize, let messageSize):
            return "ring '\(ring)' has \(ringSlotSize)-byte slots but the message type takes \(messageSize) bytes"
        case .endInUse(let ring, let end, let pid):
            return "ring '\(ring)' already has a live \(end) (pid \(pid))"
        case .system(let call, let path, let errno):
            return "\(call)(\(path)) failed: \(String(cString: strerror(errno))) (errno \(errno))"
        }
    }
}
