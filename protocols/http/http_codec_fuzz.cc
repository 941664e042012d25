// Fuzz target for the HTTP request parser. The first two bytes pick limits,
// the forwarding header a trusted peer's client address is read from, the
// coding responses are compressed with, and whether request heads are
// announced and bodies streamed (the proxy's mode); the rest is fed in chunks whose
// sizes come from the data, as a socket would deliver it. Checks the
// codec's contract, not just the absence of crashes.
//
// Built with libFuzzer by protocols/http/fuzz_test.sh (clang,
// -fsanitize=fuzzer,address,undefined) and replayed over the seed corpus by
// //protocols/http:http_codec_fuzz_replay_test on every `bazel test`.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/networks.h"
#include "protocols/http/http_codec.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sockman;
  if (size < 2) return 0;
  CodecOptions options;
  options.max_package_size = 64 + size_t{data[0]} * 64;
  HttpOptions http;
  http.max_header_size = 64 + size_t{data[1]} * 16;
  // The peer is a trusted proxy: X-Forwarded-For, X-Real-IP or Forwarded
  // names the client.
  auto real_ip = std::make_shared<RealIpOptions>();
  real_ip->trusted =
      std::make_shared<const NetworkList>(*NetworkList::Parse({"127.0.0.0/8", "::1"}));
  real_ip->header = static_cast<RealIpOptions::Header>(data[0] % 3);
  http.real_ip = real_ip;
  options.options = &http;
  CompressionPolicy policy;
  policy.min_size = 0;
  policy.types = {"text/"};
  Coding coding = static_cast<Coding>(data[1] % 4);
  bool announce = (data[1] & 0x80) != 0;
  bool stream = (data[0] & 1) != 0;  // take announced bodies in pieces
  uint64_t max_body = (data[0] & 2) != 0 ? 0 : 300;
  data += 2;
  size -= 2;
  HttpCodec codec(options);
  codec.set_announce_heads(announce);
  uint64_t streamed = 0;  // bytes of the body being streamed
  codec.Attach(*SocketAddress::Parse("127.0.0.1", 4000));
  std::string pending;
  size_t at = 0;
  while (at < size) {
    size_t n = std::min<size_t>(size - at, 1 + data[at] % 29);
    pending.append(reinterpret_cast<const char*>(data + at), n);
    at += n;
    for (;;) {
      DecodeResult r = codec.Decode(pending);
      if (r.status == DecodeStatus::kNeedMore) {
        if (pending.size() >= options.max_package_size) return 0;  // Connection's 413
        break;
      }
      if (r.status == DecodeStatus::kError) {
        Check(r.code >= 400 && r.code <= 505);
        std::string out;
        codec.EncodeError(r, out);
        Check(out.rfind("HTTP/1.1 ", 0) == 0);
        Check(codec.CloseAfterSend());
        return 0;
      }
      if (r.status == DecodeStatus::kConsumed) {  // a streamed body's head
        Check(announce && r.consumed <= pending.size());
        pending.erase(0, r.consumed);
        continue;
      }
      HttpCodec::BodyPart part = codec.body_part();
      Check(announce || part == HttpCodec::BodyPart::kWhole);
      if (part == HttpCodec::BodyPart::kHead) {
        Check(r.consumed == 0 && r.message.empty());
        Check(codec.request().method.size() > 0);
        if (stream && codec.StreamBody(max_body)) streamed = 0;
        continue;
      }
      if (part == HttpCodec::BodyPart::kPiece || part == HttpCodec::BodyPart::kLast) {
        Check(r.consumed <= pending.size());
        Check(r.consumed > 0 || part == HttpCodec::BodyPart::kLast);
        streamed += r.message.size();
        Check(max_body == 0 || streamed <= max_body);
        if (part == HttpCodec::BodyPart::kLast) {
          Check(!codec.body_streaming());
          std::string out;
          codec.EncodeStreamHead(200, "Content-Type: text/plain\r\n", out);
          codec.EncodeChunk("x", out);
          codec.EncodeStreamEnd(out);
          Check(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        }
        pending.erase(0, r.consumed);
        continue;
      }
      Check(r.consumed > 0 && r.consumed <= pending.size());
      // pending was under max_package_size before the last chunk (at most
      // 29 bytes) arrived.
      Check(r.consumed < options.max_package_size + 29);
      const HttpRequest& request = codec.request();
      // Every view points into the bytes consumed for this request (or, for
      // a de-chunked body, at the codec's own copy).
      auto inside = [&](absl::string_view v) {
        return v.empty() ||
               (v.data() >= pending.data() && v.data() + v.size() <= pending.data() + r.consumed);
      };
      Check(inside(request.method) && inside(request.target) && inside(request.path) &&
            inside(request.query) && inside(request.host));
      for (const auto& [name, value] : request.headers) {
        Check(!name.empty() && inside(name) && inside(value));
        Check(value.find('\n') == absl::string_view::npos);
      }
      Check(request.body == r.message);
      Check(request.method.size() > 0);
      // A client named by the header is an address of either family.
      if (const SocketAddress* client = codec.ClientAddress()) {
        Check(client->family() == AF_INET || client->family() == AF_INET6);
        Check(!client->Host().empty());
      }
      std::string out;
      codec.SetCompression(&policy, coding);
      codec.EncodeResponse(200, "Content-Type: text/plain\r\nX: y\r\n", request.body, out);
      Check(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
      Check(out.find("\r\n\r\n") != std::string::npos);
      pending.erase(0, r.consumed);
    }
  }
  return 0;
}
