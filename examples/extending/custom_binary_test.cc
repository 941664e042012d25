// The custom binary (built-ins + the example modules) runs a config that
// uses each example protocol and module; the stock binary refuses them.
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

constexpr char kCustom[] = "examples/extending/sockman_custom";

class CustomBinaryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("SOCKMAN_BINARY", kCustom, 1);
    text_echo_port_ = FreePort();
    tcp_echo_port_ = FreePort();
    auto started =
        SockmanProcess::Start(absl::StrCat(R"(
service { name: "jsonnl" listen: "jsonnl://127.0.0.1:0" echo {} }
service {
  name: "jsonnl_objects"
  listen: "jsonnl://127.0.0.1:0"
  protocol_options { [type.googleapis.com/example.JsonNlOptions] { objects_only: true } }
  echo {}
}
service { name: "jsonnl_udp" listen: "jsonnl://127.0.0.1:0" transport: UDP echo {} }
service { name: "xml" listen: "xml://127.0.0.1:0" echo {} }
service { name: "jsonint" listen: "jsonint://127.0.0.1:0" echo {} }
service {
  name: "chat"
  listen: "text://127.0.0.1:0"
  module {
    name: "example_chat"
    config { [type.googleapis.com/example.ChatConfig] { greeting: "welcome {id}" max_nick_length: 8 } }
  }
}
service { name: "text_echo" listen: "text://127.0.0.1:)",
                                           text_echo_port_, R"(" echo { prefix: "echo " } }
service {
  name: "ticker"
  listen: "text://127.0.0.1:0"
  module { name: "example_ticker" config_text: "upstream: 'text://localhost:)",
                                           text_echo_port_,
                                           R"(' interval_ms: 50" }
}
service { name: "tcp_echo" listen: "tcp://127.0.0.1:)",
                                           tcp_echo_port_, R"(" echo {} }
service {
  name: "tunnel"
  listen: "tcp://127.0.0.1:0"
  module {
    name: "example_tunnel"
    config { [type.googleapis.com/example.TunnelConfig] { upstream: "tcp://localhost:)",
                                           tcp_echo_port_, R"(" } }
  }
}
)"),
                              "custom", ShortTempDir());
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    unsetenv("SOCKMAN_BINARY");
  }
  static SockmanProcess* server_;
  static uint16_t text_echo_port_;
  static uint16_t tcp_echo_port_;
};

SockmanProcess* CustomBinaryTest::server_ = nullptr;
uint16_t CustomBinaryTest::text_echo_port_ = 0;
uint16_t CustomBinaryTest::tcp_echo_port_ = 0;

TEST_F(CustomBinaryTest, VersionListsTheModules) {
  std::string version = Shell(absl::StrCat(kCustom, " version"));
  EXPECT_TRUE(absl::StrContains(version, "jsonint jsonnl")) << version;
  EXPECT_TRUE(absl::StrContains(version, "example_chat example_ticker example_tunnel")) << version;
}

TEST_F(CustomBinaryTest, TheThreeProtocols) {
  TestClient jsonnl(server_->port("jsonnl"));
  ASSERT_TRUE(jsonnl.Send("{\"hello\": [1, 2]}\n\"two\"\n"));
  EXPECT_EQ(jsonnl.ReadLine(), "{\"hello\": [1, 2]}");
  EXPECT_EQ(jsonnl.ReadLine(), "\"two\"");
  ASSERT_TRUE(jsonnl.Send("{broken\n"));
  EXPECT_TRUE(jsonnl.WaitClosed());  // not JSON: closed

  TestClient xml(server_->port("xml"));
  ASSERT_TRUE(xml.Send("0000000022<a>hello</a>0000000014<b/>"));
  EXPECT_EQ(xml.ReadExactly(36), "0000000022<a>hello</a>0000000014<b/>");

  TestClient jsonint(server_->port("jsonint"));
  std::string frame("\0\0\0\x0b{\"x\":1}", 11);
  ASSERT_TRUE(jsonint.Send(frame.substr(0, 3)));
  usleep(20'000);
  ASSERT_TRUE(jsonint.Send(frame.substr(3)));
  EXPECT_EQ(jsonint.ReadExactly(11), frame);
}

TEST_F(CustomBinaryTest, ChatModuleWithTypedConfig) {
  TestClient a(server_->port("chat"));
  TestClient b(server_->port("chat"));
  std::string welcome_a = a.ReadLine();
  EXPECT_TRUE(absl::StartsWith(welcome_a, "welcome ")) << welcome_a;
  EXPECT_TRUE(absl::StartsWith(b.ReadLine(), "welcome "));
  ASSERT_TRUE(a.Send("/nick alice\n"));
  std::string renamed = absl::StrCat("guest", welcome_a.substr(8), " is now alice");
  EXPECT_EQ(a.ReadLine(), renamed);
  EXPECT_EQ(b.ReadLine(), renamed);
  ASSERT_TRUE(a.Send("hi bob\n"));
  EXPECT_EQ(b.ReadLine(), "alice: hi bob");
  EXPECT_EQ(a.ReadLine(), "alice: hi bob");
  ASSERT_TRUE(a.Send("/nick waytoolongname\n"));
  EXPECT_EQ(a.ReadLine(), "a nickname has 1 to 8 characters");
  // OnWorkerReload runs on `sockman reload`; the unchanged service keeps its clients.
  CommandResult reload = RunSockman({"reload", "-c", server_->config_path()});
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_EQ(a.ReadLine(), "* the server is reloading");
  EXPECT_EQ(b.ReadLine(), "* the server is reloading");
  a.Close();
  EXPECT_EQ(b.ReadLine(), "alice left");
}

TEST_F(CustomBinaryTest, TickerModuleUsesAnOutboundConnectionAndATimer) {
  TestClient client(server_->port("ticker"));
  std::string first = client.ReadLine(5000);
  EXPECT_TRUE(absl::StartsWith(first, "echo tick ")) << first;
  int n = std::stoi(first.substr(10));
  EXPECT_EQ(client.ReadLine(), absl::StrCat("echo tick ", n + 1));
}

TEST_F(CustomBinaryTest, TunnelModulePipesToItsUpstream) {
  TestClient client(server_->port("tunnel"));
  std::string big(1 << 20, 'z');
  ASSERT_TRUE(client.Send("through the tunnel"));
  EXPECT_EQ(client.ReadExactly(18), "through the tunnel");
  ASSERT_TRUE(client.Send(big));
  EXPECT_EQ(client.ReadExactly(big.size()), big);
}

// jsonnl:// has an options block of its own (its binding reads
// protocol_options) and runs over UDP, as a built-in would.
TEST_F(CustomBinaryTest, ProtocolOptionsAndUdp) {
  TestClient objects(server_->port("jsonnl_objects"));
  ASSERT_TRUE(objects.Send("{\"a\": 1}\n"));
  EXPECT_EQ(objects.ReadLine(), "{\"a\": 1}");
  ASSERT_TRUE(objects.Send("[1, 2]\n"));
  EXPECT_TRUE(objects.WaitClosed());  // valid JSON, but not an object
  TestClient plain(server_->port("jsonnl"));
  ASSERT_TRUE(plain.Send("[1, 2]\n"));
  EXPECT_EQ(plain.ReadLine(), "[1, 2]");  // the other service keeps the defaults

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server_->port("jsonnl_udp"));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(send(fd, "{\"u\": true}\n", 12, 0), 12);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  char buf[100];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  close(fd);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "{\"u\": true}\n");
}

TEST(ProtocolOptionsTest, ErrorsNameTheField) {
  setenv("SOCKMAN_BINARY", kCustom, 1);
  std::string wrong_type = WriteTempFile(
      "wrong_type.textproto",
      "service { name: \"j\" listen: \"jsonnl://127.0.0.1:0\"\n"
      "  protocol_options { [type.googleapis.com/example.ChatConfig] { greeting: \"x\" } }\n"
      "  echo {} }\n");
  CommandResult result = RunSockman({"check", "-c", wrong_type});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(result.err,
                                "wrong_type.textproto:2:3: service 'j': "
                                "protocol_options: expects example.JsonNlOptions, "
                                "not 'example.ChatConfig'"))
      << result.err;
  std::string not_taken = WriteTempFile(
      "not_taken.textproto",
      "service { name: \"t\" listen: \"text://127.0.0.1:0\"\n"
      "  protocol_options { [type.googleapis.com/example.JsonNlOptions] { objects_only: true } }\n"
      "  echo {} }\n");
  result = RunSockman({"check", "-c", not_taken});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(result.err, "protocol_options: text:// takes no protocol_options"))
      << result.err;
  unsetenv("SOCKMAN_BINARY");
}

TEST(ModuleConfigTest, ErrorsNameTheFieldAndTheModule) {
  std::string dir = ShortTempDir();
  // The stock binary has no such module, nor the protocol.
  std::string config = WriteTempFile(
      "module.textproto",
      "service { name: \"c\" listen: \"text://127.0.0.1:0\" module { name: \"example_chat\" } }\n");
  CommandResult stock = RunSockman({"check", "-c", config});
  EXPECT_EQ(stock.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(stock.err, "no module 'example_chat' in this binary")) << stock.err;

  setenv("SOCKMAN_BINARY", kCustom, 1);
  std::string bad =
      WriteTempFile("bad_module.textproto",
                    "service { name: \"c\" listen: \"text://127.0.0.1:0\"\n"
                    "  module { name: \"example_chat\" config_text: \"max_nick_length: 0\" } }\n");
  CommandResult custom = RunSockman({"check", "-c", bad});
  EXPECT_EQ(custom.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(custom.err,
                                "bad_module.textproto:2:3: service 'c': module: "
                                "example_chat: max_nick_length must be between 1 and 256"))
      << custom.err;
  std::string typo =
      WriteTempFile("typo_module.textproto",
                    "service { name: \"c\" listen: \"text://127.0.0.1:0\"\n"
                    "  module { name: \"example_chat\" config_text: \"greting: 'x'\" } }\n");
  custom = RunSockman({"check", "-c", typo});
  EXPECT_TRUE(absl::StrContains(custom.err,
                                "config_text (as example.ChatConfig): 1:8: Message type "
                                "\"example.ChatConfig\" has no field named \"greting\""))
      << custom.err;
  std::string builtin = WriteTempFile(
      "builtin_module.textproto",
      "service { name: \"c\" listen: \"text://127.0.0.1:0\" module { name: \"echo\" } }\n");
  custom = RunSockman({"check", "-c", builtin});
  EXPECT_TRUE(absl::StrContains(custom.err, "'echo' is a built-in handler")) << custom.err;
  unsetenv("SOCKMAN_BINARY");
}

}  // namespace
}  // namespace sockman::testing
