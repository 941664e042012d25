#include "engine/connector.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"

namespace sockman {
namespace {

absl::StatusOr<UniqueFd> StartConnect(const SocketAddress& address, bool& in_progress) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  in_progress = false;
  if (::connect(fd.get(), address.sockaddr_ptr(), address.length()) != 0) {
    if (errno != EINPROGRESS) {
      return absl::ErrnoToStatus(errno, absl::StrCat("connect ", address.ToString()));
    }
    in_progress = true;
  }
  return fd;
}

absl::Status SocketError(int fd, const SocketAddress& address) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == 0) return absl::OkStatus();
  return absl::ErrnoToStatus(error, absl::StrCat("connect ", address.ToString()));
}

}  // namespace

std::unique_ptr<Connector> Connector::Connect(Reactor& reactor, const SocketAddress& address,
                                              int64_t timeout_ms, Done done) {
  std::unique_ptr<Connector> connector(new Connector(reactor, std::move(done)));
  connector->address_ = address;
  bool in_progress = false;
  absl::StatusOr<UniqueFd> fd = StartConnect(address, in_progress);
  Connector* raw = connector.get();
  if (!fd.ok() || !in_progress) {
    // Report on the next pass, not from inside the caller.
    auto result = std::make_shared<absl::StatusOr<UniqueFd>>(std::move(fd));
    connector->timer_ = reactor.AddTimer(0, [raw, result] {
      raw->timer_ = kNoTimer;
      raw->Finish(std::move(*result));
    });
    return connector;
  }
  connector->fd_ = std::move(*fd);
  connector->watching_ = reactor.Watch(connector->fd_.get(), EPOLLOUT, raw).ok();
  connector->timer_ = reactor.AddTimer(timeout_ms, [raw] {
    raw->timer_ = kNoTimer;
    raw->Finish(absl::DeadlineExceededError(
        absl::StrCat("connect ", raw->address_.ToString(), ": timed out")));
  });
  return connector;
}

Connector::~Connector() {
  reactor_.CancelTimer(timer_);
  if (watching_) reactor_.Unwatch(fd_.get());
}

void Connector::OnEvents(uint32_t events) {
  reactor_.Unwatch(fd_.get());
  watching_ = false;
  absl::Status error = SocketError(fd_.get(), address_);
  if (!error.ok()) {
    Finish(error);
    return;
  }
  Finish(std::move(fd_));
}

void Connector::Finish(absl::StatusOr<UniqueFd> result) {
  if (watching_) {
    reactor_.Unwatch(fd_.get());
    watching_ = false;
  }
  reactor_.CancelTimer(timer_);
  timer_ = kNoTimer;
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(result));  // may destroy this Connector
}

absl::StatusOr<UniqueFd> ConnectBlocking(const SocketAddress& address, int64_t timeout_ms) {
  bool in_progress = false;
  absl::StatusOr<UniqueFd> fd = StartConnect(address, in_progress);
  if (!fd.ok() || !in_progress) return fd;
  pollfd p{fd->get(), POLLOUT, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout_ms));
  if (n == 0)
    return absl::DeadlineExceededError(absl::StrCat("connect ", address.ToString(), ": timed out"));
  if (n < 0) return absl::ErrnoToStatus(errno, "poll");
  if (absl::Status s = SocketError(fd->get(), address); !s.ok()) return s;
  return fd;
}

}  // namespace sockman
