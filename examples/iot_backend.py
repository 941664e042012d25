#!/usr/bin/env python3
"""The IoT example's business logic (examples/iot.textproto), Python stdlib.

usage: iot_backend.py [PORT [PUSH_URL]]     (default 8095, http://127.0.0.1:8094)

Devices (the `device` framing) and dashboards (ws://) share one hub, "iot":
  device   "hello ID"      -> bound to uid "device:ID", answered "ok ID"
  device   anything else   -> "ID: message" to every dashboard
  dashboard connect        -> joins group "dashboards"
  dashboard "ID command"   -> "command" pushed to device ID (by its uid)
"""
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8095
PUSH = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8094"


def push(path, body):
    request = urllib.request.Request(PUSH + path, data=body.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


class Events(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body="", headers=()):
        data = body.encode()
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        text = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8", "replace")
        event = self.headers.get("X-Sockman-Event")
        service = self.headers.get("X-Sockman-Service")
        session = urllib.parse.parse_qs(self.headers.get("X-Sockman-Session", ""))
        if service == "dashboard":
            if event == "connect":
                return self.reply("welcome, dashboard", [("X-Sockman-Join", "dashboards")])
            if event == "message" and " " in text:
                device, command = text.split(" ", 1)
                answer = push("/uids/" + urllib.parse.quote("device:" + device, safe=""), command)
                return self.reply("sent to " + device if '"delivered":0' not in answer
                                  else device + " is offline")
            return self.reply()
        if event == "message" and text.startswith("hello "):
            device = text[6:].strip()
            return self.reply("ok " + device, [
                ("X-Sockman-Bind-Uid", urllib.parse.quote("device:" + device)),
                ("X-Sockman-Set-Session", "device=" + urllib.parse.quote(device))])
        if event == "message":
            device = session.get("device", ["?"])[0]
            push("/groups/dashboards", "%s: %s" % (device, text))
        return self.reply()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Events)
    server.daemon_threads = True
    print("iot backend on port %d, push API %s" % (server.server_address[1], PUSH), flush=True)
    server.serve_forever()
