"""Independent TLS WebSocket peer for the TLS transport tests: Python `websockets` over `ssl`.

Usage: tls_server.py PORT_FILE LOG_FILE CERT KEY EXPIRED_CERT EXPIRED_KEY
Serves on two free loopback ports: the first with CERT/KEY, the second with the expired
EXPIRED_CERT/EXPIRED_KEY. Writes "PORT EXPIRED_PORT" to PORT_FILE and appends one line per
TLS handshake to LOG_FILE ("<port> <protocol> <resumed>"), so the Swift test can check
resumption from the server's side too. The path selects the scenario.
"""
import asyncio
import os
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

port_file, log_file, cert, key, expired_cert, expired_key = sys.argv[1:7]


def context(certfile, keyfile):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.minimum_version = ssl.TLSVersion.TLSv1_2
    c.load_cert_chain(certfile, keyfile)
    return c


async def handle(ws):
    path = ws.request.path
    tls = ws.transport.get_extra_info("ssl_object")
    with open(log_file, "a") as f:
        f.write(f"{ws.transport.get_extra_info('sockname')[1]} {tls.version()} {tls.session_reused}\n")
    try:
        if path == "/echo":
            async for message in ws:
                await ws.send(message)
        elif path.startswith("/stream/"):
            # N messages in a burst, then the server closes with 1000.
            n = int(path.rsplit("/", 1)[1])
            for i in range(n):
                await ws.send(f'{{"n":{i},"pad":"{"x" * (i % 200)}"}}')
            await ws.close(1000, "done")
    except ConnectionClosed:
        pass


async def main():
    kwargs = dict(max_size=None, ping_interval=None, compression=None, close_timeout=2)
    async with serve(handle, "127.0.0.1", 0, ssl=context(cert, key), **kwargs) as good, \
            serve(handle, "127.0.0.1", 0, ssl=context(expired_cert, expired_key), **kwargs) as expired:
        ports = f"{good.sockets[0].getsockname()[1]} {expired.sockets[0].getsockname()[1]}"
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(ports)
        os.rename(tmp, port_file)
        await asyncio.Future()


asyncio.run(main())
