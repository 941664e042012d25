#include "engine/worker_bus.h"

#include <errno.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/logging.h"

namespace sockman {
namespace {

// Frames: a 4-byte big-endian length, then the bytes.
constexpr size_t kMaxFrame = 256u << 20;
// Output queued for one slow peer before frames to it are dropped.
constexpr size_t kMaxQueued = 256u << 20;

uint64_t bus_namespace = 0;

sockaddr_un BusAddress(pid_t pid, socklen_t& length) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string name = absl::StrCat("sockman-bus-", absl::Hex(bus_namespace), "-", pid);
  // Abstract namespace: a leading NUL, no file, gone with the process.
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return address;
}

ConnectionLimits BusLimits() {
  ConnectionLimits limits;
  limits.max_package_size = kMaxFrame + 4;
  limits.max_send_buffer_size = kMaxQueued;
  return limits;
}

}  // namespace

void WorkerBus::NewNamespace() {
  uint64_t value = 0;
  if (getrandom(&value, sizeof(value), 0) != sizeof(value)) {
    value = (static_cast<uint64_t>(getpid()) << 32) ^ static_cast<uint64_t>(time(nullptr));
  }
  bus_namespace = value;
}

absl::StatusOr<std::unique_ptr<WorkerBus>> WorkerBus::Create(Reactor& reactor, OnFrame on_frame) {
  std::unique_ptr<WorkerBus> bus(new WorkerBus(reactor, std::move(on_frame)));
  bus->self_ = getpid();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "bus socket");
  socklen_t length;
  sockaddr_un address = BusAddress(bus->self_, length);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(fd.get(), 1024) != 0) {
    return absl::ErrnoToStatus(errno, "bus bind");
  }
  bus->listener_ = std::move(fd);
  WorkerBus* raw = bus.get();
  auto acceptor =
      Acceptor::Create(reactor, bus->listener_.get(),
                       [raw](UniqueFd fd, const SocketAddress&) { raw->Accept(std::move(fd)); });
  if (!acceptor.ok()) return acceptor.status();
  bus->acceptor_ = std::move(*acceptor);
  return bus;
}

WorkerBus::~WorkerBus() {
  acceptor_.reset();
  // Take the containers first: OnClosed (from Destroy) looks them up.
  auto outbound = std::move(outbound_);
  auto inbound = std::move(inbound_);
  outbound_.clear();
  inbound_.clear();
  for (auto& [pid, connection] : outbound) connection->Destroy();
  for (auto& connection : inbound) connection->Destroy();
}

void WorkerBus::SetPeers(Peers peers) {
  peers_ = std::move(peers);
  // Forget connections to workers that are gone.
  for (auto it = outbound_.begin(); it != outbound_.end();) {
    if (IsPeer(it->first)) {
      ++it;
      continue;
    }
    std::unique_ptr<TcpConnection> gone = std::move(it->second);
    it = outbound_.erase(it);
    gone->Destroy();
    reactor_.DeleteLater(std::move(gone));
  }
}

void WorkerBus::Accept(UniqueFd fd) {
  // Abstract sockets have no file permissions: anyone on the host can
  // connect. Only the workers the master named are heard.
  ucred peer{};
  socklen_t length = sizeof(peer);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 || !IsPeer(peer.pid)) {
    // Logged at most once a minute, with how many were refused meanwhile.
    ++refused_;
    if (reactor_.NowMs() - last_refusal_log_ms_ >= 60'000 || last_refusal_log_ms_ == 0) {
      LogWarning(absl::StrCat("worker bus: refused ", refused_,
                              " connection(s), the last from pid ", peer.pid,
                              " (not a worker of this master)"));
      last_refusal_log_ms_ = reactor_.NowMs();
      refused_ = 0;
    }
    return;
  }
  auto connection =
      TcpConnection::Create(reactor_, std::move(fd), SocketAddress(), BusLimits(), this);
  if (connection.ok()) inbound_.push_back(std::move(*connection));
}

TcpConnection* WorkerBus::Outbound(pid_t pid) {
  if (auto it = outbound_.find(pid); it != outbound_.end()) return it->second.get();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return nullptr;
  socklen_t length;
  sockaddr_un address = BusAddress(pid, length);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return nullptr;  // not listening (yet, or any more)
  }
  auto connection =
      TcpConnection::Create(reactor_, std::move(fd), SocketAddress(), BusLimits(), this);
  if (!connection.ok()) return nullptr;
  TcpConnection* raw = connection->get();
  outbound_[pid] = std::move(*connection);
  return raw;
}

bool WorkerBus::SendTo(pid_t pid, absl::string_view frame) {
  TcpConnection* connection = frame.size() > kMaxFrame ? nullptr : Outbound(pid);
  // Both parts or neither: a dropped frame must not leave half of itself.
  if (connection == nullptr || connection->send_buffer_size() + frame.size() + 4 > kMaxQueued) {
    ++frames_dropped_;
    return false;
  }
  uint32_t size = static_cast<uint32_t>(frame.size());
  char header[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                    static_cast<char>(size >> 8), static_cast<char>(size)};
  connection->Cork();
  connection->Send(absl::string_view(header, 4));
  connection->Send(frame);
  connection->Uncork();
  ++frames_sent_;
  return true;
}

bool WorkerBus::IsPeer(pid_t pid) const {
  for (const auto& [service, pids] : peers_) {
    if (std::find(pids.begin(), pids.end(), pid) != pids.end()) return true;
  }
  return false;
}

int WorkerBus::PeerCount(const std::string& service) const {
  auto it = peers_.find(service);
  if (it == peers_.end()) return 0;
  return static_cast<int>(std::count_if(it->second.begin(), it->second.end(),
                                        [this](pid_t pid) { return pid != self_; }));
}

int WorkerBus::SendToService(const std::string& service, absl::string_view frame) {
  auto it = peers_.find(service);
  if (it == peers_.end()) return 0;
  int sent = 0;
  for (pid_t pid : it->second) {
    if (pid != self_ && SendTo(pid, frame)) ++sent;
  }
  return sent;
}

void WorkerBus::OnData(PeerTransport& transport, Buffer& input) {
  for (;;) {
    absl::string_view bytes = input.view();
    if (bytes.size() < 4) return;
    uint32_t size = (uint32_t{static_cast<unsigned char>(bytes[0])} << 24) |
                    (uint32_t{static_cast<unsigned char>(bytes[1])} << 16) |
                    (uint32_t{static_cast<unsigned char>(bytes[2])} << 8) |
                    static_cast<unsigned char>(bytes[3]);
    if (size > kMaxFrame) {
      transport.Destroy();  // not a bus peer
      return;
    }
    if (bytes.size() < 4 + size) return;
    ++frames_received_;
    if (on_frame_) on_frame_(bytes.substr(4, size));
    input.Consume(4 + size);
    if (!transport.open()) return;
  }
}

void WorkerBus::OnClosed(PeerTransport& transport) {
  for (auto it = outbound_.begin(); it != outbound_.end(); ++it) {
    if (it->second.get() == &transport) {
      reactor_.DeleteLater(std::move(it->second));
      outbound_.erase(it);
      return;
    }
  }
  for (auto it = inbound_.begin(); it != inbound_.end(); ++it) {
    if (it->get() == &transport) {
      reactor_.DeleteLater(std::move(*it));
      inbound_.erase(it);
      return;
    }
  }
}

std::string WorkerBus::FormatPeers(const Peers& peers) {
  std::vector<std::string> parts;
  for (const auto& [service, pids] : peers) {
    parts.push_back(absl::StrCat(service, "=", absl::StrJoin(pids, ",")));
  }
  return absl::StrCat("peers ", absl::StrJoin(parts, ";"));
}

WorkerBus::Peers WorkerBus::ParsePeers(absl::string_view line) {
  Peers peers;
  if (!absl::ConsumePrefix(&line, "peers ")) return peers;
  for (absl::string_view part : absl::StrSplit(line, ';', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos || eq == 0) continue;  // no service name
    std::vector<pid_t>& pids = peers[std::string(part.substr(0, eq))];
    for (absl::string_view pid : absl::StrSplit(part.substr(eq + 1), ',', absl::SkipEmpty())) {
      int value;
      if (absl::SimpleAtoi(pid, &value) && value > 0) pids.push_back(value);
    }
  }
  return peers;
}

}  // namespace sockman
