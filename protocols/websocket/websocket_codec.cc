#include "protocols/websocket/websocket_codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "openssl/sha.h"

namespace sockman {
namespace {

SOCKMAN_REGISTER_PROTOCOL(WebSocketProtocol);

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const WebSocketOptions* OptionsOf(const CodecOptions& options) {
  if (const WebSocketOptions* ws = OptionsAs<WebSocketOptions>(options.options)) return ws;
  static const WebSocketOptions* defaults = new WebSocketOptions();
  return defaults;
}

}  // namespace

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
  static const ProtocolTraits kTraits{.handshake = true,
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
    if (options_.metrics != nullptr) ++options_.metrics->websocket_refused;
    return DecodeResult::Error(ProtocolError::kMalformed, reason, static_cast<uint16_t>(status));
  };
  if (!HttpListHasToken(q.Header("Upgrade"), "websocket")) {
    return refuse(426, "not a WebSocket upgrade request");
  }
  if (q.method != "GET" || q.version_minor != 1) return refuse(400, "upgrade needs GET HTTP/1.1");
  if (!HttpListHasToken(q.Header("Connection"), "upgrade"))
    return refuse(400, "Connection lacks upgrade");
  // RFC 6455 11.3.1, 11.3.5: each appears once (a list is two values too).
  auto count = [&](absl::string_view name) {
    int n = 0;
    for (const auto& [header, value] : q.headers) n += absl::EqualsIgnoreCase(header, name);
    return n;
  };
  if (count("Sec-WebSocket-Key") > 1) return refuse(400, "more than one Sec-WebSocket-Key");
  if (count("Sec-WebSocket-Version") > 1) {
    return refuse(400, "more than one Sec-WebSocket-Version");
  }
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
  if (ws_->jwt != nullptr) {
    JwtGate::Verdict verdict = ws_->jwt->Admit(q, absl::ToUnixSeconds(absl::Now()));
    if (verdict.status != 0) {
      refusal_reason_ = std::move(verdict.reason);
      refusal_headers_ = std::move(verdict.headers);
      return refuse(verdict.status, refusal_reason_.c_str());
    }
    identity_ = std::move(verdict.identity);
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
  if (!subprotocol_.empty())
    absl::StrAppend(&reply_, "Sec-WebSocket-Protocol: ", subprotocol_, "\r\n");
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
  if (options_.metrics != nullptr) ++options_.metrics->websocket_accepted;
  DecodeResult upgraded = DecodeResult::Consumed(r.consumed, reply_);
  upgraded.opened = true;
  return upgraded;
}

DecodeResult WebSocketCodec::Fail(uint16_t close_code, const char* reason) {
  return DecodeResult::Error(
      close_code == 1009 ? ProtocolError::kTooLarge : ProtocolError::kMalformed, reason,
      close_code);
}

DecodeResult WebSocketCodec::DecodeFrame(absl::string_view input, char* writable) {
  websocket::FrameHeader frame;
  const char* error = "";
  switch (websocket::ParseFrameHeader(input, frame, error)) {
    case websocket::ParseStatus::kNeedMore:
      return DecodeResult::NeedMore();
    case websocket::ParseStatus::kError:
      return Fail(1002, error);
    case websocket::ParseStatus::kOk:
      break;
  }
  const Opcode opcode = frame.opcode;
  const bool fin = frame.fin;
  const bool rsv1 = frame.rsv1;
  const bool control = frame.control();
  const uint64_t length = frame.length;
  if (rsv1 && !deflate_) return Fail(1002, "RSV1 set without permessage-deflate");
  if (rsv1 && (control || opcode == kContinuation)) {
    return Fail(1002, "RSV1 set on a control or continuation frame");
  }
  if (!frame.masked) return Fail(1002, "client frame not masked");
  if (!control) {
    if (opcode == kContinuation && !in_message_)
      return Fail(1002, "continuation without a message");
    if (opcode != kContinuation && in_message_) return Fail(1002, "new message inside a message");
    uint64_t so_far = opcode == kContinuation ? wire_size_ : 0;
    if (length > options_.max_package_size || so_far + length > options_.max_package_size) {
      return Fail(1009, "message larger than max_package_size");
    }
  }
  const size_t header = frame.size;
  if (input.size() - header < length) {
    // Fail fast: check the text that has arrived of an incomplete frame, so
    // invalid UTF-8 closes (1007) at once, not when the frame completes.
    bool text =
        opcode == kText || (opcode == kContinuation && !message_binary_ && !message_compressed_);
    if (text && !rsv1) {
      if (partial_checked_ == 0) partial_utf8_ = opcode == kContinuation ? utf8_ : Utf8Validator();
      size_t have = input.size() - header;
      if (have > partial_checked_) {
        const unsigned char* from =
            reinterpret_cast<const unsigned char*>(input.data()) + header + partial_checked_;
        unsigned char mask[4];
        for (int i = 0; i < 4; ++i) mask[i] = frame.mask[(partial_checked_ + i) & 3];
        thread_local std::string clear;
        clear.resize(have - partial_checked_);
        WebSocketMask(from, clear.size(), mask, clear.data());
        if (!partial_utf8_.Feed(clear)) return Fail(1007, "text message is not UTF-8");
        if (clear.capacity() > (1u << 20)) std::string().swap(clear);
        partial_checked_ = have;
      }
    }
    return DecodeResult::NeedMore();
  }
  // The frame is complete. Text already checked as it arrived is not checked
  // again: validation goes on from where it stopped.
  const size_t checked_before = partial_checked_;
  partial_checked_ = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  const unsigned char* mask = frame.mask;
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
        websocket::CloseFrame close = websocket::ParseClosePayload(control_);
        if (close.fail_code != 0) return Fail(close.fail_code, close.error);
        if (length >= 2) {
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
      Utf8Validator utf8 = checked_before > 0 ? partial_utf8_ : Utf8Validator();
      if (!utf8.Feed(message.substr(checked_before)) || !utf8.Complete()) {
        return Fail(1007, "text message is not UTF-8");
      }
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
  size_t feed_from = start;
  if (checked_before > 0) {  // an uncompressed text frame, partly checked
    utf8_ = partial_utf8_;
    feed_from += checked_before;
  }
  // ASCII after a complete character is valid UTF-8 as it stands.
  bool checked = ascii && utf8_.Complete();
  if (!message_binary_ && !checked && !utf8_.Feed(absl::string_view(message_).substr(feed_from))) {
    return Fail(1007, "text message is not UTF-8");
  }
  if (!fin) return DecodeResult::Consumed(total);
  if (!message_binary_ && !utf8_.Complete()) return Fail(1007, "text message ends mid-character");
  in_message_ = false;
  return DecodeResult::Message(total, message_,
                               message_binary_ ? MessageKind::kBinary : MessageKind::kText);
}

void WebSocketCodec::EncodeFrameHeader(Opcode opcode, uint64_t size, std::string& out) {
  websocket::AppendFrameHeader(opcode, size, out);
}

void WebSocketCodec::EncodeFrame(Opcode opcode, absl::string_view payload, std::string& out) {
  EncodeFrameHeader(opcode, payload.size(), out);
  out.append(payload.data(), payload.size());
}

bool WebSocketCodec::EncodeMessageHeader(bool binary, absl::string_view payload,
                                         std::string& header) {
  if (deflate_ && payload.size() >= kMinDeflateSize) return false;  // compressed
  // A text frame must be UTF-8 (RFC 6455 8.1): bytes that are not go out as
  // a binary message, never as a text frame the peer must fail on.
  if (!binary && !IsUtf8(payload)) binary = true;
  EncodeFrameHeader(binary ? kBinary : kText, payload.size(), header);
  return true;
}

bool WebSocketCodec::EncodeFraming(absl::string_view message, MessageKind kind, std::string& prefix,
                                   std::string& suffix) {
  return EncodeMessageHeader(kind == MessageKind::kBinary, message, prefix);
}

void WebSocketCodec::EncodeMessage(bool binary, absl::string_view payload, std::string& out) {
  Opcode opcode = binary || !IsUtf8(payload) ? kBinary : kText;  // as in EncodeMessageHeader
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

void WebSocketCodec::EncodeCloseStatus(uint16_t code, absl::string_view reason, std::string& out) {
  if (!open_) return;
  // RFC 6455 5.5: a control payload is at most 125 bytes; the reason is text.
  reason = reason.substr(0, 123);
  while (!reason.empty() && !IsUtf8(reason)) reason.remove_suffix(1);
  std::string payload = {static_cast<char>(code >> 8), static_cast<char>(code)};
  payload.append(reason.data(), reason.size());
  EncodeFrame(kClose, payload, out);
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
    headers += refusal_headers_;
    http_.EncodeResponse(handshake_status_, headers,
                         absl::StrCat(handshake_status_, " ", HttpReason(handshake_status_), ": ",
                                      error.reason, "\n"),
                         out);
    return;
  }
  uint16_t code = error.code;
  if (code == 0) code = error.error == ProtocolError::kTooLarge ? 1009 : 1002;
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  EncodeFrame(kClose, absl::string_view(payload, 2), out);
}

}  // namespace sockman
