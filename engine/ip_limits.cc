#include "engine/ip_limits.h"

#include <netinet/in.h>

#include <cstring>
#include <new>


namespace sockman {
namespace {

constexpr uint64_t kCountBits = 24;
constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;
constexpr int kProbes = 32;  // slots tried from an address's home slot

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

absl::StatusOr<std::shared_ptr<IpLimits>> IpLimits::Create(const Options& options) {
  if (options.slots == 0 || (options.slots & (options.slots - 1)) != 0) {
    return absl::InvalidArgumentError("slots must be a power of two");
  }
  absl::StatusOr<std::unique_ptr<SharedMemory>> memory =
      SharedMemory::Map(sizeof(Header) + sizeof(Slot) * options.slots, "per-IP limits");
  if (!memory.ok()) return memory.status();
  return std::shared_ptr<IpLimits>(new IpLimits(options, std::move(*memory)));
}

IpLimits::IpLimits(Options options, std::unique_ptr<SharedMemory> memory)
    : options_(options), memory_(std::move(memory)) {
  header_ = new (memory_->data()) Header();
  slots_ = reinterpret_cast<Slot*>(static_cast<char*>(memory_->data()) + sizeof(Header));
  for (uint32_t i = 0; i < options_.slots; ++i) new (&slots_[i]) Slot();
}

IpLimits::~IpLimits() = default;

uint64_t AddressKey(const SocketAddress& peer) {
  const uint8_t* bytes = nullptr;
  size_t length = 0;
  uint8_t family = 4;
  if (peer.family() == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(peer.sockaddr_ptr())->sin_addr);
    length = 4;
  } else if (peer.family() == AF_INET6) {
    bytes = reinterpret_cast<const sockaddr_in6*>(peer.sockaddr_ptr())->sin6_addr.s6_addr;
    length = 16;
    family = 6;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, 12) == 0) {  // ::ffff:a.b.c.d is a.b.c.d
      bytes += 12;
      length = 4;
      family = 4;
    }
  }
  uint64_t h = 0xcbf29ce484222325ULL ^ family;  // FNV-1a, then mixed
  for (size_t i = 0; i < length; ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  h = Mix(h);
  return h == 0 ? 1 : h;
}

namespace {

// 40 bits of the address key, never 0 (0 marks an empty slot).
uint64_t Hash(const SocketAddress& peer) {
  uint64_t h = AddressKey(peer) >> kCountBits;
  return h == 0 ? 1 : h;
}

}  // namespace

IpLimits::Slot* IpLimits::Find(uint64_t hash) const {
  uint32_t mask = options_.slots - 1;
  for (int i = 0; i < kProbes; ++i) {
    Slot& slot = slots_[(hash + static_cast<uint64_t>(i)) & mask];
    if ((slot.key_count.load(std::memory_order_acquire) >> kCountBits) == hash) return &slot;
  }
  return nullptr;
}

IpLimits::Verdict IpLimits::Admit(const SocketAddress& peer, int64_t now_s) {
  uint64_t hash = Hash(peer);
  uint32_t mask = options_.slots - 1;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Slot* slot = Find(hash);
    if (slot == nullptr) {
      // Claim an empty slot, or one no connection holds whose rate window is
      // over (its address is forgotten: nothing it did still counts).
      for (int i = 0; i < kProbes && slot == nullptr; ++i) {
        Slot& candidate = slots_[(hash + static_cast<uint64_t>(i)) & mask];
        uint64_t word = candidate.key_count.load(std::memory_order_acquire);
        uint64_t window = candidate.window.load(std::memory_order_relaxed);
        bool stale = static_cast<int64_t>(window >> 32) < now_s - 1;
        if (word != 0 && ((word & kCountMask) != 0 || !stale)) continue;
        if (candidate.key_count.compare_exchange_strong(word, hash << kCountBits,
                                                        std::memory_order_acq_rel)) {
          candidate.window.store(0, std::memory_order_relaxed);
          slot = &candidate;
        }
      }
      if (slot == nullptr) {
        header_->unlimited.fetch_add(1, std::memory_order_relaxed);
        return kAdmitted;  // full around here: fail open rather than refuse everyone
      }
    }
    // The rate: new connections in this second.
    if (options_.new_per_second > 0) {
      uint64_t second = static_cast<uint64_t>(now_s) & 0xffffffffULL;
      uint64_t window = slot->window.load(std::memory_order_relaxed);
      for (;;) {
        uint64_t count = (window >> 32) == second ? (window & 0xffffffffULL) : 0;
        if (count >= options_.new_per_second) return kTooFast;
        if (slot->window.compare_exchange_weak(window, (second << 32) | (count + 1),
                                               std::memory_order_relaxed)) {
          break;
        }
      }
    }
    // The open count, if the slot is still this address's.
    uint64_t word = slot->key_count.load(std::memory_order_acquire);
    for (;;) {
      if ((word >> kCountBits) != hash) break;  // taken over meanwhile: look again
      uint64_t open = word & kCountMask;
      if ((options_.max_per_ip > 0 && open >= options_.max_per_ip) || open == kCountMask) {
        return kTooMany;
      }
      if (slot->key_count.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) {
        return kAdmitted;
      }
    }
  }
  header_->unlimited.fetch_add(1, std::memory_order_relaxed);
  return kAdmitted;
}

void IpLimits::Release(const SocketAddress& peer) {
  Slot* slot = Find(Hash(peer));
  if (slot == nullptr) return;  // admitted unlimited
  uint64_t word = slot->key_count.load(std::memory_order_acquire);
  while ((word & kCountMask) > 0 &&
         !slot->key_count.compare_exchange_weak(word, word - 1, std::memory_order_acq_rel)) {
  }
}

uint32_t IpLimits::OpenFor(const SocketAddress& peer) const {
  Slot* slot = Find(Hash(peer));
  return slot == nullptr
             ? 0
             : static_cast<uint32_t>(slot->key_count.load(std::memory_order_acquire) & kCountMask);
}

}  // namespace sockman
