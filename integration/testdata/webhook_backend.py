#!/usr/bin/env python3
"""A webhook backend for integration tests (the BusinessWorker side).

usage: webhook_backend.py PORT_FILE [CERT_FILE KEY_FILE]

Binds 127.0.0.1:0 (or the port in $BACKEND_PORT; HTTPS with the certificate
and key when given), writes its port to PORT_FILE, records every event it is
posted and answers a message event by its body:
  join:ROOM   -> X-Sockman-Join: ROOM, body "joined ROOM"
  set:K=V     -> X-Sockman-Set-Session: K=V, body "set"
  bye         -> X-Sockman-Close: 1, body "bye"
  bin:TEXT    -> body TEXT as a binary message
  hex:HEX     -> the bytes HEX spells, as a binary message
  fail        -> 500
  spam        -> X-Sockman-Close: 1, no body, and "kicked ID" pushed to the
                 client's room through the push API (see /config)
  quiet:...   -> 204
  anything    -> "echo: " + body
A connect event is answered with "welcome ID"; a close event with nothing.

GET /events: the recorded events, one JSON object a line.
GET /stats: {"connections": connections accepted, "events": events seen}.
POST /config: the body is the push API's base URL (http://127.0.0.1:PORT).
"""
import json
import sys
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
events = []
state = {"connections": 0, "push": ""}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def setup(self):
        super().setup()
        with lock:
            state["connections"] += 1

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            if self.path == "/events":
                body = "".join(json.dumps(e) + "\n" for e in events).encode()
            else:
                body = json.dumps({"connections": state["connections"], "events": len(events)}).encode()
        self.reply(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/config":
            state["push"] = body.decode()
            return self.reply(200)
        event = {k: v for k, v in self.headers.items() if k.lower().startswith("x-sockman-")}
        event["path"] = self.path
        event["content-type"] = self.headers.get("Content-Type", "")
        event["auth"] = self.headers.get("Authorization", "")
        event["forwarded"] = self.headers.get("X-Forwarded-For", "")
        event["body"] = body.decode("utf-8", "replace")
        with lock:
            events.append(event)
        kind = self.headers.get("X-Sockman-Event")
        client = self.headers.get("X-Sockman-Client-Id", "")
        if kind == "connect":
            return self.reply(200, ("welcome " + client).encode())
        if kind != "message":
            return self.reply(200)
        text = body.decode("utf-8", "replace")
        if text.startswith("join:"):
            return self.reply(200, ("joined " + text[5:]).encode(), [("X-Sockman-Join", text[5:])])
        if text.startswith("set:"):
            return self.reply(200, b"set", [("X-Sockman-Set-Session", text[4:])])
        if text == "bye":
            return self.reply(200, b"bye", [("X-Sockman-Close", "1")])
        if text.startswith("hex:"):
            return self.reply(200, bytes.fromhex(text[4:]), [("X-Sockman-Message-Type", "binary")])
        if text.startswith("bin:"):
            return self.reply(200, text[4:].encode(), [("X-Sockman-Message-Type", "binary")])
        if text == "fail":
            return self.reply(500, b"nope")
        if text.startswith("quiet:"):
            return self.reply(204)
        if text == "spam":
            room = urllib.parse.unquote(self.headers.get("X-Sockman-Room", ""))
            request = urllib.request.Request(state["push"] + "/rooms/" + urllib.parse.quote(room),
                                             data=("kicked " + client).encode(), method="POST")
            urllib.request.urlopen(request, timeout=5).read()
            return self.reply(200, b"", [("X-Sockman-Close", "1")])
        return self.reply(200, ("echo: " + text).encode())


def main():
    import os
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("BACKEND_PORT", "0"))), Handler)
    server.daemon_threads = True
    if len(sys.argv) == 4:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
