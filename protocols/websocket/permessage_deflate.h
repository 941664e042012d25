// permessage-deflate (RFC 7692) for the WebSocket codec: the negotiation of
// one offer from the client's Sec-WebSocket-Extensions, and the per-message
// inflater and deflater on top of zlib's raw DEFLATE streams.
//
// The inflater is bounded: it never produces more than the caller's limit,
// so a deflate bomb costs at most max_package_size of memory. zlib state is
// allocated on first use, so a connection that never sends or receives a
// compressed message pays nothing for it.
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_PERMESSAGE_DEFLATE_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_PERMESSAGE_DEFLATE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

// What both sides agreed on.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;  // the window our deflater may use
};

// Picks the first acceptable permessage-deflate offer from the values of the
// client's Sec-WebSocket-Extensions headers (joined with ", "). Offers with
// unknown or repeated parameters or bad values are declined (RFC 7692 5.1).
// On success `response` holds the extension for the 101 response.
std::optional<DeflateParams> NegotiateDeflate(absl::string_view offers, std::string& response);

// Inflates the messages of one direction. Unless `no_context_takeover`, the
// LZ77 window carries over from message to message.
class MessageInflater {
 public:
  enum class Result { kOk, kTooLarge, kCorrupt };

  explicit MessageInflater(bool no_context_takeover);
  ~MessageInflater();
  MessageInflater(const MessageInflater&) = delete;
  MessageInflater& operator=(const MessageInflater&) = delete;

  // Inflates one frame's payload, appending to `out`. `last` ends the
  // message (the 00 00 FF FF tail the sender stripped is added back).
  // kTooLarge as soon as `out` would exceed `limit` bytes.
  Result Inflate(absl::string_view in, bool last, size_t limit, std::string& out);

 private:
  struct State;
  Result Run(const unsigned char* in, size_t size, size_t limit, std::string& out);
  void EndMessage();

  bool no_context_takeover_;
  std::unique_ptr<State> state_;
};

// Deflates the messages of one direction.
class MessageDeflater {
 public:
  MessageDeflater(int window_bits, bool no_context_takeover);
  ~MessageDeflater();
  MessageDeflater(const MessageDeflater&) = delete;
  MessageDeflater& operator=(const MessageDeflater&) = delete;

  // Appends `in` compressed and flushed, without the 00 00 FF FF tail.
  // False (and nothing appended) if zlib could not allocate its state.
  bool Deflate(absl::string_view in, std::string& out);

 private:
  struct State;
  int window_bits_;
  bool no_context_takeover_;
  std::unique_ptr<State> state_;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_PERMESSAGE_DEFLATE_H_
