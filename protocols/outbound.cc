#include "protocols/outbound.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sockman {

namespace {

struct Target {
  const Protocol* protocol = nullptr;
  std::string host;
  uint16_t port = 0;
};

absl::StatusOr<Target> ParseTarget(absl::string_view uri) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri, "': ", why));
  };
  size_t sep = uri.find("://");
  if (sep == absl::string_view::npos) return bad("expected SCHEME://HOST:PORT");
  std::string scheme = absl::AsciiStrToLower(uri.substr(0, sep));
  Target target;
  target.protocol = ProtocolRegistry::Global().Find(scheme);
  if (target.protocol == nullptr)
    return bad(absl::StrCat("no protocol '", scheme, "' is registered"));
  absl::string_view name = target.protocol->name();
  if (name == "http" || name == "websocket" || name == "udp") {
    return bad(
        "http and websocket codecs are server sides, and udp has no connections; "
        "use tcp, text, frame or a protocol of your own");
  }
  absl::string_view rest = uri.substr(sep + 3);
  size_t colon = rest.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return bad("needs a port 1-65535");
  }
  absl::string_view host = rest.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("has no host");
  target.host = std::string(host);
  target.port = static_cast<uint16_t>(port);
  return target;
}

}  // namespace

absl::Status AsyncTcpConnection::CheckUri(absl::string_view uri) {
  return ParseTarget(uri).status();
}

absl::StatusOr<std::unique_ptr<AsyncTcpConnection>> AsyncTcpConnection::Create(
    Reactor& reactor, absl::string_view uri, ConnectionEvents& events, OutboundOptions options) {
  absl::StatusOr<Target> target = ParseTarget(uri);
  if (!target.ok()) return target.status();
  return std::unique_ptr<AsyncTcpConnection>(
      new AsyncTcpConnection(reactor, *target->protocol, std::string(uri), std::move(target->host),
                             target->port, events, std::move(options)));
}

AsyncTcpConnection::AsyncTcpConnection(Reactor& reactor, const Protocol& protocol, std::string uri,
                                       std::string host, uint16_t port, ConnectionEvents& events,
                                       OutboundOptions options)
    : reactor_(reactor),
      protocol_(protocol),
      uri_(std::move(uri)),
      host_(std::move(host)),
      port_(port),
      events_(events),
      options_(std::move(options)) {}

AsyncTcpConnection::~AsyncTcpConnection() {
  reactor_.CancelTimer(reconnect_timer_);
  connector_.reset();
  if (connection_ != nullptr) {
    std::unique_ptr<Connection> connection = std::move(connection_);
    connection->DestroyQuietly();
    reactor_.DeleteLater(std::move(connection));
  }
}

void AsyncTcpConnection::Connect() {
  if (connecting_ || connection_ != nullptr) return;
  connecting_ = true;
  if (resolver_ == nullptr) {
    absl::StatusOr<std::unique_ptr<Resolver>> resolver = Resolver::Create(reactor_);
    if (!resolver.ok()) {
      Failed(resolver.status());
      return;
    }
    resolver_ = std::move(*resolver);
  }
  std::weak_ptr<bool> alive = alive_;
  resolver_->Resolve(
      host_, port_, [this, alive](absl::StatusOr<std::vector<SocketAddress>> addresses) {
        if (alive.expired() || !connecting_) return;
        if (!addresses.ok() || addresses->empty()) {
          Failed(absl::UnavailableError(
              absl::StrCat("cannot resolve ", host_, ": ", addresses.status().message())));
          return;
        }
        SocketAddress peer = addresses->front();
        connector_ = Connector::Connect(
            reactor_, peer, options_.connect_timeout_ms, [this, peer](absl::StatusOr<UniqueFd> fd) {
              connector_.reset();  // safe: the Connector touches nothing after calling us
              if (!fd.ok()) {
                Failed(fd.status());
                return;
              }
              Connected(std::move(*fd), peer);
            });
      });
}

void AsyncTcpConnection::Connected(UniqueFd fd, const SocketAddress& peer) {
  auto connection = Connection::Create(
      reactor_, ++connects_, protocol_, options_.codec, events_, counters_,
      [this](Connection& closed) {
        if (connection_.get() != &closed) return;
        reactor_.DeleteLater(std::move(connection_));
      },
      [&](PeerTransport::Delegate& delegate) -> absl::StatusOr<std::unique_ptr<PeerTransport>> {
        return TcpConnection::Create(reactor_, std::move(fd), peer, options_.limits, &delegate);
      });
  connecting_ = false;
  if (!connection.ok()) {
    Failed(connection.status());
    return;
  }
  connection_ = std::move(*connection);
  connection_->Accepted();
}

void AsyncTcpConnection::Failed(const absl::Status& why) {
  connecting_ = false;
  if (on_connect_failed_) on_connect_failed_(why);
}

void AsyncTcpConnection::Reconnect(int64_t delay_ms) {
  if (connection_ != nullptr && connection_->open()) connection_->Close();
  connector_.reset();
  connecting_ = false;
  reactor_.CancelTimer(reconnect_timer_);
  reconnect_timer_ = reactor_.AddTimer(delay_ms, [this] {
    reconnect_timer_ = kNoTimer;
    if (connection_ != nullptr) {  // still closing: try again shortly
      Reconnect(10);
      return;
    }
    Connect();
  });
}

bool AsyncTcpConnection::Send(absl::string_view message) {
  return connection_ != nullptr && connection_->Send(message);
}

void AsyncTcpConnection::Close() {
  reactor_.CancelTimer(reconnect_timer_);
  reconnect_timer_ = kNoTimer;
  connector_.reset();
  connecting_ = false;
  if (connection_ != nullptr) connection_->Close();
}

}  // namespace sockman
