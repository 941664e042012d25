#include "protocols/http/http_response_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "protocols/http/http_codec.h"

namespace sockman {
namespace {

constexpr int kMaxHeaders = 200;

absl::string_view StripCr(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

absl::string_view HttpClientResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

std::vector<absl::string_view> HttpClientResponse::Headers(absl::string_view name) const {
  std::vector<absl::string_view> values;
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) values.push_back(value);
  }
  return values;
}

HttpResponseParser::Result HttpResponseParser::Fail(std::string why) {
  error_ = std::move(why);
  phase_ = Phase::kDone;
  return Result::kError;
}

bool HttpResponseParser::NextLine(absl::string_view input, size_t* pos, absl::string_view* line) {
  size_t lf = input.find('\n', *pos);
  if (lf == absl::string_view::npos) return false;
  *line = StripCr(input.substr(*pos, lf - *pos));
  *pos = lf + 1;
  return true;
}

bool HttpResponseParser::TakeBody(absl::string_view input, size_t* pos) {
  size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size() - *pos));
  response_.body.append(input.data() + *pos, take);
  *pos += take;
  remaining_ -= take;
  return remaining_ == 0;
}

HttpResponseParser::Result HttpResponseParser::Stream(absl::string_view input, size_t pos,
                                                      size_t* consumed) {
  *consumed = pos;
  switch (phase_) {
    case Phase::kBody: {
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size() - pos));
      if (take == 0) return Result::kNeedMore;
      piece_ = input.substr(pos, take);
      remaining_ -= take;
      if (remaining_ == 0) phase_ = Phase::kDone;
      *consumed = pos + take;
      return Result::kData;
    }
    case Phase::kUntilClose:
      if (pos == input.size()) return Result::kNeedMore;
      piece_ = input.substr(pos);
      *consumed = input.size();
      return Result::kData;
    case Phase::kChunked:
      response_.body.clear();
      switch (chunked_.Decode(input, pos, response_.body)) {
        case ChunkedDecoder::Status::kNeedMore:
          *consumed = pos;
          if (response_.body.empty()) return Result::kNeedMore;
          piece_ = response_.body;
          return Result::kData;
        case ChunkedDecoder::Status::kError:
          return Fail(chunked_.reason());
        case ChunkedDecoder::Status::kDone:
          *consumed = pos;
          phase_ = Phase::kDone;
          if (response_.body.empty()) return Result::kDone;
          piece_ = response_.body;
          return Result::kData;  // kDone on the next call
      }
      break;
    case Phase::kDone:
      return Result::kDone;
    case Phase::kHead:
      break;
  }
  return Result::kNeedMore;
}

HttpResponseParser::Result HttpResponseParser::Parse(absl::string_view input, size_t* consumed) {
  *consumed = 0;
  if (!input.empty()) started_ = true;
  if (!error_.empty()) return Result::kError;
  size_t pos = 0;
  if (stream_ && phase_ != Phase::kHead) return Stream(input, pos, consumed);
  while (true) {
    switch (phase_) {
      case Phase::kHead: {
        // Find the blank line that ends the head; a head is parsed whole.
        absl::string_view rest = input.substr(pos);
        size_t line_start = 0;
        size_t head_end = absl::string_view::npos;  // just past the blank line
        while (true) {
          size_t lf = rest.find('\n', line_start);
          if (lf == absl::string_view::npos) break;
          if (StripCr(rest.substr(line_start, lf - line_start)).empty()) {
            if (line_start == 0) {  // stray empty line before a status line
              rest.remove_prefix(lf + 1);
              pos += lf + 1;
              continue;
            }
            head_end = lf + 1;
            break;
          }
          line_start = lf + 1;
        }
        if (head_end == absl::string_view::npos) {
          if (rest.size() > kMaxHeadSize) return Fail("response head over 64 KiB");
          *consumed = pos;
          return Result::kNeedMore;
        }
        if (head_end > kMaxHeadSize) return Fail("response head over 64 KiB");
        Result r = ParseHead(rest.substr(0, line_start - 1));  // without its last LF
        if (r == Result::kError) return r;
        pos += head_end;
        if (stream_ && phase_ != Phase::kHead) {  // a final head, not an interim one
          *consumed = pos;
          return Result::kHead;
        }
        break;
      }
      case Phase::kBody:
        if (!TakeBody(input, &pos)) {
          *consumed = pos;
          return Result::kNeedMore;
        }
        phase_ = Phase::kDone;
        break;
      case Phase::kUntilClose: {
        size_t take = input.size() - pos;
        if (response_.body.size() + take > max_body_size_) return Fail("response body too large");
        response_.body.append(input.data() + pos, take);
        *consumed = input.size();
        return Result::kNeedMore;
      }
      case Phase::kDone:
        *consumed = pos;
        return Result::kDone;
      case Phase::kChunked:
        switch (chunked_.Decode(input, pos, response_.body)) {
          case ChunkedDecoder::Status::kNeedMore:
            *consumed = pos;
            return Result::kNeedMore;
          case ChunkedDecoder::Status::kError:
            return Fail(chunked_.error() == ChunkedDecoder::Error::kTooLarge
                            ? "response body too large"
                            : chunked_.reason());
          case ChunkedDecoder::Status::kDone:
            phase_ = Phase::kDone;
            break;
        }
        break;
    }
  }
}

HttpResponseParser::Result HttpResponseParser::ParseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  absl::string_view status_line = StripCr(lines[0]);
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (status_line.size() < 12 || !absl::StartsWith(status_line, "HTTP/1.") ||
      !absl::ascii_isdigit(status_line[7]) || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return Fail(absl::StrCat("bad status line '", status_line.substr(0, 80), "'"));
  }
  int status = 0;
  if (!absl::SimpleAtoi(status_line.substr(9, 3), &status) || status < 100 || status > 599) {
    return Fail(absl::StrCat("bad status code in '", status_line.substr(0, 80), "'"));
  }
  response_ = HttpClientResponse();
  response_.status = status;
  response_.version_minor = status_line[7] - '0';
  if (lines.size() - 1 > kMaxHeaders) return Fail("too many response headers");
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = StripCr(lines[i]);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) return Fail("obsolete line folding");
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || !IsHttpToken(line.substr(0, colon))) {
      return Fail(absl::StrCat("bad header line '", line.substr(0, 80), "'"));
    }
    absl::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsHttpFieldValue(value)) return Fail("bad bytes in a header value");
    response_.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }

  if (status < 200 && status != 101) {  // interim (100 Continue, 103): the real one follows
    phase_ = Phase::kHead;
    return Result::kNeedMore;
  }
  absl::string_view connection = response_.Header("Connection");
  response_.keep_alive = response_.version_minor >= 1 ? !HttpListHasToken(connection, "close")
                                                      : HttpListHasToken(connection, "keep-alive");
  if (status == 101 || head_request_ || status == 204 || status == 304) {
    phase_ = Phase::kDone;
    return Result::kDone;
  }
  std::vector<absl::string_view> codings = response_.Headers("Transfer-Encoding");
  if (!codings.empty()) {
    std::vector<absl::string_view> last = absl::StrSplit(codings.back(), ',');
    if (absl::EqualsIgnoreCase(TrimOws(last.back()), "chunked")) {
      phase_ = Phase::kChunked;
      chunked_.Reset();
    } else {
      phase_ = Phase::kUntilClose;
      response_.keep_alive = false;
    }
    return Result::kNeedMore;
  }
  bool have_length = false;
  uint64_t length = 0;
  for (absl::string_view header : response_.Headers("Content-Length")) {
    for (absl::string_view part : absl::StrSplit(header, ',')) {
      uint64_t value = 0;
      part = TrimOws(part);
      if (part.empty() || part.size() > 19 ||
          !std::all_of(part.begin(), part.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(part, &value)) {
        return Fail("bad Content-Length");
      }
      if (have_length && value != length) return Fail("conflicting Content-Length values");
      have_length = true;
      length = value;
    }
  }
  if (have_length) {
    if (length > max_body_size_) return Fail("response body too large");
    remaining_ = length;
    phase_ = length == 0 ? Phase::kDone : Phase::kBody;
    return Result::kNeedMore;
  }
  phase_ = Phase::kUntilClose;
  response_.keep_alive = false;
  return Result::kNeedMore;
}

HttpResponseParser::Result HttpResponseParser::Finish() {
  if (!error_.empty()) return Result::kError;
  if (phase_ == Phase::kUntilClose) phase_ = Phase::kDone;
  if (phase_ == Phase::kDone) return Result::kDone;
  return Fail(started_ ? "connection closed in the middle of the response"
                       : "connection closed without a response");
}

}  // namespace sockman
