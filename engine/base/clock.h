// Clock is the one place sockman reads time. Everything that needs "now" takes
// a Clock&, so tests substitute a FakeClock and advance it instead of sleeping.
//
//   Clock& clock = SystemClock();
//   int64_t deadline = clock.NowMs() + 1000;
#ifndef SOCKMAN_ENGINE_BASE_CLOCK_H_
#define SOCKMAN_ENGINE_BASE_CLOCK_H_

#include <cstdint>

namespace sockman {

class Clock {
 public:
  virtual ~Clock() = default;

  // Milliseconds on a monotonic clock with an arbitrary epoch.
  virtual int64_t NowMs() = 0;

  // Seconds since the Unix epoch (wall clock), for display only.
  virtual int64_t WallSeconds() = 0;
};

// The process-wide real clock (CLOCK_MONOTONIC / CLOCK_REALTIME).
Clock& SystemClock();

// A clock that moves only when told to. Not thread-safe; for tests.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'000'000) : now_ms_(now_ms) {}
  int64_t NowMs() override { return now_ms_; }
  int64_t WallSeconds() override { return 1'700'000'000 + now_ms_ / 1000; }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BASE_CLOCK_H_
