// UDP services on the real binary: udp:// echo, text and frame over
// `transport: UDP` (several messages per datagram, a partial one dropped),
// replies to each sender's own address, oversized datagrams counted and
// dropped, reuse_port spreading datagrams over workers, IPv6, and config
// errors for what does not apply to datagrams.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/socket_address.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

// A UDP client socket "connected" to the server (so it only hears it).
class UdpClient {
 public:
  UdpClient(uint16_t port, const std::string& host = "127.0.0.1") {
    SocketAddress address = *SocketAddress::Parse(host, port);
    fd_ = socket(address.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    connect(fd_, address.sockaddr_ptr(), address.length());
  }
  ~UdpClient() { close(fd_); }
  void Send(const std::string& datagram) { send(fd_, datagram.data(), datagram.size(), 0); }
  // The next datagram, or "<timeout>".
  std::string Receive(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return "<timeout>";
    char buf[70000];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<error>" : std::string(buf, n);
  }

 private:
  int fd_ = -1;
};

class UdpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = SockmanProcess::Start(R"(
service { name: "raw" listen: "udp://127.0.0.1:0" echo {} }
service { name: "lines" listen: "text://127.0.0.1:0" transport: UDP echo { prefix: "> " } }
service { name: "frames" listen: "frame://127.0.0.1:0" transport: UDP echo {} }
service { name: "small" listen: "udp://127.0.0.1:0" limits { max_package_size: 100 } echo {} }
service { name: "spread" listen: "udp://127.0.0.1:0" count: 2 reuse_port: true echo {} }
service { name: "six" listen: "udp://[::1]:0" echo {} }
)",
                                         "udp", ShortTempDir());
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }
  static std::string Status() {
    return RunSockman({"status", "--json", "-c", server_->config_path()}).out;
  }
  static SockmanProcess* server_;
};

SockmanProcess* UdpTest::server_ = nullptr;

TEST_F(UdpTest, EchoRepliesToEachSender) {
  EXPECT_TRUE(absl::StartsWith(server_->uri("raw"), "udp://127.0.0.1:"));
  UdpClient a(server_->port("raw"));
  UdpClient b(server_->port("raw"));
  a.Send("from a");
  b.Send("from b");
  EXPECT_EQ(a.Receive(), "from a");
  EXPECT_EQ(b.Receive(), "from b");
  a.Send(std::string(60000, 'x'));  // a big datagram comes back whole
  EXPECT_EQ(a.Receive().size(), 60000u);
  a.Send("");  // an empty datagram is no message
  EXPECT_EQ(a.Receive(300), "<timeout>");
}

TEST_F(UdpTest, TextAndFrameOverUdp) {
  UdpClient lines(server_->port("lines"));
  lines.Send("one\ntwo\r\npartial");  // two lines; the partial one is dropped
  EXPECT_EQ(lines.Receive(), "> one\n");
  EXPECT_EQ(lines.Receive(), "> two\n");
  EXPECT_EQ(lines.Receive(300), "<timeout>");
  UdpClient frames(server_->port("frames"));
  frames.Send(Frame("f1") + Frame("f2"));
  EXPECT_EQ(frames.Receive(), Frame("f1"));
  EXPECT_EQ(frames.Receive(), Frame("f2"));
}

TEST_F(UdpTest, OversizedDatagramsAreCountedAndDropped) {
  UdpClient client(server_->port("small"));
  client.Send(std::string(101, 'x'));
  EXPECT_EQ(client.Receive(500), "<timeout>");
  client.Send(std::string(100, 'y'));
  EXPECT_EQ(client.Receive(), std::string(100, 'y'));
  EXPECT_TRUE(absl::StrContains(Status(), "\"datagrams_dropped\":1")) << Status();
}

TEST_F(UdpTest, ReusePortSpreadsDatagramsOverWorkers) {
  for (int i = 0; i < 40; ++i) {
    UdpClient client(server_->port("spread"));  // a new source port each time
    client.Send(absl::StrCat("n", i));
    EXPECT_EQ(client.Receive(), absl::StrCat("n", i));
  }
  // Both workers of "spread" answered some.
  std::string json = Status();
  std::regex worker("\"service\":\"spread\"[^}]*\"requests\":(\\d+)");
  int busy = 0, total = 0;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), worker);
       it != std::sregex_iterator(); ++it) {
    int requests = std::stoi((*it)[1]);
    total += requests;
    if (requests > 0) ++busy;
  }
  EXPECT_EQ(total, 40) << json;
  EXPECT_EQ(busy, 2) << json;
}

TEST_F(UdpTest, Ipv6) {
  UdpClient client(server_->port("six"), "::1");
  client.Send("over six");
  EXPECT_EQ(client.Receive(), "over six");
}

TEST(UdpConfigTest, WhatDoesNotApplyToDatagramsIsAnError) {
  auto check = [](const std::string& service) {
    std::string path =
        WriteTempFile("udp_check.textproto", "service { name: \"u\" " + service + " echo {} }\n");
    return RunSockman({"check", "-c", path}).err;
  };
  EXPECT_TRUE(absl::StrContains(check("listen: \"udp://127.0.0.1:0\" heartbeat { interval_ms: "
                                      "1000 }"),
                                "heartbeat: does not apply to UDP services"));
  EXPECT_TRUE(
      absl::StrContains(check("listen: \"udp://127.0.0.1:0\" limits { max_connections: 5 }"),
                        "limits.max_connections: does not apply to UDP services"));
  EXPECT_TRUE(absl::StrContains(check("listen: \"ws://127.0.0.1:0\" transport: UDP"),
                                "UDP carries udp://, text://, frame:// and framing:// services, not ws://"));
  EXPECT_TRUE(absl::StrContains(check("listen: \"udp://127.0.0.1:0\" transport: TCP"),
                                "transport: udp:// services are datagrams"));
}

}  // namespace
}  // namespace sockman::testing
