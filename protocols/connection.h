// Connection is what a handler holds: one client connection with its
// protocol's codec bound to it (the "session"). Send() takes a message and
// the protocol encodes it: a line on text, a frame on frame, a full HTTP
// response on http, a text or binary frame on WebSocket. ConnectionEvents
// are Workerman's callbacks; handlers implement them.
//
//   void OnMessage(Connection& c, absl::string_view message, MessageKind kind) override {
//     c.Send(absl::StrCat("you said: ", message), kind);   // keeps text or binary
//   }
//
// Every method runs on the worker's loop. A Connection stays valid until
// OnClose returns; it is freed after the current loop pass.
#ifndef SOCKMAN_PROTOCOLS_CONNECTION_H_
#define SOCKMAN_PROTOCOLS_CONNECTION_H_

#include <algorithm>
#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/peer_transport.h"
#include "engine/reactor.h"
#include "engine/shared_buckets.h"
#include "engine/socket_address.h"
#include "engine/tcp_connection.h"
#include "protocols/protocol.h"

namespace sockman {

class Connection;

enum class ConnectionError {
  kSendFail,  // a message was dropped: the send buffer was full or the peer gone
  kProtocol,  // the peer broke the protocol; the connection is being closed
};

class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  // The peer was accepted (or an outbound connection was established):
  // Workerman's onConnect. Nothing may be sent yet on a protocol with a
  // handshake.
  virtual void OnConnect(Connection& connection) {}
  // The connection can carry messages: right after OnConnect for protocols
  // without a handshake, after it for those with one (WebSocket: the
  // upgrade was accepted; Workerman's onWebSocketConnect). Fires once, and
  // not at all for a connection that closed first.
  virtual void OnOpen(Connection& connection) {}
  // `message` is valid only during the call; `kind` says whether it arrived
  // as text or binary (see MessageKind).
  virtual void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) = 0;
  virtual void OnClose(Connection& connection) {}
  virtual void OnBufferFull(Connection& connection) {}
  virtual void OnBufferDrain(Connection& connection) {}
  virtual void OnError(Connection& connection, ConnectionError error, absl::string_view message) {}
};

// Why a connection closed, for metrics: the peer went (or the socket
// failed), or the server closed it: at the handler's or protocol's wish, idle,
// silent past its heartbeat, after a protocol error, or draining.
// A limit (rate, per-IP) or a missing authentication closed it too.
enum class CloseReason : uint8_t {
  kClient,
  kServer,
  kIdle,
  kHeartbeat,
  kProtocol,
  kDrain,
  kLimit,
  kAuth
};
inline constexpr int kCloseReasons = 8;
absl::string_view CloseReasonName(CloseReason reason);  // "client", "idle", ...

// Token buckets on what one connection may send (config `rate_limit`): a
// message costs one message token and its size in byte tokens; buckets
// refill at their rate up to their burst.
struct RateLimitPolicy {
  enum class Action : uint8_t {
    kDrop,   // a message without tokens is dropped (counted)
    kPause,  // every message is delivered; reading stops until the debt is paid
    kClose,  // the connection is closed (WebSocket 1008 "rate limit exceeded")
  };
  double messages_per_second = 0;  // 0: messages unlimited
  double message_burst = 0;
  double bytes_per_second = 0;  // 0: bytes unlimited
  double byte_burst = 0;
  Action action = Action::kDrop;
  // Set: the buckets are shared by the service's workers, keyed by the
  // client address (per_ip) and/or, once the client has one, its uid
  // (per_uid); null: per connection.
  std::shared_ptr<SharedBuckets> shared;
  bool per_ip = false;
  bool per_uid = false;
  // Set: the shared buckets are the cluster's, in this Redis (leased from:
  // see engine/cluster_buckets.h), named "sockman:rl:NAMESPACE:...".
  std::optional<SocketAddress> cluster_redis;
  std::string cluster_namespace;
};

// Per-worker counters shared by the connections of one service.
struct ServiceCounters {
  uint64_t connections_accepted = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  // Of those, binary ones (protocols that tell text from binary).
  uint64_t messages_in_binary = 0;
  uint64_t messages_out_binary = 0;
  uint64_t send_failures = 0;
  uint64_t protocol_errors = 0;
  uint64_t heartbeat_closes = 0;   // silent past heartbeat interval * not_response_limit
  uint64_t idle_closes = 0;        // idle past limits.idle_timeout_ms
  uint64_t accept_pauses = 0;      // times max_connections stopped accepting
  uint64_t datagrams_dropped = 0;  // UDP: over max_package_size (or 65507 bytes)
  // PROXY protocol: a trusted peer's header missing, malformed or late, or
  // a header from a peer not trusted to send one.
  uint64_t proxy_header_errors = 0;
  // Connections refused at accept by per-IP limits: max_connections_per_ip,
  // new_connections_per_ip_per_second.
  uint64_t ip_connection_refusals = 0;
  uint64_t ip_rate_refusals = 0;
  // rate_limit: messages dropped, pauses, connections closed.
  uint64_t rate_dropped = 0;
  uint64_t rate_paused = 0;
  uint64_t rate_closed = 0;
  // min_send_rate and min_receive_rate: slow readers closed, slow senders timed out.
  uint64_t slow_readers = 0;
  uint64_t slow_senders = 0;
  uint64_t closed[kCloseReasons] = {};  // by CloseReason
  // Protocol errors by ProtocolError (kMalformed, kTooLarge, kTimeout).
  uint64_t protocol_errors_by_kind[4] = {};
  // Bytes of connections already closed (open ones are added at a scrape).
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // TLS handshakes: finished (by version: TLS 1.2, TLS 1.3), resumed, and
  // connections that closed before theirs finished.
  uint64_t tls_established[2] = {};
  uint64_t tls_resumed = 0;
  uint64_t tls_failed = 0;
};

class Connection : private PeerTransport::Delegate {
 public:
  // Builds the connection's transport, delivering to the connection.
  using TransportFactory = std::function<absl::StatusOr<std::unique_ptr<PeerTransport>>(
      PeerTransport::Delegate& delegate)>;

  // Called by the server that accepted a peer; `on_closed` runs after OnClose.
  // The server then calls Accepted().
  static absl::StatusOr<std::unique_ptr<Connection>> Create(
      Reactor& reactor, uint64_t id, const Protocol& protocol, const CodecOptions& codec_options,
      ConnectionEvents& events, ServiceCounters& counters,
      std::function<void(Connection&)> on_closed, const TransportFactory& make_transport);
  ~Connection() override;

  // Runs OnConnect, then OnOpen unless the protocol has a handshake (OnOpen
  // then follows it). For the server or connector that made the connection.
  void Accepted();
  // For a server with the PROXY protocol on, about a peer that is not
  // trusted to send a PROXY header: if its first bytes are one, the
  // connection is closed (logged, counted as proxy_header_errors).
  void RefuseProxyHeader() { refuse_proxy_header_ = true; }

  // A worker-unique id (1, 2, ...).
  uint64_t id() const { return id_; }

  // Encodes `message` with the protocol and sends it as `kind` (a text or
  // binary WebSocket frame; ignored by protocols without kinds). Returns
  // false when it was dropped (send buffer full: OnError(kSendFail)
  // follows) or the connection is closing.
  bool Send(absl::string_view message, MessageKind kind);
  // The same as the protocol's default kind (Codec::default_kind()).
  bool Send(absl::string_view message) { return Send(message, codec_->default_kind()); }
  // Sends bytes as they are, bypassing the protocol.
  bool SendRaw(absl::string_view bytes);
  // The same for one message in parts (a frame header and its payload),
  // written with one gathering call instead of being copied together.
  bool SendRaw(absl::Span<const absl::string_view> parts);
  // Sends `length` bytes of `file` from `offset` (sendfile, no copy), after
  // everything sent before it. False if the connection is closing.
  bool SendFile(UniqueFd file, uint64_t offset, uint64_t length);

  // Sends what is queued and the protocol's goodbye (a WebSocket close
  // frame), then closes. Close(message) sends one last message first.
  void Close();
  void Close(absl::string_view last_message);
  // The same, saying the server is going away (WebSocket 1001).
  void CloseGoingAway() { CloseWith(/*going_away=*/true); }
  // The same, saying why (a WebSocket close frame with `code` and
  // `reason`), counted in metrics as `why`.
  void CloseWithStatus(uint16_t code, absl::string_view reason, CloseReason why);
  // Closes at once; queued output is lost.
  void Destroy();
  // Destroy, for a peer silent past its heartbeat: counted as a heartbeat
  // close (heartbeat_closes, reason "heartbeat").
  void DestroySilent();
  // UDP: keep this datagram's connection after OnMessage, so the handler can
  // answer the sender later (a webhook's reply); it lives until the handler
  // closes it. Nothing for stream connections, which live anyway.
  void Retain() { retained_ = true; }
  bool retained() const { return retained_; }
  // Why the server is about to close it (idle, heartbeat): what metrics
  // count it as. Without one, a close the server makes is kServer, any other kClient.
  void set_close_reason(CloseReason reason) {
    if (!close_reason_set_) close_reason_ = reason;
    close_reason_set_ = true;
  }
  // The same without OnClose (for an owner that is going away itself).
  void DestroyQuietly() {
    quiet_ = true;
    Destroy();
  }

  // Sends the service's heartbeat ping, as the protocol encodes it (see
  // Codec::EncodeHeartbeat); nothing if the protocol has none to send.
  void SendHeartbeat(absl::string_view ping_data);

  // While corked, sends are queued and leave together, in one write, at
  // Uncork (calls nest). For fan-out: many messages to one peer in one pass.
  void Cork() { transport_->Cork(); }
  void Uncork() { transport_->Uncork(); }

  // Stop and restart delivering messages (flow control).
  // The handler's backpressure. Reading resumes once neither the handler
  // nor a rate_limit pause holds it.
  void PauseRecv() {
    handler_paused_ = true;
    transport_->PauseRecv();
  }
  void ResumeRecv() {
    handler_paused_ = false;
    if (!rate_paused_) transport_->ResumeRecv();
  }

  // Timers that are cancelled automatically when the connection closes.
  TimerId AddTimer(int64_t delay_ms, std::function<void()> callback);
  TimerId AddRepeatingTimer(int64_t interval_ms, std::function<void()> callback);
  void CancelTimer(TimerId id);

  // The protocol's codec for this connection, for protocol-specific APIs
  // (see protocols/http/http.h); codec_as<HttpCodec>() is it as its type, or
  // null when the connection speaks another protocol.
  Codec& codec() { return *codec_; }
  template <typename C>
  C* codec_as() {
    return CodecAs<C>(*codec_);
  }
  // Speaks another protocol from now on (an HTTP route that upgrades to
  // WebSocket): `codec` replaces the codec, and the message being handled
  // is decoded again by it instead of consumed (so it does the upgrade's
  // handshake). OnOpen follows once the new protocol's handshake is done.
  // Only from inside OnMessage; the old codec lives until the loop's pass ends.
  void SwitchProtocol(const Protocol& protocol, std::unique_ptr<Codec> codec);
  // The same outside OnMessage, from the next byte on (a proxied Upgrade,
  // once the upstream said 101): bytes already received and not yet
  // decoded are decoded by the new codec.
  void ContinueWithProtocol(const Protocol& protocol, std::unique_ptr<Codec> codec);
  // Sends bytes the codec produced, then closes if the codec asks for it.
  bool SendEncoded(absl::string_view bytes);
  bool SendEncoded(absl::Span<const absl::string_view> parts);
  // Closes once what is queued is sent, if the codec says the exchange just
  // encoded ends the connection (an HTTP response to a request that asked
  // for close; without lingering when the peer sends nothing more). The one
  // place that policy lives: call it after a whole response is queued.
  void CloseIfCodecDone();

  // Applies a rate limit to the messages the peer sends from now on (null:
  // none); `policy` must outlive the connection.
  void set_rate_limit(const RateLimitPolicy* policy);
  // A per_uid rate limit: the client now is `uid` ("" none), whose buckets it
  // shares with the uid's other connections in every worker.
  void set_rate_uid(absl::string_view uid);

  // Whether output (a file being sent included) is waiting to leave.
  bool sending() const { return transport_->output_pending(); }
  // Whether a message from the peer is under way (bytes of it buffered, or
  // the protocol in the middle of one, an HTTP body) and reading it is not
  // paused by our side.
  bool receiving() const {
    return !transport_->recv_paused() && (transport_->buffered_input() > 0 || codec_->InMessage());
  }
  // Closes a peer that sends too slowly as the protocol times out a late
  // message (HTTP: 408), counted as a protocol timeout.
  void FailSlowSender(const char* reason) {
    FailProtocol(DecodeResult::Error(ProtocolError::kTimeout, reason));
  }

  // The client's verified TLS certificate (mTLS), if it presented one.
  bool client_certificate(std::string& subject, std::string& fingerprint) const {
    return transport_->client_certificate(subject, fingerprint);
  }

  // Who the client proved to be at connect (a verified token), or null.
  const ClientIdentity* identity() const { return identity_.get(); }
  void set_identity(std::unique_ptr<ClientIdentity> identity) { identity_ = std::move(identity); }

  // Whatever the handler keeps with this connection (Workerman's dynamic
  // properties): c.user_data() = Session{...}; std::any_cast<Session>(&c.user_data()).
  std::any& user_data() { return user_data_; }

  // The client: the peer, or whom a trusted proxy peer says it speaks for
  // (PROXY protocol, X-Forwarded-For), as every log and handler sees it.
  const SocketAddress& remote_address() const {
    const SocketAddress* client = codec_->ClientAddress();
    return client != nullptr ? *client : transport_->peer();
  }
  // The socket's peer (after any PROXY header): the hop the bytes came
  // from, a trusted proxy when remote_address() is a client it named.
  const SocketAddress& peer_address() const { return transport_->peer(); }
  absl::string_view protocol() const { return protocol_->name(); }
  bool open() const { return transport_->open(); }
  size_t send_buffer_size() const { return transport_->send_buffer_size(); }
  uint64_t bytes_read() const { return transport_->bytes_read(); }
  uint64_t messages_in() const { return messages_received_; }
  uint64_t messages_out() const { return messages_sent_; }
  int64_t created_ms() const { return created_ms_; }
  // When bytes last arrived (or the connection opened), and when anything
  // last moved either way: loop time, in ms.
  int64_t last_recv_ms() const { return last_recv_ms_; }
  int64_t last_active_ms() const { return std::max(last_recv_ms_, last_send_ms_); }
  // The local address of the socket ("" if it cannot be read).
  std::string local_address() const;
  uint64_t bytes_written() const { return transport_->bytes_written(); }
  Reactor& reactor() { return reactor_; }

 private:
  Connection(Reactor& reactor, uint64_t id, const Protocol& protocol, std::unique_ptr<Codec> codec,
             size_t max_package_size, ConnectionEvents& events, ServiceCounters& counters,
             std::function<void(Connection&)> on_closed);

  // PeerTransport::Delegate
  void OnData(PeerTransport& tcp, Buffer& input) override;
  void OnBufferFull(PeerTransport& tcp) override;
  void OnBufferDrain(PeerTransport& tcp) override;
  void OnSecured(PeerTransport& tcp) override;
  void OnClosed(PeerTransport& tcp) override;

  void CloseWith(bool going_away);
  // Runs OnOpen once, if the connection is still open.
  void Open();
  void FailProtocol(const DecodeResult& result);
  // RefuseProxyHeader's check of the first bytes: false when it closed.
  bool CheckNoProxyHeader(Buffer& input);
  // Counts the TLS handshake once it finished, or (`closing`) failed.
  void CountTls(bool closing);
  // Arms or cancels the codec's deadline for an incomplete message.
  void UpdateDeadline(size_t pending_bytes);

  Reactor& reactor_;
  uint64_t id_;
  const Protocol* protocol_;
  std::unique_ptr<Codec> codec_;
  size_t max_package_size_;
  ConnectionEvents& events_;
  ServiceCounters& counters_;
  std::function<void(Connection&)> on_closed_;
  std::unique_ptr<PeerTransport> transport_;
  std::string encoded_;  // reused for every Send (the prefix with EncodeFraming)
  std::string suffix_;   // EncodeFraming's suffix
  std::vector<TimerId> timers_;
  TimerId deadline_timer_ = kNoTimer;
  uint64_t messages_received_ = 0;
  uint64_t messages_sent_ = 0;
  int64_t created_ms_ = 0;
  int64_t last_recv_ms_ = 0;
  int64_t last_send_ms_ = 0;
  bool quiet_ = false;
  bool opened_ = false;
  bool refuse_proxy_header_ = false;  // until the first bytes show none
  bool redecode_ = false;             // SwitchProtocol: the message is not consumed
  bool close_reason_set_ = false;
  bool tls_counted_ = false;  // its TLS handshake (or that it has none) is in counters_
  CloseReason close_reason_ = CloseReason::kClient;
  std::any user_data_;
  std::unique_ptr<ClientIdentity> identity_;
  // rate_limit's buckets (null: no limit).
  struct RateBuckets {
    const RateLimitPolicy* policy;
    double messages;  // tokens (negative: a pause's debt); per connection
    double bytes;
    int64_t refilled_ms;
    uint64_t key;     // the shared buckets' key (0: the connection's own buckets)
    uint64_t ip_key;  // per_ip: the client address's key
  };
  std::unique_ptr<RateBuckets> rate_;
  bool handler_paused_ = false;  // PauseRecv
  bool rate_paused_ = false;     // rate_limit PAUSE, until its timer
  bool retained_ = false;        // Retain
  // Whether a message of `size` bytes may be delivered now; applies the
  // policy's action when it may not (or, pausing, when it ran into debt).
  bool AdmitRate(size_t size);
  // AdmitRate for buckets shared by the cluster: spends leased credit, and
  // asks for more when it runs low.
  bool AdmitClusterRate(size_t size);
  void LeaseMore(SharedBuckets::Bucket bucket, double rate, double burst, double want);
  bool RefuseRate();    // the action for a message without tokens; false
  void PauseForRate();  // PAUSE in debt: stop reading until it is paid
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_CONNECTION_H_
