// The WebSocket server codec (RFC 6455): the HTTP/1.1 upgrade handshake,
// then frames. Pure: bytes in, messages out.
//
// Handshake: GET + Upgrade: websocket + Connection: upgrade + version 13 +
// a 16-byte base64 key; 101 with Sec-WebSocket-Accept, or 400/403/404/426.
// permessage-deflate (RFC 7692) when the service enables it and the client
// offers it. Frames: masked client frames, RSV1 only on the first frame of a
// compressed message, known opcodes, control frames <= 125 bytes and final, 16/64-bit lengths,
// fragments reassembled with control frames allowed between them, text
// validated as UTF-8 incrementally (failing fast), messages bounded by
// max_package_size before they are buffered. Violations close with 1002,
// 1007 or 1009. Pings get pongs; a close is validated and echoed.
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_CODEC_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_CODEC_H_

#include <memory>
#include <string>
#include <vector>

#include "protocols/http/http_codec.h"
#include "protocols/http/jwt_gate.h"
#include "protocols/protocol.h"
#include "protocols/websocket/frame.h"
#include "protocols/websocket/permessage_deflate.h"

namespace sockman {

// Per-service settings (config: `websocket { ... }`, built by
// //protocols/websocket:config).
struct WebSocketOptions final : ProtocolOptions {
  std::vector<std::string> allowed_origins;  // empty: any Origin
  std::vector<std::string> subprotocols;     // offered, in preference order
  std::string path;                          // empty: any path
  bool binary = false;                       // Send() sends binary frames
  bool deflate = false;                      // accept permessage-deflate offers
  HttpOptions handshake;                     // bounds the upgrade request
  // The upgrade must carry a valid token (null: no authentication).
  std::shared_ptr<const JwtGate> jwt;
};

// "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" for "dGhlIHNhbXBsZSBub25jZQ==" (RFC 6455 1.3).
std::string WebSocketAccept(absl::string_view key);

class WebSocketCodec final : public Codec {
 public:
  using Opcode = websocket::Opcode;
  static constexpr Opcode kContinuation = websocket::kContinuation;
  static constexpr Opcode kText = websocket::kText;
  static constexpr Opcode kBinary = websocket::kBinary;
  static constexpr Opcode kClose = websocket::kClose;
  static constexpr Opcode kPing = websocket::kPing;
  static constexpr Opcode kPong = websocket::kPong;

  // Messages shorter than this are sent uncompressed even with deflate on.
  static constexpr size_t kMinDeflateSize = 64;

  explicit WebSocketCodec(const CodecOptions& options);
  ~WebSocketCodec() override;

  DecodeResult Decode(absl::string_view input) override;
  // Unmasks a message that arrived in one frame where it lies.
  DecodeResult DecodeInPlace(absl::Span<char> input) override;
  // A text or binary frame, as `kind` says (text that is not UTF-8: binary).
  void Encode(absl::string_view message, MessageKind kind, std::string& out) override;
  // The frame header, unless the message is to be compressed.
  bool EncodeFraming(absl::string_view message, MessageKind kind, std::string& prefix,
                     std::string& suffix) override;
  // Text, or binary when the service says `binary: true`.
  MessageKind default_kind() const override {
    return ws_->binary ? MessageKind::kBinary : MessageKind::kText;
  }
  void EncodeError(const DecodeResult& error, std::string& out) override;
  // Once open: a close frame, 1000 or (going away) 1001.
  void EncodeClose(bool going_away, std::string& out) override;
  void EncodeCloseStatus(uint16_t code, absl::string_view reason, std::string& out) override;
  // Open WebSocket connections are long-lived: a draining worker closes them
  // (1001) so clients reconnect to a live worker.
  bool CloseOnDrain() const override { return open_; }
  // Once open: a ping frame for an empty `ping_data`, else a data message.
  void EncodeHeartbeat(absl::string_view ping_data, std::string& out) override;
  bool CloseAfterSend() const override { return false; }
  int64_t PendingTimeoutMs() const override { return open_ ? 0 : ws_->handshake.header_timeout_ms; }
  void Attach(const SocketAddress& peer) override { http_.Attach(peer); }
  // The client a trusted proxy named in the upgrade request (real_ip).
  const SocketAddress* ClientAddress() const override { return http_.ClientAddress(); }
  // Who a verified token says the client is (WebSocketOptions::jwt).
  std::unique_ptr<ClientIdentity> TakeIdentity() override { return std::move(identity_); }

  bool open() const { return open_; }
  // The handshake's HTTP status: 101 once open, a refusal's status (400,
  // 403, 401...), or 0 while undecided.
  int handshake_status() const { return open_ ? 101 : handshake_status_; }
  const HttpRequest& handshake() const { return http_.request(); }
  const std::string& subprotocol() const { return subprotocol_; }
  bool deflate() const { return deflate_ != nullptr; }

  // Appends one data message as a final frame, compressed when deflate was
  // negotiated and the message is worth it. A text message that is not
  // valid UTF-8 goes out as binary (a text frame must be UTF-8).
  void EncodeMessage(bool binary, absl::string_view payload, std::string& out);
  // When `payload` goes out as it is (not compressed): appends the header of
  // its frame to `header` and returns true; the payload follows it.
  bool EncodeMessageHeader(bool binary, absl::string_view payload, std::string& header);
  // Appends one unmasked, final, uncompressed frame.
  static void EncodeFrame(Opcode opcode, absl::string_view payload, std::string& out);
  static void EncodeFrameHeader(Opcode opcode, uint64_t size, std::string& out);

 private:
  DecodeResult Handshake(absl::string_view input);
  // `writable`: input's bytes when the caller lets them be unmasked in place.
  DecodeResult DecodeFrame(absl::string_view input, char* writable);
  DecodeResult Fail(uint16_t close_code, const char* reason);

  CodecOptions options_;
  const WebSocketOptions* ws_;  // never null
  HttpCodec http_;
  bool open_ = false;
  std::string reply_;  // a 101, a pong or a close, until the next Decode
  std::string subprotocol_;
  int handshake_status_ = 0;  // the HTTP status of a refused handshake
  // A refusal by the token check: its reason (the error's text) and headers.
  std::string refusal_reason_;
  std::string refusal_headers_;
  std::unique_ptr<ClientIdentity> identity_;
  struct Deflate;
  std::unique_ptr<Deflate> deflate_;  // set when permessage-deflate was negotiated
  // The message being reassembled.
  bool in_message_ = false;
  bool message_binary_ = false;
  bool message_compressed_ = false;
  uint64_t wire_size_ = 0;  // payload bytes received for the message so far
  std::string message_;
  Utf8Validator utf8_;
  // The incomplete text frame at the front of the input: how many of its
  // payload bytes were checked already, and the validator's state after them
  // (taken up where it stopped once the frame is complete).
  size_t partial_checked_ = 0;
  Utf8Validator partial_utf8_;
  std::string control_;  // an unmasked control payload
};

class WebSocketProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "websocket"; }
  std::vector<std::string> aliases() const override { return {"ws"}; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override {
    return std::make_unique<WebSocketCodec>(options);
  }
  const ProtocolTraits& traits() const override;
  void StartWorker(Reactor& reactor) const override;
  absl::string_view RefusalAtAccept() const override { return kHttpTooManyConnections; }
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_CODEC_H_
