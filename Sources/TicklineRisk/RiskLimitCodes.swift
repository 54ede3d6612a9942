/// The account-wide limits by name, as the config file, the control API (`PUT /api/limits`)
/// and `ControlCommand.limitId` name them, with the unit each is given in by people
/// (money in currency, percentages, milliseconds) and kept in internally. One table so the
/// three never disagree.
public enum RiskLimitCode {
    public enum Unit: Sendable {
        /// Currency amount → money units (1e-8).
        case money
        /// Percent → parts per million.
        case percentPpm
        /// Percent → basis points.
        case percentBps
        /// Milliseconds → ns.
        case milliseconds
        /// A plain count.
        case count
        /// A ratio (e.g. 1.5) → ×1000.
        case ratioMilli
    }

    public struct Entry: Sendable {
        public let code: UInt16
        public let key: String
        public let unit: Unit
    }

    public static let entries: [Entry] = [
        .init(code: 1, key: "starting_capital", unit: .money),
        .init(code: 2, key: "price_collar_pct", unit: .percentBps),
        .init(code: 3, key: "max_reference_age_ms", unit: .milliseconds),
        .init(code: 4, key: "max_order_notional", unit: .money),
        .init(code: 5, key: "max_gross_exposure", unit: .money),
        .init(code: 6, key: "max_net_exposure", unit: .money),
        .init(code: 7, key: "max_open_intraday_positions", unit: .count),
        .init(code: 8, key: "max_open_swing_positions", unit: .count),
        .init(code: 9, key: "submit_burst", unit: .count),
        .init(code: 10, key: "submit_per_second", unit: .count),
        .init(code: 11, key: "strategy_budget", unit: .money),
        .init(code: 12, key: "risk_per_trade_pct", unit: .percentPpm),
        .init(code: 13, key: "min_reward_risk", unit: .ratioMilli),
        .init(code: 14, key: "daily_loss_pct", unit: .percentPpm),
        .init(code: 15, key: "weekly_loss_pct", unit: .percentPpm),
        .init(code: 16, key: "drawdown_pct", unit: .percentPpm),
        .init(code: 17, key: "exit_submit_burst", unit: .count),
        .init(code: 18, key: "exit_submit_per_second", unit: .count),
        .init(code: 19, key: "monthly_loss_pct", unit: .percentPpm),
    ]

    /// The limit `code` in internal units (nil for an unknown code).
    public static func value(_ code: UInt16, in l: RiskLimits) -> Int64? {
        switch code {
        case 1: l.startingCapitalMoney
        case 2: l.priceCollarBasisPoints
        case 3: l.maxReferencePriceAgeNs
        case 4: l.maxOrderNotionalMoney
        case 5: l.maxGrossExposureMoney
        case 6: l.maxNetExposureMoney
        case 7: Int64(l.maxOpenIntradayPositions)
        case 8: Int64(l.maxOpenSwingPositions)
        case 9: l.submitBurst
        case 10: l.submitPerSecond
        case 11: l.strategyBudgetMoney
        case 12: l.riskPartsPerMillion
        case 13: l.minRewardRiskMilli
        case 14: l.dailyLossPartsPerMillion
        case 15: l.weeklyLossPartsPerMillion
        case 16: l.drawdownPartsPerMillion
        case 17: l.exitSubmitBurst
        case 18: l.exitSubmitPerSecond
        case 19: l.monthlyLossPartsPerMillion
        default: nil
        }
    }

    public static func entry(key: String) -> Entry? { entries.first { $0.key == key } }

    /// A person's value (e.g. 2500 for a money limit, 3 for 3 %) in internal units; nil when
    /// negative, not finite or too large.
    public static func internalValue(_ value: Double, unit: Unit) -> Int64? {
        guard value.isFinite, value >= 0 else { return nil }
        let scaled: Double
        switch unit {
        case .money: scaled = value * Double(MoneyScale.one)
        case .percentPpm: scaled = value * 10_000
        case .percentBps: scaled = value * 100
        case .milliseconds: scaled = value * 1_000_000
        case .count: scaled = value
        case .ratioMilli: scaled = value * 1_000
        }
        guard scaled < 9.2e18 else { return nil }
        return Int64(scaled.rounded())
    }

    /// The internal value back in a person's unit.
    public static func personValue(_ value: Int64, unit: Unit) -> Double {
        switch unit {
        case .money: Double(value) / Double(MoneyScale.one)
        case .percentPpm: Double(value) / 10_000
        case .percentBps: Double(value) / 100
        case .milliseconds: Double(value) / 1_000_000
        case .count: Double(value)
        case .ratioMilli: Double(value) / 1_000
        }
    }

    /// Sets limit `code` to `value` (internal units). False for an unknown code.
    public static func apply(_ code: UInt16, value v: Int64, to l: inout RiskLimits) -> Bool {
        switch code {
        case 1: l.startingCapitalMoney = v
        case 2: l.priceCollarBasisPoints = v
        case 3: l.maxReferencePriceAgeNs = v
        case 4: l.maxOrderNotionalMoney = v
        case 5: l.maxGrossExposureMoney = v
        case 6: l.maxNetExposureMoney = v
        case 7: l.maxOpenIntradayPositions = Int(v)
        case 8: l.maxOpenSwingPositions = Int(v)
        case 9: l.submitBurst = v
        case 10: l.submitPerSecond = v
        case 11: l.strategyBudgetMoney = v
        case 12: l.riskPartsPerMillion = v
        case 13: l.minRewardRiskMilli = v
        case 14: l.dailyLossPartsPerMillion = v
        case 15: l.weeklyLossPartsPerMillion = v
        case 16: l.drawdownPartsPerMillion = v
        case 17: l.exitSubmitBurst = v
        case 18: l.exitSubmitPerSecond = v
        case 19: l.monthlyLossPartsPerMillion = v
        default: return false
        }
        return true
    }

    /// Every limit by key, in people's units (the control plane's `GET /api/limits`).
    public static func describe(_ limits: RiskLimits) -> [String: Double] {
        var out: [String: Double] = [:]
        for e in entries { out[e.key] = personValue(value(e.code, in: limits) ?? 0, unit: e.unit) }
        return out
    }
}
