#include "engine/timer_queue.h"

#include <vector>

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(TimerQueueTest, FiresInDeadlineOrder) {
  TimerQueue q;
  std::vector<int> fired;
  q.Add(30, 0, [&] { fired.push_back(3); });
  q.Add(10, 0, [&] { fired.push_back(1); });
  q.Add(20, 0, [&] { fired.push_back(2); });
  EXPECT_EQ(q.NextDeadline(), 10);
  q.RunExpired(25);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  q.RunExpired(30);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(q.NextDeadline(), -1);
}

TEST(TimerQueueTest, CancelledTimerNeverFires) {
  TimerQueue q;
  bool fired = false;
  TimerId id = q.Add(10, 0, [&] { fired = true; });
  EXPECT_TRUE(q.Cancel(id));
  EXPECT_FALSE(q.Cancel(id));
  q.RunExpired(100);
  EXPECT_FALSE(fired);
}

TEST(TimerQueueTest, StaleIdDoesNotCancelReusedSlot) {
  TimerQueue q;
  TimerId first = q.Add(10, 0, [] {});
  q.RunExpired(10);
  int fired = 0;
  q.Add(20, 0, [&] { ++fired; });  // reuses the slot
  EXPECT_FALSE(q.Cancel(first));
  q.RunExpired(20);
  EXPECT_EQ(fired, 1);
}

TEST(TimerQueueTest, RepeatingTimerRearmsAndCanCancelItself) {
  TimerQueue q;
  int fired = 0;
  TimerId id = kNoTimer;
  id = q.Add(10, 10, [&] {
    if (++fired == 3) q.Cancel(id);
  });
  for (int now = 10; now <= 100; now += 10) q.RunExpired(now);
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTest, RepeatingTimerRunsOncePerPassWhenLate) {
  TimerQueue q;
  int fired = 0;
  q.Add(10, 1, [&] { ++fired; });
  q.RunExpired(1000);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(q.NextDeadline(), 1001);
}

TEST(TimerQueueTest, CallbackMayAddTimers) {
  TimerQueue q;
  std::vector<int> fired;
  q.Add(10, 0, [&] {
    fired.push_back(1);
    q.Add(10, 0, [&] { fired.push_back(2); });  // already due
  });
  q.RunExpired(10);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

TEST(TimerQueueTest, ManyTimersCancelInAnyOrder) {
  TimerQueue q;
  std::vector<TimerId> ids;
  int fired = 0;
  for (int i = 0; i < 100000; ++i) ids.push_back(q.Add((i * 7919) % 100000, 0, [&] { ++fired; }));
  for (size_t i = 0; i < ids.size(); i += 2) EXPECT_TRUE(q.Cancel(ids[i]));
  int64_t last = -1;
  while (q.size() > 0) {
    int64_t next = q.NextDeadline();
    EXPECT_GE(next, last);
    last = next;
    q.RunExpired(next);
  }
  EXPECT_EQ(fired, 50000);
}

}  // namespace
}  // namespace sockman
