// Per-IP connection limits on the real binary: open connections per
// address across two workers, new connections per second, the PROXY
// protocol's client as the address that counts, and HTTP's 429.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

// Whether the echo service answers this client (a refused one sees EOF).
bool Served(TestClient& client) {
  client.Send("ping\n");
  return client.ReadLine(3000) == "ping";
}

TEST(IpLimitsTest, OpenConnectionsPerAddressAcrossWorkers) {
  auto server = SockmanProcess::Start(R"(
service { name: "lines" listen: "text://127.0.0.1:0" count: 2 reuse_port: true
  limits { max_connections_per_ip: 3 } echo {} }
service { name: "web" listen: "http://127.0.0.1:0" count: 2 reuse_port: true
  limits { max_connections_per_ip: 2 } respond { body: "ok" } }
service { name: "relayed" listen: "text://127.0.0.1:0"
  proxy_protocol { trusted: ["127.0.0.1"] } limits { max_connections_per_ip: 1 } echo {} }
service { name: "metrics" listen: "http://127.0.0.1:0" metrics {} }
)",
                                      "ip_limits", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  SockmanProcess& s = **server;
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TestClient>(s.port("lines")));
    EXPECT_TRUE(Served(*held.back())) << i;
  }
  // Whichever worker takes the fourth, the address has three already.
  for (int i = 0; i < 4; ++i) {
    TestClient extra(s.port("lines"));
    EXPECT_FALSE(Served(extra)) << i;
  }
  held.pop_back();  // one closes: room for one more
  usleep(100'000);
  held.push_back(std::make_unique<TestClient>(s.port("lines")));
  EXPECT_TRUE(Served(*held.back()));

  // HTTP: the refused connection is told 429.
  TestClient a(s.port("web")), b(s.port("web"));
  usleep(100'000);
  std::string refused =
      Shell(absl::StrCat("curl -s -i -m 5 http://127.0.0.1:", s.port("web"), "/"));
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 429")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "Retry-After: 1")) << refused;

  // Behind a PROXY sender, the named client is what counts.
  auto relayed = [&](const std::string& client) {
    auto c = std::make_unique<TestClient>(s.port("relayed"));
    c->Send(absl::StrCat("PROXY TCP4 ", client, " 127.0.0.1 5000 7000\r\n"));
    return c;
  };
  auto first = relayed("192.0.2.1");
  EXPECT_TRUE(Served(*first));
  auto second = relayed("192.0.2.1");
  EXPECT_FALSE(Served(*second));
  auto other = relayed("192.0.2.2");
  EXPECT_TRUE(Served(*other));

  std::string metrics =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", s.port("metrics"), "/metrics"));
  double refusals = 0;
  for (const char* worker : {"0", "1"}) {
    std::string line = absl::StrCat("sockman_ip_limit_refusals_total{service=\"lines\",worker=\"",
                                    worker, "\",limit=\"max_connections_per_ip\"} ");
    size_t at = metrics.find(line);
    if (at != std::string::npos) refusals += std::stod(metrics.substr(at + line.size()));
  }
  EXPECT_EQ(refusals, 4) << metrics;
}

TEST(IpLimitsTest, NewConnectionsPerSecond) {
  auto server = SockmanProcess::Start(R"(
service { name: "lines" listen: "text://127.0.0.1:0"
  limits { new_connections_per_ip_per_second: 5 } echo {} }
)",
                                      "ip_rate", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::unique_ptr<TestClient>> burst;
  for (int i = 0; i < 20; ++i)
    burst.push_back(std::make_unique<TestClient>((*server)->port("lines")));
  int served = 0;
  for (auto& client : burst) served += Served(*client);
  // 5 per second: the burst spans at most two seconds.
  EXPECT_GE(served, 5);
  EXPECT_LE(served, 10);
  sleep(1);
  TestClient later((*server)->port("lines"));
  EXPECT_TRUE(Served(later));
}

}  // namespace
}  // namespace sockman::testing
