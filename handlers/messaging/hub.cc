#include "handlers/messaging/hub.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/base/clock.h"
#include "engine/base/json.h"
#include "protocols/websocket/frame.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sockman {
namespace {

// How long an operation waits for the other workers' answers.
constexpr int64_t kAnswerTimeoutMs = 1000;
// Cluster presence: refreshed this often, gone this long after the last refresh.
constexpr int64_t kRefreshMs = 5000;
constexpr int64_t kPresenceTtlMs = 15000;

// Bus frames (and, prefixed with the node id and a newline, cluster messages):
//   op(1) request(8) reply_to(4) sent_at(8) scope(1) names exclude payload
//   'A' request(8) count(4) lines
// names and exclude are lists (see PutList); answer lines are '\n'-joined
// (ids, names without control bytes, JSON without raw newlines).
// Operations: 'p' publish text, 'b' publish binary, 'x' close, 'X' close
// with a status (payload: CODE \n REASON \n LAST_MESSAGE), Change values
// (join, leave, ...), and queries 'm' members, 'i' info, 'G' group names,
// 'K' uids. sent_at: when the operation began, in wall-clock nanoseconds
// (one clock for a node's workers), for the fan-out and relay latencies.
void PutInt(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

bool GetInt(absl::string_view& in, int bytes, uint64_t& value) {
  if (in.size() < static_cast<size_t>(bytes)) return false;
  value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(bytes);
  return true;
}

// A list: its size(4), then each item as size(2) and bytes.
bool GetList(absl::string_view& in, std::vector<std::string>& list) {
  uint64_t count;
  if (!GetInt(in, 4, count) || count > in.size() / 2) return false;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t size;
    if (!GetInt(in, 2, size) || in.size() < size) return false;
    list.emplace_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  return true;
}

void PutList(std::string& out, const std::vector<std::string>& list) {
  PutInt(out, list.size(), 4);
  for (const std::string& item : list) {
    PutInt(out, item.size(), 2);  // names and ids are short (kMaxNameSize)
    out += item;
  }
}

std::string EncodeFrame(char op, uint64_t request, int64_t sent_at, const Hub::Target& target,
                        const std::vector<std::string>& exclude, const std::string& payload) {
  std::string frame;
  frame.reserve(40 + payload.size());
  frame.push_back(op);
  PutInt(frame, request, 8);
  PutInt(frame, static_cast<uint64_t>(getpid()), 4);
  PutInt(frame, static_cast<uint64_t>(sent_at), 8);
  frame.push_back(static_cast<char>(target.scope));
  PutList(frame, target.names);
  PutList(frame, exclude);
  frame += payload;
  return frame;
}

bool IsPublication(char op) { return op == 'p' || op == 'b'; }

// Seconds from `since` (wall-clock nanoseconds) to now; 0 if the clocks disagree.
double SecondsSince(int64_t since) {
  return static_cast<double>(std::max<int64_t>(absl::GetCurrentTimeNanos() - since, 0)) / 1e9;
}
// Operations that change clients, which other nodes apply too.
bool IsChange(char op) {
  return op == 'x' || op == 'X' || op == 'j' || op == 'l' || op == 'd' || op == 'B' || op == 'U' ||
         op == 's' || op == 'S';
}

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Parses a JSON object (iteratively: no recursion on hostile nesting).
bool ParseObject(absl::string_view json, rapidjson::Document& document) {
  document.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
      json.data(), json.size());
  return !document.HasParseError() && document.IsObject();
}

}  // namespace

bool Hub::ValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameSize || !IsUtf8(name)) return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

absl::StatusOr<Hub::ClientLimits> Hub::CheckLimits(bool has_groups, uint32_t groups,
                                                   bool has_session, uint32_t session) {
  ClientLimits limits;
  if (has_groups) {
    if (groups < 1 || groups > 4096) {
      return absl::InvalidArgumentError("max_groups_per_client must be between 1 and 4096");
    }
    limits.max_groups_per_client = groups;
  }
  if (has_session) {
    if (session < 16 || session > kMaxSessionLimit) {
      return absl::InvalidArgumentError("max_session_size must be between 16 and 1048576");
    }
    limits.max_session_size = session;
  }
  return limits;
}

namespace {
Hub* worker_hub = nullptr;  // this process's (made on first use)
}  // namespace

Hub& Hub::ForWorker(const WorkerContext& worker) {
  if (worker_hub == nullptr) {
    worker_hub =
        new Hub(worker.reactor, worker.bus, HubOf(worker, worker.service), IdPrefix(worker));
    if (worker.hubs != nullptr) worker_hub->hubs_ = *worker.hubs;
    if (worker.cluster != nullptr) worker_hub->EnableCluster(*worker.cluster);
  }
  return *worker_hub;
}

const Hub* Hub::IfMade() { return worker_hub; }

void Hub::AppendMetrics(MetricSamples& samples) const {
  samples.Counter("sockman_broadcast_publishes", publishes_);
  samples.Counter("sockman_broadcast_deliveries", deliveries_);
  samples.Histogram("sockman_broadcast_fanout_seconds", fanout_);
  samples.Counter("sockman_auth_timeouts", auth_timeouts_);
  samples.Counter("sockman_broadcast_conflated", conflated_away_);
  if (redis_ == nullptr) return;
  samples.Gauge("sockman_redis_up", redis_->connected() ? 1 : 0, {{"client", "commands"}});
  samples.Gauge("sockman_redis_up", subscriber_->connected() ? 1 : 0, {{"client", "subscriber"}});
  samples.Counter("sockman_cluster_messages", cluster_out_, {{"direction", "out"}});
  samples.Counter("sockman_cluster_messages", cluster_in_, {{"direction", "in"}});
  samples.Counter("sockman_cluster_messages_unrelayed", cluster_unrelayed_);
  samples.Histogram("sockman_cluster_relay_lag_seconds", relay_lag_);
}

std::string Hub::IdPrefix(const WorkerContext& worker) {
  // Worker start time and pid: no two live or past workers share both. Ids
  // carry the node too in a cluster: unique across its hosts.
  static const int64_t started = SystemClock().WallSeconds();
  std::string prefix =
      absl::StrCat(absl::Hex(started, absl::kZeroPad8), absl::Hex(getpid(), absl::kZeroPad6));
  if (worker.cluster != nullptr) prefix = absl::StrCat(worker.cluster->node_id, "-", prefix);
  return prefix;
}

std::string Hub::GlobalClientId(const WorkerContext& worker, const Connection& connection) {
  return absl::StrCat(IdPrefix(worker), absl::Hex(connection.id(), absl::kZeroPad6));
}

Hub::Hub(Reactor& reactor, WorkerBus* bus, std::string service, std::string id_prefix)
    : reactor_(reactor), bus_(bus), service_(std::move(service)), id_prefix_(std::move(id_prefix)) {
  if (bus_ != nullptr) bus_->SetOnFrame([this](absl::string_view frame) { OnFrame(frame); });
}

void Hub::EnableCluster(const ClusterOptions& cluster) {
  node_id_ = cluster.node_id;
  redis_ = std::make_unique<RedisClient>(reactor_, cluster.redis, "cluster");
  subscriber_ = std::make_unique<RedisClient>(reactor_, cluster.redis, "cluster pub/sub");
  // After a (re)connection Redis may have lost everything: write it again.
  redis_->SetOnConnected([this] {
    for (const auto& [id, client] : clients_) WritePresence(client);
    RefreshPresence();
  });
  subscriber_->Subscribe(
      "sockman:" + service_,
      [this](const std::string&, const std::string& payload) { OnClusterMessage(payload); });
  redis_->Start();
  subscriber_->Start();
  refresh_timer_ = reactor_.AddRepeatingTimer(kRefreshMs, [this] { RefreshPresence(); });
}

std::string Hub::WorkerKey(const std::string& service) const {
  return absl::StrCat("sockman:", service, ":w:", node_id_, ":", getpid());
}

void Hub::Presence(const std::vector<std::string>& command) {
  if (redis_ != nullptr && redis_->connected()) redis_->Command(command);
}

void Hub::WritePresence(const Client& client) {
  std::string key = WorkerKey(service_);
  Presence({"SADD", key + ":clients", client.id});
  for (const std::string& group : client.groups) {
    Presence({"SADD", key + ":room:" + group, client.id});
    Presence({"SADD", key + ":groups", group});
  }
  if (!client.uid.empty()) {
    Presence({"SADD", key + ":uid:" + client.uid, client.id});
    Presence({"SADD", key + ":uids", client.uid});
  }
  WriteInfo(client);
}

void Hub::WriteInfo(const Client& client) {
  if (redis_ == nullptr || !redis_->connected() || removing_ == &client) return;
  redis_->Command({"HSET", WorkerKey(service_) + ":info", client.id, InfoJson(client)});
}

void Hub::RefreshPresence() {
  if (redis_ == nullptr || !redis_->connected() || clients_.empty()) return;
  std::string ttl = absl::StrCat(kPresenceTtlMs / 1000);
  int64_t now = SystemClock().WallSeconds();
  std::string key = WorkerKey(service_);
  redis_->Command(
      {"ZADD", WorkersKey(service_), absl::StrCat(now), absl::StrCat(node_id_, ":", getpid())});
  // Forget workers (of any node) silent for a minute: restarts add members.
  redis_->Command({"ZREMRANGEBYSCORE", WorkersKey(service_), "-inf", absl::StrCat(now - 60)});
  for (const char* set : {":clients", ":groups", ":uids", ":info"}) {
    redis_->Command({"EXPIRE", key + set, ttl});
  }
  for (const auto& [group, members] : groups_)
    redis_->Command({"EXPIRE", key + ":room:" + group, ttl});
  for (const auto& [uid, members] : uids_) redis_->Command({"EXPIRE", key + ":uid:" + uid, ttl});
}

void Hub::OnClusterMessage(const std::string& payload) {
  size_t newline = payload.find('\n');
  if (newline == std::string::npos) return;
  if (absl::string_view(payload).substr(0, newline) == node_id_) return;  // ours: sent by the bus
  ++cluster_in_;
  OnFrame(absl::string_view(payload).substr(newline + 1), /*from_node=*/true);
}

void Hub::RedisQuery(const std::string& named, char op, const Target& target,
                     std::function<void(std::optional<std::vector<std::string>>)> done) {
  std::string service = Key(named);
  if (redis_ == nullptr || !redis_->connected()) {
    done(std::nullopt);
    return;
  }
  int64_t oldest = SystemClock().WallSeconds() - kPresenceTtlMs / 1000;
  redis_->Command(
      {"ZRANGEBYSCORE", WorkersKey(service), absl::StrCat(oldest), "+inf"},
      [this, service, op, target, done](const RedisValue* workers) {
        if (workers == nullptr || workers->type != RedisValue::kArray) {
          done(std::nullopt);
          return;
        }
        struct Gather {
          int waiting = 0;
          bool failed = false;
          std::set<std::string> names;
          std::function<void(std::optional<std::vector<std::string>>)> done;
        };
        auto gather = std::make_shared<Gather>();
        gather->done = done;
        // Each query, and for a membership test the id it asks about.
        std::vector<std::pair<std::vector<std::string>, std::string>> queries;
        for (const RedisValue& worker : workers->elements) {
          std::string key = absl::StrCat("sockman:", service, ":w:", worker.str);
          if (op == 'i' && target.scope == Scope::kAll) {
            queries.push_back({{"HVALS", key + ":info"}, ""});
          } else if (op == 'i') {  // the info of the clients `target` names
            if (target.names.empty()) continue;
            std::vector<std::string> command = {"HMGET", key + ":info"};
            command.insert(command.end(), target.names.begin(), target.names.end());
            queries.push_back({std::move(command), ""});
          } else if (op == 'G') {
            queries.push_back({{"SMEMBERS", key + ":groups"}, ""});
          } else if (op == 'K') {
            queries.push_back({{"SMEMBERS", key + ":uids"}, ""});
          } else if (target.scope == Scope::kAll) {
            queries.push_back({{"SMEMBERS", key + ":clients"}, ""});
          } else {
            for (const std::string& name : target.names) {
              if (target.scope == Scope::kClient) {
                queries.push_back({{"SISMEMBER", key + ":clients", name}, name});
              } else {
                const char* set = target.scope == Scope::kGroup ? ":room:" : ":uid:";
                queries.push_back({{"SMEMBERS", key + set + name}, ""});
              }
            }
          }
        }
        gather->waiting = static_cast<int>(queries.size());
        if (gather->waiting == 0) {
          done(std::vector<std::string>());
          return;
        }
        for (auto& [command, asked] : queries) {
          redis_->Command(command, [gather, asked = asked](const RedisValue* reply) {
            if (reply == nullptr || reply->type == RedisValue::kError) {
              gather->failed = true;
            } else if (reply->type == RedisValue::kInteger) {
              if (reply->integer == 1) gather->names.insert(asked);
            } else {
              for (const RedisValue& name : reply->elements) {
                if (name.type == RedisValue::kString) gather->names.insert(name.str);  // not nil
              }
            }
            if (--gather->waiting > 0) return;
            if (gather->failed) {
              gather->done(std::nullopt);
              return;
            }
            gather->done(std::vector<std::string>(gather->names.begin(), gather->names.end()));
          });
        }
      });
}

std::string Hub::ClientId(const Connection& connection) const {
  return absl::StrCat(id_prefix_, absl::Hex(connection.id(), absl::kZeroPad6));
}

std::string Hub::RoomFromPath(absl::string_view path) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (parts.empty()) return "";
  // A segment that cannot be a group name (too long, not UTF-8) names none:
  // the client starts in the default group.
  return ValidName(parts.back()) ? std::string(parts.back()) : "";
}
Hub::Client* Hub::Find(const Connection& connection) {
  auto it = by_connection_.find(&connection);
  return it == by_connection_.end() ? nullptr : it->second;
}

const Hub::Client* Hub::Find(const Connection& connection) const {
  auto it = by_connection_.find(&connection);
  return it == by_connection_.end() ? nullptr : it->second;
}

namespace {

// Whether a token's restriction (groups_claim with restrict_groups) lets
// the client into `group`; the default group is everyone's.
bool MayJoin(const Connection& connection, const std::string& group) {
  const ClientIdentity* who = connection.identity();
  return who == nullptr || !who->restrict_groups || group.empty() ||
         std::find(who->groups.begin(), who->groups.end(), group) != who->groups.end();
}

}  // namespace

void Hub::Add(Connection& connection, const std::string& initial_group) {
  if (Find(connection) != nullptr) return;
  std::string id = ClientId(connection);
  Client& client = clients_[id];
  client.connection = &connection;
  client.id = id;
  client.connected_at = SystemClock().WallSeconds();
  by_connection_[&connection] = &client;
  // A room the client's token does not allow: it starts in the default group.
  const std::string& group = MayJoin(connection, initial_group) ? initial_group : "";
  client.groups.insert(group);
  groups_[group].insert(&client);
  bool first = clients_.size() == 1;
  WritePresence(client);
  if (first) RefreshPresence();
  // Who a verified token says the client is: its uid, and the groups it is
  // placed in (unless they only restrict where it may go).
  if (const ClientIdentity* who = connection.identity()) {
    if (ValidName(who->uid)) BindUid(connection, who->uid);
    if (!who->restrict_groups) {
      for (const std::string& named : who->groups) {
        if (ValidName(named)) JoinGroup(connection, named);
      }
    }
  }
  if (auth_timeout_ms_ > 0) RequireAuthentication(connection, auth_timeout_ms_);
}

void Hub::Remove(Connection& connection) {
  Client* client = Find(connection);
  if (client == nullptr) return;
  removing_ = client;
  reactor_.CancelTimer(client->auth_timer);
  while (!client->groups.empty()) Leave(*client, *client->groups.begin());
  Unbind(*client);
  removing_ = nullptr;
  Presence({"SREM", WorkerKey(service_) + ":clients", client->id});
  Presence({"HDEL", WorkerKey(service_) + ":info", client->id});
  by_connection_.erase(&connection);
  corked_.erase(&connection);
  if (!client->alias.empty()) aliases_.erase(client->alias);
  clients_.erase(client->id);
}

void Hub::SetAlias(Connection& connection, const std::string& alias) {
  Client* client = Find(connection);
  if (client == nullptr) return;
  if (!client->alias.empty()) aliases_.erase(client->alias);
  client->alias = alias;
  aliases_[alias] = client->id;
}

bool Hub::Contains(const Connection& connection) const { return Find(connection) != nullptr; }

bool Hub::JoinGroup(Connection& connection, const std::string& group) {
  Client* client = Find(connection);
  if (client == nullptr || !MayJoin(connection, group)) return false;
  if (client->groups.contains(group)) return true;
  // Joining a named group from the default group alone is a move.
  if (!group.empty() && client->groups.size() == 1 && client->groups.contains("")) {
    Leave(*client, "");
  }
  if (client->groups.size() >= max_groups_) return false;
  client->groups.insert(group);
  bool first = groups_[group].empty();
  groups_[group].insert(client);
  std::string key = WorkerKey(service_);
  Presence({"SADD", key + ":room:" + group, client->id});
  if (first) {
    Presence({"SADD", key + ":groups", group});
    Presence({"EXPIRE", key + ":room:" + group, absl::StrCat(kPresenceTtlMs / 1000)});
  }
  WriteInfo(*client);
  return true;
}

void Hub::LeaveGroup(Connection& connection, const std::string& group) {
  if (Client* client = Find(connection)) Leave(*client, group);
}

void Hub::Leave(Client& client, std::string group) {  // a copy: it may name the erased element
  if (client.groups.erase(group) == 0) return;
  std::string key = WorkerKey(service_);
  Presence({"SREM", key + ":room:" + group, client.id});
  auto it = groups_.find(group);
  if (it == groups_.end()) return;
  it->second.erase(&client);
  if (it->second.empty()) {
    groups_.erase(it);
    Presence({"SREM", key + ":groups", group});
  }
  WriteInfo(client);
}

std::vector<std::string> Hub::GroupsOf(const Connection& connection) const {
  const Client* client = Find(connection);
  if (client == nullptr) return {};
  return std::vector<std::string>(client->groups.begin(), client->groups.end());
}

void Hub::RequireAuthentication(Connection& connection, int64_t timeout_ms) {
  Client* client = Find(connection);
  if (client == nullptr || connection.identity() != nullptr || !client->uid.empty()) return;
  client->auth_timer = reactor_.AddTimer(timeout_ms, [this, id = client->id] {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    it->second.auth_timer = kNoTimer;
    ++auth_timeouts_;
    it->second.connection->CloseWithStatus(1008, "authentication timeout", CloseReason::kAuth);
  });
}

void Hub::MarkAuthenticated(Connection& connection) {
  Client* client = Find(connection);
  if (client == nullptr || client->auth_timer == kNoTimer) return;
  reactor_.CancelTimer(client->auth_timer);
  client->auth_timer = kNoTimer;
}

void Hub::BindUid(Connection& connection, const std::string& uid) {
  Client* client = Find(connection);
  if (client == nullptr) return;
  MarkAuthenticated(connection);  // a uid is who the client is
  if (client->uid == uid) return;
  Unbind(*client);
  client->uid = uid;
  connection.set_rate_uid(uid);
  uids_[uid].insert(client);
  std::string key = WorkerKey(service_);
  Presence({"SADD", key + ":uid:" + uid, client->id});
  Presence({"SADD", key + ":uids", uid});
  Presence({"EXPIRE", key + ":uid:" + uid, absl::StrCat(kPresenceTtlMs / 1000)});
  WriteInfo(*client);
}

void Hub::UnbindUid(Connection& connection) {
  if (Client* client = Find(connection)) Unbind(*client);
}

void Hub::Unbind(Client& client) {
  if (client.uid.empty()) return;
  client.connection->set_rate_uid("");
  std::string key = WorkerKey(service_);
  Presence({"SREM", key + ":uid:" + client.uid, client.id});
  auto it = uids_.find(client.uid);
  if (it != uids_.end()) {
    it->second.erase(&client);
    if (it->second.empty()) {
      uids_.erase(it);
      Presence({"SREM", key + ":uids", client.uid});
    }
  }
  client.uid.clear();
  WriteInfo(client);
}

std::string Hub::UidOf(const Connection& connection) const {
  const Client* client = Find(connection);
  return client == nullptr ? "" : client->uid;
}

std::string Hub::SessionOf(const Connection& connection) const {
  const Client* client = Find(connection);
  return client == nullptr ? "{}" : client->session;
}

bool Hub::SetSession(Connection& connection, absl::string_view json_object, bool merge) {
  Client* client = Find(connection);
  if (client == nullptr) return false;
  rapidjson::Document update;
  if (!ParseObject(json_object, update)) return false;
  std::string result;
  if (!merge) {
    result = Serialize(update);
  } else {
    rapidjson::Document session;
    if (!ParseObject(client->session, session)) session.SetObject();
    for (auto& member : update.GetObject()) {
      session.RemoveMember(member.name);
      if (!member.value.IsNull()) {  // null deletes the key
        session.AddMember(rapidjson::Value(member.name, session.GetAllocator()),
                          rapidjson::Value(member.value, session.GetAllocator()),
                          session.GetAllocator());
      }
    }
    result = Serialize(session);
  }
  if (result.size() > max_session_) return false;
  client->session = std::move(result);
  WriteInfo(*client);
  return true;
}

void Hub::Publish(const std::string& service, const Target& target, const std::string& payload,
                  MessageKind kind, const std::vector<std::string>& exclude,
                  std::function<void(int)> done) {
  ++publishes_;
  Fan(service, kind == MessageKind::kBinary ? 'b' : 'p', target, exclude, payload,
      OnlineAnywhere(service, target, exclude, std::move(done)), nullptr);
}

void Hub::Close(const std::string& service, const Target& target, const std::string& last_message,
                std::function<void(int)> done) {
  Fan(service, 'x', target, {}, last_message, OnlineAnywhere(service, target, {}, std::move(done)),
      nullptr);
}

void Hub::CloseWithStatus(const std::string& service, const Target& target, uint16_t code,
                          const std::string& reason, const std::string& last_message,
                          std::function<void(int)> done) {
  Fan(service, 'X', target, {}, absl::StrCat(code, "\n", reason, "\n", last_message),
      OnlineAnywhere(service, target, {}, std::move(done)), nullptr);
}

void Hub::Apply(const std::string& service, Change change, const Target& target,
                const std::string& argument, std::function<void(int)> done) {
  // Changes to a client elsewhere count once it exists (presence).
  bool one = target.scope == Scope::kClient;
  if (change == Change::kDissolve && redis_ != nullptr && done) {
    // Every member leaves, on any node: count them (from presence) before
    // they do.
    RedisQuery(
        service, 'm', target,
        [this, service, target, done](std::optional<std::vector<std::string>> ids) {
          size_t members = ids.has_value() ? ids->size() : 0;
          Fan(
              service, static_cast<char>(Change::kDissolve), target, {}, "",
              [members, done](int count) { done(std::max(count, static_cast<int>(members))); },
              nullptr);
        });
    return;
  }
  Fan(service, static_cast<char>(change), target, {}, argument,
      one ? OnlineAnywhere(service, target, {}, std::move(done)) : std::move(done), nullptr);
}

std::function<void(int)> Hub::OnlineAnywhere(const std::string& service, const Target& target,
                                             const std::vector<std::string>& exclude,
                                             std::function<void(int)> done) {
  // In a cluster, clients on other nodes were reached through Redis, and
  // they answer nobody: count the target's clients from Redis presence
  // (this node's count when Redis cannot say).
  if (!done || redis_ == nullptr) return done;
  return [this, service, target, exclude, done](int count) {
    RedisQuery(service, 'm', target,
               [count, exclude, done](std::optional<std::vector<std::string>> ids) {
                 if (!ids.has_value()) return done(count);
                 int online = static_cast<int>(ids->size());
                 for (const std::string& id : exclude) {
                   if (std::binary_search(ids->begin(), ids->end(), id)) --online;
                 }
                 done(std::max(count, online));
               });
  };
}

void Hub::Members(const std::string& service, const Target& target,
                  std::function<void(std::vector<std::string>)> done) {
  auto sorted = [done](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    done(std::move(ids));
  };
  if (redis_ == nullptr) {
    Fan(service, 'm', target, {}, "", nullptr, sorted);
    return;
  }
  // Cluster-wide from Redis; this node's workers alone if Redis is down.
  RedisQuery(service, 'm', target,
             [this, service, target, sorted](std::optional<std::vector<std::string>> ids) {
               if (ids.has_value()) {
                 sorted(std::move(*ids));
               } else {
                 Fan(service, 'm', target, {}, "", nullptr, sorted);
               }
             });
}

void Hub::Info(const std::string& service, const Target& target,
               std::function<void(std::vector<std::string>)> done) {
  auto local = [this, service, target, done] {
    Fan(service, 'i', target, {}, "", nullptr, [done](std::vector<std::string> lines) {
      std::sort(lines.begin(), lines.end());
      done(std::move(lines));
    });
  };
  if (redis_ == nullptr) return local();
  // Cluster-wide from the workers' info hashes (the target's ids first,
  // unless it names them); this node's workers alone if Redis is down.
  auto from_hashes = [this, service, local, done](const Target& clients) {
    RedisQuery(service, 'i', clients, [local, done](std::optional<std::vector<std::string>> infos) {
      if (!infos.has_value()) return local();
      done(std::move(*infos));  // sorted: a set's order
    });
  };
  if (target.scope == Scope::kClient || target.scope == Scope::kAll) return from_hashes(target);
  RedisQuery(service, 'm', target,
             [local, from_hashes](std::optional<std::vector<std::string>> ids) {
               if (!ids.has_value()) return local();
               from_hashes(Target{Scope::kClient, std::move(*ids)});
             });
}

void Hub::Names(const std::string& service, Scope scope,
                std::function<void(std::vector<std::string>)> done) {
  char op = scope == Scope::kUid ? 'K' : 'G';
  auto sorted = [done](std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    done(std::move(names));
  };
  if (redis_ == nullptr) {
    Fan(service, op, Target::All(), {}, "", nullptr, sorted);
    return;
  }
  RedisQuery(service, op, Target::All(),
             [this, service, op, sorted](std::optional<std::vector<std::string>> names) {
               if (names.has_value()) {
                 sorted(std::move(*names));
               } else {
                 Fan(service, op, Target::All(), {}, "", nullptr, sorted);
               }
             });
}

const std::string& Hub::Key(const std::string& service) const {
  auto it = hubs_.find(service);
  return it == hubs_.end() ? service : it->second;
}

void Hub::Fan(const std::string& named, char op, const Target& target,
              const std::vector<std::string>& exclude, const std::string& payload,
              std::function<void(int)> on_count,
              std::function<void(std::vector<std::string>)> on_lines) {
  const std::string& service = Key(named);
  bool answer = on_count || on_lines;
  uint64_t request = answer ? next_request_++ : 0;
  int64_t began = absl::GetCurrentTimeNanos();
  bool relay = redis_ != nullptr && (IsPublication(op) || IsChange(op));
  bool cluster = relay && redis_->connected();
  if (relay && !cluster) ++cluster_unrelayed_;
  bool remote = (bus_ != nullptr && bus_->PeerCount(service) > 0) || cluster;
  // A lone worker (no peers, no cluster) has nothing to encode.
  std::string frame = remote ? EncodeFrame(op, request, began, target, exclude, payload) : "";
  int sent = remote && bus_ != nullptr ? bus_->SendToService(service, frame) : 0;
  if (cluster) {
    // Other nodes: the same operation, answered by nobody.
    std::string relayed = frame;
    for (int i = 1; i <= 8; ++i) relayed[i] = 0;
    redis_->Command({"PUBLISH", "sockman:" + service, absl::StrCat(node_id_, "\n", relayed)});
    ++cluster_out_;
  }
  Pending pending;
  if (service == service_) {
    pending.count = Run(op, target, exclude, payload, on_lines ? &pending.lines : nullptr);
    if (IsPublication(op) && pending.count > 0) fanout_.Observe(SecondsSince(began));
  }
  if (!answer) return;
  pending.waiting = sent;
  pending.on_count = std::move(on_count);
  pending.on_lines = std::move(on_lines);
  auto& slot = pending_[request] = std::move(pending);
  // With nobody else to ask, answer on the next pass (never from inside the
  // caller's stack).
  slot.timer = reactor_.AddTimer(sent == 0 ? 0 : kAnswerTimeoutMs, [this, request] {
    auto it = pending_.find(request);
    if (it == pending_.end()) return;
    it->second.timer = kNoTimer;
    Finish(request);
  });
}

std::vector<Hub::Client*> Hub::Resolve(const Target& target) {
  std::vector<Client*> found;
  if (target.scope == Scope::kAll) {
    found.reserve(clients_.size());
    for (auto& [id, client] : clients_) found.push_back(&client);
    return found;
  }
  for (const std::string& name : target.names) {
    if (target.scope == Scope::kClient) {
      auto it = clients_.find(name);
      if (it != clients_.end()) found.push_back(&it->second);
      continue;
    }
    const auto& index = target.scope == Scope::kGroup ? groups_ : uids_;
    auto it = index.find(name);
    if (it != index.end()) found.insert(found.end(), it->second.begin(), it->second.end());
  }
  if (target.names.size() > 1) {  // the union: each client once
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
  }
  return found;
}

std::string Hub::InfoJson(const Client& client) const {
  std::vector<std::string> groups;
  for (const std::string& group : client.groups) groups.push_back(JsonString(group));
  const Connection& c = *client.connection;
  return absl::StrCat("{\"client_id\":", JsonString(client.id),
                      ",\"uid\":", client.uid.empty() ? "null" : JsonString(client.uid),
                      ",\"groups\":[", absl::StrJoin(groups, ","), "],\"session\":", client.session,
                      ",\"remote_address\":", JsonString(c.remote_address().Host()),
                      ",\"remote_port\":", c.remote_address().port(),
                      ",\"connected_at\":", client.connected_at, "}");
}

int Hub::Run(char op, const Target& target, const std::vector<std::string>& exclude,
             const std::string& payload, std::vector<std::string>* lines) {
  bool conflatable =
      target.scope == Scope::kAll || (target.scope == Scope::kGroup && target.names.size() == 1);
  if (conflate_ms_ > 0 && IsPublication(op) && conflatable) {
    return Conflate(op, target, exclude, payload);
  }
  return RunNow(op, target, exclude, payload, lines);
}

int Hub::Conflate(char op, const Target& target, const std::vector<std::string>& exclude,
                  const std::string& payload) {
  // "*" for everyone, "g" + name for a group: never the same key.
  std::string key = target.scope == Scope::kAll ? "*" : "g" + target.names[0];
  auto [it, fresh] = conflated_.try_emplace(key);
  Conflated& held = it->second;
  if (fresh) {  // nothing went out in the last window: this goes now, and one begins
    held.timer = reactor_.AddTimer(conflate_ms_, [this, key] { FlushConflated(key); });
    return RunNow(op, target, exclude, payload, nullptr);
  }
  if (held.pending) ++conflated_away_;  // replaced by the latest
  held.pending = true;
  held.op = op;
  held.target = target;
  held.exclude = exclude;
  held.payload = payload;
  return static_cast<int>(Resolve(target).size());  // who will get the latest
}

void Hub::FlushConflated(const std::string& key) {
  auto it = conflated_.find(key);
  if (it == conflated_.end()) return;
  if (!it->second.pending) {  // a quiet window: the next message goes at once
    conflated_.erase(it);
    return;
  }
  Conflated held = std::move(it->second);
  it->second = Conflated();
  it->second.timer = reactor_.AddTimer(conflate_ms_, [this, key] { FlushConflated(key); });
  RunNow(held.op, held.target, held.exclude, held.payload, nullptr);
}

int Hub::RunNow(char op, const Target& target, const std::vector<std::string>& exclude,
                const std::string& payload, std::vector<std::string>* lines) {
  if (op == 'G' || op == 'K') {
    if (lines != nullptr) {
      for (const auto& [name, members] : op == 'G' ? groups_ : uids_) lines->push_back(name);
    }
    return static_cast<int>(op == 'G' ? groups_.size() : uids_.size());
  }
  // Snapshot the recipients: a send can close a connection, which leaves
  // (and so edits the sets) while we go through them. Closed connections
  // are freed only after this loop pass, but their Client records are not:
  // keep the connections, and look the records up again when needed.
  std::vector<Connection*> recipients;
  for (Client* client : Resolve(target)) recipients.push_back(client->connection);
  absl::flat_hash_set<const Connection*> skip;
  for (const std::string& id : exclude) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
      auto alias = aliases_.find(id);
      if (alias != aliases_.end()) it = clients_.find(alias->second);
    }
    if (it != clients_.end()) skip.insert(it->second.connection);
  }
  int count = 0;
  for (Connection* connection : recipients) {
    if (!connection->open() || skip.contains(connection)) continue;
    Client* client = Find(*connection);
    if (client == nullptr) continue;
    ++count;
    switch (op) {
      case 'p':
      case 'b':
        // Everything this loop pass sends to a client leaves in one write.
        if (corked_.insert(connection).second) {
          connection->Cork();
          if (!uncork_scheduled_) {
            uncork_scheduled_ = true;
            reactor_.Defer([this] { UncorkAll(); });
          }
        }
        connection->Send(payload, op == 'b' ? MessageKind::kBinary : MessageKind::kText);
        ++deliveries_;
        break;
      case 'x':
        if (payload.empty()) {
          connection->Close();
        } else {
          connection->Close(payload);
        }
        break;
      case 'X': {
        std::vector<absl::string_view> parts = absl::StrSplit(payload, absl::MaxSplits('\n', 2));
        uint32_t code = 1000;
        if (parts.size() < 3 || !absl::SimpleAtoi(parts[0], &code) || code > 4999) code = 1000;
        if (parts.size() == 3 && !parts[2].empty()) connection->Send(parts[2], MessageKind::kText);
        connection->CloseWithStatus(static_cast<uint16_t>(code), parts.size() > 1 ? parts[1] : "",
                                    CloseReason::kServer);
        break;
      }
      case 'j':
        if (!JoinGroup(*connection, payload)) --count;
        break;
      case 'l':
        if (client->groups.contains(payload)) {
          Leave(*client, payload);
        } else {
          --count;
        }
        break;
      case 'd':
        for (const std::string& group : target.names) Leave(*client, group);
        break;
      case 'B':
        BindUid(*connection, payload);
        break;
      case 'U':
        if (client->uid.empty()) {
          --count;
        } else {
          Unbind(*client);
        }
        break;
      case 's':
      case 'S':
        if (!SetSession(*connection, payload, op == 'S')) --count;
        break;
      case 'm':
        if (lines != nullptr) lines->push_back(client->id);
        break;
      case 'i':
        if (lines != nullptr) lines->push_back(InfoJson(*client));
        break;
      default:
        --count;
    }
  }
  return count;
}

void Hub::OnFrame(absl::string_view frame, bool from_node) {
  if (frame.empty()) return;
  char op = frame[0];
  frame.remove_prefix(1);
  uint64_t request = 0;
  if (!GetInt(frame, 8, request)) return;
  if (op == 'A') {
    uint64_t count = 0;
    if (!GetInt(frame, 4, count)) return;
    auto it = pending_.find(request);
    if (it == pending_.end()) return;  // answered too late
    Pending& pending = it->second;
    pending.count += static_cast<int>(count);
    if (pending.on_lines && !frame.empty()) {
      for (absl::string_view line : absl::StrSplit(frame, '\n', absl::SkipEmpty())) {
        pending.lines.emplace_back(line);
      }
    }
    if (--pending.waiting <= 0) Finish(request);
    return;
  }
  uint64_t reply_to = 0, sent_at = 0;
  if (!GetInt(frame, 4, reply_to) || !GetInt(frame, 8, sent_at) || frame.empty()) return;
  // Another node's clock: how long the relay took (as far as clocks agree).
  if (from_node) relay_lag_.Observe(SecondsSince(static_cast<int64_t>(sent_at)));
  Target target;
  target.scope = static_cast<Scope>(frame[0]);
  frame.remove_prefix(1);
  std::vector<std::string> exclude;
  if (!GetList(frame, target.names) || !GetList(frame, exclude)) return;
  std::vector<std::string> lines;
  bool query = op == 'm' || op == 'i' || op == 'G' || op == 'K';
  int count = Run(op, target, exclude, std::string(frame), query ? &lines : nullptr);
  // From this node (one clock): from the publisher's call to the last
  // recipient here.
  if (!from_node && IsPublication(op) && count > 0) {
    fanout_.Observe(SecondsSince(static_cast<int64_t>(sent_at)));
  }
  if (request == 0) return;
  std::string answer;
  answer.push_back('A');
  PutInt(answer, request, 8);
  PutInt(answer, static_cast<uint64_t>(count), 4);
  answer += absl::StrJoin(lines, "\n");
  if (bus_ != nullptr) bus_->SendTo(static_cast<pid_t>(reply_to), answer);
}

void Hub::UncorkAll() {
  uncork_scheduled_ = false;
  // Connections closed this pass are still allocated (freed after it).
  auto corked = std::move(corked_);
  corked_.clear();
  for (Connection* connection : corked) connection->Uncork();
}

void Hub::Finish(uint64_t request) {
  auto it = pending_.find(request);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  reactor_.CancelTimer(pending.timer);
  if (pending.on_count) pending.on_count(pending.count);
  if (pending.on_lines) pending.on_lines(std::move(pending.lines));
}

}  // namespace sockman
