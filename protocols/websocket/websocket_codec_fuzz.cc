// Fuzz target for the WebSocket frame decoder and the permessage-deflate
// inflater. The first byte picks whether deflate is on and which offer the
// client made, the second the message limit; a fixed upgrade request opens
// the connection, and the rest is fed as client bytes in data-chosen chunks.
// Checks the codec's contract, not just the absence of crashes: messages
// within the limit, text messages valid UTF-8, replies that round-trip
// (through an inflater when compressed), only 1002/1007/1009 failures.
//
// Built with libFuzzer by //protocols/websocket:fuzz_test (clang,
// -fsanitize=fuzzer,address,undefined) and replayed over the seed corpus by
// //protocols/websocket:websocket_codec_fuzz_replay_test on every `bazel test`.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "protocols/websocket/permessage_deflate.h"
#include "protocols/websocket/websocket_codec.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const char* const kOffers[] = {
    "",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=8",
};

// Decodes one server frame at the start of `bytes`: {first byte, payload}.
bool ServerFrame(absl::string_view bytes, uint8_t& first, std::string& payload) {
  if (bytes.size() < 2) return false;
  first = static_cast<uint8_t>(bytes[0]);
  uint64_t length = static_cast<uint8_t>(bytes[1]);
  size_t header = 2;
  if (length == 126) {
    length = (uint64_t{static_cast<uint8_t>(bytes[2])} << 8) | static_cast<uint8_t>(bytes[3]);
    header = 4;
  } else if (length == 127) {
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<uint8_t>(bytes[i]);
    header = 10;
  }
  if (bytes.size() != header + length) return false;
  payload = std::string(bytes.substr(header));
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sockman;
  if (size < 2) return 0;
  WebSocketOptions ws;
  ws.deflate = data[0] & 1;
  const char* offer = kOffers[(data[0] >> 1) & 3];
  bool server_no_context_takeover = ((data[0] >> 1) & 3) == 2;
  CodecOptions options;
  options.max_package_size = 16 + size_t{data[1]} * 64;
  options.options = &ws;
  data += 2;
  size -= 2;

  WebSocketCodec codec(options);
  std::string upgrade =
      "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (*offer) absl::StrAppend(&upgrade, "Sec-WebSocket-Extensions: ", offer, "\r\n");
  upgrade += "\r\n";
  DecodeResult opened = codec.Decode(upgrade);
  Check(opened.status == DecodeStatus::kConsumed && codec.open());
  Check(codec.deflate() == (ws.deflate && *offer));

  // The client's side of the server-to-client direction.
  MessageInflater client_inflater(server_no_context_takeover);
  std::string pending;
  size_t at = 0;
  while (at < size) {
    size_t n = std::min<size_t>(size - at, 1 + data[at] % 37);
    pending.append(reinterpret_cast<const char*>(data + at), n);
    at += n;
    for (;;) {
      DecodeResult r = codec.DecodeInPlace(absl::MakeSpan(pending));
      if (r.status == DecodeStatus::kNeedMore) {
        // Nothing over the limit (or a control frame's 125) is ever
        // buffered, plus at most 14 bytes of frame header.
        Check(pending.size() <= std::max<size_t>(options.max_package_size, 125) + 14);
        break;
      }
      if (r.status == DecodeStatus::kError) {
        Check(r.code == 1002 || r.code == 1007 || r.code == 1009);
        std::string out;
        codec.EncodeError(r, out);
        Check(out.size() == 4 && static_cast<uint8_t>(out[0]) == 0x88 && out[1] == 2);
        return 0;
      }
      Check(r.consumed > 0 && r.consumed <= pending.size());
      if (r.status == DecodeStatus::kConsumed) {
        if (r.close_after_reply) return 0;
        pending.erase(0, r.consumed);
        continue;
      }
      std::string message(r.message);
      Check(message.size() <= options.max_package_size);
      bool binary = r.kind == MessageKind::kBinary;
      if (!binary) {
        Utf8Validator utf8;
        Check(utf8.Feed(message) && utf8.Complete());
      }
      // Echo it back and read the reply as a client would.
      std::string out;
      codec.EncodeMessage(binary, message, out);
      uint8_t first = 0;
      std::string payload;
      Check(ServerFrame(out, first, payload));
      Check((first & 0x8F) == (binary ? 0x82 : 0x81) && (first & 0x30) == 0);
      if (first & 0x40) {
        Check(codec.deflate());
        std::string back;
        Check(client_inflater.Inflate(payload, true, message.size(), back) ==
              MessageInflater::Result::kOk);
        Check(back == message);
      } else {
        Check(payload == message);
      }
      pending.erase(0, r.consumed);
    }
  }
  return 0;
}
