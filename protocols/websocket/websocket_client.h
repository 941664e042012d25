// The client side of RFC 6455, for sockman's own outbound WebSockets (the
// proxy to a ws:// upstream): the upgrade request and its check, masked
// frames out, and a bounded, incremental decoder for the server's frames.
// Pure: bytes in, messages out; no fd.
//
//   WebSocketClientCodec codec(/*max_message_size=*/1 << 20);
//   out = codec.HandshakeRequest("upstream:9000", "/chat");
//   ... the 101 response, parsed by HttpResponseParser:
//   if (!codec.CheckHandshake(response).ok()) ...
//   WebSocketClientCodec::Frame f = codec.Decode(input);   // consume f.consumed
//   codec.EncodeMessage(/*binary=*/false, "hi", out);
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_CLIENT_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "protocols/http/http_response_parser.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {

class WebSocketClientCodec {
 public:
  enum class Kind {
    kNeedMore,
    kMessage,  // a whole data message: `payload`, `binary`
    kPing,     // answer with EncodePong(payload) (done by Decode into `reply`)
    kClose,    // the server closed (`close_code`); send `reply` and close
    kError,    // the server broke the protocol (`close_code`, `error`); send `reply` and close
  };
  struct Frame {
    Kind kind = Kind::kNeedMore;
    size_t consumed = 0;
    absl::string_view payload;  // valid until the next Decode
    bool binary = false;
    uint16_t close_code = 0;
    const char* error = "";
  };

  explicit WebSocketClientCodec(size_t max_message_size) : max_message_size_(max_message_size) {}

  // The upgrade request for `path` on `host` (the Host header's value), with
  // a fresh random key; `extra_headers` are rendered lines (Origin, ...).
  std::string HandshakeRequest(absl::string_view host, absl::string_view path,
                               absl::string_view extra_headers = "");
  // A 101 with Upgrade: websocket, Connection: upgrade and the right
  // Sec-WebSocket-Accept, and no extension we did not offer.
  absl::Status CheckHandshake(const HttpClientResponse& response) const;

  // Decodes from the start of `input`. Pings and closes put their answer in
  // reply() (to be sent before anything else is).
  Frame Decode(absl::string_view input);
  const std::string& reply() const { return reply_; }
  void clear_reply() { reply_.clear(); }

  // One masked, final frame.
  void EncodeMessage(bool binary, absl::string_view payload, std::string& out);
  void EncodeClose(uint16_t code, std::string& out);
  static void EncodeMaskedFrame(WebSocketCodec::Opcode opcode, absl::string_view payload,
                                std::string& out);

 private:
  Frame Fail(uint16_t code, const char* error);

  size_t max_message_size_;
  std::string key_;
  bool closed_ = false;
  bool in_message_ = false;
  bool message_binary_ = false;
  std::string message_;
  bool pending_clear_ = false;
  Utf8Validator utf8_;
  std::string reply_;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_CLIENT_H_
