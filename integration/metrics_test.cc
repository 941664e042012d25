// Metrics on the real binary, scraped by a real Prometheus (Debian's): a
// `metrics {}` route gathers every worker's and the master's samples; the
// exposition passes `promtool check metrics` in both formats Prometheus
// speaks, and Prometheus's own query API sees the families move under load.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

std::string Curl(const std::string& args) { return Shell("curl -s -m 10 " + args); }

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();
    ASSERT_TRUE(MakeTestCertificates(dir_));
    uint16_t web = FreePort();
    auto server = SockmanProcess::Start(absl::StrCat(R"(
service { name: "secure" listen: "https://127.0.0.1:0"
  tls { cert_file: "server.pem" key_file: "server.key" } respond { body: "over tls" } }
service { name: "web" listen: "http://127.0.0.1:)",
                                                     web, R"(" count: 2 respond { body: "hello" } }
service { name: "hooked" listen: "text://127.0.0.1:0" webhook { url: "http://127.0.0.1:)",
                                                     web,
                                                     R"(/" } }
service { name: "lines" listen: "text://127.0.0.1:0" echo {} }
service { name: "room" listen: "text://127.0.0.1:0" count: 2 broadcast {} }
service { name: "ws" listen: "websocket://127.0.0.1:0" echo {} }
service { name: "front" listen: "http://127.0.0.1:0"
  route { name: "metrics" match { path: "/metrics" } metrics {} }
  route { name: "secret" match { path: "/secret-metrics" } metrics { token: "s3cret" } }
  route { name: "app" proxy { upstream: "http://127.0.0.1:9" retries: 0 } } }
)"),
                                        "metrics", dir_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::string Scrape(const std::string& extra = "") {
    return Curl(absl::StrCat(extra, " http://127.0.0.1:", server_->port("front"), "/metrics"));
  }
  std::string dir_;
  std::unique_ptr<SockmanProcess> server_;
};

// A masked client frame (mask 0: the payload as is), at most 125 bytes.
std::string ClientFrame(int opcode, const std::string& payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  frame.push_back(static_cast<char>(0x80 | payload.size()));
  frame.append(4, '\0');
  return frame + payload;
}

// The value of the first sample line starting with `prefix`, or -1.
double Sample(const std::string& text, const std::string& prefix) {
  size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) return -1;
  size_t space = text.find(' ', at + 1 + prefix.size());
  size_t end = text.find('\n', space);
  double value = -1;
  if (!absl::SimpleAtod(text.substr(space + 1, end - space - 1), &value)) return -1;
  return value;
}

TEST_F(MetricsTest, EveryProcessIsScrapedAndTheExpositionPassesPromtool) {
  for (int i = 0; i < 10; ++i) {
    Curl(absl::StrCat("-o /dev/null http://127.0.0.1:", server_->port("web"), "/"));
  }
  Curl(absl::StrCat("-o /dev/null -X POST -d x http://127.0.0.1:", server_->port("web"), "/"));
  Curl(absl::StrCat("-o /dev/null http://127.0.0.1:", server_->port("front"), "/app"));  // 502
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<TestClient>(server_->port("lines")));
  for (auto& client : held) {
    client->Send("ping\n");
    EXPECT_EQ(client->ReadLine(), "ping");
  }
  // TLS: a 1.3 and a 1.2 handshake, and one that never finishes.
  uint16_t secure = server_->port("secure");
  EXPECT_EQ(Curl(absl::StrCat("--cacert ", dir_, "/ca.pem https://localhost:", secure, "/")),
            "over tls");
  EXPECT_EQ(Curl(absl::StrCat("--cacert ", dir_, "/ca.pem --tls-max 1.2 https://localhost:", secure,
                              "/")),
            "over tls");
  {
    TestClient plain(secure);
    plain.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // not a ClientHello
    plain.WaitClosed(3000);
  }
  // A webhook client's message: its backend (the web service) answers.
  TestClient hooked(server_->port("hooked"));
  hooked.Send("ping\n");
  EXPECT_EQ(hooked.ReadLine(), "hello");
  // Two room workers: a publication crosses the worker bus unless both
  // clients landed on one worker.
  TestClient alice(server_->port("room")), bob(server_->port("room"));
  usleep(100'000);  // both joined
  alice.Send("hi all\n");
  EXPECT_TRUE(absl::StrContains(bob.ReadLine(), "hi all"));
  // WebSocket messages by kind: one text and two binary, echoed.
  TestClient ws(server_->port("ws"));
  ws.Send(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  for (std::string line = ws.ReadLine(); line != "\r" && !ws.eof(); line = ws.ReadLine()) {
  }
  ws.Send(ClientFrame(1, "text") + ClientFrame(2, "bin1") + ClientFrame(2, "bin2"));
  EXPECT_EQ(ws.ReadExactly(18),
            "\x81\x04text\x82\x04"
            "bin1\x82\x04"
            "bin2");
  std::string text = Scrape();
  ASSERT_TRUE(absl::StartsWith(text, "# HELP sockman_build_info")) << text;
  auto both = [&](const std::string& family, const std::string& labels) {
    return std::max(Sample(text, family + "{service=\"room\",worker=\"0\"" + labels), 0.0) +
           std::max(Sample(text, family + "{service=\"room\",worker=\"1\"" + labels), 0.0);
  };
  EXPECT_EQ(both("sockman_broadcast_publishes_total", "}"), 1) << text;
  // Alice and Bob both get it: on one worker or on two.
  EXPECT_EQ(both("sockman_broadcast_deliveries_total", "}"), 2) << text;
  double fanned = both("sockman_broadcast_fanout_seconds_count", "}");
  double crossed = both("sockman_bus_frames_total", ",direction=\"sent\"}");
  EXPECT_EQ(crossed, both("sockman_bus_frames_total", ",direction=\"received\"}")) << text;
  EXPECT_EQ(crossed, 1) << text;  // to the other room worker
  // Each worker with recipients observes it once.
  double workers_with_clients =
      (Sample(text, "sockman_connections_open{service=\"room\",worker=\"0\"}") > 0) +
      (Sample(text, "sockman_connections_open{service=\"room\",worker=\"1\"}") > 0);
  EXPECT_EQ(fanned, workers_with_clients) << text;
  EXPECT_EQ(both("sockman_bus_frames_total", ",direction=\"dropped\"}"), 0) << text;
  EXPECT_EQ(both("sockman_broadcast_fanout_seconds_bucket", ",le=\"+Inf\"}"), fanned) << text;
  const std::string ws_in =
      "sockman_messages_received_total{service=\"ws\",worker=\"0\",protocol=\"websocket\",";
  const std::string ws_out =
      "sockman_messages_sent_total{service=\"ws\",worker=\"0\",protocol=\"websocket\",";
  EXPECT_EQ(Sample(text, ws_in + "kind=\"text\"}"), 1) << text;
  EXPECT_EQ(Sample(text, ws_in + "kind=\"binary\"}"), 2) << text;
  EXPECT_EQ(Sample(text, ws_out + "kind=\"text\"}"), 1) << text;
  EXPECT_EQ(Sample(text, ws_out + "kind=\"binary\"}"), 2) << text;
  EXPECT_EQ(Sample(text,
                   "sockman_messages_received_total{service=\"lines\",worker=\"0\","
                   "protocol=\"text\"}"),
            3)
      << text;
  EXPECT_FALSE(absl::StrContains(text, "sockman_redis_up")) << "no cluster, no Redis";
  EXPECT_GE(Sample(text,
                   "sockman_webhook_requests_total{service=\"hooked\",worker=\"0\","
                   "result=\"answered\"}"),
            1)
      << text;
  EXPECT_GE(Sample(text, "sockman_webhook_response_seconds_count{service=\"hooked\",worker=\"0\"}"),
            1)
      << text;
  const std::string tls = "sockman_tls_handshakes_total{service=\"secure\",worker=\"0\",";
  EXPECT_EQ(Sample(text, tls + "result=\"ok\",version=\"TLSv1.3\"}"), 1) << text;
  EXPECT_EQ(Sample(text, tls + "result=\"ok\",version=\"TLSv1.2\"}"), 1) << text;
  EXPECT_EQ(Sample(text, tls + "result=\"failed\",version=\"\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "sockman_connections_open{service=\"lines\",worker=\"0\"}"), 3) << text;
  double web = Sample(
      text,
      "sockman_http_requests_total{service=\"web\",worker=\"0\",code=\"2xx\",method=\"GET\"}");
  double web1 = Sample(
      text,
      "sockman_http_requests_total{service=\"web\",worker=\"1\",code=\"2xx\",method=\"GET\"}");
  EXPECT_EQ(std::max(web, 0.0) + std::max(web1, 0.0), 10) << text;
  EXPECT_TRUE(absl::StrContains(text, "code=\"5xx\",method=\"GET\"} 1\n")) << text;  // the 502
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_route_requests_total{service=\"front\",worker=\"0\",route=\"app\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "sockman_upstream_requests_total{service=\"front\",worker=\"0\","
                                "upstream=\"http://127.0.0.1:9\",result=\"error\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "sockman_workers{service=\"web\",state=\"running\"} 2\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "sockman_process_resident_memory_bytes{process=\"master\"} "));
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_process_open_fds{process=\"worker\",service=\"web\",worker=\"1\"} "));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE sockman_http_request_duration_seconds histogram\n"));
  EXPECT_TRUE(absl::StrContains(text, "sockman_scrape_workers_missing 0\n"));
  std::string file = WriteTempFile("scrape.txt", text);
  EXPECT_EQ(Shell(absl::StrCat("promtool check metrics < ", file, " 2>&1; echo rc=$?")), "rc=0\n");
  // The documented alert rules load.
  std::string rules = Shell("promtool check rules examples/prometheus/alerts.yml 2>&1; echo rc=$?");
  EXPECT_TRUE(absl::EndsWith(rules, "rc=0\n")) << rules;

  std::string open = Scrape("-H 'Accept: application/openmetrics-text; version=1.0.0'");
  EXPECT_TRUE(absl::EndsWith(open, "# EOF\n"));
  EXPECT_TRUE(absl::StrContains(open, "# TYPE sockman_connections_accepted counter\n"));
  EXPECT_TRUE(absl::StrContains(open, "# UNIT sockman_process_cpu_seconds seconds\n"));
  std::string head = Curl(absl::StrCat(
      "-sI -H 'Accept: application/openmetrics-text' http://127.0.0.1:", server_->port("front"),
      "/metrics"));
  EXPECT_TRUE(absl::StrContains(head, "Content-Type: application/openmetrics-text; version=1.0.0"))
      << head;

  // The token route refuses what lacks its token.
  uint16_t front = server_->port("front");
  EXPECT_EQ(Curl(absl::StrCat("-o /dev/null -w '%{http_code}' http://127.0.0.1:", front,
                              "/secret-metrics")),
            "401");
  EXPECT_EQ(Curl(absl::StrCat("-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "
                              "http://127.0.0.1:",
                              front, "/secret-metrics")),
            "200");
  EXPECT_EQ(Curl(absl::StrCat("-o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:", front,
                              "/metrics")),
            "405");
}

TEST_F(MetricsTest, PrometheusScrapesAndQueriesTheFamilies) {
  if (Shell("command -v prometheus").empty()) GTEST_SKIP() << "prometheus is not installed";
  uint16_t prom = FreePort();
  std::string config = WriteTempFile("prometheus.yml", absl::StrCat(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sockman
    static_configs:
      - targets: ["127.0.0.1:)",
                                                                    server_->port("front"), R"("]
)"));
  std::string data = dir_ + "/prometheus-data";
  pid_t pid = fork();
  if (pid == 0) {
    std::string config_flag = "--config.file=" + config;
    std::string data_flag = "--storage.tsdb.path=" + data;
    std::string listen = absl::StrCat("--web.listen-address=127.0.0.1:", prom);
    std::string log = dir_ + "/prometheus.log";
    freopen(log.c_str(), "w", stderr);
    execlp("prometheus", "prometheus", config_flag.c_str(), data_flag.c_str(), listen.c_str(),
           nullptr);
    _exit(127);
  }
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<TestClient>(server_->port("lines")));
  auto query = [&](const std::string& promql) {
    return Shell(absl::StrCat("curl -s -m 5 -G http://127.0.0.1:", prom,
                              "/api/v1/query --data-urlencode 'query=", promql, "'"));
  };
  // Load while Prometheus scrapes: two scrapes at least, a second apart.
  std::string up;
  for (int i = 0; i < 100; ++i) {
    Shell(absl::StrCat("for i in $(seq 20); do curl -s -o /dev/null http://127.0.0.1:",
                       server_->port("web"), "/; done"));
    up = query("count_over_time(up{job=\"sockman\"}[1m])");
    if (absl::StrContains(up, "\"value\":[") && !absl::StrContains(up, "\"1\"]") &&
        absl::StrContains(query("up{job=\"sockman\"}"), "\"1\"]")) {
      break;
    }
    usleep(200'000);
  }
  EXPECT_TRUE(absl::StrContains(query("up{job=\"sockman\"}"), "\"1\"]")) << up;
  std::string open = query("sum(sockman_connections_open{service=\"lines\"})");
  EXPECT_TRUE(absl::StrContains(open, "\"4\"]")) << open;
  std::string rate = query("sum(rate(sockman_http_requests_total{service=\"web\"}[10s])) > 0");
  EXPECT_TRUE(absl::StrContains(rate, "\"value\":[")) << rate;
  std::string workers = query("sum(sockman_workers{state=\"running\"})");
  EXPECT_TRUE(absl::StrContains(workers, "\"9\"]")) << workers;
  std::string histogram = query(
      "histogram_quantile(0.99, sum by (le) (rate(sockman_http_request_duration_seconds_bucket"
      "{service=\"web\"}[10s])))");
  EXPECT_TRUE(absl::StrContains(histogram, "\"value\":[")) << histogram;
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace sockman::testing
