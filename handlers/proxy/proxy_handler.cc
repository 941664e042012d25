// proxy { upstream connect_timeout_ms }: each client connection gets its own
// connection to an upstream (round-robin over `upstream`; a failed connect
// tries the next). Bytes (tcp) or messages (text, frame: decoded, then
// encoded again on the other side) flow both ways with Workerman's pipe()
// backpressure: while one side's send buffer is full, the other side is not
// read. Either side closing closes the other once its output is flushed.
// WebSocket services bridge to a plain TCP upstream (websockify): message
// payloads go up as bytes, upstream bytes come down as binary messages.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "config/sockman.pb.h"
#include "engine/connector.h"
#include "engine/resolver.h"
#include "engine/tcp_connection.h"
#include "handlers/handler.h"
#include "protocols/tcp/tcp_protocol.h"
#include "protocols/websocket/websocket.h"

namespace sockman {
namespace {

struct Upstream {
  std::string host;
  uint16_t port = 0;
  std::string text;  // as configured, for logs
};

absl::StatusOr<Upstream> ParseUpstream(const std::string& uri) {
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, "tcp://")) {
    return absl::InvalidArgumentError(absl::StrCat("upstream '", uri, "' must be tcp://HOST:PORT"));
  }
  size_t colon = rest.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("upstream '", uri, "' needs a port 1-65535"));
  }
  absl::string_view host = rest.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) host = host.substr(1, host.size() - 2);
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat("upstream '", uri, "' has no host"));
  return Upstream{std::string(host), static_cast<uint16_t>(port), uri};
}

struct ProxySettings {
  std::vector<Upstream> upstreams;
  int64_t connect_timeout_ms = 3000;
};

class ProxyHandler;

// One client and its upstream.
class Session : public PeerTransport::Delegate {
 public:
  Session(ProxyHandler& handler, Connection& client) : handler_(handler), client_(client) {}
  ~Session() override;
  void Start(size_t first_upstream);
  // From the client.
  void FromClient(absl::string_view message);
  void ClientFull() {
    if (upstream_) upstream_->PauseRecv();
  }
  void ClientDrained() {
    if (upstream_) upstream_->ResumeRecv();
  }
  // The client is gone; true when the session can be freed now (else the
  // upstream is still flushing, and OnClosed releases it).
  bool ClientClosed();

 private:
  void Attempt();
  void Connected(UniqueFd fd);
  void Failed(const std::string& why);
  // PeerTransport::Delegate, for the upstream.
  void OnData(PeerTransport& upstream, Buffer& input) override;
  void OnBufferFull(PeerTransport&) override {
    if (client_open_) client_.PauseRecv();
  }
  void OnBufferDrain(PeerTransport&) override {
    if (client_open_) client_.ResumeRecv();
  }
  void OnClosed(PeerTransport& upstream) override;

  ProxyHandler& handler_;
  Connection& client_;
  bool client_open_ = true;
  size_t next_ = 0;
  size_t attempts_ = 0;
  std::unique_ptr<Connector> connector_;
  std::unique_ptr<TcpConnection> upstream_;
  std::unique_ptr<Codec> codec_;  // the service's protocol, on the upstream side
  std::string encoded_;
};

class ProxyHandler : public Handler {
 public:
  ProxyHandler(const ProxySettings& settings, const WorkerContext& worker)
      : settings_(settings), reactor_(worker.reactor) {}

  void OnConnect(Connection& connection) override {
    if (websocket_) return;  // once the upgrade is accepted
    Begin(connection);
  }
  void OnHandshake(Connection& connection) override { Begin(connection); }
  void Begin(Connection& connection) {
    connection.PauseRecv();  // until the upstream is there
    auto session = std::make_unique<Session>(*this, connection);
    Session* raw = session.get();
    sessions_[connection.id()] = std::move(session);
    raw->Start(next_upstream_++ % settings_.upstreams.size());
  }
  void OnMessage(Connection& connection, absl::string_view message) override {
    if (Session* s = Find(connection)) s->FromClient(message);
  }
  void OnBufferFull(Connection& connection) override {
    if (Session* s = Find(connection)) s->ClientFull();
  }
  void OnBufferDrain(Connection& connection) override {
    if (Session* s = Find(connection)) s->ClientDrained();
  }
  void OnClose(Connection& connection) override {
    auto it = sessions_.find(connection.id());
    if (it == sessions_.end()) return;
    std::unique_ptr<Session> session = std::move(it->second);
    sessions_.erase(it);
    Session* raw = session.get();
    if (raw->ClientClosed()) {
      reactor_.DeleteLater(std::move(session));
    } else {
      flushing_[raw] = std::move(session);  // until its upstream has flushed
    }
  }
  // A session whose client left is done with its upstream too.
  void Release(Session* session) {
    auto it = flushing_.find(session);
    if (it == flushing_.end()) return;
    reactor_.DeleteLater(std::move(it->second));
    flushing_.erase(it);
  }

  const ProxySettings& settings() const { return settings_; }
  Reactor& reactor() { return reactor_; }
  Resolver* resolver() {
    if (resolver_ == nullptr) {
      auto created = Resolver::Create(reactor_);
      if (created.ok()) resolver_ = std::move(*created);
    }
    return resolver_.get();
  }
  Protocol const* protocol = nullptr;
  CodecOptions codec_options;
  bool websocket_ = false;  // bridge: bytes upstream, binary messages down

 private:
  Session* Find(Connection& connection) {
    auto it = sessions_.find(connection.id());
    return it == sessions_.end() ? nullptr : it->second.get();
  }

  const ProxySettings& settings_;
  Reactor& reactor_;
  std::unique_ptr<Resolver> resolver_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Session>> sessions_;
  absl::flat_hash_map<Session*, std::unique_ptr<Session>> flushing_;
  size_t next_upstream_ = 0;
};

Session::~Session() {
  connector_.reset();
  if (upstream_) {
    auto upstream = std::move(upstream_);
    upstream->Destroy();  // OnClosed sees no upstream_ and does nothing
    handler_.reactor().DeleteLater(std::move(upstream));
  }
}

void Session::Start(size_t first_upstream) {
  next_ = first_upstream;
  Attempt();
}

void Session::Attempt() {
  const auto& upstreams = handler_.settings().upstreams;
  if (attempts_++ >= upstreams.size()) {
    Failed("no upstream reachable");
    return;
  }
  const Upstream& upstream = upstreams[next_++ % upstreams.size()];
  Resolver* resolver = handler_.resolver();
  if (resolver == nullptr) {
    Failed("no resolver");
    return;
  }
  resolver->Resolve(upstream.host, upstream.port,
                    [this, text = upstream.text](absl::StatusOr<std::vector<SocketAddress>> addresses) {
    if (!client_open_) return;
    if (!addresses.ok() || addresses->empty()) {
      LogWarning(absl::StrCat("proxy: ", text, ": ", addresses.status().message()));
      Attempt();
      return;
    }
    connector_ = Connector::Connect(handler_.reactor(), addresses->front(),
                                    handler_.settings().connect_timeout_ms,
                                    [this, text](absl::StatusOr<UniqueFd> fd) {
      connector_.reset();  // safe: the Connector touches nothing after calling us
      if (!client_open_) return;
      if (!fd.ok()) {
        LogWarning(absl::StrCat("proxy: ", text, ": ", fd.status().message()));
        Attempt();
        return;
      }
      Connected(std::move(*fd));
    });
  });
}

void Session::Connected(UniqueFd fd) {
  ConnectionLimits limits;
  limits.max_package_size = handler_.codec_options.max_package_size;
  auto upstream = TcpConnection::Create(handler_.reactor(), std::move(fd), SocketAddress(), limits, this);
  if (!upstream.ok()) {
    Failed(std::string(upstream.status().message()));
    return;
  }
  upstream_ = std::move(*upstream);
  codec_ = handler_.websocket_ ? std::make_unique<RawCodec>()
                               : handler_.protocol->NewCodec(handler_.codec_options);
  client_.ResumeRecv();
}

void Session::Failed(const std::string& why) {
  LogWarning(absl::StrCat("proxy: connection ", client_.id(), ": ", why, "; closing it"));
  client_.Close();
}

void Session::FromClient(absl::string_view message) {
  if (!upstream_ || !upstream_->open()) return;
  encoded_.clear();
  codec_->Encode(message, encoded_);
  upstream_->Send(encoded_);
  if (encoded_.capacity() > (1u << 20)) std::string().swap(encoded_);
}

void Session::OnData(PeerTransport& upstream, Buffer& input) {
  if (!client_open_) {
    input.Consume(input.size());  // nobody to give it to
    return;
  }
  while (upstream.open() && !upstream.recv_paused()) {
    DecodeResult r = codec_->Decode(input.view());
    if (r.status == DecodeStatus::kNeedMore) return;
    if (r.status == DecodeStatus::kError) {
      upstream.Close();
      return;
    }
    if (r.status == DecodeStatus::kMessage) {
      if (handler_.websocket_) {
        SendWebSocket(client_, r.message, /*binary=*/true);
      } else {
        client_.Send(r.message);
      }
    }
    input.Consume(r.consumed);
  }
}

void Session::OnClosed(PeerTransport& upstream) {
  if (upstream_ == nullptr || upstream_.get() != &upstream) return;
  handler_.reactor().DeleteLater(std::move(upstream_));
  if (client_open_) {
    client_.Close();  // after what is queued for it
  } else {
    handler_.Release(this);
  }
}

bool Session::ClientClosed() {
  client_open_ = false;
  connector_.reset();
  if (upstream_ == nullptr || upstream_->closed()) return true;
  upstream_->Close();  // after what is queued for it
  return upstream_ == nullptr;  // closed at once (nothing queued): OnClosed ran
}

class ProxyFactory : public HandlerFactory {
 public:
  ProxyFactory(ProxySettings settings, const Protocol* protocol)
      : settings_(std::move(settings)), protocol_(protocol) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    auto handler = std::make_unique<ProxyHandler>(settings_, worker);
    handler->protocol = protocol_;
    handler->websocket_ = protocol_->name() == "websocket";
    return handler;
  }

 private:
  ProxySettings settings_;
  const Protocol* protocol_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateProxy(const HandlerConfig& config) {
  const auto& options = static_cast<const ProxyOptions&>(config.message);
  if (config.protocol != "tcp" && config.protocol != "text" && config.protocol != "frame" &&
      config.protocol != "websocket") {
    return absl::InvalidArgumentError("proxies tcp://, text://, frame:// and websocket:// services");
  }
  ProxySettings settings;
  for (const std::string& uri : options.upstream()) {
    absl::StatusOr<Upstream> upstream = ParseUpstream(uri);
    if (!upstream.ok()) return upstream.status();
    settings.upstreams.push_back(*upstream);
  }
  if (settings.upstreams.empty()) return absl::InvalidArgumentError("needs an upstream");
  if (options.has_connect_timeout_ms()) {
    if (options.connect_timeout_ms() < 10 || options.connect_timeout_ms() > 600'000) {
      return absl::InvalidArgumentError("connect_timeout_ms must be between 10 and 600000");
    }
    settings.connect_timeout_ms = options.connect_timeout_ms();
  }
  const Protocol* protocol = ProtocolRegistry::Global().Find(config.protocol);
  return std::make_unique<ProxyFactory>(std::move(settings), protocol);
}

SOCKMAN_REGISTER_HANDLER("proxy", CreateProxy);

}  // namespace
}  // namespace sockman
