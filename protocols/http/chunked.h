// The chunked transfer coding (RFC 9112 7.1), both ways: an incremental,
// bounded decoder for request bodies (HttpCodec) and response bodies
// (HttpResponseParser), and the encoder of responses.
//
//   ChunkedDecoder decoder({.max_body = limit, .max_trailers = 16 * 1024});
//   switch (decoder.Decode(input, pos, body)) { ... }   // pos advances
#ifndef SOCKMAN_PROTOCOLS_HTTP_CHUNKED_H_
#define SOCKMAN_PROTOCOLS_HTTP_CHUNKED_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

class ChunkedDecoder {
 public:
  struct Limits {
    uint64_t max_body = 10 * 1024 * 1024;  // decoded bytes, all chunks together
    size_t max_trailers = 16 * 1024;       // trailer section bytes
  };
  enum class Status { kNeedMore, kDone, kError };
  // What went wrong, as the HTTP status a server answers with.
  enum class Error : uint8_t {
    kNone,
    kMalformed /* 400 */,
    kTooLarge /* 413 */,
    kTrailersTooLarge /* 431 */
  };

  explicit ChunkedDecoder(Limits limits) : limits_(limits) {}

  // Decodes from input[pos]: appends chunk data to `body` and moves `pos`
  // past the bytes used. kNeedMore: call again with the same input from the
  // new `pos`, more bytes appended (or the unused tail, moved to the front,
  // with `pos` 0). kDone: `pos` is just past the trailer section.
  Status Decode(absl::string_view input, size_t& pos, std::string& body);

  Error error() const { return error_; }
  const char* reason() const { return reason_; }  // static text, "" before an error
  // Ready for a new body.
  void Reset();

 private:
  enum class Phase { kSize, kData, kDataEnd, kTrailers, kDone };
  Status Fail(Error error, const char* reason);

  Limits limits_;
  Phase phase_ = Phase::kSize;
  uint64_t chunk_left_ = 0;
  uint64_t body_size_ = 0;
  size_t trailer_bytes_ = 0;
  Error error_ = Error::kNone;
  const char* reason_ = "";
};

// Appends `data` as one chunk (nothing for empty data, which would end the
// body), and the last chunk with an empty trailer section.
void AppendChunk(absl::string_view data, std::string& out);
void AppendLastChunk(std::string& out);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_CHUNKED_H_
