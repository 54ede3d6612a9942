#!/usr/bin/env python3
"""A scripted stand-in for an InfluxDB write endpoint (tests only).

    influx_fixture.py SCRIPT.json LOG.jsonl

SCRIPT is a JSON list of responses, used in order, one per request:
    {"status": 413, "headers": {"Retry-After": "7"}, "body": "..."}
once the list is used up every request gets 204. Every request is appended to LOG as
one JSON line: method, path, query, headers, the client's port (keep-alive check),
whether the body was gzip, and the body's lines (decompressed). Prints "PORT <n>" on
stdout once listening on 127.0.0.1 (an ephemeral port), then serves until killed.
"""
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

script = json.load(open(sys.argv[1]))
log_path = sys.argv[2]
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        gz = self.headers.get("Content-Encoding", "") == "gzip"
        body = gzip.decompress(raw) if gz else raw
        parts = urlsplit(self.path)
        entry = {
            "method": "POST",
            "path": parts.path,
            "query": dict(parse_qsl(parts.query)),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "client_port": self.client_address[1],
            "gzip": gz,
            "lines": [l for l in body.decode("utf-8").split("\n") if l],
        }
        with lock:
            with open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
            response = script.pop(0) if script else {"status": 204}
        status = response.get("status", 204)
        payload = response.get("body", "").encode()
        self.send_response(status)
        for k, v in response.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)


server = HTTPServer(("127.0.0.1", 0), Handler)
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
