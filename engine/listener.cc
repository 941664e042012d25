#include "engine/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"

namespace sockman {
namespace {

absl::StatusOr<UniqueFd> BoundSocket(const ListenOptions& options) {
  const SocketAddress& address = options.address;
  int type = options.datagram ? SOCK_DGRAM : SOCK_STREAM;
  UniqueFd fd(::socket(address.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt SO_REUSEADDR");
  }
  if (options.reuse_port &&
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt SO_REUSEPORT");
  }
  if (address.is_ipv6()) {
    int v6only = options.ipv6_only ? 1 : 0;
    if (setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
      return absl::ErrnoToStatus(errno, "setsockopt IPV6_V6ONLY");
    }
  }
  if (::bind(fd.get(), address.sockaddr_ptr(), address.length()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("bind ", address.ToString()));
  }
  return fd;
}

}  // namespace

absl::StatusOr<UniqueFd> BindTcpListener(const ListenOptions& options) {
  absl::StatusOr<UniqueFd> fd = BoundSocket(options);
  if (!fd.ok()) return fd.status();
  if (::listen(fd->get(), options.backlog) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("listen ", options.address.ToString()));
  }
  return fd;
}

absl::StatusOr<UniqueFd> ReserveTcpPort(const ListenOptions& options) {
  return BoundSocket(options);
}

absl::StatusOr<UniqueFd> BindSocket(const ListenOptions& options) { return BoundSocket(options); }

absl::StatusOr<std::unique_ptr<Acceptor>> Acceptor::Create(Reactor& reactor, int listen_fd,
                                                           AcceptCallback on_accept) {
  std::unique_ptr<Acceptor> acceptor(new Acceptor(reactor, listen_fd, std::move(on_accept)));
  if (absl::Status s = reactor.Watch(listen_fd, EPOLLIN | EPOLLEXCLUSIVE, acceptor.get());
      !s.ok()) {
    return s;
  }
  acceptor->watching_ = true;
  return acceptor;
}

Acceptor::~Acceptor() {
  reactor_.CancelTimer(retry_timer_);
  if (watching_) reactor_.Unwatch(listen_fd_);
}

void Acceptor::Pause() {
  want_paused_ = true;
  Sync();
}

void Acceptor::Resume() {
  want_paused_ = false;
  Sync();
}

void Acceptor::Sync() {
  bool should_watch = !want_paused_ && retry_timer_ == kNoTimer;
  if (should_watch == watching_) return;
  // EPOLLEXCLUSIVE registrations cannot be modified, only removed and re-added.
  if (should_watch) {
    watching_ = reactor_.Watch(listen_fd_, EPOLLIN | EPOLLEXCLUSIVE, this).ok();
  } else {
    reactor_.Unwatch(listen_fd_);
    watching_ = false;
  }
}

void Acceptor::OnEvents(uint32_t events) {
  // Bounded per wake-up so one busy listener cannot starve established connections.
  for (int i = 0; i < 128 && watching_; ++i) {
    sockaddr_storage peer;
    socklen_t length = sizeof(peer);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept_(UniqueFd(fd),
                 SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&peer), length));
      continue;
    }
    if (errno == EAGAIN || errno == EINTR) return;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors or memory: back off instead of spinning on a
      // level-triggered listener that stays readable.
      error_log_.Log(LogSeverity::kError, reactor_.NowMs(),
                     absl::StrCat("accept: ", strerror(errno), "; pausing accepts for 100ms"));
      retry_timer_ = reactor_.AddTimer(100, [this] {
        retry_timer_ = kNoTimer;
        Sync();
      });
      Sync();
      return;
    }
    // ECONNABORTED, EPERM (firewall), protocol errors: that connection only.
  }
}

}  // namespace sockman
