// Fuzz target for the WebSocket wire helpers: frame headers, close payloads
// and UTF-8. Checks their contracts, not just the absence of crashes: a
// parsed header re-encodes to one that parses the same, a shorter input
// never parses where a longer one needs more, and UTF-8 validation agrees
// across any split.
//
// Built with libFuzzer by //protocols/websocket:frame_fuzz_test and replayed
// over the seed corpus by //protocols/websocket:frame_fuzz_replay_test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/websocket/frame.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sockman;
  absl::string_view input(reinterpret_cast<const char*>(data), size);

  websocket::FrameHeader header;
  const char* error = "";
  websocket::ParseStatus status = websocket::ParseFrameHeader(input, header, error);
  if (status == websocket::ParseStatus::kOk) {
    Check(header.size <= input.size());
    Check(header.size == 2 + (header.masked ? 4 : 0) ||
          header.size == 4 + (header.masked ? 4 : 0) ||
          header.size == 10 + (header.masked ? 4 : 0));
    Check(!header.control() || (header.fin && header.length <= 125));
    Check(header.length >> 63 == 0);
    // A truncated header needs more; it never parses or fails differently.
    for (size_t cut = 0; cut < header.size; ++cut) {
      websocket::FrameHeader partial;
      const char* partial_error = "";
      websocket::ParseStatus s =
          websocket::ParseFrameHeader(input.substr(0, cut), partial, partial_error);
      Check(s != websocket::ParseStatus::kOk);
    }
    // Round trip (the encoder writes final frames only).
    if (header.fin) {
      std::string again;
      websocket::AppendFrameHeader(header.opcode, header.length, again,
                                   header.masked ? header.mask : nullptr, header.rsv1);
      websocket::FrameHeader reparsed;
      Check(websocket::ParseFrameHeader(again, reparsed, error) == websocket::ParseStatus::kOk);
      Check(reparsed.opcode == header.opcode && reparsed.length == header.length &&
            reparsed.masked == header.masked && reparsed.rsv1 == header.rsv1 &&
            reparsed.size <= header.size && reparsed.size == again.size());
    }
    if (header.opcode == websocket::kClose && input.size() - header.size >= header.length) {
      std::string payload(input.substr(header.size, header.length));
      if (header.masked) {
        WebSocketMask(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                      header.mask, payload.data());
      }
      websocket::CloseFrame close = websocket::ParseClosePayload(payload);
      Check(close.fail_code == 0 || close.fail_code == 1002 || close.fail_code == 1007);
      if (close.fail_code == 0) Check(payload.empty() || websocket::ValidCloseCode(close.code));
    }
  } else if (status == websocket::ParseStatus::kError) {
    Check(error != nullptr && error[0] != '\0');
  }

  // UTF-8: whole, split at every point the data names, and byte by byte agree.
  bool whole = IsUtf8(input);
  size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  Utf8Validator split;
  bool split_ok =
      split.Feed(input.substr(0, cut)) && split.Feed(input.substr(cut)) && split.Complete();
  Check(split_ok == whole);
  Utf8Validator bytes;
  bool bytes_ok = true;
  for (char c : input) bytes_ok = bytes_ok && bytes.Feed(absl::string_view(&c, 1));
  Check((bytes_ok && bytes.Complete()) == whole);
  return 0;
}
