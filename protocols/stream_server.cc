#include "protocols/stream_server.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<StreamServer>> StreamServer::Create(Reactor& reactor, int listen_fd,
                                                                   StreamServerOptions options,
                                                                   ConnectionEvents& events) {
  std::unique_ptr<StreamServer> server(new StreamServer(reactor, options, events));
  StreamServer* raw = server.get();
  auto acceptor = Acceptor::Create(
      reactor, listen_fd,
      [raw](UniqueFd fd, const SocketAddress& peer) { raw->Accept(std::move(fd), peer); });
  if (!acceptor.ok()) return acceptor.status();
  server->acceptor_ = std::move(*acceptor);
  options.protocol->StartWorker(reactor);
  server->StartPolicies();
  return server;
}

void StreamServer::StartPolicies() {
  const HeartbeatOptions& heartbeat = options_.heartbeat;
  if (heartbeat.interval_ms > 0) {
    // Every connection gets the ping, so this pass visits each one; the
    // silence check below does not.
    ping_timer_ = reactor_.AddRepeatingTimer(heartbeat.interval_ms, [this] {
      for (auto& [id, connection] : connections_) {
        connection->SendHeartbeat(options_.heartbeat.ping_data);
      }
    });
    if (heartbeat.not_response_limit > 0) {
      silence_ = std::make_unique<ActivityWheel>(
          reactor_, heartbeat.interval_ms * heartbeat.not_response_limit, heartbeat.interval_ms,
          [this](uint64_t id) -> std::optional<int64_t> {
            Connection* c = Find(id);
            if (c == nullptr) return std::nullopt;
            return c->last_recv_ms();
          },
          [this](uint64_t id) {
            ++counters_.heartbeat_closes;
            Find(id)->Destroy();
          });
    }
  }
  if (options_.idle_timeout_ms > 0) {
    // Checked ten times per timeout: closes at most 10% late.
    idle_ = std::make_unique<ActivityWheel>(
        reactor_, options_.idle_timeout_ms, std::max<int64_t>(options_.idle_timeout_ms / 10, 10),
        [this](uint64_t id) -> std::optional<int64_t> {
          Connection* c = Find(id);
          if (c == nullptr) return std::nullopt;
          return c->last_active_ms();
        },
        [this](uint64_t id) {
          ++counters_.idle_closes;
          Find(id)->Close();
        });
  }
}

Connection* StreamServer::Find(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

StreamServer::~StreamServer() {
  stopping_ = true;
  acceptor_.reset();
  reactor_.CancelTimer(ping_timer_);
  silence_.reset();
  idle_.reset();
  // Take the map so Remove() (called from each OnClose) finds nothing; the
  // connections die with `open` at the end of this scope.
  auto open = std::move(connections_);
  connections_.clear();
  for (auto& [id, connection] : open) connection->Destroy();
}

void StreamServer::Accept(UniqueFd fd, const SocketAddress& peer) {
  uint64_t id = next_id_++;
  auto connection = Connection::Create(
      reactor_, id, *options_.protocol, options_.codec, events_, counters_,
      [this](Connection& c) { Remove(c); },
      [&](PeerTransport::Delegate& delegate) -> absl::StatusOr<std::unique_ptr<PeerTransport>> {
        return TcpConnection::Create(reactor_, std::move(fd), peer, options_.limits, &delegate,
                                     options_.tls.get());
      });
  if (!connection.ok()) return;  // the socket is closed with the fd
  ++counters_.connections_accepted;
  Connection& ref = **connection;
  connections_.emplace(id, std::move(*connection));
  if (silence_) silence_->Add(id, ref.last_recv_ms());
  if (idle_) idle_->Add(id, ref.last_active_ms());
  if (options_.max_connections > 0 && connections_.size() >= options_.max_connections) {
    ++counters_.accept_pauses;
    acceptor_->Pause();
  }
  ref.Accepted();
}

void StreamServer::Remove(Connection& connection) {
  auto it = connections_.find(connection.id());
  if (it == connections_.end()) return;
  reactor_.DeleteLater(std::move(it->second));
  connections_.erase(it);
  if (!stopping_ && options_.max_connections > 0 &&
      connections_.size() < options_.max_connections) {
    acceptor_->Resume();
  }
}

}  // namespace sockman
