// ActivityWheel closes connections that have been quiet too long, without
// scanning every connection on every tick: each connection sits in the slot
// of the tick when it could first expire. When that tick comes, a connection
// that was active since is moved to its new slot, and one that was not is
// expired. Activity itself costs nothing here: the connection just records
// the time (Connection keeps it), and the wheel reads it lazily.
//
//   ActivityWheel wheel(reactor, /*span_ms=*/30000, /*tick_ms=*/1000,
//       [&](uint64_t id) { return LastActiveMs(id); },   // nullopt: gone
//       [&](uint64_t id) { Close(id); });
//   wheel.Add(id, reactor.NowMs());
//
// A connection quiet since time t expires at the first tick at or after
// t + span: never early, at most one tick late.
#ifndef SOCKMAN_PROTOCOLS_ACTIVITY_WHEEL_H_
#define SOCKMAN_PROTOCOLS_ACTIVITY_WHEEL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "engine/reactor.h"

namespace sockman {

class ActivityWheel {
 public:
  using LastActive = std::function<std::optional<int64_t>(uint64_t id)>;
  using Expire = std::function<void(uint64_t id)>;

  ActivityWheel(Reactor& reactor, int64_t span_ms, int64_t tick_ms, LastActive last_active,
                Expire expire);
  ~ActivityWheel();
  ActivityWheel(const ActivityWheel&) = delete;
  ActivityWheel& operator=(const ActivityWheel&) = delete;

  // Starts watching `id`, last active at `last_active_ms`.
  void Add(uint64_t id, int64_t last_active_ms);

  size_t watched() const { return watched_; }

 private:
  void Schedule(uint64_t id, int64_t last_active_ms);
  void Tick();

  Reactor& reactor_;
  int64_t span_ms_;
  int64_t tick_ms_;
  LastActive last_active_;
  Expire expire_;
  std::vector<std::vector<uint64_t>> slots_;  // by due tick, modulo the size
  int64_t next_tick_ = 0;                     // the first tick not processed yet
  size_t watched_ = 0;
  TimerId timer_ = kNoTimer;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_ACTIVITY_WHEEL_H_
