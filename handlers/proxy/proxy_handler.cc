// proxy { upstream connect_timeout_ms }: each client connection gets its own
// connection to an upstream (round-robin over `upstream`; a failed connect
// tries the next). Bytes (tcp) or messages (text, frame: decoded, then
// encoded again on the other side) flow both ways with Workerman's pipe()
// backpressure: while one side's send buffer is full, the other side is not
// read. Either side closing closes the other once its output is flushed.
// WebSocket services bridge to a plain TCP upstream (websockify): message
// payloads go up as bytes, upstream bytes come down as binary messages; or
// they proxy to a ws:// upstream, message for message (text stays text).
// tls:// and wss:// upstreams are the same over TLS, the upstream's
// certificate verified for its host against `ca_file`.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "config/sockman.pb.h"
#include "engine/connector.h"
#include "engine/resolver.h"
#include "engine/tcp_connection.h"
#include "handlers/handler.h"
#include "handlers/proxy/http_proxy.h"
#include "protocols/http/http_response_parser.h"
#include "protocols/tcp/tcp_protocol.h"
#include "protocols/websocket/websocket.h"
#include "protocols/websocket/websocket_client.h"

namespace sockman {
namespace {

struct Upstream {
  std::string host;
  uint16_t port = 0;
  bool websocket = false;  // ws://, wss://
  bool tls = false;        // tls://, wss://
  std::string path;        // ws://: the request target ("" = the client's)
  std::string text;        // as configured, for logs
};

absl::StatusOr<Upstream> ParseUpstream(const std::string& uri) {
  absl::string_view rest = uri;
  Upstream upstream;
  upstream.tls = absl::StartsWith(rest, "tls://") || absl::StartsWith(rest, "wss://");
  if (absl::ConsumePrefix(&rest, "ws://") || absl::ConsumePrefix(&rest, "wss://")) {
    upstream.websocket = true;
    size_t slash = rest.find('/');
    if (slash != absl::string_view::npos) {
      upstream.path = std::string(rest.substr(slash));
      rest = rest.substr(0, slash);
      for (unsigned char c : upstream.path) {
        if (c <= 0x20 || c >= 0x7f || c == '#') {
          return absl::InvalidArgumentError(
              absl::StrCat("upstream '", uri, "' has a space, control byte or '#' in its path"));
        }
      }
    }
  } else if (!absl::ConsumePrefix(&rest, "tcp://") && !absl::ConsumePrefix(&rest, "tls://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upstream '", uri, "' must be tcp://HOST:PORT, tls://HOST:PORT or ws[s]://HOST:PORT/PATH"));
  }
  switch (SplitAuthority(rest, /*default_port=*/0, &upstream.host, &upstream.port)) {
    case AuthorityError::kBadPort:
      return absl::InvalidArgumentError(absl::StrCat("upstream '", uri, "' needs a port 1-65535"));
    case AuthorityError::kNoHost:
      return absl::InvalidArgumentError(absl::StrCat("upstream '", uri, "' has no host"));
    case AuthorityError::kNone:
      break;
  }
  upstream.text = uri;
  return upstream;
}

struct ProxySettings {
  std::vector<Upstream> upstreams;
  int64_t connect_timeout_ms = 3000;
  std::shared_ptr<const TlsClientContext> tls;  // for tls:// and wss:// upstreams
};

class ProxyHandler;

// One client and its upstream.
class Session : public PeerTransport::Delegate {
 public:
  Session(ProxyHandler& handler, Connection& client) : handler_(handler), client_(client) {}
  ~Session() override;
  // `target`: the client's WebSocket request target, for ws:// upstreams
  // without a path of their own.
  // `forwarded_for`: the upgrade's X-Forwarded-For chain, as received.
  void Start(size_t first_upstream, std::string target, std::string forwarded_for);
  // From the client (`binary`: a binary WebSocket message).
  void FromClient(absl::string_view message, MessageKind kind);
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
  void Connected(UniqueFd fd, const Upstream& upstream);
  void Failed(const std::string& why);
  // ws:// upstreams: the upgrade response, then frames.
  void FromWebSocketUpstream(PeerTransport& upstream, Buffer& input);
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
  std::string target_;
  std::string forwarded_for_;                       // the upgrade's X-Forwarded-For
  std::unique_ptr<WebSocketClientCodec> ws_;        // ws:// upstreams
  std::unique_ptr<HttpResponseParser> ws_upgrade_;  // until the 101 arrived
};

class ProxyHandler : public Handler {
 public:
  ProxyHandler(const ProxySettings& settings, const WorkerContext& worker)
      : settings_(settings), reactor_(worker.reactor) {}

  // Once the client can carry messages (WebSocket: after the upgrade).
  void OnOpen(Connection& connection) override {
    connection.PauseRecv();  // until the upstream is there
    auto session = std::make_unique<Session>(*this, connection);
    Session* raw = session.get();
    sessions_[connection.id()] = std::move(session);
    const HttpRequest* request = WebSocketHandshake(connection);
    raw->Start(next_upstream_++ % settings_.upstreams.size(),
               request != nullptr ? std::string(request->target) : "/",
               request != nullptr ? std::string(request->Header("X-Forwarded-For")) : "");
  }
  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override {
    if (Session* s = Find(connection)) s->FromClient(message, kind);
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
  void CountError() { ++errors_; }
  uint64_t backend_errors() const override { return errors_; }
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
  bool bridge_ = false;  // bytes upstream, binary messages down (see ProxyFactory)

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
  uint64_t errors_ = 0;
};

Session::~Session() {
  connector_.reset();
  if (upstream_) {
    auto upstream = std::move(upstream_);
    upstream->Destroy();  // OnClosed sees no upstream_ and does nothing
    handler_.reactor().DeleteLater(std::move(upstream));
  }
}

void Session::Start(size_t first_upstream, std::string target, std::string forwarded_for) {
  next_ = first_upstream;
  target_ = std::move(target);
  forwarded_for_ = std::move(forwarded_for);
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
  resolver->Resolve(
      upstream.host, upstream.port,
      [this, &upstream](absl::StatusOr<std::vector<SocketAddress>> addresses) {
        const std::string& text = upstream.text;
        if (!client_open_) return;
        if (!addresses.ok() || addresses->empty()) {
          handler_.CountError();
          LogWarning(absl::StrCat("proxy: ", text, ": ", addresses.status().message()));
          Attempt();
          return;
        }
        connector_ = Connector::Connect(
            handler_.reactor(), addresses->front(), handler_.settings().connect_timeout_ms,
            [this, &upstream](absl::StatusOr<UniqueFd> fd) {
              const std::string& text = upstream.text;
              connector_.reset();  // safe: the Connector touches nothing after calling us
              if (!client_open_) return;
              if (!fd.ok()) {
                handler_.CountError();
                LogWarning(absl::StrCat("proxy: ", text, ": ", fd.status().message()));
                Attempt();
                return;
              }
              Connected(std::move(*fd), upstream);
            });
      });
}

void Session::Connected(UniqueFd fd, const Upstream& to) {
  ConnectionLimits limits;
  limits.max_package_size = handler_.codec_options.max_package_size;
  auto upstream =
      to.tls
          ? TcpConnection::CreateTlsClient(handler_.reactor(), std::move(fd), SocketAddress(),
                                           limits, this, *handler_.settings().tls, to.host)
          : TcpConnection::Create(handler_.reactor(), std::move(fd), SocketAddress(), limits, this);
  if (!upstream.ok()) {
    Failed(std::string(upstream.status().message()));
    return;
  }
  upstream_ = std::move(*upstream);
  if (to.websocket) {
    // The client is read once the upstream accepted the upgrade.
    ws_ = std::make_unique<WebSocketClientCodec>(handler_.codec_options.max_package_size);
    ws_upgrade_ = std::make_unique<HttpResponseParser>(/*max_body_size=*/0);
    std::string host =
        to.host.find(':') != std::string::npos ? absl::StrCat("[", to.host, "]") : to.host;
    // As proxies do: the chain the upgrade carried, then the hop it came from.
    std::string forwarded =
        absl::StrCat("X-Forwarded-For: ", forwarded_for_, forwarded_for_.empty() ? "" : ", ",
                     client_.peer_address().Host(), "\r\n");
    upstream_->Send(ws_->HandshakeRequest(absl::StrCat(host, ":", to.port),
                                          to.path.empty() ? target_ : to.path, forwarded));
    return;
  }
  codec_ = handler_.bridge_ ? std::make_unique<RawCodec>()
                            : handler_.protocol->NewCodec(handler_.codec_options);
  client_.ResumeRecv();
}

void Session::Failed(const std::string& why) {
  LogWarning(absl::StrCat("proxy: connection ", client_.id(), ": ", why, "; closing it"));
  client_.Close();
}

void Session::FromClient(absl::string_view message, MessageKind kind) {
  if (!upstream_ || !upstream_->open()) return;
  encoded_.clear();
  if (ws_) {
    ws_->EncodeMessage(kind == MessageKind::kBinary, message, encoded_);
  } else {
    codec_->Encode(message, kind, encoded_);
  }
  upstream_->Send(encoded_);
  if (encoded_.capacity() > (1u << 20)) std::string().swap(encoded_);
}

void Session::OnData(PeerTransport& upstream, Buffer& input) {
  if (!client_open_) {
    input.Consume(input.size());  // nobody to give it to
    return;
  }
  if (ws_) {
    FromWebSocketUpstream(upstream, input);
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
      // Bridged bytes reach a WebSocket client as binary messages.
      client_.Send(r.message, handler_.bridge_ ? MessageKind::kBinary : r.kind);
    }
    input.Consume(r.consumed);
  }
}

void Session::FromWebSocketUpstream(PeerTransport& upstream, Buffer& input) {
  if (ws_upgrade_) {
    size_t used = 0;
    HttpResponseParser::Result r = ws_upgrade_->Parse(input.view(), &used);
    if (r == HttpResponseParser::Result::kNeedMore) return;
    absl::Status accepted = r == HttpResponseParser::Result::kError
                                ? absl::DataLossError(ws_upgrade_->error())
                                : ws_->CheckHandshake(ws_upgrade_->response());
    if (!accepted.ok()) {
      handler_.CountError();
      LogWarning(absl::StrCat("proxy: connection ", client_.id(),
                              ": upstream WebSocket: ", accepted.message()));
      input.Consume(input.size());
      upstream.Close();  // and the client with it
      return;
    }
    input.Consume(used);
    ws_upgrade_.reset();
    client_.ResumeRecv();
  }
  while (upstream.open() && !upstream.recv_paused()) {
    WebSocketClientCodec::Frame frame = ws_->Decode(input.view());
    if (!ws_->reply().empty()) {  // a pong, or the answer to a close
      upstream.Send(ws_->reply());
      ws_->clear_reply();
    }
    if (frame.kind == WebSocketClientCodec::Kind::kMessage) {
      client_.Send(frame.payload, frame.binary ? MessageKind::kBinary : MessageKind::kText);
    }
    input.Consume(frame.consumed);
    if (frame.kind == WebSocketClientCodec::Kind::kNeedMore) return;
    if (frame.kind == WebSocketClientCodec::Kind::kClose ||
        frame.kind == WebSocketClientCodec::Kind::kError) {
      if (frame.kind == WebSocketClientCodec::Kind::kError) {
        LogWarning(absl::StrCat("proxy: upstream WebSocket broke the protocol: ", frame.error));
      }
      input.Consume(input.size());
      upstream.Close();  // then the client, from OnClosed
      return;
    }
  }
}

void Session::OnClosed(PeerTransport& upstream) {
  if (upstream_ == nullptr || upstream_.get() != &upstream) return;
  if (!upstream_->tls_error().empty()) {
    handler_.CountError();
    LogWarning(absl::StrCat("proxy: connection ", client_.id(),
                            ": upstream TLS: ", upstream_->tls_error()));
  }
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
  if (ws_ != nullptr && ws_upgrade_ == nullptr && upstream_->open()) {
    encoded_.clear();  // a WebSocket upstream hears the goodbye it expects
    ws_->EncodeClose(1000, encoded_);
    upstream_->Send(encoded_);
  }
  upstream_->Close();           // after what is queued for it
  return upstream_ == nullptr;  // closed at once (nothing queued): OnClosed ran
}

class ProxyFactory : public HandlerFactory {
 public:
  ProxyFactory(ProxySettings settings, const Protocol* protocol)
      : settings_(std::move(settings)), protocol_(protocol) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    auto handler = std::make_unique<ProxyHandler>(settings_, worker);
    handler->protocol = protocol_;
    // A protocol that opens with a handshake cannot be replayed to a plain
    // upstream: its messages are bridged as bytes.
    handler->bridge_ = protocol_->traits().handshake;
    return handler;
  }

 private:
  ProxySettings settings_;
  const Protocol* protocol_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateProxy(const ProxyOptions& options,
                                                            const HandlerConfig& config) {
  const ProtocolTraits& traits = config.protocol.traits();
  if (traits.stream && traits.request_response) return CreateHttpProxy(options, config);
  if (!traits.stream) {
    return absl::InvalidArgumentError(
        "proxies http://, tcp://, text://, frame:// and websocket:// services");
  }
  if (!options.server().empty()) {
    return absl::InvalidArgumentError("server: only for the HTTP proxy (an http service)");
  }
  ProxySettings settings;
  for (const std::string& uri : options.upstream()) {
    absl::StatusOr<Upstream> upstream = ParseUpstream(uri);
    if (!upstream.ok()) return upstream.status();
    settings.upstreams.push_back(*upstream);
  }
  if (settings.upstreams.empty()) return absl::InvalidArgumentError("needs an upstream");
  bool tls = false;
  for (const Upstream& upstream : settings.upstreams) {
    if (upstream.websocket != settings.upstreams[0].websocket) {
      return absl::InvalidArgumentError(
          "upstreams must all be tcp:// or tls://, or all be ws[s]://");
    }
    tls |= upstream.tls;
    if (upstream.websocket && !(traits.handshake && traits.message_kinds)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "upstream '", upstream.text, "': ws:// upstreams need a websocket:// service"));
    }
  }
  if (options.has_connect_timeout_ms()) {
    if (options.connect_timeout_ms() < 10 || options.connect_timeout_ms() > 600'000) {
      return absl::InvalidArgumentError("connect_timeout_ms must be between 10 and 600000");
    }
    settings.connect_timeout_ms = options.connect_timeout_ms();
  }
  if (options.has_ca_file() && !tls) {
    return absl::InvalidArgumentError("ca_file is for tls:// and wss:// upstreams");
  }
  if (tls) {
    // A relative ca_file is relative to the config file, as every path is.
    std::string ca_file = options.ca_file();
    if (!ca_file.empty() && ca_file[0] != '/') {
      ca_file = absl::StrCat(config.config_directory, "/", ca_file);
    }
    auto context = TlsClientContext::Create(ca_file, settings.upstreams[0].websocket
                                                         ? std::vector<std::string>{"http/1.1"}
                                                         : std::vector<std::string>{});
    if (!context.ok()) return context.status();
    settings.tls = *std::move(context);
  }
  return std::make_unique<ProxyFactory>(std::move(settings), &config.protocol);
}

SOCKMAN_REGISTER_HANDLER("proxy", CreateProxy);

}  // namespace
}  // namespace sockman
