// The pusher handler on the real binary, driven by the real Pusher
// libraries from npm (integration/node/pusher_clients.js): pusher-js as the
// clients, the `pusher` server SDK for triggers, channel authorization and
// HTTP API queries; two workers, so subscribers sit on either.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

constexpr char kConfig[] = R"(
service {
  name: "pusher"
  listen: "http://127.0.0.1:0"
  count: 2
  reuse_port: true
  pusher { app { id: "app1" key: "key1" secret: "secret-one-123" } }
}
)";

TEST(PusherTest, PusherJsAndTheServerSdk) {
  auto server = SockmanProcess::Start(kConfig, "pusher", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  std::string out =
      Shell(absl::StrCat("NODE_PATH=", modules != nullptr ? modules : "",
                         " timeout 60 node integration/node/pusher_clients.js ",
                         (*server)->port("pusher"), " app1 key1 secret-one-123 2>&1"));
  EXPECT_TRUE(absl::StrContains(out, "PASS")) << out;
}

// The wire as sockman sends it, without a library in between.
TEST(PusherTest, RawProtocol) {
  auto server = SockmanProcess::Start(kConfig, "pusher", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("pusher");
  WebSocketClient ws(port, "/app/key1?protocol=7&client=raw&version=1.0");
  ASSERT_TRUE(ws.ok());
  std::string established = ws.Next();
  EXPECT_TRUE(absl::StrContains(established, R"("event":"pusher:connection_established")"))
      << established;
  EXPECT_TRUE(absl::StrContains(established, R"(\"activity_timeout\":120)")) << established;
  ws.Send(R"({"event":"pusher:ping","data":{}})");
  EXPECT_EQ(ws.Next(), R"({"event":"pusher:pong","data":{}})");
  ws.Send("not json");
  EXPECT_TRUE(absl::StrContains(ws.Next(), R"("event":"pusher:error")"));
  ws.Send(R"({"event":"pusher:subscribe","data":{"channel":"bad name"}})");
  EXPECT_TRUE(absl::StrContains(ws.Next(), "Invalid channel name"));
  ws.Send(R"({"event":"pusher:subscribe","data":{"channel":"private-x","auth":"key1:00"}})");
  EXPECT_TRUE(absl::StrContains(ws.Next(), R"("event":"pusher:subscription_error")"));
  ws.Send(R"({"event":"pusher:subscribe","data":{"channel":"public"}})");
  EXPECT_EQ(ws.Next(),
            R"({"event":"pusher_internal:subscription_succeeded","channel":"public","data":"{}"})");
  // A client event on a public channel is refused; the connection stays.
  ws.Send(R"({"event":"client-x","channel":"public","data":{}})");
  EXPECT_TRUE(absl::StrContains(ws.Next(), "private and presence channels only"));

  // Unknown key and missing protocol: told, then closed with the code.
  WebSocketClient stranger(port, "/app/nope?protocol=7");
  ASSERT_TRUE(stranger.ok());
  EXPECT_TRUE(absl::StrContains(stranger.Next(), R"("code":4001)"));
  WebSocketClient old(port, "/app/key1");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(absl::StrContains(old.Next(), R"("code":4008)"));

  // The API refuses unsigned and stale requests.
  std::string unsigned_post = Shell(absl::StrCat(
      "curl -s -w ' %{http_code}' -d '{}' http://127.0.0.1:", port, "/apps/app1/events"));
  EXPECT_TRUE(absl::EndsWith(unsigned_post, " 401")) << unsigned_post;
  std::string unknown = Shell(
      absl::StrCat("curl -s -w ' %{http_code}' http://127.0.0.1:", port, "/apps/other/channels"));
  EXPECT_TRUE(absl::EndsWith(unknown, " 404")) << unknown;
}

// A headless Chromium page using pusher-js (its browser build, from a local
// file) subscribes and receives server events.
TEST(PusherTest, ChromiumWithPusherJs) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  ASSERT_NE(modules, nullptr);
  std::string root = absl::StrCat(getenv("TEST_TMPDIR"), "/pusher-site");
  mkdir(root.c_str(), 0755);
  std::ifstream library(absl::StrCat(modules, "/pusher-js/dist/web/pusher.min.js"));
  ASSERT_TRUE(library.good());
  std::ofstream(root + "/pusher.min.js") << library.rdbuf();
  auto server = SockmanProcess::Start(
      absl::StrCat(kConfig,
                   "service { name: \"site\" listen: \"http://127.0.0.1:0\" static { root: \"",
                   root, "\" } }\n"),
      "pusher", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("pusher");
  // Two pusher-js clients in the page: both subscribe to a private channel
  // (authorized in the page with WebCrypto's HMAC, as a backend would), and
  // one's client event reaches the other.
  std::ofstream(root + "/index.html") << absl::StrCat(R"(<!DOCTYPE html><html><body>
<div id="result">pending</div>
<script src="/pusher.min.js"></script>
<script>
async function sign(data) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('secret-one-123'),
      { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(data)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}
function client() {
  return new Pusher('key1', { wsHost: '127.0.0.1', wsPort: )",
                                                      port, R"(, forceTLS: false,
    enabledTransports: ['ws'], cluster: 'mt1',
    channelAuthorization: { customHandler: (p, done) =>
        sign(p.socketId + ':' + p.channelName).then((s) => done(null, { auth: 'key1:' + s })) } });
}
const a = client(), b = client();
let ready = 0;
const ca = a.subscribe('private-browser'), cb = b.subscribe('private-browser');
cb.bind('client-hello', (data) => {
  document.getElementById('result').textContent = 'pusher' + '-ok from ' + data.from +
      ' to ' + b.connection.socket_id;
});
const go = () => { if (++ready == 2) ca.trigger('client-hello', { from: a.connection.socket_id }); };
ca.bind('pusher:subscription_succeeded', go);
cb.bind('pusher:subscription_succeeded', go);
</script></body></html>
)");
  std::string dom = ChromiumDumpDom(absl::StrCat("http://127.0.0.1:", (*server)->port("site"), "/"),
                                    "pusher-ok from");
  EXPECT_TRUE(absl::StrContains(dom, "pusher-ok from ")) << dom;
}

}  // namespace
}  // namespace sockman::testing
