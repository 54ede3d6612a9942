import TicklineCore

// The one declaration of the shared-memory region's own layout (events are declared in
// TicklineCore/Events.swift). Offsets are explicit, never Swift's struct layout; every
// constant below feeds the layout hash, and `RegionLayoutTests` pins them.
//
// Region file (/dev/shm/tickline-<instance>):
//   [0, 4096)            region header
//   [4096, ...)          rings, each starting on a 4096-byte boundary:
//                          [0, 1024)  ring header (cache lines below, 128 bytes apart so
//                                     adjacent-line prefetch does not couple the two sides)
//                          [1024, …)  capacity × slotSize bytes of slots
enum RegionLayout {
    static let magic: UInt64 = 0x454E_494C_4B43_4954  // "TICKLINE" little-endian
    static let pageSize = 4096
    static let headerSize = 4096

    // Region header fields (byte offsets).
    static let magicOffset = 0                  // UInt64
    static let versionOffset = 8                // UInt32, written last with release: the "ready" flag
    static let ringCountOffset = 12             // UInt32
    static let layoutHashOffset = 16            // UInt64
    static let creatorPidOffset = 24            // Int32
    static let creatorStartTicksOffset = 32     // UInt64 (/proc/<pid>/stat field 22: tells pid reuse apart)
    static let startWallNsOffset = 40           // Int64
    static let regionSizeOffset = 48            // UInt64
    static let instanceNameOffset = 56          // 64 bytes, NUL-padded
    static let instanceNameBytes = 64
    static let directoryOffset = 128
    static let maxRings = 60
    static let directoryEntrySize = 64

    // Directory entry fields (byte offsets within an entry).
    static let entryNameOffset = 0              // 32 bytes, NUL-padded
    static let ringNameBytes = 32
    static let entryRingOffset = 32             // UInt64: ring start from region start
    static let entrySlotSizeOffset = 40         // UInt32
    static let entryCapacityOffset = 44         // UInt32
    static let entryPolicyOffset = 48           // UInt32 (OverflowPolicy raw)

    // Ring header lines (byte offsets from the ring start).
    static let ringHeaderSize = 1024
    static let ringDescriptorOffset = 0         // read-only after creation: slotSize, capacity, policy copies
    static let producerCursorOffset = 128       // UInt64 tail: records published (written by the producer only)
    static let producerCountersOffset = 256     // dropped UInt64, refused UInt64, producer pid Int32 (+8, +16)
    static let consumerCursorOffset = 384       // UInt64 head: records consumed (written by the consumer only)
    static let consumerCountersOffset = 512     // consumer pid Int32

    static let droppedOffset = producerCountersOffset
    static let refusedOffset = producerCountersOffset + 8
    static let producerPidOffset = producerCountersOffset + 16
    static let consumerPidOffset = consumerCountersOffset

    static var hashInputs: [(String, Int)] {
        [("magic", Int(truncatingIfNeeded: magic)), ("headerSize", headerSize), ("versionOffset", versionOffset),
         ("ringCountOffset", ringCountOffset), ("layoutHashOffset", layoutHashOffset),
         ("creatorPidOffset", creatorPidOffset), ("creatorStartTicksOffset", creatorStartTicksOffset),
         ("startWallNsOffset", startWallNsOffset), ("regionSizeOffset", regionSizeOffset),
         ("instanceNameOffset", instanceNameOffset), ("directoryOffset", directoryOffset), ("maxRings", maxRings),
         ("directoryEntrySize", directoryEntrySize), ("entryRingOffset", entryRingOffset),
         ("entrySlotSizeOffset", entrySlotSizeOffset), ("entryCapacityOffset", entryCapacityOffset),
         ("entryPolicyOffset", entryPolicyOffset), ("ringHeaderSize", ringHeaderSize),
         ("producerCursorOffset", producerCursorOffset), ("producerCountersOffset", producerCountersOffset),
         ("consumerCursorOffset", consumerCursorOffset), ("consumerCountersOffset", consumerCountersOffset)]
    }

    /// The hash stored in the header: event layouts and this region layout together.
    static let layoutHash: UInt64 = LayoutManifest.hash(extra: hashInputs)

    /// Bytes a ring occupies, rounded up to a page so the next ring starts page-aligned.
    static func ringBytes(slotSize: Int, capacity: Int) -> Int {
        let raw = ringHeaderSize + slotSize * capacity
        return (raw + pageSize - 1) / pageSize * pageSize
    }
}
