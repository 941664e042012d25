#!/usr/bin/env python3
"""Per-event round trip through a webhook, and the backend alone.

usage: round_trip.py gateway PORT N     one text:// client: line out, reply in
       round_trip.py backend PORT N     the same backend, POSTed directly by a
                                        client that ACKs at once (the floor)
       round_trip.py naive PORT N       ... by Python's http.client, which
                                        does not (as most HTTP clients)

Prints "median_us=... p90_us=... p99_us=..." over N sequential round trips
(after 20 warm-up ones)."""
import http.client
import socket
import sys
import time


def gateway(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")

    def once(i):
        s.sendall(b"ping %d\n" % i)
        line = f.readline()
        if not line.startswith(b"echo: ping"):
            raise SystemExit("unexpected reply %r" % line)
    return once


def backend(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def once(i):
        body = b"ping %d" % i
        s.sendall(b"POST /events HTTP/1.1\r\nHost: b\r\nX-Sockman-Event: message\r\n"
                  b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        data = b""
        while True:
            if b"\r\n\r\n" in data:
                head, rest = data.split(b"\r\n\r\n", 1)
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    break
            chunk = s.recv(65536)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if not chunk:
                raise SystemExit("backend closed")
            data += chunk
        if not rest.startswith(b"echo: ping"):
            raise SystemExit("unexpected reply")
    return once


def naive(port, n):
    c = http.client.HTTPConnection("127.0.0.1", port)

    def once(i):
        body = b"ping %d" % i
        c.request("POST", "/events", body, {"X-Sockman-Event": "message",
                                            "Content-Type": "text/plain"})
        r = c.getresponse()
        if not r.read().startswith(b"echo: ping"):
            raise SystemExit("unexpected reply")
    return once


def main():
    mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    once = {"gateway": gateway, "backend": backend, "naive": naive}[mode](port, n)
    for i in range(20):
        once(i)
    times = []
    for i in range(n):
        t = time.perf_counter()
        once(i)
        times.append(time.perf_counter() - t)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(len(times) * p))] * 1e6
    print("median_us=%d p90_us=%d p99_us=%d" % (q(0.5), q(0.9), q(0.99)))


if __name__ == "__main__":
    main()
