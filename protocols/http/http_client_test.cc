#include "protocols/http/http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "engine/listener.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

// A blocking origin on its own threads: each request (read whole, by its
// Content-Length) gets the answer `respond` gives; `close_after` closes the
// connection after each answer.
class FakeOrigin {
 public:
  using Respond = std::function<std::string(const std::string& request)>;
  explicit FakeOrigin(Respond respond, bool close_after = false)
      : respond_(std::move(respond)), close_after_(close_after) {
    ListenOptions options;
    options.address = *SocketAddress::Parse("127.0.0.1", 0);
    listen_ = *BindTcpListener(options);
    port_ = SocketAddress::LocalOf(listen_.get())->port();
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FakeOrigin() {
    stopping_ = true;
    ::shutdown(listen_.get(), SHUT_RDWR);
    acceptor_.join();
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    for (std::thread& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }
  int max_concurrent() const { return max_concurrent_; }

 private:
  void Accept() {
    while (!stopping_) {
      int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          usleep(1000);
          continue;
        }
        return;
      }
      // The listener is non-blocking; its sockets need not be.
      ++accepted_;
      open_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    std::string input;
    char chunk[4096];
    while (true) {
      size_t head_end;
      while ((head_end = input.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(fd, chunk, sizeof(chunk));
        if (n <= 0) return Done(fd);
        input.append(chunk, n);
      }
      size_t length = 0;
      size_t at = input.find("Content-Length: ");
      if (at != std::string::npos && at < head_end) {
        (void)absl::SimpleAtoi(input.substr(at + 16, input.find("\r\n", at) - at - 16), &length);
      }
      while (input.size() < head_end + 4 + length) {
        ssize_t n = ::read(fd, chunk, sizeof(chunk));
        if (n <= 0) return Done(fd);
        input.append(chunk, n);
      }
      std::string request = input.substr(0, head_end + 4 + length);
      input.erase(0, request.size());
      int now = ++concurrent_;
      int seen = max_concurrent_;
      while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {
      }
      std::string answer = respond_(request);
      --concurrent_;
      if (!answer.empty() && ::write(fd, answer.data(), answer.size()) < 0) return Done(fd);
      if (close_after_) return Done(fd);
    }
  }
  void Done(int fd) { ::shutdown(fd, SHUT_RDWR); }

  Respond respond_;
  bool close_after_;
  UniqueFd listen_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
  std::thread acceptor_;
  std::vector<int> open_;
  std::vector<std::thread> workers_;
};

std::string Ok(absl::string_view body, absl::string_view extra = "") {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n", extra, "\r\n",
                      body);
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override { reactor_ = *Reactor::Create(SystemClock()); }

  // Runs the loop until `n` answers arrived (or 10 s passed).
  void RunUntil(const size_t& answers, size_t n) {
    int64_t deadline = SystemClock().NowMs() + 10'000;
    while (answers < n && SystemClock().NowMs() < deadline) reactor_->RunOnce(10);
    ASSERT_EQ(answers, n);
  }

  // Sends one request and runs the loop until its answer.
  absl::StatusOr<HttpClientResponse> SendOne(HttpClient& client, HttpClientRequest request = {}) {
    size_t answers = 0;
    absl::StatusOr<HttpClientResponse> result = absl::UnknownError("no answer");
    client.Send(std::move(request), [&](absl::StatusOr<HttpClientResponse> r) {
      ++answers;
      result = std::move(r);
    });
    RunUntil(answers, 1);
    return result;
  }

  std::unique_ptr<Reactor> reactor_;
};

TEST_F(HttpClientTest, ReusesOneKeepAliveConnection) {
  FakeOrigin origin([](const std::string& request) {
    size_t body = request.find("\r\n\r\n") + 4;
    return Ok(absl::StrCat("got ", request.substr(body)));
  });
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port()});
  std::vector<std::string> bodies;
  size_t answers = 0;
  for (int i = 0; i < 3; ++i) {
    client.Send({.target = "/x", .headers = "X-N: 1\r\n", .body = absl::StrCat("m", i)},
                [&](absl::StatusOr<HttpClientResponse> r) {
                  ++answers;
                  ASSERT_TRUE(r.ok()) << r.status();
                  bodies.push_back(r->body);
                });
    RunUntil(answers, i + 1);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"got m0", "got m1", "got m2"}));
  EXPECT_EQ(origin.accepted(), 1);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(HttpClientTest, SendsHostAndContentLength) {
  std::string seen;
  FakeOrigin origin([&](const std::string& request) {
    seen = request;
    return Ok("");
  });
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port()});
  ASSERT_TRUE(
      SendOne(client, {.target = "/events?a=1", .headers = "X-Event: message\r\n", .body = "hello"})
          .ok());
  EXPECT_TRUE(absl::StartsWith(seen, "POST /events?a=1 HTTP/1.1\r\n")) << seen;
  EXPECT_TRUE(absl::StrContains(seen, absl::StrCat("\r\nHost: 127.0.0.1:", origin.port(), "\r\n")));
  EXPECT_TRUE(absl::StrContains(seen, "\r\nContent-Length: 5\r\n"));
  EXPECT_TRUE(absl::StrContains(seen, "\r\nX-Event: message\r\n"));
  EXPECT_TRUE(absl::EndsWith(seen, "\r\n\r\nhello"));
}

TEST_F(HttpClientTest, BoundsConcurrencyAndAnswersEveryRequest) {
  FakeOrigin origin([](const std::string&) {
    usleep(20'000);
    return Ok("x");
  });
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port(), .max_connections = 2});
  size_t answers = 0, ok = 0;
  for (int i = 0; i < 8; ++i) {
    client.Send({}, [&](absl::StatusOr<HttpClientResponse> r) {
      ++answers;
      if (r.ok() && r->status == 200) ++ok;
    });
  }
  EXPECT_EQ(client.queued(), 8u);
  RunUntil(answers, 8);
  EXPECT_EQ(ok, 8u);
  EXPECT_EQ(origin.max_concurrent(), 2);
  EXPECT_LE(origin.accepted(), 2);
}

TEST_F(HttpClientTest, QueueLimit) {
  FakeOrigin origin([](const std::string&) { return Ok(""); });
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port(), .max_queue = 2});
  size_t answers = 0;
  std::vector<absl::StatusCode> codes;
  for (int i = 0; i < 3; ++i) {
    client.Send({}, [&](absl::StatusOr<HttpClientResponse> r) {
      ++answers;
      codes.push_back(r.status().code());
    });
  }
  RunUntil(answers, 3);
  EXPECT_EQ(codes[0], absl::StatusCode::kResourceExhausted);  // answered first, at once
  EXPECT_EQ(codes[1], absl::StatusCode::kOk);
  EXPECT_EQ(codes[2], absl::StatusCode::kOk);
}

TEST_F(HttpClientTest, TimesOut) {
  FakeOrigin origin([](const std::string&) { return std::string(); });  // never answers
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port(), .timeout_ms = 100});
  EXPECT_EQ(SendOne(client).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(HttpClientTest, RefusedIsUnavailable) {
  uint16_t port;
  {
    FakeOrigin gone([](const std::string&) { return Ok(""); });
    port = gone.port();
  }
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = port});
  absl::StatusOr<HttpClientResponse> r = SendOne(client);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(HttpClientTest, ResolvesLocalhost) {
  FakeOrigin origin([](const std::string&) { return Ok("hi"); });
  HttpClient client(*reactor_, {.host = "localhost", .port = origin.port()});
  absl::StatusOr<HttpClientResponse> r = SendOne(client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "hi");
}

TEST_F(HttpClientTest, RetriesOnceWhenAKeptConnectionWasClosed) {
  // The origin says keep-alive but closes after each answer: the second
  // request finds its connection closed and goes again on a new one.
  FakeOrigin origin([](const std::string&) { return Ok("ok"); }, /*close_after=*/true);
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port()});
  size_t answers = 0, ok = 0;
  for (int i = 0; i < 3; ++i) {
    client.Send({}, [&](absl::StatusOr<HttpClientResponse> r) {
      ++answers;
      if (r.ok() && r->body == "ok") ++ok;
    });
    RunUntil(answers, i + 1);
    // Give the close time to arrive, or not: either way the answer is right.
    if (i == 1) usleep(20'000);
  }
  EXPECT_EQ(ok, 3u);
  EXPECT_EQ(origin.accepted(), 3);
}

TEST_F(HttpClientTest, MalformedResponseIsAnError) {
  FakeOrigin origin([](const std::string&) { return std::string("SMTP ready\r\n\r\n"); });
  HttpClient client(*reactor_, {.host = "127.0.0.1", .port = origin.port()});
  absl::StatusOr<HttpClientResponse> r = SendOne(client);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

}  // namespace
}  // namespace sockman
