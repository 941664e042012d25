#include "protocols/outbound.h"

#include <string>
#include <vector>

#include "engine/base/clock.h"
#include "engine/listener.h"
#include "gtest/gtest.h"
#include "protocols/stream_server.h"
#include "protocols/text/text_protocol.h"

namespace sockman {
namespace {

// The server side: answers each line in upper case; "quit" closes.
class Upper : public ConnectionEvents {
 public:
  void OnMessage(Connection& c, absl::string_view message, MessageKind kind) override {
    if (message == "quit") {
      c.Close();
      return;
    }
    std::string reply(message);
    for (char& ch : reply) ch = static_cast<char>(toupper(ch));
    c.Send(reply);
  }
};

// The client side: records what happens.
class Recorder : public ConnectionEvents {
 public:
  void OnConnect(Connection& c) override {
    ++connects;
    c.user_data() = std::string("mine");
  }
  void OnMessage(Connection& c, absl::string_view message, MessageKind kind) override {
    messages.emplace_back(message);
    if (const std::string* tag = std::any_cast<std::string>(&c.user_data())) last_tag = *tag;
  }
  void OnClose(Connection&) override { ++closes; }
  int connects = 0, closes = 0;
  std::vector<std::string> messages;
  std::string last_tag;
};

class OutboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    ListenOptions listen;
    listen.address = *SocketAddress::Parse("127.0.0.1", 0);
    listen_fd_ = *BindTcpListener(listen);
    port_ = SocketAddress::LocalOf(listen_fd_.get())->port();
    StreamServerOptions options;
    options.protocol = &protocol_;
    server_ = *StreamServer::Create(*reactor_, listen_fd_.get(), options, upper_);
  }
  template <typename Done>
  void RunUntil(Done done) {
    for (int i = 0; i < 1000 && !done(); ++i) reactor_->RunOnce(5);
    ASSERT_TRUE(done());
  }

  TextProtocol protocol_;
  Upper upper_;
  std::unique_ptr<Reactor> reactor_;
  UniqueFd listen_fd_;
  uint16_t port_ = 0;
  std::unique_ptr<StreamServer> server_;
};

TEST_F(OutboundTest, ConnectsByNameExchangesAndReconnects) {
  Recorder recorder;
  auto client =
      *AsyncTcpConnection::Create(*reactor_, "text://localhost:" + std::to_string(port_), recorder);
  EXPECT_FALSE(client->Send("early"));  // not connected yet
  client->Connect();
  RunUntil([&] { return recorder.connects == 1; });
  EXPECT_TRUE(client->Send("hello"));
  RunUntil([&] { return recorder.messages.size() == 1; });
  EXPECT_EQ(recorder.messages[0], "HELLO");
  EXPECT_EQ(recorder.last_tag, "mine");

  // The server closes it; the client reconnects from OnClose's aftermath.
  client->Send("quit");
  RunUntil([&] { return recorder.closes == 1; });
  EXPECT_FALSE(client->connected());
  client->Reconnect(10);
  RunUntil([&] { return recorder.connects == 2; });
  client->Send("again");
  RunUntil([&] { return recorder.messages.size() == 2; });
  EXPECT_EQ(recorder.messages[1], "AGAIN");
  EXPECT_EQ(client->connects(), 2u);
}

TEST_F(OutboundTest, ReportsFailedConnects) {
  listen_fd_.reset();  // nobody listens any more
  server_.reset();
  Recorder recorder;
  auto client =
      *AsyncTcpConnection::Create(*reactor_, "text://127.0.0.1:" + std::to_string(port_), recorder);
  absl::Status failure;
  int failures = 0;
  client->set_on_connect_failed([&](const absl::Status& why) {
    failure = why;
    ++failures;
  });
  client->Connect();
  RunUntil([&] { return failures == 1; });
  EXPECT_FALSE(failure.ok());
  EXPECT_EQ(recorder.connects, 0);
}

TEST_F(OutboundTest, DestroyingItClosesWithoutCallbacks) {
  Recorder recorder;
  auto client =
      *AsyncTcpConnection::Create(*reactor_, "text://127.0.0.1:" + std::to_string(port_), recorder);
  client->Connect();
  RunUntil([&] { return recorder.connects == 1; });
  client.reset();
  for (int i = 0; i < 10; ++i) reactor_->RunOnce(5);
  EXPECT_EQ(recorder.closes, 0);
}

TEST(OutboundUriTest, RefusesWhatItCannotConnectTo) {
  auto reactor = *Reactor::Create(SystemClock());
  Recorder recorder;
  for (const char* uri : {"text://host", "text://:80", "nope://h:1", "text://h:0", "h:1"}) {
    EXPECT_FALSE(AsyncTcpConnection::Create(*reactor, uri, recorder).ok()) << uri;
  }
}

}  // namespace
}  // namespace sockman
