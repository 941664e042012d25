#include "engine/buffer.h"

#include <algorithm>
#include <cstring>

namespace sockman {

void Buffer::Append(absl::string_view bytes) {
  if (bytes.empty()) return;
  absl::Span<char> space = PrepareWrite(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  CommitWrite(bytes.size());
}

void Buffer::Consume(size_t n) {
  read_ += n;
  if (read_ == write_) read_ = write_ = 0;
}

absl::Span<char> Buffer::PrepareWrite(size_t min_bytes) {
  if (capacity_ - write_ < min_bytes) {
    size_t used = size();
    if (capacity_ - used >= min_bytes && read_ > 0) {
      std::memmove(storage_.get(), data(), used);
    } else {
      size_t new_capacity = std::max(capacity_ * 2, used + min_bytes);
      auto bigger = std::make_unique_for_overwrite<char[]>(new_capacity);
      if (used > 0) std::memcpy(bigger.get(), data(), used);
      storage_ = std::move(bigger);
      capacity_ = new_capacity;
    }
    read_ = 0;
    write_ = used;
  }
  return absl::Span<char>(storage_.get() + write_, capacity_ - write_);
}

void Buffer::ShrinkIfEmpty(size_t keep_bytes) {
  if (empty() && capacity_ > keep_bytes) {
    storage_.reset();
    capacity_ = read_ = write_ = 0;
  }
}

}  // namespace sockman
