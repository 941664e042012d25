#include "handlers/router/route_table.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "protocols/http/syntax.h"
#include "re2/re2.h"

namespace sockman {

struct RouteTable::Group {
  std::string pattern;  // "example.com", "*.example.com", or "" (any host)
  struct Kind {
    absl::flat_hash_map<std::string, std::vector<int>> exact;
    std::vector<int> prefixes;  // the longest first, then config order
    std::vector<int> regexes;   // config order
    std::vector<int> any;       // config order
  };
  Kind kinds[2];  // [0] HTTP routes, [1] WebSocket routes
};

namespace {

bool IsUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// A host pattern: a name of letters, digits, '-' and '.', an IP literal,
// or "*." before a name.
bool ValidHostPattern(absl::string_view host) {
  absl::string_view name = host;
  if (absl::StartsWith(name, "*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  if (name.front() == '[') return name.back() == ']' && host == name && name.size() > 2;
  if (name.front() == '.' || name.back() == '.' || absl::StrContains(name, "..")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(static_cast<unsigned char>(c)) ||
           absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

std::string SpecPath(const RouteSpec& spec) {
  switch (spec.path_kind) {
    case RouteSpec::kExact:
      return absl::StrCat("path ", spec.path);
    case RouteSpec::kPrefix:
      return absl::StrCat("prefix ", spec.path);
    case RouteSpec::kRegex:
      return absl::StrCat("regex ", spec.path);
    case RouteSpec::kAnyPath:
      break;
  }
  return "any path";
}

// Every request `later` would take, `earlier` takes first: same kind, host
// and path condition, and conditions `later`'s imply.
bool Shadows(const RouteSpec& earlier, const RouteSpec& later) {
  if (earlier.websocket != later.websocket || earlier.path_kind != later.path_kind ||
      earlier.path != later.path) {
    return false;
  }
  std::set<std::string> a(earlier.hosts.begin(), earlier.hosts.end());
  std::set<std::string> b(later.hosts.begin(), later.hosts.end());
  if (a != b) return false;
  if (!earlier.methods.empty()) {
    if (later.methods.empty()) return false;
    for (const std::string& m : later.methods) {
      if (std::find(earlier.methods.begin(), earlier.methods.end(), m) == earlier.methods.end()) {
        return false;
      }
    }
  }
  for (const auto& condition : earlier.headers) {
    bool implied = std::any_of(later.headers.begin(), later.headers.end(), [&](const auto& h) {
      return absl::EqualsIgnoreCase(h.first, condition.first) &&
             (!condition.second.has_value() || h.second == condition.second);
    });
    if (!implied) return false;
  }
  return true;
}

}  // namespace

RouteTable::RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;
RouteTable::~RouteTable() = default;

int NormalizeRoutePath(absl::string_view raw, std::string& out) {
  out.clear();
  if (raw == "*") {  // OPTIONS *
    out = "*";
    return 0;
  }
  if (raw.empty() || raw[0] != '/') return 400;
  // Most paths are normal already: no escapes, backslashes, empty or dot
  // segments. One scan, no allocation beyond the copy.
  if (raw.find_first_of("%\\") == absl::string_view::npos && !absl::StrContains(raw, "//") &&
      !absl::StrContains(raw, "/.")) {
    out.assign(raw.data(), raw.size());
    return 0;
  }
  std::vector<std::string> segments;
  std::string segment;
  bool trailing_slash = false;
  auto finish = [&]() -> int {
    if (segment == "..") return 403;  // as `static`: never resolved, refused
    if (!segment.empty() && segment != ".") segments.push_back(segment);
    trailing_slash = segment.empty() || segment == ".";
    segment.clear();
    return 0;
  };
  for (size_t i = 1; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '/') {
      if (int refused = finish()) return refused;
      continue;
    }
    if (c == '\\') return 403;
    if (c != '%') {
      segment.push_back(c);
      continue;
    }
    if (i + 2 >= raw.size()) return 400;
    int hi = HexDigitValue(raw[i + 1]), lo = HexDigitValue(raw[i + 2]);
    if (hi < 0 || lo < 0) return 400;
    i += 2;
    unsigned char byte = static_cast<unsigned char>(hi * 16 + lo);
    if (byte == 0 || byte == '/' || byte == '\\') return 403;
    if (IsUnreserved(byte)) {
      segment.push_back(static_cast<char>(byte));
    } else {
      absl::StrAppend(&segment, "%", absl::string_view("0123456789ABCDEF" + hi, 1),
                      absl::string_view("0123456789ABCDEF" + lo, 1));
    }
  }
  if (int refused = finish()) return refused;
  out = "/";
  out += absl::StrJoin(segments, "/");
  if (trailing_slash && !segments.empty()) out += "/";
  return 0;
}

std::string RequestHostName(absl::string_view host) {
  absl::string_view name, port;
  SplitHostPort(host, name, port);
  while (absl::EndsWith(name, ".")) name.remove_suffix(1);
  return absl::AsciiStrToLower(name);
}

absl::StatusOr<RouteTable> RouteTable::Build(std::vector<RouteSpec> specs, RouteError* error) {
  auto fail = [&](int route, std::string field, std::string message) {
    if (error != nullptr) *error = RouteError{route, std::move(field), message};
    return absl::InvalidArgumentError(message);
  };
  RouteTable table;
  table.regexes_.resize(specs.size());
  table.regex_ranges_.resize(specs.size());
  for (int i = 0; i < static_cast<int>(specs.size()); ++i) {
    RouteSpec& spec = specs[i];
    for (std::string& host : spec.hosts) {
      host = absl::AsciiStrToLower(host);
      if (!ValidHostPattern(host)) {
        return fail(i, "match.host",
                    absl::StrCat("'", host,
                                 "' is not a host name, an IP literal or *.name (a leading "
                                 "wildcard only)"));
      }
    }
    if (spec.path_kind == RouteSpec::kExact || spec.path_kind == RouteSpec::kPrefix) {
      const char* field = spec.path_kind == RouteSpec::kExact ? "match.path" : "match.prefix";
      std::string normal;
      if (spec.path.empty() || spec.path[0] != '/') {
        return fail(i, field, absl::StrCat("'", spec.path, "' must start with '/'"));
      }
      if (std::any_of(spec.path.begin(), spec.path.end(), [](char c) {
            return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
          })) {
        return fail(i, field,
                    absl::StrCat("'", spec.path,
                                 "' has bytes a request path cannot carry: percent-encode them "
                                 "(%20 for a space)"));
      }
      if (NormalizeRoutePath(spec.path, normal) != 0 || normal != spec.path) {
        return fail(
            i, field,
            absl::StrCat("'", spec.path, "' is not a normalised path, so no request could match it",
                         normal.empty() ? "" : absl::StrCat(" (write '", normal, "')")));
      }
    }
    if (spec.path_kind == RouteSpec::kRegex) {
      RE2::Options options;
      options.set_log_errors(false);
      options.set_max_mem(1 << 20);  // bounded: a regex cannot cost a worker much
      auto re = std::make_unique<RE2>(spec.path, options);
      if (!re->ok()) {
        return fail(i, "match.regex",
                    absl::StrCat("'", spec.path, "' is not an RE2 expression: ", re->error()));
      }
      // The range of strings the expression can match: most paths fall
      // outside it and skip the match itself.
      std::string min, max;
      if (re->PossibleMatchRange(&min, &max, 16)) {
        table.regex_ranges_[i] = {std::move(min), std::move(max)};
      }
      table.regexes_[i] = std::move(re);
    }
    for (const std::string& method : spec.methods) {
      if (!IsHttpToken(method)) {
        return fail(i, "match.method", absl::StrCat("'", method, "' is not a method name"));
      }
    }
    for (const auto& [name, value] : spec.headers) {
      if (!IsHttpToken(name)) {
        return fail(i, "match.header", absl::StrCat("'", name, "' is not a header name"));
      }
    }
    for (int j = 0; j < i; ++j) {
      if (Shadows(specs[j], spec)) {
        return fail(i, "match",
                    absl::StrCat("is never reached: route '", specs[j].name,
                                 "' comes first with the same host and ", SpecPath(spec),
                                 " and takes every request this one would"));
      }
    }
  }
  // Index by host pattern.
  auto group_of = [&](const std::string& pattern) -> Group& {
    for (auto& group : table.groups_) {
      if (group->pattern == pattern) return *group;
    }
    table.groups_.push_back(std::make_unique<Group>());
    table.groups_.back()->pattern = pattern;
    return *table.groups_.back();
  };
  for (int i = 0; i < static_cast<int>(specs.size()); ++i) {
    const RouteSpec& spec = specs[i];
    std::vector<std::string> patterns = spec.hosts;
    if (patterns.empty()) patterns.push_back("");
    for (const std::string& pattern : patterns) {
      Group::Kind& kind = group_of(pattern).kinds[spec.websocket ? 1 : 0];
      switch (spec.path_kind) {
        case RouteSpec::kExact:
          kind.exact[spec.path].push_back(i);
          break;
        case RouteSpec::kPrefix:
          kind.prefixes.push_back(i);
          break;
        case RouteSpec::kRegex:
          kind.regexes.push_back(i);
          break;
        case RouteSpec::kAnyPath:
          kind.any.push_back(i);
          break;
      }
    }
  }
  for (auto& group : table.groups_) {
    for (Group::Kind& kind : group->kinds) {
      std::stable_sort(kind.prefixes.begin(), kind.prefixes.end(),
                       [&](int a, int b) { return specs[a].path.size() > specs[b].path.size(); });
    }
  }
  // Exact hosts, then wildcards (the longest suffix first), then the default.
  std::stable_sort(table.groups_.begin(), table.groups_.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& p) {
      return p.empty() ? 2 : absl::StartsWith(p, "*.") ? 1 : 0;
    };
    if (rank(a->pattern) != rank(b->pattern)) return rank(a->pattern) < rank(b->pattern);
    return a->pattern.size() > b->pattern.size();
  });
  table.has_hosts_ = std::any_of(table.groups_.begin(), table.groups_.end(),
                                 [](const auto& group) { return !group->pattern.empty(); });
  table.specs_ = std::move(specs);
  return table;
}

bool RouteTable::Conditions(int index, const Request& request) const {
  const RouteSpec& spec = specs_[index];
  if (!spec.methods.empty() &&
      std::find(spec.methods.begin(), spec.methods.end(), request.method) == spec.methods.end()) {
    return false;
  }
  for (const auto& [name, value] : spec.headers) {
    bool found = false;
    for (const auto& [n, v] : request.headers) {
      if (!absl::EqualsIgnoreCase(n, name)) continue;
      if (!value.has_value() || absl::StripAsciiWhitespace(v) == *value) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

int RouteTable::MatchIn(const Group& group, const Request& request, bool websocket) const {
  const Group::Kind& kind = group.kinds[websocket ? 1 : 0];
  if (!kind.exact.empty()) {
    auto it = kind.exact.find(request.path);
    if (it != kind.exact.end()) {
      for (int index : it->second) {
        if (Conditions(index, request)) return index;
      }
    }
  }
  for (int index : kind.prefixes) {
    if (absl::StartsWith(request.path, specs_[index].path) && Conditions(index, request)) {
      return index;
    }
  }
  for (int index : kind.regexes) {
    const auto& range = regex_ranges_[index];
    if (!range.first.empty() || !range.second.empty()) {
      if (request.path < range.first || request.path > range.second) continue;
    }
    if (RE2::FullMatch(re2::StringPiece(request.path.data(), request.path.size()),
                       *regexes_[index]) &&
        Conditions(index, request)) {
      return index;
    }
  }
  for (int index : kind.any) {
    if (Conditions(index, request)) return index;
  }
  return kNotFound;
}

int RouteTable::MatchKind(absl::string_view host, const Request& request, bool websocket) const {
  for (const auto& group : groups_) {
    const std::string& p = group->pattern;
    bool applies = p.empty() || (absl::StartsWith(p, "*.")
                                     ? host.size() > p.size() - 1 &&
                                           absl::EndsWith(host, absl::string_view(p).substr(1))
                                     : host == p);
    if (!applies) continue;
    int index = MatchIn(*group, request, websocket);
    if (index >= 0) return index;
  }
  return kNotFound;
}

int RouteTable::Match(const Request& request) const {
  // Only routes naming hosts need the request's (lower-cased) host.
  std::string host = has_hosts_ ? RequestHostName(request.host) : std::string();
  if (request.upgrade) {
    int index = MatchKind(host, request, true);
    if (index >= 0) return index;
    return MatchKind(host, request, false);
  }
  int index = MatchKind(host, request, false);
  if (index >= 0) return index;
  return MatchKind(host, request, true) >= 0 ? kUpgradeRequired : kNotFound;
}

std::vector<std::string> RouteTable::Describe() const {
  std::vector<std::string> lines;
  for (const auto& group : groups_) {
    std::string host = group->pattern.empty() ? "any host" : absl::StrCat("host ", group->pattern);
    for (int k : {0, 1}) {
      const Group::Kind& kind = group->kinds[k];
      std::vector<int> order;
      std::vector<std::string> exact_paths;
      for (const auto& [path, indices] : kind.exact) exact_paths.push_back(path);
      std::sort(exact_paths.begin(), exact_paths.end());
      for (const std::string& path : exact_paths) {
        for (int index : kind.exact.at(path)) order.push_back(index);
      }
      order.insert(order.end(), kind.prefixes.begin(), kind.prefixes.end());
      order.insert(order.end(), kind.regexes.begin(), kind.regexes.end());
      order.insert(order.end(), kind.any.begin(), kind.any.end());
      for (int index : order) {
        const RouteSpec& spec = specs_[index];
        std::string conditions;
        if (!spec.methods.empty()) {
          absl::StrAppend(&conditions, ", method ", absl::StrJoin(spec.methods, "|"));
        }
        for (const auto& [name, value] : spec.headers) {
          absl::StrAppend(&conditions, ", header ", name,
                          value.has_value() ? absl::StrCat(": ", *value) : "");
        }
        lines.push_back(absl::StrCat(host, ", ", k == 1 ? "websocket" : "http", ", ",
                                     SpecPath(spec), conditions, " -> ", spec.name));
      }
    }
  }
  return lines;
}

}  // namespace sockman
