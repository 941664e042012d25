// WorkerBus carries frames between the worker processes of one master,
// without the master on the path: each worker listens on an abstract unix
// socket named after its pid, and connects to the others on first use. The
// master only tells every worker who its peers are (SetPeers), when workers
// start or exit.
//
// Only processes the master named as peers may connect (SO_PEERCRED).
// Frames are ordered and delivered at most once per (sender, receiver) pair;
// a frame for a peer that is gone (or not listening yet) is dropped. Output
// to a slow peer is queued up to a bound, so no client is ever held up by it.
//
//   SOCKMAN_ASSIGN_OR_RETURN(auto bus, WorkerBus::Create(reactor, [](absl::string_view frame)
//   {...})); bus->SetPeers({{"chat", {101, 102}}, {"push", {103}}}); bus->SendToService("chat",
//   frame);   // to every chat worker but this one
#ifndef SOCKMAN_ENGINE_WORKER_BUS_H_
#define SOCKMAN_ENGINE_WORKER_BUS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/listener.h"
#include "engine/reactor.h"
#include "engine/tcp_connection.h"

namespace sockman {

class WorkerBus : private PeerTransport::Delegate {
 public:
  using OnFrame = std::function<void(absl::string_view frame)>;
  using Peers = std::map<std::string, std::vector<pid_t>>;  // service -> worker pids

  // Picks this master's bus namespace (random): call once in the master
  // before forking workers, which inherit it. Names are per network
  // namespace while pids are per pid namespace, so pids alone could clash
  // (containers, sandboxes).
  static void NewNamespace();

  // Listens on "\0sockman-bus-<namespace>-<pid>" for this process.
  static absl::StatusOr<std::unique_ptr<WorkerBus>> Create(Reactor& reactor, OnFrame on_frame);
  ~WorkerBus() override;

  // Where received frames go (nothing before this is set: they are dropped).
  void SetOnFrame(OnFrame on_frame) { on_frame_ = std::move(on_frame); }
  void SetPeers(Peers peers);
  const Peers& peers() const { return peers_; }
  pid_t self() const { return self_; }

  // How many workers of `service` there are besides this one.
  int PeerCount(const std::string& service) const;
  // Sends to every worker of `service` except this one; returns how many
  // peers the frame was handed to.
  int SendToService(const std::string& service, absl::string_view frame);
  // Sends to one worker; false if it cannot be reached.
  bool SendTo(pid_t pid, absl::string_view frame);
  // "peers chat=101,102;push=103" <-> Peers, for the master's notice.
  static std::string FormatPeers(const Peers& peers);
  static Peers ParsePeers(absl::string_view line);

  // Frames handed to a peer, received, and dropped (the peer gone, not
  // listening, or too far behind), for metrics.
  uint64_t frames_sent() const { return frames_sent_; }
  uint64_t frames_received() const { return frames_received_; }
  uint64_t frames_dropped() const { return frames_dropped_; }

 private:
  WorkerBus(Reactor& reactor, OnFrame on_frame)
      : reactor_(reactor), on_frame_(std::move(on_frame)) {}
  void Accept(UniqueFd fd);
  bool IsPeer(pid_t pid) const;
  TcpConnection* Outbound(pid_t pid);
  // PeerTransport::Delegate, for inbound and outbound connections.
  void OnData(PeerTransport& transport, Buffer& input) override;
  void OnClosed(PeerTransport& transport) override;

  Reactor& reactor_;
  OnFrame on_frame_;
  pid_t self_ = 0;
  UniqueFd listener_;
  std::unique_ptr<Acceptor> acceptor_;
  Peers peers_;
  std::map<pid_t, std::unique_ptr<TcpConnection>> outbound_;
  std::vector<std::unique_ptr<TcpConnection>> inbound_;
  uint64_t refused_ = 0;
  uint64_t frames_sent_ = 0;
  uint64_t frames_received_ = 0;
  uint64_t frames_dropped_ = 0;
  int64_t last_refusal_log_ms_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_WORKER_BUS_H_
