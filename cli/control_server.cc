#include "cli/control_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace sockman {

absl::StatusOr<UniqueFd> ControlServer::Listen(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("control socket path too long: ", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("control socket ", path));
  ::unlink(path.c_str());
  mode_t old_mask = umask(0177);  // 0600: only the master's user
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  umask(old_mask);
  if (bound != 0 || ::listen(fd.get(), 64) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("control socket ", path));
  }
  return fd;
}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Create(
    Reactor& reactor, int listen_fd, std::vector<ControlVerb> verbs) {
  std::unique_ptr<ControlServer> server(new ControlServer(reactor, std::move(verbs)));
  ControlServer* raw = server.get();
  auto acceptor = Acceptor::Create(
      reactor, listen_fd, [raw](UniqueFd fd, const SocketAddress&) { raw->Accept(std::move(fd)); });
  if (!acceptor.ok()) {
    return absl::Status(acceptor.status().code(),
                        absl::StrCat("control socket: ", acceptor.status().message()));
  }
  server->acceptor_ = std::move(*acceptor);
  return server;
}

ControlServer::~ControlServer() { *alive_ = false; }

void ControlServer::Accept(UniqueFd fd) {
  ConnectionLimits limits;
  limits.max_package_size = kMaxRequest;
  limits.max_send_buffer_size = 64 << 20;  // a `connections` listing can be long
  auto connection = TcpConnection::Create(reactor_, std::move(fd), SocketAddress(), limits, this);
  if (connection.ok()) clients_.push_back(Client{next_id_++, std::move(*connection)});
}

void ControlServer::OnData(PeerTransport& connection, Buffer& input) {
  size_t newline = input.view().find('\n');
  if (newline == absl::string_view::npos) {
    if (input.size() >= kMaxRequest) connection.Close();
    return;
  }
  std::string request(input.view().substr(0, newline));
  input.Consume(input.size());
  connection.PauseRecv();
  uint64_t id = 0;
  for (const Client& client : clients_) {
    if (client.connection.get() == &connection) id = client.id;
  }
  std::shared_ptr<bool> alive = alive_;
  ControlReply reply = [this, alive, id](std::string text) {
    if (*alive) Answer(id, text);
  };
  for (const ControlVerb& verb : verbs_) {
    if (verb.request == request) {
      verb.run(std::move(reply));
      return;
    }
  }
  reply(absl::StrCat("error: unknown request '", request, "'\n"));
}

void ControlServer::Answer(uint64_t id, const std::string& reply) {
  for (Client& client : clients_) {
    if (client.id != id) continue;
    // Send may find the client gone and close it, which erases it from
    // clients_: hold the connection, not the vector element.
    TcpConnection* connection = client.connection.get();
    if (connection->open()) connection->Send(reply);
    if (connection->open()) connection->Close();
    return;
  }
}

void ControlServer::OnClosed(PeerTransport& connection) {
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->connection.get() == &connection) {
      reactor_.DeleteLater(std::move(it->connection));
      clients_.erase(it);
      return;
    }
  }
}

}  // namespace sockman
