#include "cli/config_watcher.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

class ConfigWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sockman-watch-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/sockman.textproto";
    std::ofstream(path_) << "one";
    reactor_ = *Reactor::Create(SystemClock());
    watcher_ = *ConfigWatcher::Create(*reactor_, path_, [this] { ++changes_; });
  }
  void TearDown() override {
    std::remove(path_.c_str());
    std::remove((dir_ + "/other").c_str());
    ::rmdir(dir_.c_str());
  }
  // Runs the loop for about `ms` (past the debounce).
  void RunFor(int ms) {
    for (int i = 0; i < ms / 10; ++i) reactor_->RunOnce(10);
  }

  std::string dir_, path_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<ConfigWatcher> watcher_;
  int changes_ = 0;
};

TEST_F(ConfigWatcherTest, AWriteIsOneChangeAfterTheDebounce) {
  std::ofstream(path_) << "two";
  std::ofstream(path_) << "three";  // a second write within the debounce
  RunFor(ConfigWatcher::kDebounceMs / 2);
  EXPECT_EQ(changes_, 0);
  RunFor(ConfigWatcher::kDebounceMs * 3);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatcherTest, ARenameOverTheFileIsAChange) {
  std::string fresh = dir_ + "/other";
  std::ofstream(fresh) << "new";
  ASSERT_EQ(std::rename(fresh.c_str(), path_.c_str()), 0);
  RunFor(ConfigWatcher::kDebounceMs * 3);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatcherTest, OtherFilesInTheDirectoryAreNot) {
  std::ofstream(dir_ + "/other") << "x";
  RunFor(ConfigWatcher::kDebounceMs * 3);
  EXPECT_EQ(changes_, 0);
}

TEST(ConfigWatcherCreateTest, AMissingDirectoryIsAnError) {
  auto reactor = *Reactor::Create(SystemClock());
  auto watcher = ConfigWatcher::Create(*reactor, "/nonexistent-sockman-dir/x.textproto", [] {});
  ASSERT_FALSE(watcher.ok());
  EXPECT_NE(watcher.status().message().find("/nonexistent-sockman-dir"), absl::string_view::npos);
}

}  // namespace
}  // namespace sockman
