// Slow readers and slow senders on the real binary: a client that stops
// reading a large response, a slowloris sending its request head a byte at
// a time, and a request body trickling in are cut off (min_send_rate,
// min_receive_rate), while wrk's clients on the same worker see no error.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

class SlowPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ShortTempDir();
    std::ofstream(dir + "/big.bin", std::ios::binary) << std::string(32 << 20, 'x');
    std::ofstream(dir + "/index.html") << "hello\n";
    auto server = SockmanProcess::Start(R"(
service { name: "web" listen: "http://127.0.0.1:0"
  limits { min_send_rate: 65536 min_receive_rate: 200 min_rate_window_ms: 1000 }
  http { header_timeout_ms: 60000 }
  static { root: "." } }
service { name: "metrics" listen: "http://127.0.0.1:0" metrics {} }
)",
                                        "slow_peers", dir);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::unique_ptr<SockmanProcess> server_;
};

TEST_F(SlowPeersTest, ASlowReaderIsCutOff) {
  TestClient reader(server_->port("web"));
  int small = 4096;
  setsockopt(reader.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  reader.Send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  sleep(3);  // reads nothing: the output stalls in sockman's buffer
  // Cut off: counted, and no connection of the service is left.
  std::string metrics =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", server_->port("metrics"), "/metrics"));
  EXPECT_TRUE(absl::StrContains(
      metrics, "sockman_slow_peers_total{service=\"web\",worker=\"0\",kind=\"reader\"} 1\n"))
      << metrics;
  EXPECT_TRUE(
      absl::StrContains(metrics, "sockman_connections_open{service=\"web\",worker=\"0\"} 0\n"))
      << metrics;
  // What was in flight arrives, and nowhere near the 32 MiB.
  size_t got = 0;
  for (std::string chunk = reader.ReadExactly(1 << 20, 1000); !chunk.empty();
       chunk = reader.ReadExactly(1 << 20, 1000)) {
    got += chunk.size();
  }
  EXPECT_LT(got, 16u << 20);
}

TEST_F(SlowPeersTest, SlowlorisAndATricklingBodyGet408) {
  TestClient loris(server_->port("web"));
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  std::string answer;
  for (size_t i = 0; i < head.size() && !loris.eof(); ++i) {
    if (!loris.Send(head.substr(i, 1))) break;
    answer = loris.ReadExactly(12, 100);  // 10 bytes/s, well under 200
    if (!answer.empty()) break;
  }
  EXPECT_EQ(answer, "HTTP/1.1 408") << answer;

  TestClient body(server_->port("web"));
  body.Send("POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  std::string reply;
  for (int i = 0; i < 60 && reply.empty(); ++i) {
    body.Send("0123456789");  // 20 bytes/s
    reply = body.ReadExactly(12, 500);
  }
  EXPECT_EQ(reply, "HTTP/1.1 408") << reply;
}

TEST_F(SlowPeersTest, NormalClientsSeeNoErrorMeanwhile) {
  if (Shell("command -v wrk").empty()) GTEST_SKIP() << "wrk is not installed";
  // Three slow readers and a slowloris at work while wrk runs 1,000 clients.
  std::vector<std::unique_ptr<TestClient>> slow;
  for (int i = 0; i < 3; ++i) {
    slow.push_back(std::make_unique<TestClient>(server_->port("web")));
    int small = 4096;
    setsockopt(slow.back()->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    slow.back()->Send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  TestClient loris(server_->port("web"));
  loris.Send("GET / HTTP/1.1\r\n");
  std::string out = Shell(absl::StrCat("wrk -t1 -c1000 -d3s http://127.0.0.1:", server_->port("web"),
                                       "/index.html 2>&1"));
  EXPECT_TRUE(absl::StrContains(out, "requests in")) << out;
  EXPECT_FALSE(absl::StrContains(out, "Socket errors")) << out;
  EXPECT_FALSE(absl::StrContains(out, "Non-2xx")) << out;
  std::string metrics =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", server_->port("metrics"), "/metrics"));
  EXPECT_TRUE(absl::StrContains(
      metrics, "sockman_slow_peers_total{service=\"web\",worker=\"0\",kind=\"reader\"} 3\n"))
      << metrics;
  EXPECT_TRUE(absl::StrContains(
      metrics, "sockman_slow_peers_total{service=\"web\",worker=\"0\",kind=\"sender\"} 1\n"))
      << metrics;
}

}  // namespace
}  // namespace sockman::testing
