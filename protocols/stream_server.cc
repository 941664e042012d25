#include "protocols/stream_server.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<StreamServer>> StreamServer::Create(Reactor& reactor,
                                                                   int listen_fd,
                                                                   StreamServerOptions options,
                                                                   ConnectionEvents& events) {
  std::unique_ptr<StreamServer> server(new StreamServer(reactor, options, events));
  StreamServer* raw = server.get();
  auto acceptor = Acceptor::Create(reactor, listen_fd,
                                   [raw](UniqueFd fd, const SocketAddress& peer) {
                                     raw->Accept(std::move(fd), peer);
                                   });
  if (!acceptor.ok()) return acceptor.status();
  server->acceptor_ = std::move(*acceptor);
  options.protocol->StartWorker(reactor);
  return server;
}

StreamServer::~StreamServer() {
  stopping_ = true;
  acceptor_.reset();
  // Take the map so Remove() (called from each OnClose) finds nothing; the
  // connections die with `open` at the end of this scope.
  auto open = std::move(connections_);
  connections_.clear();
  for (auto& [id, connection] : open) connection->Destroy();
}

void StreamServer::Accept(UniqueFd fd, const SocketAddress& peer) {
  uint64_t id = next_id_++;
  auto connection = Connection::Create(reactor_, id, std::move(fd), peer, *options_.protocol,
                                       options_.codec, options_.limits, events_, counters_,
                                       [this](Connection& c) { Remove(c); });
  if (!connection.ok()) return;  // the socket is closed with the fd
  ++counters_.connections_accepted;
  Connection& ref = **connection;
  connections_.emplace(id, std::move(*connection));
  if (options_.max_connections > 0 && connections_.size() >= options_.max_connections) {
    acceptor_->Pause();
  }
  events_.OnConnect(ref);
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
