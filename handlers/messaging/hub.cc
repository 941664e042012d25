#include "handlers/messaging/hub.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/clock.h"

namespace sockman {
namespace {

// How long an operation waits for the other workers' answers.
constexpr int64_t kAnswerTimeoutMs = 1000;
// Cluster presence: refreshed this often, gone this long after the last refresh.
constexpr int64_t kRefreshMs = 5000;
constexpr int64_t kPresenceTtlMs = 15000;

// Bus frames:
//   op(1) request(8) reply_to(4) scope(1) name_len(2) name exclude_len(2) exclude payload
//   'A' request(8) count(4) ids ("\n"-separated)
// Operations: 'p' publish text, 'b' publish binary, 'x' close, 'm' members.
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

bool GetString(absl::string_view& in, absl::string_view& value) {
  uint64_t size;
  if (!GetInt(in, 2, size) || in.size() < size) return false;
  value = in.substr(0, size);
  in.remove_prefix(size);
  return true;
}

void PutString(std::string& out, absl::string_view value) {
  PutInt(out, value.size(), 2);
  out.append(value.data(), value.size());
}

std::string EncodeFrame(char op, uint64_t request, const Hub::Target& target,
                        const std::string& exclude, const std::string& payload) {
  std::string frame;
  frame.reserve(24 + target.name.size() + exclude.size() + payload.size());
  frame.push_back(op);
  PutInt(frame, request, 8);
  PutInt(frame, static_cast<uint64_t>(getpid()), 4);
  frame.push_back(static_cast<char>(target.scope));
  PutString(frame, target.name);
  PutString(frame, exclude);
  frame += payload;
  return frame;
}

}  // namespace

Hub& Hub::ForWorker(const WorkerContext& worker) {
  static Hub* hub = [&] {
    auto* made = new Hub(worker.reactor, worker.bus, worker.service);
    if (worker.cluster != nullptr) made->EnableCluster(*worker.cluster);
    return made;
  }();
  return *hub;
}

Hub::Hub(Reactor& reactor, WorkerBus* bus, std::string service)
    : reactor_(reactor), bus_(bus), service_(std::move(service)) {
  // Worker start time and pid: no two live or past workers share both.
  id_prefix_ = absl::StrCat(absl::Hex(SystemClock().WallSeconds(), absl::kZeroPad8),
                            absl::Hex(getpid(), absl::kZeroPad6));
  if (bus_ != nullptr) bus_->SetOnFrame([this](absl::string_view frame) { OnFrame(frame); });
}

void Hub::EnableCluster(const ClusterOptions& cluster) {
  node_id_ = cluster.node_id;
  // Ids carry the node too: unique across the cluster's hosts.
  id_prefix_ = absl::StrCat(node_id_, "-", id_prefix_);
  redis_ = std::make_unique<RedisClient>(reactor_, cluster.redis, "cluster");
  subscriber_ = std::make_unique<RedisClient>(reactor_, cluster.redis, "cluster pub/sub");
  // After a (re)connection Redis may have lost everything: write it again.
  redis_->SetOnConnected([this] {
    for (const auto& [id, connection] : clients_) {
      redis_->Command({"SADD", WorkerKey(service_) + ":clients", id});
    }
    for (const auto& [room, members] : rooms_) {
      for (Connection* connection : members) {
        redis_->Command({"SADD", WorkerKey(service_) + ":room:" + room, ClientId(*connection)});
      }
    }
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

void Hub::RefreshPresence() {
  if (redis_ == nullptr || !redis_->connected() || clients_.empty()) return;
  std::string ttl = absl::StrCat(kPresenceTtlMs / 1000);
  int64_t now = SystemClock().WallSeconds();
  redis_->Command(
      {"ZADD", WorkersKey(service_), absl::StrCat(now), absl::StrCat(node_id_, ":", getpid())});
  // Forget workers (of any node) silent for a minute: restarts add members.
  redis_->Command({"ZREMRANGEBYSCORE", WorkersKey(service_), "-inf", absl::StrCat(now - 60)});
  redis_->Command({"EXPIRE", WorkerKey(service_) + ":clients", ttl});
  for (const auto& [room, members] : rooms_) {
    redis_->Command({"EXPIRE", WorkerKey(service_) + ":room:" + room, ttl});
  }
}

void Hub::OnClusterMessage(const std::string& payload) {
  size_t newline = payload.find('\n');
  if (newline == std::string::npos) return;
  if (absl::string_view(payload).substr(0, newline) == node_id_) return;  // ours: sent by the bus
  OnFrame(absl::string_view(payload).substr(newline + 1));
}

void Hub::RedisMembers(const std::string& service, const Target& target,
                       std::function<void(std::optional<std::vector<std::string>>)> done) {
  if (redis_ == nullptr || !redis_->connected()) {
    done(std::nullopt);
    return;
  }
  int64_t oldest = SystemClock().WallSeconds() - kPresenceTtlMs / 1000;
  redis_->Command({"ZRANGEBYSCORE", WorkersKey(service), absl::StrCat(oldest), "+inf"},
                  [this, service, target, done](const RedisValue* workers) {
                    if (workers == nullptr || workers->type != RedisValue::kArray) {
                      done(std::nullopt);
                      return;
                    }
                    struct Gather {
                      int waiting = 0;
                      bool failed = false;
                      absl::flat_hash_set<std::string> ids;
                      std::function<void(std::optional<std::vector<std::string>>)> done;
                    };
                    auto gather = std::make_shared<Gather>();
                    gather->done = done;
                    gather->waiting = static_cast<int>(workers->elements.size());
                    if (gather->waiting == 0) {
                      done(std::vector<std::string>());
                      return;
                    }
                    for (const RedisValue& worker : workers->elements) {
                      std::string key = absl::StrCat("sockman:", service, ":w:", worker.str);
                      std::vector<std::string> command;
                      if (target.scope == Scope::kClient) {
                        command = {"SISMEMBER", key + ":clients", target.name};
                      } else if (target.scope == Scope::kRoom) {
                        command = {"SMEMBERS", key + ":room:" + target.name};
                      } else {
                        command = {"SMEMBERS", key + ":clients"};
                      }
                      redis_->Command(command, [gather, target](const RedisValue* reply) {
                        if (reply == nullptr || reply->type == RedisValue::kError) {
                          gather->failed = true;
                        } else if (reply->type == RedisValue::kInteger) {
                          if (reply->integer == 1) gather->ids.insert(target.name);
                        } else {
                          for (const RedisValue& id : reply->elements) gather->ids.insert(id.str);
                        }
                        if (--gather->waiting > 0) return;
                        if (gather->failed) {
                          gather->done(std::nullopt);
                          return;
                        }
                        std::vector<std::string> ids(gather->ids.begin(), gather->ids.end());
                        std::sort(ids.begin(), ids.end());
                        gather->done(std::move(ids));
                      });
                    }
                  });
}

std::string Hub::ClientId(const Connection& connection) const {
  return absl::StrCat(id_prefix_, absl::Hex(connection.id(), absl::kZeroPad6));
}

std::string Hub::RoomFromPath(absl::string_view path) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  return parts.empty() ? "" : std::string(parts.back());
}

void Hub::Join(Connection& connection, const std::string& room) {
  std::string id = ClientId(connection);
  clients_[id] = &connection;
  bool first = rooms_[room].empty();
  rooms_[room].insert(&connection);
  room_of_[&connection] = room;
  if (redis_ != nullptr && redis_->connected()) {
    std::string ttl = absl::StrCat(kPresenceTtlMs / 1000);
    redis_->Command({"SADD", WorkerKey(service_) + ":clients", id});
    redis_->Command({"SADD", WorkerKey(service_) + ":room:" + room, id});
    if (first) redis_->Command({"EXPIRE", WorkerKey(service_) + ":room:" + room, ttl});
    if (clients_.size() == 1) RefreshPresence();
  }
}

void Hub::Leave(Connection& connection) {
  auto it = room_of_.find(&connection);
  if (it == room_of_.end()) return;
  auto room = rooms_.find(it->second);
  if (room != rooms_.end()) {
    room->second.erase(&connection);
    if (room->second.empty()) rooms_.erase(room);
  }
  if (redis_ != nullptr && redis_->connected()) {
    std::string id = ClientId(connection);
    redis_->Command({"SREM", WorkerKey(service_) + ":clients", id});
    redis_->Command({"SREM", WorkerKey(service_) + ":room:" + it->second, id});
  }
  room_of_.erase(it);
  clients_.erase(ClientId(connection));
}

const std::string* Hub::RoomOf(const Connection& connection) const {
  auto it = room_of_.find(&connection);
  return it == room_of_.end() ? nullptr : &it->second;
}

void Hub::Publish(const std::string& service, const Target& target, const std::string& payload,
                  MessageKind kind, const std::string& exclude, std::function<void(int)> done) {
  Fan(service, kind == MessageKind::kBinary ? 'b' : 'p', target, exclude, payload,
      OnlineAnywhere(service, target, std::move(done)), nullptr);
}

void Hub::Close(const std::string& service, const std::string& client_id,
                std::function<void(int)> done) {
  Target target{Scope::kClient, client_id};
  Fan(service, 'x', target, "", "", OnlineAnywhere(service, target, std::move(done)), nullptr);
}

std::function<void(int)> Hub::OnlineAnywhere(const std::string& service, const Target& target,
                                             std::function<void(int)> done) {
  // A client on another node was reached through Redis: ask presence whether
  // it exists there (counts are otherwise this node's).
  if (!done || redis_ == nullptr || target.scope != Scope::kClient) return done;
  return [this, service, target, done](int count) {
    if (count > 0) {
      done(count);
      return;
    }
    RedisMembers(service, target, [done](std::optional<std::vector<std::string>> ids) {
      done(ids.has_value() ? static_cast<int>(ids->size()) : 0);
    });
  };
}

void Hub::Members(const std::string& service, const Target& target,
                  std::function<void(std::vector<std::string>)> done) {
  if (redis_ == nullptr) {
    Fan(service, 'm', target, "", "", nullptr, std::move(done));
    return;
  }
  // Cluster-wide from Redis; this node's workers alone if Redis is down.
  RedisMembers(service, target,
               [this, service, target, done](std::optional<std::vector<std::string>> ids) {
                 if (ids.has_value()) {
                   done(std::move(*ids));
                 } else {
                   Fan(service, 'm', target, "", "", nullptr, done);
                 }
               });
}

void Hub::Fan(const std::string& service, char op, const Target& target, const std::string& exclude,
              const std::string& payload, std::function<void(int)> on_count,
              std::function<void(std::vector<std::string>)> on_ids) {
  bool answer = on_count || on_ids;
  uint64_t request = answer ? next_request_++ : 0;
  bool remote = (bus_ != nullptr && bus_->PeerCount(service) > 0) ||
                (redis_ != nullptr && (op == 'p' || op == 'b' || op == 'x') && redis_->connected());
  // A lone worker (no peers, no cluster) has nothing to encode.
  std::string frame = remote ? EncodeFrame(op, request, target, exclude, payload) : "";
  int sent = remote && bus_ != nullptr ? bus_->SendToService(service, frame) : 0;
  if (remote && subscriber_ != nullptr && (op == 'p' || op == 'b' || op == 'x') &&
      redis_->connected()) {
    // Other nodes: the same operation, answered by nobody.
    std::string remote = frame;
    for (int i = 1; i <= 8; ++i) remote[i] = 0;
    redis_->Command({"PUBLISH", "sockman:" + service, absl::StrCat(node_id_, "\n", remote)});
  }
  Pending pending;
  if (service == service_) {
    pending.count = Apply(op, target, exclude, payload, on_ids ? &pending.ids : nullptr);
  }
  if (!answer) return;
  pending.waiting = sent;
  pending.on_count = std::move(on_count);
  pending.on_ids = std::move(on_ids);
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

int Hub::Apply(char op, const Target& target, const std::string& exclude,
               const std::string& payload, std::vector<std::string>* ids) {
  // Snapshot the recipients: a send can close a connection, which leaves
  // (and so edits the sets) while we go through them. Closed connections
  // are freed only after this loop pass, so the pointers stay valid.
  std::vector<Connection*> recipients;
  if (target.scope == Scope::kClient) {
    auto it = clients_.find(target.name);
    if (it != clients_.end()) recipients.push_back(it->second);
  } else if (target.scope == Scope::kRoom) {
    auto it = rooms_.find(target.name);
    if (it != rooms_.end()) recipients.assign(it->second.begin(), it->second.end());
  } else {
    recipients.reserve(clients_.size());
    for (const auto& [id, connection] : clients_) recipients.push_back(connection);
  }
  // The excluded client, if it is here (ids are only formatted when needed).
  const Connection* skip = nullptr;
  if (!exclude.empty()) {
    auto it = clients_.find(exclude);
    if (it != clients_.end()) skip = it->second;
  }
  int count = 0;
  for (Connection* connection : recipients) {
    if (!connection->open() || connection == skip) continue;
    ++count;
    if (op == 'p' || op == 'b') {
      // Everything this loop pass sends to a client leaves in one write.
      if (corked_.insert(connection).second) {
        connection->Cork();
        if (!uncork_scheduled_) {
          uncork_scheduled_ = true;
          reactor_.Defer([this] { UncorkAll(); });
        }
      }
      connection->Send(payload, op == 'b' ? MessageKind::kBinary : MessageKind::kText);
    } else if (op == 'x') {
      connection->Close();
    } else if (op == 'm' && ids != nullptr) {
      ids->push_back(ClientId(*connection));
    }
  }
  return count;
}

void Hub::OnFrame(absl::string_view frame) {
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
    if (pending.on_ids && !frame.empty()) {
      for (absl::string_view id : absl::StrSplit(frame, '\n', absl::SkipEmpty())) {
        pending.ids.emplace_back(id);
      }
    }
    if (--pending.waiting <= 0) Finish(request);
    return;
  }
  uint64_t reply_to = 0;
  if (!GetInt(frame, 4, reply_to) || frame.empty()) return;
  Target target;
  target.scope = static_cast<Scope>(frame[0]);
  frame.remove_prefix(1);
  absl::string_view name, exclude;
  if (!GetString(frame, name) || !GetString(frame, exclude)) return;
  target.name = std::string(name);
  std::vector<std::string> ids;
  int count =
      Apply(op, target, std::string(exclude), std::string(frame), op == 'm' ? &ids : nullptr);
  if (request == 0) return;
  std::string answer;
  answer.push_back('A');
  PutInt(answer, request, 8);
  PutInt(answer, static_cast<uint64_t>(count), 4);
  answer += absl::StrJoin(ids, "\n");
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
  if (pending.on_ids) pending.on_ids(std::move(pending.ids));
}

}  // namespace sockman
