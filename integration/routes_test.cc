// Routes on the real binary: one http:// (or https://) listener, many
// handlers. curl for every match kind and precedence rule, prefix
// stripping, WebSocket routes beside pages on the same path, the path
// bypass table, `check`'s listing and errors with file:line:col; and the
// site example (page, WebSocket groups, token-protected push, one https://
// port) in two headless Chromium frames.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

constexpr char kRoutes[] = R"(
service {
  name: "routes"
  listen: "http://127.0.0.1:0"
  count: 2
  route { name: "exact" match { path: "/api/v2/health" } respond { body: "exact" } }
  route { name: "v2" match { prefix: "/api/v2/" } respond { body: "v2" } }
  route { name: "api" match { prefix: "/api/" } respond { body: "api" } }
  route { name: "img" match { regex: "/img/[0-9]+\\.png" } respond { body: "img" } }
  route { name: "post" match { path: "/form" method: "POST" } respond { body: "post" } }
  route { name: "beta" match { path: "/form" header { name: "X-Beta" value: "on" } }
          respond { body: "beta" } }
  route { name: "form" match { path: "/form" } respond { body: "form" } }
  route { name: "vhost" match { host: "example.com" } respond { body: "vhost" } }
  route { name: "wild" match { host: "*.example.com" } respond { body: "wild" } }
  route { name: "page" match { path: "/chat" } respond { body: "page" } }
  route { name: "chat" match { path: "/chat" } echo {} }
  route { name: "live" match { prefix: "/live/" } websocket { subprotocols: "v1" }
          echo { prefix: "live: " } }
  route { name: "files" match { prefix: "/files/" } strip_prefix: true static { root: "www" } }
  route { name: "admin" match { prefix: "/admin/" } respond { status: 403 body: "admin" } }
  route { name: "moved" match { prefix: "/old/" } redirect { status: 308 location: "/new{path}" } }
  route {
    name: "cors"
    match { prefix: "/cors/" }
    cors {
      allowed_origins: "https://app.example"
      allowed_methods: ["GET", "PUT"]
      allowed_headers: "X-Token"
      expose_headers: "X-Count"
      allow_credentials: true
      max_age: 60
    }
    response_header { name: "X-Route" value: "cors" }
    respond { body: "cors" }
  }
  route { name: "packed" match { prefix: "/packed/" } strip_prefix: true compress { min_size: 100 }
          static { root: "www" } }
  route { name: "json" match { path: "/data.json" } compress { coding: "gzip" }
          respond { content_type: "application/json" body: "{\"k0\":\"value 0\",\"k1\":\"value 1\",\"k2\":\"value 2\",\"k3\":\"value 3\",\"k4\":\"value 4\",\"k5\":\"value 5\",\"k6\":\"value 6\",\"k7\":\"value 7\",\"k8\":\"value 8\",\"k9\":\"value 9\",\"k10\":\"value 10\",\"k11\":\"value 11\",\"k12\":\"value 12\",\"k13\":\"value 13\",\"k14\":\"value 14\",\"k15\":\"value 15\",\"k16\":\"value 16\",\"k17\":\"value 17\",\"k18\":\"value 18\",\"k19\":\"value 19\",\"k20\":\"value 20\",\"k21\":\"value 21\",\"k22\":\"value 22\",\"k23\":\"value 23\",\"k24\":\"value 24\",\"k25\":\"value 25\",\"k26\":\"value 26\",\"k27\":\"value 27\",\"k28\":\"value 28\",\"k29\":\"value 29\",\"k30\":\"value 30\",\"k31\":\"value 31\",\"k32\":\"value 32\",\"k33\":\"value 33\",\"k34\":\"value 34\",\"k35\":\"value 35\",\"k36\":\"value 36\",\"k37\":\"value 37\",\"k38\":\"value 38\",\"k39\":\"value 39\",\"k40\":\"value 40\",\"k41\":\"value 41\",\"k42\":\"value 42\",\"k43\":\"value 43\",\"k44\":\"value 44\",\"k45\":\"value 45\",\"k46\":\"value 46\",\"k47\":\"value 47\",\"k48\":\"value 48\",\"k49\":\"value 49\",\"k50\":\"value 50\",\"k51\":\"value 51\",\"k52\":\"value 52\",\"k53\":\"value 53\",\"k54\":\"value 54\",\"k55\":\"value 55\",\"k56\":\"value 56\",\"k57\":\"value 57\",\"k58\":\"value 58\",\"k59\":\"value 59\",\"k60\":\"value 60\",\"k61\":\"value 61\",\"k62\":\"value 62\",\"k63\":\"value 63\",\"k64\":\"value 64\",\"k65\":\"value 65\",\"k66\":\"value 66\",\"k67\":\"value 67\",\"k68\":\"value 68\",\"k69\":\"value 69\",\"k70\":\"value 70\",\"k71\":\"value 71\",\"k72\":\"value 72\",\"k73\":\"value 73\",\"k74\":\"value 74\",\"k75\":\"value 75\",\"k76\":\"value 76\",\"k77\":\"value 77\",\"k78\":\"value 78\",\"k79\":\"value 79\",\"k80\":\"value 80\",\"k81\":\"value 81\",\"k82\":\"value 82\",\"k83\":\"value 83\",\"k84\":\"value 84\",\"k85\":\"value 85\",\"k86\":\"value 86\",\"k87\":\"value 87\",\"k88\":\"value 88\",\"k89\":\"value 89\",\"k90\":\"value 90\",\"k91\":\"value 91\",\"k92\":\"value 92\",\"k93\":\"value 93\",\"k94\":\"value 94\",\"k95\":\"value 95\",\"k96\":\"value 96\",\"k97\":\"value 97\",\"k98\":\"value 98\",\"k99\":\"value 99\",\"k100\":\"value 100\",\"k101\":\"value 101\",\"k102\":\"value 102\",\"k103\":\"value 103\",\"k104\":\"value 104\",\"k105\":\"value 105\",\"k106\":\"value 106\",\"k107\":\"value 107\",\"k108\":\"value 108\",\"k109\":\"value 109\",\"k110\":\"value 110\",\"k111\":\"value 111\",\"k112\":\"value 112\",\"k113\":\"value 113\",\"k114\":\"value 114\",\"k115\":\"value 115\",\"k116\":\"value 116\",\"k117\":\"value 117\",\"k118\":\"value 118\",\"k119\":\"value 119\",\"k120\":\"value 120\",\"k121\":\"value 121\",\"k122\":\"value 122\",\"k123\":\"value 123\",\"k124\":\"value 124\",\"k125\":\"value 125\",\"k126\":\"value 126\",\"k127\":\"value 127\",\"k128\":\"value 128\",\"k129\":\"value 129\",\"k130\":\"value 130\",\"k131\":\"value 131\",\"k132\":\"value 132\",\"k133\":\"value 133\",\"k134\":\"value 134\",\"k135\":\"value 135\",\"k136\":\"value 136\",\"k137\":\"value 137\",\"k138\":\"value 138\",\"k139\":\"value 139\",\"k140\":\"value 140\",\"k141\":\"value 141\",\"k142\":\"value 142\",\"k143\":\"value 143\",\"k144\":\"value 144\",\"k145\":\"value 145\",\"k146\":\"value 146\",\"k147\":\"value 147\",\"k148\":\"value 148\",\"k149\":\"value 149\"}" } }
  route { name: "bare" match { path: "/bare" } remove_response_header: ["Server", "X-Drop"]
          respond { body: "bare" header { name: "X-Drop" value: "1" } header { name: "X-Keep" value: "2" } } }
  route { name: "any" respond { body: "any" } }
}
service {
  name: "sockets"
  listen: "http://127.0.0.1:0"
  route { name: "feed" match { prefix: "/feed/" } echo {} }
}
)";

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();
    mkdir((dir_ + "/www").c_str(), 0755);
    std::ofstream(dir_ + "/www/hello.txt") << "hello file\n";
    std::string text;
    for (int i = 0; i < 4000; ++i) absl::StrAppend(&text, "line ", i, " of a text file\n");
    std::ofstream(dir_ + "/www/big.txt") << text;
    std::ofstream(dir_ + "/www/small.txt") << std::string(50, 's');
    std::ofstream(dir_ + "/www/pic.png") << std::string(5000, 'p');
    std::ofstream(dir_ + "/www/pre.txt") << text;
    std::ofstream(dir_ + "/www/pre.txt.br") << "BROTLI-BYTES";
    auto started = SockmanProcess::Start(kRoutes, "routes", dir_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }
  // "STATUS BODY" of a request (curl leaves the path as it is).
  std::string Get(const std::string& path, const std::string& options = "") {
    return Shell(absl::StrCat("curl -s --path-as-is -o ", dir_, "/body -w '%{http_code}' ", options,
                              " 'http://127.0.0.1:", server_->port("routes"), path,
                              "' && printf ' ' && head -c 200 ", dir_, "/body"));
  }
  // The status line and first message of a WebSocket upgrade to `path`.
  std::string Upgrade(const std::string& path, const std::string& extra = "") {
    TestClient ws(server_->port("routes"));
    ws.Send(absl::StrCat("GET ", path,
                         " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n",
                         extra, "\r\n"));
    std::string status = ws.ReadLine(3000);
    std::string head;
    for (std::string line = status; !line.empty() && line != "\r";) {
      line = ws.ReadLine(3000);
      head += line;
    }
    if (!absl::StartsWith(status, "HTTP/1.1 101")) return status;
    ws.Send(std::string("\x81\x82\0\0\0\0hi", 8));  // masked with a zero key
    std::string frame = ws.ReadExactly(2, 3000);
    if (frame.size() != 2) return status + " <no frame>";
    std::string message = ws.ReadExactly(static_cast<unsigned char>(frame[1]) & 0x7f, 3000);
    bool v1 = absl::StrContains(head, "Sec-WebSocket-Protocol: v1");
    return absl::StrCat(status.substr(0, 12), v1 ? " v1" : "", " ", message);
  }

  std::string dir_;
  std::unique_ptr<SockmanProcess> server_;
};

TEST_F(RoutesTest, EveryMatchKindAndItsPrecedence) {
  EXPECT_EQ(Get("/api/v2/health"), "200 exact");  // exact beats every prefix
  EXPECT_EQ(Get("/api/v2/other"), "200 v2");      // the longest prefix
  EXPECT_EQ(Get("/api/x"), "200 api");
  EXPECT_EQ(Get("/api/7.png"), "200 api");   // a prefix beats a regex
  EXPECT_EQ(Get("/img/42.png"), "200 img");  // the regex, whole path
  EXPECT_EQ(Get("/img/42.pngx"), "200 any");
  EXPECT_EQ(Get("/form", "-X POST"), "200 post");          // method
  EXPECT_EQ(Get("/form", "-H 'X-Beta: on'"), "200 beta");  // header value
  EXPECT_EQ(Get("/form", "-H 'X-Beta: off'"), "200 form");
  EXPECT_EQ(Get("/form"), "200 form");
  // Hosts: exact, then wildcard, then the default routes; a host's routes
  // that do not match fall through to the default ones.
  EXPECT_EQ(Get("/", "-H 'Host: example.com'"), "200 vhost");
  EXPECT_EQ(Get("/", "-H 'Host: EXAMPLE.com:8080'"), "200 vhost");
  EXPECT_EQ(Get("/", "-H 'Host: www.example.com'"), "200 wild");
  EXPECT_EQ(Get("/", "-H 'Host: example.org'"), "200 any");
  // status counts each route's requests (summed over the two workers).
  std::string counts = Shell(absl::StrCat(
      SockmanBinary(), " status --json -c ", server_->config_path(),
      " | python3 -c 'import json,sys; w=json.load(sys.stdin)[\"workers\"]; "
      "r=[x for x in w if x[\"service\"]==\"routes\"]; "
      "print(sum(x[\"routes\"][\"exact\"] for x in r), sum(x[\"routes\"][\"form\"] for x in r))'"));
  EXPECT_EQ(counts, "1 2\n");  // /api/v2/health once; /form twice (X-Beta: off, none)
  EXPECT_EQ(Get("/files/hello.txt"), "200 hello file\n");  // strip_prefix
  EXPECT_EQ(Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "
                               "'http://127.0.0.1:",
                               server_->port("routes"), "/old/a?b=1'")),
            absl::StrCat("308 http://127.0.0.1:", server_->port("routes"), "/new/old/a"));
  EXPECT_EQ(Get("/files/").substr(0, 4), "403 ");  // static: a directory without an index
}

TEST_F(RoutesTest, WebSocketRoutesBesidePagesOnTheSamePath) {
  EXPECT_EQ(Get("/chat"), "200 page");             // a plain GET: the page
  EXPECT_EQ(Upgrade("/chat"), "HTTP/1.1 101 hi");  // the upgrade: echo
  EXPECT_EQ(Upgrade("/live/x", "Sec-WebSocket-Protocol: v1\r\n"), "HTTP/1.1 101 v1 live: hi");
  // A plain GET that only a WebSocket route would take: 426; nothing: 404.
  std::string sockets = absl::StrCat("http://127.0.0.1:", server_->port("sockets"));
  EXPECT_EQ(Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' ", sockets, "/feed/x")),
            "426");
  EXPECT_EQ(Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' ", sockets, "/other")),
            "404");
  // An upgrade no WebSocket route takes is answered as a plain request.
  EXPECT_EQ(Upgrade("/api/x"), "HTTP/1.1 200 OK\r");
  // The upgraded connection shows as websocket in `connections`.
  TestClient ws(server_->port("routes"));
  ws.Send(
      "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(ws.ReadLine(3000), "HTTP/1.1 101 Switching Protocols\r");
  CommandResult listed = RunSockman({"connections", "-c", server_->config_path()});
  EXPECT_TRUE(absl::StrContains(listed.out, "websocket")) << listed.out;
}

// CORS: preflights answered by the route, allowed origins' requests get the
// headers, others none; a route's own response headers on every answer.
TEST_F(RoutesTest, CorsPreflightsAndResponseHeaders) {
  auto head = [&](const std::string& options) {
    return Shell(absl::StrCat("curl -s -o /dev/null -D - ", options, " http://127.0.0.1:",
                              server_->port("routes"), "/cors/x | tr -d '\\r'"));
  };
  std::string preflight = head(
      "-X OPTIONS -H 'Origin: https://app.example' -H 'Access-Control-Request-Method: PUT' "
      "-H 'Access-Control-Request-Headers: X-Token'");
  EXPECT_TRUE(absl::StartsWith(preflight, "HTTP/1.1 204 No Content\n")) << preflight;
  for (const char* line :
       {"Access-Control-Allow-Origin: https://app.example\n", "Vary: Origin\n",
        "Access-Control-Allow-Credentials: true\n", "Access-Control-Allow-Methods: GET, PUT\n",
        "Access-Control-Allow-Headers: x-token\n", "Access-Control-Max-Age: 60\n"}) {
    EXPECT_TRUE(absl::StrContains(preflight, line)) << line << preflight;
  }
  for (const std::string& refused :
       {std::string("-H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: GET'"),
        std::string("-H 'Origin: https://app.example' -H 'Access-Control-Request-Method: DELETE'"),
        std::string("-H 'Origin: https://app.example' -H 'Access-Control-Request-Method: GET' "
                    "-H 'Access-Control-Request-Headers: X-Other'")}) {
    std::string answer = head("-X OPTIONS " + refused);
    EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 403 ")) << refused << answer;
    EXPECT_FALSE(absl::StrContains(answer, "Access-Control-Allow-Origin")) << answer;
  }
  std::string allowed = head("-H 'Origin: https://app.example'");
  EXPECT_TRUE(absl::StrContains(allowed, "Access-Control-Allow-Origin: https://app.example\n"))
      << allowed;
  EXPECT_TRUE(absl::StrContains(allowed, "Access-Control-Expose-Headers: X-Count\n")) << allowed;
  EXPECT_TRUE(absl::StrContains(allowed, "X-Route: cors\n")) << allowed;
  std::string other = head("-H 'Origin: https://evil.example'");
  EXPECT_FALSE(absl::StrContains(other, "Access-Control")) << other;
  EXPECT_TRUE(absl::StrContains(other, "X-Route: cors\n")) << other;
  // An OPTIONS request that is no preflight reaches the handler.
  EXPECT_EQ(Get("/cors/x", "-X OPTIONS"), "200 cors");
  // Headers a route leaves out.
  std::string bare =
      Shell(absl::StrCat("curl -s -D - -o /dev/null http://127.0.0.1:", server_->port("routes"),
                         "/bare | tr -d '\\r'"));
  EXPECT_FALSE(absl::StrContains(bare, "Server:")) << bare;
  EXPECT_FALSE(absl::StrContains(bare, "X-Drop")) << bare;
  EXPECT_TRUE(absl::StrContains(bare, "X-Keep: 2\n")) << bare;
  EXPECT_TRUE(absl::StrContains(bare, "Date: ")) << bare;
  EXPECT_TRUE(absl::StrContains(Get("/", "-D -"), "Server: sockman")) << "other routes keep it";
}

// On-the-fly compression by Accept-Encoding, each coding decoded by curl
// (and gzip by Python), with the cases that must stay as they are.
TEST_F(RoutesTest, CompressionByAcceptEncoding) {
  std::string base = absl::StrCat("http://127.0.0.1:", server_->port("routes"));
  std::string original = ReadFile(dir_ + "/www/big.txt");
  // "HEADERS\n--\nSIZE" of a response as it came, and the body curl decodes.
  auto fetch = [&](const std::string& path, const std::string& options) {
    std::string head = Shell(absl::StrCat("curl -s -D - -o ", dir_, "/raw ", options, " ", base,
                                          path, " | tr -d '\\r'"));
    return absl::StrCat(head, "--\n", ReadFile(dir_ + "/raw").size());
  };
  for (const char* coding : {"gzip", "br", "zstd"}) {
    std::string raw = fetch("/packed/big.txt", absl::StrCat("-H 'Accept-Encoding: ", coding, "'"));
    EXPECT_TRUE(absl::StrContains(raw, absl::StrCat("Content-Encoding: ", coding, "\n"))) << raw;
    EXPECT_TRUE(absl::StrContains(raw, "Vary: Accept-Encoding\n")) << raw;
    EXPECT_TRUE(absl::StrContains(raw, "ETag: W/\"")) << raw;
    size_t size = std::stoul(raw.substr(raw.rfind("--\n") + 3));
    EXPECT_LT(size, original.size() / 4) << coding;
    std::string decoded = Shell(absl::StrCat("curl -s --compressed -H 'Accept-Encoding: ", coding,
                                             "' ", base, "/packed/big.txt | sha256sum"));
    EXPECT_EQ(decoded, Shell(absl::StrCat("sha256sum < ", dir_, "/www/big.txt"))) << coding;
  }
  EXPECT_EQ(
      Shell(absl::StrCat("curl -s -H 'Accept-Encoding: gzip' ", base,
                         "/packed/big.txt | python3 -c 'import gzip,sys; "
                         "sys.stdout.write(gzip.decompress(sys.stdin.buffer.read()).decode())'"
                         " | sha256sum")),
      Shell(absl::StrCat("sha256sum < ", dir_, "/www/big.txt")));
  // q-values: br is refused, gzip preferred over zstd.
  EXPECT_TRUE(absl::StrContains(
      fetch("/packed/big.txt", "-H 'Accept-Encoding: br;q=0, zstd;q=0.5, gzip;q=0.8'"),
      "Content-Encoding: gzip\n"));
  // As they are: no Accept-Encoding (but Vary), too small, not a text type,
  // a range, HEAD; a precompressed sibling served as it is.
  std::string plain = fetch("/packed/big.txt", "");
  EXPECT_FALSE(absl::StrContains(plain, "Content-Encoding")) << plain;
  EXPECT_TRUE(absl::StrContains(plain, "Vary: Accept-Encoding\n")) << plain;
  EXPECT_FALSE(absl::StrContains(fetch("/packed/small.txt", "-H 'Accept-Encoding: gzip'"),
                                 "Content-Encoding"));
  std::string png = fetch("/packed/pic.png", "-H 'Accept-Encoding: gzip'");
  EXPECT_FALSE(absl::StrContains(png, "Content-Encoding")) << png;
  EXPECT_FALSE(absl::StrContains(png, "Vary")) << png;
  std::string range = fetch("/packed/big.txt", "-H 'Accept-Encoding: gzip' -r 0-9");
  EXPECT_TRUE(absl::StartsWith(range, "HTTP/1.1 206 ")) << range;
  EXPECT_FALSE(absl::StrContains(range, "Content-Encoding")) << range;
  EXPECT_FALSE(absl::StrContains(fetch("/packed/big.txt", "-I -H 'Accept-Encoding: gzip'"),
                                 "Content-Encoding"));
  std::string sibling = fetch("/packed/pre.txt", "-H 'Accept-Encoding: gzip, br'");
  EXPECT_TRUE(absl::StrContains(sibling, "Content-Encoding: br\n")) << sibling;
  EXPECT_EQ(ReadFile(dir_ + "/raw"), "BROTLI-BYTES");
  // A handler's own body (respond), with the route's one coding.
  std::string json = fetch("/data.json", "-H 'Accept-Encoding: br, gzip;q=0.5'");
  EXPECT_TRUE(absl::StrContains(json, "Content-Encoding: gzip\n")) << json;
}

// A route's own access log, beside the service's; reopened on SIGUSR1 as
// the service's is (logrotate).
TEST(RoutesAccessLogTest, ARouteLogsToItsOwnFile) {
  std::string dir = ShortTempDir();
  auto server = SockmanProcess::Start(R"(
service {
  name: "logged"
  listen: "http://127.0.0.1:0"
  access_log: "service.log"
  route { name: "api" match { prefix: "/api/" } access_log: "api.log" respond { body: "api" } }
  route { name: "live" match { path: "/live" } access_log: "live.log" websocket {}
          echo { prefix: "echo: " } }
  route { name: "rest" respond { body: "rest" } }
}
)",
                                      "logged", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string base = absl::StrCat("http://127.0.0.1:", (*server)->port("logged"));
  Shell(absl::StrCat("curl -s -o /dev/null -H 'X-Forwarded-For: 1.2.3.4' ", base, "/api/one"));
  Shell(absl::StrCat("curl -s -o /dev/null ", base, "/other"));
  auto wait_for = [&](const std::string& file, const std::string& text) {
    return PollUntilContains([&] { return ReadFile(dir + "/" + file); }, text);
  };
  std::string api = wait_for("api.log", "GET /api/one");
  EXPECT_TRUE(absl::StrContains(api, "127.0.0.1 - - [")) << api;
  EXPECT_TRUE(absl::StrContains(api, "\"GET /api/one HTTP/1.1\" 200 3")) << api;
  EXPECT_FALSE(absl::StrContains(api, "/other")) << api;
  std::string service = wait_for("service.log", "/other");
  EXPECT_TRUE(absl::StrContains(service, "\"GET /other HTTP/1.1\" 200 4")) << service;
  EXPECT_FALSE(absl::StrContains(service, "/api/one")) << service;
  // A WebSocket route's upgrades: one line each when the connection ends,
  // 101 and the bytes sent (the 101 response and an echo); a refused one
  // with its status.
  {
    TestClient ws((*server)->port("logged"));
    ws.Send(
        "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "User-Agent: ws-test\r\n\r\n");
    EXPECT_TRUE(absl::StartsWith(ws.ReadLine(3000), "HTTP/1.1 101"));
  }
  {
    TestClient refused((*server)->port("logged"));
    refused.Send(
        "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n");  // no key
    EXPECT_TRUE(absl::StartsWith(refused.ReadLine(3000), "HTTP/1.1 400"));
  }
  std::string live = wait_for("live.log", "\" 400 ");
  EXPECT_TRUE(absl::StrContains(live, "\"GET /live HTTP/1.1\" 101 ")) << live;
  EXPECT_TRUE(absl::StrContains(live, "\"ws-test\"")) << live;
  EXPECT_FALSE(absl::StrContains(service, "/live")) << service;
  // logrotate: move the file, SIGUSR1, and new lines go to a new api.log.
  ASSERT_EQ(rename((dir + "/api.log").c_str(), (dir + "/api.log.1").c_str()), 0);
  kill((*server)->pid(), SIGUSR1);
  std::string rotated;
  for (int i = 0; i < 60 && !absl::StrContains(rotated, "/api/two"); ++i) {
    Shell(absl::StrCat("curl -s -o /dev/null ", base, "/api/two"));
    usleep(100'000);
    rotated = ReadFile(dir + "/api.log");
  }
  EXPECT_TRUE(absl::StrContains(rotated, "GET /api/two")) << rotated;
}

// A WebSocket route's own heartbeat: pings, and a silent client closed.
TEST(RoutesHeartbeatTest, AWebSocketRoutePingsAndClosesTheSilent) {
  auto server = SockmanProcess::Start(R"(
service {
  name: "beats"
  listen: "http://127.0.0.1:0"
  route { name: "live" match { path: "/live" } heartbeat { interval_ms: 100 not_response_limit: 3 }
          echo {} }
  route { name: "page" respond { body: "page" } }
}
)",
                                      "beats", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  auto upgrade = [&](TestClient& ws) {
    ws.Send(
        "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    for (std::string line = ws.ReadLine(3000); !line.empty() && line != "\r";) {
      line = ws.ReadLine(3000);
    }
  };
  TestClient silent((*server)->port("beats"));
  upgrade(silent);
  TestClient talking((*server)->port("beats"));
  upgrade(talking);
  std::string ping = silent.ReadExactly(2, 3000);
  ASSERT_EQ(ping.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(ping[0]), 0x89);  // a ping control frame
  // The talking client answers every ping with a pong; the silent one never.
  for (int i = 0; i < 8; ++i) {
    std::string frame = talking.ReadExactly(2, 3000);
    ASSERT_EQ(frame.size(), 2u);
    ASSERT_EQ(static_cast<unsigned char>(frame[0]), 0x89);
    talking.Send(std::string("\x8a\x80\0\0\0\0", 6));  // masked empty pong
  }
  EXPECT_TRUE(silent.WaitClosed(3000));
  EXPECT_TRUE(talking.Send(std::string("\x81\x82\0\0\0\0hi", 8)));
  std::string echoed;
  for (int i = 0; i < 5; ++i) {  // pings may come first
    std::string frame = talking.ReadExactly(2, 3000);
    ASSERT_EQ(frame.size(), 2u);
    std::string payload = talking.ReadExactly(static_cast<unsigned char>(frame[1]) & 0x7f, 3000);
    if (static_cast<unsigned char>(frame[0]) == 0x81) {
      echoed = payload;
      break;
    }
  }
  EXPECT_EQ(echoed, "hi");
  // The silent one counts as a heartbeat close, as a service's do.
  std::string status =
      Shell(absl::StrCat(SockmanBinary(), " status --json -c ", (*server)->config_path()));
  EXPECT_TRUE(absl::StrContains(status, "\"heartbeat_closes\":1")) << status;
}

// No route can be reached, or bypassed, by spelling its path differently.
TEST_F(RoutesTest, TrickyPathsCannotBypassARoute) {
  for (const auto& [path, expected] : std::vector<std::pair<std::string, std::string>>{
           {"/admin/x", "403 admin"},
           {"/%61dmin/x", "403 admin"},
           {"/%61%64%6d%69%6e/x", "403 admin"},
           {"//admin//x", "403 admin"},
           {"/./admin/./x", "403 admin"},
           {"/%2e/admin/x", "403 admin"},
           {"/admin", "200 any"},
           {"/ADMIN/x", "200 any"},
           {"/x/../admin/x", "403 <html><head><title>403 Forbidden"},
           {"/x/%2e%2e/admin/x", "403 <html><head><title>403 Forbidden"},
           {"/x/.%2E/admin/x", "403 <html><head><title>403 Forbidden"},
           {"/admin%2fx", "403 <html><head><title>403 Forbidden"},
           {"/admin%5cx", "403 <html><head><title>403 Forbidden"},
           {"/admin/%00", "403 <html><head><title>403 Forbidden"},
           {"/admin/%zz", "400 <html><head><title>400 Bad Request"},
           {"/admin/%c0%ae%c0%ae/x", "403 admin"},
           {"/" + std::string(7000, 'a'), "200 any"},
       }) {
    std::string got = Get(path);
    EXPECT_EQ(got.substr(0, expected.size()), expected) << path;
  }
}

// Basic auth on a route, for pages and WebSocket upgrades alike, against an
// htpasswd file of bcrypt and SHA-512 crypt hashes (made by Python's crypt,
// which is libxcrypt too).
TEST(RoutesAuthTest, BasicAuthGuardsARoute) {
  std::string dir = ShortTempDir();
  Shell(absl::StrCat(
      "python3 -W ignore -c \"import crypt; print('ann:' + crypt.crypt('s3cret', "
      "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))); print('bob:' + crypt.crypt('hunter2', "
      "crypt.mksalt(crypt.METHOD_SHA512)))\" > ",
      dir, "/htpasswd"));
  auto server = SockmanProcess::Start(R"(
service {
  name: "guarded"
  listen: "http://127.0.0.1:0"
  route { name: "admin" match { prefix: "/admin/" } basic_auth { htpasswd_file: "htpasswd" realm: "staff" }
          respond { body: "inside" } }
  route { name: "feed" match { path: "/feed" } basic_auth { htpasswd_file: "htpasswd" } echo {} }
  route { name: "public" respond { body: "public" } }
}
)",
                                      "guarded", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string base = absl::StrCat("http://127.0.0.1:", (*server)->port("guarded"));
  auto get = [&](const std::string& options, const std::string& path) {
    return Shell(absl::StrCat("curl -s -D ", dir, "/head -o ", dir, "/body -w '%{http_code}' ",
                              options, " ", base, path, " && printf ' ' && head -c 100 ", dir,
                              "/body"));
  };
  EXPECT_EQ(get("-u ann:s3cret", "/admin/x"), "200 inside");
  EXPECT_EQ(get("-u bob:hunter2", "/admin/x"), "200 inside");
  EXPECT_EQ(get("-u ann:s3cret", "/admin/x"), "200 inside");  // remembered, still right
  EXPECT_EQ(get("-u ann:wrong", "/admin/x").substr(0, 4), "401 ");
  EXPECT_EQ(get("-u carol:s3cret", "/admin/x").substr(0, 4), "401 ");
  EXPECT_EQ(get("", "/admin/x").substr(0, 4), "401 ");
  EXPECT_TRUE(absl::StrContains(ReadFile(dir + "/head"),
                                "WWW-Authenticate: Basic realm=\"staff\", charset=\"UTF-8\""));
  EXPECT_EQ(get("-H 'Authorization: Basic !!!'", "/admin/x").substr(0, 4), "401 ");
  EXPECT_EQ(get("", "/"), "200 public");
  // A WebSocket route: the upgrade needs the credentials too.
  auto upgrade = [&](const std::string& authorization) {
    TestClient ws((*server)->port("guarded"));
    ws.Send(absl::StrCat(
        "GET /feed HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        authorization, "\r\n"));
    return ws.ReadLine(3000);
  };
  EXPECT_EQ(upgrade(""), "HTTP/1.1 401 Unauthorized\r");
  EXPECT_EQ(upgrade("Authorization: Basic YW5uOnMzY3JldA==\r\n"),  // ann:s3cret
            "HTTP/1.1 101 Switching Protocols\r");
  // reload re-reads the file: a new password works, the old one no longer.
  Shell(
      absl::StrCat("python3 -W ignore -c \"import crypt; print('ann:' + crypt.crypt('n3w', "
                   "crypt.mksalt(crypt.METHOD_SHA512)))\" > ",
                   dir, "/htpasswd"));
  CommandResult reload = RunSockman({"reload", "-c", (*server)->config_path()});
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  std::string after;
  for (int i = 0; i < 50 && after != "200 inside"; ++i) {
    usleep(100'000);
    after = get("-u ann:n3w", "/admin/x");
  }
  EXPECT_EQ(after, "200 inside");
  EXPECT_EQ(get("-u ann:s3cret", "/admin/x").substr(0, 4), "401 ");
}

// Weak hashes are config errors naming the file's line.
TEST(RoutesAuthTest, WeakHashesAreConfigErrors) {
  std::string dir = ShortTempDir();
  std::ofstream(dir + "/htpasswd") << "ann:$apr1$x$y\n";
  std::string path = WriteTempFile(
      "weak.textproto", absl::StrCat("service { name: \"s\" listen: \"http://127.0.0.1:0\" route { "
                                     "basic_auth { htpasswd_file: \"",
                                     dir, "/htpasswd\" } respond {} } }\n"));
  CommandResult checked = RunSockman({"check", "-c", path});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(checked.err, "route[0].basic_auth.htpasswd_file: route 's-1': "))
      << checked.err;
  EXPECT_TRUE(absl::StrContains(checked.err, "/htpasswd:1: user 'ann': an MD5 hash is refused"))
      << checked.err;
}

TEST(RoutesCheckTest, CheckListsRoutesInTheOrderTheyAreTried) {
  std::string path = WriteTempFile("routes.textproto", kRoutes);
  mkdir(absl::StrCat(path.substr(0, path.rfind('/')), "/www").c_str(), 0755);
  CommandResult checked = RunSockman({"check", "-c", path});
  ASSERT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_TRUE(absl::StrContains(checked.out,
                                "# service 'routes' routes, in the order a request tries them:\n"
                                "#   1. host example.com, http, any path -> vhost (respond)\n"
                                "#   2. host *.example.com, http, any path -> wild (respond)\n"
                                "#   3. any host, http, path /api/v2/health -> exact (respond)\n"))
      << checked.out;
  // The longest prefix first, then regular expressions, then the rest.
  size_t v2 = checked.out.find("prefix /api/v2/ -> v2 (respond)");
  size_t api = checked.out.find("prefix /api/ -> api (respond)");
  size_t regex = checked.out.find("regex /img/[0-9]+\\.png -> img (respond)");
  size_t any = checked.out.find("http, any path -> any (respond)");
  EXPECT_TRUE(v2 < api && api < regex && regex < any) << checked.out;
  EXPECT_TRUE(absl::StrContains(checked.out, "any host, websocket, prefix /live/ -> live (echo)"))
      << checked.out;
}

TEST(RoutesCheckTest, BadRoutesAreErrorsAtTheirLine) {
  auto check = [](const std::string& routes) {
    std::string path =
        WriteTempFile("bad.textproto",
                      absl::StrCat("service {\n  name: \"s\"\n  listen: \"http://127.0.0.1:0\"\n",
                                   routes, "}\n"));
    CommandResult checked = RunSockman({"check", "-c", path});
    EXPECT_EQ(checked.exit_code, 2);  // a config error
    std::string error = checked.err;
    return error.substr(error.find("bad.textproto"));
  };
  EXPECT_EQ(check("  route { match { regex: \"(\" } respond {} }\n"),
            "bad.textproto:4:19: service 's': route[0].match.regex: route 's-1': '(' is not an RE2 "
            "expression: missing ): (\n");
  EXPECT_EQ(check("  route { match { prefix: \"/a/\" } respond {} }\n"
                  "  route { name: \"b\" match { prefix: \"/a/\" } respond {} }\n"),
            "bad.textproto:5:21: service 's': route[1].match: route 'b': is never reached: route "
            "'s-1' comes first with the same host and prefix /a/ and takes every request this one "
            "would\n");
  EXPECT_TRUE(absl::StartsWith(
      check("  route { websocket { deflate: true } respond {} }\n"),
      "bad.textproto:4:11: service 's': route[0].websocket: route 's-1': respond answers HTTP "
      "requests and never upgrades"));
  EXPECT_TRUE(absl::StartsWith(check("  route { websocket { path: \"/x\" } echo {} }\n"),
                               "bad.textproto:4:23: service 's': route[0].websocket.path:"));
  EXPECT_TRUE(absl::StartsWith(check("  route { strip_prefix: true static { root: \"/tmp\" } }\n"),
                               "bad.textproto:4:11: service 's': route[0].strip_prefix: "));
  EXPECT_TRUE(absl::StartsWith(check("  route { match { path: \"/a//b\" } respond {} }\n"),
                               "bad.textproto:4:19: service 's': route[0].match.path: route 's-1': "
                               "'/a//b' is not a normalised path"));
  EXPECT_TRUE(absl::StartsWith(
      check("  route { cors { allowed_origins: \"*\" allow_credentials: true } respond {} }\n"),
      "bad.textproto:4:39: service 's': route[0].cors.allow_credentials: route 's-1': browsers "
      "refuse credentials"));
  EXPECT_TRUE(
      absl::StartsWith(check("  route { cors { allowed_origins: \"https://a/\" } respond {} }\n"),
                       "bad.textproto:4:18: service 's': route[0].cors.allowed_origins:"));
  EXPECT_TRUE(absl::StrContains(check("  route { heartbeat { interval_ms: 100 } respond {} }\n"),
                                "route[0].heartbeat: route 's-1': pings WebSocket clients"));
  EXPECT_TRUE(absl::StrContains(check("  route { remove_response_header: \"Date\" respond {} }\n"),
                                "route[0].remove_response_header: route 's-1': 'Date' frames the "
                                "response (or is required): it stays"));
  EXPECT_TRUE(absl::StartsWith(check("  route { respond {} }\n  respond {}\n"),
                               "bad.textproto:5:3: service 's': respond: a service with routes"));
  std::string ws = WriteTempFile(
      "bad.textproto", "service { name: \"s\" listen: \"ws://127.0.0.1:0\" route { echo {} } }\n");
  CommandResult on_ws = RunSockman({"check", "-c", ws});
  EXPECT_TRUE(absl::StrContains(on_ws.err, "route: routes need an http:// or https:// service"))
      << on_ws.err;
}

// examples/site.textproto: the page, its WebSocket groups and the push API
// on one https:// port; two Chromium frames see each other's message and
// push. Chromium trusts the test certificate by its key (SPKI pin).
TEST(SiteExampleTest, TwoChromiumFramesOverHttps) {
  std::string dir = ShortTempDir();
  ASSERT_TRUE(MakeTestCertificates(dir));
  Shell(absl::StrCat("cp -rL examples/www ", dir, "/"));
  std::string config = ReadFile("examples/site.textproto");
  size_t port = config.find("127.0.0.1:8443");
  ASSERT_NE(port, std::string::npos);
  config.replace(port, 14, "127.0.0.1:0");
  auto server = SockmanProcess::Start(config, "site", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string spki = Shell(absl::StrCat(
      "openssl x509 -in ", dir,
      "/server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 "
      "-binary | base64 | tr -d '\\n'"));
  std::ofstream(dir + "/www/pair.html") << R"(<!DOCTYPE html><html><body>
<div id="result">pending</div>
<iframe id="ann" src="/site.html?name=ann&room=pair"></iframe>
<iframe id="bob" src="/site.html?name=bob&room=pair"></iframe>
<script>
// Virtual time waits only for fetches: keep one going until both frames
// have what the other sent.
const frame = (id) => document.getElementById(id).contentWindow;
const log = (id) => frame(id)?.document?.getElementById('log')?.textContent || '';
let tries = 0, sent = false;
function poll() {
  const ann = log('ann'), bob = log('bob');
  if (!sent && ann.includes('(connected') && bob.includes('(connected')) {
    sent = true;
    frame('ann').ws.send('ann: hello bob');
    frame('bob').push('bob pushed: hi ann');
  }
  if (ann.includes('bob pushed: hi ann') && bob.includes('ann: hello bob')) {
    document.getElementById('result').textContent = ['both', 'saw'].join('-') + ' ann[' +
        ann.replace(/\n/g, '|') + '] bob[' + bob.replace(/\n/g, '|') + ']';
    return;
  }
  if (++tries < 400) fetch('/hello.txt?' + tries).then(() => setTimeout(poll, 10), () => setTimeout(poll, 10));
}
poll();
</script></body></html>
)";
  std::string dom =
      ChromiumDumpDom(absl::StrCat("https://127.0.0.1:", (*server)->port("site"), "/pair.html"),
                      "both-saw", "--ignore-certificate-errors-spki-list=" + spki);
  EXPECT_TRUE(absl::StrContains(dom, "both-saw")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "ann: hello bob")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "bob pushed: hi ann")) << dom;
}

}  // namespace
}  // namespace sockman::testing
