/// What a `FeedCommand` asks of a feed.
public enum FeedCommandKind: UInt8, Sendable {
    case subscribe = 1
    case unsubscribe = 2
}

/// A run-time subscription change from the control plane to one feed agent (128 bytes),
/// carried by the `control.feed` ring: the hot path sees subscription changes only as these.
/// Producer: the control plane (one lock-holder at a time). Consumer: the feed stage.
///
/// The venue symbol is authoritative (the feed looks it up in its instrument table, which
/// does not allocate); `instrument` is the id the control plane resolved it to, checked
/// against the table so that a control plane and a feed built from different universes
/// refuse rather than subscribe the wrong instrument.
public struct FeedCommand: Sendable, BitwiseCopyable {
    /// The longest venue symbol a command carries (as long as `InstrumentTable.maxSymbolBytes`).
    public static let maxSymbolBytes = 64

    /// Chosen by the control plane; the feed counts refusals and remembers the last one by it.
    public var requestId: UInt64
    public var kindRaw: UInt8
    /// Index of the addressed feed in the engine's `feeds:` list.
    public var feed: UInt8
    public var symbolLength: UInt8
    public var reserved0: UInt8
    public var instrument: InstrumentId
    public var issuedWallNs: WallNanos
    public var reserved1: UInt64
    /// Venue symbol bytes (`symbolLength` valid, the rest 0).
    public var symbol: InlineArray<64, UInt8>
    public var reserved2: UInt64
    public var reserved3: UInt64
    public var reserved4: UInt64
    public var reserved5: UInt64

    /// A command for `symbol`; nil when the symbol is empty or longer than `maxSymbolBytes`
    /// (cold path: the control plane).
    public init?(kind: FeedCommandKind, feed: UInt8 = 0, symbol: String, instrument: InstrumentId,
                 requestId: UInt64 = 0, issuedWallNs: WallNanos = 0) {
        let bytes = Array(symbol.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxSymbolBytes else { return nil }
        self.requestId = requestId
        self.kindRaw = kind.rawValue
        self.feed = feed
        self.symbolLength = UInt8(bytes.count)
        self.reserved0 = 0
        self.instrument = instrument
        self.issuedWallNs = issuedWallNs
        self.reserved1 = 0
        self.symbol = InlineArray(repeating: 0)
        for i in 0..<bytes.count { self.symbol[i] = bytes[i] }
        self.reserved2 = 0
        self.reserved3 = 0
        self.reserved4 = 0
        self.reserved5 = 0
    }

    @inlinable public var kind: FeedCommandKind? { FeedCommandKind(rawValue: kindRaw) }

    /// The venue symbol as text (cold path).
    public var symbolText: String {
        var bytes: [UInt8] = []
        for i in 0..<min(Int(symbolLength), Self.maxSymbolBytes) { bytes.append(symbol[i]) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
