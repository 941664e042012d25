#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

// A port on loopback that nothing listens on (bound, then closed).
uint16_t DeadPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(ProxyHandlerTest, AClientIsClosedWhenItsUpstreamIsDown) {
  auto harness = HandlerHarness::Create(
      "proxy", absl::StrCat("upstream: 'tcp://127.0.0.1:", DeadPort(), "'"), "tcp");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  client->Send("hello");
  EXPECT_TRUE((*harness)->RunUntil([&] { return client->closed(); }));
  EXPECT_GE((*harness)->handler().backend_errors(), 1u);
}

TEST(ProxyHandlerConfigTest, RefusesBadUpstreams) {
  EXPECT_EQ(HandlerHarness::Create("proxy", "", "tcp").status().message(), "needs an upstream");
  EXPECT_FALSE(HandlerHarness::Create("proxy", "upstream: 'tcp://127.0.0.1:0'", "tcp").ok());
  EXPECT_FALSE(HandlerHarness::Create("proxy", "upstream: 'tcp://127.0.0.1:80'", "http").ok());
  EXPECT_FALSE(HandlerHarness::Create(
                   "proxy", "upstream: 'tcp://127.0.0.1:80' upstream: 'ws://127.0.0.1:81'", "tcp")
                   .ok());
  EXPECT_FALSE(
      HandlerHarness::Create("proxy", "upstream: 'tcp://127.0.0.1:80' connect_timeout_ms: 1", "tcp")
          .ok());
}

}  // namespace
}  // namespace sockman::testing
