// StreamServer runs one service in one worker: it accepts connections on a
// listening socket, binds each to a codec of the service's protocol, and
// delivers their events to the service's ConnectionEvents (its handler).
//
//   SOCKMAN_ASSIGN_OR_RETURN(auto server,
//       StreamServer::Create(reactor, listen_fd, options, handler));
//   reactor.Run();
#ifndef SOCKMAN_PROTOCOLS_STREAM_SERVER_H_
#define SOCKMAN_PROTOCOLS_STREAM_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/base/logging.h"
#include "engine/ip_limits.h"
#include "engine/listener.h"
#include "engine/networks.h"
#include "engine/reactor.h"
#include "engine/tcp_connection.h"
#include "protocols/activity_wheel.h"
#include "protocols/connection.h"
#include "protocols/protocol.h"
#include "protocols/server.h"

namespace sockman {

// GatewayWorker's heartbeat: every `interval_ms` each connection gets
// `ping_data` (as the protocol encodes it, see Codec::EncodeHeartbeat), and a
// connection that has sent nothing for interval_ms * not_response_limit is
// closed (not_response_limit 0: pings only, silence is never closed).
struct HeartbeatOptions {
  int64_t interval_ms = 0;  // 0: no heartbeat
  uint32_t not_response_limit = 0;
  std::string ping_data;
};

// The PROXY protocol (v1 or v2, HAProxy's): a connection from a `trusted`
// address must start with a PROXY header, which names the real client
// (a missing, malformed or late header closes it); a connection from any
// other address is served as itself, and a PROXY header from it is refused
// (closed). The connection, its handler and its logs see the named client.
struct ProxyProtocolOptions {
  std::shared_ptr<const NetworkList> trusted;  // null: the PROXY protocol is off
  int64_t timeout_ms = 5000;                   // for the whole header to arrive
};

struct StreamServerOptions {
  const Protocol* protocol = nullptr;
  CodecOptions codec;
  ConnectionLimits limits;
  uint32_t max_connections = 0;  // per worker; 0 = unlimited
  int64_t idle_timeout_ms = 0;   // close after this long with no bytes either way; 0 = never
  HeartbeatOptions heartbeat;
  std::shared_ptr<const TlsContext> tls;  // set: connections speak TLS
  ProxyProtocolOptions proxy_protocol;
  // Per-client-address limits shared by the service's workers (null: none):
  // a connection over them is refused at accept, after any PROXY header.
  std::shared_ptr<IpLimits> ip_limits;
  // Token buckets on every connection's messages (null: none).
  std::shared_ptr<const RateLimitPolicy> rate_limit;
  // Slow peers, in bytes per second over `min_rate_window_ms` (0: no
  // check): a connection whose queued output leaves slower than
  // min_send_rate is closed (a slow reader); one whose message under way
  // arrives slower than min_receive_rate is timed out (a slow sender).
  uint32_t min_send_rate = 0;
  uint32_t min_receive_rate = 0;
  int64_t min_rate_window_ms = 10000;
};

class StreamServer : public Server {
 public:
  // `listen_fd` is borrowed and must outlive the server; `events` too.
  static absl::StatusOr<std::unique_ptr<StreamServer>> Create(Reactor& reactor, int listen_fd,
                                                              StreamServerOptions options,
                                                              ConnectionEvents& events);
  // Destroys every open connection.
  ~StreamServer() override;

  size_t connection_count() const override { return connections_.size(); }
  const ServiceCounters& counters() const override { return counters_; }

  // Calls `visit` for each open connection.
  void ForEachConnection(const std::function<void(Connection&)>& visit) override {
    for (auto& [id, connection] : connections_) visit(*connection);
  }

  void StopAccepting() {
    stopping_ = true;
    acceptor_->Pause();
  }
  // Stops accepting and tells every connection's codec to wind down.
  void Drain() override {
    StopAccepting();
    std::vector<Connection*> closing;
    for (auto& [id, connection] : connections_) {
      connection->codec().OnDrain();
      if (connection->codec().CloseOnDrain()) closing.push_back(connection.get());
    }
    for (Connection* connection : closing) connection->CloseGoingAway();
  }

 private:
  StreamServer(Reactor& reactor, StreamServerOptions options, ConnectionEvents& events)
      : reactor_(reactor), options_(options), events_(events) {}
  // A socket accepted: waits for its PROXY header first when the peer is
  // trusted to send one, else starts the connection.
  void Accept(UniqueFd fd, const SocketAddress& peer);
  void Start(UniqueFd fd, const SocketAddress& peer, bool refuse_proxy_header);
  // A connection a per-IP limit refused: counted, logged (at a rate), told
  // so if the protocol has words for it, closed.
  void RefuseAtAccept(UniqueFd fd, const SocketAddress& peer, IpLimits::Verdict verdict);
  // A trusted peer's socket until its PROXY header has arrived (peeked, so
  // that nothing after it is read: TLS starts clean).
  class HeaderWait : public Reactor::Watcher {
   public:
    HeaderWait(StreamServer& server, uint64_t id, UniqueFd fd, const SocketAddress& peer)
        : server_(server), id_(id), fd_(std::move(fd)), peer_(peer) {}
    ~HeaderWait() override;
    void OnEvents(uint32_t events) override;

   private:
    friend class StreamServer;
    StreamServer& server_;
    uint64_t id_;
    UniqueFd fd_;
    SocketAddress peer_;
    TimerId timer_ = kNoTimer;
    bool done_ = false;
  };
  void FinishWait(uint64_t id, const char* error, std::optional<SocketAddress> source);
  size_t open_count() const { return connections_.size() + waiting_.size(); }
  void Remove(Connection& connection);
  Connection* Find(uint64_t id) const;
  void StartPolicies();

  Reactor& reactor_;
  StreamServerOptions options_;
  ConnectionEvents& events_;
  std::unique_ptr<Acceptor> acceptor_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Connection>> connections_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<HeaderWait>> waiting_;
  uint64_t next_wait_id_ = 1;
  RateLimitedLog proxy_log_;
  RateLimitedLog limit_log_;
  ServiceCounters counters_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::unique_ptr<ActivityWheel> silence_;  // heartbeat: closes silent peers
  std::unique_ptr<ActivityWheel> idle_;     // idle_timeout_ms
  // min_send_rate / min_receive_rate: where each connection under watch
  // (output waiting, or a message under way) stood when its window began.
  struct RateMark {
    int64_t since_ms = 0;
    uint64_t written = 0;
    uint64_t read = 0;
    bool sending = false;
    bool receiving = false;
  };
  absl::flat_hash_map<uint64_t, RateMark> rate_marks_;
  TimerId rate_timer_ = kNoTimer;
  void CheckRates();
  TimerId ping_timer_ = kNoTimer;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_STREAM_SERVER_H_
