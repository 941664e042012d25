#!/usr/bin/env python3
"""An HTTP/1.1 upstream for the reverse-proxy tests (standard library only).

    proxy_upstream.py PORT LOG [--delay-ms N] [--close-all]

Every request appends one line to LOG:
    PORT METHOD TARGET te=... cl=... body=N first=FIRST-32-BYTES
and is answered by its path:
    /health           the status in LOG.health (default 200), body "healthy"
    /download/N       N bytes of 'x' with Content-Length, in 64 KiB writes
    /chunked/N        N bytes of 'y', chunked, in 64 KiB chunks
    /upload           the request body is read in pieces and dropped
    anything else     "port PORT\\nMETHOD TARGET\\n" then each request header
                      line as received, then "body N"
--delay-ms waits before every answer; --close-all closes every connection
without an answer (after logging the request).
"""

import http.server
import os
import sys
import threading
import time

PORT = int(sys.argv[1])
LOG = sys.argv[2]
DELAY = int(sys.argv[sys.argv.index("--delay-ms") + 1]) / 1000 if "--delay-ms" in sys.argv else 0
CLOSE_ALL = "--close-all" in sys.argv
lock = threading.Lock()


def read_body(handler):
    """Reads the body in pieces; returns (length, first 32 bytes)."""
    seen = {"total": 0, "first": b""}

    def take(left):  # reads and drops `left` bytes, keeping the first 32
        while left:
            piece = handler.rfile.read(min(left, 65536))
            if not piece:
                raise ConnectionError("body cut short")
            if len(seen["first"]) < 32:
                seen["first"] += piece[: 32 - len(seen["first"])]
            seen["total"] += len(piece)
            left -= len(piece)

    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        while True:
            line = handler.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            take(size)
            handler.rfile.readline()
    else:
        take(int(handler.headers.get("Content-Length") or 0))
    return seen["total"], seen["first"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length, first = read_body(self)
        with lock, open(LOG, "a") as log:
            log.write("%d %s %s te=%s cl=%s body=%d first=%s\n" % (
                PORT, self.command, self.path, self.headers.get("Transfer-Encoding", "-"),
                self.headers.get("Content-Length", "-"), length,
                first.decode("latin1").replace("\n", "\\n").replace("\r", "\\r")))
        if CLOSE_ALL:
            self.close_connection = True
            return
        if DELAY:
            time.sleep(DELAY)
        path = self.path.split("?")[0]
        if path == "/health":
            status = 200
            if os.path.exists(LOG + ".health"):
                status = int(open(LOG + ".health").read().strip() or 200)
            self.send(status, b"healthy")
        elif path.startswith("/download/"):
            n = int(path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n > 0 and self.command != "HEAD":
                self.wfile.write(block[: min(n, len(block))])
                n -= len(block)
        elif path.startswith("/chunked/"):
            n = int(path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"y" * 65536
            while n > 0:
                piece = block[: min(n, len(block))]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                n -= len(piece)
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/upload":
            self.send(200, b"received %d\n" % length)
        else:
            lines = ["port %d" % PORT, "%s %s" % (self.command, self.path)]
            lines += ["%s: %s" % (k, v) for k, v in self.headers.items()]
            lines.append("body %d" % length)
            self.send(200, ("\n".join(lines) + "\n").encode(),
                      extra=[("Connection", "keep-alive, X-Drop"), ("X-Drop", "1"),
                             ("Keep-Alive", "timeout=30"), ("X-Kept", "yes")])

    def send(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = answer

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
