#include "protocols/testing/fake_transport.h"

#include <string>
#include <vector>

#include "engine/base/clock.h"
#include "gtest/gtest.h"
#include "protocols/text/text_protocol.h"

namespace sockman::testing {
namespace {

// Records events; echoes each message.
class Recorder : public ConnectionEvents {
 public:
  void OnConnect(Connection&) override { events.push_back("connect"); }
  void OnOpen(Connection&) override { events.push_back("open"); }
  void OnMessage(Connection& c, absl::string_view message, MessageKind) override {
    events.push_back("message " + std::string(message));
    c.Send(message);
  }
  void OnClose(Connection&) override { events.push_back("close"); }
  std::vector<std::string> events;
};

TEST(FakePeerTest, DeliversBytesAndRecordsWhatIsSent) {
  FakeClock clock;
  auto reactor = *Reactor::Create(clock);
  TextProtocol text;
  Recorder recorder;
  FakePeer peer(*reactor, text, recorder);
  peer.Send("he");
  peer.Send("llo\nsecond\n");
  EXPECT_EQ(peer.Received(), "hello\nsecond\n");
  EXPECT_EQ(peer.Received(), "");
  EXPECT_EQ(peer.connection().remote_address().Host(), "192.0.2.7");
  peer.Close();
  EXPECT_TRUE(peer.closed());
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"connect", "open", "message hello",
                                                       "message second", "close"}));
}

TEST(FakePeerTest, ServerCloseAndDrops) {
  FakeClock clock;
  auto reactor = *Reactor::Create(clock);
  TextProtocol text;
  Recorder recorder;
  FakePeer peer(*reactor, text, recorder);
  peer.transport().set_send_limit(4);
  peer.Send("toolong\n");  // the echo does not fit: dropped
  EXPECT_EQ(peer.Received(), "");
  EXPECT_EQ(peer.counters().send_failures, 1u);
  peer.connection().Close("bye");
  EXPECT_EQ(peer.Received(), "bye\n");
  EXPECT_TRUE(peer.transport().closed_gracefully());
  EXPECT_TRUE(peer.closed());
}

}  // namespace
}  // namespace sockman::testing
