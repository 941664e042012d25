// RouteTable picks the route of an http:// service that serves a request:
// the matching rules and their precedence, and nothing else (no I/O, no
// handlers), so they can be tested and fuzzed alone.
//
//   SOCKMAN_ASSIGN_OR_RETURN(RouteTable table, RouteTable::Build(specs));
//   std::string path;
//   if (int refused = NormalizeRoutePath(request.path, path)) answer(refused);
//   RouteTable::Result r = table.Match({host, path, method, headers, upgrade});
//
// Precedence (docs/config.md#routes):
//  1. Host: routes naming the request's host exactly, then those whose
//     "*.suffix" matches it (the longest suffix first), then routes naming
//     no host. A host group none of whose routes match falls through to the
//     next group.
//  2. Path, within a host group: exact paths, then prefixes (the longest
//     first), then regular expressions in config order, then routes with no
//     path condition. Method and header conditions filter: a route whose
//     other conditions fail is passed over for the next candidate.
//  3. Kind: a WebSocket upgrade request is served by the best WebSocket
//     route, else by the best HTTP route (as a plain request); any other
//     request by the best HTTP route, else 426 when a WebSocket route would
//     take it upgraded, else 404. So one path can serve a page and upgrade.
#ifndef SOCKMAN_HANDLERS_ROUTER_ROUTE_TABLE_H_
#define SOCKMAN_HANDLERS_ROUTER_ROUTE_TABLE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace re2 {
class RE2;
}

namespace sockman {

struct RouteSpec {
  enum PathKind { kAnyPath, kExact, kPrefix, kRegex };
  std::string name;
  std::vector<std::string> hosts;  // "example.com", "*.example.com"; empty: any
  PathKind path_kind = kAnyPath;
  std::string path;                  // the exact path, the prefix, or the regex
  std::vector<std::string> methods;  // empty: any
  // Header conditions: a name (any case) and a value (nullopt: present).
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  bool websocket = false;  // takes upgraded WebSocket connections
};

// Why a spec is refused: its index, the field, and what is wrong.
struct RouteError {
  int route = 0;
  std::string field;
  std::string message;
};

class RouteTable {
 public:
  static constexpr int kNotFound = -1;         // 404
  static constexpr int kUpgradeRequired = -2;  // 426: only a WebSocket route matches

  struct Request {
    absl::string_view host;  // as received: any case, with a port or not
    absl::string_view path;  // normalised (NormalizeRoutePath)
    absl::string_view method;
    absl::Span<const std::pair<absl::string_view, absl::string_view>> headers;
    bool upgrade = false;  // asks for a WebSocket upgrade
  };

  RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;
  ~RouteTable();

  // Checks every spec (host patterns, paths, regexes, methods, headers) and
  // that none is unreachable behind an earlier one with the same host and
  // path condition and a condition set it implies.
  static absl::StatusOr<RouteTable> Build(std::vector<RouteSpec> specs, RouteError* error);

  // The index of the serving route, kNotFound or kUpgradeRequired.
  int Match(const Request& request) const;

  // One line per route, in the order a request considers them.
  std::vector<std::string> Describe() const;

  size_t size() const { return specs_.size(); }
  const RouteSpec& spec(int index) const { return specs_[index]; }

 private:
  struct Group;  // the routes of one host pattern, indexed for matching
  const Group* FindGroup(absl::string_view pattern) const;
  int MatchIn(const Group& group, const Request& request, bool websocket) const;
  int MatchKind(absl::string_view host, const Request& request, bool websocket) const;
  bool Conditions(int index, const Request& request) const;

  std::vector<RouteSpec> specs_;
  std::vector<std::unique_ptr<re2::RE2>> regexes_;  // per spec; null unless kRegex
  // Per spec: the least and greatest strings its regex can match, when RE2
  // can tell ("", "" when not).
  std::vector<std::pair<std::string, std::string>> regex_ranges_;
  std::vector<std::unique_ptr<Group>> groups_;  // exact hosts, wildcards, default
  bool has_hosts_ = false;                      // some route names a host
};

// The request path as routes see it: percent-escapes of unreserved
// characters decoded (%41 -> A, %2E -> .), other escapes kept with
// upper-case hex, empty and "." segments dropped, a trailing slash kept.
// Returns 0, or the status to answer, as `static` answers the same paths:
// 400 for a malformed escape; 403 for NUL, an encoded slash or backslash,
// or a ".." segment (encoded or not), so no route can be reached, or
// bypassed, by encoding a path differently.
int NormalizeRoutePath(absl::string_view raw, std::string& out);

// The host name a request names: lower case, without port or trailing dot
// ("Example.COM.:8080" -> "example.com", "[::1]:80" -> "[::1]").
std::string RequestHostName(absl::string_view host);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_ROUTER_ROUTE_TABLE_H_
