#include "engine/shared_buckets.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

namespace sockman {
namespace {

constexpr int kProbes = 32;
constexpr int64_t kForgetMs = 60'000;  // a key idle this long gives up its slot
constexpr double kUnits[2] = {1000.0, 1.0};
constexpr double kMaxUnits = 2147483647.0;

uint32_t Stamp(int64_t now_ms) { return static_cast<uint32_t>(now_ms) | 1; }  // 0: never used

// A bucket's word: whole units (int32) above the time they were counted.
uint64_t Pack(double units, int64_t now_ms) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(std::floor(units))))
          << 32) |
         Stamp(now_ms);
}

}  // namespace

uint64_t NameKey(absl::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL ^ 0x75;  // FNV-1a (apart from addresses), then mixed
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h == 0 ? 1 : h;
}

absl::StatusOr<std::shared_ptr<SharedBuckets>> SharedBuckets::Create(uint32_t slots) {
  if (slots == 0 || (slots & (slots - 1)) != 0) {
    return absl::InvalidArgumentError("slots must be a power of two");
  }
  absl::StatusOr<std::unique_ptr<SharedMemory>> memory =
      SharedMemory::Map(sizeof(Header) + sizeof(Slot) * slots, "shared rate limits");
  if (!memory.ok()) return memory.status();
  return std::shared_ptr<SharedBuckets>(new SharedBuckets(slots, std::move(*memory)));
}

SharedBuckets::SharedBuckets(uint32_t slots, std::unique_ptr<SharedMemory> memory)
    : slots_(slots), memory_(std::move(memory)) {
  header_ = new (memory_->data()) Header();
  table_ = reinterpret_cast<Slot*>(static_cast<char*>(memory_->data()) + sizeof(Header));
  for (uint32_t i = 0; i < slots_; ++i) new (&table_[i]) Slot();
}

SharedBuckets::~SharedBuckets() = default;

SharedBuckets::Slot* SharedBuckets::Claim(uint64_t key, int64_t now_ms) {
  if (key == 0) key = 1;
  uint32_t mask = slots_ - 1;
  for (int i = 0; i < kProbes; ++i) {
    Slot& slot = table_[(key + static_cast<uint64_t>(i)) & mask];
    if (slot.key.load(std::memory_order_acquire) == key) return &slot;
  }
  for (int i = 0; i < kProbes; ++i) {
    Slot& slot = table_[(key + static_cast<uint64_t>(i)) & mask];
    uint64_t held = slot.key.load(std::memory_order_acquire);
    if (held != 0) {
      // Taken: reusable once both its buckets have been idle a while.
      bool idle = true;
      for (auto& state : slot.state) {
        uint64_t s = state.load(std::memory_order_relaxed);
        uint32_t then = static_cast<uint32_t>(s);
        if (s != 0 && static_cast<uint32_t>(Stamp(now_ms) - then) < kForgetMs) idle = false;
      }
      if (!idle) continue;
    }
    if (slot.key.compare_exchange_strong(held, key, std::memory_order_acq_rel)) {
      for (auto& state : slot.state) state.store(0, std::memory_order_relaxed);
      for (auto& lease : slot.lease) lease.store(0, std::memory_order_relaxed);
      return &slot;
    }
  }
  return nullptr;
}

SharedBuckets::Slot* SharedBuckets::Find(uint64_t key, int64_t now_ms) {
  Slot* slot = Claim(key, now_ms);
  if (slot == nullptr) header_->unlimited.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

double SharedBuckets::TakeCredit(uint64_t key, Bucket bucket, double cost, double initial,
                                 int64_t now_ms, bool allow_debt) {
  Slot* slot = Find(key, now_ms);
  if (slot == nullptr) return initial;
  const double units = kUnits[bucket];
  const double want = cost * units;
  std::atomic<uint64_t>& state = slot->state[bucket];
  uint64_t old = state.load(std::memory_order_acquire);
  for (;;) {
    double tokens = old == 0 ? std::min(initial * units, kMaxUnits)
                             : static_cast<double>(static_cast<int32_t>(old >> 32));
    if (tokens < want && !allow_debt) return (tokens - want) / units;
    double left = std::max(tokens - want, -kMaxUnits);
    uint64_t next = Pack(left, now_ms);
    if (state.compare_exchange_weak(old, next, std::memory_order_acq_rel)) return left / units;
  }
}

void SharedBuckets::AddCredit(uint64_t key, Bucket bucket, double amount, int64_t now_ms) {
  Slot* slot = Find(key, now_ms);
  if (slot == nullptr) return;
  const double units = kUnits[bucket];
  std::atomic<uint64_t>& state = slot->state[bucket];
  uint64_t old = state.load(std::memory_order_acquire);
  for (;;) {
    double tokens = old == 0 ? 0 : static_cast<double>(static_cast<int32_t>(old >> 32));
    double sum = std::min(tokens + amount * units, kMaxUnits);
    uint64_t next = Pack(sum, now_ms);
    if (state.compare_exchange_weak(old, next, std::memory_order_acq_rel)) return;
  }
}

bool SharedBuckets::StartLease(uint64_t key, Bucket bucket, int64_t now_ms) {
  Slot* slot = Find(key, now_ms);
  if (slot == nullptr) return false;
  std::atomic<uint32_t>& lease = slot->lease[bucket];
  uint32_t until = lease.load(std::memory_order_acquire);
  uint32_t now = Stamp(now_ms);
  if (until != 0 && static_cast<int32_t>(until - now) > 0) return false;
  return lease.compare_exchange_strong(until, Stamp(now_ms + 2000), std::memory_order_acq_rel);
}

void SharedBuckets::EndLease(uint64_t key, Bucket bucket, int64_t now_ms, int64_t retry_ms) {
  Slot* slot = Find(key, now_ms);
  if (slot == nullptr) return;
  slot->lease[bucket].store(retry_ms > 0 ? Stamp(now_ms + retry_ms) : 0, std::memory_order_release);
}

double SharedBuckets::Take(uint64_t key, Bucket bucket, double rate, double burst, double cost,
                           int64_t now_ms, bool allow_debt) {
  Slot* slot = Claim(key, now_ms);
  if (slot == nullptr) {
    header_->unlimited.fetch_add(1, std::memory_order_relaxed);
    return burst;
  }
  const double units = kUnits[bucket];
  const double cap = std::min(burst * units, kMaxUnits);
  const double want = cost * units;
  std::atomic<uint64_t>& state = slot->state[bucket];
  uint64_t old = state.load(std::memory_order_acquire);
  for (;;) {
    double tokens = cap;  // never used: full
    if (old != 0) {
      uint32_t then = static_cast<uint32_t>(old);
      double elapsed = static_cast<double>(static_cast<uint32_t>(Stamp(now_ms) - then)) / 1000.0;
      tokens = std::min(
          cap, static_cast<double>(static_cast<int32_t>(old >> 32)) + elapsed * rate * units);
    }
    if (tokens < want && !allow_debt) return (tokens - want) / units;
    double left = std::max(tokens - want, -kMaxUnits);
    uint64_t next = Pack(left, now_ms);
    if (state.compare_exchange_weak(old, next, std::memory_order_acq_rel)) return left / units;
  }
}

}  // namespace sockman
