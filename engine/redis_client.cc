#include "engine/redis_client.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace sockman {
namespace {

constexpr int64_t kConnectTimeoutMs = 2000;
constexpr int64_t kMaxBackoffMs = 5000;

RedisValue Convert(const redisReply* reply) {
  RedisValue value;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      value.type = RedisValue::kString;
      value.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = RedisValue::kStatus;
      value.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      value.type = RedisValue::kError;
      value.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::kInteger;
      value.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::kArray;
      for (size_t i = 0; i < reply->elements; ++i) {
        value.elements.push_back(Convert(reply->element[i]));
      }
      break;
    default:
      value.type = RedisValue::kNil;
  }
  return value;
}

ConnectionLimits RedisLimits() {
  ConnectionLimits limits;
  limits.max_package_size = 512u << 20;
  limits.max_send_buffer_size = 64u << 20;
  return limits;
}

}  // namespace

RedisClient::RedisClient(Reactor& reactor, SocketAddress address, std::string name)
    : reactor_(reactor), address_(address), name_(std::move(name)) {}

RedisClient::~RedisClient() {
  reactor_.CancelTimer(retry_timer_);
  connector_.reset();
  if (connection_) {
    auto connection = std::move(connection_);
    connection->Destroy();  // OnClosed finds no connection_ and does nothing
  }
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void RedisClient::Start() {
  if (started_) return;
  started_ = true;
  Connect();
}

void RedisClient::Connect() {
  connector_ = Connector::Connect(reactor_, address_, kConnectTimeoutMs,
                                  [this](absl::StatusOr<UniqueFd> fd) {
                                    connector_.reset();
                                    if (!fd.ok()) {
                                      Lost(std::string(fd.status().message()));
                                    } else {
                                      Connected(std::move(*fd));
                                    }
                                  });
}

void RedisClient::Connected(UniqueFd fd) {
  auto connection = TcpConnection::Create(reactor_, std::move(fd), address_, RedisLimits(), this);
  if (!connection.ok()) {
    Lost(std::string(connection.status().message()));
    return;
  }
  connection_ = std::move(*connection);
  if (reader_ != nullptr) redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  ready_ = true;
  backoff_ms_ = 0;
  LogInfo(absl::StrCat("redis ", name_, ": connected to ", address_.ToString()));
  was_connected_ = true;
  if (!channels_.empty()) {
    std::vector<std::string> args = {"SUBSCRIBE"};
    args.insert(args.end(), channels_.begin(), channels_.end());
    Send(args);
  }
  if (on_connected_) on_connected_();
}

void RedisClient::Lost(const std::string& why) {
  ready_ = false;
  // Whatever was waiting for an answer will not get one.
  std::deque<Done> waiting = std::move(waiting_);
  waiting_.clear();
  for (Done& done : waiting) {
    if (done) done(nullptr);
  }
  backoff_ms_ = backoff_ms_ == 0 ? 100 : std::min(kMaxBackoffMs, backoff_ms_ * 2);
  if (was_connected_ || backoff_ms_ == 100) {
    LogWarning(absl::StrCat("redis ", name_, ": ", why, "; retrying (every ", kMaxBackoffMs / 1000,
                            " s at most); local delivery goes on"));
    was_connected_ = false;
  }
  reactor_.CancelTimer(retry_timer_);
  retry_timer_ = reactor_.AddTimer(backoff_ms_, [this] {
    retry_timer_ = kNoTimer;
    Connect();
  });
}

void RedisClient::Send(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* command = nullptr;
  int size =
      redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (size > 0) connection_->Send(absl::string_view(command, static_cast<size_t>(size)));
  if (command != nullptr) redisFreeCommand(command);
}

void RedisClient::Command(const std::vector<std::string>& args, Done done) {
  if (!connected() || !channels_.empty()) {
    if (done) done(nullptr);
    return;
  }
  waiting_.push_back(std::move(done));
  Send(args);
}

void RedisClient::Subscribe(const std::string& channel, OnMessage on_message) {
  channels_.push_back(channel);
  on_message_ = std::move(on_message);
  if (connected()) Send({"SUBSCRIBE", channel});
}

void RedisClient::OnData(PeerTransport& transport, Buffer& input) {
  redisReaderFeed(reader_, input.data(), input.size());
  input.Consume(input.size());
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      transport.Destroy();  // not Redis speaking
      return;
    }
    if (raw == nullptr) return;
    RedisValue value = Convert(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    Deliver(value);
    if (!transport.open()) return;
  }
}

void RedisClient::Deliver(const RedisValue& value) {
  if (!channels_.empty()) {
    // Subscriber mode: ["message", channel, payload] pushes, and
    // ["subscribe", channel, count] confirmations.
    if (value.type == RedisValue::kArray && value.elements.size() == 3 &&
        value.elements[0].str == "message" && on_message_) {
      on_message_(value.elements[1].str, value.elements[2].str);
    }
    return;
  }
  if (waiting_.empty()) return;
  Done done = std::move(waiting_.front());
  waiting_.pop_front();
  if (done) done(&value);
}

void RedisClient::OnClosed(PeerTransport& transport) {
  if (connection_ == nullptr || connection_.get() != &transport) return;
  reactor_.DeleteLater(std::move(connection_));
  Lost("connection closed");
}

absl::Status PingRedis(const SocketAddress& address, int64_t timeout_ms) {
  absl::StatusOr<UniqueFd> fd = ConnectBlocking(address, timeout_ms);
  if (!fd.ok()) return fd.status();
  constexpr char kPing[] = "*1\r\n$4\r\nPING\r\n";
  if (::send(fd->get(), kPing, sizeof(kPing) - 1, MSG_NOSIGNAL) != sizeof(kPing) - 1) {
    return absl::ErrnoToStatus(errno, "send");
  }
  pollfd p{fd->get(), POLLIN, 0};
  char reply[64] = {};
  if (::poll(&p, 1, static_cast<int>(timeout_ms)) <= 0 ||
      ::recv(fd->get(), reply, sizeof(reply) - 1, 0) <= 0) {
    return absl::UnavailableError("no answer to PING");
  }
  if (!absl::StartsWith(reply, "+PONG")) {
    return absl::UnavailableError(
        absl::StrCat("PING answered '", absl::StripAsciiWhitespace(reply), "'"));
  }
  return absl::OkStatus();
}

}  // namespace sockman
