#include "protocols/stream_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "protocols/proxy_header.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<StreamServer>> StreamServer::Create(Reactor& reactor, int listen_fd,
                                                                   StreamServerOptions options,
                                                                   ConnectionEvents& events) {
  std::unique_ptr<StreamServer> server(new StreamServer(reactor, options, events));
  StreamServer* raw = server.get();
  auto acceptor = Acceptor::Create(
      reactor, listen_fd,
      [raw](UniqueFd fd, const SocketAddress& peer) { raw->Accept(std::move(fd), peer); });
  if (!acceptor.ok()) return acceptor.status();
  server->acceptor_ = std::move(*acceptor);
  options.protocol->StartWorker(reactor);
  server->StartPolicies();
  return server;
}

void StreamServer::StartPolicies() {
  const HeartbeatOptions& heartbeat = options_.heartbeat;
  if (heartbeat.interval_ms > 0) {
    // Every connection gets the ping, so this pass visits each one; the
    // silence check below does not.
    ping_timer_ = reactor_.AddRepeatingTimer(heartbeat.interval_ms, [this] {
      for (auto& [id, connection] : connections_) {
        connection->SendHeartbeat(options_.heartbeat.ping_data);
      }
    });
    if (heartbeat.not_response_limit > 0) {
      silence_ = std::make_unique<ActivityWheel>(
          reactor_, heartbeat.interval_ms * heartbeat.not_response_limit, heartbeat.interval_ms,
          [this](uint64_t id) -> std::optional<int64_t> {
            Connection* c = Find(id);
            if (c == nullptr) return std::nullopt;
            return c->last_recv_ms();
          },
          [this](uint64_t id) { Find(id)->DestroySilent(); });
    }
  }
  if (options_.min_send_rate > 0 || options_.min_receive_rate > 0) {
    // Four looks per window: a slow peer goes at most a quarter late.
    rate_timer_ = reactor_.AddRepeatingTimer(std::max<int64_t>(options_.min_rate_window_ms / 4, 10),
                                             [this] { CheckRates(); });
  }
  if (options_.idle_timeout_ms > 0) {
    // Checked ten times per timeout: closes at most 10% late.
    idle_ = std::make_unique<ActivityWheel>(
        reactor_, options_.idle_timeout_ms, std::max<int64_t>(options_.idle_timeout_ms / 10, 10),
        [this](uint64_t id) -> std::optional<int64_t> {
          Connection* c = Find(id);
          if (c == nullptr) return std::nullopt;
          return c->last_active_ms();
        },
        [this](uint64_t id) {
          ++counters_.idle_closes;
          Connection* c = Find(id);
          c->set_close_reason(CloseReason::kIdle);
          c->Close();
        });
  }
}

void StreamServer::CheckRates() {
  int64_t now = reactor_.NowMs();
  std::vector<uint64_t> slow_readers, slow_senders;
  for (auto& [id, c] : connections_) {
    if (!c->open()) {  // closing already: nothing more is owed to it
      rate_marks_.erase(id);
      continue;
    }
    bool sending = options_.min_send_rate > 0 && c->sending();
    bool receiving = options_.min_receive_rate > 0 && c->receiving();
    if (!sending && !receiving) {
      rate_marks_.erase(id);
      continue;
    }
    auto [it, fresh] = rate_marks_.try_emplace(id);
    RateMark& mark = it->second;
    RateMark current{now, c->bytes_written(), c->bytes_read(), sending, receiving};
    if (fresh || mark.sending != sending || mark.receiving != receiving) {
      mark = current;  // a new window
      continue;
    }
    if (now - mark.since_ms < options_.min_rate_window_ms) continue;
    double seconds = static_cast<double>(now - mark.since_ms) / 1000.0;
    if (sending &&
        static_cast<double>(current.written - mark.written) < options_.min_send_rate * seconds) {
      slow_readers.push_back(id);
    } else if (receiving && static_cast<double>(current.read - mark.read) <
                                options_.min_receive_rate * seconds) {
      slow_senders.push_back(id);
    } else {
      mark = current;
    }
  }
  // Closed after the pass: closing edits connections_.
  for (uint64_t id : slow_readers) {
    rate_marks_.erase(id);
    if (Connection* c = Find(id)) {
      ++counters_.slow_readers;
      c->set_close_reason(CloseReason::kLimit);
      c->Destroy();  // its output is not leaving: nothing more would
    }
  }
  for (uint64_t id : slow_senders) {
    rate_marks_.erase(id);
    if (Connection* c = Find(id)) {
      ++counters_.slow_senders;
      c->FailSlowSender("message arriving slower than min_receive_rate");
    }
  }
}

Connection* StreamServer::Find(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

StreamServer::~StreamServer() {
  stopping_ = true;
  acceptor_.reset();
  reactor_.CancelTimer(ping_timer_);
  reactor_.CancelTimer(rate_timer_);
  silence_.reset();
  idle_.reset();
  // Take the map so Remove() (called from each OnClose) finds nothing; the
  // connections die with `open` at the end of this scope.
  auto open = std::move(connections_);
  connections_.clear();
  waiting_.clear();
  for (auto& [id, connection] : open) connection->Destroy();
}

void StreamServer::Accept(UniqueFd fd, const SocketAddress& peer) {
  const ProxyProtocolOptions& proxy = options_.proxy_protocol;
  if (proxy.trusted == nullptr) return Start(std::move(fd), peer, false);
  if (!proxy.trusted->Contains(peer)) return Start(std::move(fd), peer, true);
  uint64_t id = next_wait_id_++;
  int raw = fd.get();
  auto wait = std::make_unique<HeaderWait>(*this, id, std::move(fd), peer);
  HeaderWait* w = wait.get();
  // Edge-triggered: every arrival wakes us, though peeking consumes nothing.
  if (!reactor_.Watch(raw, EPOLLIN | EPOLLRDHUP | EPOLLET, w).ok()) return;
  waiting_.emplace(id, std::move(wait));
  w->timer_ = reactor_.AddTimer(proxy.timeout_ms, [this, id] {
    auto it = waiting_.find(id);
    if (it != waiting_.end()) it->second->timer_ = kNoTimer;
    FinishWait(id, "PROXY header not complete in time", std::nullopt);
  });
  if (options_.max_connections > 0 && open_count() >= options_.max_connections) {
    ++counters_.accept_pauses;
    acceptor_->Pause();
  }
}

StreamServer::HeaderWait::~HeaderWait() {
  if (fd_.valid()) server_.reactor_.Unwatch(fd_.get());
  server_.reactor_.CancelTimer(timer_);
}

void StreamServer::HeaderWait::OnEvents(uint32_t events) {
  if (done_) return;
  char bytes[ProxyHeader::kMaxSize];
  ssize_t n = recv(fd_.get(), bytes, sizeof(bytes), MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return server_.FinishWait(id_, "closed before its PROXY header", std::nullopt);
  ProxyHeader header = ParseProxyHeader(absl::string_view(bytes, static_cast<size_t>(n)));
  if (header.status == ProxyHeader::kNeedMore) {
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      server_.FinishWait(id_, "closed before its PROXY header was complete", std::nullopt);
    }
    return;
  }
  if (header.status == ProxyHeader::kError) return server_.FinishWait(id_, header.error, {});
  // Take exactly the header; what follows is the connection's own.
  if (recv(fd_.get(), bytes, header.size, 0) != static_cast<ssize_t>(header.size)) {
    return server_.FinishWait(id_, "PROXY header could not be read", std::nullopt);
  }
  server_.FinishWait(id_, nullptr, header.source.value_or(peer_));
}

void StreamServer::FinishWait(uint64_t id, const char* error, std::optional<SocketAddress> source) {
  auto it = waiting_.find(id);
  if (it == waiting_.end() || it->second->done_) return;
  HeaderWait& wait = *it->second;
  wait.done_ = true;
  reactor_.Unwatch(wait.fd_.get());
  UniqueFd fd = std::move(wait.fd_);
  SocketAddress peer = wait.peer_;
  // Called from the wait's own OnEvents: free it after this pass.
  reactor_.DeleteLater(std::move(it->second));
  waiting_.erase(it);
  if (error != nullptr) {
    ++counters_.proxy_header_errors;
    proxy_log_.Log(LogSeverity::kWarning, reactor_.NowMs(),
                   absl::StrCat("connection from ", peer.ToString(), " closed: ", error));
    if (!stopping_ && options_.max_connections > 0 && open_count() < options_.max_connections) {
      acceptor_->Resume();
    }
    return;  // `fd` closes here
  }
  if (stopping_) return;  // draining: no new connections
  Start(std::move(fd), *source, false);
}

void StreamServer::Start(UniqueFd fd, const SocketAddress& peer, bool refuse_proxy_header) {
  if (options_.ip_limits != nullptr) {
    IpLimits::Verdict verdict = options_.ip_limits->Admit(peer, absl::ToUnixSeconds(absl::Now()));
    if (verdict != IpLimits::kAdmitted) return RefuseAtAccept(std::move(fd), peer, verdict);
  }
  uint64_t id = next_id_++;
  auto connection = Connection::Create(
      reactor_, id, *options_.protocol, options_.codec, events_, counters_,
      [this](Connection& c) { Remove(c); },
      [&](PeerTransport::Delegate& delegate) -> absl::StatusOr<std::unique_ptr<PeerTransport>> {
        return TcpConnection::Create(reactor_, std::move(fd), peer, options_.limits, &delegate,
                                     options_.tls.get());
      });
  if (!connection.ok()) return;  // the socket is closed with the fd
  ++counters_.connections_accepted;
  Connection& ref = **connection;
  if (refuse_proxy_header) ref.RefuseProxyHeader();
  if (options_.rate_limit != nullptr) ref.set_rate_limit(options_.rate_limit.get());
  connections_.emplace(id, std::move(*connection));
  if (silence_) silence_->Add(id, ref.last_recv_ms());
  if (idle_) idle_->Add(id, ref.last_active_ms());
  if (options_.max_connections > 0 && open_count() >= options_.max_connections) {
    ++counters_.accept_pauses;
    acceptor_->Pause();
  }
  ref.Accepted();
}

void StreamServer::RefuseAtAccept(UniqueFd fd, const SocketAddress& peer,
                                  IpLimits::Verdict verdict) {
  bool rate = verdict == IpLimits::kTooFast;
  ++(rate ? counters_.ip_rate_refusals : counters_.ip_connection_refusals);
  limit_log_.Log(LogSeverity::kInfo, reactor_.NowMs(),
                 absl::StrCat("connection from ", peer.ToString(), " refused: ",
                              rate ? "new_connections_per_ip_per_second" : "max_connections_per_ip",
                              " reached"));
  absl::string_view refusal = options_.protocol->RefusalAtAccept();
  if (!refusal.empty() && options_.tls == nullptr) {
    // Best effort, never waiting: a fresh socket's buffer takes it whole.
    (void)::send(fd.get(), refusal.data(), refusal.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(fd.get(), SHUT_WR);
    // Unread input makes close() reset the connection, which can destroy
    // the answer in flight: take what arrived so far.
    char sink[4096];
    while (::recv(fd.get(), sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
  }
}  // `fd` closes here

void StreamServer::Remove(Connection& connection) {
  auto it = connections_.find(connection.id());
  if (it == connections_.end()) return;
  if (options_.ip_limits != nullptr) options_.ip_limits->Release(connection.peer_address());
  rate_marks_.erase(connection.id());
  reactor_.DeleteLater(std::move(it->second));
  connections_.erase(it);
  if (!stopping_ && options_.max_connections > 0 && open_count() < options_.max_connections) {
    acceptor_->Resume();
  }
}

}  // namespace sockman
