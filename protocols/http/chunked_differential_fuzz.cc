// Differential fuzz target: the server codec (a chunked request body) and
// the client's response parser (a chunked response body) must frame the same
// bytes the same way: both take them with the same body and stop at the same
// byte, or both refuse them. A difference would be a request-smuggling
// channel once sockman forwards requests (the HTTP proxy).
//
// Built with libFuzzer by //protocols/http:chunked_differential_fuzz_test and
// replayed over the chunked seed corpus by ..._replay_test on every `bazel test`.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/http/http_codec.h"
#include "protocols/http/http_response_parser.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr size_t kLimit = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sockman;
  std::string chunked(reinterpret_cast<const char*>(data), size);
  const std::string next = "NEXT";  // what follows the body must stay unread

  // The server: a request whose body is `chunked`, then more bytes.
  HttpOptions http;
  http.max_header_size = HttpResponseParser::kMaxHeadSize;  // the client's trailer limit
  CodecOptions options;
  options.max_package_size = kLimit;  // the same body limit as the client's
  options.options = &http;
  HttpCodec codec(options);
  std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string request = head + chunked + next;
  DecodeResult server = codec.Decode(request);

  // The client: a response whose body is the same bytes.
  HttpResponseParser parser(kLimit);
  std::string response_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string response = response_head + chunked + next;
  size_t consumed = 0;
  HttpResponseParser::Result client = parser.Parse(response, &consumed);

  bool server_done = server.status == DecodeStatus::kMessage;
  bool client_done = client == HttpResponseParser::Result::kDone;
  bool server_refused = server.status == DecodeStatus::kError;
  bool client_refused = client == HttpResponseParser::Result::kError;
  if (server_done || client_done) {
    Check(server_done && client_done);
    Check(server.message == parser.response().body);
    // Both stop right after the body: "NEXT" is the next message's.
    Check(server.consumed - head.size() == consumed - response_head.size());
  }
  // With the same limits, refusals agree too (too large included).
  if (server_refused || client_refused) Check(server_refused && client_refused);
  return 0;
}
