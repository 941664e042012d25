#include "handlers/messaging/hub.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/clock.h"

namespace sockman {
namespace {

// How long an operation waits for the other workers' answers.
constexpr int64_t kAnswerTimeoutMs = 1000;

// Bus frames:
//   op(1) request(8) reply_to(4) scope(1) name_len(2) name exclude_len(2) exclude payload
//   'A' request(8) count(4) ids ("\n"-separated)
// Operations: 'p' publish, 'x' close, 'm' members.
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

}  // namespace

Hub& Hub::ForWorker(const WorkerContext& worker) {
  static Hub* hub = new Hub(worker.reactor, *worker.bus, worker.service);
  return *hub;
}

Hub::Hub(Reactor& reactor, WorkerBus& bus, std::string service)
    : reactor_(reactor), bus_(bus), service_(std::move(service)) {
  // Worker start time and pid: no two live or past workers share both.
  id_prefix_ = absl::StrCat(absl::Hex(SystemClock().WallSeconds(), absl::kZeroPad8),
                            absl::Hex(getpid(), absl::kZeroPad6));
  bus_.SetOnFrame([this](absl::string_view frame) { OnFrame(frame); });
}

std::string Hub::ClientId(const Connection& connection) const {
  return absl::StrCat(id_prefix_, absl::Hex(connection.id(), absl::kZeroPad6));
}

void Hub::Join(Connection& connection, const std::string& room) {
  clients_[ClientId(connection)] = &connection;
  rooms_[room].insert(&connection);
  room_of_[&connection] = room;
}

void Hub::Leave(Connection& connection) {
  auto it = room_of_.find(&connection);
  if (it == room_of_.end()) return;
  auto room = rooms_.find(it->second);
  if (room != rooms_.end()) {
    room->second.erase(&connection);
    if (room->second.empty()) rooms_.erase(room);
  }
  room_of_.erase(it);
  clients_.erase(ClientId(connection));
}

const std::string* Hub::RoomOf(const Connection& connection) const {
  auto it = room_of_.find(&connection);
  return it == room_of_.end() ? nullptr : &it->second;
}

void Hub::Publish(const std::string& service, const Target& target, const std::string& payload,
                  const std::string& exclude, std::function<void(int)> done) {
  Fan(service, 'p', target, exclude, payload, std::move(done), nullptr);
}

void Hub::Close(const std::string& service, const std::string& client_id,
                std::function<void(int)> done) {
  Fan(service, 'x', {Scope::kClient, client_id}, "", "", std::move(done), nullptr);
}

void Hub::Members(const std::string& service, const Target& target,
                  std::function<void(std::vector<std::string>)> done) {
  Fan(service, 'm', target, "", "", nullptr, std::move(done));
}

void Hub::Fan(const std::string& service, char op, const Target& target,
              const std::string& exclude, const std::string& payload,
              std::function<void(int)> on_count,
              std::function<void(std::vector<std::string>)> on_ids) {
  bool answer = on_count || on_ids;
  uint64_t request = answer ? next_request_++ : 0;
  std::string frame;
  frame.reserve(24 + target.name.size() + exclude.size() + payload.size());
  frame.push_back(op);
  PutInt(frame, request, 8);
  PutInt(frame, static_cast<uint64_t>(bus_.self()), 4);
  frame.push_back(static_cast<char>(target.scope));
  PutString(frame, target.name);
  PutString(frame, exclude);
  frame += payload;
  int sent = bus_.SendToService(service, frame);
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
    if (op == 'p') {
      // Everything this loop pass sends to a client leaves in one write.
      if (corked_.insert(connection).second) {
        connection->Cork();
        if (!uncork_scheduled_) {
          uncork_scheduled_ = true;
          reactor_.Defer([this] { UncorkAll(); });
        }
      }
      connection->Send(payload);
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
  int count = Apply(op, target, std::string(exclude), std::string(frame), op == 'm' ? &ids : nullptr);
  if (request == 0) return;
  std::string answer;
  answer.push_back('A');
  PutInt(answer, request, 8);
  PutInt(answer, static_cast<uint64_t>(count), 4);
  answer += absl::StrJoin(ids, "\n");
  bus_.SendTo(static_cast<pid_t>(reply_to), answer);
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
