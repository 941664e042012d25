#include "engine/shared_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<SharedMemory>> SharedMemory::Map(size_t bytes,
                                                                absl::string_view what) {
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map ", bytes, " bytes for ", what, ": ", strerror(errno)));
  }
  return std::unique_ptr<SharedMemory>(new SharedMemory(data, bytes));
}

SharedMemory::~SharedMemory() { munmap(data_, size_); }

}  // namespace sockman
