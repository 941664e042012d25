#include "engine/redis_client.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

using testing::RedisServer;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    port_ = testing::FreeLoopbackPort();
    server_ = std::make_unique<RedisServer>(port_);
  }
  bool RunUntil(const std::function<bool()>& done, int64_t ms = 10'000) {
    int64_t deadline = SystemClock().NowMs() + ms;
    while (!done() && SystemClock().NowMs() < deadline) reactor_->RunOnce(10);
    return done();
  }
  SocketAddress Address() { return *SocketAddress::Parse("127.0.0.1", port_); }

  std::unique_ptr<Reactor> reactor_;
  uint16_t port_ = 0;
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisClientTest, CommandsAnswerInOrder) {
  RedisClient redis(*reactor_, Address(), "test");
  redis.Start();
  ASSERT_TRUE(RunUntil([&] { return redis.connected(); }));
  std::vector<RedisValue> replies;
  redis.Command({"SET", "k", "v a l"},
                [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"GET", "k"},
                [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"SADD", "s", "a", "b"},
                [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"SMEMBERS", "s"},
                [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"NOSUCHCOMMAND"},
                [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  ASSERT_TRUE(RunUntil([&] { return replies.size() == 5; }));
  EXPECT_EQ(replies[0].type, RedisValue::kStatus);
  EXPECT_EQ(replies[1].str, "v a l");
  EXPECT_EQ(replies[2].integer, 2);
  EXPECT_EQ(replies[3].type, RedisValue::kArray);
  EXPECT_EQ(replies[3].elements.size(), 2u);
  EXPECT_EQ(replies[4].type, RedisValue::kError);
}

TEST_F(RedisClientTest, PubSubAndReconnectAfterARestart) {
  RedisClient publisher(*reactor_, Address(), "pub");
  RedisClient subscriber(*reactor_, Address(), "sub");
  int connects = 0;
  publisher.SetOnConnected([&] { ++connects; });
  std::vector<std::string> got;
  subscriber.Subscribe("news", [&](const std::string& channel, const std::string& payload) {
    got.push_back(channel + ":" + payload);
  });
  publisher.Start();
  subscriber.Start();
  ASSERT_TRUE(RunUntil([&] { return publisher.connected() && subscriber.connected(); }));
  // Subscribing takes a round trip: publish until it is heard.
  ASSERT_TRUE(RunUntil([&] {
    publisher.Command({"PUBLISH", "news", "one"});
    reactor_->RunOnce(20);
    return !got.empty();
  }));
  EXPECT_EQ(got[0], "news:one");

  // The server dies: commands are answered with nullptr at once, not queued.
  server_->Kill();
  ASSERT_TRUE(RunUntil([&] { return !publisher.connected(); }));
  bool lost = false;
  publisher.Command({"PING"}, [&](const RedisValue* r) { lost = r == nullptr; });
  ASSERT_TRUE(RunUntil([&] { return lost; }, 1000));

  // It comes back: both reconnect (the subscriber re-subscribes).
  server_->Start();
  ASSERT_TRUE(RunUntil([&] { return publisher.connected() && subscriber.connected(); }, 20'000));
  EXPECT_EQ(connects, 2);
  got.clear();
  ASSERT_TRUE(RunUntil([&] {
    publisher.Command({"PUBLISH", "news", "two"});
    reactor_->RunOnce(20);
    return !got.empty();
  }));
  EXPECT_EQ(got[0], "news:two");
}

}  // namespace
}  // namespace sockman
