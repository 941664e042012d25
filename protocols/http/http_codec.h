// The HTTP/1.1 server codec (RFC 9112): an incremental, bounded request
// parser and the response encoder. Pure: bytes in, requests out; no fd, no
// clock (the Date header comes from HttpDate, refreshed by the worker).
//
// Decode() yields one message per request; the message is the request body
// (de-chunked), and request() describes the rest while the handler runs.
// Errors carry the HTTP status to answer with (400, 408, 413, 414, 417, 431,
// 501, 505); EncodeError writes that response, and the connection closes.
//
//   HttpCodec codec(options);
//   DecodeResult r = codec.Decode(bytes);
//   if (r.status == DecodeStatus::kMessage) { const HttpRequest& q = codec.request(); ... }
#ifndef SOCKMAN_PROTOCOLS_HTTP_HTTP_CODEC_H_
#define SOCKMAN_PROTOCOLS_HTTP_HTTP_CODEC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocols/http/access_log.h"
#include "protocols/http/chunked.h"
#include "protocols/http/compression.h"
#include "protocols/http/real_ip.h"
#include "protocols/http/syntax.h"
#include "protocols/protocol.h"

namespace sockman {

// One parsed request. Views point into the connection's input and are valid
// only during OnMessage.
struct HttpRequest {
  absl::string_view method;  // "GET"
  absl::string_view target;  // as sent: "/a/b?x=1", "http://host/a", "*"
  absl::string_view path;    // "/a/b" (still percent-encoded)
  absl::string_view query;   // "x=1" (without "?"), empty if none
  absl::string_view host;    // from an absolute-form target, else the Host header
  int version_minor = 1;     // HTTP/1.<minor>
  std::vector<std::pair<absl::string_view, absl::string_view>> headers;
  absl::string_view body;
  bool keep_alive = true;
  bool head = false;  // a HEAD request: responses carry no body

  // The first header named `name` (case-insensitive), or "" if absent.
  absl::string_view Header(absl::string_view name) const;
  bool HasHeader(absl::string_view name) const;
};

// Per-service settings (config: `http { ... }`, built by //protocols/http:config).
// The WebSocket handshake reads them too.
struct HttpOptions final : ProtocolOptions {
  size_t max_header_size = 16 * 1024;  // request line and headers, at most
  int64_t header_timeout_ms = 10'000;  // to send them in
  // CRLF only in the request line and header fields (RFC 9112 2.2 lets a
  // server accept a bare LF there, which sockman does by default).
  bool strict_line_endings = false;
  // The client address from trusted proxies' forwarding headers (null: off).
  std::shared_ptr<const RealIpOptions> real_ip;
};

// "Sun, 22 Nov 2026 02:26:08 GMT" for the current second, cached per thread
// (each loop's own; HttpProtocol::StartWorker refreshes it every second).
class HttpDate {
 public:
  static absl::string_view Now();
  // The same second for access logs: "22/Nov/2026:02:26:08 +0000".
  static absl::string_view LogTime();
  static void Update(int64_t unix_seconds);
};

// The reason phrase for a status code ("Not Found"), or "Unknown".
absl::string_view HttpReason(int status);

class HttpCodec final : public Codec {
 public:
  // Why a request head is refused: the status and the logged reason.
  struct HeadError {
    uint16_t code;
    const char* reason;
  };
  // Most request headers (each line counts once).
  static constexpr int kMaxHeaders = 100;
  // Longest request target before 414.
  static constexpr size_t kMaxTargetSize = 8 * 1024;

  explicit HttpCodec(const CodecOptions& options);

  // The peer's address is only formatted for an access log (inet_ntop per
  // connection otherwise shows in a Connection: close profile).
  void Attach(const SocketAddress& peer) override;
  // The client a trusted proxy named in the last request's forwarding
  // header (http.real_ip), or null.
  const SocketAddress* ClientAddress() const override {
    return real_ip_ != nullptr && real_ip_->forwarded ? &real_ip_->client : nullptr;
  }
  DecodeResult Decode(absl::string_view input) override;
  // A complete 200 response with `message` as a text/html body.
  void Encode(absl::string_view message, MessageKind kind, std::string& out) override;
  // A client that did not ask gets no response: heartbeats are not sent.
  void EncodeHeartbeat(absl::string_view ping_data, std::string& out) override {}
  void EncodeError(const DecodeResult& error, std::string& out) override;
  bool CloseAfterSend() const override { return close_after_send_; }
  bool PeerDoneSending() const override { return !answering_keep_alive_; }
  void OnDrain() override {
    draining_ = true;
    close_after_send_ = true;
  }
  int64_t PendingTimeoutMs() const override {
    return phase_ == Phase::kHead ? http_.header_timeout_ms : 0;
  }
  bool InMessage() const override { return phase_ != Phase::kHead; }

  // The request most recently decoded (valid during its OnMessage).
  const HttpRequest& request() const { return request_; }
  // Shows the handler another path for the current request (a route's
  // normalised or prefix-stripped path); `path` must outlive OnMessage.
  void OverridePath(absl::string_view path) { request_.path = path; }

  // Appends a response to the current request: status line, Server, Date,
  // Content-Length, Connection as the request asked, then `headers` (already
  // rendered "Name: value\r\n" lines), then `body` unless the request was
  // HEAD or the status has no body. `content_length` < 0 means body.size().
  void EncodeResponse(int status, absl::string_view headers, absl::string_view body,
                      std::string& out, int64_t content_length = -1);

  // Streamed bodies: the head of a response whose length is unknown. HTTP/1.1
  // requests get "Transfer-Encoding: chunked" and EncodeChunk frames each
  // piece; HTTP/1.0 requests get a body delimited by closing the connection.
  void EncodeStreamHead(int status, absl::string_view headers, std::string& out);
  void EncodeChunk(absl::string_view data, std::string& out);
  void EncodeStreamEnd(std::string& out);

  // Header lines ("Name: value\r\n") every response to the current request
  // also carries (a route's response headers, CORS), after the handler's.
  // Forgotten when the next request is decoded.
  void AddResponseHeaders(absl::string_view lines) {
    extra_headers_.append(lines.data(), lines.size());
  }

  // Logs the current request's exchange to `log` (a route's access log)
  // instead of the service's, with `client` as its remote address.
  void SetAccessLog(LogAppender* log, const SocketAddress& client);

  // Header names (lower case) the current request's response leaves out:
  // the handler's own lines, and `server` drops the Server line. Forgotten
  // when the next request is decoded; `names` must outlive the response.
  void RemoveResponseHeaders(const std::vector<std::string>* names) { removed_ = names; }

  // Compresses the current request's response with `coding` when `policy`
  // says its type and size are worth it (a route's `compress`); `coding`
  // kIdentity only marks it `Vary: Accept-Encoding`. Forgotten when the
  // next request is decoded. Never for HEAD, 204, 206, 304, bodies already
  // encoded, or file bodies (sendfile: handlers read them, see static).
  void SetCompression(const CompressionPolicy* policy, Coding coding) {
    compression_ = policy;
    coding_ = coding;
  }
  const CompressionPolicy* compression() const { return compression_; }
  Coding coding() const { return coding_; }

  // Forces the connection to close after the next response.
  void set_close_after_send() { close_after_send_ = true; }

  // Request bodies as they arrive (the reverse proxy), never held whole.
  // With heads announced, a request with a body is first delivered as its
  // head alone: body_part() kHead, an empty message, request() without a
  // body. A handler that calls StreamBody() from that OnMessage then gets
  // the body in pieces (kPiece..., then kLast, whose data may be empty),
  // during which request() is no longer valid; a response encoded before
  // kLast closes the connection after it. A handler that does not gets the
  // same request again once its body is in, whole (kWhole), under the usual
  // max_package_size. A request without a body is always kWhole.
  enum class BodyPart : uint8_t { kWhole, kHead, kPiece, kLast };
  void set_announce_heads(bool on) { announce_heads_ = on; }
  BodyPart body_part() const { return body_part_; }
  // From the OnMessage of a kHead: streams this request's body, of at most
  // `max_body` bytes (0: no limit; a longer chunked body is answered 413).
  // False, and nothing changes, when its Content-Length says it is longer.
  bool StreamBody(uint64_t max_body);
  // A streamed request's body is still arriving.
  bool body_streaming() const { return streaming_; }

 private:
  enum class Phase { kHead, kBody, kChunked };
  // Offsets into the input of the parsed head, rebuilt as views on delivery.
  struct Span {
    uint32_t at = 0, size = 0;
  };
  // What the header fields so far say about framing (checked once the head
  // is complete).
  struct HeadState {
    int hosts = 0;
    bool has_length = false;
    bool has_te = false;
    bool chunked = false;
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool has_authority = false;  // absolute-form or CONNECT: Host does not name it
  };

  static Span SpanOf(absl::string_view input, absl::string_view part);
  // One complete line of the head, without its line ending.
  std::optional<HeadError> ParseRequestLine(absl::string_view input, absl::string_view line);
  std::optional<HeadError> ParseField(absl::string_view input, absl::string_view field);
  // The checks that need the whole head; sets the phase for the body.
  std::optional<HeadError> FinishHead(absl::string_view input);
  // The request's client from its forwarding header (trusted peers only).
  void FindClient(absl::string_view input);
  DecodeResult DecodeChunked(absl::string_view input);
  // The body of a request StreamBody() took, piece by piece.
  DecodeResult DecodeStreamed(absl::string_view input);
  DecodeResult FailChunked();
  // A response to the current request begins (a streamed request still
  // sending its body gets Connection: close).
  void NoteAnswerBegins();
  // Fills request() from the parsed head (its body `body`) for delivery.
  void PrepareRequest(absl::string_view input, absl::string_view body);
  DecodeResult Deliver(absl::string_view input, size_t end, absl::string_view body);
  void Reset();
  // "HTTP/1.1 200 OK", Server and Date lines.
  void AppendStatusLine(int status, std::string& out) const;
  // The Connection header the request calls for, `headers`, the blank line.
  void AppendHeadEnd(absl::string_view headers, std::string& out) const;
  // One combined-format line for the current request, if logging.
  void LogExchange(int status, uint64_t body_bytes, bool have_request);

  CodecOptions options_;
  HttpOptions http_;
  std::string peer_host_ = "-";
  // Only for a peer that real_ip trusts (most connections need none).
  struct RealIpState {
    SocketAddress peer;
    SocketAddress client;
    bool forwarded = false;  // the last request named a client
  };
  std::unique_ptr<RealIpState> real_ip_;
  // The access log's view of the last request (only with an access log).
  AccessLogRequest logged_;
  Phase phase_ = Phase::kHead;
  size_t start_ = 0;       // leading empty lines skipped before the request line
  size_t scanned_ = 0;     // head bytes already searched for the blank line
  size_t line_start_ = 0;  // start of the head line being scanned
  size_t head_end_ = 0;    // offset just past the blank line
  uint64_t content_length_ = 0;
  size_t pos_ = 0;  // chunked: parse position in the input
  ChunkedDecoder chunked_{ChunkedDecoder::Limits{}};
  bool expect_continue_ = false;
  HeadState head_;
  std::string body_;           // de-chunked body
  std::string extra_headers_;  // AddResponseHeaders, for the request being answered
  const CompressionPolicy* compression_ = nullptr;     // SetCompression
  const std::vector<std::string>* removed_ = nullptr;  // RemoveResponseHeaders
  LogAppender* route_log_ = nullptr;                   // SetAccessLog
  Coding coding_ = Coding::kIdentity;
  std::unique_ptr<Compressor> stream_compressor_;  // a streamed body being compressed
  // What compression does to a response with these headers: whether it
  // varies by Accept-Encoding, and whether to compress it.
  struct CodingPlan {
    bool vary = false;
    bool compress = false;
  };
  CodingPlan PlanCoding(int status, absl::string_view headers) const;
  HttpRequest request_;
  Span method_, target_, path_, query_, host_;
  std::vector<std::pair<Span, Span>> header_spans_;
  int version_minor_ = 1;
  bool keep_alive_ = true;
  bool head_request_ = false;
  // Of the request being answered.
  bool close_after_send_ = false;
  bool answering_head_ = false;
  bool answering_keep_alive_ = true;
  int answering_minor_ = 1;
  bool streaming_chunked_ = false;
  bool logging_error_ = false;  // no parsed request to log
  bool draining_ = false;       // every response closes the connection
  // Streamed request bodies (see set_announce_heads).
  bool announce_heads_ = false;
  bool announced_ = false;       // the head of the request being read went out alone
  bool streaming_ = false;       // StreamBody took it: pieces follow
  bool stream_started_ = false;  // its head's bytes are consumed
  bool answered_early_ = false;  // a response to it began before its last piece
  BodyPart body_part_ = BodyPart::kWhole;
  // Metrics (options_.metrics): the current request's method class and when
  // it was decoded.
  uint8_t method_class_ = 0;
  int64_t request_start_ns_ = 0;
};

class HttpProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "http"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override {
    return std::make_unique<HttpCodec>(options);
  }
  const ProtocolTraits& traits() const override;
  void StartWorker(Reactor& reactor) const override;
  absl::string_view RefusalAtAccept() const override { return kHttpTooManyConnections; }
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_HTTP_CODEC_H_
