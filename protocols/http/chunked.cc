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

enum class Line { kNeedMore, kOk, kBareLf };

// The line at input[pos] without its CRLF. Chunked framing takes CRLF only
// (RFC 9112 7.1: the bare-LF allowance of section 2.2 is for the start line
// and header fields): a bare LF is an error, never a line end.
Line NextLine(absl::string_view input, size_t& pos, absl::string_view& line) {
  size_t lf = input.find('\n', pos);
  if (lf == absl::string_view::npos) return Line::kNeedMore;
  if (lf == pos || input[lf - 1] != '\r') return Line::kBareLf;
  line = input.substr(pos, lf - 1 - pos);
  pos = lf + 1;
  return Line::kOk;
}

bool IsWs(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 5.6.2 tchar, as one byte.
bool IsTchar(char c) { return IsHttpToken(absl::string_view(&c, 1)); }

// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name
//                               [ BWS "=" BWS chunk-ext-val ] )
// with a token name and a token or quoted-string value.
bool ValidExtensions(absl::string_view ext) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < ext.size() && IsWs(ext[i])) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < ext.size() && IsTchar(ext[i])) ++i;
    return i > start;
  };
  while (true) {
    if (i == ext.size()) return true;
    skip_ws();  // BWS, then ";": whitespace that ends the line is no extension
    if (i == ext.size() || ext[i] != ';') return false;
    ++i;
    skip_ws();
    if (!token()) return false;  // a name is required
    size_t before = i;
    skip_ws();
    if (i < ext.size() && ext[i] == '=') {
      ++i;
      skip_ws();
      if (i < ext.size() && ext[i] == '"') {  // quoted-string
        ++i;
        bool closed = false;
        while (i < ext.size()) {
          unsigned char c = static_cast<unsigned char>(ext[i]);
          if (c == '"') {
            closed = true;
            ++i;
            break;
          }
          if (c == '\\') {
            if (i + 1 >= ext.size()) return false;
            unsigned char next = static_cast<unsigned char>(ext[i + 1]);
            if (next < 0x20 && next != '\t') return false;
            if (next == 0x7f) return false;
            i += 2;
            continue;
          }
          if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
          ++i;
        }
        if (!closed) return false;
      } else if (!token()) {
        return false;
      }
    } else {
      i = before;  // no value: what follows must be BWS ";" or the end
    }
  }
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
        Line got = NextLine(input, pos, line);
        if (got == Line::kBareLf) return Fail(Error::kMalformed, "bare LF in chunked framing");
        if (got == Line::kNeedMore) {
          if (input.size() - pos > kMaxSizeLine) {
            return Fail(Error::kMalformed, "chunk size line too long");
          }
          return Status::kNeedMore;
        }
        if (line.size() > kMaxSizeLine) return Fail(Error::kMalformed, "chunk size line too long");
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
        if (!ValidExtensions(line.substr(digits))) {
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
        // Exactly CRLF.
        if (pos >= input.size()) return Status::kNeedMore;
        if (input[pos] != '\r') {
          return Fail(Error::kMalformed, "chunk data not followed by CRLF");
        }
        if (pos + 1 >= input.size()) return Status::kNeedMore;
        if (input[pos + 1] != '\n') {
          return Fail(Error::kMalformed, "chunk data not followed by CRLF");
        }
        pos += 2;
        phase_ = Phase::kSize;
        break;
      }
      case Phase::kTrailers: {
        size_t start = pos;
        Line got = NextLine(input, pos, line);
        if (got == Line::kBareLf) return Fail(Error::kMalformed, "bare LF in chunked framing");
        if (got == Line::kNeedMore) {
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
