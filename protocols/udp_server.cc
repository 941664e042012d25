#include "protocols/udp_server.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/udp_peer.h"
#include "protocols/proxy_header.h"

namespace sockman {
namespace {

// Datagrams handled per readiness event before other work gets a turn (the
// socket is level-triggered: the rest wait for the next loop pass).
constexpr int kBatch = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<UdpServer>> UdpServer::Create(Reactor& reactor, int fd,
                                                             UdpServerOptions options,
                                                             ConnectionEvents& events) {
  std::unique_ptr<UdpServer> server(new UdpServer(reactor, fd, options, events));
  if (absl::Status s = reactor.Watch(fd, EPOLLIN, server.get()); !s.ok()) return s;
  server->watching_ = true;
  options.protocol->StartWorker(reactor);
  return server;
}

UdpServer::~UdpServer() {
  if (watching_) reactor_.Unwatch(fd_);
  // Their OnClose lets the handler forget them.
  auto retained = std::move(retained_);
  retained_.clear();
  for (auto& [id, connection] : retained) connection->Close();
}

void UdpServer::Drain() {
  if (watching_) reactor_.Unwatch(fd_);
  watching_ = false;
}

void UdpServer::OnEvents(uint32_t events) {
  size_t limit = std::min<size_t>(options_.codec.max_package_size, kMaxDatagramSize);
  for (int i = 0; i < kBatch && watching_; ++i) {
    sockaddr_storage from{};
    socklen_t from_length = sizeof(from);
    datagram_.Clear();
    // One byte of room past the limit, and MSG_TRUNC, to see oversized ones.
    absl::Span<char> space = datagram_.PrepareWrite(limit + 1);
    ssize_t n = ::recvfrom(fd_, space.data(), limit + 1, MSG_DONTWAIT | MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained (or a transient error such as ECONNREFUSED)
    }
    if (static_cast<size_t>(n) > limit) {
      ++counters_.datagrams_dropped;
      continue;
    }
    datagram_.CommitWrite(static_cast<size_t>(n));
    SocketAddress sender =
        SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&from), from_length);
    std::optional<SocketAddress> client;
    if (options_.proxy_trusted != nullptr && !ProxyHeaderOf(datagram_, sender, client)) continue;
    Handle(datagram_, sender, client ? &*client : nullptr);
  }
}

bool UdpServer::ProxyHeaderOf(Buffer& datagram, const SocketAddress& sender,
                              std::optional<SocketAddress>& client) {
  absl::string_view bytes(datagram.data(), datagram.size());
  const char* error = nullptr;
  if (options_.proxy_trusted->Contains(sender)) {
    ProxyHeader header = ParseProxyHeader(bytes, /*datagram=*/true);
    if (header.status == ProxyHeader::kDone) {
      datagram.Consume(header.size);
      client = header.source;  // none for LOCAL (the proxy's own health checks)
      return true;
    }
    error = header.error;
  } else if (LooksLikeProxyHeader(bytes) == ProxyHeader::kDone) {
    error = "PROXY header from a sender not trusted to send one";
  } else {
    return true;
  }
  ++counters_.proxy_header_errors;
  proxy_log_.Log(LogSeverity::kWarning, reactor_.NowMs(),
                 absl::StrCat("datagram from ", sender.ToString(), " dropped: ", error));
  return false;
}

void UdpServer::Handle(Buffer& datagram, const SocketAddress& sender, const SocketAddress* client) {
  UdpPeer* peer = nullptr;
  auto connection = Connection::Create(
      reactor_, next_id_++, *options_.protocol, options_.codec, events_, counters_,
      [this](Connection& closed) {
        auto it = retained_.find(closed.id());
        if (it == retained_.end()) return;
        reactor_.DeleteLater(std::move(it->second));
        retained_.erase(it);
      },
      [&](PeerTransport::Delegate& delegate) -> absl::StatusOr<std::unique_ptr<PeerTransport>> {
        auto owned = std::make_unique<UdpPeer>(fd_, sender, delegate, client);
        peer = owned.get();
        return owned;
      });
  if (!connection.ok()) return;
  ++counters_.connections_accepted;
  peer->Deliver(datagram);
  if ((*connection)->retained() && peer->open()) {
    uint64_t id = (*connection)->id();
    retained_.emplace(id, std::move(*connection));
    return;
  }
  // Freed after this loop pass, so nothing the handler started this pass
  // dangles; it must not keep the connection beyond that.
  reactor_.DeleteLater(std::move(*connection));
}

}  // namespace sockman
