#if canImport(Glibc)
import Glibc
#endif
import Atomics
import CNuma
import CTicklineLinux
import TicklineCore

/// How to place and pin the region's memory. Every choice is best effort: what the host
/// refuses is reported in `RegionReport`, never fatal.
public struct RegionOptions: Sendable, Equatable {
    /// `mlock` the mapping so it is never paged out.
    public var lockMemory: Bool
    /// Ask for transparent huge pages on the mapping (`madvise(MADV_HUGEPAGE)`).
    public var hugePages: Bool
    /// NUMA node to bind the memory to; nil = the node of the CPU the creator runs on.
    /// Ignored on single-node hosts.
    public var numaNode: Int?

    public init(lockMemory: Bool = true, hugePages: Bool = true, numaNode: Int? = nil) {
        self.lockMemory = lockMemory
        self.hugePages = hugePages
        self.numaNode = numaNode
    }
}

/// What creating a region did on this host: each line says what was tried and what happened.
public struct RegionReport: Sendable {
    public var path: String
    public var bytes: Int
    public var memoryLock: String
    public var hugePages: String
    public var numa: String
    /// Where a region left by a dead engine was moved, if one was found.
    public var staleRegionMovedTo: String?

    public var lines: [String] {
        var out = ["region \(path): \(bytes) bytes", "mlock: \(memoryLock)", "huge pages: \(hugePages)", "numa: \(numa)"]
        if let stale = staleRegionMovedTo { out.append("stale region from a dead engine moved to \(stale) (not discarded)") }
        return out
    }
}

/// One engine instance's shared memory: a header, a directory of rings by name, the rings.
/// Created by the engine, attached by the writer and tools by instance name. The mapping
/// lives as long as this object and every ring handle made from it. Thread-safe to share;
/// each ring end is a `~Copyable` handle owned by one thread.
public final class SharedRegion: @unchecked Sendable {
    public let instance: String
    public let path: String
    public let size: Int
    let base: UnsafeMutableRawPointer
    let directory: [String: (spec: RingSpec, offset: Int)]
    public let ringNames: [String]
    /// True when this object created the region (and so owns its header).
    public let isCreator: Bool

    private init(instance: String, path: String, base: UnsafeMutableRawPointer, size: Int, isCreator: Bool) {
        self.instance = instance
        self.path = path
        self.base = base
        self.size = size
        self.isCreator = isCreator
        var dir: [String: (RingSpec, Int)] = [:]
        var names: [String] = []
        let count = Int(base.load(fromByteOffset: RegionLayout.ringCountOffset, as: UInt32.self))
        for i in 0..<min(count, RegionLayout.maxRings) {
            let entry = base + RegionLayout.directoryOffset + i * RegionLayout.directoryEntrySize
            let name = Self.readName(entry + RegionLayout.entryNameOffset, RegionLayout.ringNameBytes)
            let spec = RingSpec(
                name: name,
                slotSize: Int(entry.load(fromByteOffset: RegionLayout.entrySlotSizeOffset, as: UInt32.self)),
                capacity: Int(entry.load(fromByteOffset: RegionLayout.entryCapacityOffset, as: UInt32.self)),
                overflow: OverflowPolicy(rawValue: entry.load(fromByteOffset: RegionLayout.entryPolicyOffset, as: UInt32.self)) ?? .refuse)
            dir[name] = (spec, Int(entry.load(fromByteOffset: RegionLayout.entryRingOffset, as: UInt64.self)))
            names.append(name)
        }
        self.directory = dir
        self.ringNames = names
    }

    deinit {
        munmap(base, size)
    }

    /// The file backing an instance's region.
    public static func path(instance: String) -> String { "/dev/shm/tickline-\(instance)" }

    /// The creator's pid as recorded in the header.
    public var creatorPid: Int32 { base.load(fromByteOffset: RegionLayout.creatorPidOffset, as: Int32.self) }

    /// CLOCK_REALTIME ns when the region was created.
    public var startWallNs: Int64 { base.load(fromByteOffset: RegionLayout.startWallNsOffset, as: Int64.self) }

    /// Whether the process that created the region still runs (same pid and start time).
    public var creatorIsAlive: Bool {
        let ticks = base.load(fromByteOffset: RegionLayout.creatorStartTicksOffset, as: UInt64.self)
        return Self.isAlive(pid: creatorPid, startTicks: ticks)
    }

    /// The specs of every ring, in directory order.
    public var rings: [RingSpec] { ringNames.compactMap { directory[$0]?.spec } }

    // MARK: Create

    /// Creates the region for `instance` with `rings`, pre-faulted, and placed/locked as
    /// `options` ask (best effort, reported). A region of the same name left by a dead
    /// process is moved aside, never discarded; one owned by a live process is an error.
    public static func create(instance: String, rings: [RingSpec], options: RegionOptions = .init()) throws(RegionError) -> (SharedRegion, RegionReport) {
        try validate(instance: instance)
        try validate(rings: rings)
        let path = path(instance: instance)
        let staleMovedTo = try moveAsideIfStale(instance: instance, path: path)

        var offsets: [Int] = []
        var size = RegionLayout.headerSize
        for r in rings {
            offsets.append(size)
            size += RegionLayout.ringBytes(slotSize: r.slotSize, capacity: r.capacity)
        }

        let name = shmName(instance)
        let fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0o600)
        guard fd >= 0 else { throw .system(call: "shm_open", path: path, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            let e = errno
            shm_unlink(name)
            throw .system(call: "ftruncate", path: path, errno: e)
        }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            let e = errno
            shm_unlink(name)
            throw .system(call: "mmap", path: path, errno: e)
        }

        var report = RegionReport(path: path, bytes: size, memoryLock: "not requested", hugePages: "not requested",
                                  numa: "", staleRegionMovedTo: staleMovedTo)
        if options.hugePages { report.hugePages = adviseHugePages(mapped, size) }
        report.numa = placeOnNumaNode(mapped, size, requested: options.numaNode)
        // Pre-fault: write every page so no first-touch fault lands on the hot path.
        var page = 0
        while page < size {
            mapped.storeBytes(of: 0, toByteOffset: page, as: UInt64.self)
            page += RegionLayout.pageSize
        }
        if options.lockMemory {
            report.memoryLock = mlock(mapped, size) == 0 ? "locked" : "not locked: \(String(cString: strerror(errno))) (raise RLIMIT_MEMLOCK / LimitMEMLOCK)"
        }

        // Header and directory; the version is stored last (release) as the "ready" flag.
        mapped.storeBytes(of: RegionLayout.magic, toByteOffset: RegionLayout.magicOffset, as: UInt64.self)
        mapped.storeBytes(of: UInt32(rings.count), toByteOffset: RegionLayout.ringCountOffset, as: UInt32.self)
        mapped.storeBytes(of: RegionLayout.layoutHash, toByteOffset: RegionLayout.layoutHashOffset, as: UInt64.self)
        mapped.storeBytes(of: getpid(), toByteOffset: RegionLayout.creatorPidOffset, as: Int32.self)
        mapped.storeBytes(of: tl_process_start_ticks(getpid()), toByteOffset: RegionLayout.creatorStartTicksOffset, as: UInt64.self)
        mapped.storeBytes(of: Clock.wall().ns, toByteOffset: RegionLayout.startWallNsOffset, as: Int64.self)
        mapped.storeBytes(of: UInt64(size), toByteOffset: RegionLayout.regionSizeOffset, as: UInt64.self)
        writeName(instance, mapped + RegionLayout.instanceNameOffset, RegionLayout.instanceNameBytes)
        for (i, r) in rings.enumerated() {
            let entry = mapped + RegionLayout.directoryOffset + i * RegionLayout.directoryEntrySize
            writeName(r.name, entry + RegionLayout.entryNameOffset, RegionLayout.ringNameBytes)
            entry.storeBytes(of: UInt64(offsets[i]), toByteOffset: RegionLayout.entryRingOffset, as: UInt64.self)
            entry.storeBytes(of: UInt32(r.slotSize), toByteOffset: RegionLayout.entrySlotSizeOffset, as: UInt32.self)
            entry.storeBytes(of: UInt32(r.capacity), toByteOffset: RegionLayout.entryCapacityOffset, as: UInt32.self)
            entry.storeBytes(of: r.overflow.rawValue, toByteOffset: RegionLayout.entryPolicyOffset, as: UInt32.self)
            let descriptor = mapped + offsets[i] + RegionLayout.ringDescriptorOffset
            descriptor.storeBytes(of: UInt32(r.slotSize), toByteOffset: 0, as: UInt32.self)
            descriptor.storeBytes(of: UInt32(r.capacity), toByteOffset: 4, as: UInt32.self)
            descriptor.storeBytes(of: r.overflow.rawValue, toByteOffset: 8, as: UInt32.self)
        }
        versionAtomic(mapped).store(LayoutManifest.version, ordering: .releasing)  // pairs with attach's acquiring load

        return (SharedRegion(instance: instance, path: path, base: mapped, size: size, isCreator: true), report)
    }

    // MARK: Attach

    /// Maps an existing region by instance name and checks that it is ready and of this
    /// binary's layout. `prefault` maps every page up front (`MAP_POPULATE`) so a hot-path
    /// consumer never takes a page fault; a cold reader such as the writer passes false and
    /// starts at once instead of spending ~0.3 s on a 256 MiB region.
    public static func attach(instance: String, prefault: Bool = true) throws(RegionError) -> SharedRegion {
        try validate(instance: instance)
        let path = path(instance: instance)
        let fd = shm_open(shmName(instance), O_RDWR, 0)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .noSuchRegion(instance: instance, path: path) }
            throw .system(call: "shm_open", path: path, errno: e)
        }
        defer { close(fd) }
        return try map(fd: fd, instance: instance, path: path, prefault: prefault)
    }

    /// Maps a region file at any path (a stale region moved aside, for draining).
    public static func attach(path: String, prefault: Bool = true) throws(RegionError) -> SharedRegion {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .noSuchRegion(instance: path, path: path) }
            throw .system(call: "open", path: path, errno: e)
        }
        defer { close(fd) }
        return try map(fd: fd, instance: nil, path: path, prefault: prefault)
    }

    private static func map(fd: Int32, instance: String?, path: String, prefault: Bool) throws(RegionError) -> SharedRegion {
        let label = instance ?? path
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(call: "fstat", path: path, errno: errno) }
        let fileSize = Int(st.st_size)
        guard fileSize >= RegionLayout.headerSize else {
            throw .tooSmall(instance: label, size: fileSize, required: RegionLayout.headerSize)
        }
        guard let mapped = mmap(nil, fileSize, PROT_READ | PROT_WRITE, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0),
              mapped != MAP_FAILED else {
            throw .system(call: "mmap", path: path, errno: errno)
        }
        func fail(_ error: RegionError) -> RegionError {
            munmap(mapped, fileSize)
            return error
        }
        let magic = mapped.load(fromByteOffset: RegionLayout.magicOffset, as: UInt64.self)
        let version = versionAtomic(mapped).load(ordering: .acquiring)  // pairs with create's releasing store
        if version == 0 { throw fail(magic == 0 || magic == RegionLayout.magic ? .notReady(instance: label) : .badMagic(instance: label, found: magic)) }
        guard magic == RegionLayout.magic else { throw fail(.badMagic(instance: label, found: magic)) }
        guard version == LayoutManifest.version else {
            throw fail(.wrongLayoutVersion(instance: label, found: version, expected: LayoutManifest.version))
        }
        let hash = mapped.load(fromByteOffset: RegionLayout.layoutHashOffset, as: UInt64.self)
        guard hash == RegionLayout.layoutHash else {
            throw fail(.wrongLayoutHash(instance: label, found: hash, expected: RegionLayout.layoutHash))
        }
        let declared = Int(mapped.load(fromByteOffset: RegionLayout.regionSizeOffset, as: UInt64.self))
        guard declared <= fileSize else { throw fail(.tooSmall(instance: label, size: fileSize, required: declared)) }
        let name = instance ?? readName(mapped + RegionLayout.instanceNameOffset, RegionLayout.instanceNameBytes)
        return SharedRegion(instance: name, path: path, base: mapped, size: fileSize, isCreator: false)
    }

    // MARK: Ring ends

    /// The producing end of ring `name`, typed by its message. Fails if the ring is missing,
    /// its slots do not fit `Message` exactly, or another live process produces into it.
    public func producer<Message: BitwiseCopyable>(of _: Message.Type, ring name: String) throws(RegionError) -> RingProducer<Message> {
        let pointers = try ringPointers(name, messageSize: MemoryLayout<Message>.stride)
        try claimEnd(pointers.producerPid, ring: name, end: "producer")
        return RingProducer(region: self, ring: pointers, name: name)
    }

    /// The consuming end of ring `name` (see `producer`). Resumes at the stored cursor.
    public func consumer<Message: BitwiseCopyable>(of _: Message.Type, ring name: String) throws(RegionError) -> RingConsumer<Message> {
        let pointers = try ringPointers(name, messageSize: MemoryLayout<Message>.stride)
        try claimEnd(pointers.consumerPid, ring: name, end: "consumer")
        return RingConsumer(region: self, ring: pointers, name: name)
    }

    /// The counters of ring `name`, as any process sees them.
    public func stats(ring name: String) throws(RegionError) -> RingStats {
        let pointers = try ringPointers(name, messageSize: nil)
        return RingStats(
            name: name, capacity: Int(pointers.capacity), slotSize: pointers.slotSize, overflow: pointers.overflow,
            published: pointers.tail.load(ordering: .acquiring), consumed: pointers.head.load(ordering: .acquiring),
            dropped: pointers.dropped.load(ordering: .relaxed), refused: pointers.refused.load(ordering: .relaxed))
    }

    /// Removes the region's name (the memory stays mapped for those who hold it).
    public func unlink() { shm_unlink(Self.shmName(instance)) }

    /// Removes an instance's region by name, if present.
    public static func unlink(instance: String) { shm_unlink(shmName(instance)) }

    func ringPointers(_ name: String, messageSize: Int?) throws(RegionError) -> RingPointers {
        guard let (spec, offset) = directory[name] else {
            throw .noSuchRing(instance: instance, ring: name, available: ringNames)
        }
        if let messageSize, messageSize != spec.slotSize {
            throw .slotSizeMismatch(ring: name, ringSlotSize: spec.slotSize, messageSize: messageSize)
        }
        return RingPointers(ringBase: base + offset, slotSize: spec.slotSize, capacity: spec.capacity, overflow: spec.overflow)
    }

    /// Records this process as the owner of one end; refuses while a live handle holds it
    /// (in this process or another). A pid left by a dead process (a killed consumer) is
    /// taken over: that is how a restarted consumer resumes.
    private func claimEnd(_ owner: UnsafeAtomic<UInt64>, ring: String, end: String) throws(RegionError) {
        let me = UInt64(getpid())
        while true {
            let current = owner.load(ordering: .acquiring)
            if current != 0 && (current == me || kill(pid_t(current), 0) == 0) {
                throw .endInUse(ring: ring, end: end, pid: Int32(current))
            }
            if owner.compareExchange(expected: current, desired: me, ordering: .acquiringAndReleasing).exchanged { return }
        }
    }

    // MARK: Helpers

    static func shmName(_ instance: String) -> String { "/tickline-\(instance)" }

    static func versionAtomic(_ base: UnsafeMutableRawPointer) -> UnsafeAtomic<UInt32> {
        UnsafeAtomic(at: (base + RegionLayout.versionOffset).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    }

    /// Checks an instance name: 1-48 bytes of A-Z a-z 0-9 . _ -
    public static func validate(instance: String) throws(RegionError) {
        let ok = !instance.isEmpty && instance.utf8.count <= 48 && instance.utf8.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 46 || $0 == 95 || $0 == 45
        }
        if !ok { throw .invalidInstanceName(instance) }
    }

    static func validate(rings: [RingSpec]) throws(RegionError) {
        guard rings.count <= RegionLayout.maxRings else { throw .invalidRingSpec("\(rings.count) rings, at most \(RegionLayout.maxRings)") }
        var seen = Set<String>()
        for r in rings {
            guard !r.name.isEmpty, r.name.utf8.count < RegionLayout.ringNameBytes else {
                throw .invalidRingSpec("ring name '\(r.name)' must be 1-\(RegionLayout.ringNameBytes - 1) bytes")
            }
            guard seen.insert(r.name).inserted else { throw .invalidRingSpec("ring name '\(r.name)' appears twice") }
            guard r.capacity >= 2, r.capacity <= 1 << 30, r.capacity & (r.capacity - 1) == 0 else {
                throw .invalidRingSpec("ring '\(r.name)': capacity \(r.capacity) must be a power of two from 2 to 2^30")
            }
            guard r.slotSize >= 8, r.slotSize % 8 == 0, r.slotSize <= 1 << 16 else {
                throw .invalidRingSpec("ring '\(r.name)': slot size \(r.slotSize) must be a multiple of 8 from 8 to 65536 bytes")
            }
        }
    }

    static func isAlive(pid: Int32, startTicks: UInt64) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        // Same pid but another start time: the pid was recycled by an unrelated process.
        return startTicks == 0 || tl_process_start_ticks(pid) == startTicks
    }

    /// If a region of this name exists: an error when its creator lives, else renamed
    /// aside (returned) so its records are not lost.
    static func moveAsideIfStale(instance: String, path: String) throws(RegionError) -> String? {
        let fd = open(path, O_RDONLY)
        if fd < 0 { return nil }
        var st = stat()
        var pid: Int32 = 0
        var ticks: UInt64 = 0
        if fstat(fd, &st) == 0, Int(st.st_size) >= RegionLayout.headerSize,
           let header = mmap(nil, RegionLayout.headerSize, PROT_READ, MAP_SHARED, fd, 0), header != MAP_FAILED {
            if header.load(fromByteOffset: RegionLayout.magicOffset, as: UInt64.self) == RegionLayout.magic {
                pid = header.load(fromByteOffset: RegionLayout.creatorPidOffset, as: Int32.self)
                ticks = header.load(fromByteOffset: RegionLayout.creatorStartTicksOffset, as: UInt64.self)
            }
            munmap(header, RegionLayout.headerSize)
        }
        close(fd)
        if isAlive(pid: pid, startTicks: ticks) { throw .ownedByLiveProcess(instance: instance, pid: pid) }
        let aside = "\(path).stale-\(pid)-\(Clock.wall().ns / 1_000_000_000)"
        guard rename(path, aside) == 0 else { throw .system(call: "rename", path: path, errno: errno) }
        return aside
    }

    /// Stale regions of `instance` moved aside by earlier `create` calls, oldest first.
    public static func staleRegions(instance: String) -> [String] {
        guard let dir = opendir("/dev/shm") else { return [] }
        defer { closedir(dir) }
        let prefix = "tickline-\(instance).stale-"
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefix) { found.append("/dev/shm/\(name)") }
        }
        return found.sorted()
    }

    static func adviseHugePages(_ p: UnsafeMutableRawPointer, _ size: Int) -> String {
        // The file lists every mode with the active one in brackets: "always advise [never] ...".
        let modes = readSysfs("/sys/kernel/mm/transparent_hugepage/shmem_enabled") ?? "[unknown]"
        let setting = modes.split(separator: " ").first { $0.hasPrefix("[") }.map(String.init) ?? modes
        guard madvise(p, size, MADV_HUGEPAGE) == 0 else {
            return "not available: madvise(MADV_HUGEPAGE) failed: \(String(cString: strerror(errno))); normal pages"
        }
        if setting.contains("[never]") || setting.contains("[deny]") {
            return "requested, but transparent_hugepage/shmem_enabled is \(setting): normal pages (echo advise > it)"
        }
        return "requested (MADV_HUGEPAGE, shmem_enabled \(setting))"
    }

    static func placeOnNumaNode(_ p: UnsafeMutableRawPointer, _ size: Int, requested: Int?) -> String {
        guard numa_available() >= 0 else { return "libnuma reports NUMA unavailable: default placement" }
        let maxNode = Int(numa_max_node())
        if maxNode == 0 { return "1 node: no placement needed" }
        let node = requested ?? Int(numa_node_of_cpu(tl_current_cpu()))
        guard node >= 0 && node <= maxNode else { return "node \(node) does not exist (0-\(maxNode)): default placement" }
        numa_tonode_memory(p, size, Int32(node))
        return "bound to node \(node) of \(maxNode + 1)"
    }

    static func readSysfs(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 256)
        guard fgets(&buf, 256, f) != nil else { return nil }
        let bytes = buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func writeName(_ name: String, _ p: UnsafeMutableRawPointer, _ capacity: Int) {
        let bytes = Array(name.utf8.prefix(capacity - 1))
        for i in 0..<capacity { p.storeBytes(of: i < bytes.count ? bytes[i] : 0, toByteOffset: i, as: UInt8.self) }
    }

    static func readName(_ p: UnsafeMutableRawPointer, _ capacity: Int) -> String {
        var bytes: [UInt8] = []
        for i in 0..<capacity {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            if b == 0 { break }
            bytes.append(b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
