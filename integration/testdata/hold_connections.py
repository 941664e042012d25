#!/usr/bin/env python3
"""Holds N TCP connections to 127.0.0.1:PORT from source address SOURCE,
prints "ready N" once all are connected, and keeps them until stdin closes.

usage: hold_connections.py PORT N SOURCE"""
import socket
import sys

port, count, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(count):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    held.append(s)
print("ready %d" % len(held), flush=True)
sys.stdin.read()
