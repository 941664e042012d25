// The client side of HTTP/1.1 (RFC 9112): an incremental, bounded parser for
// one response. Pure: bytes in, a response out. Interim 1xx responses are
// skipped; the body is delimited by Transfer-Encoding: chunked, by
// Content-Length, by the status (204, 304) or by the connection closing.
//
//   HttpResponseParser parser(/*max_body=*/1 << 20);
//   size_t used = 0;
//   switch (parser.Parse(input, &used)) { ... }   // consume `used` bytes
//   ... at EOF: parser.Finish() completes a close-delimited body.
//
// With set_stream_body() the body is not held: Parse returns kHead once the
// head is parsed (response() without a body), then kData for each piece of
// body (piece()), then kDone.
#ifndef SOCKMAN_PROTOCOLS_HTTP_HTTP_RESPONSE_PARSER_H_
#define SOCKMAN_PROTOCOLS_HTTP_HTTP_RESPONSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocols/http/chunked.h"

namespace sockman {

struct HttpClientResponse {
  int status = 0;
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The connection may carry another request.
  bool keep_alive = true;

  // The first header named `name` (case-insensitive), or "" if absent.
  absl::string_view Header(absl::string_view name) const;
  // Every value of the headers named `name`, in order.
  std::vector<absl::string_view> Headers(absl::string_view name) const;
};

class HttpResponseParser {
 public:
  // Longest status line plus headers.
  static constexpr size_t kMaxHeadSize = 64 * 1024;

  enum class Result { kNeedMore, kDone, kError, kHead, kData };

  explicit HttpResponseParser(size_t max_body_size, bool head_request = false)
      : max_body_size_(max_body_size),
        head_request_(head_request),
        chunked_({.max_body = max_body_size, .max_trailers = kMaxHeadSize}) {}

  // Bodies in pieces, of any length (see above); before the first Parse.
  void set_stream_body() {
    stream_ = true;
    max_body_size_ = SIZE_MAX;
    chunked_ = ChunkedDecoder({.max_body = UINT64_MAX, .max_trailers = kMaxHeadSize});
  }
  // kData: the piece of body; it may view the input, so use it before
  // consuming the input or calling again.
  absl::string_view piece() const { return piece_; }

  // Parses from the start of `input` (the bytes not yet consumed) and sets
  // `*consumed` to how many bytes the caller may drop.
  Result Parse(absl::string_view input, size_t* consumed);
  // The peer closed the connection: completes a body delimited by the close,
  // anything else is cut short (kError).
  Result Finish();

  // Valid after kDone.
  HttpClientResponse& response() { return response_; }
  // Why the last kError (for logs).
  const std::string& error() const { return error_; }
  // True once any byte of a response was parsed.
  bool started() const { return started_; }

 private:
  enum class Phase { kHead, kBody, kUntilClose, kChunked, kDone };

  Result Fail(std::string why);
  // Parses a complete head (through the blank line, `head` excludes it).
  Result ParseHead(absl::string_view head);
  // Moves up to remaining_ bytes from `input` at `*pos` into the body; true
  // once remaining_ is 0.
  bool TakeBody(absl::string_view input, size_t* pos);
  // Moves `*line` to the next LF-terminated line of `input` from `*pos`;
  // false if there is none yet.
  static bool NextLine(absl::string_view input, size_t* pos, absl::string_view* line);

  // Streaming: the next step after a kHead or kData.
  Result Stream(absl::string_view input, size_t pos, size_t* consumed);

  size_t max_body_size_;
  bool head_request_;
  bool stream_ = false;
  absl::string_view piece_;
  bool started_ = false;
  Phase phase_ = Phase::kHead;
  uint64_t remaining_ = 0;  // kBody: body bytes
  ChunkedDecoder chunked_;
  HttpClientResponse response_;
  std::string error_;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_HTTP_RESPONSE_PARSER_H_
