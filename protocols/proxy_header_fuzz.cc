// Fuzz target for the PROXY header parser: any bytes, parsed whole and then
// as every shorter prefix. Checks the contract: never reads past the input,
// a complete header's size is within the input and the limits, a prefix of
// a complete header needs more, and an error always says why.
//
// Built with libFuzzer by //protocols:proxy_header_fuzz_test and replayed
// over the seed corpus by //protocols:proxy_header_fuzz_replay_test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/proxy_header.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so reading past it is caught.
  std::string input(reinterpret_cast<const char*>(data), size);
  sockman::ProxyHeader whole = sockman::ParseProxyHeader(input);
  if (whole.status == sockman::ProxyHeader::kDone) {
    Check(whole.size > 0 && whole.size <= input.size());
    Check(whole.size <= sockman::ProxyHeader::kMaxSize);
    Check(whole.version == 1 || whole.version == 2);
    if (whole.version == 1) Check(whole.size <= sockman::ProxyHeader::kMaxV1Size);
    // The header alone gives the same answer; every shorter prefix needs more.
    sockman::ProxyHeader alone = sockman::ParseProxyHeader(input.substr(0, whole.size));
    Check(alone.status == sockman::ProxyHeader::kDone && alone.size == whole.size);
    for (size_t n = 0; n < whole.size; n += 1 + n / 16) {
      Check(sockman::ParseProxyHeader(input.substr(0, n)).status ==
            sockman::ProxyHeader::kNeedMore);
    }
  } else if (whole.status == sockman::ProxyHeader::kError) {
    Check(whole.error != nullptr && whole.error[0] != '\0');
  } else {
    Check(input.size() < sockman::ProxyHeader::kMaxSize + 16);
  }
  // As a datagram: complete or an error, never more needed.
  sockman::ProxyHeader datagram = sockman::ParseProxyHeader(input, /*datagram=*/true);
  Check(datagram.status != sockman::ProxyHeader::kNeedMore);
  if (datagram.status == sockman::ProxyHeader::kDone) {
    Check(datagram.version == 2 && datagram.size > 0 && datagram.size <= input.size());
  } else {
    Check(datagram.error != nullptr && datagram.error[0] != '\0');
  }
  return 0;
}
