// Every protocol over IPv6 loopback ([::1]) as well as IPv4: tcp, text,
// frame, http (curl), websocket (raw frames and Node's ws), dual-stack [::]
// and ipv6_only, and remote addresses in bracket form in `connections`.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

class Ipv6Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = SockmanProcess::Start(R"(
service { name: "tcp" listen: "tcp://[::1]:0" echo {} }
service { name: "text" listen: "text://[::1]:0" echo { prefix: "> " } }
service { name: "frame" listen: "frame://[::1]:0" echo {} }
service { name: "http" listen: "http://[::1]:0" respond { body: "six\n" } }
service { name: "ws" listen: "ws://[::1]:0" limits { max_package_size: 20000000 } echo {} }
service { name: "dual" listen: "text://[::]:0" echo {} }
service { name: "only6" listen: "text://[::]:0" ipv6_only: true echo {} }
)",
                                         "ipv6", ShortTempDir());
    if (!started.ok() && absl::StrContains(started.status().message(), "Cannot assign")) {
      skip_ = true;
      return;
    }
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override {
    if (skip_) GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  static SockmanProcess* server_;
  static bool skip_;
};

SockmanProcess* Ipv6Test::server_ = nullptr;
bool Ipv6Test::skip_ = false;

TEST_F(Ipv6Test, StartupLinesUseBrackets) {
  EXPECT_TRUE(absl::StartsWith(server_->uri("tcp"), "tcp://[::1]:")) << server_->uri("tcp");
  EXPECT_TRUE(absl::StartsWith(server_->uri("dual"), "text://[::]:")) << server_->uri("dual");
}

TEST_F(Ipv6Test, StreamProtocols) {
  TestClient tcp(server_->port("tcp"), "::1");
  ASSERT_TRUE(tcp.Send("raw bytes"));
  EXPECT_EQ(tcp.ReadExactly(9), "raw bytes");
  TestClient text(server_->port("text"), "::1");
  ASSERT_TRUE(text.Send("line\n"));
  EXPECT_EQ(text.ReadLine(), "> line");
  TestClient frame(server_->port("frame"), "::1");
  ASSERT_TRUE(frame.Send(Frame("payload")));
  EXPECT_EQ(frame.ReadExactly(11), Frame("payload"));
}

TEST_F(Ipv6Test, HttpWithCurl) {
  EXPECT_EQ(Shell(absl::StrCat("curl -gs http://[::1]:", server_->port("http"), "/")), "six\n");
}

TEST_F(Ipv6Test, WebSocketRawAndNode) {
  WebSocketClient upgraded(server_->port("ws"), "/", "::1");
  EXPECT_TRUE(upgraded.ok());
  TestClient& ws = upgraded.socket();
  ASSERT_TRUE(ws.Send(ClientFrame(0x81, "over six")));
  EXPECT_EQ(ws.ReadExactly(10), "\x81\x08over six");

  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  ASSERT_NE(modules, nullptr) << "run through ./bazelw, which installs Node's ws";
  EXPECT_EQ(Shell(absl::StrCat("NODE_PATH=", modules,
                               " timeout 60 node integration/node/ws_echo_client.js ws://[::1]:",
                               server_->port("ws"), "/ plain")),
            "ok 15\n");
}

TEST_F(Ipv6Test, DualStackUnlessIpv6Only) {
  TestClient v4(server_->port("dual"), "127.0.0.1");
  ASSERT_TRUE(v4.connected());
  ASSERT_TRUE(v4.Send("four\n"));
  EXPECT_EQ(v4.ReadLine(), "four");
  TestClient v6(server_->port("dual"), "::1");
  ASSERT_TRUE(v6.Send("six\n"));
  EXPECT_EQ(v6.ReadLine(), "six");
  TestClient only_v4(server_->port("only6"), "127.0.0.1");
  EXPECT_FALSE(only_v4.connected());
  TestClient only_v6(server_->port("only6"), "::1");
  ASSERT_TRUE(only_v6.Send("six\n"));
  EXPECT_EQ(only_v6.ReadLine(), "six");
}

TEST_F(Ipv6Test, ConnectionsShowBracketedRemotes) {
  TestClient v6(server_->port("text"), "::1");
  ASSERT_TRUE(v6.Send("hi\n"));
  EXPECT_EQ(v6.ReadLine(), "> hi");
  CommandResult out = RunSockman({"connections", "-c", server_->config_path()});
  EXPECT_TRUE(absl::StrContains(out.out, "[::1]:")) << out.out << out.err;
}

}  // namespace
}  // namespace sockman::testing
