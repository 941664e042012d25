// rate_limit { cluster: true } on the real binary: two nodes and a real
// redis-server. A client flooding both nodes from one address gets the
// address's limit once for the whole cluster (within 5%), not once per
// node; with Redis gone each node limits on its own.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string NodeConfig(uint16_t redis_port, const std::string& node) {
  return absl::StrCat("global { cluster { redis: \"redis://127.0.0.1:", redis_port,
                      "\" node_id: \"", node, R"(" } }
service { name: "limited" listen: "text://127.0.0.1:0" count: 2 reuse_port: true
  rate_limit { messages_per_second: 100 burst: 20 per_ip: true cluster: true } echo {} }
)");
}

// Sends `per_second` lines a second to each client for `seconds`, then
// counts the echoes all of them got.
int Flood(std::vector<std::unique_ptr<TestClient>>& clients, int per_second, double seconds) {
  auto start = Clock::now();
  int sent = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    for (auto& client : clients) client->Send(absl::StrCat("m", sent, "\n"));
    ++sent;
    std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000 / per_second * sent));
  }
  int got = 0;
  for (auto& client : clients) {
    while (!client->ReadLine(500).empty()) ++got;
  }
  return got;
}

TEST(ClusterRateLimitTest, OneLimitForTheWholeCluster) {
  uint16_t redis_port = FreePort();
  RedisServer redis(redis_port);
  auto a = SockmanProcess::Start(NodeConfig(redis_port, "a"), "node_a", ShortTempDir());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = SockmanProcess::Start(NodeConfig(redis_port, "b"), "node_b", ShortTempDir());
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(std::make_unique<TestClient>((*a)->port("limited")));
    clients.push_back(std::make_unique<TestClient>((*b)->port("limited")));
  }
  // Four connections (two per node, on either worker) at 200 lines/s each
  // for 3 s: 2,400 sent, the address gets its burst and 100/s.
  int got = Flood(clients, 200, 3.0);
  // The burst, 3 s of the rate, and the lease (5 messages, 50 ms of the
  // rate) each node spends before its first grant (docs/security.md).
  double expected = 20 + 100 * 3.0 + 2 * 5;
  std::printf("cluster-wide: %d of %.0f expected\n", got, expected);
  EXPECT_LE(got, expected * 1.05) << got;
  EXPECT_GE(got, expected * 0.95) << got;

  // Redis gone: each node limits the address on its own (about twice the
  // rate in all, never unlimited).
  redis.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  got = Flood(clients, 200, 2.0);
  std::printf("Redis down: %d (each node on its own)\n", got);
  EXPECT_GE(got, 2 * 100 * 2.0 * 0.8) << got;
  EXPECT_LE(got, 2 * (20 + 100 * 2.0) * 1.1 + 40) << got;
}

TEST(ClusterRateLimitTest, ConfigErrors) {
  std::string path = WriteTempFile("cluster_rl.textproto", R"(
service { name: "x" listen: "text://127.0.0.1:0"
  rate_limit { messages_per_second: 1 per_ip: true cluster: true } echo {} })");
  CommandResult check = RunSockman({"check", "-c", path});
  EXPECT_NE(check.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(check.err, "cluster needs `global { cluster")) << check.err;
  path = WriteTempFile("cluster_rl2.textproto", R"(
global { cluster { redis: "redis://127.0.0.1:1" node_id: "a" } }
service { name: "x" listen: "text://127.0.0.1:0"
  rate_limit { messages_per_second: 1 cluster: true } echo {} })");
  check = RunSockman({"check", "-c", path});
  EXPECT_TRUE(absl::StrContains(check.err, "set one of them")) << check.err;
}

}  // namespace
}  // namespace sockman::testing
