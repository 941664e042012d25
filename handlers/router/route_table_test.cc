#include "handlers/router/route_table.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

RouteSpec Spec(std::string name, RouteSpec::PathKind kind = RouteSpec::kAnyPath,
               std::string path = "", bool websocket = false) {
  RouteSpec spec;
  spec.name = std::move(name);
  spec.path_kind = kind;
  spec.path = std::move(path);
  spec.websocket = websocket;
  return spec;
}

RouteTable Table(std::vector<RouteSpec> specs) {
  RouteError error;
  auto table = RouteTable::Build(std::move(specs), &error);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(*table);
}

// The name of the route serving a request ("404", "426" when none).
std::string Serve(const RouteTable& table, std::string path, std::string host = "h",
                  std::string method = "GET", bool upgrade = false,
                  std::vector<std::pair<absl::string_view, absl::string_view>> headers = {}) {
  std::string normal;
  if (int refused = NormalizeRoutePath(path, normal)) return absl::StrCat(refused);
  int index = table.Match({host, normal, method, headers, upgrade});
  if (index == RouteTable::kNotFound) return "404";
  if (index == RouteTable::kUpgradeRequired) return "426";
  return table.spec(index).name;
}

TEST(RouteTableTest, PathPrecedenceExactThenLongestPrefixThenRegexThenAny) {
  RouteTable table = Table({
      Spec("any"),
      Spec("regex-json", RouteSpec::kRegex, "/api/.*\\.json"),
      Spec("api", RouteSpec::kPrefix, "/api/"),
      Spec("api-v2", RouteSpec::kPrefix, "/api/v2/"),
      Spec("exact", RouteSpec::kExact, "/api/v2/health"),
      Spec("regex-img", RouteSpec::kRegex, "/img/[0-9]+"),
  });
  EXPECT_EQ(Serve(table, "/api/v2/health"), "exact");
  EXPECT_EQ(Serve(table, "/api/v2/other"), "api-v2");
  EXPECT_EQ(Serve(table, "/api/x.json"), "api");  // a prefix beats a regex
  EXPECT_EQ(Serve(table, "/img/42"), "regex-img");
  EXPECT_EQ(Serve(table, "/img/42x"), "any");  // the whole path must match
  EXPECT_EQ(Serve(table, "/"), "any");
  EXPECT_EQ(Serve(table, "/api"), "any");  // "/api/" does not cover "/api"
}

TEST(RouteTableTest, HostsExactThenLongestWildcardThenDefaultWithFallThrough) {
  RouteSpec exact = Spec("exact", RouteSpec::kPrefix, "/only/");
  exact.hosts = {"API.example.com"};  // any case
  RouteSpec wild = Spec("wild");
  wild.hosts = {"*.example.com"};
  RouteSpec deeper = Spec("deeper");
  deeper.hosts = {"*.eu.example.com"};
  RouteTable table = Table({Spec("default"), wild, deeper, exact});
  EXPECT_EQ(Serve(table, "/only/x", "api.example.com"), "exact");
  EXPECT_EQ(Serve(table, "/only/x", "API.Example.COM.:8443"), "exact");  // case, dot, port
  // A host group none of whose routes match falls through to the next.
  EXPECT_EQ(Serve(table, "/elsewhere", "api.example.com"), "wild");
  EXPECT_EQ(Serve(table, "/", "a.eu.example.com"), "deeper");
  EXPECT_EQ(Serve(table, "/", "www.example.com"), "wild");
  EXPECT_EQ(Serve(table, "/", "example.com"), "default");  // *.x needs a subdomain
  EXPECT_EQ(Serve(table, "/", "other.org"), "default");
  EXPECT_EQ(Serve(table, "/", "[::1]:80"), "default");
}

TEST(RouteTableTest, MethodsAndHeadersFilterCandidates) {
  RouteSpec post = Spec("post", RouteSpec::kExact, "/form");
  post.methods = {"POST"};
  RouteSpec beta = Spec("beta", RouteSpec::kExact, "/form");
  beta.headers = {{"X-Beta", std::string("on")}};
  RouteSpec any_auth = Spec("authed", RouteSpec::kExact, "/form");
  any_auth.headers = {{"authorization", std::nullopt}};
  RouteTable table = Table({post, beta, any_auth, Spec("page", RouteSpec::kExact, "/form")});
  EXPECT_EQ(Serve(table, "/form", "h", "POST"), "post");
  EXPECT_EQ(Serve(table, "/form", "h", "GET", false, {{"x-beta", " on "}}), "beta");
  EXPECT_EQ(Serve(table, "/form", "h", "GET", false, {{"X-Beta", "off"}}), "page");
  EXPECT_EQ(Serve(table, "/form", "h", "GET", false, {{"Authorization", ""}}), "authed");
  EXPECT_EQ(Serve(table, "/form"), "page");
  EXPECT_EQ(Serve(table, "/form", "h", "post"), "page");  // methods are case-sensitive
}

TEST(RouteTableTest, WebSocketRoutesTakeUpgradesAndPagesShareTheirPath) {
  RouteTable table = Table({Spec("page", RouteSpec::kExact, "/chat"),
                            Spec("socket", RouteSpec::kExact, "/chat", true),
                            Spec("ws-only", RouteSpec::kPrefix, "/live/", true)});
  EXPECT_EQ(Serve(table, "/chat"), "page");
  EXPECT_EQ(Serve(table, "/chat", "h", "GET", true), "socket");
  EXPECT_EQ(Serve(table, "/live/x", "h", "GET", true), "ws-only");
  EXPECT_EQ(Serve(table, "/live/x"), "426");  // a plain GET to an upgrade-only path
  EXPECT_EQ(Serve(table, "/nothing", "h", "GET", true), "404");
  // An upgrade with no WebSocket route for it is served as a plain request.
  RouteTable pages = Table({Spec("page", RouteSpec::kExact, "/chat")});
  EXPECT_EQ(Serve(pages, "/chat", "h", "GET", true), "page");
}

// No route can be reached, or bypassed, by spelling its path differently.
TEST(RouteTableTest, TrickyPathsCannotBypassRoutes) {
  RouteTable table = Table({Spec("public"), Spec("admin", RouteSpec::kPrefix, "/admin/"),
                            Spec("exact", RouteSpec::kExact, "/a%20b")});
  struct Case {
    const char* path;
    const char* served;
  };
  std::string very_long = "/" + std::string(8000, 'a');
  for (const Case& c : std::vector<Case>{
           {"/admin/x", "admin"},
           {"/%61dmin/x", "admin"},  // an encoded unreserved letter
           {"/%61%64%6D%69%6E/x", "admin"},
           {"//admin//x", "admin"},        // empty segments
           {"/./admin/./x", "admin"},      // dot segments
           {"/%2e/admin/x", "admin"},      // an encoded dot segment
           {"/admin", "public"},           // not under "/admin/"
           {"/ADMIN/x", "public"},         // paths are case-sensitive
           {"/public/../admin/x", "403"},  // ".." is refused, never resolved
           {"/public/%2e%2e/admin/x", "403"},
           {"/public/%2E%2e/admin/x", "403"},
           {"/public/.%2e/admin/x", "403"},
           {"/admin%2fx", "403"},  // encoded slash
           {"/admin%2Fx", "403"},
           {"/admin%5cx", "403"},  // encoded backslash
           {"/admin\\x", "403"},
           {"/admin/%00", "403"},  // NUL
           {"/admin/%", "400"},    // malformed escapes
           {"/admin/%4", "400"},
           {"/admin/%zz", "400"},
           {"/admin/%c0%ae%c0%ae/x", "admin"},  // overlong UTF-8 dots stay bytes, not dots
           {"/a%20b", "exact"},                 // other escapes are kept (upper-case hex)
           {"/a%20B", "public"},
           {"relative", "400"},
       }) {
    EXPECT_EQ(Serve(table, c.path), c.served) << c.path;
  }
  EXPECT_EQ(Serve(table, very_long), "public");
  std::string normal;
  EXPECT_EQ(NormalizeRoutePath("/a%2fb", normal), 403);
  EXPECT_EQ(NormalizeRoutePath("/x/%c0%ae", normal), 0);
  EXPECT_EQ(normal, "/x/%C0%AE");
  EXPECT_EQ(NormalizeRoutePath("/a/b/", normal), 0);
  EXPECT_EQ(normal, "/a/b/");
  EXPECT_EQ(NormalizeRoutePath("/a/b/.", normal), 0);
  EXPECT_EQ(normal, "/a/b/");
  EXPECT_EQ(NormalizeRoutePath("/", normal), 0);
  EXPECT_EQ(normal, "/");
  EXPECT_EQ(NormalizeRoutePath("//", normal), 0);
  EXPECT_EQ(normal, "/");
}

TEST(RouteTableTest, BadSpecsAreErrorsNamingTheRouteAndField) {
  auto error_of = [](std::vector<RouteSpec> specs) {
    RouteError error;
    auto table = RouteTable::Build(std::move(specs), &error);
    EXPECT_FALSE(table.ok());
    return absl::StrCat(error.route, " ", error.field, ": ", error.message);
  };
  EXPECT_EQ(error_of({Spec("a", RouteSpec::kRegex, "(")}),
            "0 match.regex: '(' is not an RE2 expression: missing ): (");
  EXPECT_EQ(error_of({Spec("a", RouteSpec::kExact, "x")}), "0 match.path: 'x' must start with '/'");
  EXPECT_EQ(error_of({Spec("a", RouteSpec::kExact, "/a b")}),
            "0 match.path: '/a b' has bytes a request path cannot carry: percent-encode them (%20 "
            "for a space)");
  EXPECT_NE(error_of({Spec("a", RouteSpec::kExact, "/a%2fb")}).find("not a normalised path"),
            std::string::npos);
  EXPECT_EQ(error_of({Spec("a", RouteSpec::kPrefix, "/a//b/")}),
            "0 match.prefix: '/a//b/' is not a normalised path, so no request could match it "
            "(write '/a/b/')");
  EXPECT_EQ(error_of({Spec("a", RouteSpec::kExact, "/%2e%2e/x")}).substr(0, 14), "0 match.path: ");
  RouteSpec host = Spec("a");
  host.hosts = {"a.*.com"};
  EXPECT_EQ(error_of({host}).substr(0, 14), "0 match.host: ");
  RouteSpec method = Spec("a");
  method.methods = {"GE T"};
  EXPECT_EQ(error_of({method}), "0 match.method: 'GE T' is not a method name");
  // Unreachable: the same host and path behind a route whose conditions it implies.
  EXPECT_EQ(
      error_of({Spec("first", RouteSpec::kPrefix, "/a/"), Spec("b", RouteSpec::kPrefix, "/a/")}),
      "1 match: is never reached: route 'first' comes first with the same host and prefix "
      "/a/ and takes every request this one would");
  RouteSpec get = Spec("get", RouteSpec::kExact, "/x");
  get.methods = {"GET"};
  EXPECT_NE(error_of({Spec("all", RouteSpec::kExact, "/x"), get}).find("never reached"),
            std::string::npos);
  // Not unreachable: narrower first, another kind, another host.
  RouteSpec ws = Spec("ws", RouteSpec::kExact, "/x", true);
  RouteSpec other_host = Spec("h", RouteSpec::kExact, "/x");
  other_host.hosts = {"example.com"};
  RouteError error;
  EXPECT_TRUE(
      RouteTable::Build({get, Spec("all", RouteSpec::kExact, "/x"), ws, other_host}, &error).ok());
}

TEST(RouteTableTest, DescribeListsRoutesInTheOrderTheyAreTried) {
  RouteSpec exact_host = Spec("vhost", RouteSpec::kPrefix, "/");
  exact_host.hosts = {"example.com"};
  RouteTable table = Table({Spec("fallback"), Spec("api", RouteSpec::kPrefix, "/api/"),
                            Spec("ws", RouteSpec::kExact, "/ws", true), exact_host});
  EXPECT_EQ(table.Describe(), (std::vector<std::string>{
                                  "host example.com, http, prefix / -> vhost",
                                  "any host, http, prefix /api/ -> api",
                                  "any host, http, any path -> fallback",
                                  "any host, websocket, path /ws -> ws",
                              }));
}

}  // namespace
}  // namespace sockman
