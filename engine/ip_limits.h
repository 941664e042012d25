// Per-client-address connection limits shared by every worker of a service:
// at most N open connections per IP, and at most R new ones per IP per
// second. The table lives in memory mapped (MAP_SHARED) by the master before
// it forks the workers, which update it with atomic operations only: no lock
// a dying worker could leave held.
//
//   auto limits = IpLimits::Create({.max_per_ip = 10, .new_per_second = 20});
//   if (limits->Admit(peer, now_s) != IpLimits::kAdmitted) refuse;
//   ...
//   limits->Release(peer);   // when that connection closes
//
// Addresses are kept as a 40-bit hash: two addresses sharing one (about one
// chance in 10^12 per pair) share their limits. When the table is full (more
// distinct addresses with open connections than slots), new addresses are
// admitted and counted as `unlimited` rather than refused.
#ifndef SOCKMAN_ENGINE_IP_LIMITS_H_
#define SOCKMAN_ENGINE_IP_LIMITS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/shared_memory.h"
#include "engine/socket_address.h"

namespace sockman {

// A client address as a 64-bit key, the same in every process (IPv4-mapped
// IPv6 as its IPv4 address; the port ignored), never 0.
uint64_t AddressKey(const SocketAddress& peer);

class IpLimits {
 public:
  struct Options {
    uint32_t max_per_ip = 0;      // open connections per address; 0: no limit
    uint32_t new_per_second = 0;  // new connections per address per second; 0: no limit
    uint32_t slots = 65536;       // addresses tracked at once (a power of two)
  };
  enum Verdict { kAdmitted, kTooMany, kTooFast };

  static absl::StatusOr<std::shared_ptr<IpLimits>> Create(const Options& options);
  ~IpLimits();
  IpLimits(const IpLimits&) = delete;
  IpLimits& operator=(const IpLimits&) = delete;

  // Counts a new connection from `peer` at `now_s` (unix seconds), unless a
  // limit refuses it (then nothing is counted).
  Verdict Admit(const SocketAddress& peer, int64_t now_s);
  // The connection Admit counted has closed.
  void Release(const SocketAddress& peer);

  // Open connections counted for `peer` (tests, status).
  uint32_t OpenFor(const SocketAddress& peer) const;
  // Connections admitted while the table was full (not limited).
  uint64_t unlimited() const { return header_->unlimited.load(std::memory_order_relaxed); }
  const Options& options() const { return options_; }

 private:
  struct Header {
    std::atomic<uint64_t> unlimited{0};
  };
  struct Slot {
    std::atomic<uint64_t> key_count{0};  // hash (40 bits) << 24 | open connections (24 bits)
    std::atomic<uint64_t> window{0};     // second (32 bits) << 32 | new connections in it
  };
  IpLimits(Options options, std::unique_ptr<SharedMemory> memory);
  Slot* Find(uint64_t hash) const;

  Options options_;
  std::unique_ptr<SharedMemory> memory_;
  Header* header_;
  Slot* slots_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_IP_LIMITS_H_
