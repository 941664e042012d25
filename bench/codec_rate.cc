// Decode rate of codecs, in messages per CPU-second of this process (one
// thread): the built-in frame protocol against config framings, over a
// buffer of back-to-back frames decoded in place as a connection does.
//
//   codec_rate [SECONDS] [PAYLOAD_BYTES]
//
// Prints one CSV line per codec: name,messages_per_cpu_second.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "protocols/frame/frame_protocol.h"
#include "protocols/framing/framing.h"

namespace sockman {
namespace {

double CpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Messages decoded per CPU-second from `wire` (whole frames) for `seconds`
// (the copy that restores the buffer each pass is counted: the same for all).
double Rate(Codec& codec, const std::string& wire, double seconds) {
  std::string buffer = wire;
  uint64_t messages = 0;
  double start = CpuSeconds(), now = start;
  while (now - start < seconds) {
    buffer = wire;  // decoding in place may rewrite it (unescaping)
    size_t at = 0;
    for (;;) {
      DecodeResult r = codec.DecodeInPlace(absl::MakeSpan(buffer.data() + at, buffer.size() - at));
      if (r.status == DecodeStatus::kNeedMore) break;
      if (r.status == DecodeStatus::kError) {
        std::fprintf(stderr, "codec_rate: decode error: %s\n", r.reason);
        std::exit(1);
      }
      messages += r.status == DecodeStatus::kMessage;
      at += r.consumed;
    }
    now = CpuSeconds();
  }
  return static_cast<double>(messages) / (now - start);
}

FramingSpec Finished(FramingSpec spec) {
  if (auto error = spec.Finish()) {
    std::fprintf(stderr, "codec_rate: %s: %s\n", error->field.c_str(), error->message.c_str());
    std::exit(1);
  }
  return spec;
}

}  // namespace
}  // namespace sockman

int main(int argc, char** argv) {
  using namespace sockman;
  double seconds = argc > 1 ? std::atof(argv[1]) : 2;
  size_t payload_size = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  std::string payload;
  for (size_t i = 0; i < payload_size; ++i) payload.push_back(static_cast<char>('a' + i % 26));
  constexpr int kFrames = 20000;

  CodecOptions options;
  FramingSpec frame_like;  // Workerman's frame as a config framing
  frame_like.counts_whole_frame = true;
  frame_like.strip = 4;
  frame_like = Finished(frame_like);
  FramingSpec crc;  // 2-byte length, CRC-16/MODBUS
  crc.length_size = 2;
  crc.strip = 2;
  crc.adjustment = 2;
  crc.check = FramingCheckKind::kCrc16Modbus;
  crc.check_little = true;
  crc = Finished(crc);
  FramingSpec jt808;  // 0x7e delimiters, escaping, XOR
  jt808.kind = FramingSpec::Kind::kDelimiter;
  jt808.delimiters = {"\x7e"};
  jt808.opening = true;
  jt808.escaping = true;
  jt808.escape = 0x7d;
  jt808.escaped.fill(-1);
  jt808.unescaped.fill(-1);
  jt808.escaped[0x7e] = 2;
  jt808.unescaped[2] = 0x7e;
  jt808.escaped[0x7d] = 1;
  jt808.unescaped[1] = 0x7d;
  jt808.check = FramingCheckKind::kXor;
  jt808 = Finished(jt808);

  struct Case {
    const char* name;
    std::unique_ptr<Codec> codec;
  };
  std::vector<Case> cases;
  cases.push_back({"frame", std::make_unique<FrameCodec>(options)});
  cases.push_back(
      {"framing-frame", std::make_unique<FramingCodec>(frame_like, options.max_package_size)});
  cases.push_back(
      {"framing-len2-crc16", std::make_unique<FramingCodec>(crc, options.max_package_size)});
  cases.push_back(
      {"framing-jt808", std::make_unique<FramingCodec>(jt808, options.max_package_size)});
  for (Case& c : cases) {
    std::string wire;
    for (int i = 0; i < kFrames; ++i) c.codec->Encode(payload, MessageKind::kBinary, wire);
    std::printf("%s,%.0f\n", c.name, Rate(*c.codec, wire, seconds));
  }
  return 0;
}
