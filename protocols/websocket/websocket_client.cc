#include "protocols/websocket/websocket_client.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protocols/http/http_codec.h"

namespace sockman {
std::string WebSocketClientCodec::HandshakeRequest(absl::string_view host, absl::string_view path,
                                                   absl::string_view extra_headers) {
  uint8_t nonce[16];
  RAND_bytes(nonce, sizeof(nonce));
  key_ = absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(nonce), sizeof(nonce)));
  return absl::StrCat("GET ", path.empty() ? "/" : path, " HTTP/1.1\r\nHost: ", host,
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ", key_,
                      "\r\nSec-WebSocket-Version: 13\r\n", extra_headers, "\r\n");
}

absl::Status WebSocketClientCodec::CheckHandshake(const HttpClientResponse& response) const {
  if (response.status != 101) {
    return absl::UnavailableError(absl::StrCat("upgrade refused with HTTP ", response.status));
  }
  if (!absl::EqualsIgnoreCase(response.Header("Upgrade"), "websocket") ||
      !HttpListHasToken(response.Header("Connection"), "upgrade")) {
    return absl::DataLossError("101 without Upgrade: websocket and Connection: upgrade");
  }
  if (response.Header("Sec-WebSocket-Accept") != WebSocketAccept(key_)) {
    return absl::DataLossError("wrong Sec-WebSocket-Accept");
  }
  if (!response.Header("Sec-WebSocket-Extensions").empty()) {
    return absl::DataLossError("an extension nobody offered");
  }
  return absl::OkStatus();
}

WebSocketClientCodec::Frame WebSocketClientCodec::Fail(uint16_t code, const char* error) {
  Frame frame;
  frame.kind = Kind::kError;
  frame.close_code = code;
  frame.error = error;
  reply_.clear();
  EncodeClose(code, reply_);
  closed_ = true;
  return frame;
}

WebSocketClientCodec::Frame WebSocketClientCodec::Decode(absl::string_view input) {
  Frame frame;
  if (pending_clear_) {  // the reassembled message returned last time
    message_.clear();
    pending_clear_ = false;
  }
  size_t pos = 0;
  while (!closed_) {
    frame.consumed = pos;
    absl::string_view rest = input.substr(pos);
    websocket::FrameHeader header_of;
    const char* error = "";
    switch (websocket::ParseFrameHeader(rest, header_of, error)) {
      case websocket::ParseStatus::kNeedMore:
        return frame;
      case websocket::ParseStatus::kError:
        return Fail(1002, error);
      case websocket::ParseStatus::kOk:
        break;
    }
    const bool fin = header_of.fin;
    const uint8_t opcode = header_of.opcode;
    const uint64_t length = header_of.length;
    const size_t header = header_of.size;
    const bool control = header_of.control();
    if (header_of.rsv1) return Fail(1002, "reserved bits set");  // no extension negotiated
    if (header_of.masked) return Fail(1002, "masked server frame");
    if (opcode == WebSocketCodec::kContinuation) {
      if (!in_message_) return Fail(1002, "continuation without a message");
    } else if (!control && in_message_) {
      return Fail(1002, "new message inside a fragmented one");
    }
    if (!control && message_.size() + length > max_message_size_) {
      return Fail(1009, "message too big");
    }
    if (rest.size() - header < length) return frame;
    absl::string_view payload = rest.substr(header, length);
    pos += header + length;
    frame.consumed = pos;

    if (opcode == WebSocketCodec::kPing) {
      EncodeMaskedFrame(WebSocketCodec::kPong, payload, reply_);
      frame.kind = Kind::kPing;
      frame.payload = payload;
      return frame;
    }
    if (opcode == WebSocketCodec::kPong) continue;
    if (opcode == WebSocketCodec::kClose) {
      websocket::CloseFrame close = websocket::ParseClosePayload(payload);
      if (close.fail_code != 0) return Fail(close.fail_code, close.error);
      uint16_t code = close.code;
      EncodeClose(code == 1005 ? 1000 : code, reply_);
      closed_ = true;
      frame.kind = Kind::kClose;
      frame.close_code = code;
      return frame;
    }
    // Data.
    if (opcode != WebSocketCodec::kContinuation) {
      message_binary_ = opcode == WebSocketCodec::kBinary;
      utf8_.Reset();
    }
    if (!message_binary_ && !utf8_.Feed(payload)) return Fail(1007, "text is not UTF-8");
    if (!fin) {
      in_message_ = true;
      message_.append(payload.data(), payload.size());
      continue;
    }
    if (!message_binary_ && !utf8_.Complete()) return Fail(1007, "text is not UTF-8");
    frame.kind = Kind::kMessage;
    frame.binary = message_binary_;
    if (in_message_) {
      message_.append(payload.data(), payload.size());
      frame.payload = message_;
      in_message_ = false;
      pending_clear_ = true;
    } else {
      frame.payload = payload;
    }
    return frame;
  }
  frame.consumed = input.size();  // after a close: nothing more is read
  return frame;
}

void WebSocketClientCodec::EncodeMaskedFrame(WebSocketCodec::Opcode opcode,
                                             absl::string_view payload, std::string& out) {
  uint8_t mask[4];
  RAND_bytes(mask, sizeof(mask));
  size_t n = payload.size();
  websocket::AppendFrameHeader(opcode, n, out, mask);
  size_t start = out.size();
  out.resize(start + n);
  WebSocketMask(reinterpret_cast<const unsigned char*>(payload.data()), n, mask,
                out.data() + start);
}

void WebSocketClientCodec::EncodeMessage(bool binary, absl::string_view payload, std::string& out) {
  // Never a text frame that is not UTF-8 (RFC 6455 8.1): such bytes go as binary.
  bool text = !binary && IsUtf8(payload);
  EncodeMaskedFrame(text ? WebSocketCodec::kText : WebSocketCodec::kBinary, payload, out);
}

void WebSocketClientCodec::EncodeClose(uint16_t code, std::string& out) {
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  EncodeMaskedFrame(WebSocketCodec::kClose, absl::string_view(payload, 2), out);
}

}  // namespace sockman
