// Fuzz target for what a Pusher client or API caller controls: a client
// message (any bytes), an API request's query and body, and socket ids.
// Checks the contract: a parsed message has an event and data that is
// valid compact JSON; every parse ends (no recursion on deep input); an API
// check of forged input never passes; socket ids are digits.dot.digits.
//
// Built with libFuzzer by //handlers/pusher:pusher_wire_fuzz_test and
// replayed over the seed corpus by //handlers/pusher:pusher_wire_fuzz_replay_test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "handlers/pusher/pusher_wire.h"
#include "rapidjson/document.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  sockman::pusher::ClientMessage m;
  std::string error;
  if (sockman::pusher::ParseClientMessage(input, 1 << 20, m, error)) {
    Check(!m.event.empty());
    rapidjson::Document again;
    again.Parse<rapidjson::kParseIterativeFlag>(m.data_json.data(), m.data_json.size());
    Check(!again.HasParseError());
  } else {
    Check(!error.empty());
  }
  // The same bytes as an API request's query, body and path.
  size_t cut = input.find('\n');
  std::string query = input.substr(0, cut);
  std::string body = cut == std::string::npos ? "" : input.substr(cut + 1);
  std::string why = sockman::pusher::CheckApiRequest("POST", "/apps/1/events", query, body, "key",
                                                     "secret-secret", 1700000000, 600);
  // Passing needs the HMAC of the secret: fuzzed bytes cannot have it.
  Check(!why.empty());
  std::vector<std::pair<std::string, std::string>> params;
  sockman::pusher::ParseQuery(input, params);
  std::string socket_id = sockman::pusher::SocketId(input);
  Check(sockman::pusher::ValidSocketId(socket_id));
  (void)sockman::pusher::ValidChannelName(input);
  sockman::pusher::ValidSocketId(input);
  return 0;
}
