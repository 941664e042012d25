// Memory shared with every process forked after it is mapped (MAP_SHARED |
// MAP_ANONYMOUS), zero-filled: tables the master makes before fork and its
// workers update with atomics (per-IP limits, shared rate buckets, upstream
// health). Unmapped when the owner in each process destroys it.
#ifndef SOCKMAN_ENGINE_SHARED_MEMORY_H_
#define SOCKMAN_ENGINE_SHARED_MEMORY_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sockman {

class SharedMemory {
 public:
  // `what` names the table in the error ("per-IP limits").
  static absl::StatusOr<std::unique_ptr<SharedMemory>> Map(size_t bytes, absl::string_view what);
  ~SharedMemory();
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  SharedMemory(void* data, size_t size) : data_(data), size_(size) {}
  void* data_;
  size_t size_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_SHARED_MEMORY_H_
