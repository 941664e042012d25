// AsyncTcpConnection: Workerman's outbound connection. It connects to
// "SCHEME://HOST:PORT" (any registered stream protocol whose codec works both
// ways: tcp, text, frame, or one of your own), resolving HOST with c-ares on
// the loop, and then is a Connection like any accepted one: the same events,
// Send, Close, PauseRecv, timers, user data.
//
//   class Ticker : public Handler {
//     void OnWorkerStart(const WorkerContext& worker) override {
//       upstream_ = *AsyncTcpConnection::Create(worker.reactor, "text://backend:7000", *this);
//       upstream_->set_on_connect_failed([this](const absl::Status& why) {
//         upstream_->Reconnect(1000);
//       });
//       upstream_->Connect();
//     }
//     void OnClose(Connection& c) override { upstream_->Reconnect(1000); }
//     ...
//   };
//
// Events run on the loop; OnConnect when connected, OnClose when it closes
// (whoever closed it). The AsyncTcpConnection must outlive its connection's
// callbacks: destroying it closes the connection at once, without OnClose.
#ifndef SOCKMAN_PROTOCOLS_OUTBOUND_H_
#define SOCKMAN_PROTOCOLS_OUTBOUND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/connector.h"
#include "engine/reactor.h"
#include "engine/resolver.h"
#include "engine/tcp_connection.h"
#include "protocols/connection.h"
#include "protocols/protocol.h"

namespace sockman {

struct OutboundOptions {
  int64_t connect_timeout_ms = 3000;
  CodecOptions codec;
  ConnectionLimits limits;
};

class AsyncTcpConnection {
 public:
  // Checks the URI and the protocol; does not connect yet.
  static absl::StatusOr<std::unique_ptr<AsyncTcpConnection>> Create(Reactor& reactor,
                                                                    absl::string_view uri,
                                                                    ConnectionEvents& events,
                                                                    OutboundOptions options = {});
  ~AsyncTcpConnection();
  // What Create checks, for validating a config before any loop runs.
  static absl::Status CheckUri(absl::string_view uri);

  // Starts connecting (no-op while connecting or connected).
  void Connect();
  // Connects again `delay_ms` from now, closing the current connection first
  // if there is one (Workerman's reConnect).
  void Reconnect(int64_t delay_ms = 0);
  // Called when a connect attempt fails (unresolvable, refused, timed out).
  void set_on_connect_failed(std::function<void(const absl::Status&)> callback) {
    on_connect_failed_ = std::move(callback);
  }

  // Sends through the protocol; false unless connected.
  bool Send(absl::string_view message);
  // Closes after what is queued (OnClose follows).
  void Close();

  // The live connection, or null while not connected.
  Connection* connection() { return connection_.get(); }
  bool connected() const { return connection_ != nullptr && connection_->open(); }
  const std::string& uri() const { return uri_; }
  // Connections made so far (1 after the first success).
  uint64_t connects() const { return connects_; }

 private:
  AsyncTcpConnection(Reactor& reactor, const Protocol& protocol, std::string uri, std::string host,
                     uint16_t port, ConnectionEvents& events, OutboundOptions options);
  void Connected(UniqueFd fd, const SocketAddress& peer);
  void Failed(const absl::Status& why);

  Reactor& reactor_;
  const Protocol& protocol_;
  std::string uri_;
  std::string host_;
  uint16_t port_;
  ConnectionEvents& events_;
  OutboundOptions options_;
  ServiceCounters counters_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<Connector> connector_;
  std::unique_ptr<Connection> connection_;
  bool connecting_ = false;
  TimerId reconnect_timer_ = kNoTimer;
  uint64_t connects_ = 0;
  std::function<void(const absl::Status&)> on_connect_failed_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_OUTBOUND_H_
