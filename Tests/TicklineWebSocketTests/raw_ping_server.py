"""A raw-socket WebSocket peer (no library) for the ping tests.

Usage: raw_ping_server.py PORT_FILE COUNT [HEADER_BYTES [reset]]
Accepts one client, answers its upgrade (with an X-Padding header of HEADER_BYTES bytes),
then writes COUNT pings (payloads "ping-0", ...) in a single send, so they reach the client
in one read. It then reads the client's frames until COUNT pongs have arrived and sends one
text message, "pongs:" followed by their payloads in arrival order joined with ",", and a
close 1000. Once the client's close arrives it closes TCP, or with `reset` resets it.
"""
import base64
import hashlib
import os
import socket
import struct
import sys

port_file, count = sys.argv[1], int(sys.argv[2])
padding = int(sys.argv[3]) if len(sys.argv) > 3 else 0
reset = len(sys.argv) > 4 and sys.argv[4] == "reset"
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
with open(port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.replace(port_file + ".tmp", port_file)
conn, _ = listener.accept()
conn.settimeout(20)

request = b""
while b"\r\n\r\n" not in request:
    request += conn.recv(4096)
key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:"))
accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
pad = b"X-Padding: " + b"a" * padding + b"\r\n" if padding else b""
conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept
             + b"\r\n" + pad + b"\r\n")


def frame(opcode, payload):
    return bytes([0x80 | opcode, len(payload)]) + payload


conn.sendall(b"".join(frame(0x9, f"ping-{k}".encode()) for k in range(count)))

buffer = b""


def read_frame():
    global buffer
    while True:
        if len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                length = struct.unpack(">H", buffer[2:4])[0]
                start = 4
            masked = buffer[1] & 0x80
            end = start + (4 if masked else 0) + length
            if len(buffer) >= end:
                mask = buffer[start:start + 4] if masked else b"\0\0\0\0"
                body = buffer[start + (4 if masked else 0):end]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
                opcode = buffer[0] & 0x0F
                buffer = buffer[end:]
                return opcode, payload
        chunk = conn.recv(4096)
        if not chunk:
            raise EOFError
        buffer += chunk


pongs = []
while len(pongs) < count:
    opcode, payload = read_frame()
    if opcode == 0xA:
        pongs.append(payload.decode())
conn.sendall(frame(0x1, ("pongs:" + ",".join(pongs)).encode()) + frame(0x8, struct.pack(">H", 1000)))
try:
    while read_frame()[0] != 0x8:
        pass
except (EOFError, OSError):
    pass
if reset:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()
