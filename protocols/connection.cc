#include "protocols/connection.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/cluster_buckets.h"
#include "engine/ip_limits.h"
#include "protocols/proxy_header.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<Connection>> Connection::Create(
    Reactor& reactor, uint64_t id, const Protocol& protocol, const CodecOptions& codec_options,
    ConnectionEvents& events, ServiceCounters& counters, std::function<void(Connection&)> on_closed,
    const TransportFactory& make_transport) {
  std::unique_ptr<Connection> connection(
      new Connection(reactor, id, protocol, protocol.NewCodec(codec_options),
                     codec_options.max_package_size, events, counters, std::move(on_closed)));
  auto transport = make_transport(*connection);
  if (!transport.ok()) return transport.status();
  connection->transport_ = std::move(*transport);
  connection->codec_->Attach(connection->transport_->peer());
  connection->created_ms_ = connection->last_recv_ms_ = reactor.NowMs();
  connection->UpdateDeadline(0);
  return connection;
}

Connection::Connection(Reactor& reactor, uint64_t id, const Protocol& protocol,
                       std::unique_ptr<Codec> codec, size_t max_package_size,
                       ConnectionEvents& events, ServiceCounters& counters,
                       std::function<void(Connection&)> on_closed)
    : reactor_(reactor),
      id_(id),
      protocol_(&protocol),
      codec_(std::move(codec)),
      max_package_size_(max_package_size),
      events_(events),
      counters_(counters),
      on_closed_(std::move(on_closed)) {}

Connection::~Connection() {
  for (TimerId timer : timers_) reactor_.CancelTimer(timer);
  reactor_.CancelTimer(deadline_timer_);
}

void Connection::Accepted() {
  events_.OnConnect(*this);
  // Over TLS, the connection opens once the TLS handshake is done (its
  // client certificate known): at OnSecured, or at the first data.
  if (!protocol_->traits().handshake && !transport_->tls_state().tls) Open();
}

void Connection::OnSecured(PeerTransport&) {
  if (!protocol_->traits().handshake) Open();
}

void Connection::SwitchProtocol(const Protocol& protocol, std::unique_ptr<Codec> codec) {
  reactor_.DeleteLater(std::move(codec_));
  codec_ = std::move(codec);
  codec_->Attach(transport_->peer());
  protocol_ = &protocol;
  opened_ = false;
  redecode_ = true;
  if (!protocol_->traits().handshake) Open();
}

void Connection::ContinueWithProtocol(const Protocol& protocol, std::unique_ptr<Codec> codec) {
  SwitchProtocol(protocol, std::move(codec));
  redecode_ = false;
}

void Connection::Open() {
  if (opened_ || !transport_->open()) return;
  opened_ = true;
  events_.OnOpen(*this);
}

bool Connection::Send(absl::string_view message, MessageKind kind) {
  if (!codec_->Encodable(message, kind)) {
    ++counters_.send_failures;
    events_.OnError(*this, ConnectionError::kSendFail,
                    "message does not fit the protocol's framing, not sent");
    return false;
  }
  encoded_.clear();
  suffix_.clear();
  bool sent;
  if (codec_->EncodeFraming(message, kind, encoded_, suffix_)) {
    absl::string_view parts[] = {encoded_, message, suffix_};
    sent = SendEncoded(parts);
  } else {
    codec_->Encode(message, kind, encoded_);
    sent = SendEncoded(encoded_);
  }
  if (encoded_.capacity() > 64 * 1024) std::string().swap(encoded_);
  counters_.messages_out_binary += sent && kind == MessageKind::kBinary;
  return sent;
}

bool Connection::SendEncoded(absl::string_view bytes) {
  return SendEncoded(absl::MakeConstSpan(&bytes, 1));
}

bool Connection::SendEncoded(absl::Span<const absl::string_view> parts) {
  bool sent = SendRaw(parts);
  CloseIfCodecDone();
  return sent;
}

absl::string_view CloseReasonName(CloseReason reason) {
  static constexpr absl::string_view kNames[kCloseReasons] = {
      "client", "server", "idle", "heartbeat", "protocol_error", "drain", "limit", "auth"};
  return kNames[static_cast<int>(reason)];
}

void Connection::CloseIfCodecDone() {
  if (!codec_->CloseAfterSend()) return;
  set_close_reason(CloseReason::kServer);
  if (codec_->PeerDoneSending()) {
    transport_->CloseWithoutLinger();
  } else {
    transport_->Close();
  }
}

bool Connection::SendRaw(absl::string_view bytes) {
  return SendRaw(absl::MakeConstSpan(&bytes, 1));
}

bool Connection::SendRaw(absl::Span<const absl::string_view> parts) {
  last_send_ms_ = reactor_.NowMs();
  switch (transport_->SendParts(parts)) {
    case TcpConnection::SendResult::kOk:
      ++counters_.messages_out;
      ++messages_sent_;
      return true;
    case TcpConnection::SendResult::kDropped:
      ++counters_.send_failures;
      events_.OnError(*this, ConnectionError::kSendFail, "send buffer full, message dropped");
      return false;
    case TcpConnection::SendResult::kClosed:
      ++counters_.send_failures;
      return false;
  }
  return false;
}

bool Connection::SendFile(UniqueFd file, uint64_t offset, uint64_t length) {
  last_send_ms_ = reactor_.NowMs();
  return transport_->SendFile(std::move(file), offset, length) == TcpConnection::SendResult::kOk;
}

void Connection::Close() { CloseWith(/*going_away=*/false); }

void Connection::CloseWith(bool going_away) {
  if (!transport_->open()) return;
  set_close_reason(going_away ? CloseReason::kDrain : CloseReason::kServer);
  // The protocol's goodbye (a WebSocket close frame), then the graceful TCP
  // close, which waits (close_timeout_ms) for the peer to finish its side.
  encoded_.clear();
  codec_->EncodeClose(going_away, encoded_);
  if (!encoded_.empty()) transport_->Send(encoded_);
  transport_->Close();
}

void Connection::CloseWithStatus(uint16_t code, absl::string_view reason, CloseReason why) {
  if (!transport_->open()) return;
  set_close_reason(why);
  encoded_.clear();
  codec_->EncodeCloseStatus(code, reason, encoded_);
  if (!encoded_.empty()) transport_->Send(encoded_);
  transport_->Close();
}

std::string Connection::local_address() const {
  if (transport_->closed()) return "";
  absl::StatusOr<SocketAddress> local = SocketAddress::LocalOf(transport_->fd());
  return local.ok() ? local->ToString() : "";
}

void Connection::Close(absl::string_view last_message) {
  Send(last_message);
  Close();
}

void Connection::Destroy() {
  if (transport_->open()) set_close_reason(CloseReason::kServer);
  transport_->Destroy();
}

void Connection::DestroySilent() {
  ++counters_.heartbeat_closes;
  set_close_reason(CloseReason::kHeartbeat);
  Destroy();
}

void Connection::SendHeartbeat(absl::string_view ping_data) {
  if (!transport_->open()) return;
  encoded_.clear();
  codec_->EncodeHeartbeat(ping_data, encoded_);
  if (encoded_.empty()) return;
  // A ping is not a handler's message (no counters, no OnError when
  // dropped) and not activity: it keeps neither idle_timeout_ms nor the
  // peer's silence from expiring.
  transport_->Send(encoded_);
}

void Connection::set_rate_limit(const RateLimitPolicy* policy) {
  if (policy == nullptr) {
    rate_.reset();
    return;
  }
  uint64_t ip = policy->per_ip ? AddressKey(peer_address()) : 0;
  rate_ = std::make_unique<RateBuckets>(
      RateBuckets{policy, policy->message_burst, policy->byte_burst, reactor_.NowMs(), ip, ip});
}

void Connection::set_rate_uid(absl::string_view uid) {
  if (rate_ == nullptr || !rate_->policy->per_uid) return;
  rate_->key = uid.empty() ? rate_->ip_key : NameKey(uid);
  if (rate_->key == 0) {  // back to its own buckets, full
    rate_->messages = rate_->policy->message_burst;
    rate_->bytes = rate_->policy->byte_burst;
    rate_->refilled_ms = reactor_.NowMs();
  }
}

namespace {

// A cluster lease: 50 ms of the rate (at least one message, or one message's
// bytes), at most the burst.
double LeaseSize(double rate, double burst, double least) {
  return std::min(std::max(rate * 0.05, least), std::max(burst, least));
}

}  // namespace

bool Connection::AdmitClusterRate(size_t size) {
  RateBuckets& b = *rate_;
  const RateLimitPolicy& p = *b.policy;
  int64_t now = reactor_.NowMs();
  double cost = static_cast<double>(size);
  bool pause = p.action == RateLimitPolicy::Action::kPause;
  double messages = 0, bytes = 0;
  if (p.messages_per_second > 0) {
    double lease = LeaseSize(p.messages_per_second, p.message_burst, 1);
    messages = p.shared->TakeCredit(b.key, SharedBuckets::kMessages, 1, lease, now, pause);
    if (messages < lease / 2) {
      LeaseMore(SharedBuckets::kMessages, p.messages_per_second, p.message_burst, lease);
    }
  }
  if (p.bytes_per_second > 0 && (pause || messages >= 0)) {
    double lease = LeaseSize(p.bytes_per_second, p.byte_burst, cost);
    bytes = p.shared->TakeCredit(b.key, SharedBuckets::kBytes, cost, lease, now, pause);
    if (bytes < lease / 2)
      LeaseMore(SharedBuckets::kBytes, p.bytes_per_second, p.byte_burst, lease);
  }
  b.messages = messages;
  b.bytes = bytes;
  if (messages < 0 || bytes < 0) {
    if (!pause) return RefuseRate();
    PauseForRate();
  }
  return true;
}

void Connection::LeaseMore(SharedBuckets::Bucket bucket, double rate, double burst, double want) {
  const RateLimitPolicy& p = *rate_->policy;
  uint64_t key = rate_->key;
  if (!p.shared->StartLease(key, bucket, reactor_.NowMs())) return;
  std::string name = absl::StrCat("sockman:rl:", p.cluster_namespace, ":",
                                  bucket == SharedBuckets::kMessages ? "m" : "b", ":",
                                  absl::Hex(key, absl::kZeroPad16));
  // The connection may be gone when the answer comes: only the shared table
  // (kept alive here) is touched.
  std::shared_ptr<SharedBuckets> shared = p.shared;
  Reactor& reactor = reactor_;
  ClusterBuckets::ForProcess(reactor_, *p.cluster_redis)
      .Lease(name, rate, burst, want, [shared, key, bucket, rate, want, &reactor](double granted) {
        int64_t now = reactor.NowMs();
        // What Redis holds refills at `rate`: another lease is worth asking
        // for once that much has come back. Unreachable, the node grants
        // itself leases at the rate: it limits on its own until Redis is back.
        int64_t refill_ms = static_cast<int64_t>(want / rate * 1000.0) + 1;
        if (granted < 0) {
          shared->AddCredit(key, bucket, want, now);
          shared->EndLease(key, bucket, now, refill_ms);
          return;
        }
        if (granted > 0) shared->AddCredit(key, bucket, granted, now);
        shared->EndLease(key, bucket, now, granted >= want ? 0 : refill_ms);
      });
}

bool Connection::AdmitRate(size_t size) {
  RateBuckets& b = *rate_;
  const RateLimitPolicy& p = *b.policy;
  if (b.key != 0 && p.cluster_redis.has_value()) return AdmitClusterRate(size);
  int64_t now = reactor_.NowMs();
  double cost = static_cast<double>(size);
  bool pause = p.action == RateLimitPolicy::Action::kPause;
  if (b.key != 0) {
    // The address's or uid's buckets, in shared memory: taken (or refused) there.
    double messages = p.messages_per_second <= 0
                          ? 0
                          : p.shared->Take(b.key, SharedBuckets::kMessages, p.messages_per_second,
                                           p.message_burst, 1, now, pause);
    double bytes = p.bytes_per_second <= 0 || (!pause && messages < 0)
                       ? 0
                       : p.shared->Take(b.key, SharedBuckets::kBytes, p.bytes_per_second,
                                        p.byte_burst, cost, now, pause);
    b.messages = messages;
    b.bytes = bytes;
    if (!pause && (messages < 0 || bytes < 0)) return RefuseRate();
    if (pause && (messages < 0 || bytes < 0)) PauseForRate();
    return true;
  }
  double seconds = static_cast<double>(now - b.refilled_ms) / 1000.0;
  b.refilled_ms = now;
  if (p.messages_per_second > 0) {
    b.messages = std::min(p.message_burst, b.messages + seconds * p.messages_per_second);
  }
  if (p.bytes_per_second > 0) {
    b.bytes = std::min(p.byte_burst, b.bytes + seconds * p.bytes_per_second);
  }
  bool enough = (p.messages_per_second <= 0 || b.messages >= 1) &&
                (p.bytes_per_second <= 0 || b.bytes >= cost);
  if (!pause && !enough) return RefuseRate();
  if (p.messages_per_second > 0) b.messages -= 1;
  if (p.bytes_per_second > 0) b.bytes -= cost;
  if (pause && (b.messages < 0 || b.bytes < 0)) PauseForRate();
  return true;
}

bool Connection::RefuseRate() {
  if (rate_->policy->action == RateLimitPolicy::Action::kDrop) {
    ++counters_.rate_dropped;
  } else {
    ++counters_.rate_closed;
    CloseWithStatus(1008, "rate limit exceeded", CloseReason::kLimit);
  }
  return false;
}

void Connection::PauseForRate() {
  // In debt: read nothing more until the buckets are back at zero.
  const RateBuckets& b = *rate_;
  const RateLimitPolicy& p = *b.policy;
  double wait = 0;
  if (b.messages < 0) wait = -b.messages / p.messages_per_second;
  if (b.bytes < 0) wait = std::max(wait, -b.bytes / p.bytes_per_second);
  ++counters_.rate_paused;
  rate_paused_ = true;
  transport_->PauseRecv();
  AddTimer(static_cast<int64_t>(wait * 1000.0) + 1, [this] {
    rate_paused_ = false;
    if (!handler_paused_) transport_->ResumeRecv();
  });
}

TimerId Connection::AddTimer(int64_t delay_ms, std::function<void()> callback) {
  if (timers_.size() >= 16) {
    // Forget timers that already fired so the list stays short.
    std::erase_if(timers_, [this](TimerId t) { return !reactor_.TimerPending(t); });
  }
  TimerId id = reactor_.AddTimer(delay_ms, std::move(callback));
  timers_.push_back(id);
  return id;
}

TimerId Connection::AddRepeatingTimer(int64_t interval_ms, std::function<void()> callback) {
  TimerId id = reactor_.AddRepeatingTimer(interval_ms, std::move(callback));
  timers_.push_back(id);
  return id;
}

void Connection::CancelTimer(TimerId id) {
  reactor_.CancelTimer(id);
  std::erase(timers_, id);
}

bool Connection::CheckNoProxyHeader(Buffer& input) {
  switch (LooksLikeProxyHeader(input.view())) {
    case ProxyHeader::kNeedMore:
      return true;  // too few bytes to tell
    case ProxyHeader::kError:
      refuse_proxy_header_ = false;  // not a PROXY header: the protocol's bytes
      return true;
    case ProxyHeader::kDone:
      break;
  }
  static RateLimitedLog log;
  ++counters_.proxy_header_errors;
  log.Log(LogSeverity::kWarning, reactor_.NowMs(),
          absl::StrCat("connection from ", remote_address().ToString(),
                       " closed: a PROXY header from an address not in proxy_protocol.trusted"));
  transport_->Destroy();
  return false;
}

void Connection::CountTls(bool closing) {
  PeerTransport::TlsState tls = transport_->tls_state();
  if (!tls.tls) {
    tls_counted_ = true;
  } else if (tls.established) {
    ++counters_.tls_established[tls.version >= 0x0304 ? 1 : 0];
    counters_.tls_resumed += tls.resumed;
    tls_counted_ = true;
  } else if (closing) {
    ++counters_.tls_failed;
    tls_counted_ = true;
  }
}

void Connection::OnData(PeerTransport& tcp, Buffer& input) {
  last_recv_ms_ = reactor_.NowMs();
  if (!tls_counted_) CountTls(/*closing=*/false);
  if (!opened_ && !protocol_->traits().handshake) Open();  // TLS data before OnSecured
  if (refuse_proxy_header_) {
    if (!CheckNoProxyHeader(input)) return;
    if (refuse_proxy_header_) return;  // wait for enough bytes to tell
  }
  // Replies to everything decoded from this read leave in one write.
  tcp.Cork();
  while (tcp.open() && !tcp.recv_paused()) {
    DecodeResult result = codec_->DecodeInPlace(input.writable());
    if (result.status == DecodeStatus::kNeedMore) {
      if (!result.reply.empty()) tcp.Send(result.reply);
      if (input.size() >= max_package_size_) {
        FailProtocol(
            DecodeResult::Error(ProtocolError::kTooLarge, "message larger than max_package_size"));
      }
      break;
    }
    if (result.status == DecodeStatus::kError) {
      FailProtocol(result);
      break;
    }
    if (result.status == DecodeStatus::kConsumed) {
      if (!result.reply.empty()) tcp.Send(result.reply);
      input.Consume(result.consumed);
      if (result.close_after_reply) {
        tcp.Close();
        break;
      }
      if (result.opened) {
        if (std::unique_ptr<ClientIdentity> identity = codec_->TakeIdentity()) {
          identity_ = std::move(identity);
        }
        Open();
      }
      continue;
    }
    if (rate_ != nullptr && !AdmitRate(result.message.size())) {
      if (!tcp.open()) break;
      input.Consume(result.consumed);  // dropped
      continue;
    }
    ++counters_.messages_in;
    counters_.messages_in_binary += result.kind == MessageKind::kBinary;
    ++messages_received_;
    if (deadline_timer_ != kNoTimer) {  // the next message gets its own deadline
      reactor_.CancelTimer(deadline_timer_);
      deadline_timer_ = kNoTimer;
    }
    events_.OnMessage(*this, result.message, result.kind);
    if (redecode_) {  // SwitchProtocol: the new codec decodes it again
      redecode_ = false;
      continue;
    }
    input.Consume(result.consumed);
  }
  if (tcp.open()) UpdateDeadline(input.size());
  tcp.Uncork();
}

void Connection::UpdateDeadline(size_t pending_bytes) {
  int64_t timeout = codec_->PendingTimeoutMs();
  bool want = timeout > 0 && (pending_bytes > 0 || messages_received_ == 0);
  if (!want) {
    reactor_.CancelTimer(deadline_timer_);
    deadline_timer_ = kNoTimer;
    return;
  }
  if (deadline_timer_ != kNoTimer) return;  // the first byte started the clock
  deadline_timer_ = reactor_.AddTimer(timeout, [this] {
    deadline_timer_ = kNoTimer;
    if (transport_->open()) {
      FailProtocol(DecodeResult::Error(ProtocolError::kTimeout, "message deadline passed"));
    }
  });
}

void Connection::FailProtocol(const DecodeResult& result) {
  // Said once per ten seconds per worker at most, with how many were not.
  static RateLimitedLog* refusals = new RateLimitedLog();
  if (LogEnabled(LogSeverity::kInfo)) {
    refusals->Log(LogSeverity::kInfo, reactor_.NowMs(),
                  absl::StrCat(protocol_->name(), " protocol error from ",
                               transport_->peer().ToString(), ": ", result.reason,
                               result.code != 0 ? absl::StrCat(" (", result.code, ")") : "",
                               "; closing the connection"));
  }
  ++counters_.protocol_errors;
  ++counters_.protocol_errors_by_kind[static_cast<int>(result.error) & 3];
  set_close_reason(CloseReason::kProtocol);
  encoded_.clear();
  codec_->EncodeError(result, encoded_);
  if (!encoded_.empty()) transport_->Send(encoded_);
  events_.OnError(*this, ConnectionError::kProtocol, result.reason);
  transport_->Close();
}

void Connection::OnBufferFull(PeerTransport&) { events_.OnBufferFull(*this); }
void Connection::OnBufferDrain(PeerTransport&) { events_.OnBufferDrain(*this); }

void Connection::OnClosed(PeerTransport&) {
  if (!tls_counted_) CountTls(/*closing=*/true);
  ++counters_.closed[static_cast<int>(close_reason_)];
  counters_.bytes_in += transport_->bytes_read();
  counters_.bytes_out += transport_->bytes_written();
  for (TimerId timer : timers_) reactor_.CancelTimer(timer);
  timers_.clear();
  reactor_.CancelTimer(deadline_timer_);
  deadline_timer_ = kNoTimer;
  if (!quiet_) events_.OnClose(*this);
  on_closed_(*this);
}

}  // namespace sockman
