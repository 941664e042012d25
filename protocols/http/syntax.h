// HTTP/1.1 lexical rules (RFC 9110 5.5, 5.6), shared by the server codec,
// the client's response parser and the chunked coding.
#ifndef SOCKMAN_PROTOCOLS_HTTP_SYNTAX_H_
#define SOCKMAN_PROTOCOLS_HTTP_SYNTAX_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

// RFC 9110 5.6.2: a non-empty token (header names, methods).
bool IsHttpToken(absl::string_view s);
// RFC 9110 5.5: field-value bytes (HTAB, SP, VCHAR, obs-text; no CTLs).
bool IsHttpFieldValue(absl::string_view s);
// True if the comma-separated header value lists `token` (any case):
// HttpListHasToken("keep-alive, Upgrade", "upgrade").
bool HttpListHasToken(absl::string_view list, absl::string_view token);
// RFC 9112 3.2 / RFC 3986 3.2.2: a Host field value, uri-host [":" port]:
// a reg-name (unreserved, pct-encoded, sub-delims), an IPv4 address, or a
// bracketed valid IPv6 address, then an optional port of at most 5 digits.
// The empty value is valid (a URI without an authority).
bool IsValidHost(absl::string_view host);

// Splits a Host value into its host ("example.com", "[::1]") and port
// ("8080", or "" when there is none).
void SplitHostPort(absl::string_view host, absl::string_view& name, absl::string_view& port);

// The value of a hex digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1: for
// percent-escapes.
int HexDigitValue(char c);

// `s` without leading and trailing spaces and tabs (RFC 9110 5.6.3 OWS).
absl::string_view TrimOws(absl::string_view s);

// The value of cookie `name` in a Cookie header (RFC 6265 5.4), or "".
absl::string_view CookieValue(absl::string_view header, absl::string_view name);

// The first value of parameter `name` in a query ("a=1&b=2"), percent-
// and plus-decoded; false when it is absent or badly escaped.
bool QueryParameter(absl::string_view query, absl::string_view name, std::string& value);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_SYNTAX_H_
