import Testing
import TicklineControl
import TicklineCore
import TicklineEngine
import TicklineRisk

@Suite struct ControlCommandsTests {
    @Test func translatesRequestsToRiskCommandsAndRefusesBadLimits() throws {
        let halt = try #require(try ControlRequest.halt.riskCommands?.get())
        #expect(halt.count == 1 && halt[0].kind == .halt)
        let limits = try #require(try ControlRequest.setLimits(["max_order_notional": 2_500]).riskCommands?.get())
        #expect(limits.count == 1 && limits[0].kind == .setLimit)
        #expect(limits[0].limitId == RiskLimitCode.entry(key: "max_order_notional")!.code)
        #expect(limits[0].value == MoneyScale.money(2_500))
        guard case .failure(let unknown)? = ControlRequest.setLimits(["no_such_limit": 1]).riskCommands else {
            Issue.record("an unknown limit was accepted"); return
        }
        #expect(unknown.message.hasPrefix("unknown limit no_such_limit"))
        guard case .failure(let negative)? = ControlRequest.setLimits(["drawdown_pct": -1]).riskCommands else {
            Issue.record("a negative limit was accepted"); return
        }
        #expect(negative.message.contains("not a valid value for drawdown_pct"))
        #expect(ControlRequest.subscribe(["BTCUSDT"]).riskCommands == nil)
    }
}
