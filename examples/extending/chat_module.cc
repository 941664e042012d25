// example_chat: a chat room per worker process, built on the public API
// alone. Every line a client sends reaches every client of the worker as
// "NICK: line"; "/nick NAME" changes the sender's nickname, kept in the
// connection's user data; a reload is announced.
//
//   module { name: "example_chat"
//            config { [type.googleapis.com/example.ChatConfig] { greeting: "hi {id}" } } }
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "examples/extending/example_modules.pb.h"
#include "handlers/api.h"

namespace example {
namespace {

using sockman::Connection;

struct Member {
  std::string nick;
};

class ChatHandler : public sockman::Handler {
 public:
  explicit ChatHandler(const ChatConfig& config) : config_(config) {}

  void OnConnect(Connection& c) override {
    std::string id = absl::StrCat(c.id());
    c.user_data() = Member{"guest" + id};
    members_.insert(&c);
    if (config_.has_greeting()) c.Send(absl::StrReplaceAll(config_.greeting(), {{"{id}", id}}));
  }

  void OnMessage(Connection& c, absl::string_view message, sockman::MessageKind kind) override {
    Member& member = std::any_cast<Member&>(c.user_data());
    if (absl::ConsumePrefix(&message, "/nick ")) {
      size_t max = config_.has_max_nick_length() ? config_.max_nick_length() : 32;
      if (message.empty() || message.size() > max) {
        c.Send(absl::StrCat("a nickname has 1 to ", max, " characters"));
        return;
      }
      std::string old = member.nick;
      member.nick = std::string(message);
      Broadcast(absl::StrCat(old, " is now ", member.nick));
      return;
    }
    Broadcast(absl::StrCat(member.nick, ": ", message));
  }

  // `sockman reload` (this service is kept as it runs unless its config changed).
  void OnWorkerReload() override { Broadcast("* the server is reloading"); }

  void OnClose(Connection& c) override {
    members_.erase(&c);
    Broadcast(absl::StrCat(std::any_cast<Member&>(c.user_data()).nick, " left"));
  }

 private:
  void Broadcast(const std::string& line) {
    for (Connection* member : members_) member->Send(line);
  }

  const ChatConfig& config_;
  absl::flat_hash_set<Connection*> members_;
};

class ChatFactory : public sockman::HandlerFactory {
 public:
  explicit ChatFactory(ChatConfig config) : config_(std::move(config)) {}
  std::unique_ptr<sockman::Handler> NewHandler(const sockman::WorkerContext&) const override {
    return std::make_unique<ChatHandler>(config_);
  }

 private:
  ChatConfig config_;
};

absl::StatusOr<std::unique_ptr<sockman::HandlerFactory>> CreateChat(
    const sockman::HandlerConfig& config) {
  ChatConfig settings;
  SOCKMAN_RETURN_IF_ERROR(sockman::ParseModuleConfig(config, &settings));
  if (settings.has_max_nick_length() &&
      (settings.max_nick_length() < 1 || settings.max_nick_length() > 256)) {
    return absl::InvalidArgumentError("max_nick_length must be between 1 and 256");
  }
  if (config.protocol.traits().request_response) {
    return absl::InvalidArgumentError("chats over text-like protocols");
  }
  return std::make_unique<ChatFactory>(std::move(settings));
}

SOCKMAN_REGISTER_HANDLER("example_chat", CreateChat);

}  // namespace
}  // namespace example
