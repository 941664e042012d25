#include "protocols/websocket/websocket_client.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protocols/http/http_codec.h"

namespace sockman {
namespace {

bool ValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace

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
    if (rest.size() < 2) return frame;
    uint8_t b0 = rest[0], b1 = rest[1];
    bool fin = b0 & 0x80;
    uint8_t opcode = b0 & 0x0F;
    if (b0 & 0x70) return Fail(1002, "reserved bits set");
    if (b1 & 0x80) return Fail(1002, "masked server frame");
    uint64_t length = b1 & 0x7F;
    size_t header = 2;
    if (length == 126) {
      if (rest.size() < 4) return frame;
      length = (static_cast<uint8_t>(rest[2]) << 8) | static_cast<uint8_t>(rest[3]);
      header = 4;
    } else if (length == 127) {
      if (rest.size() < 10) return frame;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<uint8_t>(rest[2 + i]);
      if (length >> 63) return Fail(1002, "64-bit length with the top bit set");
      header = 10;
    }
    bool control = opcode & 0x08;
    if (control) {
      if (opcode != WebSocketCodec::kClose && opcode != WebSocketCodec::kPing &&
          opcode != WebSocketCodec::kPong) {
        return Fail(1002, "unknown opcode");
      }
      if (!fin || length > 125) return Fail(1002, "fragmented or long control frame");
    } else if (opcode == WebSocketCodec::kContinuation) {
      if (!in_message_) return Fail(1002, "continuation without a message");
    } else if (opcode == WebSocketCodec::kText || opcode == WebSocketCodec::kBinary) {
      if (in_message_) return Fail(1002, "new message inside a fragmented one");
    } else {
      return Fail(1002, "unknown opcode");
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
      uint16_t code = 1005;
      if (payload.size() == 1) return Fail(1002, "1-byte close payload");
      if (payload.size() >= 2) {
        code = (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
        if (!ValidCloseCode(code)) return Fail(1002, "invalid close code");
        Utf8Validator reason;
        if (!reason.Feed(payload.substr(2)) || !reason.Complete()) {
          return Fail(1007, "close reason is not UTF-8");
        }
      }
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
  out.push_back(static_cast<char>(0x80 | opcode));
  size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(static_cast<uint64_t>(n) >> (8 * i)));
  }
  out.append(reinterpret_cast<const char*>(mask), 4);
  size_t start = out.size();
  out.resize(start + n);
  WebSocketMask(reinterpret_cast<const unsigned char*>(payload.data()), n, mask, out.data() + start);
}

void WebSocketClientCodec::EncodeMessage(bool binary, absl::string_view payload, std::string& out) {
  EncodeMaskedFrame(binary ? WebSocketCodec::kBinary : WebSocketCodec::kText, payload, out);
}

void WebSocketClientCodec::EncodeClose(uint16_t code, std::string& out) {
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  EncodeMaskedFrame(WebSocketCodec::kClose, absl::string_view(payload, 2), out);
}

}  // namespace sockman
