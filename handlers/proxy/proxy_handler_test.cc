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
  EXPECT_FALSE(HandlerHarness::Create("proxy", "upstream: 'tcp://127.0.0.1:80'", "udp").ok());
  EXPECT_FALSE(HandlerHarness::Create(
                   "proxy", "upstream: 'tcp://127.0.0.1:80' upstream: 'ws://127.0.0.1:81'", "tcp")
                   .ok());
  EXPECT_FALSE(
      HandlerHarness::Create("proxy", "upstream: 'tcp://127.0.0.1:80' connect_timeout_ms: 1", "tcp")
          .ok());
}

TEST(HttpProxyConfigTest, RefusesBadSettingsWithTheFieldAtFault) {
  auto error = [](const std::string& text) {
    return std::string(HandlerHarness::Create("proxy", text, "http").status().message());
  };
  EXPECT_TRUE(HandlerHarness::Create("proxy", "upstream: 'http://127.0.0.1:8080'", "http").ok());
  EXPECT_TRUE(
      HandlerHarness::Create("proxy", "server { url: 'https://[::1]' weight: 5 }", "http").ok());
  EXPECT_EQ(error(""), "needs an upstream (or a server)");
  EXPECT_EQ(error("upstream: 'tcp://127.0.0.1:80'"),
            "upstream[0]: 'tcp://127.0.0.1:80' must be http://HOST:PORT or https://HOST:PORT");
  EXPECT_EQ(error("upstream: 'http://h:80/app'"),
            "upstream[0]: 'http://h:80/app': an upstream is HOST:PORT only (the request's path is "
            "passed as it is)");
  EXPECT_EQ(error("upstream: 'http://h:0'"), "upstream[0]: 'http://h:0' needs a port 1-65535");
  EXPECT_EQ(error("upstream: 'http://:80'"), "upstream[0]: 'http://:80' has no host");
  EXPECT_EQ(error("server { weight: 2 }"), "server[0].url: required");
  EXPECT_EQ(error("server { url: 'http://h:1' weight: 0 }"), "server[0]: weight must be 1-1000");
  EXPECT_EQ(error("upstream: 'http://h:1' hash_key: 'client_ip'"),
            "hash_key: only with balance: HASH");
  EXPECT_EQ(error("upstream: 'http://h:1' balance: HASH hash_key: 'cookie:'"),
            "hash_key: 'cookie:' must be \"client_ip\", \"header:NAME\" or \"cookie:NAME\"");
  EXPECT_EQ(error("upstream: 'http://h:1' retries: 11"), "retries: must be between 0 and 10");
  EXPECT_EQ(error("upstream: 'http://h:1' health_check { path: 'healthz' }"),
            "health_check.path: must start with / and hold no space or control byte");
  EXPECT_EQ(error("upstream: 'http://h:1' health_check { rise: 0 }"),
            "health_check.rise: must be 1-100");
  EXPECT_EQ(error("upstream: 'http://h:1' set_header: 'X-Bad'"),
            "set_header[0]: 'X-Bad' is not a \"Name: value\" header line");
  EXPECT_EQ(error("upstream: 'http://h:1' set_header: 'Connection: close'"),
            "set_header[0]: the proxy sets Connection itself");
  EXPECT_EQ(error("upstream: 'http://h:1' remove_header: 'a b'"),
            "remove_header[0]: 'a b' is not a header name");
  EXPECT_EQ(error("upstream: 'http://h:1' ca_file: '/x.pem'"),
            "ca_file: only for https:// upstreams");
  EXPECT_EQ(error("upstream: 'http://h:1' pool { idle_timeout_ms: 5 }"),
            "pool.idle_timeout_ms: must be between 100 and 3600000");
  // The byte proxy refuses the HTTP proxy's fields.
  EXPECT_EQ(std::string(HandlerHarness::Create("proxy",
                                               "upstream: 'tcp://127.0.0.1:80' "
                                               "server { url: 'http://h:1' }",
                                               "tcp")
                            .status()
                            .message()),
            "server: only for the HTTP proxy (an http service)");
}

}  // namespace
}  // namespace sockman::testing
