#include "absl/strings/str_cat.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

TEST(ProxyHandlerTest, AClientIsClosedWhenItsUpstreamIsDown) {
  auto harness = HandlerHarness::Create(
      "proxy", absl::StrCat("upstream: 'tcp://127.0.0.1:", FreeLoopbackPort(), "'"), "tcp");
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
