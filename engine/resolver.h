// Resolver: host names to addresses with c-ares, on the reactor (never a
// blocking resolver; a static binary has no NSS anyway). Numeric addresses
// answer at once; names are looked up in /etc/hosts, then DNS, and cached
// for their TTL (at least a second, at most five minutes).
//
//   resolver.Resolve("localhost", 7000, [](absl::StatusOr<std::vector<SocketAddress>> r) {...});
#ifndef SOCKMAN_ENGINE_RESOLVER_H_
#define SOCKMAN_ENGINE_RESOLVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/reactor.h"
#include "engine/socket_address.h"

namespace sockman {

class Resolver {
 public:
  using Done = std::function<void(absl::StatusOr<std::vector<SocketAddress>>)>;

  static absl::StatusOr<std::unique_ptr<Resolver>> Create(Reactor& reactor);
  ~Resolver();

  // `done` runs on the loop, never from inside Resolve.
  void Resolve(const std::string& host, uint16_t port, Done done);

 private:
  struct Channel;
  class Socket;
  struct Cached {
    std::vector<SocketAddress> addresses;  // port 0
    int64_t expires_ms = 0;
  };
  explicit Resolver(Reactor& reactor);
  void OnSocketState(int fd, bool readable, bool writable);
  void ArmTimer();
  void Answer(Done done, absl::StatusOr<std::vector<SocketAddress>> result, uint16_t port);

  Reactor& reactor_;
  std::unique_ptr<Channel> channel_;
  std::map<int, std::unique_ptr<Socket>> sockets_;
  std::map<std::string, Cached> cache_;
  TimerId timer_ = kNoTimer;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_RESOLVER_H_
