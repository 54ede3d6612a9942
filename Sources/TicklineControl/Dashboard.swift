/// The dashboard page served at `/`: no external scripts or fonts (servers often have no
/// internet). It reads `?token=` from its own URL, subscribes to `/api/stream` (server-sent
/// events) and redraws on every snapshot: equity curve, PnL, positions, recent signals,
/// trades and denials, PnL and fees per strategy, the last round trips, risk utilisation
/// against limits, latency percentiles. Its command bar posts to the control API with the
/// same token: global halt/resume, the kill switch (after a confirmation; a resume while it
/// is latched asks for a second one and sends `{"confirm":"kill"}`), and halt/resume of one
/// strategy (by id) or one symbol (by name). Each reply is shown as the API gave it.
/// `body[data-updates]` counts the snapshots drawn (the browser test waits on it).
enum Dashboard {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tickline</title>
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; background: #0f1419; color: #d8dee9; }
  h1 { font-size: 18px; margin: 0 0 8px; }
  h2 { font-size: 14px; margin: 14px 0 6px; color: #88c0d0; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  .card { background: #1b2129; border-radius: 6px; padding: 10px 12px; }
  .kpis { display: flex; gap: 18px; flex-wrap: wrap; }
  .kpi b { display: block; font-size: 20px; color: #eceff4; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: 2px 6px; border-bottom: 1px solid #2e3440; white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; }
  .buy { color: #a3be8c; } .sell { color: #bf616a; }
  .bar { height: 10px; background: #2e3440; border-radius: 3px; overflow: hidden; }
  .bar > div { height: 100%; background: #5e81ac; }
  .bar > div.hot { background: #d08770; }
  #status { float: right; color: #a3be8c; }
  canvas { width: 100%; height: 220px; }
  .commands { margin: 8px 0; display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
  .commands button { background: #2e3440; color: #eceff4; border: 1px solid #4c566a; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
  .commands button.kill { background: #bf616a; border-color: #bf616a; font-weight: bold; }
  .commands input { width: 110px; background: #1b2129; color: #eceff4; border: 1px solid #4c566a; padding: 2px 4px; }
  #kill-latched { color: #bf616a; font-weight: bold; }
</style>
</head>
<body data-updates="0">
<h1>Tickline <span id="instance"></span> <span id="status">connecting…</span></h1>
<div class="card kpis">
  <div class="kpi">state<b id="state">–</b></div>
  <div class="kpi">breakers<b id="breakers">–</b></div>
  <div class="kpi">equity<b id="equity">–</b></div>
  <div class="kpi">realised PnL<b id="realised">–</b></div>
  <div class="kpi">unrealised PnL<b id="unrealised">–</b></div>
  <div class="kpi">drawdown<b id="drawdown">–</b></div>
  <div class="kpi">events/s<b id="eps">–</b></div>
  <div class="kpi">signals / orders / fills / denials<b id="counts">–</b></div>
</div>
<div class="card commands">
  <button id="halt" onclick="command('halt')">halt</button>
  <button id="resume" onclick="resume()">resume</button>
  <button id="kill" class="kill" onclick="killSwitch()">KILL</button>
  <span id="kill-latched"></span>
  <span>strategy id <input id="strategyId" type="number" min="0"></span>
  <button onclick="scoped('halt', 'strategy')">halt strategy</button>
  <button onclick="scoped('resume', 'strategy')">resume strategy</button>
  <span>symbol <input id="symbolName" type="text" placeholder="BTCUSDT"></span>
  <button onclick="scoped('halt', 'symbol')">halt symbol</button>
  <button onclick="scoped('resume', 'symbol')">resume symbol</button>
  <span id="reply"></span>
</div>
<div class="grid">
  <div class="card"><h2>Equity</h2><canvas id="equityChart" width="800" height="220"></canvas></div>
  <div class="card"><h2>Latency (µs)</h2><table id="latency"></table>
    <h2>Risk utilisation</h2><div id="utilisation"></div></div>
  <div class="card"><h2>Strategies (PnL net = realised + unrealised − fees)</h2><table id="strategies"></table></div>
  <div class="card"><h2>Last round trips <span id="tripCount"></span></h2><table id="roundTrips"></table></div>
  <div class="card"><h2>Positions</h2><table id="positions"></table></div>
  <div class="card"><h2>Open orders</h2><table id="orders"></table></div>
  <div class="card"><h2>Recent signals</h2><table id="signals"></table></div>
  <div class="card"><h2>Recent trades</h2><table id="trades"></table>
    <h2>Recent denials</h2><table id="denials"></table></div>
</div>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const maxEvents = params.get("max");  // passed to the stream: it ends after that many (headless tests)
const fmt = (v, d = 2) => Number(v).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const esc = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const time = ns => new Date(ns / 1e6).toISOString().substring(11, 23);
function table(id, head, rows) {
  document.getElementById(id).innerHTML =
    "<tr>" + head.map(h => "<th>" + h + "</th>").join("") + "</tr>" +
    rows.map(r => "<tr>" + r.map(c => "<td>" + c + "</td>").join("") + "</tr>").join("");
}
let killLatched = false;
async function command(path, body) {
  const reply = document.getElementById("reply");
  try {
    const r = await fetch("/api/" + path, { method: "POST", headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
                                             body: body ? JSON.stringify(body) : "" });
    const j = await r.json().catch(() => ({ message: r.statusText }));
    reply.textContent = path + ": " + r.status + " " + (j.message || "") + (j.state ? " (" + j.state + ")" : "");
  } catch (e) { reply.textContent = path + ": " + e; }
}
function killSwitch() {
  if (confirm("Kill switch: halt, cancel every open order and flatten (when flatten_on_kill). Only a confirmed resume lifts it. Engage?")) command("kill");
}
function resume() {
  if (!killLatched) { command("resume"); return; }
  if (confirm("The kill switch is engaged. Resume trading and lift it?")) command("resume", { confirm: "kill" });
}
function scoped(path, kind) {
  const v = document.getElementById(kind === "strategy" ? "strategyId" : "symbolName").value.trim();
  if (!v) { document.getElementById("reply").textContent = "enter a " + kind; return; }
  command(path, kind === "strategy" ? { strategy: Number(v) } : { symbol: v });
}
const side = s => '<span class="' + esc(s) + '">' + esc(s) + "</span>";
function drawEquity(points) {
  const c = document.getElementById("equityChart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (points.length < 2) { g.fillStyle = "#4c566a"; g.fillText("waiting for equity samples", 10, 20); return; }
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const X = x => 50 + (c.width - 60) * (x - x0) / Math.max(x1 - x0, 1);
  const Y = y => c.height - 20 - (c.height - 30) * (y - y0) / Math.max(y1 - y0, 1e-9);
  g.strokeStyle = "#2e3440"; g.fillStyle = "#81a1c1";
  g.fillText(fmt(y1), 2, 14); g.fillText(fmt(y0), 2, c.height - 22);
  g.beginPath(); g.strokeStyle = "#88c0d0"; g.lineWidth = 2;
  points.forEach((p, i) => i ? g.lineTo(X(p[0]), Y(p[1])) : g.moveTo(X(p[0]), Y(p[1])));
  g.stroke();
}
function render(s) {
  document.getElementById("instance").textContent = s.instance;
  document.getElementById("state").textContent = s.tradingState;
  const b = s.breakers || {};
  const breakers = document.getElementById("breakers");
  breakers.textContent = b.state ? b.state + (b.cause ? " (" + b.cause + ")" : "") : "–";
  breakers.title = b.state ? "from " + fmt(b.dayStartEquity) + " on " + b.day + ", " + fmt(b.weekStartEquity) + " the week of " + b.week
    + ", " + fmt(b.monthStartEquity) + " in " + b.month + "; drawdown peak " + fmt(b.drawdownPeakEquity) : "";
  killLatched = !!s.killSwitchEngaged;
  document.getElementById("kill-latched").textContent = killLatched ? "kill switch engaged" : "";
  document.getElementById("equity").textContent = fmt(s.equity);
  document.getElementById("realised").textContent = fmt(s.realisedPnl);
  document.getElementById("unrealised").textContent = fmt(s.unrealisedPnl);
  document.getElementById("drawdown").textContent = fmt(100 * s.drawdown) + " %";
  document.getElementById("eps").textContent = fmt(s.eventsPerSecond, 0);
  document.getElementById("counts").textContent = [s.signals, s.orders, s.fills, s.denials].join(" / ");
  drawEquity(s.equityCurve);
  table("latency", ["stage", "count", "p50", "p99", "p99.9", "max"],
        s.latency.map(l => [esc(l.stage), l.count, fmt(l.p50 / 1e3, 1), fmt(l.p99 / 1e3, 1), fmt(l.p999 / 1e3, 1), fmt(l.max / 1e3, 1)]));
  document.getElementById("utilisation").innerHTML = s.utilisation.map(u => {
    const pct = u.limit > 0 ? Math.min(100, 100 * Math.abs(u.used) / u.limit) : 0;
    return "<div>" + esc(u.name) + " " + fmt(u.used) + " / " + fmt(u.limit) +
      '<div class="bar"><div class="' + (pct > 80 ? "hot" : "") + '" style="width:' + pct + '%"></div></div></div>';
  }).join("");
  table("strategies", ["strategy", "round trips", "realised", "unrealised", "fees", "net"],
        s.strategies.map(t => [esc(t.strategy), t.trades, fmt(t.realisedPnl), fmt(t.unrealisedPnl), fmt(t.fees), fmt(t.netPnl)]));
  document.getElementById("tripCount").textContent = "(" + s.roundTripsClosed + " closed)";
  table("roundTrips", ["exit", "symbol", "strategy", "side", "qty", "entry", "exit price", "fees", "net"],
        s.recentRoundTrips.slice(-10).reverse().map(t => [time(t.exit_ns), esc(t.symbol), esc(t.strategy), esc(t.side), fmt(t.qty, 4),
                                                          fmt(t.entry_price), fmt(t.exit_price), fmt(t.fees, 4), fmt(t.net_pnl, 4)]));
  table("positions", ["symbol", "strategy", "qty", "avg", "mark", "realised", "unrealised", "at risk"],
        s.positions.map(p => [esc(p.symbol), esc(p.strategy), fmt(p.quantity, 4), fmt(p.averagePrice), fmt(p.markPrice),
                              fmt(p.realisedPnl), fmt(p.unrealisedPnl), fmt(p.moneyAtRisk)]));
  table("orders", ["id", "symbol", "side", "type", "price", "qty", "filled", "state"],
        s.openOrders.map(o => [o.clientOrderId, esc(o.symbol), side(o.side), esc(o.type), fmt(o.price), fmt(o.quantity, 4),
                               fmt(o.filled, 4), esc(o.state)]));
  const act = a => [time(a.wallNs), esc(a.symbol), esc(a.strategy), side(a.side), fmt(a.price), fmt(a.quantity, 4), esc(a.detail)];
  table("signals", ["time", "symbol", "strategy", "side", "price", "qty", ""], s.recentSignals.map(act));
  table("trades", ["time", "symbol", "strategy", "side", "price", "qty", ""], s.recentTrades.map(act));
  table("denials", ["time", "symbol", "strategy", "side", "price", "qty", "reason"], s.recentDenials.map(act));
  const n = Number(document.body.dataset.updates) + 1;
  document.body.dataset.updates = n;
  document.getElementById("status").textContent = "live · " + n + " updates · " + time(s.wallNs);
}
const events = new EventSource("/api/stream?token=" + encodeURIComponent(token) + (maxEvents ? "&max=" + encodeURIComponent(maxEvents) : ""));
events.addEventListener("snapshot", e => render(JSON.parse(e.data)));
events.onerror = () => {
  if (maxEvents) { events.close(); return; }  // the stream ended as asked: keep the last view
  document.getElementById("status").textContent = "disconnected, retrying…";
};
</script>
</body>
</html>
"""#
}
