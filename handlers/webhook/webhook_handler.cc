// webhook { url ... }: the gateway of GatewayWorker, with the application
// behind an HTTP backend. Clients get ids and rooms in the worker's Hub (so a
// push service can reach them) and their events go to the backend (see
// webhook.h).
#include "config/sockman.pb.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "handlers/webhook/webhook.h"
#include "protocols/websocket/websocket.h"

namespace sockman {
namespace {

class WebhookHandler : public Handler {
 public:
  WebhookHandler(const WebhookSettings& settings, const WorkerContext& worker)
      : settings_(settings), hub_(Hub::ForWorker(worker)), webhook_(settings, worker, hub_) {
    hub_.SetLimits(settings.limits);
  }

  // Clients are there once they can carry messages (WebSocket: after the
  // upgrade).
  void OnOpen(Connection& connection) override {
    if (settings_.datagrams) return;  // a datagram is a client at its first message
    std::string room;
    if (settings_.rooms_from_path) {
      if (const HttpRequest* request = WebSocketHandshake(connection)) {
        room = Hub::RoomFromPath(request->path);
      }
    }
    Open(connection, room);
  }
  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override {
    if (settings_.datagrams) {
      // A datagram is a client of its own until its events are answered.
      if (!hub_.Contains(connection)) {
        Open(connection, "");
        connection.Retain();
      }
    }
    webhook_.Message(connection, message, kind);
  }
  void OnClose(Connection& connection) override {
    if (!hub_.Contains(connection)) return;  // never opened
    webhook_.Closed(connection);
    hub_.Remove(connection);
  }
  std::optional<ClientDescription> DescribeClient(const Connection& connection) const override {
    if (!hub_.Contains(connection)) return std::nullopt;
    return ClientDescription{hub_.ClientId(connection), hub_.UidOf(connection),
                             hub_.GroupsOf(connection)};
  }
  void AppendMetrics(MetricSamples& samples) const override { webhook_.AppendMetrics(samples); }
  uint64_t backend_errors() const override { return webhook_.errors(); }

 private:
  void Open(Connection& connection, const std::string& room) {
    hub_.Add(connection, room);
    webhook_.Opened(connection, room);
  }

  const WebhookSettings& settings_;
  Hub& hub_;
  Webhook webhook_;
};

class WebhookFactory : public HandlerFactory {
 public:
  explicit WebhookFactory(WebhookSettings settings) : settings_(std::move(settings)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<WebhookHandler>(settings_, worker);
  }

 private:
  WebhookSettings settings_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateWebhook(const WebhookOptions& options,
                                                              const HandlerConfig& config) {
  absl::StatusOr<WebhookSettings> settings =
      ParseWebhookSettings(options, config.protocol, config.datagrams);
  if (!settings.ok()) return settings.status();
  return std::make_unique<WebhookFactory>(std::move(*settings));
}

SOCKMAN_REGISTER_HANDLER("webhook", CreateWebhook);

}  // namespace
}  // namespace sockman
