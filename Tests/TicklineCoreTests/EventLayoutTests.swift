import Testing
import TicklineCore

/// Layouts cross a process boundary (the writer maps the same memory): every size and
/// offset is pinned here. A change must bump LayoutManifest.version and these numbers.
@Suite struct EventLayoutTests {
    private func offsets(_ name: String) throws -> [String: Int] {
        let entry = try #require(LayoutManifest.entries.first { $0.name == name })
        return Dictionary(uniqueKeysWithValues: entry.fields.map { ($0.name, $0.offset) })
    }

    private func size(_ name: String) throws -> Int {
        try #require(LayoutManifest.entries.first { $0.name == name }).size
    }

    @Test func sizesArePinned() throws {
        #expect(MemoryLayout<TimestampChain>.size == 40)
        #expect(MemoryLayout<MarketEvent>.size == 136 && MemoryLayout<MarketEvent>.stride == 136)
        #expect(MemoryLayout<BookLevel>.size == 16)
        #expect(MemoryLayout<DepthSnapshot>.size == 384 && MemoryLayout<DepthSnapshot>.stride == 384)
        #expect(MemoryLayout<BarEvent>.size == 128)
        #expect(MemoryLayout<SignalEvent>.size == 192 && MemoryLayout<SignalEvent>.stride == 192)
        #expect(MemoryLayout<OrderEvent>.size == 192 && MemoryLayout<OrderEvent>.stride == 192)
        #expect(MemoryLayout<FillEvent>.size == 128)
        #expect(MemoryLayout<RiskEvent>.size == 128)
        #expect(MemoryLayout<TelemetryRecord>.size == 64)
        #expect(MemoryLayout<ControlCommand>.size == 128)
        for e in LayoutManifest.entries { #expect(e.fields.allSatisfy { $0.offset >= 0 }, "\(e.name)") }
    }

    @Test func marketEventOffsetsArePinned() throws {
        let o = try offsets("MarketEvent")
        #expect(o == ["sequence": 0, "instrument": 8, "kindRaw": 12, "flags": 13, "priceDecimals": 14, "quantityDecimals": 15,
                      "price": 16, "quantity": 24, "bidPrice": 32, "bidQuantity": 40, "askPrice": 48, "askQuantity": 56,
                      "venueSequence": 64, "venueTimeNs": 72, "receiveWallNs": 80, "timestamps": 88, "venue": 128])
    }

    @Test func timestampChainOffsetsArePinned() throws {
        #expect(try offsets("TimestampChain") == ["socketReadNs": 0, "decodedNs": 8, "signalNs": 16, "riskDecidedNs": 24, "orderSentNs": 32])
    }

    @Test func depthSnapshotOffsetsArePinned() throws {
        #expect(try offsets("DepthSnapshot") == ["sequence": 0, "instrument": 8, "bidLevels": 12, "askLevels": 13, "priceDecimals": 14,
                                                 "quantityDecimals": 15, "updateId": 16, "receiveWallNs": 24, "venueTimeNs": 32,
                                                 "socketReadNs": 40, "decodedNs": 48, "venue": 56, "bids": 64, "asks": 224])
    }

    @Test func barOffsetsArePinned() throws {
        #expect(try offsets("BarEvent") == ["sequence": 0, "instrument": 8, "kindRaw": 12, "priceDecimals": 13, "quantityDecimals": 14,
                                            "flags": 15, "startWallNs": 16, "endWallNs": 24, "open": 32, "high": 40, "low": 48,
                                            "close": 56, "volume": 64, "tradeCount": 72, "venue": 80])
    }

    @Test func signalOffsetsArePinned() throws {
        #expect(try offsets("SignalEvent") == ["sequence": 0, "instrument": 8, "strategy": 12, "sideRaw": 14, "sizingRaw": 15,
                                               "quantity": 16, "entryPrice": 24, "takeProfit": 32, "stopLoss": 40,
                                               "riskPartsPerMillion": 48, "confidenceBasisPoints": 52, "horizonRaw": 54,
                                               "priceDecimals": 55, "quantityDecimals": 56, "flags": 57, "venue": 58, "marketSequence": 64,
                                               "venueTimeNs": 72, "receiveWallNs": 80, "timestamps": 88,
                                               "trailingDistance": 128, "maxHoldNs": 136])
    }

    @Test func orderOffsetsArePinned() throws {
        #expect(try offsets("OrderEvent") == ["sequence": 0, "clientOrderId": 8, "instrument": 16, "strategy": 20, "sideRaw": 22,
                                              "typeRaw": 23, "price": 24, "quantity": 32, "takeProfit": 40, "stopLoss": 48,
                                              "signalSequence": 56, "timeInForceRaw": 64, "flags": 65, "priceDecimals": 66,
                                              "quantityDecimals": 67, "actionRaw": 68, "stageRaw": 69, "venue": 70, "receiveWallNs": 80,
                                              "timestamps": 88, "trailingDistance": 128, "maxHoldNs": 136])
    }

    @Test func fillOffsetsArePinned() throws {
        #expect(try offsets("FillEvent") == ["sequence": 0, "clientOrderId": 8, "instrument": 16, "strategy": 20, "sideRaw": 22,
                                             "liquidityRaw": 23, "price": 24, "quantity": 32, "fee": 40, "leavesQuantity": 48,
                                             "venueTradeId": 56, "statusRaw": 64, "flags": 65, "priceDecimals": 66,
                                             "quantityDecimals": 67, "stageRaw": 68, "venue": 70, "venueTimeNs": 72, "receiveWallNs": 80,
                                             "timestamps": 88])
    }

    @Test func riskEventOffsetsArePinned() throws {
        #expect(try offsets("RiskEvent") == ["sequence": 0, "kindRaw": 8, "scopeRaw": 9, "reason": 10, "instrument": 12,
                                             "strategy": 16, "fromStateRaw": 18, "toStateRaw": 19, "venue": 20, "referenceSequence": 24,
                                             "observed": 32, "limit": 40, "clientOrderId": 48, "venueTimeNs": 72,
                                             "receiveWallNs": 80, "timestamps": 88])
    }

    @Test func telemetryAndControlOffsetsArePinned() throws {
        #expect(try offsets("TelemetryRecord") == ["sequence": 0, "kindRaw": 8, "stage": 9, "metric": 10, "instrument": 12,
                                                   "value": 16, "wallNs": 24, "monotonicNs": 32])
        #expect(try offsets("ControlCommand") == ["sequence": 0, "kindRaw": 8, "scopeRaw": 9, "limitId": 10, "instrument": 12,
                                                  "strategy": 16, "symbolLength": 18, "value": 24, "issuedWallNs": 32, "symbol": 48])
    }

    @Test func feedCommandLayoutIsPinned() throws {
        #expect(MemoryLayout<FeedCommand>.size == 128 && MemoryLayout<FeedCommand>.stride == 128)
        #expect(try offsets("FeedCommand") == ["requestId": 0, "kindRaw": 8, "feed": 9, "symbolLength": 10, "instrument": 12, "issuedWallNs": 16, "symbol": 32])
        let command = try #require(FeedCommand(kind: .unsubscribe, feed: 3, symbol: "BTCUSDT", instrument: 7, requestId: 9))
        #expect(command.kind == .unsubscribe && command.feed == 3 && command.symbolText == "BTCUSDT" && command.requestId == 9)
        #expect(FeedCommand(kind: .subscribe, symbol: "", instrument: 0) == nil)
        #expect(FeedCommand(kind: .subscribe, symbol: String(repeating: "X", count: 65), instrument: 0) == nil)
    }

    @Test func layoutVersionIsPinned() {
        // Every event but telemetry and control commands names its venue.
        #expect(LayoutManifest.version == 5)
    }

    @Test func layoutHashChangesWithAnyInput() {
        let base = LayoutManifest.hash()
        #expect(base == LayoutManifest.hash())
        #expect(base != LayoutManifest.hash(extra: [("x", 1)]))
        #expect(LayoutManifest.hash(extra: [("x", 1)]) != LayoutManifest.hash(extra: [("x", 2)]))
    }

    @Test func enumsAreStoredAsRawBytesAndDecodeSafely() {
        var e = SignalEvent(side: .sell, sizing: .riskFraction, horizon: .intraday)
        #expect(e.sideRaw == 2 && e.side == .sell && e.sizing == .riskFraction && e.horizon == .intraday)
        e.sideRaw = 99  // a corrupt or newer record decodes to nil, never to a wrong case
        #expect(e.side == nil)
        #expect(MarketEvent(kind: .bookTop).kind == .bookTop)
    }

    @Test func everyInitialiserStoresTheVenueAndDefaultsToTheFirst() {
        #expect(MarketEvent(instrument: 4, venue: 3, kind: .quote).venue == 3 && MarketEvent().venue == 0)
        #expect(DepthSnapshot(instrument: 4, venue: 2).venue == 2 && DepthSnapshot().venue == 0)
        #expect(BarEvent(instrument: 4, venue: 5).venue == 5 && BarEvent().venue == 0)
        #expect(SignalEvent(instrument: 4, venue: 7).venue == 7 && SignalEvent().venue == 0)
        #expect(RiskEvent(instrument: 4, venue: 9).venue == 9 && RiskEvent().venue == 0)
        // The field is where the manifest says: a venue written through the layout reads back.
        var m = MarketEvent(venue: 0x1234)
        let read = withUnsafeBytes(of: &m) { $0.load(fromByteOffset: 128, as: UInt16.self) }
        #expect(read == 0x1234)
    }

    @Test func controlCommandCarriesASymbol() {
        var c = ControlCommand(kind: .flatten)
        let fits = c.setSymbol("BTCUSDT")
        #expect(fits)
        #expect(c.symbolText == "BTCUSDT")
        let tooLong = c.setSymbol(String(repeating: "X", count: 33))
        #expect(!tooLong)
        #expect(c.symbolText == "BTCUSDT")
    }
}
