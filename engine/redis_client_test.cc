#include "engine/redis_client.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t n = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

// A real redis-server (./bazelw installs it), in the foreground, no persistence.
class RedisServer {
 public:
  explicit RedisServer(uint16_t port) : port_(port) { Start(); }
  ~RedisServer() { Stop(); }
  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::string port = absl::StrCat(port_);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--loglevel", "warning", nullptr);
      _exit(127);
    }
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  uint16_t port_;
  pid_t pid_ = 0;
};

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    port_ = FreePort();
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
  redis.Command({"SET", "k", "v a l"}, [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"GET", "k"}, [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"SADD", "s", "a", "b"}, [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"SMEMBERS", "s"}, [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
  redis.Command({"NOSUCHCOMMAND"}, [&](const RedisValue* r) { replies.push_back(r ? *r : RedisValue{}); });
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
  server_->Stop();
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
