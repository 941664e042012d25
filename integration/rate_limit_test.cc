// Per-connection rate limits on the real binary, each action measured: a
// flooding client gets its burst and its rate and no more (within 5%),
// PAUSE delivers everything at the rate, CLOSE closes a WebSocket with 1008.
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Echoed lines until none comes for `quiet_ms`.
int CountEchoes(TestClient& client, int quiet_ms = 500) {
  int n = 0;
  while (!client.ReadLine(quiet_ms).empty()) ++n;
  return n;
}

class RateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = SockmanProcess::Start(R"(
service { name: "drop" listen: "text://127.0.0.1:0"
  rate_limit { messages_per_second: 50 burst: 10 } echo {} }
service { name: "pause" listen: "text://127.0.0.1:0"
  rate_limit { messages_per_second: 100 burst: 10 action: PAUSE } echo {} }
service { name: "close" listen: "ws://127.0.0.1:0"
  rate_limit { messages_per_second: 5 burst: 5 action: CLOSE } echo {} }
service { name: "bytes" listen: "text://127.0.0.1:0"
  rate_limit { bytes_per_second: 1000 bytes_burst: 1000 } echo {} }
service { name: "site" listen: "http://127.0.0.1:0"
  route { name: "ws" match { path: "/ws" } websocket {}
    rate_limit { messages_per_second: 5 burst: 5 action: CLOSE } echo {} }
  route { name: "limited-api" match { prefix: "/api" }
    rate_limit { messages_per_second: 2 burst: 5 per_ip: true } respond { body: "ok" } } }
service { name: "perip" listen: "text://127.0.0.1:0" count: 2 reuse_port: true
  rate_limit { messages_per_second: 10 burst: 20 per_ip: true } echo {} }
service { name: "room" listen: "text://127.0.0.1:0" count: 2 reuse_port: true
  rate_limit { messages_per_second: 1 burst: 10 per_uid: true }
  broadcast { notify_join: "join {client_id}" } }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "room" } }
service { name: "groups" listen: "text://127.0.0.1:0" count: 2 reuse_port: true
  broadcast { group_rate_limit { messages_per_second: 1 burst: 5 } } }
service { name: "metrics" listen: "http://127.0.0.1:0" metrics {} }
)",
                                        "rate_limit", ShortTempDir());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::unique_ptr<SockmanProcess> server_;
};

TEST_F(RateLimitTest, DropKeepsTheBurstAndTheRate) {
  TestClient flood(server_->port("drop"));
  std::string burst;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&burst, "m", i, "\n");
  flood.Send(burst);
  const int first = CountEchoes(flood);
  EXPECT_GE(first, 10);
  EXPECT_LE(first, 12);  // the burst, and what 50/s refills while it is read
  // Paced at 250/s for two seconds, after a second of quiet (a full bucket).
  sleep(1);
  auto start = Clock::now(), last = start;
  int sent = 0;
  for (; Seconds(start, Clock::now()) < 2.0; ++sent) {
    flood.Send(absl::StrCat("p", sent, "\n"));
    last = Clock::now();
    auto next = start + std::chrono::microseconds(4000 * (sent + 1));
    std::this_thread::sleep_until(next);
  }
  int got = CountEchoes(flood);
  double expected = 10 + 50 * Seconds(start, last);
  EXPECT_LE(got, expected * 1.05 + 1) << sent << " sent";
  EXPECT_GE(got, expected * 0.95 - 1) << sent << " sent";
  std::string metrics =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", server_->port("metrics"), "/metrics"));
  std::string line = "sockman_rate_limited_total{service=\"drop\",worker=\"0\",action=\"drop\"} ";
  size_t at = metrics.find(line);
  ASSERT_NE(at, std::string::npos) << metrics;
  // Every message not echoed was dropped, and counted.
  EXPECT_EQ(std::stoi(metrics.substr(at + line.size())), 1000 + sent - first - got);
}

TEST_F(RateLimitTest, PauseDeliversEverythingAtTheRate) {
  TestClient client(server_->port("pause"));
  std::string burst;
  for (int i = 0; i < 310; ++i) absl::StrAppend(&burst, "m", i, "\n");
  client.Send(burst);
  EXPECT_EQ(client.ReadLine(), "m0");
  auto first = Clock::now();
  int got = 1;
  std::string line;
  while (!(line = client.ReadLine(1000)).empty()) {
    EXPECT_EQ(line, absl::StrCat("m", got));  // in order, none lost
    ++got;
  }
  auto end = Clock::now();
  EXPECT_EQ(got, 310);
  // 10 of burst, then 300 at 100/s: 3 s. No faster than the rate (5%).
  double elapsed = Seconds(first, end) - 1.0;  // the last second was the quiet wait
  EXPECT_GE(elapsed, 300 / 100.0 / 1.05) << elapsed;
}

TEST_F(RateLimitTest, CloseEndsAWebSocketWith1008) {
  // A websocket:// service's, and an http:// service's WebSocket route's.
  for (const auto& [service, path] :
       std::vector<std::pair<std::string, std::string>>{{"close", "/"}, {"site", "/ws"}}) {
    TestClient ws(server_->port(service));
    ws.Send(absl::StrCat("GET ", path,
                         " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n"));
    for (std::string l = ws.ReadLine(); l != "\r" && !ws.eof(); l = ws.ReadLine()) {
    }
    std::string frames;
    for (int i = 0; i < 10; ++i) frames += std::string("\x81\x81\0\0\0\0", 6) + "x";
    ws.Send(frames);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ws.ReadExactly(3), "\x81\x01x") << service << i;
    EXPECT_EQ(ws.ReadExactly(23), std::string("\x88\x15\x03\xf0", 4) + "rate limit exceeded")
        << service;
    EXPECT_TRUE(ws.WaitClosed(3000));
  }
}

TEST_F(RateLimitTest, BytesBucket) {
  TestClient client(server_->port("bytes"));
  std::string lines;
  for (int i = 0; i < 10; ++i) lines += std::string(200, 'a' + i) + "\n";
  client.Send(lines);
  EXPECT_EQ(CountEchoes(client), 5);  // 1000 bytes of burst: five 200-byte messages
}

// An HTTP route: requests per client address, as nginx's limit_req; over
// the budget, 429 with Retry-After, counted per route.
TEST_F(RateLimitTest, HttpRoutesAnswer429OverTheLimit) {
  std::string codes = Shell(absl::StrCat(
      "for i in $(seq 12); do curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:",
      server_->port("site"), "/api/x; done"));
  int ok = 0, limited = 0;
  for (absl::string_view code : absl::StrSplit(codes, ' ', absl::SkipEmpty())) {
    ok += code == "200";
    limited += code == "429";
  }
  EXPECT_GE(ok, 5) << codes;  // the burst, and what 2/s refills meanwhile
  EXPECT_LE(ok, 7) << codes;
  EXPECT_EQ(ok + limited, 12) << codes;
  std::string refused = Shell(
      absl::StrCat("curl -s -D - -o /dev/null http://127.0.0.1:", server_->port("site"), "/api/y"));
  EXPECT_TRUE(absl::StrContains(refused, "429")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "Retry-After: 1")) << refused;
  std::string metrics =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", server_->port("metrics"), "/metrics"));
  EXPECT_TRUE(absl::StrContains(metrics, "sockman_route_rate_limited_total{service=\"site\""))
      << metrics;
}

TEST_F(RateLimitTest, PerIpBucketsSpanConnectionsAndWorkers) {
  // Four connections from 127.0.0.1, across two workers, 20 lines each:
  // together they get the address's burst of 20 (and what 10/s refills).
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 4; ++i)
    clients.push_back(std::make_unique<TestClient>(server_->port("perip")));
  auto start = Clock::now();
  for (auto& client : clients) {
    std::string lines;
    for (int i = 0; i < 20; ++i) absl::StrAppend(&lines, "m", i, "\n");
    client->Send(lines);
  }
  int got = 0;
  for (auto& client : clients) got += CountEchoes(*client, 300);
  double seconds = Seconds(start, Clock::now());
  EXPECT_GE(got, 20);
  EXPECT_LE(got, 20 + 10 * seconds + 1) << seconds;
}

TEST_F(RateLimitTest, PerUidBucketsSpanTheUidsConnections) {
  // Two connections (on either worker) bound to one uid share its burst of
  // 10; an observer counts what reaches the room.
  TestClient observer(server_->port("room"));
  EXPECT_TRUE(absl::StartsWith(observer.ReadLine(), "join "));
  std::vector<std::unique_ptr<TestClient>> alice;
  for (int i = 0; i < 2; ++i) {
    alice.push_back(std::make_unique<TestClient>(server_->port("room")));
    std::string id = alice.back()->ReadLine().substr(5);  // its own join notice
    EXPECT_TRUE(absl::StartsWith(observer.ReadLine(), "join "));
    std::string bound =
        Shell(absl::StrCat("curl -s -m 5 -X PUT --data-binary alice "
                           "http://127.0.0.1:",
                           server_->port("api"), "/clients/", id, "/uid"));
    EXPECT_TRUE(absl::StrContains(bound, "1")) << bound;
  }
  for (auto& client : alice) {
    std::string lines;
    for (int i = 0; i < 20; ++i) absl::StrAppend(&lines, "m", i, "\n");
    client->Send(lines);
  }
  int got = CountEchoes(observer, 500);
  EXPECT_GE(got, 10);
  EXPECT_LE(got, 13);  // 10 of burst and a refill of 1/s: not 2 x 10, not 40
}

TEST_F(RateLimitTest, GroupRateLimitSpansSendersAndWorkers) {
  // Three clients in the default group, on either worker; two of them send
  // 10 messages each: the group takes its burst of 5 (and 1/s), no more.
  TestClient observer(server_->port("groups")), a(server_->port("groups")),
      b(server_->port("groups"));
  usleep(200'000);  // all joined
  std::string lines;
  for (int i = 0; i < 10; ++i) absl::StrAppend(&lines, "m", i, "\n");
  a.Send(lines);
  b.Send(lines);
  int got = CountEchoes(observer, 500);
  EXPECT_GE(got, 5);
  EXPECT_LE(got, 7);
  std::string metrics =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", server_->port("metrics"), "/metrics"));
  double dropped = 0;
  for (const char* worker : {"0", "1"}) {
    std::string line = absl::StrCat("sockman_group_rate_limited_total{service=\"groups\",worker=\"",
                                    worker, "\"} ");
    size_t at = metrics.find(line);
    if (at != std::string::npos) dropped += std::stod(metrics.substr(at + line.size()));
  }
  EXPECT_EQ(dropped, 20 - got) << metrics;
}

}  // namespace
}  // namespace sockman::testing
