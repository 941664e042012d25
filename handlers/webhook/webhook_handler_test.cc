#include "absl/strings/str_cat.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

TEST(WebhookHandlerTest, AnUnreachableBackendIsCountedNotFatal) {
  auto harness = HandlerHarness::Create("webhook",
                                        absl::StrCat("url: 'http://127.0.0.1:", FreeLoopbackPort(),
                                                     "/events' timeout_ms: 500 retry_ms: 0"),
                                        "text");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  client->Send("hello\n");
  EXPECT_TRUE((*harness)->RunUntil([&] { return (*harness)->handler().backend_errors() > 0; }));
  EXPECT_FALSE(client->closed());
}

// With time to retry, an event waiting for a backend is not lost yet: no
// error, until retry_ms passes.
TEST(WebhookHandlerTest, AnEventWaitsForABackendUntilRetryMs) {
  auto harness = HandlerHarness::Create("webhook",
                                        absl::StrCat("url: 'http://127.0.0.1:", FreeLoopbackPort(),
                                                     "/events' events: MESSAGE retry_ms: 1500"),
                                        "text");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  client->Send("hello\n");
  (*harness)->RunUntil([] { return false; }, 500);
  EXPECT_EQ((*harness)->handler().backend_errors(), 0u);
  EXPECT_TRUE((*harness)->RunUntil([&] { return (*harness)->handler().backend_errors() > 0; }));
  EXPECT_FALSE(client->closed());
}

TEST(WebhookHandlerConfigTest, RefusesBadSettings) {
  EXPECT_EQ(HandlerHarness::Create("webhook", "", "text").status().message(),
            "webhook.url is required");
  EXPECT_FALSE(HandlerHarness::Create("webhook", "url: 'ftp://x/'", "text").ok());
  // UDP: one message event per datagram, no connections.
  EXPECT_TRUE(HandlerHarness::Create("webhook", "url: 'http://127.0.0.1:1/'", "udp").ok());
  EXPECT_FALSE(
      HandlerHarness::Create("webhook", "url: 'http://127.0.0.1:1/' events: CONNECT", "udp").ok());
  EXPECT_FALSE(HandlerHarness::Create("webhook", "url: 'http://127.0.0.1:1/'", "http").ok());
  EXPECT_EQ(HandlerHarness::Create("webhook", "url: 'http://127.0.0.1:1/' timeout_ms: 1", "text")
                .status()
                .message(),
            "webhook.timeout_ms must be between 10 and 600000");
  EXPECT_EQ(
      HandlerHarness::Create("webhook", "url: 'http://127.0.0.1:1/' rooms_from_path: true", "text")
          .status()
          .message(),
      "webhook.rooms_from_path needs a websocket:// service");
}

}  // namespace
}  // namespace sockman::testing
