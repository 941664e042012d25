#include "protocols/http/syntax.h"

#include <arpa/inet.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace sockman {
namespace {

// RFC 9110 5.6.2: tchar.
bool IsTokenChar(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IsHttpToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsHttpFieldValue(absl::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\t') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool HttpListHasToken(absl::string_view list, absl::string_view token) {
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    if (absl::EqualsIgnoreCase(TrimOws(item), token)) return true;
  }
  return false;
}

bool IsValidHost(absl::string_view host) {
  if (host.empty()) return true;
  absl::string_view port;
  if (host[0] == '[') {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    std::string address(host.substr(1, close - 1));
    in6_addr parsed;
    if (inet_pton(AF_INET6, address.c_str(), &parsed) != 1) return false;
    absl::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
    }
  } else {
    size_t colon = host.find(':');
    absl::string_view name = host.substr(0, colon);
    if (colon != absl::string_view::npos) port = host.substr(colon + 1);
    for (size_t i = 0; i < name.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(name[i]);
      if (absl::ascii_isalnum(c)) continue;
      switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':  // unreserved
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':  // sub-delims
        case '*':
        case '+':
        case ',':
        case ';':
        case '=':
          continue;
        case '%':  // pct-encoded
          if (i + 2 < name.size() &&
              absl::ascii_isxdigit(static_cast<unsigned char>(name[i + 1])) &&
              absl::ascii_isxdigit(static_cast<unsigned char>(name[i + 2]))) {
            i += 2;
            continue;
          }
          return false;
        default:
          return false;
      }
    }
  }
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::string_view CookieValue(absl::string_view header, absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(header, ';')) {
    pair = absl::StripAsciiWhitespace(pair);
    if (absl::ConsumePrefix(&pair, name) && absl::ConsumePrefix(&pair, "=")) return pair;
  }
  return {};
}

bool QueryParameter(absl::string_view query, absl::string_view name, std::string& value) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (!absl::ConsumePrefix(&pair, name) || !absl::ConsumePrefix(&pair, "=")) continue;
    value.clear();
    for (size_t i = 0; i < pair.size(); ++i) {
      if (pair[i] == '+') {
        value += ' ';
      } else if (pair[i] != '%') {
        value += pair[i];
      } else {
        int high = i + 2 < pair.size() ? HexDigitValue(pair[i + 1]) : -1;
        int low = high >= 0 ? HexDigitValue(pair[i + 2]) : -1;
        if (low < 0) return false;
        value += static_cast<char>(high * 16 + low);
        i += 2;
      }
    }
    return true;
  }
  return false;
}

void SplitHostPort(absl::string_view host, absl::string_view& name, absl::string_view& port) {
  name = host;
  port = {};
  size_t colon = host.rfind(':');
  // A colon inside brackets is the IPv6 address's, not a port's.
  if (colon == absl::string_view::npos || host.find(']', colon) != absl::string_view::npos) return;
  if (!host.empty() && host[0] != '[' && host.find(':') != colon) return;  // bare IPv6: no port
  name = host.substr(0, colon);
  port = host.substr(colon + 1);
}

}  // namespace sockman
