// TimerQueue holds millisecond deadlines in an indexed binary heap: add and
// cancel are O(log n), the next deadline is O(1), and a timer costs one slot in
// a reused slab, so hundreds of thousands of connection deadlines are cheap.
// It never reads the clock: the owner passes "now" in (see Reactor).
//
//   TimerQueue timers;
//   TimerId id = timers.Add(now + 500, /*interval_ms=*/0, [] { ... });
//   timers.Cancel(id);
//   timers.RunExpired(now);  // runs callbacks whose deadline <= now
//
// Callbacks may add and cancel timers, including their own. Single-threaded.
#ifndef SOCKMAN_ENGINE_TIMER_QUEUE_H_
#define SOCKMAN_ENGINE_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <vector>

namespace sockman {

// 0 is never a valid id.
using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

class TimerQueue {
 public:
  // Fires at `deadline_ms`, then every `interval_ms` if it is > 0.
  TimerId Add(int64_t deadline_ms, int64_t interval_ms, std::function<void()> callback);

  // Returns false if `id` already fired (one-shot) or was cancelled.
  bool Cancel(TimerId id);

  // True while `id` may still fire.
  bool Pending(TimerId id) { return Find(id) != nullptr; }

  // The earliest deadline, or -1 when empty.
  int64_t NextDeadline() const;

  // Runs every timer due at `now_ms`. A repeating timer runs at most once per
  // call and is re-armed relative to its previous deadline (or to now when it
  // has fallen more than one interval behind).
  void RunExpired(int64_t now_ms);

  size_t size() const { return heap_.size(); }

 private:
  struct Slot {
    int64_t deadline = 0;
    int64_t interval = 0;
    uint32_t generation = 0;
    int32_t heap_index = -1;  // -1: free, or running and not re-armed
    bool live = false;
    std::function<void()> callback;
  };

  static TimerId MakeId(uint32_t slot, uint32_t generation) {
    return (uint64_t{generation} << 32) | (uint64_t{slot} + 1);
  }
  Slot* Find(TimerId id);
  void Push(uint32_t slot);
  void RemoveAt(size_t heap_index);
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  bool Less(size_t a, size_t b) const {
    return slots_[heap_[a]].deadline < slots_[heap_[b]].deadline;
  }
  void Swap(size_t a, size_t b);
  void Free(uint32_t slot);

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> heap_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_TIMER_QUEUE_H_
