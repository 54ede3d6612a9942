/// The version and fingerprint of every layout that crosses a process boundary. The region
/// header stores both; a process built with other layouts refuses to attach.
public enum LayoutManifest {
    /// Bump on any change to an event or region layout.
    public static let version: UInt32 = 5

    /// One type's size and field offsets, as this binary lays them out.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let size: Int
        public let fields: [Field]
    }

    public struct Field: Sendable, Equatable {
        public let name: String
        public let offset: Int
    }

    /// Every event type with its fields, in declaration order.
    public static let entries: [Entry] = [
        entry(TimestampChain.self, [
            ("socketReadNs", \.socketReadNs), ("decodedNs", \.decodedNs), ("signalNs", \.signalNs),
            ("riskDecidedNs", \.riskDecidedNs), ("orderSentNs", \.orderSentNs),
        ]),
        entry(MarketEvent.self, [
            ("sequence", \.sequence), ("instrument", \.instrument), ("kindRaw", \.kindRaw), ("flags", \.flags),
            ("priceDecimals", \.priceDecimals), ("quantityDecimals", \.quantityDecimals), ("price", \.price),
            ("quantity", \.quantity), ("bidPrice", \.bidPrice), ("bidQuantity", \.bidQuantity),
            ("askPrice", \.askPrice), ("askQuantity", \.askQuantity), ("venueSequence", \.venueSequence),
            ("venueTimeNs", \.venueTimeNs), ("receiveWallNs", \.receiveWallNs), ("timestamps", \.timestamps),
            ("venue", \.venue),
        ]),
        entry(BookLevel.self, [("price", \.price), ("quantity", \.quantity)]),
        entry(DepthSnapshot.self, [
            ("sequence", \.sequence), ("instrument", \.instrument), ("bidLevels", \.bidLevels),
            ("askLevels", \.askLevels), ("priceDecimals", \.priceDecimals), ("quantityDecimals", \.quantityDecimals),
            ("updateId", \.updateId), ("receiveWallNs", \.receiveWallNs), ("venueTimeNs", \.venueTimeNs),
            ("socketReadNs", \.socketReadNs), ("decodedNs", \.decodedNs), ("venue", \.venue), ("bids", \.bids), ("asks", \.asks),
        ]),
        entry(BarEvent.self, [
            ("sequence", \.sequence), ("instrument", \.instrument), ("kindRaw", \.kindRaw),
            ("priceDecimals", \.priceDecimals), ("quantityDecimals", \.quantityDecimals), ("flags", \.flags),
            ("startWallNs", \.startWallNs), ("endWallNs", \.endWallNs), ("open", \.open), ("high", \.high),
            ("low", \.low), ("close", \.close), ("volume", \.volume), ("tradeCount", \.tradeCount), ("venue", \.venue),
        ]),
        entry(SignalEvent.self, [
            ("sequence", \.sequence), ("instrument", \.instrument), ("strategy", \.strategy), ("sideRaw", \.sideRaw),
            ("sizingRaw", \.sizingRaw), ("quantity", \.quantity), ("entryPrice", \.entryPrice),
            ("takeProfit", \.takeProfit), ("stopLoss", \.stopLoss), ("riskPartsPerMillion", \.riskPartsPerMillion),
            ("confidenceBasisPoints", \.confidenceBasisPoints), ("horizonRaw", \.horizonRaw),
            ("priceDecimals", \.priceDecimals), ("quantityDecimals", \.quantityDecimals), ("flags", \.flags),
            ("venue", \.venue), ("marketSequence", \.marketSequence), ("venueTimeNs", \.venueTimeNs),
            ("receiveWallNs", \.receiveWallNs), ("timestamps", \.timestamps), ("trailingDistance", \.trailingDistance),
            ("maxHoldNs", \.maxHoldNs),
        ]),
        entry(OrderEvent.self, [
            ("sequence", \.sequence), ("clientOrderId", \.clientOrderId), ("instrument", \.instrument),
            ("strategy", \.strategy), ("sideRaw", \.sideRaw), ("typeRaw", \.typeRaw), ("price", \.price),
            ("quantity", \.quantity), ("takeProfit", \.takeProfit), ("stopLoss", \.stopLoss),
            ("signalSequence", \.signalSequence), ("timeInForceRaw", \.timeInForceRaw), ("flags", \.flags),
            ("priceDecimals", \.priceDecimals), ("quantityDecimals", \.quantityDecimals), ("actionRaw", \.actionRaw),
            ("stageRaw", \.stageRaw), ("venue", \.venue), ("receiveWallNs", \.receiveWallNs), ("timestamps", \.timestamps),
            ("trailingDistance", \.trailingDistance), ("maxHoldNs", \.maxHoldNs),
        ]),
        entry(FillEvent.self, [
            ("sequence", \.sequence), ("clientOrderId", \.clientOrderId), ("instrument", \.instrument),
            ("strategy", \.strategy), ("sideRaw", \.sideRaw), ("liquidityRaw", \.liquidityRaw), ("price", \.price),
            ("quantity", \.quantity), ("fee", \.fee), ("leavesQuantity", \.leavesQuantity),
            ("venueTradeId", \.venueTradeId), ("statusRaw", \.statusRaw), ("flags", \.flags),
            ("priceDecimals", \.priceDecimals), ("quantityDecimals", \.quantityDecimals), ("stageRaw", \.stageRaw),
            ("venue", \.venue), ("venueTimeNs", \.venueTimeNs), ("receiveWallNs", \.receiveWallNs), ("timestamps", \.timestamps),
        ]),
        entry(RiskEvent.self, [
            ("sequence", \.sequence), ("kindRaw", \.kindRaw), ("scopeRaw", \.scopeRaw), ("reason", \.reason),
            ("instrument", \.instrument), ("strategy", \.strategy), ("fromStateRaw", \.fromStateRaw),
            ("toStateRaw", \.toStateRaw), ("venue", \.venue), ("referenceSequence", \.referenceSequence), ("observed", \.observed),
            ("limit", \.limit), ("clientOrderId", \.clientOrderId), ("venueTimeNs", \.venueTimeNs),
            ("receiveWallNs", \.receiveWallNs), ("timestamps", \.timestamps),
        ]),
        entry(TelemetryRecord.self, [
            ("sequence", \.sequence), ("kindRaw", \.kindRaw), ("stage", \.stage), ("metric", \.metric),
            ("instrument", \.instrument), ("value", \.value), ("wallNs", \.wallNs), ("monotonicNs", \.monotonicNs),
        ]),
        entry(ControlCommand.self, [
            ("sequence", \.sequence), ("kindRaw", \.kindRaw), ("scopeRaw", \.scopeRaw), ("limitId", \.limitId),
            ("instrument", \.instrument), ("strategy", \.strategy), ("symbolLength", \.symbolLength),
            ("value", \.value), ("issuedWallNs", \.issuedWallNs), ("symbol", \.symbol),
        ]),
        entry(FeedCommand.self, [
            ("requestId", \.requestId), ("kindRaw", \.kindRaw), ("feed", \.feed), ("symbolLength", \.symbolLength),
            ("instrument", \.instrument), ("issuedWallNs", \.issuedWallNs), ("symbol", \.symbol),
        ]),
    ]

    /// FNV-1a over the version, every entry's name, size and field offsets, and `extra`
    /// (the region module adds its header layout).
    public static func hash(extra: [(String, Int)] = []) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for b in text.utf8 {
                h ^= UInt64(b)
                h = h &* 0x0000_0100_0000_01b3
            }
        }
        mix("v\(version);")
        for e in entries {
            mix("\(e.name):\(e.size);")
            for f in e.fields { mix("\(f.name)@\(f.offset);") }
        }
        for (name, value) in extra { mix("\(name)=\(value);") }
        return h
    }

    private static func entry<T>(_ type: T.Type, _ fields: [(String, PartialKeyPath<T>)]) -> Entry {
        Entry(
            name: String(describing: type),
            size: MemoryLayout<T>.size,
            fields: fields.map { Field(name: $0.0, offset: MemoryLayout<T>.offset(of: $0.1) ?? -1) })
    }
}
