#!/usr/bin/env python3
"""The chat's business logic (GatewayWorker's Events.php) in Python's stdlib.

usage: chat_backend.py [PORT [PUSH_URL]]     (default 8090, http://127.0.0.1:8083)

sockman (examples/chat.textproto) posts every client event here and applies
the reply; messages to other clients go through sockman's push API:
  connect        -> a welcome
  /nick NAME     -> NAME becomes the client's uid (and session name)
  /join ROOM     -> the client moves to ROOM
  @NAME text     -> a private message to every tab of NAME
  anything else  -> "NAME: text" to everyone in the client's room
  close          -> "* NAME left" to its room
"""
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8090
PUSH = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8083"


def push(method, path, body=b""):
    request = urllib.request.Request(PUSH + path, data=body, method=method)
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
        client = self.headers.get("X-Sockman-Client-Id", "")
        session = urllib.parse.parse_qs(self.headers.get("X-Sockman-Session", ""))
        name = session.get("name", [client[-6:]])[0]
        rooms = [urllib.parse.unquote(r) for r in self.headers.get("X-Sockman-Room", "").split(",") if r]
        room_path = "/groups/" + urllib.parse.quote(rooms[0], safe="") if rooms else "/groups/"
        if event == "connect":
            return self.reply("welcome! /nick NAME, /join ROOM, @NAME for a private message")
        if event == "close":
            push("POST", room_path, ("* %s left" % name).encode())
            return self.reply()
        if text.startswith("/nick "):
            nick = text[6:].strip()
            push("POST", room_path, ("* %s is now %s" % (name, nick)).encode())
            return self.reply("you are " + nick, [
                ("X-Sockman-Bind-Uid", urllib.parse.quote(nick)),
                ("X-Sockman-Set-Session", "name=" + urllib.parse.quote(nick))])
        if text.startswith("/join "):
            room = text[6:].strip()
            headers = [("X-Sockman-Leave", urllib.parse.quote(r)) for r in rooms]
            headers.append(("X-Sockman-Join", urllib.parse.quote(room)))
            return self.reply("joined " + room, headers)
        if text.startswith("@") and " " in text:
            to, words = text[1:].split(" ", 1)
            answer = push("POST", "/uids/" + urllib.parse.quote(to, safe=""),
                          ("(private) %s: %s" % (name, words)).encode())
            return self.reply("(to %s) %s" % (to, words) if '"delivered":0' not in answer
                              else "nobody is called " + to)
        push("POST", room_path, ("%s: %s" % (name, text)).encode())
        return self.reply()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Events)
    server.daemon_threads = True
    print("chat backend on port %d, push API %s" % (server.server_address[1], PUSH), flush=True)
    server.serve_forever()
