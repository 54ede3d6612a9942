import Foundation
import TicklineCore
import TicklineFeed
import TicklineRisk

/// A feed venue's instrument master: where the venue serves it (its REST path; a saved copy
/// is what `replay --instruments` reads) and how it reads into per-symbol specs (decimals,
/// tick, step, the venue's quantity and notional limits). Binance spot and USD-M futures
/// serve `exchangeInfo` (see `ExchangeInfo`). Cold path.
public protocol InstrumentMaster: Sendable {
    var instrumentMasterPath: String { get }
    /// The specs of every symbol in `data` (upper-case names); `ourLimits` gives our own max
    /// order quantity and position limit from a symbol's step, venue maximum and decimals.
    func instrumentSpecs(_ data: Data, source: String,
                         ourLimits: (_ stepUnits: Int64, _ venueMaxUnits: Int64, _ quantityDecimals: UInt8) -> (maxOrder: Int64, positionLimit: Int64))
        throws(ExchangeInfo.ReadError) -> [String: InstrumentRiskSpec]
}

extension BinanceMarket: InstrumentMaster {
    public var instrumentMasterPath: String { self == .spot ? "/api/v3/exchangeInfo" : "/fapi/v1/exchangeInfo" }

    public func instrumentSpecs(_ data: Data, source: String,
                                ourLimits: (_ stepUnits: Int64, _ venueMaxUnits: Int64, _ quantityDecimals: UInt8) -> (maxOrder: Int64, positionLimit: Int64))
        throws(ExchangeInfo.ReadError) -> [String: InstrumentRiskSpec] {
        try ExchangeInfo.specs(data, source: source, ourLimits: ourLimits)
    }
}

/// Instrument specs read from a Binance `exchangeInfo` body (`GET /api/v3/exchangeInfo` or
/// `/fapi/v1/exchangeInfo`, saved to a file). Per symbol:
/// - price decimals: those of `PRICE_FILTER.tickSize` (so the tick is one price unit);
/// - quantity decimals: `baseAssetPrecision` (8 when absent: the decimals Binance writes
///   quantities with), the step `LOT_SIZE.stepSize`, the venue's min and max quantity
///   `LOT_SIZE.minQty`/`maxQty`;
/// - the venue's min notional: `NOTIONAL.minNotional` or `MIN_NOTIONAL.minNotional`;
/// - our own max order quantity and position limit are not the venue's: `ourLimits` gives them
///   from the symbol's step and max quantity.
/// Cold path.
public enum ExchangeInfo {
    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The specs of every symbol in `data` (upper-case names).
    public static func specs(_ data: Data, source: String,
                             ourLimits: (_ stepUnits: Int64, _ venueMaxUnits: Int64, _ quantityDecimals: UInt8) -> (maxOrder: Int64, positionLimit: Int64))
        throws(ReadError) -> [String: InstrumentRiskSpec] {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let symbols = root["symbols"] as? [[String: Any]] else {
            throw ReadError(description: "\(source): not an exchangeInfo body (a JSON object with a \"symbols\" array)")
        }
        var out: [String: InstrumentRiskSpec] = [:]
        for entry in symbols {
            guard let name = entry["symbol"] as? String, !name.isEmpty else {
                throw ReadError(description: "\(source): a symbol entry without \"symbol\"")
            }
            func fail(_ why: String) -> ReadError { ReadError(description: "\(source): \(name): \(why)") }
            let filters = entry["filters"] as? [[String: Any]] ?? []
            func filter(_ type: String) -> [String: Any]? { filters.first { $0["filterType"] as? String == type } }
            guard let tick = filter("PRICE_FILTER")?["tickSize"] as? String else { throw fail("no PRICE_FILTER tickSize") }
            guard let lot = filter("LOT_SIZE"), let step = lot["stepSize"] as? String else { throw fail("no LOT_SIZE stepSize") }
            guard let pd = significantDecimals(tick) else { throw fail("tickSize '\(tick)' is not a decimal of at most \(DecimalScale.maxDecimals) decimals") }
            let precision = entry["baseAssetPrecision"] as? Int ?? 8
            guard let stepDecimals = significantDecimals(step), precision >= 0, precision <= Int(DecimalScale.maxDecimals) else {
                throw fail("stepSize '\(step)' or baseAssetPrecision \(precision) is out of range")
            }
            let qd = UInt8(max(precision, Int(stepDecimals)))
            func units(_ text: String?, _ decimals: UInt8) throws(ReadError) -> Int64? {
                guard let text else { return nil }
                guard let v = DecimalScale.parse(text, decimals: decimals), v >= 0 else {
                    throw fail("'\(text)' is not a non-negative decimal of at most \(decimals) decimals")
                }
                return v
            }
            guard let tickUnits = try units(tick, pd), tickUnits > 0, let stepUnits = try units(step, qd), stepUnits > 0 else {
                throw fail("tickSize and stepSize must be positive")
            }
            let minQty = try units(lot["minQty"] as? String, qd) ?? stepUnits
            let maxQty = try units(lot["maxQty"] as? String, qd).flatMap { $0 > 0 ? $0 : nil } ?? Int64.max
            let notional = filter("NOTIONAL") ?? filter("MIN_NOTIONAL")
            let minNotional = try units(notional?["minNotional"] as? String, MoneyScale.decimals) ?? 0
            let ours = ourLimits(stepUnits, maxQty, qd)
            out[name.uppercased()] = InstrumentRiskSpec(
                priceDecimals: pd, quantityDecimals: qd, tickSizeUnits: tickUnits, stepSizeUnits: stepUnits,
                venueMinQuantityUnits: max(minQty, 1), venueMaxQuantityUnits: maxQty, venueMinNotionalMoney: minNotional,
                maxOrderQuantityUnits: ours.maxOrder, positionLimitUnits: ours.positionLimit)
        }
        return out
    }

    /// The decimals a positive decimal text needs ("0.01000000" → 2, "1.00000000" → 0); nil
    /// when it is not a plain decimal or needs more than `DecimalScale.maxDecimals`.
    static func significantDecimals(_ text: String) -> UInt8? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let needed = fraction.reversed().drop { $0 == "0" }.count
        return needed <= Int(DecimalScale.maxDecimals) ? UInt8(needed) : nil
    }
}
