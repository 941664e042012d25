// Hub is GatewayWorker's Gateway for one service: it knows the clients of
// this worker (their groups, uid and session) and delivers messages to, or
// changes, the clients of a service across all its worker processes (over
// the WorkerBus; no master on the path) and, in a cluster, across nodes.
// One per worker.
//
// A service's handler (broadcast, webhook) registers its connections (Add /
// Remove). Anyone in any worker (the broadcast handler, the push API of
// another service) can then publish to every client, to groups, to client
// ids or to uids; close clients; move clients between groups; bind uids;
// read and write sessions; and ask who is there. Operations that report
// back (how many were reached, who is there) sum the answers of every
// worker of the service, or give up on a worker after a second.
//
// Groups: a client is in any number of groups (at most kMaxGroupsPerClient).
// It starts in its initial group (a WebSocket path's room, or the default
// group ""); joining a named group while in the default group alone leaves
// the default group (a move, as a single room used to be). Group names and
// uids are 1-256 bytes of UTF-8 without control characters.
//
// Order: messages from one worker reach each other worker in the order they
// were published. A slow client is handled by its own send buffer rules and
// never holds up the others.
//
// In a cluster (config `global { cluster }`), publications and changes also
// go to the other nodes through Redis pub/sub (channel "sockman:SERVICE"),
// and presence lives in Redis too: each worker keeps its clients, groups and
// uids in sets that expire unless refreshed, so a dead node's clients
// disappear. Each worker also keeps its clients' info (uid, groups,
// session, address) in a hash, so Info answers for clients on any node.
// When Redis is unreachable, local delivery goes on.
#ifndef SOCKMAN_HANDLERS_MESSAGING_HUB_H_
#define SOCKMAN_HANDLERS_MESSAGING_HUB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/metrics.h"
#include "engine/reactor.h"
#include "engine/redis_client.h"
#include "engine/worker_bus.h"
#include "handlers/handler.h"
#include "protocols/connection.h"

namespace sockman {

class Hub {
 public:
  static constexpr size_t kMaxNameSize = 256;
  // Defaults of the per-client limits (config: max_groups_per_client,
  // max_session_size of broadcast and webhook).
  static constexpr size_t kMaxGroupsPerClient = 64;
  static constexpr size_t kMaxSessionSize = 4096;
  // A session is always allowed at least this much, whatever the config says.
  static constexpr size_t kMaxSessionLimit = 1 << 20;

  enum class Scope : char { kAll = 'a', kGroup = 'r', kClient = 'c', kUid = 'u' };
  // Whom an operation is for: every client, or the union of the clients in
  // `names` (groups, client ids or uids).
  struct Target {
    Scope scope = Scope::kAll;
    std::vector<std::string> names;

    static Target All() { return {}; }
    static Target Group(std::string group) { return {Scope::kGroup, {std::move(group)}}; }
    static Target Client(std::string id) { return {Scope::kClient, {std::move(id)}}; }
    static Target Uid(std::string uid) { return {Scope::kUid, {std::move(uid)}}; }
  };
  // Changes to clients, applied wherever they are.
  enum class Change : char {
    kJoin = 'j',           // the target clients join group `argument`
    kLeave = 'l',          // ... leave it
    kDissolve = 'd',       // every client of the target groups leaves them
    kBind = 'B',           // the target clients get uid `argument`
    kUnbind = 'U',         // ... lose their uid
    kSetSession = 's',     // ... get session `argument` (a JSON object)
    kUpdateSession = 'S',  // ... get `argument`'s keys merged into theirs
  };

  // A group name or uid: 1-256 bytes of UTF-8 without control characters.
  static bool ValidName(absl::string_view name);

  // The room a WebSocket request path names: its last segment
  // ("/rooms/lobby" -> "lobby"; "/" -> ""; "" too when the segment is not
  // a valid group name).
  static std::string RoomFromPath(absl::string_view path);

  // This worker's hub (made on first use; needs the worker's bus).
  static Hub& ForWorker(const WorkerContext& worker);

  // The client id of `connection` in this worker (what ClientId returns),
  // for handlers without a hub (exec): the same for the same client.
  static std::string GlobalClientId(const WorkerContext& worker, const Connection& connection);

  // A client id unique across workers, restarts and hosts' processes:
  // 20+ hex digits (worker start time, pid, connection id).
  std::string ClientId(const Connection& connection) const;

  // Per-client limits, as a service configures them.
  struct ClientLimits {
    size_t max_groups_per_client = kMaxGroupsPerClient;
    size_t max_session_size = kMaxSessionSize;
    // A client must authenticate within this (RequireAuthentication); 0: never.
    int64_t auth_timeout_ms = 0;
    // Publications to everyone or to a group: at most one per this, the
    // latest (dashboards, tickers); 0: every one.
    int64_t conflate_ms = 0;
  };
  // The limits a handler's options (BroadcastOptions, WebhookOptions) set:
  // groups 1-4096, session 16-1048576 bytes, auth_timeout_ms 0-3600000;
  // unset fields keep the defaults.
  template <typename Options>
  static absl::StatusOr<ClientLimits> LimitsFrom(const Options& options) {
    absl::StatusOr<ClientLimits> limits =
        CheckLimits(options.has_max_groups_per_client(), options.max_groups_per_client(),
                    options.has_max_session_size(), options.max_session_size());
    if (limits.ok() && options.has_auth_timeout_ms()) {
      if (options.auth_timeout_ms() > 3'600'000) {
        return absl::InvalidArgumentError("auth_timeout_ms must be at most 3600000 (an hour)");
      }
      limits->auth_timeout_ms = options.auth_timeout_ms();
    }
    if (limits.ok() && options.has_conflate_ms()) {
      if (options.conflate_ms() > 60'000) {
        return absl::InvalidArgumentError("conflate_ms must be at most 60000");
      }
      limits->conflate_ms = options.conflate_ms();
    }
    return limits;
  }

  // Sets this worker's per-client limits (its handler's config).
  void SetLimits(const ClientLimits& limits) {
    max_groups_ = limits.max_groups_per_client;
    max_session_ = limits.max_session_size;
    auth_timeout_ms_ = limits.auth_timeout_ms;
    conflate_ms_ = limits.conflate_ms;
  }
  size_t max_groups_per_client() const { return max_groups_; }
  size_t max_session_size() const { return max_session_; }

  // This process's hub, or null if nothing made one.
  static const Hub* IfMade();

  // Publications from this worker, deliveries to its clients (from any
  // publisher), the fan-out latency, authentication timeouts, conflation
  // and, in a cluster, Redis and relay figures (docs/metrics.md).
  void AppendMetrics(MetricSamples& samples) const;

  // --- This worker's clients of its service ---
  // Registers a client, in `initial_group`.
  void Add(Connection& connection, const std::string& initial_group);
  void Remove(Connection& connection);
  bool Contains(const Connection& connection) const;
  // False when the client is in max_groups_per_client() groups already.
  bool JoinGroup(Connection& connection, const std::string& group);
  void LeaveGroup(Connection& connection, const std::string& group);
  // The client's groups, sorted (empty if not added).
  std::vector<std::string> GroupsOf(const Connection& connection) const;
  void BindUid(Connection& connection, const std::string& uid);
  // Closes the client (WebSocket 1008 "authentication timeout") unless it
  // authenticates within `timeout_ms`: a verified token at connect, a uid
  // bound (BindUid), or MarkAuthenticated (a webhook's X-Sockman-Auth: ok).
  void RequireAuthentication(Connection& connection, int64_t timeout_ms);
  void MarkAuthenticated(Connection& connection);
  // A second name for the client, which `exclude` lists may use instead of
  // its id (a Pusher socket id); unique, like ids. Forgotten at Remove.
  void SetAlias(Connection& connection, const std::string& alias);
  void UnbindUid(Connection& connection);
  std::string UidOf(const Connection& connection) const;
  // The client's session, a JSON object ("{}" when empty or not added).
  std::string SessionOf(const Connection& connection) const;
  // Replaces (or, merging, updates) the session with a JSON object; false
  // when it is not one or the result would exceed max_session_size().
  bool SetSession(Connection& connection, absl::string_view json_object, bool merge);

  // --- Operations on the clients of `service`, in every worker and node ---
  // Delivers `payload` as `kind` to the target clients, skipping the client
  // ids in `exclude`. `done`, if given, gets how many clients it reached.
  // The kind travels with it: a binary message reaches WebSocket clients as
  // a binary frame.
  void Publish(const std::string& service, const Target& target, const std::string& payload,
               MessageKind kind, const std::vector<std::string>& exclude = {},
               std::function<void(int)> done = nullptr);
  // Closes the target clients, after `last_message` (text) if not empty;
  // `done` gets how many were found.
  void Close(const std::string& service, const Target& target, const std::string& last_message,
             std::function<void(int)> done);
  // The same, with a close status (a WebSocket close code and reason), after
  // `last_message` (text) if not empty.
  void CloseWithStatus(const std::string& service, const Target& target, uint16_t code,
                       const std::string& reason, const std::string& last_message,
                       std::function<void(int)> done);
  // Applies `change` to the target clients; `done` gets how many changed.
  void Apply(const std::string& service, Change change, const Target& target,
             const std::string& argument, std::function<void(int)> done);
  // The client ids of the target, sorted.
  void Members(const std::string& service, const Target& target,
               std::function<void(std::vector<std::string>)> done);
  // One JSON object per online target client: {"client_id","uid","groups",
  // "session","remote_address","connected_at"}.
  void Info(const std::string& service, const Target& target,
            std::function<void(std::vector<std::string>)> done);
  // The non-empty groups (kGroup) or bound uids (kUid) of the service, sorted.
  void Names(const std::string& service, Scope scope,
             std::function<void(std::vector<std::string>)> done);

 private:
  struct Client {
    Connection* connection = nullptr;
    std::string id;
    std::set<std::string> groups;
    std::string uid;
    std::string session = "{}";
    int64_t connected_at = 0;       // unix seconds
    TimerId auth_timer = kNoTimer;  // RequireAuthentication's deadline
    std::string alias;              // SetAlias's, or empty
  };
  struct Pending {
    int waiting = 0;
    int count = 0;
    std::vector<std::string> lines;
    TimerId timer = kNoTimer;
    std::function<void(int)> on_count;
    std::function<void(std::vector<std::string>)> on_lines;
  };

  Hub(Reactor& reactor, WorkerBus* bus, std::string service, std::string id_prefix);
  static absl::StatusOr<ClientLimits> CheckLimits(bool has_groups, uint32_t groups,
                                                  bool has_session, uint32_t session);
  // "[NODE-]START PID": this process's prefix of client ids.
  static std::string IdPrefix(const WorkerContext& worker);
  void EnableCluster(const ClusterOptions& cluster);
  // Redis keys: this worker's sets, and the live workers of a service.
  std::string WorkerKey(const std::string& service) const;
  static std::string WorkersKey(const std::string& service) {
    return "sockman:" + service + ":workers";
  }
  void RefreshPresence();
  void WritePresence(const Client& client);
  // In a cluster, the client's info (InfoJson) in this worker's ":info"
  // hash, so that any node can answer Info about it.
  void WriteInfo(const Client& client);
  void Presence(const std::vector<std::string>& command);
  // Wraps a count callback so that, in a cluster, the target's clients on
  // other nodes count (from Redis presence), less those excluded.
  std::function<void(int)> OnlineAnywhere(const std::string& service, const Target& target,
                                          const std::vector<std::string>& exclude,
                                          std::function<void(int)> done);
  void OnClusterMessage(const std::string& payload);
  // Cluster-wide names from Redis presence: the ids of a target ('m'), group
  // or uid names ('G', 'K'), or the info of the clients a kClient target
  // names or of all ('i') (nullopt: Redis unavailable).
  void RedisQuery(const std::string& service, char op, const Target& target,
                  std::function<void(std::optional<std::vector<std::string>>)> done);
  // Runs `op` here and in every other worker of `service` (and, for
  // publications and changes, every other node); answers, if asked for,
  // are collected into a Pending.
  void Fan(const std::string& service, char op, const Target& target,
           const std::vector<std::string>& exclude, const std::string& payload,
           std::function<void(int)> on_count,
           std::function<void(std::vector<std::string>)> on_lines);
  // Applies an operation to this worker's clients; appends answer lines.
  // Publications to everyone or to one group go through Conflate when the
  // service conflates (conflate_ms).
  int Run(char op, const Target& target, const std::vector<std::string>& exclude,
          const std::string& payload, std::vector<std::string>* lines);
  int RunNow(char op, const Target& target, const std::vector<std::string>& exclude,
             const std::string& payload, std::vector<std::string>* lines);
  // At most one publication per conflate_ms per target, the latest: the
  // first at once, then what came last in each window at its end.
  int Conflate(char op, const Target& target, const std::vector<std::string>& exclude,
               const std::string& payload);
  void FlushConflated(const std::string& key);
  // This worker's clients in `target`, each once.
  std::vector<Client*> Resolve(const Target& target);
  Client* Find(const Connection& connection);
  const Client* Find(const Connection& connection) const;
  void Leave(Client& client, std::string group);
  void Unbind(Client& client);
  std::string InfoJson(const Client& client) const;
  // A bus frame, or (from_node) another node's operation relayed by Redis.
  void OnFrame(absl::string_view frame, bool from_node = false);
  void Answer(uint64_t request, int count, const std::vector<std::string>& lines);
  void Finish(uint64_t request);
  void UncorkAll();

  // The client space of a service named in an operation (see WorkerContext::hubs).
  const std::string& Key(const std::string& service) const;

  Reactor& reactor_;
  WorkerBus* bus_;                           // null: a lone worker (tests)
  std::string service_;                      // this worker's client space: its service, or its hub
  std::map<std::string, std::string> hubs_;  // service -> hub
  size_t max_groups_ = kMaxGroupsPerClient;
  size_t max_session_ = kMaxSessionSize;
  int64_t auth_timeout_ms_ = 0;
  int64_t conflate_ms_ = 0;
  // Conflation: per target, the publication held for the end of its window.
  struct Conflated {
    bool pending = false;
    char op = 'p';
    Target target;
    std::vector<std::string> exclude;
    std::string payload;
    TimerId timer = kNoTimer;
  };
  absl::flat_hash_map<std::string, Conflated> conflated_;
  uint64_t conflated_away_ = 0;  // publications replaced by a later one
  std::string id_prefix_;
  absl::node_hash_map<std::string, Client> clients_;       // by client id
  absl::flat_hash_map<std::string, std::string> aliases_;  // SetAlias: alias -> client id
  absl::flat_hash_map<const Connection*, Client*> by_connection_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<Client*>> groups_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<Client*>> uids_;
  absl::flat_hash_set<Connection*> corked_;  // sent to in this loop pass
  bool uncork_scheduled_ = false;
  uint64_t next_request_ = 1;
  uint64_t publishes_ = 0;
  uint64_t deliveries_ = 0;
  uint64_t auth_timeouts_ = 0;
  // Publications this worker delivered from this node: from Publish (here
  // or in another worker) to the last recipient here.
  LatencyHistogram fanout_;
  std::map<uint64_t, Pending> pending_;
  // Cluster (all null/empty without one).
  std::string node_id_;
  const Client* removing_ = nullptr;         // being removed: its info is deleted, not rewritten
  std::unique_ptr<RedisClient> redis_;       // commands
  std::unique_ptr<RedisClient> subscriber_;  // pub/sub
  TimerId refresh_timer_ = kNoTimer;
  uint64_t cluster_out_ = 0;        // operations published to the other nodes
  uint64_t cluster_in_ = 0;         // ... received from them
  uint64_t cluster_unrelayed_ = 0;  // ... not published: Redis was down
  LatencyHistogram relay_lag_;      // another node's Publish to its arrival here
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_MESSAGING_HUB_H_
