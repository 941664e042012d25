// Test helpers for codecs: feed bytes in chosen chunks, the way a socket would
// deliver them, and collect the decoded messages.
#ifndef SOCKMAN_PROTOCOLS_TESTING_CODEC_TESTING_H_
#define SOCKMAN_PROTOCOLS_TESTING_CODEC_TESTING_H_

#include <random>
#include <string>
#include <vector>

#include "protocols/protocol.h"

namespace sockman::testing {

struct Decoded {
  std::vector<std::string> messages;
  std::vector<MessageKind> kinds;  // of each message
  bool error = false;
  ProtocolError error_kind = ProtocolError::kNone;
  uint16_t error_code = 0;
  std::vector<std::string> replies;  // from kConsumed results
  bool closed = false;               // a kConsumed asked to close
  size_t leftover = 0;               // unconsumed bytes at the end
};

// Appends each chunk to a pending buffer and decodes as much as possible
// after each one, as Connection does (DecodeInPlace: the codec may rewrite
// the bytes it returns as a message).
inline Decoded DecodeChunks(Codec& codec, const std::vector<std::string>& chunks) {
  Decoded out;
  std::string pending;
  for (const std::string& chunk : chunks) {
    pending += chunk;
    for (;;) {
      DecodeResult r = codec.DecodeInPlace(absl::MakeSpan(pending));
      if (r.status == DecodeStatus::kNeedMore) break;
      if (r.status == DecodeStatus::kError) {
        out.error = true;
        out.error_kind = r.error;
        out.error_code = r.code;
        return out;
      }
      if (r.status == DecodeStatus::kConsumed) {
        out.replies.emplace_back(r.reply.data(), r.reply.size());
        pending.erase(0, r.consumed);
        if (r.close_after_reply) {
          out.closed = true;
          return out;
        }
        continue;
      }
      out.messages.emplace_back(r.message.data(), r.message.size());
      out.kinds.push_back(r.kind);
      pending.erase(0, r.consumed);
    }
  }
  out.leftover = pending.size();
  return out;
}

// Splits `bytes` at random points (deterministic for a seed).
inline std::vector<std::string> RandomChunks(const std::string& bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> chunks;
  size_t at = 0;
  while (at < bytes.size()) {
    size_t n = 1 + rng() % 7;
    chunks.push_back(bytes.substr(at, n));
    at += n;
  }
  return chunks;
}

}  // namespace sockman::testing

#endif  // SOCKMAN_PROTOCOLS_TESTING_CODEC_TESTING_H_
