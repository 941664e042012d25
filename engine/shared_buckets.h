// Token buckets shared by a service's workers, one pair (messages, bytes)
// per key (a client address), in memory the master maps (MAP_SHARED) before
// it forks. Lock-free: each bucket is one 64-bit word (tokens and the time
// they were counted) updated with compare-and-swap, so a worker that dies
// mid-update leaves nothing locked.
//
//   auto buckets = SharedBuckets::Create();
//   double left = buckets->Take(key, SharedBuckets::kMessages, rate, burst, 1, now_ms, debt);
//
// Keys are 64-bit hashes; when every slot near a key's is in use by
// addresses active within a refill time, the key is not limited (counted).
#ifndef SOCKMAN_ENGINE_SHARED_BUCKETS_H_
#define SOCKMAN_ENGINE_SHARED_BUCKETS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/shared_memory.h"

namespace sockman {

// A name (a uid) as a bucket key, the same in every process, never 0.
uint64_t NameKey(absl::string_view name);

class SharedBuckets {
 public:
  enum Bucket { kMessages = 0, kBytes = 1 };

  // `slots`: keys tracked at once, a power of two.
  static absl::StatusOr<std::shared_ptr<SharedBuckets>> Create(uint32_t slots = 65536);
  ~SharedBuckets();
  SharedBuckets(const SharedBuckets&) = delete;
  SharedBuckets& operator=(const SharedBuckets&) = delete;

  // Refills `bucket` of `key` at `rate` per second up to `burst`, then takes
  // `cost` if there is that much (or always, when `allow_debt`: the bucket
  // goes negative). Returns the tokens left after taking, or a negative
  // shortfall (-1: none taken) when refused; with allow_debt, what is left,
  // possibly negative. Unlimited keys (no slot) always get their tokens.
  // Tokens are whole bytes for kBytes and thousandths for kMessages; a
  // burst is at most 2^31 - 1 of those units.
  double Take(uint64_t key, Bucket bucket, double rate, double burst, double cost, int64_t now_ms,
              bool allow_debt);

  // Cluster mode (rate_limit `cluster`): tokens come from leases granted by
  // Redis (AddCredit), not from the clock. TakeCredit takes `cost` from
  // `bucket`'s credit (a key never used starts with `initial`, so its first
  // message does not wait for the first lease); like Take, it returns what
  // is left, or a negative shortfall with nothing taken unless `allow_debt`.
  double TakeCredit(uint64_t key, Bucket bucket, double cost, double initial, int64_t now_ms,
                    bool allow_debt);
  void AddCredit(uint64_t key, Bucket bucket, double amount, int64_t now_ms);
  // Whether the caller should ask for a lease of `bucket` of `key` now: none
  // in flight in any process (one older than 2 s is taken as lost) and none
  // refused within its retry time. True marks one in flight.
  bool StartLease(uint64_t key, Bucket bucket, int64_t now_ms);
  // The lease was answered; none is asked for again for `retry_ms`.
  void EndLease(uint64_t key, Bucket bucket, int64_t now_ms, int64_t retry_ms);

  uint64_t unlimited() const { return header_->unlimited.load(std::memory_order_relaxed); }

 private:
  struct Header {
    std::atomic<uint64_t> unlimited{0};
  };
  struct Slot {
    std::atomic<uint64_t> key{0};
    std::atomic<uint64_t> state[2] = {};  // tokens (int32, units) << 32 | time (ms, uint32)
    // Cluster mode: 0, or until when (ms, uint32) no new lease is asked for.
    std::atomic<uint32_t> lease[2] = {};
  };
  // The slot `key` has (claimed if need be), or null when the table is full there.
  Slot* Find(uint64_t key, int64_t now_ms);
  SharedBuckets(uint32_t slots, std::unique_ptr<SharedMemory> memory);
  Slot* Claim(uint64_t key, int64_t now_ms);

  uint32_t slots_;
  std::unique_ptr<SharedMemory> memory_;
  Header* header_;
  Slot* table_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_SHARED_BUCKETS_H_
