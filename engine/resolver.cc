#include "engine/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sockman {

struct Resolver::Channel {
  ares_channel channel = nullptr;
  ~Channel() {
    if (channel != nullptr) ares_destroy(channel);
  }
};

// One of c-ares' sockets, watched on the reactor.
class Resolver::Socket : public Reactor::Watcher {
 public:
  Socket(Resolver& resolver, int fd) : resolver_(resolver), fd_(fd) {}
  void OnEvents(uint32_t events) override {
    bool readable = events & (EPOLLIN | EPOLLERR | EPOLLHUP);
    bool writable = events & EPOLLOUT;
    ares_process_fd(resolver_.channel_->channel, readable ? fd_ : ARES_SOCKET_BAD,
                    writable ? fd_ : ARES_SOCKET_BAD);
    resolver_.ArmTimer();
  }

 private:
  Resolver& resolver_;
  int fd_;
};

Resolver::Resolver(Reactor& reactor) : reactor_(reactor) {}

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::Create(Reactor& reactor) {
  static const int initialized = ares_library_init(ARES_LIB_INIT_ALL);
  if (initialized != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("c-ares: ", ares_strerror(initialized)));
  }
  std::unique_ptr<Resolver> resolver(new Resolver(reactor));
  resolver->channel_ = std::make_unique<Channel>();
  ares_options options{};
  options.sock_state_cb = [](void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Resolver*>(data)->OnSocketState(fd, readable, writable);
  };
  options.sock_state_cb_data = resolver.get();
  int rc = ares_init_options(&resolver->channel_->channel, &options, ARES_OPT_SOCK_STATE_CB);
  if (rc != ARES_SUCCESS) return absl::InternalError(absl::StrCat("c-ares: ", ares_strerror(rc)));
  return resolver;
}

Resolver::~Resolver() {
  reactor_.CancelTimer(timer_);
  for (auto& [fd, socket] : sockets_) reactor_.Unwatch(fd);
  sockets_.clear();
  channel_.reset();  // pending lookups are answered with ARES_EDESTRUCTION
}

void Resolver::OnSocketState(int fd, bool readable, bool writable) {
  auto it = sockets_.find(fd);
  if (!readable && !writable) {
    if (it != sockets_.end()) {
      reactor_.Unwatch(fd);
      reactor_.DeleteLater(std::move(it->second));
      sockets_.erase(it);
    }
    return;
  }
  uint32_t events = (readable ? uint32_t{EPOLLIN} : 0u) | (writable ? uint32_t{EPOLLOUT} : 0u);
  if (it == sockets_.end()) {
    auto socket = std::make_unique<Socket>(*this, fd);
    if (reactor_.Watch(fd, events, socket.get()).ok()) sockets_[fd] = std::move(socket);
  } else {
    reactor_.Modify(fd, events, it->second.get()).IgnoreError();
  }
}

void Resolver::ArmTimer() {
  reactor_.CancelTimer(timer_);
  timer_ = kNoTimer;
  timeval wait{};
  if (ares_timeout(channel_->channel, nullptr, &wait) == nullptr) return;  // nothing pending
  int64_t ms = wait.tv_sec * 1000 + wait.tv_usec / 1000 + 1;
  timer_ = reactor_.AddTimer(ms, [this] {
    timer_ = kNoTimer;
    ares_process_fd(channel_->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
    ArmTimer();
  });
}

void Resolver::Answer(Done done, absl::StatusOr<std::vector<SocketAddress>> result, uint16_t port) {
  if (result.ok()) {
    for (SocketAddress& address : *result) address = address.WithPort(port);
  }
  auto shared = std::make_shared<absl::StatusOr<std::vector<SocketAddress>>>(std::move(result));
  reactor_.Defer([done = std::move(done), shared] { done(std::move(*shared)); });
}

void Resolver::Resolve(const std::string& host, uint16_t port, Done done) {
  // Numeric addresses need no lookup.
  absl::StatusOr<SocketAddress> numeric = SocketAddress::Parse(host, port);
  if (numeric.ok()) {
    Answer(std::move(done), std::vector<SocketAddress>{*numeric}, port);
    return;
  }
  if (auto it = cache_.find(host); it != cache_.end() && it->second.expires_ms > reactor_.NowMs()) {
    Answer(std::move(done), it->second.addresses, port);
    return;
  }
  struct Lookup {
    Resolver* resolver;
    std::string host;
    uint16_t port;
    Done done;
  };
  auto* lookup = new Lookup{this, host, port, std::move(done)};
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(
      channel_->channel, host.c_str(), nullptr, &hints,
      [](void* arg, int status, int timeouts, ares_addrinfo* info) {
        std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
        if (status != ARES_SUCCESS || info == nullptr) {
          if (info != nullptr) ares_freeaddrinfo(info);
          if (status == ARES_EDESTRUCTION) return;  // the resolver is going away
          lookup->resolver->Answer(std::move(lookup->done),
                                   absl::NotFoundError(absl::StrCat("resolve ", lookup->host, ": ",
                                                                    ares_strerror(status))),
                                   lookup->port);
          return;
        }
        std::vector<SocketAddress> addresses;
        int ttl = 300;
        for (ares_addrinfo_node* node = info->nodes; node != nullptr; node = node->ai_next) {
          addresses.push_back(SocketAddress::FromSockaddr(node->ai_addr, node->ai_addrlen));
          ttl = std::min(ttl, node->ai_ttl > 0 ? node->ai_ttl : 300);
        }
        ares_freeaddrinfo(info);
        Resolver& resolver = *lookup->resolver;
        if (addresses.empty()) {
          resolver.Answer(
              std::move(lookup->done),
              absl::NotFoundError(absl::StrCat("resolve ", lookup->host, ": no address")),
              lookup->port);
          return;
        }
        resolver.cache_[lookup->host] = {addresses,
                                         resolver.reactor_.NowMs() + std::max(ttl, 1) * 1000};
        resolver.Answer(std::move(lookup->done), std::move(addresses), lookup->port);
      },
      lookup);
  ArmTimer();
}

}  // namespace sockman
