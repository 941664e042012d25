// broadcast { exclude_sender template rooms_from_path notify_join notify_leave
// webhook }: every message a client sends reaches every client of the service
// in every worker (or of its room), through the worker's Hub; with a webhook,
// a backend hears of every event too (see handlers/webhook/webhook.h).
#include <optional>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "config/sockman.pb.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "handlers/webhook/webhook.h"
#include "protocols/websocket/websocket.h"

namespace sockman {
namespace {

struct BroadcastSettings {
  bool exclude_sender = false;
  std::string format = "{message}";
  bool rooms_from_path = false;
  std::string notify_join;
  std::string notify_leave;
  std::optional<WebhookSettings> webhook;
};

class BroadcastHandler : public Handler {
 public:
  BroadcastHandler(const BroadcastSettings& settings, const WorkerContext& worker)
      : settings_(settings), service_(worker.service), hub_(Hub::ForWorker(worker)) {
    if (settings.webhook) webhook_ = std::make_unique<Webhook>(*settings.webhook, worker, hub_);
  }

  // Clients join once they can carry messages: WebSocket clients after the
  // upgrade (their path may name the room), others at once.
  void OnOpen(Connection& connection) override {
    std::string room;
    if (settings_.rooms_from_path) {
      if (const HttpRequest* request = WebSocketHandshake(connection)) {
        room = Hub::RoomFromPath(request->path);
      }
    }
    Join(connection, room);
  }

  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override {
    const std::string* room = hub_.RoomOf(connection);
    if (room == nullptr) return;  // not joined (cannot happen after a handshake)
    // The sender's id only when it is used (the common "{message}" is a copy).
    std::string id = settings_.exclude_sender || settings_.format != "{message}"
                         ? hub_.ClientId(connection)
                         : std::string();
    hub_.Publish(service_, Target(*room), Render(settings_.format, id, *room, message), kind,
                 settings_.exclude_sender ? id : "");
    if (webhook_) webhook_->Message(connection, message, kind);
  }

  void OnClose(Connection& connection) override {
    const std::string* joined = hub_.RoomOf(connection);
    if (joined == nullptr) return;
    std::string room = *joined;
    if (webhook_) webhook_->Closed(connection);
    hub_.Leave(connection);
    if (!settings_.notify_leave.empty()) {
      hub_.Publish(service_, Target(room),
                   Render(settings_.notify_leave, hub_.ClientId(connection), room, ""),
                   MessageKind::kText);
    }
  }

 private:
  // A client's messages go to its room: the one its path named, or one a
  // webhook reply moved it to; else to everyone.
  Hub::Target Target(const std::string& room) const {
    if (!settings_.rooms_from_path && room.empty()) return {Hub::Scope::kAll, ""};
    return {Hub::Scope::kRoom, room};
  }
  static std::string Render(const std::string& format, const std::string& client_id,
                            const std::string& room, absl::string_view message) {
    if (format == "{message}") return std::string(message);
    return absl::StrReplaceAll(
        format, {{"{client_id}", client_id}, {"{room}", room}, {"{message}", message}});
  }
  void Join(Connection& connection, const std::string& room) {
    hub_.Join(connection, room);
    if (!settings_.notify_join.empty()) {
      hub_.Publish(service_, Target(room),
                   Render(settings_.notify_join, hub_.ClientId(connection), room, ""),
                   MessageKind::kText);
    }
    if (webhook_) webhook_->Opened(connection, room);
  }
  uint64_t backend_errors() const override { return webhook_ ? webhook_->errors() : 0; }

  const BroadcastSettings& settings_;
  std::string service_;
  Hub& hub_;
  std::unique_ptr<Webhook> webhook_;
};

class BroadcastFactory : public HandlerFactory {
 public:
  explicit BroadcastFactory(BroadcastSettings settings) : settings_(std::move(settings)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<BroadcastHandler>(settings_, worker);
  }

 private:
  BroadcastSettings settings_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateBroadcast(const BroadcastOptions& options,
                                                                const HandlerConfig& config) {
  if (config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        "broadcasts to text, frame, tcp and websocket clients, not http (see push)");
  }
  BroadcastSettings settings;
  if (options.rooms_from_path() && !config.protocol.traits().handshake) {
    return absl::InvalidArgumentError("rooms_from_path needs a websocket:// service");
  }
  settings.exclude_sender = options.exclude_sender();
  if (options.has_template_()) settings.format = options.template_();
  settings.rooms_from_path = options.rooms_from_path();
  settings.notify_join = options.notify_join();
  settings.notify_leave = options.notify_leave();
  if (options.has_webhook()) {
    absl::StatusOr<WebhookSettings> webhook =
        ParseWebhookSettings(options.webhook(), config.protocol);
    if (!webhook.ok()) return webhook.status();
    settings.webhook = std::move(*webhook);
  }
  return std::make_unique<BroadcastFactory>(std::move(settings));
}

SOCKMAN_REGISTER_HANDLER("broadcast", CreateBroadcast);

}  // namespace
}  // namespace sockman
