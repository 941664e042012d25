// broadcast { exclude_sender template rooms_from_path notify_join notify_leave
// webhook }: every message a client sends reaches every client of the service
// in every worker (or of its room), through the worker's Hub; with a webhook,
// a backend hears of every event too (see handlers/webhook/webhook.h).
#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "config/sockman.pb.h"
#include "engine/shared_buckets.h"
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
  Hub::ClientLimits limits;
  // group_rate_limit: buckets per group, shared by the workers (null: none).
  std::shared_ptr<SharedBuckets> group_buckets;
  double group_rate = 0;
  double group_burst = 0;
};

class BroadcastHandler : public Handler {
 public:
  BroadcastHandler(const BroadcastSettings& settings, const WorkerContext& worker)
      : settings_(settings), service_(worker.service), hub_(Hub::ForWorker(worker)) {
    hub_.SetLimits(settings.limits);
    if (settings.webhook) webhook_ = std::make_unique<Webhook>(*settings.webhook, worker, hub_);
  }

  // Clients join once they can carry messages: WebSocket clients after the
  // upgrade (their path may name the initial group), others at once, in the
  // default group "".
  void OnOpen(Connection& connection) override {
    std::string group;
    if (settings_.rooms_from_path) {
      if (const HttpRequest* request = WebSocketHandshake(connection)) {
        group = Hub::RoomFromPath(request->path);
      }
    }
    hub_.Add(connection, group);
    Notify(settings_.notify_join, connection, {group});
    if (webhook_) webhook_->Opened(connection, group);
  }

  // A client's message reaches every client of its groups (each once): the
  // one its path named, the default group, or those a backend or the push
  // API put it in. A client in no group reaches nobody.
  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override {
    if (!hub_.Contains(connection)) return;  // not open (cannot happen after a handshake)
    std::vector<std::string> groups = hub_.GroupsOf(connection);
    if (!groups.empty()) {
      // The sender's id only when it is used (the common "{message}" is a copy).
      std::string id = settings_.exclude_sender || settings_.format != "{message}"
                           ? hub_.ClientId(connection)
                           : std::string();
      std::string rendered = Render(settings_.format, id, absl::StrJoin(groups, ","), message);
      if (settings_.group_buckets != nullptr) {
        // Each group takes a token; a group out of them does not get this one.
        int64_t now = connection.reactor().NowMs();
        std::erase_if(groups, [&](const std::string& group) {
          bool refused = settings_.group_buckets->Take(
                             NameKey("g:" + group), SharedBuckets::kMessages, settings_.group_rate,
                             settings_.group_burst, 1, now, false) < 0;
          group_rate_dropped_ += refused;
          return refused;
        });
      }
      std::vector<std::string> exclude;
      if (settings_.exclude_sender) exclude.push_back(id);
      if (!groups.empty()) {
        hub_.Publish(service_, {Hub::Scope::kGroup, std::move(groups)}, rendered, kind, exclude);
      }
    }
    if (webhook_) webhook_->Message(connection, message, kind);
  }

  void OnClose(Connection& connection) override {
    if (!hub_.Contains(connection)) return;
    std::vector<std::string> groups = hub_.GroupsOf(connection);
    if (webhook_) webhook_->Closed(connection);
    hub_.Remove(connection);
    Notify(settings_.notify_leave, connection, groups);
  }

 private:
  static std::string Render(const std::string& format, const std::string& client_id,
                            const std::string& room, absl::string_view message) {
    if (format == "{message}") return std::string(message);
    return absl::StrReplaceAll(
        format, {{"{client_id}", client_id}, {"{room}", room}, {"{message}", message}});
  }
  // A join or leave notice to `groups`.
  void Notify(const std::string& format, Connection& connection, std::vector<std::string> groups) {
    if (format.empty() || groups.empty()) return;
    std::string text = Render(format, hub_.ClientId(connection), absl::StrJoin(groups, ","), "");
    hub_.Publish(service_, {Hub::Scope::kGroup, std::move(groups)}, text, MessageKind::kText);
  }
  std::optional<ClientDescription> DescribeClient(const Connection& connection) const override {
    if (!hub_.Contains(connection)) return std::nullopt;
    return ClientDescription{hub_.ClientId(connection), hub_.UidOf(connection),
                             hub_.GroupsOf(connection)};
  }
  void AppendMetrics(MetricSamples& samples) const override {
    if (settings_.group_buckets != nullptr) {
      samples.Counter("sockman_group_rate_limited", group_rate_dropped_);
    }
    if (webhook_) webhook_->AppendMetrics(samples);
  }
  uint64_t backend_errors() const override { return webhook_ ? webhook_->errors() : 0; }

  const BroadcastSettings& settings_;
  std::string service_;
  Hub& hub_;
  std::unique_ptr<Webhook> webhook_;
  uint64_t group_rate_dropped_ = 0;  // publications a group_rate_limit withheld
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
  if (config.datagrams) {
    return absl::InvalidArgumentError(
        "broadcasts to connected clients; a UDP service has none (use transport: TCP)");
  }
  BroadcastSettings settings;
  if (options.rooms_from_path() && !config.protocol.traits().handshake) {
    return absl::InvalidArgumentError("rooms_from_path needs a websocket:// service");
  }
  absl::StatusOr<Hub::ClientLimits> limits = Hub::LimitsFrom(options);
  if (!limits.ok()) return limits.status();
  settings.limits = *limits;
  if (options.webhook().has_max_groups_per_client() || options.webhook().has_max_session_size()) {
    return absl::InvalidArgumentError(
        "webhook: set max_groups_per_client and max_session_size on broadcast itself");
  }
  settings.exclude_sender = options.exclude_sender();
  if (options.has_template_()) settings.format = options.template_();
  settings.rooms_from_path = options.rooms_from_path();
  settings.notify_join = options.notify_join();
  settings.notify_leave = options.notify_leave();
  if (options.has_group_rate_limit()) {
    const GroupRateLimit& group = options.group_rate_limit();
    double rate = group.messages_per_second();
    if (!(rate > 0 && rate <= 1e6)) {
      return absl::InvalidArgumentError(
          "group_rate_limit.messages_per_second must be above 0 and at most 1000000");
    }
    if (group.has_burst() && group.burst() < 1) {
      return absl::InvalidArgumentError("group_rate_limit.burst must be at least 1");
    }
    // Mapped here, in the master before fork: every worker shares the buckets.
    absl::StatusOr<std::shared_ptr<SharedBuckets>> buckets = SharedBuckets::Create();
    if (!buckets.ok()) return buckets.status();
    settings.group_buckets = std::move(*buckets);
    settings.group_rate = rate;
    settings.group_burst = group.has_burst() ? group.burst() : std::max(1.0, std::ceil(rate));
  }
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
