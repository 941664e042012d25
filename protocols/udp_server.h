// UdpServer runs a datagram service in one worker: each datagram is decoded
// with the service's protocol into one or more messages (a trailing partial
// message is dropped: a datagram is complete or nothing, as in Workerman),
// each handed to the handler on a Connection whose Send() answers the
// datagram's sender. Datagrams over max_package_size (at most 65507 bytes)
// are counted as datagrams_dropped and dropped.
//
// The Connection lives for its datagram: OnMessage may reply, but must not
// keep it for later unless it calls Connection::Retain(); a retained one
// lives until the handler closes it (OnClose runs then, and for those still
// retained when the server goes). OnConnect is not called, nor OnClose for
// the others (Workerman's UDP).
#ifndef SOCKMAN_PROTOCOLS_UDP_SERVER_H_
#define SOCKMAN_PROTOCOLS_UDP_SERVER_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/base/logging.h"
#include "engine/networks.h"
#include "engine/reactor.h"
#include "protocols/connection.h"
#include "protocols/protocol.h"
#include "protocols/server.h"

namespace sockman {

struct UdpServerOptions {
  const Protocol* protocol = nullptr;
  CodecOptions codec;  // codec.max_package_size bounds datagrams
  // Datagrams from these addresses must start with a PROXY v2 header (DGRAM),
  // which names the client (replies still go to the sender); from others a
  // header is refused. Null: off. Refused datagrams count as
  // proxy_header_errors.
  std::shared_ptr<const NetworkList> proxy_trusted;
};

class UdpServer : public Server, private Reactor::Watcher {
 public:
  // `fd` is a bound datagram socket, borrowed; `events` must outlive the server.
  static absl::StatusOr<std::unique_ptr<UdpServer>> Create(Reactor& reactor, int fd,
                                                           UdpServerOptions options,
                                                           ConnectionEvents& events);
  ~UdpServer() override;

  size_t connection_count() const override { return 0; }
  const ServiceCounters& counters() const override { return counters_; }
  void ForEachConnection(const std::function<void(Connection&)>& visit) override {}
  void Drain() override;

 private:
  UdpServer(Reactor& reactor, int fd, UdpServerOptions options, ConnectionEvents& events)
      : reactor_(reactor), fd_(fd), options_(options), events_(events) {}
  void OnEvents(uint32_t events) override;
  // With the PROXY protocol on: strips a trusted sender's header (setting
  // `client`); false when the datagram is dropped (logged, counted).
  bool ProxyHeaderOf(Buffer& datagram, const SocketAddress& sender,
                     std::optional<SocketAddress>& client);
  void Handle(Buffer& datagram, const SocketAddress& sender, const SocketAddress* client);

  Reactor& reactor_;
  int fd_;
  UdpServerOptions options_;
  ConnectionEvents& events_;
  ServiceCounters counters_;
  RateLimitedLog proxy_log_;
  Buffer datagram_;
  // Connections the handler retained, until they close.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Connection>> retained_;
  uint64_t next_id_ = 1;
  bool watching_ = false;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_UDP_SERVER_H_
