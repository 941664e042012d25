#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

class PushHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto chat = HandlerHarness::Create("broadcast", "", "text", "chat");
    ASSERT_TRUE(chat.ok()) << chat.status();
    chat_ = std::move(*chat);
    auto push = HandlerHarness::Create("push", "service: 'chat' token: 's3'", "http", "api");
    ASSERT_TRUE(push.ok()) << push.status();
    push_ = std::move(*push);
  }
  // One request from a client of the push API; its whole response.
  std::string Request(const std::string& request) {
    auto client = push_->Connect();
    client->Send(request);
    std::string reply;
    push_->RunUntil([&] {
      reply += client->Received();
      return absl::StrContains(reply, "\r\n\r\n{");
    });
    return reply;
  }
  std::unique_ptr<HandlerHarness> chat_;
  std::unique_ptr<HandlerHarness> push_;
};

TEST_F(PushHandlerTest, PushesToEveryClientWithTheToken) {
  auto a = chat_->Connect();
  auto b = chat_->Connect();
  std::string reply = Request(
      "POST /all HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3\r\nContent-Length: 4\r\n\r\nnews");
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 200 ")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, R"({"delivered":2})")) << reply;
  EXPECT_EQ(a->Received(), "news\n");
  EXPECT_EQ(b->Received(), "news\n");
}

TEST_F(PushHandlerTest, RefusesWithoutTheTokenAndBadRequests) {
  std::string reply = Request("POST /all HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 401 ")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "WWW-Authenticate: Bearer")) << reply;
  reply = Request("POST /all HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 400 ")) << reply;  // nothing to push
  reply = Request(
      "POST /nowhere HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3\r\n"
      "Content-Length: 1\r\n\r\nx");
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 404 ")) << reply;
}

TEST_F(PushHandlerTest, OctetStreamIsBinaryAndTextMustBeUtf8) {
  auto browsers = HandlerHarness::Create("broadcast", "", "websocket", "chat");
  ASSERT_TRUE(browsers.ok()) << browsers.status();
  auto browser = (*browsers)->ConnectWebSocket();
  ASSERT_NE(browser, nullptr);
  std::string bytes("\xff\xfe\x00", 3);
  std::string reply = Request(
      "POST /all HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3\r\n"
      "Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\n" + bytes);
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 200 ")) << reply;
  EXPECT_EQ(browser->Received(), ServerFrame(0x82, bytes));
  reply = Request(
      "POST /all HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3\r\n"
      "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\n" + bytes);
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 400 ")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "application/octet-stream")) << reply;
  EXPECT_EQ(browser->Received(), "");
  reply = Request(
      "POST /all HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3\r\n"
      "Content-Length: 5\r\n\r\nh\xc3\xa9!!");
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 200 ")) << reply;
  EXPECT_EQ(browser->Received(), ServerFrame(0x81, "h\xc3\xa9!!"));
}

TEST(PushHandlerConfigTest, NeedsAnHttpService) {
  EXPECT_FALSE(HandlerHarness::Create("push", "service: 'chat'", "text").ok());
}

}  // namespace
}  // namespace sockman::testing
