// The master's control socket (`sockman status`, `reload`, `stop`, ...): one
// request line per connection, answered by the verb of that name, then
// closed. Verbs are a table; a request no verb matches is answered with an
// error line. A verb may answer later (after asking the workers): its reply
// callback may be called once, at any time, and does nothing if the client
// left meanwhile.
//
//   std::vector<ControlVerb> verbs = {
//       {"stop", [&](ControlReply reply) { reply("stopping\n"); supervisor.StopNow(); }}};
//   SOCKMAN_ASSIGN_OR_RETURN(auto control, ControlServer::Create(reactor, fd, std::move(verbs)));
#ifndef SOCKMAN_CLI_CONTROL_SERVER_H_
#define SOCKMAN_CLI_CONTROL_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/listener.h"
#include "engine/reactor.h"
#include "engine/tcp_connection.h"

namespace sockman {

using ControlReply = std::function<void(std::string text)>;

struct ControlVerb {
  std::string request;  // the whole request line: "status --json"
  std::function<void(ControlReply reply)> run;
};

class ControlServer : private PeerTransport::Delegate {
 public:
  // Longest request line.
  static constexpr size_t kMaxRequest = 4096;

  // A listening unix socket at `path` (mode 0600; a stale file there is
  // replaced: the caller holds the pid file lock).
  static absl::StatusOr<UniqueFd> Listen(const std::string& path);

  // Serves the listening unix socket `listen_fd` (owned by the caller).
  static absl::StatusOr<std::unique_ptr<ControlServer>> Create(Reactor& reactor, int listen_fd,
                                                               std::vector<ControlVerb> verbs);
  ~ControlServer() override;

 private:
  struct Client {
    uint64_t id;
    std::unique_ptr<TcpConnection> connection;
  };
  ControlServer(Reactor& reactor, std::vector<ControlVerb> verbs)
      : reactor_(reactor), verbs_(std::move(verbs)) {}
  void Accept(UniqueFd fd);
  void Answer(uint64_t id, const std::string& reply);
  void OnData(PeerTransport& connection, Buffer& input) override;
  void OnClosed(PeerTransport& connection) override;

  Reactor& reactor_;
  std::vector<ControlVerb> verbs_;
  std::unique_ptr<Acceptor> acceptor_;
  std::vector<Client> clients_;
  uint64_t next_id_ = 1;
  // False once destroyed: late replies check it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sockman

#endif  // SOCKMAN_CLI_CONTROL_SERVER_H_
