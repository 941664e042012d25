#include "engine/log_appender.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string Contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LogAppenderTest, BuffersUntilFlushOrThreshold) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/access.log";
  {
    LogAppender log(UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644)));
    log.Append("one\n");
    EXPECT_EQ(Contents(path), "") << "buffered";
    log.Flush();
    EXPECT_EQ(Contents(path), "one\n");
    log.Append(std::string(LogAppender::kFlushBytes, 'x'));
    EXPECT_EQ(Contents(path).size(), 4 + LogAppender::kFlushBytes) << "flushed at the threshold";
    log.Append("last\n");
  }
  EXPECT_TRUE(Contents(path).ends_with("last\n")) << "flushed on destruction";
}

TEST(LogAppenderTest, CountsFailedWritesAndKeepsGoing) {
  LogAppender log(UniqueFd(::open("/dev/null", O_RDONLY)));  // not writable
  log.Append("lost\n");
  log.Flush();
  EXPECT_EQ(log.write_failures(), 1u);
  log.Append("again\n");
  log.Flush();
  EXPECT_EQ(log.write_failures(), 2u);
}

}  // namespace
}  // namespace sockman
