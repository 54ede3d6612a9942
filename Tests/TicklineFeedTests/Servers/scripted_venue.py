"""A scripted Binance-like venue for TicklineFeedTests (Python `websockets` + http.server).

Usage: scripted_venue.py PORT_FILE LOG_FILE [CERT KEY]
Writes "<ws port> <http port>" to PORT_FILE and one line per event to LOG_FILE. With CERT
and KEY the WebSocket speaks TLS (wss) with that certificate.

WebSocket (/stream, combined form): answers SUBSCRIBE/UNSUBSCRIBE with {"result":null,"id":N};
every 10 ms sends, per subscribed symbol, a depth diff (one update id each, ids shared by
all symbols, so keep to one symbol) and a trade. On the first connection only, after
0.5 s: {"stream":"!serverShutdown","data":{"e":"serverShutdown",...}}.

HTTP GET /api/v3/depth: request 1 answers 500, request 2 a truncated body, later requests a
snapshot whose lastUpdateId is the last diff id handed out (consistent with the diffs).
"""
import asyncio
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
state = {"u": 1000, "http": 0, "connections": 0}


def log(line):
    with lock:
        with open(log_file, "a") as f:
            f.write(line + "\n")


def now_ms():
    return int(time.time() * 1000)


class Snapshots(BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            state["http"] += 1
            n = state["http"]
            u = state["u"]
        if n == 1:
            code, body = 500, b'{"code":-1001,"msg":"Internal error; unable to process your request."}'
        elif n == 2:
            code, body = 200, b'{"lastUpdateId":'
        else:
            bids = [[f"{100 - k}.00000000", "1.00000000"] for k in range(20)]
            asks = [[f"{101 + k}.00000000", "1.00000000"] for k in range(20)]
            code, body = 200, json.dumps({"lastUpdateId": u, "bids": bids, "asks": asks}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        log(f"http {n} {code}")

    def log_message(self, *args):
        pass


async def handle(ws):
    with lock:
        state["connections"] += 1
        conn = state["connections"]
    log(f"open {conn} {ws.request.path}")
    symbols = set()

    async def reader():
        async for message in ws:
            request = json.loads(message)
            params = request.get("params", [])
            if request["method"] == "SUBSCRIBE":
                symbols.update(p.split("@")[0] for p in params)
            elif request["method"] == "UNSUBSCRIBE":
                symbols.difference_update(p.split("@")[0] for p in params)
            log(f"{request['method'].lower()} {conn} {' '.join(sorted(params))}")
            await ws.send(json.dumps({"result": None, "id": request["id"]}))

    task = asyncio.create_task(reader())
    start = time.monotonic()
    shutdown_sent = False
    trade_id = 1
    try:
        while not task.done():
            await asyncio.sleep(0.01)
            for s in sorted(symbols):
                with lock:
                    state["u"] += 1
                    u = state["u"]
                diff = {"e": "depthUpdate", "E": now_ms(), "s": s.upper(), "U": u, "u": u,
                        "b": [["99.00000000", f"{u % 50 + 1}.00000000"]], "a": []}
                await ws.send(json.dumps({"stream": f"{s}@depth@100ms", "data": diff}))
                trade = {"e": "trade", "E": now_ms(), "s": s.upper(), "t": trade_id, "p": "100.50000000",
                         "q": "0.10000000", "T": now_ms(), "m": True, "M": True}
                trade_id += 1
                await ws.send(json.dumps({"stream": f"{s}@trade", "data": trade}))
            if conn == 1 and not shutdown_sent and time.monotonic() - start > 0.5:
                await ws.send(json.dumps({"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": now_ms()}}))
                shutdown_sent = True
                log(f"shutdown {conn}")
        await task
    except ConnectionClosed:
        pass
    finally:
        task.cancel()
        frame = getattr(ws.protocol, "close_rcvd", None)
        log(f"closed {conn} {frame.code if frame is not None else 'none'}")


async def main():
    http = ThreadingHTTPServer(("127.0.0.1", 0), Snapshots)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    tls = None
    if len(sys.argv) >= 5:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[3], sys.argv[4])
    async with serve(handle, "127.0.0.1", 0, ssl=tls) as server:
        ws_port = server.sockets[0].getsockname()[1]
        with open(port_file + ".tmp", "w") as f:
            f.write(f"{ws_port} {http.server_address[1]}")
        import os
        os.replace(port_file + ".tmp", port_file)
        await asyncio.Future()


asyncio.run(main())
