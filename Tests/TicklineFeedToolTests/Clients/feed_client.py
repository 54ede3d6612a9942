"""Independent clients for tickline-feed, built on the Python `websockets` library.

Each subcommand runs one scenario against a running server, bounded by --timeout, and
prints one JSON object on stdout that the Swift tests assert on. Exit status 0 unless
the scenario could not run at all.
"""
import argparse
import asyncio
import gzip
import json
import socket
import sys
import time
import urllib.request
from decimal import Decimal

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def recorded_lines(files):
    """Combined-stream JSON lines of the recording, in order (the REST snapshot excluded)."""
    for path in files:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\r\n ")
                space = line.find(" ")
                if space < 0:
                    continue
                text = line[space + 1:]
                if text.startswith('{"stream":"'):
                    yield text


def http_get(host, path, timeout=10):
    with urllib.request.urlopen(f"http://{host}{path}", timeout=timeout) as r:
        return json.loads(r.read())


def http_post(host, path, timeout=10):
    req = urllib.request.Request(f"http://{host}{path}", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def ws_connect(url):
    # No client keepalive pings: the scenarios send their own; server pings are answered.
    return connect(url, ping_interval=None, max_size=1 << 20, open_timeout=10, close_timeout=5)


async def replay(args):
    streams = args.streams.split("/")
    if args.raw:
        url = f"ws://{args.host}/ws/" + "/".join(streams)
    else:
        url = f"ws://{args.host}/stream?streams=" + "/".join(streams)
    expected = []
    for text in recorded_lines(args.files):
        name = text[len('{"stream":"'):text.index('"', len('{"stream":"'))]
        if name in streams:
            if args.raw:
                text = text[text.index(',"data":') + len(',"data":'):-1]
            expected.append(text)
            if len(expected) >= args.count:
                break
    async def one():
        got = []
        async with ws_connect(url) as ws:
            while len(got) < len(expected):
                got.append(await ws.recv())
        return got

    # Several clients at once (the server waits for all of them with --wait-clients).
    results = await asyncio.gather(*(one() for _ in range(args.clients)))
    received = results[0]
    if any(r != received for r in results[1:]):
        return {"error": "clients received different sequences"}
    mismatch = next((i for i, (a, b) in enumerate(zip(received, expected)) if a != b), None)
    kinds = {}
    for text in received:
        key = "depthUpdate" if '"depthUpdate"' in text else "trade" if '"trade"' in text else "bookTicker"
        kinds[key] = kinds.get(key, 0) + 1
    return {"expected": len(expected), "received": len(received), "identical": mismatch is None and len(received) == len(expected),
            "first_mismatch": mismatch, "kinds": kinds,
            "sample": None if mismatch is None else [received[mismatch][:200], expected[mismatch][:200]]}


async def subscribe(args):
    """Starts with one stream, SUBSCRIBEs a second, lists, UNSUBSCRIBEs it, checks none follows."""
    first, second = args.first, args.second
    out = {}
    async with ws_connect(f"ws://{args.host}/stream?streams={first}") as ws:
        before = [json.loads(await ws.recv()) for _ in range(5)]
        out["before_streams"] = sorted({m.get("stream") for m in before})
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [second], "id": 1}))
        seen_second = 0
        reply = None
        for _ in range(10000):
            m = json.loads(await ws.recv())
            if "result" in m or "code" in m:
                reply = m
            elif m.get("stream") == second:
                seen_second += 1
                if seen_second >= 5:
                    break
        out["subscribe_reply"] = reply
        out["second_after_subscribe"] = seen_second
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        while True:
            m = json.loads(await ws.recv())
            if "result" in m:
                out["list_reply"] = m
                break
        await ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": [second], "id": 3}))
        while True:
            m = json.loads(await ws.recv())
            if "result" in m or "code" in m:
                out["unsubscribe_reply"] = m
                break
        after = [json.loads(await ws.recv()) for _ in range(args.after)]
        out["second_after_unsubscribe"] = sum(1 for m in after if m.get("stream") == second)
        out["first_after_unsubscribe"] = sum(1 for m in after if m.get("stream") == first)
        await ws.send(json.dumps({"method": "NOPE", "id": 4}))
        while True:
            m = json.loads(await ws.recv())
            if "result" in m or "code" in m:
                out["unknown_method_reply"] = m
                break
    return out


class Book:
    """A local book kept per SPECS §1.6."""

    def __init__(self, snapshot):
        self.bids = {Decimal(p): q for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): q for p, q in snapshot["asks"]}
        self.id = snapshot["lastUpdateId"]

    def apply(self, d):
        for side, levels in ((self.bids, d["b"]), (self.asks, d["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = q
        self.id = d["u"]

    def top(self, n):
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:n]
        asks = sorted(self.asks.items(), key=lambda kv: kv[0])[:n]
        return [[str(p), q] for p, q in bids], [[str(p), q] for p, q in asks]


def snapshot_top(snapshot, n):
    return ([[str(Decimal(p)), q] for p, q in snapshot["bids"][:n]],
            [[str(Decimal(p)), q] for p, q in snapshot["asks"][:n]])


async def sync_book(ws, host, symbol, stream, buffered):
    """Steps 1–5 of SPECS §1.6: buffer diffs, fetch a snapshot, drop old diffs, load it."""
    while not buffered:
        m = json.loads(await ws.recv())
        if m.get("stream") == stream:
            buffered.append(m["data"])
    loop = asyncio.get_running_loop()
    while True:
        snapshot = await loop.run_in_executor(None, http_get, host, f"/api/v3/depth?symbol={symbol}&limit=5000")
        if snapshot["lastUpdateId"] >= buffered[0]["U"]:
            break
        await asyncio.sleep(0.05)
    book = Book(snapshot)
    pending = [d for d in buffered if d["u"] > book.id]
    return book, pending, snapshot


async def book_chain(args):
    """Syncs, applies diffs checking U == previous u + 1, then checks the rebuilt book's top
    against the server's next snapshot once the book reaches that snapshot's update id."""
    stream = f"{args.symbol.lower()}@depth@100ms"
    out = {"gaps": 0, "applied": 0, "checks": 0, "mismatches": 0, "first_event_ok": None}
    loop = asyncio.get_running_loop()
    async with ws_connect(f"ws://{args.host}/stream?streams={stream}") as ws:
        buffered = []
        book, pending, _ = await sync_book(ws, args.host, args.symbol, stream, buffered)
        first = True

        async def next_diff():
            if pending:
                return pending.pop(0)
            while True:
                m = json.loads(await ws.recv())
                if m.get("stream") == stream:
                    return m["data"]

        def apply(d):
            nonlocal first
            if d["u"] <= book.id:
                return False
            if first:
                out["first_event_ok"] = d["U"] <= book.id + 1 <= d["u"]
                first = False
            elif d["U"] != book.id + 1:
                out["gaps"] += 1
            book.apply(d)
            out["applied"] += 1
            return True

        while out["checks"] < args.checks:
            applied = 0
            while applied < args.between:
                applied += apply(await next_diff())
            # Ask for the next snapshot, then apply diffs until the book reaches its id.
            target = await loop.run_in_executor(None, http_get, args.host, f"/api/v3/depth?symbol={args.symbol}&limit=5000")
            while book.id < target["lastUpdateId"]:
                apply(await next_diff())
            out["checks"] += 1
            if book.id != target["lastUpdateId"] or book.top(args.levels) != snapshot_top(target, args.levels):
                out["mismatches"] += 1
                out["example"] = {"book_id": book.id, "snapshot_id": target["lastUpdateId"],
                                  "ours": book.top(3), "server": snapshot_top(target, 3)}
    return out


async def expect_closed(ws, seconds):
    """Receives until the connection ends; returns what ended it."""
    deadline = time.monotonic() + seconds
    messages = 0
    try:
        while True:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
            messages += 1
    except ConnectionClosed as e:
        return {"closed": True, "messages_before_close": messages,
                "received_close_frame": e.rcvd is not None,
                "received_code": e.rcvd.code if e.rcvd else None,
                "received_reason": e.rcvd.reason if e.rcvd else None,
                "sent_code": e.sent.code if e.sent else None,
                "cause": type(e.__cause__).__name__ if e.__cause__ else None,
                "cause_text": str(e.__cause__) if e.__cause__ else None}
    except asyncio.TimeoutError:
        return {"closed": False, "messages_before_close": messages}


async def fault(args):
    loop = asyncio.get_running_loop()
    async with ws_connect(f"ws://{args.host}/stream?streams={args.streams}") as ws:
        for _ in range(3):
            await ws.recv()
        reply = await loop.run_in_executor(None, http_post, args.host, f"/fault?kind={args.kind}")
        out = {"reply": reply}
        out.update(await expect_closed(ws, 10))
        return out


async def silence(args):
    """During silence: no data within 1 s, and a ping unanswered within 1 s; afterwards data again."""
    loop = asyncio.get_running_loop()
    out = {}
    async with ws_connect(f"ws://{args.host}/stream?streams={args.streams}") as ws:
        for _ in range(3):
            await ws.recv()
        out["reply"] = await loop.run_in_executor(None, http_post, args.host, f"/fault?kind=silence&seconds={args.seconds}")
        # Drain what was already in flight when the fault began.
        drained = 0
        try:
            while drained < 100000:
                await asyncio.wait_for(ws.recv(), 0.3)
                drained += 1
        except asyncio.TimeoutError:
            pass
        out["drained"] = drained
        started = time.monotonic()
        pong = await ws.ping(b"are-you-there")
        try:
            await asyncio.wait_for(pong, 1.0)
            out["ping_answered_during_silence"] = True
        except asyncio.TimeoutError:
            out["ping_answered_during_silence"] = False
        try:
            await asyncio.wait_for(ws.recv(), 0.5)
            out["data_during_silence"] = True
        except asyncio.TimeoutError:
            out["data_during_silence"] = False
        out["checked_within_silence"] = time.monotonic() - started < args.seconds
        try:
            await asyncio.wait_for(ws.recv(), args.seconds + 10)
            out["data_after_silence"] = True
        except asyncio.TimeoutError:
            out["data_after_silence"] = False
        pong = await ws.ping(b"back")
        try:
            await asyncio.wait_for(pong, 5)
            out["ping_answered_after_silence"] = True
        except asyncio.TimeoutError:
            out["ping_answered_after_silence"] = False
    return out


async def skip_depth(args):
    """Keeps a book; asks the server to skip one diff; counts the U/u gaps seen."""
    stream = f"{args.symbol.lower()}@depth@100ms"
    loop = asyncio.get_running_loop()
    out = {"gaps": 0, "applied": 0}
    async with ws_connect(f"ws://{args.host}/stream?streams={stream}") as ws:
        book, pending, _ = await sync_book(ws, args.host, args.symbol, stream, [])
        last_u = None
        faulted = False
        while out["applied"] < args.diffs:
            if pending:
                d = pending.pop(0)
            else:
                m = json.loads(await ws.recv())
                if m.get("stream") != stream:
                    continue
                d = m["data"]
            if last_u is not None and d["U"] != last_u + 1:
                out["gaps"] += 1
                out["gap"] = [last_u, d["U"]]
            last_u = d["u"]
            out["applied"] += 1
            if out["applied"] == 5 and not faulted:
                out["reply"] = await loop.run_in_executor(None, http_post, args.host, f"/fault?kind=skip-depth&symbol={args.symbol}")
                faulted = True
    return out


async def receive(args):
    """Connects and receives --count messages (restart test)."""
    async with ws_connect(f"ws://{args.host}/stream?streams={args.streams}") as ws:
        got = [await ws.recv() for _ in range(args.count)]
    return {"received": len(got)}


async def hold(args):
    """Connects, receives one message, prints 'connected', then waits for the end."""
    async with ws_connect(f"ws://{args.host}/stream?streams={args.streams}") as ws:
        await ws.recv()
        print(json.dumps({"connected": True}), flush=True)
        return await expect_closed(ws, args.timeout)


def no_pong(args):
    """A raw-socket client that never answers pings: the server must close it."""
    host, port = args.host.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=args.timeout)
    s.sendall(b"GET /ws/" + args.streams.encode() + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    out = {"status_line": head.split(b"\r\n")[0].decode(), "pings": 0, "close_code": None, "eof": False}
    buf = rest
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            at = 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + length:
                break
            opcode, payload = buf[0] & 0x0F, buf[at:at + length]
            buf = buf[at + length:]
            if opcode == 0x9:
                out["pings"] += 1
            elif opcode == 0x8:
                out["close_code"] = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                out["close_reason"] = payload[2:].decode(errors="replace")
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            out["eof"] = True
            break
        buf += chunk
    s.close()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=60)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("replay"); a.add_argument("host"); a.add_argument("streams"); a.add_argument("files", nargs="+")
    a.add_argument("--count", type=int, default=2000); a.add_argument("--raw", action="store_true")
    a.add_argument("--clients", type=int, default=1)
    a = sub.add_parser("subscribe"); a.add_argument("host"); a.add_argument("first"); a.add_argument("second")
    a.add_argument("--after", type=int, default=200)
    a = sub.add_parser("book"); a.add_argument("host"); a.add_argument("symbol")
    a.add_argument("--checks", type=int, default=3); a.add_argument("--levels", type=int, default=10)
    a.add_argument("--between", type=int, default=20)
    a = sub.add_parser("fault"); a.add_argument("host"); a.add_argument("streams"); a.add_argument("kind")
    a = sub.add_parser("silence"); a.add_argument("host"); a.add_argument("streams"); a.add_argument("--seconds", type=float, default=3)
    a = sub.add_parser("skip-depth"); a.add_argument("host"); a.add_argument("symbol"); a.add_argument("--diffs", type=int, default=40)
    a = sub.add_parser("receive"); a.add_argument("host"); a.add_argument("streams"); a.add_argument("--count", type=int, default=5)
    a = sub.add_parser("hold"); a.add_argument("host"); a.add_argument("streams")
    a = sub.add_parser("no-pong"); a.add_argument("host"); a.add_argument("streams")
    args = p.parse_args()
    if args.cmd == "no-pong":
        print(json.dumps(no_pong(args)))
        return
    scenario = {"replay": replay, "subscribe": subscribe, "book": book_chain, "fault": fault, "silence": silence,
                "skip-depth": skip_depth, "receive": receive, "hold": hold}[args.cmd]
    try:
        result = asyncio.run(asyncio.wait_for(scenario(args), args.timeout))
    except asyncio.TimeoutError:
        result = {"error": f"timed out after {args.timeout} s"}
    except Exception as e:  # reported to the Swift test, which fails with it
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
