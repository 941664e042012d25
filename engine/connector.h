// Outbound TCP: a non-blocking connect on the reactor, with a deadline.
//
//   auto pending = Connector::Connect(reactor, address, 2000,
//       [](absl::StatusOr<UniqueFd> fd) { ... TcpConnection::Create(...) ... });
//
// Destroying the Connector cancels the attempt (the callback never runs).
#ifndef SOCKMAN_ENGINE_CONNECTOR_H_
#define SOCKMAN_ENGINE_CONNECTOR_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/base/unique_fd.h"
#include "engine/reactor.h"
#include "engine/socket_address.h"

namespace sockman {

class Connector : private Reactor::Watcher {
 public:
  using Done = std::function<void(absl::StatusOr<UniqueFd>)>;

  // `done` runs once, on the loop (never from inside Connect).
  static std::unique_ptr<Connector> Connect(Reactor& reactor, const SocketAddress& address,
                                            int64_t timeout_ms, Done done);
  ~Connector() override;

 private:
  Connector(Reactor& reactor, Done done) : reactor_(reactor), done_(std::move(done)) {}
  void OnEvents(uint32_t events) override;
  void Finish(absl::StatusOr<UniqueFd> result);

  Reactor& reactor_;
  Done done_;
  UniqueFd fd_;
  SocketAddress address_;
  bool watching_ = false;
  TimerId timer_ = kNoTimer;
};

// A blocking connect with a deadline, for checks before the loop runs (the
// master checking a backend is reachable before it forks).
absl::StatusOr<UniqueFd> ConnectBlocking(const SocketAddress& address, int64_t timeout_ms);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_CONNECTOR_H_
