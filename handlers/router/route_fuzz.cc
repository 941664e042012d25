// Fuzz target for the route matcher and path normaliser. The first byte
// picks the request's kind, method and host; the rest is the raw path.
// Checks the contract: the normaliser answers 0, 400 or 403; a normalised
// path is canonical (no empty, "." or ".." segments, no encoded slash,
// backslash or NUL, escapes only of reserved bytes in upper-case hex) and
// normalising it again changes nothing, so the route a path reaches does
// not depend on how it was spelled; Match answers a route or a refusal.
//
// Replayed over the seed corpus by //handlers/router:route_fuzz_replay_test;
// built with libFuzzer by //handlers/router:route_fuzz_test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "handlers/router/route_table.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const sockman::RouteTable& Table() {
  static const sockman::RouteTable* table = [] {
    std::vector<sockman::RouteSpec> specs;
    auto add = [&](const char* name, sockman::RouteSpec::PathKind kind, const char* path,
                   bool websocket, std::vector<std::string> hosts = {},
                   std::vector<std::string> methods = {}) {
      sockman::RouteSpec spec;
      spec.name = name;
      spec.path_kind = kind;
      spec.path = path;
      spec.websocket = websocket;
      spec.hosts = std::move(hosts);
      spec.methods = std::move(methods);
      specs.push_back(std::move(spec));
    };
    add("any", sockman::RouteSpec::kAnyPath, "", false);
    add("admin", sockman::RouteSpec::kPrefix, "/admin/", false, {}, {"GET"});
    add("exact", sockman::RouteSpec::kExact, "/a%20b", false);
    add("regex", sockman::RouteSpec::kRegex, "/img/[0-9]+(/.*)?", false, {"*.example.com"});
    add("ws", sockman::RouteSpec::kPrefix, "/live/", true);
    add("vhost", sockman::RouteSpec::kAnyPath, "", false, {"example.com"});
    sockman::RouteError error;
    auto built = sockman::RouteTable::Build(std::move(specs), &error);
    Check(built.ok());
    return new sockman::RouteTable(std::move(*built));
  }();
  return *table;
}

bool Canonical(const std::string& path) {
  if (path == "*") return true;
  if (path.empty() || path[0] != '/') return false;
  if (absl::StrContains(path, "//") || absl::StrContains(path, "/./") ||
      absl::StrContains(path, "/../") || absl::EndsWith(path, "/.") ||
      absl::EndsWith(path, "/..") || path.find('\\') != std::string::npos) {
    return false;
  }
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 2 >= path.size()) return false;
    for (char c : {path[i + 1], path[i + 2]}) {
      if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
    }
    std::string hex = path.substr(i + 1, 2);
    if (hex == "00" || hex == "2F" || hex == "5C" || hex == "2E" || hex == "2D" || hex == "5F" ||
        hex == "7E") {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  std::string raw(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string path;
  int refused = sockman::NormalizeRoutePath(raw, path);
  Check(refused == 0 || refused == 400 || refused == 403);
  if (refused != 0) return 0;
  Check(Canonical(path));
  std::string again;
  Check(sockman::NormalizeRoutePath(path, again) == 0 && again == path);
  static const char* kHosts[] = {"h", "example.com", "a.example.com", "EXAMPLE.com:81", "[::1]"};
  static const char* kMethods[] = {"GET", "POST", "PUT", "get"};
  sockman::RouteTable::Request request{
      kHosts[flags % 5], path, kMethods[(flags >> 3) % 4], {}, (flags & 0x80) != 0};
  int index = Table().Match(request);
  Check(index == sockman::RouteTable::kNotFound || index == sockman::RouteTable::kUpgradeRequired ||
        (index >= 0 && static_cast<size_t>(index) < Table().size()));
  sockman::RouteTable::Request same = request;
  same.path = again;
  Check(Table().Match(same) == index);
  return 0;
}
