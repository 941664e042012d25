#include "engine/base/logging.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string Capture(const std::function<void()>& body) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  SetLogFd(fds[1]);
  body();
  SetLogFd(STDERR_FILENO);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  return out;
}

TEST(LoggingTest, LineHasSeverityRoleAndMessage) {
  SetLogRole("master");
  std::string out = Capture([] { LogWarning("disk on fire"); });
  EXPECT_NE(out.find(" warning [master "), std::string::npos) << out;
  EXPECT_NE(out.find("disk on fire\n"), std::string::npos) << out;
}

TEST(LoggingTest, RateLimitedLogSuppressesAndCounts) {
  RateLimitedLog limited(1000);
  std::string out = Capture([&] {
    limited.Log(LogSeverity::kError, 0, "bad peer");
    limited.Log(LogSeverity::kError, 10, "bad peer");
    limited.Log(LogSeverity::kError, 20, "bad peer");
    limited.Log(LogSeverity::kError, 2000, "bad peer");
  });
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_NE(out.find("(2 similar suppressed)"), std::string::npos) << out;
}

}  // namespace
}  // namespace sockman
