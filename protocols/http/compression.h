// HTTP response compression: content-coding negotiation (Accept-Encoding
// with q-values, RFC 9110 12.5.3) and streaming compressors for gzip (zlib),
// br (brotli) and zstd. Each compressor's memory is bounded (window sizes
// capped) and lives for one response.
//
//   Coding coding = NegotiateCoding(request.Header("Accept-Encoding"), policy.codings);
//   auto compressor = Compressor::Create(coding, policy);
//   compressor->Compress(piece, Compressor::kFlush, out);   // streamed bodies
//   compressor->Compress(rest, Compressor::kFinish, out);
#ifndef SOCKMAN_PROTOCOLS_HTTP_COMPRESSION_H_
#define SOCKMAN_PROTOCOLS_HTTP_COMPRESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace sockman {

enum class Coding { kIdentity, kGzip, kBrotli, kZstd };

// "gzip", "br", "zstd", "identity".
absl::string_view CodingName(Coding coding);
// The coding a name ("gzip", "br", "zstd") stands for; false for others.
bool ParseCoding(absl::string_view name, Coding& coding);

struct CompressionPolicy {
  std::vector<Coding> codings = {Coding::kBrotli, Coding::kZstd, Coding::kGzip};  // preference
  int gzip_level = 6;                                                             // 1-9
  int brotli_level = 4;                                                           // 0-11
  int zstd_level = 3;                                                             // 1-19
  size_t min_size = 256;  // smaller bodies are sent as they are
  // Media types compressed: exact ("application/json") or a type's prefix
  // ending in '/' ("text/"). Parameters (charset) are ignored.
  std::vector<std::string> types = {
      "text/",           "application/json", "application/javascript",
      "application/xml", "application/wasm", "application/manifest+json",
      "image/svg+xml"};
  bool Compressible(absl::string_view content_type) const;
};

// The coding to use for `accept_encoding` among `offered` (in preference
// order): the acceptable one with the highest q (ties: the first offered),
// kIdentity when none is (or the header is absent).
Coding NegotiateCoding(absl::string_view accept_encoding, const std::vector<Coding>& offered);
// The acceptable codings of `offered`, best first (q, then offered order);
// kIdentity is never among them.
std::vector<Coding> RankCodings(absl::string_view accept_encoding,
                                const std::vector<Coding>& offered);

class Compressor {
 public:
  enum Mode { kFlush, kFinish };
  // Null for kIdentity.
  static std::unique_ptr<Compressor> Create(Coding coding, const CompressionPolicy& policy);
  virtual ~Compressor() = default;
  // Appends the compressed form of `input` to `out`; kFlush makes what was
  // given so far decodable (a streamed event leaves at once), kFinish ends
  // the stream. False on a library error.
  virtual bool Compress(absl::string_view input, Mode mode, std::string& out) = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_COMPRESSION_H_
