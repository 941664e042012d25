#include "protocols/http/chunked.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "protocols/http/syntax.h"

namespace sockman {
namespace {

// A chunk-size line (size and extensions) longer than this is refused.
constexpr size_t kMaxSizeLine = 4096;
// 15 hex digits: sizes below 2^60, so adding them never overflows.
constexpr size_t kMaxSizeDigits = 15;

// The line at input[pos] without its LF (and CR), or false when it is not
// complete yet.
bool NextLine(absl::string_view input, size_t& pos, absl::string_view& line) {
  size_t lf = input.find('\n', pos);
  if (lf == absl::string_view::npos) return false;
  line = input.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = lf + 1;
  return true;
}

}  // namespace

ChunkedDecoder::Status ChunkedDecoder::Fail(Error error, const char* reason) {
  error_ = error;
  reason_ = reason;
  return Status::kError;
}

void ChunkedDecoder::Reset() {
  phase_ = Phase::kSize;
  chunk_left_ = 0;
  body_size_ = 0;
  trailer_bytes_ = 0;
  error_ = Error::kNone;
  reason_ = "";
}

ChunkedDecoder::Status ChunkedDecoder::Decode(absl::string_view input, size_t& pos,
                                              std::string& body) {
  if (error_ != Error::kNone) return Status::kError;
  absl::string_view line;
  for (;;) {
    switch (phase_) {
      case Phase::kSize: {
        // chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
        if (!NextLine(input, pos, line)) {
          if (input.size() - pos > kMaxSizeLine) {
            return Fail(Error::kMalformed, "chunk size line too long");
          }
          return Status::kNeedMore;
        }
        size_t digits = 0;
        uint64_t size = 0;
        while (digits < line.size() &&
               absl::ascii_isxdigit(static_cast<unsigned char>(line[digits]))) {
          if (digits == kMaxSizeDigits) return Fail(Error::kMalformed, "chunk size too large");
          char c = line[digits];
          size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
          ++digits;
        }
        if (digits == 0) return Fail(Error::kMalformed, "bad chunk size");
        absl::string_view ext = TrimOws(line.substr(digits));
        if (!ext.empty() && (ext[0] != ';' || !IsHttpFieldValue(ext))) {
          return Fail(Error::kMalformed, "bad chunk extension");
        }
        if (size == 0) {
          phase_ = Phase::kTrailers;
          break;
        }
        if (body_size_ + size > limits_.max_body) {
          return Fail(Error::kTooLarge, "body larger than max_package_size");
        }
        chunk_left_ = size;
        phase_ = Phase::kData;
        break;
      }
      case Phase::kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(input.size() - pos, chunk_left_));
        body.append(input.data() + pos, take);
        pos += take;
        chunk_left_ -= take;
        body_size_ += take;
        if (chunk_left_ > 0) return Status::kNeedMore;
        phase_ = Phase::kDataEnd;
        break;
      }
      case Phase::kDataEnd: {
        // CRLF (a bare LF accepted, RFC 9112 2.2).
        if (pos >= input.size()) return Status::kNeedMore;
        if (input[pos] == '\n') {
          pos += 1;
        } else if (input[pos] == '\r') {
          if (pos + 1 >= input.size()) return Status::kNeedMore;
          if (input[pos + 1] != '\n')
            return Fail(Error::kMalformed, "chunk data not followed by CRLF");
          pos += 2;
        } else {
          return Fail(Error::kMalformed, "chunk data not followed by CRLF");
        }
        phase_ = Phase::kSize;
        break;
      }
      case Phase::kTrailers: {
        size_t start = pos;
        if (!NextLine(input, pos, line)) {
          if (trailer_bytes_ + (input.size() - pos) > limits_.max_trailers) {
            return Fail(Error::kTrailersTooLarge, "trailer section too large");
          }
          return Status::kNeedMore;
        }
        trailer_bytes_ += pos - start;
        if (trailer_bytes_ > limits_.max_trailers) {
          return Fail(Error::kTrailersTooLarge, "trailer section too large");
        }
        if (line.empty()) {
          phase_ = Phase::kDone;
          return Status::kDone;
        }
        size_t colon = line.find(':');
        if (colon == absl::string_view::npos || !IsHttpToken(line.substr(0, colon)) ||
            !IsHttpFieldValue(line.substr(colon + 1))) {
          return Fail(Error::kMalformed, "bad trailer field");
        }
        break;
      }
      case Phase::kDone:
        return Status::kDone;
    }
  }
}

void AppendChunk(absl::string_view data, std::string& out) {
  if (data.empty()) return;
  absl::StrAppend(&out, absl::Hex(data.size()), "\r\n");
  out.append(data.data(), data.size());
  out += "\r\n";
}

void AppendLastChunk(std::string& out) { out += "0\r\n\r\n"; }

}  // namespace sockman
