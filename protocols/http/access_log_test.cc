#include "protocols/http/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "engine/base/unique_fd.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

// What a LogAppender wrote through to a pipe.
class Captured {
 public:
  Captured() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    read_ = UniqueFd(fds[0]);
    log_ = std::make_unique<LogAppender>(UniqueFd(fds[1]));
  }
  LogAppender& log() { return *log_; }
  std::string Text() {
    log_->Flush();
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(read_.get(), buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    return text;
  }

 private:
  UniqueFd read_;
  std::unique_ptr<LogAppender> log_;
};

TEST(AccessLogTest, WritesTheCombinedFormat) {
  Captured out;
  AccessLogRequest request;
  request.Capture("GET", "/a?b=1", 1, "", "curl/8.0");
  AppendAccessLog(out.log(), "127.0.0.1", "22/Nov/2026:02:26:08 +0000", &request, 200, 5);
  EXPECT_EQ(out.Text(),
            "127.0.0.1 - - [22/Nov/2026:02:26:08 +0000] \"GET /a?b=1 HTTP/1.1\" 200 5 \"-\" "
            "\"curl/8.0\"\n");
}

TEST(AccessLogTest, EscapesLikeNginxAndLogsUnparsedRequestsAsDash) {
  Captured out;
  AccessLogRequest request;
  request.Capture("GET", "/\"q\"\\\x01\xff", 0, "http://r/", "a\tb");
  AppendAccessLog(out.log(), "::1", "t", &request, 404, 0);
  AppendAccessLog(out.log(), "10.0.0.1", "t", nullptr, 400, 11);
  EXPECT_EQ(out.Text(),
            "::1 - - [t] \"GET /\\x22q\\x22\\x5c\\x01\\xff HTTP/1.0\" 404 0 \"http://r/\" "
            "\"a\\x09b\"\n"
            "10.0.0.1 - - [t] \"-\" 400 11 \"\" \"\"\n");
}

TEST(AccessLogTest, CaptureCopiesTheRequest) {
  Captured out;
  AccessLogRequest request;
  {
    std::string target = "/gone-soon";
    request.Capture("POST", target, 1, "", "");
    target.assign(target.size(), 'x');  // the request's bytes are reused
  }
  AppendAccessLog(out.log(), "h", "t", &request, 201, 2);
  EXPECT_EQ(out.Text(), "h - - [t] \"POST /gone-soon HTTP/1.1\" 201 2 \"-\" \"-\"\n");
}

}  // namespace
}  // namespace sockman
