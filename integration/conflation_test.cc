// Broadcast conflation on the real binary: a burst of publications to a
// group reaches its clients as the first at once and then only the latest
// of each conflate_ms window; other groups are not held up.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

TEST(ConflationTest, TheLatestPerWindow) {
  auto server = SockmanProcess::Start(R"(
service { name: "ticker" listen: "ws://127.0.0.1:0" count: 2
  broadcast { rooms_from_path: true conflate_ms: 400 } }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "ticker" } }
)",
                                      "conflation", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  SockmanProcess& s = **server;
  WebSocketClient prices(s.port("ticker"), "/rooms/prices");
  WebSocketClient news(s.port("ticker"), "/rooms/news");
  usleep(200'000);
  auto start = std::chrono::steady_clock::now();
  Shell(
      absl::StrCat("for i in $(seq 1 30); do curl -s -o /dev/null --data-binary $i "
                   "http://127.0.0.1:",
                   s.port("api"), "/groups/prices; done"));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Shell(absl::StrCat("curl -s -o /dev/null --data-binary flash http://127.0.0.1:", s.port("api"),
                     "/groups/news"));
  EXPECT_EQ(news.Next(), "flash");  // another group: not held behind prices
  std::vector<std::string> got;
  for (std::string m = prices.Next(1500); m != "<none>"; m = prices.Next(1500)) got.push_back(m);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), "1");  // the first at once
  EXPECT_EQ(got.back(), "30");  // the latest is never lost
  // One per 400 ms window, at most, over the burst's length.
  EXPECT_LE(got.size(), static_cast<size_t>(seconds / 0.4) + 2) << seconds << " s";
  EXPECT_LT(got.size(), 30u);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(std::stoi(got[i - 1]), std::stoi(got[i]));
  // After a quiet window, the next opens a new one (and is delivered).
  usleep(900'000);
  Shell(absl::StrCat("curl -s -o /dev/null --data-binary again http://127.0.0.1:", s.port("api"),
                     "/groups/prices"));
  EXPECT_EQ(prices.Next(), "again");
}

}  // namespace
}  // namespace sockman::testing
