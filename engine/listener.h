// Listening sockets and the Acceptor that drains them.
//
// The master binds with BindTcpListener before fork (or, with reuse_port,
// reserves the port with ReserveTcpPort and each worker binds its own socket),
// and each worker runs an Acceptor on the inherited descriptor.
//
//   SOCKMAN_ASSIGN_OR_RETURN(UniqueFd fd, BindTcpListener(options));
//   SOCKMAN_ASSIGN_OR_RETURN(auto acceptor, Acceptor::Create(reactor, fd.get(), on_accept));
#ifndef SOCKMAN_ENGINE_LISTENER_H_
#define SOCKMAN_ENGINE_LISTENER_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/base/logging.h"
#include "engine/base/unique_fd.h"
#include "engine/reactor.h"
#include "engine/socket_address.h"

namespace sockman {

struct ListenOptions {
  SocketAddress address;
  bool reuse_port = false;
  bool ipv6_only = false;  // for IPv6 wildcard listeners; dual-stack otherwise
  int backlog = 4096;      // capped by net.core.somaxconn
  bool datagram = false;   // SOCK_DGRAM (see udp_peer.h) instead of SOCK_STREAM
};

// socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen, non-blocking, CLOEXEC.
// Errors carry errno and the address: "bind 0.0.0.0:80: Permission denied".
absl::StatusOr<UniqueFd> BindTcpListener(const ListenOptions& options);

// Binds without listening, to learn and hold the port a reuse_port service
// will use when it asked for port 0. Not listening, it receives no connections.
absl::StatusOr<UniqueFd> ReserveTcpPort(const ListenOptions& options);

// socket + SO_REUSEADDR (+ SO_REUSEPORT, IPV6_V6ONLY) + bind: what the
// functions above start with, for stream or datagram sockets.
absl::StatusOr<UniqueFd> BindSocket(const ListenOptions& options);

// Accepts connections on a listening socket it does not own. Level-triggered
// and EPOLLEXCLUSIVE, so workers sharing one socket do not all wake up.
class Acceptor : public Reactor::Watcher {
 public:
  using AcceptCallback = std::function<void(UniqueFd fd, const SocketAddress& peer)>;

  static absl::StatusOr<std::unique_ptr<Acceptor>> Create(Reactor& reactor, int listen_fd,
                                                          AcceptCallback on_accept);
  ~Acceptor() override;

  // Stops / restarts accepting (e.g. at max_connections, or on graceful stop).
  void Pause();
  void Resume();
  bool paused() const { return !watching_; }

  void OnEvents(uint32_t events) override;

 private:
  // Watches the listener iff not paused by the owner and not backing off.
  void Sync();

  Acceptor(Reactor& reactor, int listen_fd, AcceptCallback on_accept)
      : reactor_(reactor), listen_fd_(listen_fd), on_accept_(std::move(on_accept)) {}

  Reactor& reactor_;
  int listen_fd_;
  AcceptCallback on_accept_;
  bool want_paused_ = false;
  bool watching_ = false;
  TimerId retry_timer_ = kNoTimer;
  RateLimitedLog error_log_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_LISTENER_H_
