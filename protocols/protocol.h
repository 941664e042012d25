// A protocol is a streaming codec on one connection: Workerman's
// input/decode/encode triple made incremental and bounded. Codecs are pure:
// bytes in, messages out; no fd, no clock, no allocation per message.
//
//   class LineCodec : public Codec {
//     DecodeResult Decode(absl::string_view input) override { ... }
//     void Encode(absl::string_view message, MessageKind kind, std::string& out) override { ... }
//   };
//   class LineProtocol : public Protocol { ... NewCodec returns a LineCodec ... };
//   SOCKMAN_REGISTER_PROTOCOL(LineProtocol);   // in a library with alwayslink
//
// The registry maps listen schemes ("text", "ws") to protocols. Upper layers
// (config validation, the CLI, handlers) ask a protocol's traits() what it
// can do, never its name.
#ifndef SOCKMAN_PROTOCOLS_PROTOCOL_H_
#define SOCKMAN_PROTOCOLS_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/log_appender.h"
#include "engine/metrics.h"
#include "engine/reactor.h"
#include "engine/socket_address.h"

namespace sockman {

// What a message is: text (WebSocket text frames, lines) or bytes. A relay
// keeps the kind of what it relays; protocols without the distinction
// deliver kBinary (text:// delivers kText) and ignore it when encoding.
enum class MessageKind : uint8_t { kText, kBinary };

// What a protocol can do, for the layers above it.
struct ProtocolTraits {
  // Runs over a stream (TCP, TLS). Every built-in does.
  bool stream = true;
  // Runs over UDP, one message per datagram (`transport: UDP`).
  bool datagrams = false;
  // Every message is a request answered by one response (HTTP): handlers
  // that relay or push messages do not apply, nor do heartbeats.
  bool request_response = false;
  // Messages flow only after an opening handshake (the WebSocket upgrade):
  // OnOpen follows it, not the accept.
  bool handshake = false;
  // Has a ping of its own, sent as the heartbeat when `ping_data` is empty.
  bool pings = false;
  // Tells text from binary messages (MessageKind) on the wire.
  bool message_kinds = false;
  // Messages keep the boundaries the peer gave them (false for raw tcp://,
  // where a message is whatever one read returned).
  bool message_boundaries = true;
  // TLS ALPN protocol ids it speaks, in preference order ("http/1.1").
  std::vector<std::string> alpn;
  // The scheme that means this protocol over TLS ("https"), or "".
  std::string tls_scheme;
};

// A protocol's own settings, built by its binding (protocols/binding.h) from
// its config block, e.g. WebSocketOptions. Subclasses are final; codecs read
// them through OptionsAs.
class ProtocolOptions {
 public:
  virtual ~ProtocolOptions() = default;
};

// `options` as its concrete (final) type T, or null when it is null or
// another type: one type check, no dynamic_cast.
template <typename T>
const T* OptionsAs(const ProtocolOptions* options) {
  static_assert(std::is_final_v<T>, "OptionsAs needs a final options class");
  return options != nullptr && typeid(*options) == typeid(T) ? static_cast<const T*>(options)
                                                             : nullptr;
}

// HTTP and WebSocket figures of one service in this worker (CodecOptions::metrics).
struct ProtocolMetrics {
  // HTTP responses by status class (1xx..5xx: 0..4) and method (GET, HEAD,
  // POST, PUT, DELETE, other).
  static constexpr int kMethods = 6;
  uint64_t http_requests[5][kMethods] = {};
  LatencyHistogram http_duration;  // request decoded to response queued
  uint64_t websocket_accepted = 0;
  uint64_t websocket_refused = 0;
};

struct CodecOptions {
  // No message, framing included, may be larger than this.
  size_t max_package_size = 10 * 1024 * 1024;
  // Where a request/response protocol logs each exchange (HTTP's access
  // log, combined format); null for none. Owned by the worker.
  LogAppender* access_log = nullptr;
  // The protocol's own settings; null for its defaults. Owned by the
  // service's plan, which outlives every codec of the service.
  const ProtocolOptions* options = nullptr;
  // Where codecs count requests and handshakes; null for nowhere. Owned by
  // the worker.
  ProtocolMetrics* metrics = nullptr;
};

// kConsumed: `consumed` bytes were protocol traffic with no message for the
// handler (a handshake, a ping); send `reply` if any, then close if
// `close_after_reply`.
enum class DecodeStatus { kNeedMore, kMessage, kError, kConsumed };

// Why a decode failed. Protocols answer each in their own way (EncodeError).
enum class ProtocolError : uint8_t {
  kNone,
  kMalformed,  // bytes that can never be valid
  kTooLarge,   // a message over max_package_size
  kTimeout,    // a message did not complete within the protocol's deadline
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  size_t consumed = 0;                      // kMessage: bytes of input this message used
  absl::string_view message;                // kMessage: valid until the input changes
  MessageKind kind = MessageKind::kBinary;  // kMessage: what the message is
  ProtocolError error = ProtocolError::kNone;
  const char* reason = "";         // kError: static text for logs and counters
  uint16_t code = 0;               // kError: the protocol's code (HTTP status, close code)
  absl::string_view reply;         // kNeedMore/kConsumed: bytes to send now
  bool close_after_reply = false;  // kConsumed: then close (a close handshake)
  bool opened = false;             // kConsumed: the protocol's handshake just completed

  static DecodeResult NeedMore() { return DecodeResult{}; }
  static DecodeResult Message(size_t consumed, absl::string_view message,
                              MessageKind kind = MessageKind::kBinary) {
    return DecodeResult{DecodeStatus::kMessage, consumed, message, kind};
  }
  static DecodeResult Consumed(size_t consumed, absl::string_view reply = {},
                               bool close_after_reply = false) {
    DecodeResult r;
    r.status = DecodeStatus::kConsumed;
    r.consumed = consumed;
    r.reply = reply;
    r.close_after_reply = close_after_reply;
    return r;
  }
  static DecodeResult Error(ProtocolError error, const char* reason, uint16_t code = 0) {
    return DecodeResult{DecodeStatus::kError, 0, {}, MessageKind::kBinary, error, reason, code};
  }
};

// Who a client proved to be when it connected (a verified token), for the
// handlers that give clients uids and groups (docs/security.md).
struct ClientIdentity {
  std::string uid;                  // "" when the token named none
  std::vector<std::string> groups;  // the token's groups claim
  // The client may join only `groups`; else it is placed in them at open.
  bool restrict_groups = false;
  std::string claims;  // the token's claims, as one line of JSON
};

// One per connection; may keep state across calls (partial scans).
class Codec {
 public:
  virtual ~Codec() = default;

  // Who the client proved to be during an opening handshake that just
  // succeeded (DecodeResult::opened), handed over once; null: nobody.
  virtual std::unique_ptr<ClientIdentity> TakeIdentity() { return nullptr; }

  // Told once, before any Decode, who the peer is (for logs).
  virtual void Attach(const SocketAddress& peer) {}
  // The client the peer speaks for, when the protocol learned it from the
  // peer (a trusted proxy's X-Forwarded-For): what the connection reports
  // as its remote address from then on. Null: the peer itself.
  virtual const SocketAddress* ClientAddress() const { return nullptr; }

  // Whether a message has begun arriving and is not complete (an HTTP body
  // being received), beyond bytes still buffered: for min_receive_rate.
  virtual bool InMessage() const { return false; }

  // The worker is draining (graceful stop or reload): finish what is in
  // flight and close at the next message boundary the protocol allows (HTTP:
  // answer the next request with "Connection: close").
  virtual void OnDrain() {}

  // Decodes at most one message from the front of `input`, which holds every
  // unconsumed byte of the connection. After kMessage the caller drops
  // `consumed` bytes; after kNeedMore it calls again with the same bytes and
  // more appended. Must not return kNeedMore with input.size() >=
  // max_package_size (the caller then reports kTooLarge itself).
  virtual DecodeResult Decode(absl::string_view input) = 0;
  // Decode, for a caller that drops the bytes of whatever it returns: the
  // codec may then rewrite the bytes of a message where they lie (WebSocket
  // unmasks a frame in place instead of copying it out). Connection calls
  // this one; the default is Decode.
  virtual DecodeResult DecodeInPlace(absl::Span<char> input) {
    return Decode(absl::string_view(input.data(), input.size()));
  }

  // Appends the wire form of `message`, sent as `kind`, to `out`. Protocols
  // without message kinds ignore `kind`.
  virtual void Encode(absl::string_view message, MessageKind kind, std::string& out) = 0;
  // When the wire form of `message` is `prefix + message + suffix`: appends
  // them to `prefix` and `suffix` and returns true, and the message goes out
  // without first being copied next to its framing. False (the default),
  // with nothing appended, when encoding transforms the message: Encode is
  // used.
  virtual bool EncodeFraming(absl::string_view message, MessageKind kind, std::string& prefix,
                             std::string& suffix) {
    return false;
  }
  // False when `message` cannot be framed (too long for a length field or a
  // fixed record): Connection::Send then refuses it as a send failure
  // instead of sending a frame the peer would misread. True by default.
  virtual bool Encodable(absl::string_view message, MessageKind kind) const { return true; }
  // The kind Connection::Send(message) sends (WebSocket: text, or binary
  // with `websocket { binary: true }`).
  virtual MessageKind default_kind() const { return MessageKind::kBinary; }

  // Appends what the protocol sends before closing after `error` (an HTTP 400,
  // a WebSocket close frame). Nothing by default.
  virtual void EncodeError(const DecodeResult& error, std::string& out) {}

  // True when the connection must close once what was just encoded is sent
  // (an HTTP response to a request that asked for close).
  virtual bool CloseAfterSend() const { return false; }
  // True when the peer said it sends nothing more on this connection (that
  // request asked for close): the close then need not wait for its FIN.
  virtual bool PeerDoneSending() const { return false; }

  // While this is > 0 and a message is incomplete (or none has arrived yet),
  // the peer has this many ms to complete it; then EncodeError(kTimeout).
  virtual int64_t PendingTimeoutMs() const { return 0; }

  // Appends what the protocol says before the server closes a connection
  // (a WebSocket close frame: 1001 when `going_away`, the worker stopping;
  // 1000 otherwise). Nothing by default.
  virtual void EncodeClose(bool going_away, std::string& out) {}
  // The same, saying why: a WebSocket close frame with `code` (a policy's,
  // e.g. 1008) and `reason` (at most 123 bytes). By default EncodeClose's.
  virtual void EncodeCloseStatus(uint16_t code, absl::string_view reason, std::string& out) {
    EncodeClose(/*going_away=*/false, out);
  }
  // True when a draining worker should close this connection at once (after
  // EncodeClose) rather than wait for it to finish on its own.
  virtual bool CloseOnDrain() const { return false; }

  // Appends the service's heartbeat ping (config `heartbeat { ping_data }`).
  // By default a non-empty `ping_data` is sent as a message and an empty one
  // sends nothing; protocols with a ping of their own (WebSocket) send it for
  // an empty `ping_data`, and request/response protocols (HTTP) never ping.
  virtual void EncodeHeartbeat(absl::string_view ping_data, std::string& out) {
    if (!ping_data.empty()) Encode(ping_data, default_kind(), out);
  }
};

// `codec` as its concrete (final) type C, or null when it is another codec:
// one type check, no dynamic_cast. For protocol APIs over Connection::codec().
template <typename C>
C* CodecAs(Codec& codec) {
  static_assert(std::is_final_v<C>, "CodecAs needs a final codec class");
  return typeid(codec) == typeid(C) ? static_cast<C*>(&codec) : nullptr;
}

class Protocol {
 public:
  virtual ~Protocol() = default;
  // The listen scheme ("text").
  virtual absl::string_view name() const = 0;
  // Other schemes for the same protocol ("ws" for "websocket").
  virtual std::vector<std::string> aliases() const { return {}; }
  virtual std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const = 0;
  // What the protocol can do (see ProtocolTraits); by default a stream
  // protocol with no handshake, pings or kinds.
  virtual const ProtocolTraits& traits() const;

  // Runs once in each worker that serves this protocol, before its first
  // connection (per-process state such as HTTP's cached Date header).
  virtual void StartWorker(Reactor& reactor) const {}

  // What a connection refused at accept by a per-client limit is told
  // before it is closed (HTTP: a 429), on plain TCP only; "" by default.
  virtual absl::string_view RefusalAtAccept() const { return {}; }
};

// The 429 an HTTP-speaking protocol answers a refused connection with.
inline constexpr absl::string_view kHttpTooManyConnections =
    "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 50\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    "429 Too Many Requests: too many connections from you\n";

// Protocols by scheme. Filled by static registration before main(); read-only
// afterwards.
class ProtocolRegistry {
 public:
  static ProtocolRegistry& Global();

  // Returns true so it can initialize a static. Dies on a duplicate scheme
  // (a build error in disguise).
  bool Register(std::unique_ptr<Protocol> protocol);
  // The protocol of a scheme (its name, an alias or its TLS scheme), or null.
  const Protocol* Find(absl::string_view scheme) const;
  // True for a protocol's TLS scheme ("https").
  bool IsTlsScheme(absl::string_view scheme) const;
  // Every registered scheme in listing order: the protocols' names, then
  // aliases, then TLS schemes, then datagram-only protocols; the built-ins
  // first in the order the DSL documents them, then the rest sorted.
  std::vector<std::string> Schemes() const;
  // Every registered protocol.
  std::vector<const Protocol*> Protocols() const;

 private:
  std::vector<std::unique_ptr<Protocol>> protocols_;
  absl::flat_hash_map<std::string, const Protocol*> by_scheme_;
  absl::flat_hash_map<std::string, const Protocol*> by_tls_scheme_;
};

#define SOCKMAN_REGISTER_PROTOCOL(type)                                   \
  static const bool sockman_protocol_registered_##type [[maybe_unused]] = \
      ::sockman::ProtocolRegistry::Global().Register(std::make_unique<type>())

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_PROTOCOL_H_
