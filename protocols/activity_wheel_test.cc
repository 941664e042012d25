#include "protocols/activity_wheel.h"

#include <map>

#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

// A fake clock drives the reactor's timers; "connections" are entries in a map
// of last-activity times.
class ActivityWheelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reactor = Reactor::Create(clock_);
    ASSERT_TRUE(reactor.ok());
    reactor_ = std::move(*reactor);
  }
  // Advances time in steps of `step_ms`, running due timers after each.
  void Advance(int64_t ms, int64_t step_ms = 10) {
    for (int64_t done = 0; done < ms; done += step_ms) {
      clock_.AdvanceMs(step_ms);
      reactor_->RunOnce(0);
    }
  }
  std::unique_ptr<ActivityWheel> Wheel(int64_t span, int64_t tick) {
    return std::make_unique<ActivityWheel>(
        *reactor_, span, tick,
        [this](uint64_t id) -> std::optional<int64_t> {
          auto it = last_.find(id);
          if (it == last_.end()) return std::nullopt;
          return it->second;
        },
        [this](uint64_t id) {
          expired_at_[id] = reactor_->NowMs();
          last_.erase(id);
        });
  }

  FakeClock clock_;
  std::unique_ptr<Reactor> reactor_;
  std::map<uint64_t, int64_t> last_;
  std::map<uint64_t, int64_t> expired_at_;
};

TEST_F(ActivityWheelTest, ExpiresQuietEntriesWithinOneTickOfTheDeadline) {
  auto wheel = Wheel(/*span=*/1000, /*tick=*/100);
  int64_t start = reactor_->NowMs();
  last_[1] = start;
  wheel->Add(1, start);
  Advance(950);
  EXPECT_TRUE(expired_at_.empty());  // never early
  Advance(200);
  ASSERT_EQ(expired_at_.count(1), 1u);
  EXPECT_GE(expired_at_[1], start + 1000);
  EXPECT_LE(expired_at_[1], start + 1100);
  EXPECT_EQ(wheel->watched(), 0u);
}

TEST_F(ActivityWheelTest, ActivityPostponesExpiry) {
  auto wheel = Wheel(1000, 100);
  int64_t start = reactor_->NowMs();
  last_[1] = start;
  last_[2] = start;
  wheel->Add(1, start);
  wheel->Add(2, start);
  // Entry 1 is active every 300 ms for 3 s; entry 2 stays quiet.
  for (int i = 0; i < 10; ++i) {
    Advance(300);
    if (last_.count(1)) last_[1] = reactor_->NowMs();
  }
  EXPECT_EQ(expired_at_.count(1), 0u);
  ASSERT_EQ(expired_at_.count(2), 1u);
  EXPECT_LE(expired_at_[2], start + 1100);
  int64_t quiet_since = last_[1];
  Advance(1500);
  ASSERT_EQ(expired_at_.count(1), 1u);
  EXPECT_GE(expired_at_[1], quiet_since + 1000);
  EXPECT_LE(expired_at_[1], quiet_since + 1100);
}

TEST_F(ActivityWheelTest, RemovedEntriesAreForgottenAndLateTicksCatchUp) {
  auto wheel = Wheel(500, 50);
  int64_t start = reactor_->NowMs();
  for (uint64_t id = 1; id <= 1000; ++id) {
    last_[id] = start;
    wheel->Add(id, start);
  }
  for (uint64_t id = 1; id <= 500; ++id) last_.erase(id);  // closed meanwhile
  // One late loop pass 3 s later handles every tick it missed.
  clock_.AdvanceMs(3000);
  reactor_->RunOnce(0);
  EXPECT_EQ(expired_at_.size(), 500u);
  EXPECT_EQ(expired_at_.begin()->first, 501u);
  EXPECT_EQ(wheel->watched(), 0u);
}

}  // namespace
}  // namespace sockman
