// Hub delivers messages to the clients of a service across all its worker
// processes, over the WorkerBus (no master on the path). One per worker.
//
// A broadcast service's handler registers its connections (Join/Leave) with
// their room. Anyone in any worker (the broadcast handler, the push API of
// another service) can then publish to all clients of a service, to a room,
// or to one client id, close a client, or ask who is in a room; operations
// that report back (how many were reached, who is there) sum the answers of
// every worker of the service, or give up on a worker after a second.
//
// Order: messages from one worker reach each other worker in the order they
// were published. A slow client is handled by its own send buffer rules and
// never holds up the others.
//
// In a cluster (config `global { cluster }`), publications and closes also go
// to the other nodes through Redis pub/sub (channel "sockman:SERVICE"), and
// presence lives in Redis too: each worker keeps its clients in sets that
// expire unless refreshed, so a dead node's clients disappear. When Redis is
// unreachable, local delivery goes on and the client reconnects.
#ifndef SOCKMAN_HANDLERS_MESSAGING_HUB_H_
#define SOCKMAN_HANDLERS_MESSAGING_HUB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/reactor.h"
#include "engine/redis_client.h"
#include "engine/worker_bus.h"
#include "handlers/handler.h"
#include "protocols/connection.h"

namespace sockman {

class Hub {
 public:
  enum class Scope : char { kAll = 'a', kRoom = 'r', kClient = 'c' };
  struct Target {
    Scope scope = Scope::kAll;
    std::string name;  // the room or client id
  };

  // The room a WebSocket request path names: its last segment
  // ("/rooms/lobby" -> "lobby"; "/" -> "").
  static std::string RoomFromPath(absl::string_view path);

  // This worker's hub (made on first use; needs the worker's bus).
  static Hub& ForWorker(const WorkerContext& worker);

  // A client id unique across workers, restarts and hosts' processes:
  // 20+ hex digits (worker start time, pid, connection id).
  std::string ClientId(const Connection& connection) const;

  // Local membership of this worker's service.
  void Join(Connection& connection, const std::string& room);
  void Leave(Connection& connection);
  const std::string* RoomOf(const Connection& connection) const;

  // Delivers `payload` as `kind` to the clients of `service` matching
  // `target`, in every worker and node, skipping client `exclude`. `done`,
  // if given, gets how many clients it reached. The kind travels with it:
  // a binary message reaches WebSocket clients as a binary frame.
  void Publish(const std::string& service, const Target& target, const std::string& payload,
               MessageKind kind, const std::string& exclude = "",
               std::function<void(int)> done = nullptr);
  // Closes client `client_id` of `service`; `done` gets 1 if it was found.
  void Close(const std::string& service, const std::string& client_id,
             std::function<void(int)> done);
  // The client ids in `room` of `service` (kAll: every client; kClient: the
  // one client, if online).
  void Members(const std::string& service, const Target& target,
               std::function<void(std::vector<std::string>)> done);

 private:
  struct Pending {
    int waiting = 0;
    int count = 0;
    std::vector<std::string> ids;
    TimerId timer = kNoTimer;
    std::function<void(int)> on_count;
    std::function<void(std::vector<std::string>)> on_ids;
  };

  Hub(Reactor& reactor, WorkerBus* bus, std::string service);
  void EnableCluster(const ClusterOptions& cluster);
  // Redis keys: this worker's sets, and the live workers of a service.
  std::string WorkerKey(const std::string& service) const;
  static std::string WorkersKey(const std::string& service) {
    return "sockman:" + service + ":workers";
  }
  void RefreshPresence();
  // Wraps a count callback for a single-client target so that a client on
  // another node counts (from Redis presence).
  std::function<void(int)> OnlineAnywhere(const std::string& service, const Target& target,
                                          std::function<void(int)> done);
  void OnClusterMessage(const std::string& payload);
  // Cluster-wide members from Redis (nullopt result: Redis unavailable).
  void RedisMembers(const std::string& service, const Target& target,
                    std::function<void(std::optional<std::vector<std::string>>)> done);
  // Runs `op` here and in every other worker of `service`; answers (if asked
  // for) are collected into a Pending.
  void Fan(const std::string& service, char op, const Target& target, const std::string& exclude,
           const std::string& payload, std::function<void(int)> on_count,
           std::function<void(std::vector<std::string>)> on_ids);
  // Applies an operation to this worker's clients; appends member ids for 'm'.
  int Apply(char op, const Target& target, const std::string& exclude, const std::string& payload,
            std::vector<std::string>* ids);
  void OnFrame(absl::string_view frame);
  void Answer(uint64_t request, int count, const std::vector<std::string>& ids);
  void Finish(uint64_t request);
  void UncorkAll();

  Reactor& reactor_;
  WorkerBus* bus_;       // null: a lone worker (tests)
  std::string service_;  // this worker's service
  std::string id_prefix_;
  absl::flat_hash_map<std::string, Connection*> clients_;  // by client id
  absl::flat_hash_map<std::string, absl::flat_hash_set<Connection*>> rooms_;
  absl::flat_hash_map<const Connection*, std::string> room_of_;
  absl::flat_hash_set<Connection*> corked_;  // sent to in this loop pass
  bool uncork_scheduled_ = false;
  uint64_t next_request_ = 1;
  std::map<uint64_t, Pending> pending_;
  // Cluster (all null/empty without one).
  std::string node_id_;
  std::unique_ptr<RedisClient> redis_;       // commands
  std::unique_ptr<RedisClient> subscriber_;  // pub/sub
  TimerId refresh_timer_ = kNoTimer;
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_MESSAGING_HUB_H_
