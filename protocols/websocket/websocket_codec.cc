#include "protocols/websocket/websocket_codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/sha.h"

namespace sockman {
namespace {

SOCKMAN_REGISTER_PROTOCOL(WebSocketProtocol);

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool ValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

const WebSocketOptions* OptionsOf(const CodecOptions& options) {
  if (const WebSocketOptions* ws = OptionsAs<WebSocketOptions>(options.options)) return ws;
  static const WebSocketOptions* defaults = new WebSocketOptions();
  return defaults;
}

}  // namespace

// 32 bytes at a time in two 16-byte vectors (SSE2 here), then a word, then
// bytes.
bool WebSocketMask(const unsigned char* in, size_t size, const unsigned char* mask, char* out) {
  using Block = uint64_t __attribute__((vector_size(16)));
  uint32_t key4;
  std::memcpy(&key4, mask, 4);
  const uint64_t key = (uint64_t{key4} << 32) | key4;  // the mask twice, in memory order
  const Block keys = {key, key};
  Block high_a = {0, 0}, high_b = {0, 0};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    Block a, b;
    std::memcpy(&a, in + i, 16);
    std::memcpy(&b, in + i + 16, 16);
    a ^= keys;
    b ^= keys;
    high_a |= a;
    high_b |= b;
    std::memcpy(out + i, &a, 16);
    std::memcpy(out + i + 16, &b, 16);
  }
  Block high_block = high_a | high_b;
  uint64_t high = high_block[0] | high_block[1];
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, in + i, 8);
    word ^= key;
    high |= word;
    std::memcpy(out + i, &word, 8);
  }
  unsigned char tail = 0;
  for (; i < size; ++i) {
    out[i] = static_cast<char>(in[i] ^ mask[i & 3]);
    tail |= static_cast<unsigned char>(out[i]);
  }
  return ((high & 0x8080808080808080ull) | (tail & 0x80)) == 0;
}

bool Utf8Validator::Feed(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    unsigned char c = *p++;
    if (need_ == 0) {
      if (c < 0x80) {
        // Skip a run of ASCII eight bytes at a time.
        while (end - p >= 8) {
          uint64_t word;
          std::memcpy(&word, p, 8);
          if (word & 0x8080808080808080ull) break;
          p += 8;
        }
        continue;
      }
      lower_ = 0x80;
      upper_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c == 0xE0) {
        need_ = 2;
        lower_ = 0xA0;
      } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        need_ = 2;
      } else if (c == 0xED) {
        need_ = 2;
        upper_ = 0x9F;  // no UTF-16 surrogates
      } else if (c == 0xF0) {
        need_ = 3;
        lower_ = 0x90;
      } else if (c >= 0xF1 && c <= 0xF3) {
        need_ = 3;
      } else if (c == 0xF4) {
        need_ = 3;
        upper_ = 0x8F;  // nothing above U+10FFFF
      } else {
        return false;
      }
    } else {
      if (c < lower_ || c > upper_) return false;
      lower_ = 0x80;
      upper_ = 0xBF;
      --need_;
    }
  }
  return true;
}

std::string WebSocketAccept(absl::string_view key) {
  std::string input = absl::StrCat(key, kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

struct WebSocketCodec::Deflate {
  explicit Deflate(const DeflateParams& p)
      : inflater(p.client_no_context_takeover),
        deflater(p.server_max_window_bits, p.server_no_context_takeover) {}
  MessageInflater inflater;
  MessageDeflater deflater;
};

namespace {

// The upgrade request is bounded by the handshake's max_header_size;
// max_package_size is for messages (a small one must not refuse a browser's
// handshake).
CodecOptions HandshakeOptions(CodecOptions options, const WebSocketOptions& ws) {
  options.max_package_size = std::max(options.max_package_size, ws.handshake.max_header_size);
  options.options = &ws.handshake;
  return options;
}

}  // namespace

WebSocketCodec::WebSocketCodec(const CodecOptions& options)
    : options_(options), ws_(OptionsOf(options)), http_(HandshakeOptions(options, *ws_)) {}

WebSocketCodec::~WebSocketCodec() = default;

const ProtocolTraits& WebSocketProtocol::traits() const {
  static const ProtocolTraits kTraits{
      .handshake = true,
      .pings = true,
      .message_kinds = true,
      .alpn = {"http/1.1"},
      .tls_scheme = "wss"};
  return kTraits;
}

void WebSocketProtocol::StartWorker(Reactor& reactor) const {
  HttpProtocol().StartWorker(reactor);  // the cached Date of handshake answers
}

DecodeResult WebSocketCodec::Decode(absl::string_view input) {
  return open_ ? DecodeFrame(input, nullptr) : Handshake(input);
}

DecodeResult WebSocketCodec::DecodeInPlace(absl::Span<char> input) {
  absl::string_view bytes(input.data(), input.size());
  return open_ ? DecodeFrame(bytes, input.data()) : Handshake(bytes);
}

DecodeResult WebSocketCodec::Handshake(absl::string_view input) {
  DecodeResult r = http_.Decode(input);
  if (r.status != DecodeStatus::kMessage) {
    if (r.status == DecodeStatus::kError) handshake_status_ = r.code;
    return r;
  }
  const HttpRequest& q = http_.request();
  auto refuse = [&](int status, const char* reason) {
    handshake_status_ = status;
    return DecodeResult::Error(ProtocolError::kMalformed, reason, static_cast<uint16_t>(status));
  };
  if (!HttpListHasToken(q.Header("Upgrade"), "websocket")) {
    return refuse(426, "not a WebSocket upgrade request");
  }
  if (q.method != "GET" || q.version_minor != 1) return refuse(400, "upgrade needs GET HTTP/1.1");
  if (!HttpListHasToken(q.Header("Connection"), "upgrade")) return refuse(400, "Connection lacks upgrade");
  if (q.Header("Sec-WebSocket-Version") != "13") return refuse(426, "unsupported version");
  absl::string_view key = q.Header("Sec-WebSocket-Key");
  std::string decoded;
  if (key.size() != 24 || !absl::Base64Unescape(key, &decoded) || decoded.size() != 16) {
    return refuse(400, "bad Sec-WebSocket-Key");
  }
  if (!ws_->path.empty() && q.path != ws_->path) return refuse(404, "no WebSocket at this path");
  if (!ws_->allowed_origins.empty() &&
      std::find(ws_->allowed_origins.begin(), ws_->allowed_origins.end(), q.Header("Origin")) ==
          ws_->allowed_origins.end()) {
    return refuse(403, "origin not allowed");
  }
  subprotocol_.clear();
  absl::string_view offered = q.Header("Sec-WebSocket-Protocol");
  for (const std::string& mine : ws_->subprotocols) {
    if (HttpListHasToken(offered, mine)) {
      subprotocol_ = mine;
      break;
    }
  }
  reply_ = absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ",
      WebSocketAccept(key), "\r\n");
  if (!subprotocol_.empty()) absl::StrAppend(&reply_, "Sec-WebSocket-Protocol: ", subprotocol_, "\r\n");
  deflate_.reset();
  if (ws_->deflate) {
    std::string offers;
    for (const auto& [name, value] : q.headers) {
      if (absl::EqualsIgnoreCase(name, "Sec-WebSocket-Extensions")) {
        absl::StrAppend(&offers, offers.empty() ? "" : ", ", value);
      }
    }
    std::string accepted;
    if (auto params = NegotiateDeflate(offers, accepted)) {
      deflate_ = std::make_unique<Deflate>(*params);
      absl::StrAppend(&reply_, "Sec-WebSocket-Extensions: ", accepted, "\r\n");
    }
  }
  reply_ += "\r\n";
  open_ = true;
  DecodeResult upgraded = DecodeResult::Consumed(r.consumed, reply_);
  upgraded.opened = true;
  return upgraded;
}

DecodeResult WebSocketCodec::Fail(uint16_t close_code, const char* reason) {
  return DecodeResult::Error(close_code == 1009 ? ProtocolError::kTooLarge
                                                : ProtocolError::kMalformed,
                             reason, close_code);
}

DecodeResult WebSocketCodec::DecodeFrame(absl::string_view input, char* writable) {
  if (input.size() < 2) return DecodeResult::NeedMore();
  const auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  bool fin = bytes[0] & 0x80;
  bool rsv1 = bytes[0] & 0x40;
  uint8_t opcode = bytes[0] & 0x0F;
  if (bytes[0] & 0x30) return Fail(1002, "RSV2 or RSV3 set");
  bool control = opcode & 0x8;
  if (opcode != kContinuation && opcode != kText && opcode != kBinary && opcode != kClose &&
      opcode != kPing && opcode != kPong) {
    return Fail(1002, "unknown opcode");
  }
  if (rsv1 && !deflate_) return Fail(1002, "RSV1 set without permessage-deflate");
  if (rsv1 && (control || opcode == kContinuation)) {
    return Fail(1002, "RSV1 set on a control or continuation frame");
  }
  if (!(bytes[1] & 0x80)) return Fail(1002, "client frame not masked");
  uint64_t length = bytes[1] & 0x7F;
  size_t header = 2;
  if (length == 126) {
    if (input.size() < 4) return DecodeResult::NeedMore();
    length = (uint64_t{bytes[2]} << 8) | bytes[3];
    header = 4;
  } else if (length == 127) {
    if (input.size() < 10) return DecodeResult::NeedMore();
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | bytes[i];
    if (length >> 63) return Fail(1002, "64-bit length with the top bit set");
    header = 10;
  }
  if (control) {
    if (length > 125) return Fail(1002, "control frame over 125 bytes");
    if (!fin) return Fail(1002, "fragmented control frame");
  } else {
    if (opcode == kContinuation && !in_message_) return Fail(1002, "continuation without a message");
    if (opcode != kContinuation && in_message_) return Fail(1002, "new message inside a message");
    uint64_t so_far = opcode == kContinuation ? wire_size_ : 0;
    if (length > options_.max_package_size || so_far + length > options_.max_package_size) {
      return Fail(1009, "message larger than max_package_size");
    }
  }
  header += 4;
  if (input.size() < header || input.size() - header < length) return DecodeResult::NeedMore();
  const unsigned char* mask = bytes + header - 4;
  const unsigned char* payload = bytes + header;
  size_t total = header + static_cast<size_t>(length);
  auto unmask = [&](char* out) {
    return WebSocketMask(payload, static_cast<size_t>(length), mask, out);
  };

  if (control) {
    control_.resize(static_cast<size_t>(length));
    unmask(control_.data());
    reply_.clear();
    switch (opcode) {
      case kPing:
        EncodeFrame(kPong, control_, reply_);
        return DecodeResult::Consumed(total, reply_);
      case kPong:
        return DecodeResult::Consumed(total);
      default: {  // close
        if (length == 1) return Fail(1002, "close payload of one byte");
        if (length >= 2) {
          uint16_t code = static_cast<uint16_t>((static_cast<unsigned char>(control_[0]) << 8) |
                                                static_cast<unsigned char>(control_[1]));
          if (!ValidCloseCode(code)) return Fail(1002, "invalid close code");
          Utf8Validator reason;
          if (!reason.Feed(absl::string_view(control_).substr(2)) || !reason.Complete()) {
            return Fail(1007, "close reason is not UTF-8");
          }
          EncodeFrame(kClose, control_.substr(0, 2), reply_);  // echo the code
        } else {
          EncodeFrame(kClose, "", reply_);
        }
        return DecodeResult::Consumed(total, reply_, /*close_after_reply=*/true);
      }
    }
  }

  if (writable != nullptr && fin && opcode != kContinuation && !rsv1) {
    // A whole message in one frame (the common case): unmask it where it
    // lies and deliver it from there; the caller drops these bytes.
    char* at = writable + header;
    absl::string_view message(at, static_cast<size_t>(length));
    bool ascii = unmask(at);
    if (opcode == kText && !ascii) {
      Utf8Validator utf8;
      if (!utf8.Feed(message) || !utf8.Complete()) return Fail(1007, "text message is not UTF-8");
    }
    return DecodeResult::Message(total, message,
                                 opcode == kBinary ? MessageKind::kBinary : MessageKind::kText);
  }

  if (opcode != kContinuation) {
    in_message_ = true;
    message_binary_ = opcode == kBinary;
    message_compressed_ = rsv1;
    wire_size_ = 0;
    if (message_.capacity() > (1u << 20)) std::string().swap(message_);
    message_.clear();
    utf8_.Reset();
  }
  wire_size_ += length;
  size_t start = message_.size();
  bool ascii = false;
  if (message_compressed_) {
    thread_local std::string compressed;
    compressed.resize(static_cast<size_t>(length));
    unmask(compressed.data());
    auto result = deflate_->inflater.Inflate(compressed, fin, options_.max_package_size, message_);
    if (compressed.capacity() > (1u << 20)) std::string().swap(compressed);
    if (result == MessageInflater::Result::kTooLarge) {
      return Fail(1009, "inflated message larger than max_package_size");
    }
    if (result == MessageInflater::Result::kCorrupt) return Fail(1007, "invalid compressed data");
  } else {
    message_.resize(start + static_cast<size_t>(length));
    ascii = unmask(message_.data() + start);
  }
  // ASCII after a complete character is valid UTF-8 as it stands.
  bool checked = ascii && utf8_.Complete();
  if (!message_binary_ && !checked && !utf8_.Feed(absl::string_view(message_).substr(start))) {
    return Fail(1007, "text message is not UTF-8");
  }
  if (!fin) return DecodeResult::Consumed(total);
  if (!message_binary_ && !utf8_.Complete()) return Fail(1007, "text message ends mid-character");
  in_message_ = false;
  return DecodeResult::Message(total, message_,
                               message_binary_ ? MessageKind::kBinary : MessageKind::kText);
}

void WebSocketCodec::EncodeFrameHeader(Opcode opcode, uint64_t size, std::string& out) {
  char header[10];
  size_t n = 2;
  header[0] = static_cast<char>(0x80 | opcode);
  if (size < 126) {
    header[1] = static_cast<char>(size);
  } else if (size <= 0xFFFF) {
    header[1] = 126;
    header[2] = static_cast<char>(size >> 8);
    header[3] = static_cast<char>(size);
    n = 4;
  } else {
    header[1] = 127;
    for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<char>(size >> (56 - 8 * i));
    n = 10;
  }
  out.append(header, n);
}

void WebSocketCodec::EncodeFrame(Opcode opcode, absl::string_view payload, std::string& out) {
  EncodeFrameHeader(opcode, payload.size(), out);
  out.append(payload.data(), payload.size());
}

bool WebSocketCodec::EncodeMessageHeader(bool binary, absl::string_view payload,
                                         std::string& header) {
  if (deflate_ && payload.size() >= kMinDeflateSize) return false;  // compressed
  EncodeFrameHeader(binary ? kBinary : kText, payload.size(), header);
  return true;
}

bool WebSocketCodec::EncodeFraming(absl::string_view message, MessageKind kind,
                                   std::string& prefix, std::string& suffix) {
  return EncodeMessageHeader(kind == MessageKind::kBinary, message, prefix);
}

void WebSocketCodec::EncodeMessage(bool binary, absl::string_view payload, std::string& out) {
  Opcode opcode = binary ? kBinary : kText;
  if (deflate_ && payload.size() >= kMinDeflateSize) {
    thread_local std::string compressed;
    compressed.clear();
    if (deflate_->deflater.Deflate(payload, compressed)) {
      size_t at = out.size();
      EncodeFrame(opcode, compressed, out);
      out[at] = static_cast<char>(out[at] | 0x40);  // RSV1: a compressed message
      if (compressed.capacity() > (1u << 20)) std::string().swap(compressed);
      return;
    }
  }
  EncodeFrame(opcode, payload, out);
}

void WebSocketCodec::EncodeClose(bool going_away, std::string& out) {
  if (!open_) return;
  uint16_t code = going_away ? 1001 : 1000;
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  EncodeFrame(kClose, absl::string_view(payload, 2), out);
}

void WebSocketCodec::EncodeHeartbeat(absl::string_view ping_data, std::string& out) {
  if (!open_) return;
  if (ping_data.empty()) {
    EncodeFrame(kPing, "", out);
  } else {
    EncodeMessage(ws_->binary, ping_data, out);
  }
}

void WebSocketCodec::Encode(absl::string_view message, MessageKind kind, std::string& out) {
  EncodeMessage(kind == MessageKind::kBinary, message, out);
}

void WebSocketCodec::EncodeError(const DecodeResult& error, std::string& out) {
  if (!open_) {
    if (error.error == ProtocolError::kTimeout || handshake_status_ == 0 ||
        (handshake_status_ >= 408 && handshake_status_ != 426)) {
      http_.EncodeError(error, out);  // HTTP-level: 400, 408, 413, 431, ...
      return;
    }
    http_.set_close_after_send();
    std::string headers = "Content-Type: text/plain; charset=utf-8\r\n";
    if (handshake_status_ == 426) {
      headers += "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    }
    http_.EncodeResponse(handshake_status_, headers,
                         absl::StrCat(handshake_status_, " ", HttpReason(handshake_status_),
                                      ": ", error.reason, "\n"),
                         out);
    return;
  }
  uint16_t code = error.code;
  if (code == 0) code = error.error == ProtocolError::kTooLarge ? 1009 : 1002;
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  EncodeFrame(kClose, absl::string_view(payload, 2), out);
}

}  // namespace sockman
