// The static handler end to end, with curl: files, ranges, revalidation,
// compression, redirects, errors and every traversal trick.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

class StaticTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = absl::StrCat(getenv("TEST_TMPDIR"), "/site");
    outside_ = absl::StrCat(getenv("TEST_TMPDIR"), "/outside");
    mkdir(root_.c_str(), 0755);
    mkdir(outside_.c_str(), 0755);
    mkdir((root_ + "/docs").c_str(), 0755);
    mkdir((root_ + "/empty").c_str(), 0755);
    Write(root_ + "/index.html", "<h1>home</h1>\n");
    Write(root_ + "/docs/index.html", "<h1>docs</h1>\n");
    Write(root_ + "/style.css", "body { color: red; }\n");
    Write(root_ + "/style.css.gz", "not really gzip, but a marker");
    Write(outside_ + "/secret.txt", "secret\n");
    symlink((outside_ + "/secret.txt").c_str(), (root_ + "/leak.txt").c_str());
    symlink((root_ + "/style.css").c_str(), (root_ + "/inside-link.css").c_str());
    std::string big;
    for (int i = 0; i < 3 * 1024 * 1024; ++i) big.push_back(static_cast<char>('a' + i % 26));
    Write(root_ + "/big.txt", big);
    auto started =
        SockmanProcess::Start(absl::StrCat(R"(
service {
  name: "site"
  listen: "http://127.0.0.1:0"
  static { root: ")",
                                           root_, R"(" }
}
service {
  name: "listing"
  listen: "http://127.0.0.1:0"
  static { root: ")",
                                           root_, R"(" index: "none.html" list_directories: true }
}
)"),
                              "static");
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }
  static void Write(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
  }
  static std::string Url(const std::string& path, const std::string& service = "site") {
    return absl::StrCat("http://127.0.0.1:", server_->port(service), path);
  }
  // Status code of a curl request with extra arguments.
  static std::string Code(const std::string& args) {
    return Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' --max-time 10 ", args));
  }
  static std::string Head(const std::string& args) {
    return Shell(absl::StrCat("curl -s -D - -o /dev/null --max-time 10 ", args));
  }

  static std::string root_, outside_;
  static SockmanProcess* server_;
};

std::string StaticTest::root_, StaticTest::outside_;
SockmanProcess* StaticTest::server_ = nullptr;

TEST_F(StaticTest, ServesIndexWithTypeAndValidators) {
  std::string head = Head(Url("/"));
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200 OK")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Content-Type: text/html; charset=utf-8")) << head;
  EXPECT_TRUE(absl::StrContains(head, "ETag: \"")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Last-Modified: ")) << head;
  EXPECT_EQ(Shell(absl::StrCat("curl -s ", Url("/docs/"))), "<h1>docs</h1>\n");
}

TEST_F(StaticTest, LargeFileArrivesIntactAndHeadHasNoBody) {
  std::string out = absl::StrCat(getenv("TEST_TMPDIR"), "/big.out");
  EXPECT_EQ(Shell(absl::StrCat("curl -s -w '%{http_code}' -o ", out, " ", Url("/big.txt"))), "200");
  EXPECT_EQ(Shell(absl::StrCat("cmp ", out, " ", root_, "/big.txt && echo same")), "same\n");
  std::string head = Shell(absl::StrCat("curl -s -I ", Url("/big.txt")));
  EXPECT_TRUE(absl::StrContains(head, "Content-Length: 3145728")) << head;
  // Several large downloads on one keep-alive connection.
  std::string twice =
      Shell(absl::StrCat("curl -s -o /dev/null -o /dev/null -w '%{size_download} ' ",
                         Url("/big.txt"), " ", Url("/big.txt")));
  EXPECT_EQ(twice, "3145728 3145728 ");
}

TEST_F(StaticTest, SingleRangesAndUnsatisfiableRanges) {
  EXPECT_EQ(Shell(absl::StrCat("curl -s -r 0-4 ", Url("/big.txt"))), "abcde");
  EXPECT_EQ(Shell(absl::StrCat("curl -s -r 26-27 ", Url("/big.txt"))), "ab");
  EXPECT_EQ(Shell(absl::StrCat("curl -s -r -3 ", Url("/style.css"))), " }\n");
  std::string head = Head(absl::StrCat("-r 10-19 ", Url("/big.txt")));
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 206")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Content-Range: bytes 10-19/3145728")) << head;
  head = Head(absl::StrCat("-r 99999999- ", Url("/big.txt")));
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 416")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Content-Range: bytes */3145728")) << head;
  EXPECT_EQ(Code(absl::StrCat("-r 0-1,5-6 ", Url("/style.css"))), "200");  // multi: whole file
}

TEST_F(StaticTest, ConditionalRequestsGet304) {
  std::string head = Head(Url("/style.css"));
  size_t at = head.find("ETag: ");
  ASSERT_NE(at, std::string::npos);
  std::string etag = head.substr(at + 6, head.find("\r\n", at) - at - 6);
  EXPECT_EQ(Code(absl::StrCat("-H 'If-None-Match: ", etag, "' ", Url("/style.css"))), "304");
  EXPECT_EQ(Code(absl::StrCat("-H 'If-None-Match: \"other\"' ", Url("/style.css"))), "200");
  EXPECT_EQ(Code(absl::StrCat("-H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT' ",
                              Url("/style.css"))),
            "304");
  EXPECT_EQ(Code(absl::StrCat("-H 'If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT' ",
                              Url("/style.css"))),
            "200");
}

TEST_F(StaticTest, PrecompressedSiblingWhenGzipIsAccepted) {
  std::string head = Head(absl::StrCat("-H 'Accept-Encoding: gzip' ", Url("/style.css")));
  EXPECT_TRUE(absl::StrContains(head, "Content-Encoding: gzip")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Content-Type: text/css")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Vary: Accept-Encoding")) << head;
  EXPECT_EQ(Shell(absl::StrCat("curl -s -H 'Accept-Encoding: gzip' ", Url("/style.css"))),
            "not really gzip, but a marker");
  EXPECT_EQ(Shell(absl::StrCat("curl -s -H 'Accept-Encoding: gzip;q=0' ", Url("/style.css"))),
            "body { color: red; }\n");
  EXPECT_EQ(Shell(absl::StrCat("curl -s ", Url("/style.css"))), "body { color: red; }\n");
}

TEST_F(StaticTest, RedirectsAndErrorPages) {
  std::string head = Head(Url("/docs"));
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 301")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Location: /docs/")) << head;
  EXPECT_EQ(Code(Url("/empty/")), "403");  // no index, no listing
  EXPECT_EQ(Code(Url("/missing.txt")), "404");
  EXPECT_EQ(Code(Url("/style.css/")), "404");
  EXPECT_EQ(Code(absl::StrCat("-X POST -d x ", Url("/"))), "405");
  EXPECT_TRUE(absl::StrContains(Head(absl::StrCat("-X DELETE ", Url("/"))), "Allow: GET, HEAD"));
  EXPECT_EQ(Code(Url("/inside-link.css")), "200");  // a symlink that stays inside
}

TEST_F(StaticTest, NoPathEscapesTheRoot) {
  for (const char* path :
       {"/../outside/secret.txt", "/docs/../../outside/secret.txt", "/%2e%2e/outside/secret.txt",
        "/%2E%2E%2Foutside%2Fsecret.txt", "/docs/..%2f..%2foutside/secret.txt",
        "/..%5coutside%5csecret.txt", "/leak.txt", "/index.html%00.txt"}) {
    std::string code = Code(absl::StrCat("--path-as-is ", Url(path)));
    EXPECT_TRUE(code == "403" || code == "400" || code == "404") << path << " -> " << code;
    std::string body = Shell(absl::StrCat("curl -s --path-as-is ", Url(path)));
    EXPECT_FALSE(absl::StrContains(body, "secret")) << path;
  }
}

TEST_F(StaticTest, DirectoryListingWhenEnabled) {
  std::string body = Shell(absl::StrCat("curl -s ", Url("/", "listing")));
  EXPECT_TRUE(absl::StrContains(body, "<a href=\"big.txt\">big.txt</a>")) << body;
  EXPECT_TRUE(absl::StrContains(body, "<a href=\"docs/\">docs/</a>")) << body;
}

}  // namespace
}  // namespace sockman::testing
