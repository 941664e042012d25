#include "engine/timer_queue.h"

#include <utility>

namespace sockman {

TimerId TimerQueue::Add(int64_t deadline_ms, int64_t interval_ms, std::function<void()> callback) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.deadline = deadline_ms;
  s.interval = interval_ms > 0 ? interval_ms : 0;
  s.live = true;
  s.callback = std::move(callback);
  Push(slot);
  return MakeId(slot, s.generation);
}

TimerQueue::Slot* TimerQueue::Find(TimerId id) {
  uint32_t low = static_cast<uint32_t>(id & 0xffffffffu);
  if (low == 0 || low > slots_.size()) return nullptr;
  Slot& s = slots_[low - 1];
  if (!s.live || s.generation != static_cast<uint32_t>(id >> 32)) return nullptr;
  return &s;
}

bool TimerQueue::Cancel(TimerId id) {
  Slot* s = Find(id);
  if (s == nullptr) return false;
  uint32_t slot = static_cast<uint32_t>((id & 0xffffffffu) - 1);
  if (s->heap_index >= 0) {
    RemoveAt(static_cast<size_t>(s->heap_index));
    Free(slot);
  } else {
    // Cancelled from inside its own callback: RunExpired frees it afterwards.
    s->live = false;
  }
  return true;
}

int64_t TimerQueue::NextDeadline() const { return heap_.empty() ? -1 : slots_[heap_[0]].deadline; }

void TimerQueue::RunExpired(int64_t now_ms) {
  // Timers re-armed during this call are collected and pushed at the end, so
  // a repeating timer with a tiny interval cannot starve the loop.
  std::vector<uint32_t> rearm;
  while (!heap_.empty() && slots_[heap_[0]].deadline <= now_ms) {
    uint32_t slot = heap_[0];
    RemoveAt(0);
    Slot& s = slots_[slot];
    if (s.interval == 0) {
      std::function<void()> callback = std::move(s.callback);
      Free(slot);
      callback();
      continue;
    }
    std::function<void()> callback = std::move(s.callback);
    callback();
    Slot& after = slots_[slot];  // slots_ may have grown
    if (!after.live) {
      Free(slot);
      continue;
    }
    after.callback = std::move(callback);
    after.deadline += after.interval;
    if (after.deadline <= now_ms) after.deadline = now_ms + after.interval;
    rearm.push_back(slot);
  }
  for (uint32_t slot : rearm) {
    if (slots_[slot].live) {
      Push(slot);
    } else {
      Free(slot);  // cancelled by a later callback of this pass
    }
  }
}

void TimerQueue::Push(uint32_t slot) {
  slots_[slot].heap_index = static_cast<int32_t>(heap_.size());
  heap_.push_back(slot);
  SiftUp(heap_.size() - 1);
}

void TimerQueue::RemoveAt(size_t i) {
  size_t last = heap_.size() - 1;
  slots_[heap_[i]].heap_index = -1;
  if (i != last) {
    heap_[i] = heap_[last];
    slots_[heap_[i]].heap_index = static_cast<int32_t>(i);
    heap_.pop_back();
    SiftDown(i);
    SiftUp(i);
  } else {
    heap_.pop_back();
  }
}

void TimerQueue::Swap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  slots_[heap_[a]].heap_index = static_cast<int32_t>(a);
  slots_[heap_[b]].heap_index = static_cast<int32_t>(b);
}

void TimerQueue::SiftUp(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Less(i, parent)) break;
    Swap(i, parent);
    i = parent;
  }
}

void TimerQueue::SiftDown(size_t i) {
  for (;;) {
    size_t left = 2 * i + 1;
    if (left >= heap_.size()) break;
    size_t child = left;
    if (left + 1 < heap_.size() && Less(left + 1, left)) child = left + 1;
    if (!Less(child, i)) break;
    Swap(i, child);
    i = child;
  }
}

void TimerQueue::Free(uint32_t slot) {
  Slot& s = slots_[slot];
  s.live = false;
  s.heap_index = -1;
  s.callback = nullptr;
  ++s.generation;
  free_slots_.push_back(slot);
}

}  // namespace sockman
