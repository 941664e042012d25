#include "protocols/activity_wheel.h"

#include <algorithm>
#include <utility>

namespace sockman {

ActivityWheel::ActivityWheel(Reactor& reactor, int64_t span_ms, int64_t tick_ms,
                             LastActive last_active, Expire expire)
    : reactor_(reactor),
      span_ms_(span_ms),
      tick_ms_(std::max<int64_t>(tick_ms, 1)),
      last_active_(std::move(last_active)),
      expire_(std::move(expire)) {
  slots_.resize(static_cast<size_t>(span_ms_ / tick_ms_ + 3));
  next_tick_ = reactor_.NowMs() / tick_ms_ + 1;
  timer_ = reactor_.AddRepeatingTimer(tick_ms_, [this] { Tick(); });
}

ActivityWheel::~ActivityWheel() { reactor_.CancelTimer(timer_); }

void ActivityWheel::Add(uint64_t id, int64_t last_active_ms) {
  ++watched_;
  Schedule(id, last_active_ms);
}

void ActivityWheel::Schedule(uint64_t id, int64_t last_active_ms) {
  int64_t due_ms = last_active_ms + span_ms_;
  int64_t due_tick = std::max((due_ms + tick_ms_ - 1) / tick_ms_, next_tick_);
  // Far-off ticks share a slot with nearer ones: Tick() checks the time again
  // and moves an entry that is not due yet, so nothing expires early.
  slots_[static_cast<size_t>(due_tick) % slots_.size()].push_back(id);
}

void ActivityWheel::Tick() {
  int64_t now = reactor_.NowMs();
  int64_t now_tick = now / tick_ms_;
  while (next_tick_ <= now_tick) {
    // Take the slot: entries rescheduled below go to fresh vectors.
    std::vector<uint64_t> due;
    due.swap(slots_[static_cast<size_t>(next_tick_) % slots_.size()]);
    for (uint64_t id : due) {
      std::optional<int64_t> last = last_active_(id);
      if (!last.has_value()) {
        --watched_;  // closed meanwhile
      } else if (*last + span_ms_ > now) {
        Schedule(id, *last);
      } else {
        --watched_;
        expire_(id);
      }
    }
    // Give the vector back to its slot (unless entries wrapped into it),
    // keeping its capacity for the next round.
    due.clear();
    auto& slot = slots_[static_cast<size_t>(next_tick_) % slots_.size()];
    if (slot.empty() && due.capacity() <= 4096) slot.swap(due);
    ++next_tick_;
  }
}

}  // namespace sockman
