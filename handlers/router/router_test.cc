#include "handlers/router/router.h"

#include <string>

#include "absl/strings/match.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"
#include "protocols/websocket/testing/client_frame.h"

namespace sockman::testing {
namespace {

Service Parse(const std::string& text) {
  Service service;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &service)) << text;
  return service;
}

// A harness for a service "site" with these route blocks.
std::unique_ptr<HandlerHarness> Routes(const std::string& routes) {
  Service service = Parse("name: 'site' listen: 'http://127.0.0.1:0' " + routes);
  RouterError error;
  auto router = CreateRouter(service, *ProtocolRegistry::Global().Find("http"), ".", &error);
  EXPECT_TRUE(router.ok()) << error.field << ": " << error.message;
  if (!router.ok()) return nullptr;
  auto harness = HandlerHarness::FromFactory(std::move(*router), "http", "site");
  EXPECT_TRUE(harness.ok()) << harness.status();
  return harness.ok() ? std::move(*harness) : nullptr;
}

std::string Get(HandlerHarness& harness, const std::string& target,
                const std::string& headers = "") {
  auto client = harness.Connect();
  client->Send("GET " + target + " HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n");
  return client->Received();
}

TEST(RouterTest, DispatchesRequestsAndUpgrades) {
  auto harness = Routes(
      "route { name: 'a' match { path: '/a' } respond { body: 'at a' } } "
      "route { name: 'files' match { prefix: '/files/' } strip_prefix: true "
      "        respond { body: 'files' } } "
      "route { name: 'live' match { prefix: '/live/' } echo { prefix: 'echo: ' } }");
  ASSERT_NE(harness, nullptr);
  EXPECT_TRUE(absl::EndsWith(Get(*harness, "/a"), "\r\n\r\nat a"));
  EXPECT_TRUE(absl::StartsWith(Get(*harness, "/nowhere"), "HTTP/1.1 404 "));
  EXPECT_TRUE(absl::StartsWith(Get(*harness, "/live/x"), "HTTP/1.1 426 "));
  EXPECT_TRUE(absl::StartsWith(Get(*harness, "/a/../etc"), "HTTP/1.1 403 "));
  EXPECT_TRUE(absl::StartsWith(Get(*harness, "/a%zz"), "HTTP/1.1 400 "));
  // The upgrade: the route's WebSocket codec answers it, then the route's
  // handler has the connection.
  auto ws = harness->ConnectWebSocket("/live/room");
  ASSERT_NE(ws, nullptr);
  ws->Send(ClientFrame(0x81, "hi"));
  EXPECT_EQ(ws->Received(), ServerFrame(0x81, "echo: hi"));
  // Requests per route, in route order.
  std::vector<std::pair<std::string, uint64_t>> counts = harness->handler().route_requests();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0], (std::pair<std::string, uint64_t>{"a", 1}));
  EXPECT_EQ(counts[1], (std::pair<std::string, uint64_t>{"files", 0}));
  EXPECT_EQ(counts[2], (std::pair<std::string, uint64_t>{"live", 1}));  // the upgrade (not the 426)
}

TEST(RouterTest, AConnectionServesSeveralRoutesInTurn) {
  auto harness = Routes(
      "route { name: 'a' match { path: '/a' } respond { body: 'A' } } "
      "route { name: 'b' respond { body: 'B' } }");
  ASSERT_NE(harness, nullptr);
  auto client = harness->Connect();
  client->Send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
  std::string replies = client->Received();
  EXPECT_LT(replies.find("\r\n\r\nA"), replies.find("\r\n\r\nB")) << replies;
}

TEST(RouterTest, BadRoutesNameTheirField) {
  auto error_of = [](const std::string& routes) {
    Service service = Parse("name: 's' listen: 'http://127.0.0.1:0' " + routes);
    RouterError error;
    auto router = CreateRouter(service, *ProtocolRegistry::Global().Find("http"), ".", &error);
    EXPECT_FALSE(router.ok());
    return error.field;
  };
  EXPECT_EQ(error_of("route { }"), "route[0]");
  EXPECT_EQ(error_of("route { match { regex: '(' } respond {} }"), "route[0].match.regex");
  EXPECT_EQ(error_of("route { match { path: '/a' prefix: '/b' } respond {} }"), "route[0].match");
  EXPECT_EQ(error_of("route { websocket {} respond {} }"), "route[0].websocket");
  EXPECT_EQ(error_of("route { websocket { path: '/x' } echo {} }"), "route[0].websocket.path");
  EXPECT_EQ(error_of("route { strip_prefix: true respond {} }"), "route[0].strip_prefix");
  EXPECT_EQ(error_of("route { heartbeat { interval_ms: 100 } respond {} }"), "route[0].heartbeat");
  EXPECT_EQ(error_of("route { access_log: '' echo {} }"), "route[0].access_log");
  EXPECT_EQ(error_of("route { compress {} echo {} }"), "route[0].compress");
  EXPECT_EQ(error_of("route { compress { coding: 'lzma' } respond {} }"),
            "route[0].compress.coding");
  EXPECT_EQ(error_of("route { cors { } respond {} }"), "route[0].cors.allowed_origins");
  EXPECT_EQ(error_of("route { remove_response_header: 'Date' respond {} }"),
            "route[0].remove_response_header");
  EXPECT_EQ(error_of("route { respond {} } route { respond {} }"), "route[1].match");
}

}  // namespace
}  // namespace sockman::testing
