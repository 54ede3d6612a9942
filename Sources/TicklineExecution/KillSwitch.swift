import TicklineCore
import TicklineRisk

/// The kill switch across risk and execution: halts trading (breakers and
/// pre-trade risk), cancels every open order in the order table, and optionally flattens
/// every position with reduce-only exits. Cold path (O(orders + instruments)); no allocation.
public enum KillSwitch {
    /// Engages the kill switch. Returns the `RiskEvent` to journal.
    /// - Parameters:
    ///   - sendCancel: each cancel request to journal and send to the venue.
    ///   - cancelled: orders that were never sent end at once; their canonical reports are
    ///     already applied to `risk` (open quantity released) and are passed on to journal.
    ///   - exit: with `flatten`, one reduce-only exit per open position (reason `killSwitch`), to pass through
    ///     `PreTradeRisk.decide` like any exit (halted lets reduce-only through). An exit
    ///     refused because our own cancel is still in flight on the other side (self-trade)
    ///     is retried by `ExitMonitor` after its retry time.
    public static func engage(breakers: inout CircuitBreakers, risk: inout PreTradeRisk, orders: inout OrderTable,
                              exits: inout ExitMonitor, flatten: Bool, wallNs: WallNanos, nowNs: MonotonicNanos,
                              sendCancel: (OrderEvent) -> Void, cancelled: (FillEvent) -> Void,
                              exit: (SignalEvent, ExitReason) -> Void) -> RiskEvent {
        let event = breakers.engageKillSwitch(equityMoney: risk.positions.equityMoney, wallNs: wallNs)
        risk.setGlobalState(.halted)
        orders.cancelAll(nowNs: nowNs, send: { request in
            var cancel = request
            risk.stamp(request: &cancel)  // a request of its own, after every order sent before it
            sendCancel(cancel)
        }) { report in
            risk.apply(fill: report)
            cancelled(report)
        }
        if flatten { exits.flattenAll(nowNs: wallNs) { signal, _ in exit(signal, .killSwitch) } }
        return event
    }
}
