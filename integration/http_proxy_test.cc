// The HTTP reverse proxy on the real binary, in front of real upstreams
// started by the test (Python's http.server, Debian's nginx, sockman's own
// WebSocket echo): forwarding and hop-by-hop headers as the upstream saw
// them, every balance policy by request counts, sticky hashing through an
// upstream's death, passive and active health, retries that never repeat a
// POST, 502 and 504, chunked and 1 GiB bodies both ways with the worker's
// RSS bounded, request smuggling shapes against an upstream that logs what
// it received, and WebSocket chat through the proxy from Node's `ws` and
// Chromium.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

// integration/testdata/proxy_upstream.py on a port of its own.
class Upstream {
 public:
  explicit Upstream(const std::string& dir, std::vector<std::string> flags = {})
      : port_(FreePort()), log_(absl::StrCat(dir, "/upstream-", port_, ".log")) {
    std::vector<std::string> args = {"python3", "integration/testdata/proxy_upstream.py",
                                     std::to_string(port_), log_};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {  // until it listens
      TestClient probe(port_);
      if (probe.connected()) break;
      usleep(50'000);
    }
  }
  ~Upstream() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  uint16_t port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  const std::string& log() const { return log_; }
  // Requests it logged whose "METHOD TARGET" starts with `prefix`.
  int Count(const std::string& prefix = "") const {
    int n = 0;
    for (absl::string_view line : absl::StrSplit(ReadFile(log_), '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line.substr(line.find(' ') + 1), prefix)) ++n;
    }
    return n;
  }
  void SetHealth(int status) const { WriteFile(log_ + ".health", std::to_string(status)); }

 private:
  static void WriteFile(const std::string& path, const std::string& text) {
    FILE* f = fopen(path.c_str(), "w");
    if (f == nullptr) return;
    fputs(text.c_str(), f);
    fclose(f);
  }
  uint16_t port_;
  std::string log_;
  pid_t pid_ = 0;
};

std::string Curl(const std::string& args) { return Shell("curl -s -m 20 " + args); }

// The upstream port that answered a /echo request ("port N" on its first line).
int AnsweredBy(const std::string& body) {
  int port = 0;
  if (!absl::StartsWith(body, "port ")) return 0;
  (void)absl::SimpleAtoi(body.substr(5, body.find('\n') - 5), &port);
  return port;
}

// The response to one raw request on a fresh connection: head and body.
std::string Exchange(uint16_t port, const std::string& request) {
  TestClient client(port);
  client.Send(request);
  std::string out;
  while (true) {
    std::string line = client.ReadLine(3000);
    if (client.eof() && line.empty()) break;
    out += line + "\n";
    if (line == "\r") break;
  }
  size_t at = out.find("Content-Length: ");
  if (at != std::string::npos) {
    size_t n = std::stoul(out.substr(at + 16));
    out += client.ReadExactly(n, 3000);
  }
  return out;
}

class HttpProxyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ShortTempDir(); }
  absl::StatusOr<std::unique_ptr<SockmanProcess>> Start(const std::string& services) {
    return SockmanProcess::Start(absl::StrCat("global { log_file: \"sockman.log\" }\n", services),
                                 "proxy", dir_);
  }
  std::string SockmanLog() const { return ReadFile(dir_ + "/sockman.log"); }
  std::string dir_;
};

TEST_F(HttpProxyTest, ForwardsOneFramingAndTheForwardingHeadersAndDropsHopByHopOnes) {
  Upstream up(dir_);
  auto server = Start(absl::StrCat(R"(service { name: "front" listen: "http://127.0.0.1:0"
    proxy { upstream: ")",
                                   up.url(), R"(" via: true set_header: "X-Added: 1"
            remove_header: "X-Secret" } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  std::string response =
      Exchange((*server)->port("front"),
               "GET /echo?q=1 HTTP/1.1\r\nHost: site.test\r\nConnection: keep-alive, X-Hop\r\n"
               "X-Hop: named by Connection\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
               "Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Secret: s\r\n"
               "X-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\n"
               "X-Forwarded-Proto: forged\r\nX-Forwarded-Host: forged\r\nVia: 1.0 edge\r\n"
               "X-Keep: yes\r\n\r\n");
  ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK")) << response;
  // What the upstream received.
  EXPECT_TRUE(absl::StrContains(response, "\nGET /echo?q=1\n")) << response;
  EXPECT_TRUE(absl::StrContains(response, "\nHost: site.test\n"));
  EXPECT_TRUE(absl::StrContains(response, "\nX-Keep: yes\n"));
  EXPECT_TRUE(absl::StrContains(response, "\nX-Added: 1\n"));
  EXPECT_TRUE(absl::StrContains(response, "\nX-Forwarded-For: 203.0.113.9, 127.0.0.1\n"));
  EXPECT_TRUE(absl::StrContains(response, "\nX-Forwarded-Proto: http\n"));
  EXPECT_TRUE(absl::StrContains(response, "\nX-Forwarded-Host: site.test\n"));
  EXPECT_TRUE(absl::StrContains(
      response, "\nForwarded: for=203.0.113.9, for=127.0.0.1;host=site.test;proto=http\n"));
  EXPECT_TRUE(absl::StrContains(response, "\nVia: 1.0 edge, 1.1 sockman\n"));
  for (const char* hop : {"X-Hop", "Keep-Alive", "TE", "Proxy-Connection", "Upgrade", "X-Secret",
                          "forged", "Connection"}) {
    EXPECT_FALSE(
        absl::StrContains(response.substr(response.find("\nGET ")), absl::StrCat("\n", hop)))
        << hop << " reached the upstream:\n"
        << response;
  }
  // What the client received: the upstream's hop-by-hop headers are gone.
  std::string head = response.substr(0, response.find("\r\n\r\n"));
  EXPECT_TRUE(absl::StrContains(head, "X-Kept: yes"));
  EXPECT_TRUE(absl::StrContains(head, "Server: sockman"));
  EXPECT_TRUE(absl::StrContains(head, "Via: 1.1 sockman"));
  EXPECT_FALSE(absl::StrContains(head, "X-Drop")) << head;
  EXPECT_FALSE(absl::StrContains(head, "Keep-Alive")) << head;
  EXPECT_FALSE(absl::StrContains(head, "BaseHTTP")) << head;  // Python's Server header

  // A POST's body, and a HEAD's Content-Length without a body.
  EXPECT_TRUE(absl::StrContains(
      Curl(absl::StrCat("-d hello http://127.0.0.1:", (*server)->port("front"), "/form")),
      "\nContent-Length: 5\nbody 5\n"));
  std::string head_only =
      Curl(absl::StrCat("-sI http://127.0.0.1:", (*server)->port("front"), "/download/12345"));
  EXPECT_TRUE(absl::StrContains(head_only, "Content-Length: 12345")) << head_only;
}

TEST_F(HttpProxyTest, EveryBalancePolicyByRequestCounts) {
  Upstream a(dir_), b(dir_), c(dir_);
  Upstream slow(dir_, {"--delay-ms", "400"});
  auto server = Start(absl::StrCat(
      R"(service { name: "rr" listen: "http://127.0.0.1:0"
    proxy { server { url: ")",
      a.url(), R"(" weight: 3 } server { url: ")", b.url(), R"(" } server { url: ")", c.url(),
      R"(" } } }
service { name: "least" listen: "http://127.0.0.1:0"
    proxy { upstream: [")",
      a.url(), R"(", ")", slow.url(), R"("] balance: LEAST_CONN } }
service { name: "random" listen: "http://127.0.0.1:0"
    proxy { upstream: [")",
      a.url(), R"(", ")", b.url(), R"(", ")", c.url(),
      R"("] balance: RANDOM_TWO } }
service { name: "sticky" listen: "http://127.0.0.1:0"
    proxy { upstream: [")",
      a.url(), R"(", ")", b.url(), R"(", ")", c.url(),
      R"("] balance: HASH hash_key: "header:X-User" max_fails: 1 down_ms: 60000 } })"));
  ASSERT_TRUE(server.ok()) << server.status();

  // Smooth weighted round-robin: exactly 3:1:1.
  for (int i = 0; i < 50; ++i) {
    Curl(absl::StrCat("-o /dev/null http://127.0.0.1:", (*server)->port("rr"), "/rr"));
  }
  EXPECT_EQ(a.Count("GET /rr"), 30);
  EXPECT_EQ(b.Count("GET /rr"), 10);
  EXPECT_EQ(c.Count("GET /rr"), 10);

  // Least connections: while the slow one holds a request, the fast one
  // takes the rest.
  std::string many;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&many, " http://127.0.0.1:", (*server)->port("least"), "/least");
  }
  Shell(absl::StrCat("curl -s -m 20 -Z --parallel-max 4 -o /dev/null", many, " -o /dev/null"));
  EXPECT_EQ(a.Count("GET /least") + slow.Count("GET /least"), 20);
  EXPECT_GT(a.Count("GET /least"), 2 * slow.Count("GET /least"))
      << a.Count("GET /least") << " vs " << slow.Count("GET /least");

  // Random of two: every upstream gets a share.
  for (int i = 0; i < 60; ++i) {
    Curl(absl::StrCat("-o /dev/null http://127.0.0.1:", (*server)->port("random"), "/random"));
  }
  EXPECT_EQ(a.Count("GET /random") + b.Count("GET /random") + c.Count("GET /random"), 60);
  for (const Upstream* u : {&a, &b, &c}) EXPECT_GE(u->Count("GET /random"), 5);

  // Consistent hash: each user stays on one upstream.
  auto user_port = [&](int user) {
    return AnsweredBy(Curl(absl::StrCat(
        "-H 'X-User: user-", user, "' http://127.0.0.1:", (*server)->port("sticky"), "/sticky")));
  };
  std::map<int, int> home;
  for (int user = 0; user < 30; ++user) {
    home[user] = user_port(user);
    for (int again = 0; again < 2; ++again) EXPECT_EQ(user_port(user), home[user]) << user;
  }
  std::map<int, int> per_port;
  for (const auto& [user, port] : home) ++per_port[port];
  EXPECT_EQ(per_port.size(), 3u) << "30 users on fewer than 3 upstreams";
  // b dies: its users move (and stay where they moved), the others stay.
  b.Kill();
  for (int user = 0; user < 30; ++user) {
    int now = user_port(user);
    if (home[user] == b.port()) {
      EXPECT_NE(now, b.port());
      EXPECT_NE(now, 0) << "user " << user << " got no answer";
      EXPECT_EQ(user_port(user), now);
    } else {
      EXPECT_EQ(now, home[user]) << "user " << user << " moved though its upstream is up";
    }
  }
}

TEST_F(HttpProxyTest, ActiveChecksTakeAFailingUpstreamOutAndBringItBack) {
  Upstream a(dir_), b(dir_);
  auto server = Start(absl::StrCat(R"(service { name: "front" listen: "http://127.0.0.1:0" count: 2
    proxy { upstream: [")",
                                   a.url(), R"(", ")", b.url(), R"("]
            health_check { interval_ms: 200 path: "/health" fall: 2 rise: 3 } } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  auto spread = [&](const std::string& path) {
    for (int i = 0; i < 20; ++i) {
      Curl(absl::StrCat("-o /dev/null http://127.0.0.1:", (*server)->port("front"), path));
    }
  };
  spread("/before");
  EXPECT_GT(b.Count("GET /before"), 0);
  b.SetHealth(503);
  std::string status = PollUntilContains(
      [&] {
        return RunSockman({"status", "--json", "-c", (*server)->config_path()}).out;
      },
      "\"state\":\"down\"", 5000);
  EXPECT_TRUE(
      absl::StrContains(status, absl::StrCat("\"url\":\"", b.url(), "\",\"state\":\"down\"")))
      << status;
  // Both workers see it out (the state is shared): nothing more reaches b.
  spread("/during");
  EXPECT_EQ(b.Count("GET /during"), 0);
  EXPECT_EQ(a.Count("GET /during"), 20);
  EXPECT_GE(b.Count("GET /health"), 2);
  b.SetHealth(200);
  PollUntilContains([&] { return SockmanLog(); }, "health checks in a row: back in", 5000);
  spread("/after");
  EXPECT_GT(b.Count("GET /after"), 0);
  EXPECT_TRUE(absl::StrContains(SockmanLog(), "failed 2 health checks in a row: out"))
      << SockmanLog();
}

TEST_F(HttpProxyTest, RetriesGoToAnotherUpstreamButNeverRepeatAPost) {
  Upstream closer(dir_, {"--close-all"}), good(dir_);
  uint16_t dead = FreePort();
  auto server = Start(absl::StrCat(
      R"(service { name: "front" listen: "http://127.0.0.1:0"
    proxy { upstream: [")",
      closer.url(), R"(", ")", good.url(), R"("] max_fails: 0 } }
service { name: "refused" listen: "http://127.0.0.1:0"
    proxy { upstream: ["http://127.0.0.1:)",
      dead, R"(", ")", good.url(), R"("] } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("front");
  // GETs: the one that meets the closing upstream is tried again on the other.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(
        Curl(absl::StrCat("-o /dev/null -w '%{http_code}' http://127.0.0.1:", port, "/get-", i)),
        "200");
  }
  // POSTs: one that reached the closing upstream is answered 502, never sent again.
  int bad = 0;
  for (int i = 0; i < 6; ++i) {
    std::string code = Curl(absl::StrCat("-o /dev/null -w '%{http_code}' -d post-", i,
                                         " http://127.0.0.1:", port, "/post-", i));
    if (code == "502") ++bad;
    std::string target = absl::StrCat("POST /post-", i);
    EXPECT_EQ(closer.Count(target) + good.Count(target), 1) << target << " sent twice";
    EXPECT_EQ(code == "502", closer.Count(target) == 1) << target << " answered " << code;
  }
  EXPECT_GE(bad, 1);
  // A POST whose connect was refused never reached it: the next upstream takes it.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Curl(absl::StrCat("-o /dev/null -w '%{http_code}' -d x http://127.0.0.1:",
                                (*server)->port("refused"), "/refused-", i)),
              "200");
  }
  EXPECT_EQ(good.Count("POST /refused-"), 4);
}

TEST_F(HttpProxyTest, AnswersBadGatewayAndGatewayTimeout) {
  Upstream slow(dir_, {"--delay-ms", "3000"});
  uint16_t dead = FreePort();
  auto server = Start(absl::StrCat(
      R"(service { name: "dead" listen: "http://127.0.0.1:0" access_log: "dead.log"
    proxy { upstream: "http://127.0.0.1:)",
      dead, R"(" } }
service { name: "slow" listen: "http://127.0.0.1:0"
    proxy { upstream: ")",
      slow.url(), R"(" response_timeout_ms: 300 retries: 0 } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  std::string refused = Curl(absl::StrCat("-i http://127.0.0.1:", (*server)->port("dead"), "/x"));
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 502 Bad Gateway")) << refused;
  std::string late = Curl(
      absl::StrCat("-i -w ' took=%{time_total}' http://127.0.0.1:", (*server)->port("slow"), "/x"));
  EXPECT_TRUE(absl::StartsWith(late, "HTTP/1.1 504 Gateway Timeout")) << late;
  double took = 9;
  ASSERT_TRUE(absl::SimpleAtod(late.substr(late.rfind("took=") + 5), &took));
  EXPECT_LT(took, 2.0);
  EXPECT_TRUE(absl::StrContains(
      PollUntilContains([&] { return ReadFile(dir_ + "/dead.log"); }, "\" 502 "), "\" 502 "));
  std::string log = SockmanLog();
  EXPECT_TRUE(absl::StrContains(log, "Connection refused; answering 502")) << log;
  EXPECT_TRUE(absl::StrContains(log, "timed out; answering 504")) << log;
}

TEST_F(HttpProxyTest, HttpsUpstreamsByNameAreVerifiedAndFullPoolsAnswer503) {
  ASSERT_TRUE(MakeTestCertificates(dir_));
  Upstream slow(dir_, {"--delay-ms", "800"});
  uint16_t tls_port = FreePort();
  auto server =
      Start(absl::StrCat(R"(service { name: "app" listen: "https://127.0.0.1:)", tls_port, R"("
    tls { cert_file: "server.pem" key_file: "server.key" } respond { body: "over tls" } }
service { name: "trusting" listen: "http://127.0.0.1:0"
    proxy { upstream: "https://localhost:)",
                         tls_port, R"(" ca_file: "ca.pem" } }
service { name: "untrusting" listen: "http://127.0.0.1:0"
    proxy { upstream: "https://localhost:)",
                         tls_port, R"(" retries: 0 } }
service { name: "full" listen: "http://127.0.0.1:0"
    proxy { upstream: ")",
                         slow.url(), R"(" pool { max_connections: 1 } } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  // A name (from /etc/hosts, through c-ares) and a certificate checked against ca_file.
  EXPECT_EQ(Curl(absl::StrCat("http://127.0.0.1:", (*server)->port("trusting"), "/")), "over tls");
  std::string refused = Curl(absl::StrCat(
      "-o /dev/null -w '%{http_code}' http://127.0.0.1:", (*server)->port("untrusting"), "/"));
  EXPECT_EQ(refused, "502");
  EXPECT_TRUE(absl::StrContains(PollUntilContains([&] { return SockmanLog(); }, "TLS: "),
                                "certificate verify failed"))
      << SockmanLog();
  // One connection to the slow upstream at a time: the second request at once is 503.
  std::string port = std::to_string((*server)->port("full"));
  std::string both = Shell(absl::StrCat(
      "(curl -s -m 10 -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:", port,
      "/a & sleep 0.3; curl -s -m 10 -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:", port,
      "/b; wait) | sort | tr '\\n' ' '"));
  EXPECT_EQ(both, "200 503 ") << both;
}

TEST_F(HttpProxyTest, AWorkerWithPooledConnectionsExitsCleanlyOnReload) {
  Upstream up(dir_);
  std::string config = absl::StrCat(R"(service { name: "front" listen: "http://127.0.0.1:0"
    proxy { upstream: ")",
                                    up.url(), R"(" } })");
  auto server = Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StartsWith(
        Curl(absl::StrCat("http://127.0.0.1:", (*server)->port("front"), "/x")), "port "));
  }
  // Replaced by a reload, the old worker exits with an idle link in its pool.
  {
    std::ofstream out((*server)->config_path(), std::ios::trunc);
    out << "global { log_file: \"sockman.log\" }\n"
        << absl::StrReplaceAll(config, {{"proxy {", "proxy { retries: 1"}});
  }
  ASSERT_EQ(RunSockman({"reload", "-c", (*server)->config_path()}).exit_code, 0);
  std::string status;
  for (int i = 0; i < 100; ++i) {
    status = RunSockman({"status", "--json", "-c", (*server)->config_path()}).out;
    if (absl::StrContains(status, "\"exits\":{\"")) break;
    usleep(50'000);
  }
  EXPECT_TRUE(absl::StrContains(status, "\"exits\":{\"exited with status 0\":1}")) << status;
}

// Peak VmRSS of `pid` in KiB while `work` runs.
int64_t PeakRssKb(pid_t pid, const std::function<void()>& work) {
  std::atomic<bool> done{false};
  std::atomic<int64_t> peak{0};
  std::thread watcher([&] {
    while (!done) {
      std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
      size_t at = status.find("VmRSS:");
      int64_t kb = 0;
      if (at != std::string::npos) {
        (void)absl::SimpleAtoi(
            absl::StripAsciiWhitespace(status.substr(at + 6, status.find(" kB", at) - at - 6)),
            &kb);
      }
      if (kb > peak) peak = kb;
      usleep(20'000);
    }
  });
  work();
  done = true;
  watcher.join();
  return peak;
}

TEST_F(HttpProxyTest, StreamsGibibyteBodiesBothWaysAndChunkedWithBoundedMemory) {
  Upstream up(dir_);
  auto server = Start(absl::StrCat(R"(service { name: "front" listen: "http://127.0.0.1:0"
    limits { max_package_size: 1048576 }
    proxy { upstream: ")",
                                   up.url(), R"(" } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<pid_t> workers = (*server)->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);
  uint16_t port = (*server)->port("front");
  int64_t before = PeakRssKb(workers[0], [] { usleep(100'000); });
  std::string upload, download, chunked_up, chunked_down, slow;
  int64_t peak = PeakRssKb(workers[0], [&] {
    upload =
        Shell(absl::StrCat("head -c 1073741824 /dev/zero | curl -s -m 120 -T - "
                           "-H 'Content-Length: 1073741824' -H 'Transfer-Encoding:' "
                           "http://127.0.0.1:",
                           port, "/upload"));
    download =
        Curl(absl::StrCat("-o /dev/null -w '%{http_code} %{size_download}' "
                          "http://127.0.0.1:",
                          port, "/download/1073741824"));
    chunked_up =
        Shell(absl::StrCat("head -c 50000000 /dev/zero | curl -s -m 60 -T - "
                           "http://127.0.0.1:",
                           port, "/upload"));
    chunked_down =
        Curl(absl::StrCat("-o /dev/null -w '%{http_code} %{size_download}' "
                          "http://127.0.0.1:",
                          port, "/chunked/50000000"));
    // A slow reader (a third of the proxy's speed here): the upstream is
    // paused, not buffered.
    slow =
        Curl(absl::StrCat("--limit-rate 300M -o /dev/null -w '%{http_code} %{size_download}' "
                          "http://127.0.0.1:",
                          port, "/download/1073741824"));
  });
  EXPECT_EQ(upload, "received 1073741824\n");
  EXPECT_EQ(download, "200 1073741824");
  EXPECT_EQ(chunked_up, "received 50000000\n");
  EXPECT_EQ(chunked_down, "200 50000000");
  EXPECT_EQ(slow, "200 1073741824");
  std::string log = ReadFile(up.log());
  EXPECT_TRUE(absl::StrContains(log, "PUT /upload te=- cl=1073741824 body=1073741824")) << log;
  EXPECT_TRUE(absl::StrContains(log, "PUT /upload te=chunked cl=- body=50000000")) << log;
  // The documented bound: the client's send buffer, the upstream's, a read
  // buffer each way; far below any body.
  EXPECT_LT(peak - before, 16 * 1024) << "peak " << peak << " KiB, idle " << before << " KiB";
}

TEST_F(HttpProxyTest, SmugglingShapesReachTheUpstreamInExactlyOneInterpretation) {
  Upstream up(dir_);
  auto server = Start(absl::StrCat(R"(service { name: "front" listen: "http://127.0.0.1:0"
    proxy { upstream: ")",
                                   up.url(), R"(" } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("front");
  struct Case {
    const char* name;
    std::string request;
    const char* status;
  };
  std::vector<Case> refused = {
      {"CL.TE",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n"
       "\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
       "HTTP/1.1 400"},
      {"TE.CL",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
       "\r\n8\r\nGET /smu\r\n0\r\n\r\n",
       "HTTP/1.1 400"},
      {"TE obfuscated",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
       "HTTP/1.1 501"},
      {"TE not last", "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
       "HTTP/1.1 400"},
      {"two lengths",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\n"
       "abcGET /smuggled HTTP/1.1\r\n\r\n",
       "HTTP/1.1 400"},
      {"space before colon",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n"
       "Content-Length: 3\r\n\r\nabc",
       "HTTP/1.1 400"},
      {"obs-fold",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n Transfer-Encoding: chunked\r\n"
       "\r\nabc",
       "HTTP/1.1 400"},
      {"bad chunk size",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "-1\r\nGET /smuggled HTTP/1.1\r\n\r\n",
       "HTTP/1.1 400"},
  };
  for (const Case& c : refused) {
    std::string response = Exchange(port, c.request);
    EXPECT_TRUE(absl::StartsWith(response, c.status)) << c.name << ":\n" << response;
  }
  EXPECT_EQ(up.Count("GET /smuggled"), 0);
  EXPECT_EQ(up.Count("POST /a"), 0) << ReadFile(up.log());

  // Accepted shapes: one framing each reaches the upstream, and what looks
  // like a request inside a body stays body.
  TestClient client(port);
  client.Send(
      "POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
      "POST /length HTTP/1.1\r\nHost: h\r\nContent-Length: 30\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nH: x\r\n"
      "GET /last HTTP/1.1\nHost: h\n\n");  // bare LF: forwarded with CRLF
  for (int i = 0; i < 3; ++i) {
    std::string status = client.ReadLine(3000);
    EXPECT_TRUE(absl::StartsWith(status, "HTTP/1.1 200")) << i << ": " << status;
    size_t length = 0;
    for (std::string line = status; !line.empty() && line != "\r"; line = client.ReadLine(3000)) {
      if (absl::StartsWith(line, "Content-Length: ")) length = std::stoul(line.substr(16));
    }
    client.ReadExactly(length, 3000);
  }
  std::string log = ReadFile(up.log());
  EXPECT_TRUE(absl::StrContains(log, "POST /chunked te=chunked cl=- body=5 first=hello")) << log;
  EXPECT_TRUE(absl::StrContains(log, "POST /length te=- cl=30 body=30 first=GET /smuggled")) << log;
  EXPECT_EQ(up.Count("GET /last"), 1) << log;
  EXPECT_EQ(up.Count("GET /smuggled"), 0) << log;
  EXPECT_EQ(up.Count(""), 3) << log;
}

TEST_F(HttpProxyTest, NginxAsAnUpstreamOverOneKeptAliveConnection) {
  if (Shell("command -v nginx").empty()) GTEST_SKIP() << "nginx is not installed";
  uint16_t nginx_port = FreePort();
  std::string root = dir_ + "/nginx";
  Shell(absl::StrCat("mkdir -p ", root, "/www && printf 'from nginx\\n' > ", root,
                     "/www/index.html"));
  std::string conf = absl::StrCat(
      "daemon off; user root; pid ", root, "/nginx.pid; error_log ", root, "/error.log;\n",
      "events { worker_connections 64; }\n"
      "http { access_log off; keepalive_requests 1000;\n"
      "  client_body_temp_path ",
      root, "; proxy_temp_path ", root, "; fastcgi_temp_path ", root, "; uwsgi_temp_path ", root,
      "; scgi_temp_path ", root, ";\n  server { listen 127.0.0.1:", nginx_port, "; root ", root,
      "/www; } }\n");
  Shell(absl::StrCat("printf '%s' '", conf, "' > ", root, "/nginx.conf"));
  pid_t nginx = fork();
  if (nginx == 0) {
    std::string path = root + "/nginx.conf";
    execlp("nginx", "nginx", "-c", path.c_str(), "-p", root.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 100 && !TestClient(nginx_port).connected(); ++i) usleep(50'000);
  auto server = Start(absl::StrCat(R"(service { name: "front" listen: "http://127.0.0.1:0"
    proxy { upstream: "http://127.0.0.1:)",
                                   nginx_port, R"(" } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Curl(absl::StrCat("http://127.0.0.1:", (*server)->port("front"), "/index.html")),
              "from nginx\n");
  }
  std::string missing = Curl(absl::StrCat(
      "-o /dev/null -w '%{http_code}' http://127.0.0.1:", (*server)->port("front"), "/missing"));
  EXPECT_EQ(missing, "404");
  // Sequential requests shared one upstream connection.
  std::string status = RunSockman({"status", "--json", "-c", (*server)->config_path()}).out;
  EXPECT_TRUE(absl::StrContains(status, "\"requests\":11,\"failures\":0,\"connections\":1"))
      << status;
  kill(nginx, SIGTERM);
  waitpid(nginx, nullptr, 0);
}

TEST_F(HttpProxyTest, WebSocketThroughTheProxyFromNodeAndChromium) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  ASSERT_NE(modules, nullptr) << "run through ./bazelw, which installs Node's ws";
  uint16_t echo = FreePort(), chat = FreePort();
  Shell(absl::StrCat("mkdir -p ", dir_, "/www"));
  {
    std::ofstream page(dir_ + "/www/page.html");
    page << R"(<!doctype html><title>through the proxy</title><body><script>
const ws = new WebSocket('ws://' + location.host + '/ws/');
ws.onopen = () => ws.send('hello through the proxy');
ws.onmessage = (e) => { document.body.textContent = 'got: ' + e.data; ws.close(); };
ws.onerror = () => { document.body.textContent = 'websocket error'; };
</script>)";
  }
  Upstream app(dir_);
  Shell(absl::StrCat("printf 'ann:%s\\n' \"$(openssl passwd -6 -salt saltsalt secret)\" > ", dir_,
                     "/htpasswd"));
  auto server = Start(absl::StrCat(R"(service { name: "echo" listen: "ws://127.0.0.1:)", echo, R"("
    limits { max_package_size: 67108864 } websocket { deflate: true } echo {} }
service { name: "chat" listen: "ws://127.0.0.1:)",
                                   chat, R"(" count: 2 broadcast {} }
service { name: "front" listen: "http://127.0.0.1:0"
    route { name: "to-echo" match { prefix: "/ws/" } proxy { upstream: "http://127.0.0.1:)",
                                   echo,
                                   R"(" } }
    route { name: "to-chat" match { prefix: "/chat" } proxy { upstream: "http://127.0.0.1:)",
                                   chat,
                                   R"(" } }
    route { name: "api" match { prefix: "/api/" } strip_prefix: true
      response_header { name: "X-Route" value: "api" } proxy { upstream: ")",
                                   app.url(), R"(" } }
    route { name: "private" match { prefix: "/private/" } basic_auth { htpasswd_file: "htpasswd" }
      proxy { upstream: ")",
                                   app.url(), R"(" } }
    route { name: "page" static { root: "www" } } })"));
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t front = (*server)->port("front");
  // HTTP routes to the proxy: a stripped prefix and the route's own headers.
  std::string api = Curl(absl::StrCat("-i http://127.0.0.1:", front, "/api/echo?x=1"));
  EXPECT_TRUE(absl::StrContains(api, "\nGET /echo?x=1\n")) << api;
  EXPECT_TRUE(absl::StrContains(api, "X-Route: api\r\n")) << api;
  // A route refusing a request at its head reads and drops its body: the
  // next request on the connection is answered, and nothing reached the upstream.
  TestClient raw(front);
  raw.Send(
      "POST /private/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "GET /private/y HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YW5uOnNlY3JldA==\r\n\r\n");
  std::string first = raw.ReadLine(3000);
  EXPECT_TRUE(absl::StartsWith(first, "HTTP/1.1 401")) << first;
  size_t length = 0;
  for (std::string line = first; !line.empty() && line != "\r"; line = raw.ReadLine(3000)) {
    if (absl::StartsWith(line, "Content-Length: ")) length = std::stoul(line.substr(16));
  }
  raw.ReadExactly(length, 3000);
  std::string second = raw.ReadLine(3000);
  EXPECT_TRUE(absl::StartsWith(second, "HTTP/1.1 200")) << second;
  EXPECT_EQ(app.Count("POST /private/x"), 0);
  EXPECT_EQ(app.Count("GET /private/y"), 1);
  // Every size, binary and text, compressed both ways, and a 16 MiB message:
  // the same checks through the proxy as straight to the echo service.
  auto echo_client = [&](uint16_t port, const char* path) {
    return Shell(absl::StrCat("NODE_PATH=", modules,
                              " timeout 60 node integration/node/ws_echo_client.js ws://127.0.0.1:",
                              port, path, " deflate"));
  };
  std::string direct = echo_client(echo, "/");
  EXPECT_TRUE(absl::StartsWith(direct, "ok ")) << direct;
  EXPECT_EQ(echo_client(front, "/ws/"), direct);
  // A chat: 20 clients, 5 of them sending 10 messages, across two workers.
  EXPECT_EQ(Shell(absl::StrCat("NODE_PATH=", modules,
                               " timeout 60 node integration/node/broadcast_clients.js "
                               "ws://127.0.0.1:",
                               front, "/chat 20 5 10")),
            "ok 1000\n");
  std::string dom = ChromiumDumpDom(absl::StrCat("http://127.0.0.1:", front, "/page.html"),
                                    "got: hello through the proxy");
  EXPECT_TRUE(absl::StrContains(dom, "got: hello through the proxy")) << dom;
}

}  // namespace
}  // namespace sockman::testing
