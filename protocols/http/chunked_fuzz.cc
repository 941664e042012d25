// Fuzz target for the chunked decoder. The first byte picks the limits; the
// rest is decoded twice, whole and in pieces whose sizes come from the data
// (as a socket delivers it), and both runs must agree. Checks the decoder's
// contract: bounded, never past the input, same answer for any split.
//
// Built with libFuzzer by //protocols/http:chunked_fuzz_test (clang,
// -fsanitize=fuzzer,address,undefined) and replayed over the seed corpus by
// //protocols/http:chunked_fuzz_replay_test on every `bazel test`.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/http/chunked.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Outcome {
  sockman::ChunkedDecoder::Status status = sockman::ChunkedDecoder::Status::kNeedMore;
  std::string body;
  size_t end = 0;  // input bytes used at kDone
};

// Feeds `input` `step` bytes at a time (all of it for step 0), as a caller
// that keeps unconsumed bytes and appends new ones does.
Outcome Run(sockman::ChunkedDecoder::Limits limits, const std::string& input, size_t step) {
  sockman::ChunkedDecoder decoder(limits);
  Outcome outcome;
  size_t pos = 0;
  size_t have = step == 0 ? input.size() : 0;
  for (;;) {
    if (step != 0) have = std::min(input.size(), have + step);
    absl::string_view view(input.data(), have);
    outcome.status = decoder.Decode(view, pos, outcome.body);
    Check(pos <= have);
    Check(outcome.body.size() <= limits.max_body);
    if (outcome.status != sockman::ChunkedDecoder::Status::kNeedMore) break;
    if (have == input.size()) break;
  }
  if (outcome.status == sockman::ChunkedDecoder::Status::kDone) outcome.end = pos;
  if (outcome.status == sockman::ChunkedDecoder::Status::kError) {
    Check(decoder.error() != sockman::ChunkedDecoder::Error::kNone);
    Check(decoder.reason()[0] != '\0');
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  sockman::ChunkedDecoder::Limits limits{.max_body = 1 + size_t{data[0]} % 16 * 64,
                                         .max_trailers = 16 + (size_t{data[0]} / 16) * 16};
  size_t step = 1 + data[1] % 7;
  std::string input(reinterpret_cast<const char*>(data + 2), size - 2);
  Outcome whole = Run(limits, input, 0);
  Outcome pieces = Run(limits, input, step);
  Check(whole.status == pieces.status);
  if (whole.status == sockman::ChunkedDecoder::Status::kDone) {
    Check(whole.body == pieces.body);
    Check(whole.end == pieces.end);
  }
  return 0;
}
