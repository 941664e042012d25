#include "protocols/http/http_headers.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sockman {

std::string FormatHttpDate(time_t t) {
  tm parts;
  gmtime_r(&t, &parts);
  char text[64];
  size_t n = strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return std::string(text, n);
}

bool ParseHttpDate(absl::string_view text, time_t& out) {
  std::string s(text);
  tm parts{};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  if (end == nullptr || *end != '\0') return false;
  out = timegm(&parts);
  return true;
}

std::string HtmlEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string UrlEscape(absl::string_view s) {
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

bool EtagMatches(absl::string_view header, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag == "*") return true;
    absl::ConsumePrefix(&tag, "W/");
    if (tag == etag) return true;
  }
  return false;
}

ByteRange ParseByteRange(absl::string_view header, uint64_t size, uint64_t& first, uint64_t& last) {
  if (!absl::ConsumePrefix(&header, "bytes=")) return ByteRange::kNone;
  header = absl::StripAsciiWhitespace(header);
  if (header.find(',') != absl::string_view::npos) return ByteRange::kNone;
  size_t dash = header.find('-');
  if (dash == absl::string_view::npos) return ByteRange::kNone;
  absl::string_view a = header.substr(0, dash);
  absl::string_view b = header.substr(dash + 1);
  auto digits = [](absl::string_view s) {
    return !s.empty() && s.size() <= 19 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (a.empty()) {  // suffix: the last N bytes
    uint64_t n;
    if (!digits(b) || !absl::SimpleAtoi(b, &n)) return ByteRange::kNone;
    if (n == 0 || size == 0) return ByteRange::kUnsatisfiable;
    first = n >= size ? 0 : size - n;
    last = size - 1;
    return ByteRange::kSatisfiable;
  }
  if (!digits(a) || !absl::SimpleAtoi(a, &first)) return ByteRange::kNone;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!digits(b) || !absl::SimpleAtoi(b, &last) || last < first) {
    return ByteRange::kNone;
  }
  if (first >= size) return ByteRange::kUnsatisfiable;
  last = std::min(last, size - 1);
  return ByteRange::kSatisfiable;
}

}  // namespace sockman
