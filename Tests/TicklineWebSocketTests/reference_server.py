"""Independent RFC 6455 peer for TicklineWebSocketTests: a Python `websockets` server.

Usage: reference_server.py PORT_FILE LOG_FILE
Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and appends one line per
finished scenario to LOG_FILE ("<path> <result>"), so the Swift test can check what the
server saw (e.g. the close code the client echoed). The path selects the scenario.
"""
import asyncio
import os
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

port_file, log_file = sys.argv[1], sys.argv[2]


def log(line):
    with open(log_file, "a") as f:
        f.write(line + "\n")
        f.flush()


def received_code(ws):
    frame = getattr(ws.protocol, "close_rcvd", None)
    return frame.code if frame is not None else None


async def handle(ws):
    path = ws.request.path
    try:
        if path.startswith("/echo"):
            async for message in ws:
                await ws.send(message)
        elif path == "/fragments":
            # A text message split inside the euro sign (E2 82 | AC), then 1 MiB binary in 16 fragments.
            await ws.send([b"price \xe2\x82", b"\xac 42"], text=True)
            blob = bytes(i * 7 % 251 for i in range(1 << 20))
            await ws.send([blob[i:i + 65536] for i in range(0, len(blob), 65536)])
            await ws.send("done")
            await ws.wait_closed()
        elif path == "/ping":
            waiter = await ws.ping(b"tickline")
            try:
                await asyncio.wait_for(waiter, 5)
                await ws.send("pong:ok")
            except asyncio.TimeoutError:
                await ws.send("pong:missing")
            await ws.wait_closed()
        elif path == "/close":
            await ws.close(4001, "bye")
        elif path == "/badutf8":
            await ws.send(b"ok \xff", text=True)
            await ws.wait_closed()
        elif path == "/oversize":
            await ws.send(b"x" * 200_000)
            await ws.wait_closed()
        elif path == "/clientclose":
            async for message in ws:
                await ws.send(message)
    except ConnectionClosed:
        pass
    log(f"{path} {received_code(ws)}")


async def main():
    async with serve(handle, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None, close_timeout=2) as server:
        port = server.sockets[0].getsockname()[1]
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, port_file)
        await asyncio.Future()


asyncio.run(main())
