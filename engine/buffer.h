// Buffer is a contiguous byte queue: bytes are appended at the back and
// consumed from the front (muduo's Buffer). Contiguity lets codecs parse the
// readable bytes as one string_view. Storage is not zero-initialized and is
// reused: consuming bytes only moves an index, and free space at the front is
// reclaimed by one memmove when the back runs out.
//
//   Buffer in;
//   auto span = in.PrepareWrite(65536);
//   ssize_t n = read(fd, span.data(), span.size());
//   in.CommitWrite(n);
//   Decode(in.view()); in.Consume(used);
#ifndef SOCKMAN_ENGINE_BUFFER_H_
#define SOCKMAN_ENGINE_BUFFER_H_

#include <cstddef>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace sockman {

class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  size_t size() const { return write_ - read_; }
  bool empty() const { return write_ == read_; }
  size_t capacity() const { return capacity_; }
  const char* data() const { return storage_.get() + read_; }
  absl::string_view view() const { return absl::string_view(data(), size()); }
  // The unconsumed bytes, for a reader that may rewrite them in place.
  absl::Span<char> writable() { return absl::Span<char>(storage_.get() + read_, size()); }

  void Append(absl::string_view bytes);

  // Drops `n` bytes (n <= size()) from the front.
  void Consume(size_t n);
  void Clear() { read_ = write_ = 0; }

  // Returns writable space of at least `min_bytes` at the back; fill a prefix of
  // it and call CommitWrite with the number of bytes written.
  absl::Span<char> PrepareWrite(size_t min_bytes);
  void CommitWrite(size_t n) { write_ += n; }

  // Releases storage when empty and larger than `keep_bytes` (idle connections
  // should not pin large buffers).
  void ShrinkIfEmpty(size_t keep_bytes);

 private:
  std::unique_ptr<char[]> storage_;
  size_t capacity_ = 0;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BUFFER_H_
