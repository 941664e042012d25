// RedisClient: one connection to a Redis server, driven by the reactor
// (hiredis parses the replies and formats the commands; sockman does the
// I/O). It connects in the background and reconnects with backoff when the
// connection fails or drops, logging each change once; commands issued while
// disconnected are answered with nullptr at once, so callers never wait on a
// dead server.
//
//   RedisClient redis(reactor, address, "cluster");
//   redis.Start();
//   redis.Command({"SADD", "key", "member"});
//   redis.Command({"SMEMBERS", "key"}, [](const RedisValue* v) { ... });
//
// A client that Subscribe()s is in subscriber mode and takes no other
// commands (use a second client); it re-subscribes after every reconnect.
#ifndef SOCKMAN_ENGINE_REDIS_CLIENT_H_
#define SOCKMAN_ENGINE_REDIS_CLIENT_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/connector.h"
#include "engine/reactor.h"
#include "engine/tcp_connection.h"

struct redisReader;

namespace sockman {

struct RedisValue {
  enum Type { kString, kArray, kInteger, kNil, kStatus, kError } type = kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisValue> elements;
};

// Blocking: connects to `address`, sends PING and waits for +PONG, each step
// within `timeout_ms` (for a master's start-up check, never on a loop).
// Errors say which step failed.
absl::Status PingRedis(const SocketAddress& address, int64_t timeout_ms);

class RedisClient : private PeerTransport::Delegate {
 public:
  using Done = std::function<void(const RedisValue* reply)>;  // nullptr: not sent / lost
  using OnMessage = std::function<void(const std::string& channel, const std::string& payload)>;

  RedisClient(Reactor& reactor, SocketAddress address, std::string name);
  ~RedisClient() override;

  // Connects now and keeps connected.
  void Start();
  bool connected() const { return connection_ != nullptr && connection_->open() && ready_; }

  // Runs after every (re)connection, before queued work: state the server
  // may have lost (it restarted) can be written again.
  void SetOnConnected(std::function<void()> on_connected) {
    on_connected_ = std::move(on_connected);
  }

  void Command(const std::vector<std::string>& args, Done done = nullptr);
  void Subscribe(const std::string& channel, OnMessage on_message);

 private:
  void Connect();
  void Connected(UniqueFd fd);
  void Lost(const std::string& why);
  void Send(const std::vector<std::string>& args);
  void OnData(PeerTransport& transport, Buffer& input) override;
  void OnClosed(PeerTransport& transport) override;
  void Deliver(const RedisValue& value);

  Reactor& reactor_;
  SocketAddress address_;
  std::string name_;
  std::unique_ptr<Connector> connector_;
  std::unique_ptr<TcpConnection> connection_;
  redisReader* reader_ = nullptr;
  bool ready_ = false;
  bool started_ = false;
  bool was_connected_ = false;
  int64_t backoff_ms_ = 0;
  TimerId retry_timer_ = kNoTimer;
  std::deque<Done> waiting_;  // one per command sent, in order
  std::vector<std::string> channels_;
  OnMessage on_message_;
  std::function<void()> on_connected_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_REDIS_CLIENT_H_
