// HTTP header semantics for handlers (RFC 9110): dates, conditional
// requests, byte ranges, and the escaping of what pages echo back (content
// codings are in compression.h). Pure functions, no connection.
#ifndef SOCKMAN_PROTOCOLS_HTTP_HTTP_HEADERS_H_
#define SOCKMAN_PROTOCOLS_HTTP_HTTP_HEADERS_H_

#include <time.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

// An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7).
std::string FormatHttpDate(time_t t);
// Parses an IMF-fixdate; false for anything else.
bool ParseHttpDate(absl::string_view text, time_t& out);

// True if the If-None-Match list names `etag` (weak comparison) or is "*".
bool EtagMatches(absl::string_view if_none_match, absl::string_view etag);

enum class ByteRange { kNone, kSatisfiable, kUnsatisfiable };
// One "bytes=first-last" range of a `size`-byte representation (RFC 9110
// 14.1.2), clamped to it. kNone: no usable Range (absent, malformed, or
// several ranges, which are served as the whole representation, as the RFC
// allows).
ByteRange ParseByteRange(absl::string_view range, uint64_t size, uint64_t& first, uint64_t& last);

// `s` with & < > " ' as HTML entities.
std::string HtmlEscape(absl::string_view s);
// `s` percent-encoded except for RFC 3986 unreserved characters.
std::string UrlEscape(absl::string_view s);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_HTTP_HEADERS_H_
