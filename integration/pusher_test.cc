// The pusher handler on the real binary, driven by the real Pusher
// libraries from npm (integration/node/pusher_clients.js): pusher-js as the
// clients, the `pusher` server SDK for triggers, channel authorization and
// HTTP API queries; two workers, so subscribers sit on either.
#include <cstdlib>
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

}  // namespace
}  // namespace sockman::testing
