#include "engine/reactor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <vector>

#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

class Counter : public Reactor::Watcher {
 public:
  explicit Counter(int fd) : fd_(fd) {}
  void OnEvents(uint32_t events) override {
    uint64_t value;
    if (::read(fd_, &value, sizeof(value)) == sizeof(value)) total += value;
  }
  int fd_;
  uint64_t total = 0;
};

TEST(ReactorTest, DeliversReadinessToWatchers) {
  auto reactor = *Reactor::Create(SystemClock());
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  Counter counter(fd);
  ASSERT_TRUE(reactor->Watch(fd, EPOLLIN, &counter).ok());
  uint64_t one = 3;
  ASSERT_EQ(::write(fd, &one, sizeof(one)), 8);
  reactor->RunOnce(100);
  EXPECT_EQ(counter.total, 3u);
  reactor->Unwatch(fd);
  ASSERT_EQ(::write(fd, &one, sizeof(one)), 8);
  reactor->RunOnce(10);
  EXPECT_EQ(counter.total, 3u);  // no longer watched
  close(fd);
}

TEST(ReactorTest, TimersFireAndCancel) {
  auto reactor = *Reactor::Create(SystemClock());
  int fired = 0;
  reactor->AddTimer(1, [&] { ++fired; });
  TimerId cancelled = reactor->AddTimer(1, [&] { fired += 100; });
  EXPECT_TRUE(reactor->CancelTimer(cancelled));
  TimerId repeating = reactor->AddRepeatingTimer(1, [&] { ++fired; });
  for (int i = 0; i < 50 && fired < 3; ++i) reactor->RunOnce(5);
  EXPECT_GE(fired, 3);
  EXPECT_LT(fired, 100);
  EXPECT_TRUE(reactor->TimerPending(repeating));
  reactor->CancelTimer(repeating);
  EXPECT_EQ(reactor->timer_count(), 0u);
}

struct Tracked {
  explicit Tracked(std::vector<int>& log) : log(log) {}
  ~Tracked() { log.push_back(2); }
  std::vector<int>& log;
};

TEST(ReactorTest, DeferredTasksRunBeforeDeferredDeletion) {
  auto reactor = *Reactor::Create(SystemClock());
  std::vector<int> log;
  reactor->DeleteLater(std::make_unique<Tracked>(log));
  reactor->Defer([&] {
    log.push_back(1);
    reactor->Defer([&] { log.push_back(1); });  // tasks may defer more
  });
  EXPECT_TRUE(log.empty()) << "nothing happens inside the caller's stack";
  reactor->RunOnce(0);
  EXPECT_EQ(log, (std::vector<int>{1, 1, 2}));
}

TEST(ReactorTest, StopEndsRun) {
  auto reactor = *Reactor::Create(SystemClock());
  reactor->AddTimer(1, [&] { reactor->Stop(); });
  reactor->Run();  // returns
  SUCCEED();
}

}  // namespace
}  // namespace sockman
