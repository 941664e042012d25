// example_ticker: an outbound connection and a timer. Each worker keeps a
// connection to `upstream` (reconnecting half a second after it fails or
// closes) and sends it "tick N" every interval_ms; whatever the upstream
// answers goes to every client of the service.
//
//   module { name: "example_ticker"
//            config_text: "upstream: 'text://localhost:7000' interval_ms: 1000" }
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "examples/extending/example_modules.pb.h"
#include "handlers/api.h"

namespace example {
namespace {

using sockman::Connection;

class TickerHandler : public sockman::Handler {
 public:
  explicit TickerHandler(const TickerConfig& config) : config_(config), upstream_events_(*this) {}
  ~TickerHandler() override {
    if (reactor_ != nullptr) reactor_->CancelTimer(timer_);
  }

  void OnWorkerStart(const sockman::WorkerContext& worker) override {
    reactor_ = &worker.reactor;
    // Checked when the config was loaded.
    upstream_ =
        *sockman::AsyncTcpConnection::Create(worker.reactor, config_.upstream(), upstream_events_);
    upstream_->set_on_connect_failed([this](const absl::Status& why) {
      sockman::LogWarning(
          absl::StrCat("example_ticker: ", config_.upstream(), ": ", why.message()));
      upstream_->Reconnect(500);
    });
    upstream_->Connect();
    int64_t interval = config_.has_interval_ms() ? config_.interval_ms() : 1000;
    timer_ = worker.reactor.AddRepeatingTimer(interval, [this] {
      if (upstream_->connected()) upstream_->Send(absl::StrCat("tick ", ++ticks_));
    });
  }

  // The service's own clients.
  void OnConnect(Connection& c) override { clients_.insert(&c); }
  void OnMessage(Connection& c, absl::string_view message, sockman::MessageKind kind) override {}
  void OnClose(Connection& c) override { clients_.erase(&c); }

 private:
  // The upstream connection's events.
  class UpstreamEvents : public sockman::ConnectionEvents {
   public:
    explicit UpstreamEvents(TickerHandler& ticker) : ticker_(ticker) {}
    void OnMessage(Connection&, absl::string_view message, sockman::MessageKind kind) override {
      for (Connection* client : ticker_.clients_) client->Send(message);
    }
    void OnClose(Connection&) override { ticker_.upstream_->Reconnect(500); }

   private:
    TickerHandler& ticker_;
  };

  const TickerConfig& config_;
  UpstreamEvents upstream_events_;
  sockman::Reactor* reactor_ = nullptr;
  std::unique_ptr<sockman::AsyncTcpConnection> upstream_;
  sockman::TimerId timer_ = sockman::kNoTimer;
  uint64_t ticks_ = 0;
  absl::flat_hash_set<Connection*> clients_;
};

class TickerFactory : public sockman::HandlerFactory {
 public:
  explicit TickerFactory(TickerConfig config) : config_(std::move(config)) {}
  std::unique_ptr<sockman::Handler> NewHandler(const sockman::WorkerContext&) const override {
    return std::make_unique<TickerHandler>(config_);
  }

 private:
  TickerConfig config_;
};

absl::StatusOr<std::unique_ptr<sockman::HandlerFactory>> CreateTicker(
    const sockman::HandlerConfig& config) {
  TickerConfig settings;
  SOCKMAN_RETURN_IF_ERROR(sockman::ParseModuleConfig(config, &settings));
  if (settings.has_interval_ms() &&
      (settings.interval_ms() < 1 || settings.interval_ms() > 86'400'000)) {
    return absl::InvalidArgumentError("interval_ms must be between 1 and 86400000");
  }
  // Checked now, in the master, rather than in every worker.
  SOCKMAN_RETURN_IF_ERROR(sockman::AsyncTcpConnection::CheckUri(settings.upstream()));
  return std::make_unique<TickerFactory>(std::move(settings));
}

SOCKMAN_REGISTER_HANDLER("example_ticker", CreateTicker);

}  // namespace
}  // namespace example
