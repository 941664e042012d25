#include "handlers/static/static_handler.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

class StaticHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/static_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    root_ = dir;
    std::ofstream(root_ + "/hello.txt") << "hello, world\n";
    mkdir((root_ + "/sub").c_str(), 0755);
    std::ofstream(root_ + "/sub/index.html") << "<p>sub</p>";
    auto harness = HandlerHarness::Create("static", "root: '" + root_ + "'", "http");
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
  }
  std::string Get(const std::string& target, const std::string& headers = "") {
    auto client = harness_->Connect();
    client->Send("GET " + target + " HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n");
    return client->Received();
  }
  std::string root_;
  std::unique_ptr<HandlerHarness> harness_;
};

TEST_F(StaticHandlerTest, ServesFilesIndexesAndErrors) {
  std::string file = Get("/hello.txt");
  EXPECT_TRUE(absl::StartsWith(file, "HTTP/1.1 200 OK\r\n")) << file;
  EXPECT_TRUE(absl::StrContains(file, "Content-Type: text/plain")) << file;
  EXPECT_TRUE(absl::EndsWith(file, "\r\n\r\nhello, world\n")) << file;
  EXPECT_TRUE(absl::EndsWith(Get("/sub/"), "<p>sub</p>"));
  EXPECT_TRUE(absl::StartsWith(Get("/sub"), "HTTP/1.1 301 "));
  EXPECT_TRUE(absl::StartsWith(Get("/missing"), "HTTP/1.1 404 "));
  EXPECT_TRUE(absl::StartsWith(Get("/../etc/passwd"), "HTTP/1.1 403 "));
  EXPECT_TRUE(absl::StartsWith(Get("/sub%2f..%2fhello.txt"), "HTTP/1.1 403 "));
}

TEST_F(StaticHandlerTest, DotfilesAreHiddenButWellKnownIsServed) {
  std::ofstream(root_ + "/.env") << "SECRET=1\n";
  mkdir((root_ + "/.git").c_str(), 0755);
  std::ofstream(root_ + "/.git/config") << "[core]\n";
  mkdir((root_ + "/.well-known").c_str(), 0755);
  std::ofstream(root_ + "/.well-known/security.txt") << "Contact: x\n";
  EXPECT_TRUE(absl::StartsWith(Get("/.env"), "HTTP/1.1 404 "));
  EXPECT_TRUE(absl::StartsWith(Get("/.git/config"), "HTTP/1.1 404 "));
  EXPECT_TRUE(absl::StartsWith(Get("/%2egit/config"), "HTTP/1.1 404 "));
  EXPECT_TRUE(absl::StartsWith(Get("/sub/../.env"), "HTTP/1.1 403 "));
  EXPECT_TRUE(absl::EndsWith(Get("/.well-known/security.txt"), "Contact: x\n"));
  auto listing =
      HandlerHarness::Create("static", "root: '" + root_ + "' list_directories: true", "http");
  ASSERT_TRUE(listing.ok());
  auto client = (*listing)->Connect();
  client->Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  std::string page = client->Received();
  EXPECT_FALSE(absl::StrContains(page, ".env")) << page;
  EXPECT_TRUE(absl::StrContains(page, ".well-known/")) << page;
  auto allowed =
      HandlerHarness::Create("static", "root: '" + root_ + "' allow_dotfiles: true", "http");
  ASSERT_TRUE(allowed.ok());
  auto opt_in = (*allowed)->Connect();
  opt_in->Send("GET /.env HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(absl::EndsWith(opt_in->Received(), "SECRET=1\n"));
}

TEST_F(StaticHandlerTest, RangesAndConditionalRequests) {
  std::string part = Get("/hello.txt", "Range: bytes=0-4\r\n");
  EXPECT_TRUE(absl::StartsWith(part, "HTTP/1.1 206 ")) << part;
  EXPECT_TRUE(absl::StrContains(part, "Content-Range: bytes 0-4/13")) << part;
  EXPECT_TRUE(absl::EndsWith(part, "\r\n\r\nhello")) << part;
  EXPECT_TRUE(absl::StartsWith(Get("/hello.txt", "Range: bytes=50-\r\n"), "HTTP/1.1 416 "));
  std::string full = Get("/hello.txt");
  size_t at = full.find("ETag: ");
  ASSERT_NE(at, std::string::npos) << full;
  std::string etag = full.substr(at + 6, full.find("\r\n", at) - at - 6);
  EXPECT_TRUE(
      absl::StartsWith(Get("/hello.txt", "If-None-Match: " + etag + "\r\n"), "HTTP/1.1 304 "));
}

TEST(StaticHandlerConfigTest, RefusesBadRoots) {
  EXPECT_EQ(HandlerHarness::Create("static", "", "http").status().message(), "root: is required");
  EXPECT_FALSE(HandlerHarness::Create("static", "root: '/no/such/dir'", "http").ok());
  EXPECT_FALSE(HandlerHarness::Create("static", "root: '/tmp'", "text").ok());
  EXPECT_FALSE(HandlerHarness::Create("static", "root: '/tmp' index: '../x'", "http").ok());
}

}  // namespace
}  // namespace sockman::testing
