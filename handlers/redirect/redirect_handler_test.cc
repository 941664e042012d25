#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

// The Location a request to `target` with `host` is redirected to.
std::string LocationOf(HandlerHarness& harness, const std::string& target,
                       const std::string& host = "example.com") {
  auto client = harness.Connect();
  client->Send("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  std::string reply = client->Received();
  size_t at = reply.find("\r\nLocation: ");
  if (at == std::string::npos) return reply;
  size_t end = reply.find("\r\n", at + 2);
  return reply.substr(0, 12) + reply.substr(at + 12, end - at - 12);
}

TEST(RedirectHandlerTest, PlaceholdersFromTheRequest) {
  auto harness = HandlerHarness::Create("redirect", "location: 'https://{host}{uri}'", "http");
  ASSERT_TRUE(harness.ok()) << harness.status();
  EXPECT_EQ(LocationOf(**harness, "/a/b?x=1&y=2"), "HTTP/1.1 301https://example.com/a/b?x=1&y=2");
  EXPECT_EQ(LocationOf(**harness, "/", "example.com:8080"), "HTTP/1.1 301https://example.com/");
  EXPECT_EQ(LocationOf(**harness, "/v6", "[::1]:80"), "HTTP/1.1 301https://[::1]/v6");
  auto all = HandlerHarness::Create(
      "redirect", "status: 308 location: '{scheme}://{host}:{port}/new{path}?from={query}'",
      "http");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(LocationOf(**all, "/old?q=1", "h:81"), "HTTP/1.1 308http://h:81/new/old?from=q=1");
  EXPECT_EQ(LocationOf(**all, "/old", "h"), "HTTP/1.1 308http://h:80/new/old?from=");
}

TEST(RedirectHandlerTest, BadTemplatesAndStatusesAreConfigErrors) {
  auto unknown = HandlerHarness::Create("redirect", "location: 'https://{hostname}/'", "http");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "location: unknown placeholder {hostname} (known: scheme, host, port, uri, path, "
            "query)");
  EXPECT_FALSE(HandlerHarness::Create("redirect", "location: 'https://{host'", "http").ok());
  EXPECT_FALSE(HandlerHarness::Create("redirect", "", "http").ok());
  auto status = HandlerHarness::Create("redirect", "status: 200 location: '/'", "http");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(), "status: 200 is not a redirect (301, 302, 303, 307, 308)");
  EXPECT_FALSE(HandlerHarness::Create("redirect", "location: '/'", "text").ok());
}

}  // namespace
}  // namespace sockman::testing
