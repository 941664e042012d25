#!/usr/bin/env python3
"""A device simulator for sockman's config framings, with its own codecs
written from the wire formats (not from sockman's code):

  len2    a 2-byte big-endian length that excludes the header, then payload
  jt808   0x7e-delimited, 0x7e/0x7d escaped as 0x7d 0x02 / 0x7d 0x01, an
          XOR check byte before the closing 0x7e
  modbus  magic 0xaa 0x55, a 2-byte little-endian payload length, payload,
          CRC-16/MODBUS (little-endian) over all before it

  device_sim.py FRAMING ECHO BROADCAST WEBHOOK UDP_ECHO UDP_WEBHOOK BACKEND

Ports of the framing's services; BACKEND is where this script serves the
webhook backend (it answers every message event with b"ack:" + the bytes).
Prints one line per check and exits non-zero at the first failure.
"""
import http.server
import socket
import sys
import threading
import time


def crc16_modbus(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class Len2:
    def encode(self, m):
        return len(m).to_bytes(2, "big") + m

    def decode(self, buf):
        """(message, rest) or (None, buf)."""
        if len(buf) < 2:
            return None, buf
        n = int.from_bytes(buf[:2], "big")
        if len(buf) < 2 + n:
            return None, buf
        return buf[2:2 + n], buf[2 + n:]

    def corrupt(self):
        return None  # any bytes are a valid length: nothing to corrupt


class Jt808:
    def encode(self, m):
        check = 0
        for b in m:
            check ^= b
        body = m + bytes([check])
        body = body.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")
        return b"\x7e" + body + b"\x7e"

    def decode(self, buf):
        buf = buf.lstrip(b"\x7e")
        end = buf.find(b"\x7e")
        if end < 0:
            return None, buf
        body = buf[:end].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
        check = 0
        for b in body[:-1]:
            check ^= b
        if not body or check != body[-1]:
            raise ValueError("bad check from the server")
        return body[:-1], buf[end + 1:]

    def corrupt(self):
        return b"\x7e" + b"abc" + b"\x00" + b"\x7e"  # XOR of abc is not 0


class Modbus:
    def encode(self, m):
        frame = b"\xaa\x55" + len(m).to_bytes(2, "little") + m
        return frame + crc16_modbus(frame).to_bytes(2, "little")

    def decode(self, buf):
        if len(buf) < 6:
            return None, buf
        if buf[:2] != b"\xaa\x55":
            raise ValueError("bad magic from the server")
        n = int.from_bytes(buf[2:4], "little")
        if len(buf) < 6 + n:
            return None, buf
        frame, crc = buf[:4 + n], buf[4 + n:6 + n]
        if crc16_modbus(frame).to_bytes(2, "little") != crc:
            raise ValueError("bad CRC from the server")
        return frame[4:], buf[6 + n:]

    def corrupt(self):
        frame = b"\xaa\x55\x01\x00x"
        return frame + ((crc16_modbus(frame) ^ 1).to_bytes(2, "little"))


CODECS = {"len2": Len2(), "jt808": Jt808(), "modbus": Modbus()}
# Binary payloads with the bytes framings trip on.
PAYLOADS = [b"hello", b"\x7e\x7d\x7e", b"\x00\xaa\x55\xff\x0a\x0d", bytes(range(256)), b"x" * 3000]


def fail(what):
    print("FAIL", what, flush=True)
    sys.exit(1)


class Device:
    def __init__(self, codec, port):
        self.codec = codec
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, m, split=False):
        wire = self.codec.encode(m)
        if split:  # one byte per write
            for i in range(len(wire)):
                self.sock.sendall(wire[i:i + 1])
        else:
            self.sock.sendall(wire)

    def next(self, timeout=5, ping=False):
        """The next message; heartbeat pings are skipped unless `ping`."""
        deadline = time.time() + timeout
        while True:
            m, rest = self.codec.decode(self.buf)
            if m is not None:
                self.buf = rest
                if m == b"ping" and not ping:
                    continue
                return m
            self.buf = rest
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                return None
            self.buf += data

    def closed_within(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
        return False


class Backend(http.server.BaseHTTPRequestHandler):
    message_types = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        reply = b""
        if self.headers.get("X-Sockman-Event") == "message":
            Backend.message_types.append(self.headers.get("X-Sockman-Message-Type"))
            reply = b"ack:" + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("X-Sockman-Message-Type", "binary")
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def main():
    name = sys.argv[1]
    echo, broadcast, webhook, udp_echo, udp_webhook, backend = map(int, sys.argv[2:8])
    codec = CODECS[name]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", backend), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # Echo: every payload back exactly, sent whole, byte by byte, and many
    # frames in one write.
    d = Device(codec, echo)
    for m in PAYLOADS:
        d.send(m)
        if d.next() != m:
            fail(f"{name} echo of {len(m)} bytes")
        d.send(m, split=True)
        if d.next() != m:
            fail(f"{name} echo of {len(m)} bytes sent byte by byte")
    d.sock.sendall(b"".join(codec.encode(m) for m in PAYLOADS))
    for m in PAYLOADS:
        if d.next() != m:
            fail(f"{name} echo of frames sent in one write")
    print("ok", name, "echo", flush=True)

    # A bad frame closes only its connection.
    bad = codec.corrupt()
    if bad is not None:
        victim = Device(codec, echo)
        victim.sock.sendall(bad)
        if not victim.closed_within(3):
            fail(f"{name} bad frame did not close the connection")
        d.send(b"still here")
        if d.next() != b"still here":
            fail(f"{name} bad frame hurt another connection")
        print("ok", name, "bad frame closes its connection only", flush=True)

    # Heartbeat: an idle device gets the service's ping, framed, and is
    # closed once silent past the limit.
    idle = Device(codec, echo)
    if idle.next(timeout=3, ping=True) != b"ping":
        fail(f"{name} heartbeat ping")
    if not idle.closed_within(5):
        fail(f"{name} silent device not closed")
    print("ok", name, "heartbeat", flush=True)

    # Broadcast: one device's message reaches every device.
    a, b = Device(codec, broadcast), Device(codec, broadcast)
    time.sleep(0.2)
    for m in PAYLOADS:
        a.send(m)
        if b.next() != m or a.next() != m:
            fail(f"{name} broadcast of {len(m)} bytes")
    print("ok", name, "broadcast", flush=True)

    # Webhook: the backend gets the exact bytes, marked binary, and its
    # reply reaches the device framed.
    h = Device(codec, webhook)
    for m in PAYLOADS:
        h.send(m)
        if h.next(timeout=10) != b"ack:" + m:
            fail(f"{name} webhook reply to {len(m)} bytes")
    if set(Backend.message_types) != {"binary"}:
        fail(f"{name} webhook message types {Backend.message_types}")
    print("ok", name, "webhook", flush=True)

    # UDP: one datagram is one frame, through echo and the webhook.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    for port, prefix in ((udp_echo, b""), (udp_webhook, b"ack:")):
        for m in PAYLOADS[:4]:
            u.sendto(codec.encode(m), ("127.0.0.1", port))
            try:
                data, _ = u.recvfrom(65536)
            except socket.timeout:
                fail(f"{name} udp {port}: no answer to {len(m)} bytes")
            got, rest = codec.decode(data)
            if got != prefix + m or rest.strip(b"\x7e"):
                fail(f"{name} udp {port}: answer to {len(m)} bytes")
    print("ok", name, "udp", flush=True)
    print("PASS", name, flush=True)


if __name__ == "__main__":
    main()
