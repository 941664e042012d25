// example_tunnel: each client gets its own outbound connection to
// `upstream`, and a Pipe joins the two (Workerman's pipe()): bytes both ways,
// backpressure both ways, and either side closing closes the other once its
// output is flushed.
//
//   module { name: "example_tunnel"
//            config { [type.googleapis.com/example.TunnelConfig] { upstream: "tcp://db:5432" } } }
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "examples/extending/example_modules.pb.h"
#include "handlers/api.h"

namespace example {
namespace {

using sockman::Connection;

class TunnelHandler;

// One client and its upstream.
struct Tunnel : public sockman::ConnectionEvents {
  Tunnel(TunnelHandler& handler, Connection& client) : handler(handler), client(&client) {}
  // The upstream connection's events.
  void OnConnect(Connection& up) override;
  void OnMessage(Connection& up, absl::string_view bytes, sockman::MessageKind kind) override {
    if (pipe) pipe->OnMessage(up, bytes, kind);
  }
  void OnBufferFull(Connection& up) override {
    if (pipe) pipe->OnBufferFull(up);
  }
  void OnBufferDrain(Connection& up) override {
    if (pipe) pipe->OnBufferDrain(up);
  }
  void OnClose(Connection& up) override;

  TunnelHandler& handler;
  Connection* client;  // null once it closed
  std::unique_ptr<sockman::AsyncTcpConnection> upstream;
  std::unique_ptr<sockman::Pipe> pipe;
  bool upstream_done = false;
};

class TunnelHandler : public sockman::Handler {
 public:
  explicit TunnelHandler(const TunnelConfig& config) : config_(config) {}

  void OnWorkerStart(const sockman::WorkerContext& worker) override { reactor_ = &worker.reactor; }

  void OnConnect(Connection& c) override {
    c.PauseRecv();  // until the upstream is there
    auto tunnel = std::make_unique<Tunnel>(*this, c);
    Tunnel* t = tunnel.get();
    c.user_data() = t;
    tunnels_[t] = std::move(tunnel);
    t->upstream = *sockman::AsyncTcpConnection::Create(*reactor_, config_.upstream(), *t);
    t->upstream->set_on_connect_failed([this, t](const absl::Status& why) {
      sockman::LogWarning(absl::StrCat("example_tunnel: ", why.message()));
      t->upstream_done = true;
      if (t->client != nullptr) t->client->Close();
      Forget(t);
    });
    t->upstream->Connect();
  }
  void OnMessage(Connection& c, absl::string_view bytes, sockman::MessageKind kind) override {
    if (Tunnel* t = Of(c); t != nullptr && t->pipe) t->pipe->OnMessage(c, bytes, kind);
  }
  void OnBufferFull(Connection& c) override {
    if (Tunnel* t = Of(c); t != nullptr && t->pipe) t->pipe->OnBufferFull(c);
  }
  void OnBufferDrain(Connection& c) override {
    if (Tunnel* t = Of(c); t != nullptr && t->pipe) t->pipe->OnBufferDrain(c);
  }
  void OnClose(Connection& c) override {
    Tunnel* t = Of(c);
    if (t == nullptr) return;
    if (t->pipe) t->pipe->OnClose(c);  // closes the upstream after its output
    t->client = nullptr;
    Forget(t);
  }

  // Frees a tunnel once neither side is open (after this loop pass).
  void Forget(Tunnel* t) {
    if (t->client != nullptr || !t->upstream_done) return;
    auto it = tunnels_.find(t);
    if (it == tunnels_.end()) return;
    reactor_->DeleteLater(std::move(it->second));
    tunnels_.erase(it);
  }

 private:
  static Tunnel* Of(Connection& c) {
    Tunnel** t = std::any_cast<Tunnel*>(&c.user_data());
    return t == nullptr ? nullptr : *t;
  }

  const TunnelConfig& config_;
  sockman::Reactor* reactor_ = nullptr;
  absl::flat_hash_map<Tunnel*, std::unique_ptr<Tunnel>> tunnels_;
};

void Tunnel::OnConnect(Connection& up) {
  if (client == nullptr) {  // the client left while we connected
    up.Close();
    return;
  }
  pipe = std::make_unique<sockman::Pipe>(*client, up);
  client->ResumeRecv();
}

void Tunnel::OnClose(Connection& up) {
  if (pipe) pipe->OnClose(up);  // closes the client after its output
  upstream_done = true;
  handler.Forget(this);
}

class TunnelFactory : public sockman::HandlerFactory {
 public:
  explicit TunnelFactory(TunnelConfig config) : config_(std::move(config)) {}
  std::unique_ptr<sockman::Handler> NewHandler(const sockman::WorkerContext&) const override {
    return std::make_unique<TunnelHandler>(config_);
  }

 private:
  TunnelConfig config_;
};

absl::StatusOr<std::unique_ptr<sockman::HandlerFactory>> CreateTunnel(
    const sockman::HandlerConfig& config) {
  TunnelConfig settings;
  SOCKMAN_RETURN_IF_ERROR(sockman::ParseModuleConfig(config, &settings));
  SOCKMAN_RETURN_IF_ERROR(sockman::AsyncTcpConnection::CheckUri(settings.upstream()));
  // Bytes as they come: a protocol without message boundaries (tcp://).
  if (config.protocol.traits().message_boundaries) {
    return absl::InvalidArgumentError("tunnels tcp:// services");
  }
  return std::make_unique<TunnelFactory>(std::move(settings));
}

SOCKMAN_REGISTER_HANDLER("example_tunnel", CreateTunnel);

}  // namespace
}  // namespace example
