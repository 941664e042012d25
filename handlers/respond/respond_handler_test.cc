#include "handlers/respond/respond_handler.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

TEST(RespondHandlerTest, AnswersEveryRequestWithTheConfiguredResponse) {
  auto harness = HandlerHarness::Create("respond",
                                        "status: 201 body: 'made\\n' content_type: 'text/plain' "
                                        "header { name: 'X-A' value: 'b' }",
                                        "http");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  client->Send("GET /anything HTTP/1.1\r\nHost: h\r\n\r\n");
  std::string reply = client->Received();
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 201 Created\r\n")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "\r\nContent-Type: text/plain\r\n")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "\r\nX-A: b\r\n")) << reply;
  EXPECT_TRUE(absl::EndsWith(reply, "\r\n\r\nmade\n")) << reply;
  client->Send("HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  reply = client->Received();
  EXPECT_TRUE(absl::EndsWith(reply, "\r\n\r\n")) << reply;  // HEAD: no body
  EXPECT_TRUE(client->closed());
}

TEST(RespondHandlerTest, RefusesWhatItCannotDo) {
  auto text = HandlerHarness::Create("respond", "", "text");
  EXPECT_FALSE(text.ok());
  auto status = HandlerHarness::Create("respond", "status: 99", "http");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(), "status: 99 is not a final HTTP status (200-599)");
}

}  // namespace
}  // namespace sockman::testing
