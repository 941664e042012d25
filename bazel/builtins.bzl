"""The one list of built-in protocols and handlers.

Adding a protocol or handler: one directory, one alwayslink library, one
registration line in it, and one entry here. A protocol with options of its
own lists its binding target (//protocols/http:config), which brings the
codec with it. //cli:registry_test checks that
the real binary registered every name listed.
"""

BUILTIN_PROTOCOLS = {
    "frame": "//protocols/frame",
    "framing": "//protocols/framing:config",
    "http": "//protocols/http:config",
    "tcp": "//protocols/tcp",
    "text": "//protocols/text",
    "udp": "//protocols/udp",
    "websocket": "//protocols/websocket:config",
}

BUILTIN_HANDLERS = {
    "broadcast": "//handlers/broadcast",
    "echo": "//handlers/echo",
    "dashboard": "//handlers/dashboard",
    "exec": "//handlers/exec",
    "metrics": "//handlers/metrics",
    "proxy": "//handlers/proxy",
    "pusher": "//handlers/pusher",
    "push": "//handlers/push",
    "redirect": "//handlers/redirect",
    "respond": "//handlers/respond",
    "static": "//handlers/static",
    "webhook": "//handlers/webhook",
}
