// Binary-safe delivery end to end, with real clients (Node's `ws`, headless
// Chromium): a binary WebSocket message relayed by broadcast, pushed with
// Content-Type: application/octet-stream, or relayed by the cluster through
// Redis reaches every client as binary with its exact bytes; text stays
// text; a push of non-UTF-8 text is refused (400); and nobody is
// disconnected; the same for a webhook's binary reply and across cluster
// nodes, in a browser too. (Before, one client sending 0xff made every browser in the
// room fail on invalid UTF-8 and leave: a one-message denial of service.)
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/webhook_backend.h"

namespace sockman::testing {
namespace {

constexpr char kServices[] = R"(
service { name: "chat" listen: "ws://127.0.0.1:0" count: 2 broadcast {} }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "chat" } }
)";

// The start of the test pages: what each message was (`describe`), the
// messages seen, the clients closed, and the line the test reads (`show`).
constexpr char kPageStart[] = R"(<!DOCTYPE html><html><body>
<div id="result">pending</div>
<script>
const seen = [];
let closed = 0;
function show(text) { document.getElementById('result').textContent = text; }
function describe(data) {
  return typeof data === 'string' ? 'text:' + data : 'binary:' + new Uint8Array(data).join(',');
}
)";

std::string Node(const std::string& args) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  return Shell(absl::StrCat("NODE_PATH=", modules != nullptr ? modules : "",
                            " timeout 60 node integration/node/binary_delivery.js ", args,
                            " 2>&1"));
}

TEST(BinaryDeliveryTest, NodeClientsThroughBroadcastAndPush) {
  auto server = SockmanProcess::Start(kServices, "binary", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  std::string chat = absl::StrCat("ws://127.0.0.1:", (*server)->port("chat"), "/");
  std::string out = Node(absl::StrCat("broadcast ", chat, " ", chat,
                                      " http://127.0.0.1:", (*server)->port("api"), "/all"));
  EXPECT_TRUE(absl::StartsWith(out, "ok 9")) << out;
}

TEST(BinaryDeliveryTest, NodeClientsAcrossClusterNodes) {
  uint16_t redis_port = FreePort();
  RedisServer redis(redis_port);
  auto config = [&](const char* node) {
    return absl::StrCat("global { cluster { redis: \"redis://127.0.0.1:", redis_port,
                        "\" node_id: \"", node, "\" } }\n", kServices);
  };
  auto a = SockmanProcess::Start(config("a"), "node_a", ShortTempDir());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = SockmanProcess::Start(config("b"), "node_b", ShortTempDir());
  ASSERT_TRUE(b.ok()) << b.status();
  std::string subscribed = WaitForRedisSubscribers(redis_port, "sockman:chat", 4);
  ASSERT_TRUE(absl::EndsWith(subscribed, "\n4\n")) << subscribed;
  // Sent on node a, received on node b; pushed on node a's API.
  std::string out = Node(absl::StrCat("broadcast ws://127.0.0.1:", (*a)->port("chat"),
                                      "/ ws://127.0.0.1:", (*b)->port("chat"),
                                      "/ http://127.0.0.1:", (*a)->port("api"), "/all"));
  EXPECT_TRUE(absl::StartsWith(out, "ok 9")) << out;
}

TEST(BinaryDeliveryTest, ChromiumGetsArrayBuffersWithTheExactBytes) {
  std::string root = absl::StrCat(getenv("TEST_TMPDIR"), "/binary-site");
  mkdir(root.c_str(), 0755);
  auto server = SockmanProcess::Start(
      absl::StrCat(kServices,
                   "service { name: \"site\" listen: \"http://127.0.0.1:0\" static { "
                   "root: \"",
                   root, "\" } }\n"),
      "binary_browser", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  std::ofstream(root + "/big.bin") << std::string(8 << 20, '\0');
  std::ofstream(root + "/index.html")
      << absl::StrCat(kPageStart, R"(const url = 'ws://127.0.0.1:)", (*server)->port("chat"), R"(/';
const sender = new WebSocket(url);
const receiver = new WebSocket(url);
receiver.binaryType = 'arraybuffer';
for (const ws of [sender, receiver]) ws.onclose = () => { closed++; };
let opened = 0;
function start() {
  if (++opened < 2) return;
  sender.send(new Uint8Array([255, 0, 128, 254]));
  sender.send('h\u00e9llo');
}
// Headless Chromium runs the page on virtual time, which stands still only
// while a fetch is pending: fetch a big file until the push arrives, so that
// real time passes for the test's pushes.
let tries = 0;
function keepBusy() {
  if (seen.length >= 3 || ++tries > 500) return;
  fetch('/big.bin').then((r) => r.arrayBuffer()).then(keepBusy, keepBusy);
}
sender.onopen = start;
receiver.onopen = start;
receiver.onmessage = (e) => {
  const what = describe(e.data);
  // Pushes arrive again and again (the test pushes in a loop): keep one.
  if (what === 'binary:195,40,160' && seen.includes(what)) return;
  seen.push(what);
  show('so far: ' + seen.join(' | '));
  if (seen.length === 2) keepBusy();
  // The marker is built, so the page's own source does not contain it.
  // (Sorted: a push may come before the broadcasts.)
  if (seen.length === 3) show(['all', 'seen'].join('-') + ' ' + seen.slice().sort().join(' | ') + ' closed=' + closed);
};
</script></body></html>
)");
  // Pushes of non-UTF-8 bytes, marked binary, until the page has one.
  std::string push = absl::StrCat(
      "(for i in $(seq 100); do printf '\\303\\050\\240' | curl -s -o /dev/null -X POST "
      "-H 'Content-Type: application/octet-stream' --data-binary @- http://127.0.0.1:",
      (*server)->port("api"), "/all; sleep 0.2; done) >/dev/null 2>&1 &");
  Shell(push);
  std::string dom =
      ChromiumDumpDom(absl::StrCat("http://127.0.0.1:", (*server)->port("site"), "/"), "all-seen");
  EXPECT_TRUE(absl::StrContains(
      dom, "all-seen binary:195,40,160 | binary:255,0,128,254 | text:h\u00e9llo closed=0"))
      << dom;
}

// In a browser: a webhook's binary reply, a binary message relayed from
// node a to node b through Redis, and a binary push made on node a's API
// for a client of node b, each as an ArrayBuffer with the exact bytes.
TEST(BinaryDeliveryTest, ChromiumGetsWebhookRepliesAndClusterRelaysAsBinary) {
  WebhookBackend backend;
  ASSERT_NE(backend.port(), 0) << "the backend did not start";
  uint16_t redis_port = FreePort();
  RedisServer redis(redis_port);
  std::string root = absl::StrCat(getenv("TEST_TMPDIR"), "/relay-site");
  mkdir(root.c_str(), 0755);
  auto config = [&](const char* node, const std::string& more) {
    return absl::StrCat("global { cluster { redis: \"redis://127.0.0.1:", redis_port,
                        "\" node_id: \"", node, "\" } }\n", kServices, more);
  };
  auto a = SockmanProcess::Start(
      config("a", absl::StrCat("service { name: \"gw\" listen: \"ws://127.0.0.1:0\" webhook { "
                               "url: \"http://127.0.0.1:",
                               backend.port(),
                               "/events\" events: MESSAGE } }\n"
                               "service { name: \"site\" listen: \"http://127.0.0.1:0\" static { "
                               "root: \"",
                               root, "\" } }\n")),
      "relay_a", ShortTempDir());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = SockmanProcess::Start(config("b", ""), "relay_b", ShortTempDir());
  ASSERT_TRUE(b.ok()) << b.status();
  std::string subscribed = WaitForRedisSubscribers(redis_port, "sockman:chat", 4);
  ASSERT_TRUE(absl::EndsWith(subscribed, "\n4\n")) << subscribed;

  std::ofstream(root + "/big.bin") << std::string(8 << 20, '\0');
  std::ofstream(root + "/index.html") << absl::StrCat(
      kPageStart, R"(const hook = new WebSocket('ws://127.0.0.1:)", (*a)->port("gw"), R"(/');
const sender = new WebSocket('ws://127.0.0.1:)",
      (*a)->port("chat"), R"(/');
const receiver = new WebSocket('ws://127.0.0.1:)",
      (*b)->port("chat"), R"(/');
for (const ws of [hook, sender, receiver]) {
  ws.binaryType = 'arraybuffer';
  ws.onclose = () => { closed++; };
}
let opened = 0;
function start() {
  if (++opened < 3) return;
  hook.send('hex:ff00c328a0');
  hook.send('plain');
  sender.send(new Uint8Array([255, 0, 128, 254]));
  keepBusy();
}
// Virtual time stands still only while a fetch is pending (see above).
let tries = 0;
function keepBusy() {
  if (seen.length >= 5 || ++tries > 500) return;
  fetch('/big.bin').then((r) => r.arrayBuffer()).then(keepBusy, keepBusy);
}
function got(from, e) {
  const what = from + ' ' + describe(e.data);
  if (seen.includes(what)) return;  // pushes repeat until one arrives
  seen.push(what);
  show('so far: ' + seen.join(' | '));
  if (seen.length === 5) show(['all', 'seen'].join('-') + ' ' + seen.slice().sort().join(' | ') + ' closed=' + closed);
}
hook.onmessage = (e) => got('hook', e);
sender.onmessage = (e) => { if (describe(e.data) !== 'binary:195,40,160') got('sender', e); };
receiver.onmessage = (e) => got('receiver', e);
for (const ws of [hook, sender, receiver]) ws.onopen = start;
</script></body></html>
)");
  // Binary pushes on node a's API, until the page has one on node b.
  Shell(absl::StrCat(
      "(for i in $(seq 100); do printf '\\303\\050\\240' | curl -s -o /dev/null -X POST "
      "-H 'Content-Type: application/octet-stream' --data-binary @- http://127.0.0.1:",
      (*a)->port("api"), "/all; sleep 0.2; done) >/dev/null 2>&1 &"));
  std::string dom =
      ChromiumDumpDom(absl::StrCat("http://127.0.0.1:", (*a)->port("site"), "/"), "all-seen");
  EXPECT_TRUE(absl::StrContains(
      dom,
      "all-seen hook binary:255,0,195,40,160 | hook text:echo: plain | receiver "
      "binary:195,40,160 | receiver binary:255,0,128,254 | sender binary:255,0,128,254 "
      "closed=0"))
      << dom;
}

}  // namespace
}  // namespace sockman::testing
