// HTTP/1.1 end to end: curl and raw sockets against the real binary.
#include <unistd.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

constexpr char kConfig[] = R"(
service {
  name: "hello"
  listen: "http://127.0.0.1:0"
  count: 2
  access_log: "ACCESS_LOG"
  respond {
    body: "hello world\n"
    header { name: "X-Served-By" value: "sockman-test" }
  }
}
service {
  name: "echo"
  listen: "http://127.0.0.1:0"
  limits { max_package_size: 65536 }
  http { max_header_size: 4096 header_timeout_ms: 300 }
  echo { prefix: "got " }
}
)";

struct CurlResult {
  int exit_code;
  std::string out;
};

CurlResult Curl(const std::string& args) {
  std::string command = absl::StrCat("curl -sS --max-time 10 ", args, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

class HttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    access_log_ = absl::StrCat(getenv("TEST_TMPDIR"), "/access.log");
    std::string config = kConfig;
    config.replace(config.find("ACCESS_LOG"), 10, access_log_);
    auto started = SockmanProcess::Start(config, "http");
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::string Url(const std::string& service, const std::string& path = "/") {
    return absl::StrCat("http://127.0.0.1:", server_->port(service), path);
  }
  // Sends raw bytes and returns everything the server sends until it closes.
  static std::string Raw(const std::string& service, const std::string& bytes,
                         int timeout_ms = 5000) {
    TestClient client(server_->port(service));
    client.Send(bytes);
    std::string all;
    for (;;) {
      std::string chunk = client.ReadExactly(1 << 20, timeout_ms);
      all += chunk;
      if (chunk.empty() || client.eof()) break;
    }
    return all;
  }
  static SockmanProcess* server_;
  static std::string access_log_;
};

SockmanProcess* HttpTest::server_ = nullptr;
std::string HttpTest::access_log_;

TEST_F(HttpTest, RespondServesFixedResponseToCurl) {
  CurlResult r = Curl(absl::StrCat("-i ", Url("hello", "/any/path?x=1")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(absl::StartsWith(r.out, "HTTP/1.1 200 OK\r\n")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\r\nServer: sockman\r\n")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\r\nDate: ")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\r\nContent-Length: 12\r\n")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\r\nX-Served-By: sockman-test\r\n")) << r.out;
  EXPECT_TRUE(absl::EndsWith(r.out, "\r\n\r\nhello world\n")) << r.out;
}

TEST_F(HttpTest, AccessLogHasCombinedFormatLines) {
  CurlResult r = Curl(
      absl::StrCat("-A 'agent \"quoted\"' -e http://ref.example/ ", Url("hello", "/logged?q=1")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string log;
  for (int i = 0; i < 40 && !absl::StrContains(log, "/logged"); ++i) {
    usleep(100000);  // workers flush their log buffers every second
    log = Shell(absl::StrCat("cat ", access_log_));
  }
  EXPECT_TRUE(absl::StrContains(log,
                                "\"GET /logged?q=1 HTTP/1.1\" 200 12 \"http://ref.example/\" "
                                "\"agent \\x22quoted\\x22\"\n"))
      << log;
  EXPECT_TRUE(absl::StartsWith(log, "127.0.0.1 - - [")) << log;
}

TEST_F(HttpTest, HeadHasHeadersButNoBody) {
  CurlResult r = Curl(absl::StrCat("-I ", Url("hello")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Content-Length: 12")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "hello world")) << r.out;
}

TEST_F(HttpTest, CurlReusesTheKeepAliveConnection) {
  CurlResult r = Curl(absl::StrCat("-v ", Url("hello", "/1"), " ", Url("hello", "/2")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Re-using existing connection")) << r.out;
}

TEST_F(HttpTest, PipelinedRequestsGetResponsesInOrder) {
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    batch += absl::StrCat("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: ", i < 10 ? 1 : 2,
                          "\r\n\r\n", i);
  }
  batch += "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  std::string all = Raw("echo", batch);
  std::vector<std::string> bodies;
  for (absl::string_view response : absl::StrSplit(all, "HTTP/1.1 200 OK\r\n")) {
    if (response.empty()) continue;
    bodies.emplace_back(response.substr(response.find("\r\n\r\n") + 4));
  }
  ASSERT_EQ(bodies.size(), 21u) << all;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(bodies[i], absl::StrCat("got ", i));
  EXPECT_EQ(bodies[20], "got ");
  EXPECT_TRUE(absl::StrContains(all, "Connection: close")) << all;
}

TEST_F(HttpTest, ChunkedUploadAndExpectContinue) {
  std::string file = WriteTempFile("upload.txt", std::string(5000, 'u'));
  CurlResult r =
      Curl(absl::StrCat("-H 'Transfer-Encoding: chunked' --data-binary @", file, " ", Url("echo")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "got " + std::string(5000, 'u'));
  r = Curl(absl::StrCat(
      "-H 'Expect: 100-continue' --expect100-timeout 5 -d hi -w ' %{time_total}' ", Url("echo")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(absl::StartsWith(r.out, "got hi ")) << r.out;
  EXPECT_LT(std::stod(r.out.substr(7)), 4.0) << "curl waited for its 100-continue timeout";
}

TEST_F(HttpTest, Http10ClosesUnlessKeepAlive) {
  std::string r = Raw("hello", "GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(absl::StrContains(r, "Connection: close\r\n")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "hello world\n")) << r;
  TestClient client(server_->port("hello"));
  client.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  std::string first = client.ReadExactly(1000, 500);
  EXPECT_TRUE(absl::StrContains(first, "Connection: keep-alive\r\n")) << first;
  EXPECT_FALSE(client.eof());
}

struct BadRequest {
  const char* name;
  std::string bytes;
  int status;
};

TEST_F(HttpTest, BadInputGetsTheRightStatusAndAClose) {
  std::vector<BadRequest> cases = {
      {"malformed request line", "GARBAGE\r\n\r\n", 400},
      {"bad header name", "GET / HTTP/1.1\r\nHost: t\r\nBad[Name]: x\r\n\r\n", 400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n  b\r\n\r\n", 400},
      {"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"CL and TE",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       400},
      {"differing CL",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"TE not chunked last",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
      {"unknown TE", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"bad chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
       400},
      {"body too large", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n", 413},
      {"target too long", "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
      {"headers too large",
       "GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", 431},
      {"version", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
      {"slow loris", "GET / HTTP/1.1\r\nHost: t\r\n", 408},
  };
  for (const BadRequest& c : cases) {
    std::string response = Raw("echo", c.bytes);
    EXPECT_TRUE(absl::StartsWith(response, absl::StrCat("HTTP/1.1 ", c.status, " ")))
        << c.name << ": " << response.substr(0, 200);
    EXPECT_TRUE(absl::StrContains(response, "Connection: close\r\n")) << c.name;
  }
}

TEST_F(HttpTest, ChunkedBodyTooLargeIs413) {
  CurlResult r =
      Curl(absl::StrCat("-o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' "
                        "--data-binary @",
                        WriteTempFile("big.txt", std::string(100000, 'b')), " ", Url("echo")));
  EXPECT_EQ(r.out, "413") << r.out;
}

TEST_F(HttpTest, SilentIdleConnectionIsClosedWithoutAResponse) {
  TestClient client(server_->port("echo"));
  EXPECT_TRUE(client.WaitClosed(5000));
  EXPECT_EQ(client.ReadExactly(1, 10), "");
}

// http { strict_line_endings } reaches the codec: a bare LF is 400 there,
// and accepted by a default service.
TEST(HttpStrictTest, StrictLineEndingsFromTheConfig) {
  auto server = SockmanProcess::Start(R"(
service { name: "strict" listen: "http://127.0.0.1:0" http { strict_line_endings: true }
          respond { body: "ok" } }
service { name: "lenient" listen: "http://127.0.0.1:0" respond { body: "ok" } }
)",
                                      "strict", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient strict((*server)->port("strict"));
  ASSERT_TRUE(strict.Send("GET / HTTP/1.1\nHost: h\n\n"));
  EXPECT_EQ(strict.ReadLine(), "HTTP/1.1 400 Bad Request\r");
  TestClient lenient((*server)->port("lenient"));
  ASSERT_TRUE(lenient.Send("GET / HTTP/1.1\nHost: h\n\n"));
  EXPECT_EQ(lenient.ReadLine(), "HTTP/1.1 200 OK\r");
}

}  // namespace
}  // namespace sockman::testing
