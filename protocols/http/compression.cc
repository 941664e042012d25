#include "protocols/http/compression.h"

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sockman {
namespace {

// Windows bounded so one response's state stays small: zlib 32 KiB
// (memLevel 8: about 256 KiB with its hash tables), brotli 256 KiB, zstd
// 1 MiB.
constexpr int kBrotliWindowBits = 18;
constexpr int kZstdWindowLog = 20;

// The compressors' state is costly to set up (zlib's is about 270 KiB, past
// malloc's mmap threshold: a map and an unmap per response otherwise), so
// each thread keeps a couple per coding for the next response, reset.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual bool Compress(absl::string_view input, Compressor::Mode mode, std::string& out) = 0;
  virtual bool Reset() = 0;  // false: not reusable
};

class GzipCompressor : public Engine {
 public:
  explicit GzipCompressor(int level) {
    ok_ = deflateInit2(&stream_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~GzipCompressor() override {
    if (ok_) deflateEnd(&stream_);
  }
  bool Reset() override { return ok_ && deflateReset(&stream_) == Z_OK; }
  bool Compress(absl::string_view input, Compressor::Mode mode, std::string& out) override {
    using Mode = Compressor::Mode;
    constexpr Mode kFinish = Compressor::kFinish;
    if (!ok_) return false;
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    int flush = mode == kFinish ? Z_FINISH : Z_SYNC_FLUSH;
    for (;;) {
      size_t before = out.size();
      // Text shrinks: start from a quarter of the input, grow as needed.
      size_t room = std::max<size_t>(4096, stream_.avail_in / 4);
      out.resize(before + room);
      stream_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
      stream_.avail_out = static_cast<uInt>(room);
      int result = deflate(&stream_, flush);
      out.resize(before + room - stream_.avail_out);
      if (result == Z_STREAM_ERROR) return false;
      if (mode == kFinish ? result == Z_STREAM_END : stream_.avail_out != 0) return true;
    }
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

class BrotliCompressor : public Engine {
 public:
  explicit BrotliCompressor(int level)
      : state_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr)) {
    if (state_ == nullptr) return;
    BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(level));
    BrotliEncoderSetParameter(state_, BROTLI_PARAM_LGWIN, kBrotliWindowBits);
  }
  ~BrotliCompressor() override {
    if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
  }
  bool Reset() override { return false; }  // brotli has no reset: a new state each time
  bool Compress(absl::string_view input, Compressor::Mode mode, std::string& out) override {
    constexpr Compressor::Mode kFinish = Compressor::kFinish;
    if (state_ == nullptr) return false;
    size_t available_in = input.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(input.data());
    BrotliEncoderOperation op = mode == kFinish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
    for (;;) {
      size_t available_out = 0;
      if (!BrotliEncoderCompressStream(state_, op, &available_in, &next_in, &available_out, nullptr,
                                       nullptr)) {
        return false;
      }
      size_t size = 0;
      const uint8_t* produced = BrotliEncoderTakeOutput(state_, &size);
      out.append(reinterpret_cast<const char*>(produced), size);
      bool done = mode == kFinish ? BrotliEncoderIsFinished(state_)
                                  : available_in == 0 && !BrotliEncoderHasMoreOutput(state_);
      if (done) return true;
    }
  }

 private:
  BrotliEncoderState* state_;
};

class ZstdCompressor : public Engine {
 public:
  explicit ZstdCompressor(int level) : context_(ZSTD_createCCtx()) {
    if (context_ == nullptr) return;
    ZSTD_CCtx_setParameter(context_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(context_, ZSTD_c_windowLog, kZstdWindowLog);
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(context_); }
  bool Reset() override {
    return context_ != nullptr && !ZSTD_isError(ZSTD_CCtx_reset(context_, ZSTD_reset_session_only));
  }
  bool Compress(absl::string_view input, Compressor::Mode mode, std::string& out) override {
    constexpr Compressor::Mode kFinish = Compressor::kFinish;
    if (context_ == nullptr) return false;
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    ZSTD_EndDirective directive = mode == kFinish ? ZSTD_e_end : ZSTD_e_flush;
    for (;;) {
      size_t before = out.size();
      size_t room = ZSTD_CStreamOutSize();
      out.resize(before + room);
      ZSTD_outBuffer buffer{out.data() + before, room, 0};
      size_t left = ZSTD_compressStream2(context_, &buffer, &in, directive);
      out.resize(before + buffer.pos);
      if (ZSTD_isError(left)) return false;
      if (left == 0 && in.pos == in.size) return true;
    }
  }

 private:
  ZSTD_CCtx* context_;
};

}  // namespace

absl::string_view CodingName(Coding coding) {
  switch (coding) {
    case Coding::kGzip:
      return "gzip";
    case Coding::kBrotli:
      return "br";
    case Coding::kZstd:
      return "zstd";
    case Coding::kIdentity:
      break;
  }
  return "identity";
}

bool ParseCoding(absl::string_view name, Coding& coding) {
  for (Coding c : {Coding::kGzip, Coding::kBrotli, Coding::kZstd}) {
    if (absl::EqualsIgnoreCase(name, CodingName(c))) {
      coding = c;
      return true;
    }
  }
  return false;
}

bool CompressionPolicy::Compressible(absl::string_view content_type) const {
  absl::string_view type =
      absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';')));
  if (type.empty()) return false;
  for (const std::string& pattern : types) {
    if (absl::EndsWith(pattern, "/") ? absl::StartsWithIgnoreCase(type, pattern)
                                     : absl::EqualsIgnoreCase(type, pattern)) {
      return true;
    }
  }
  return false;
}

std::vector<Coding> RankCodings(absl::string_view accept_encoding,
                                const std::vector<Coding>& offered) {
  if (accept_encoding.empty()) return {};
  // q per offered coding (-1: not named), and the q of "*".
  std::vector<double> q(offered.size(), -1);
  double any = -1;
  for (absl::string_view item : absl::StrSplit(accept_encoding, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
    absl::string_view name = absl::StripAsciiWhitespace(parts[0]);
    if (name.empty()) continue;
    double weight = 1;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
      if (absl::StartsWithIgnoreCase(param, "q=")) {
        double value;
        // RFC 9110 12.4.2: 0 to 1, at most three decimals; bad values are not
        // acceptable.
        if (!absl::SimpleAtod(param.substr(2), &value) || value < 0 || value > 1) value = 0;
        weight = value;
      }
    }
    if (name == "*") {
      any = weight;
      continue;
    }
    Coding coding;
    if (!ParseCoding(name, coding)) {
      if (absl::EqualsIgnoreCase(name, "x-gzip")) {
        coding = Coding::kGzip;
      } else {
        continue;
      }
    }
    for (size_t i = 0; i < offered.size(); ++i) {
      if (offered[i] == coding) q[i] = std::max(q[i], weight);
    }
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < offered.size(); ++i) {
    if (q[i] < 0) q[i] = any;
    if (q[i] > 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return q[a] > q[b]; });
  std::vector<Coding> ranked;
  for (size_t i : order) ranked.push_back(offered[i]);
  return ranked;
}

Coding NegotiateCoding(absl::string_view accept_encoding, const std::vector<Coding>& offered) {
  std::vector<Coding> ranked = RankCodings(accept_encoding, offered);
  return ranked.empty() ? Coding::kIdentity : ranked.front();
}

namespace {

// Engines kept for reuse, per thread, by coding and level.
struct Kept {
  Coding coding;
  int level;
  std::unique_ptr<Engine> engine;
};
constexpr size_t kMaxKept = 4;
thread_local std::vector<Kept> kept;

class PooledCompressor : public Compressor {
 public:
  PooledCompressor(Coding coding, int level, std::unique_ptr<Engine> engine)
      : coding_(coding), level_(level), engine_(std::move(engine)) {}
  ~PooledCompressor() override {
    if (engine_->Reset() && kept.size() < kMaxKept) {
      kept.push_back({coding_, level_, std::move(engine_)});
    }
  }
  bool Compress(absl::string_view input, Mode mode, std::string& out) override {
    return engine_->Compress(input, mode, out);
  }

 private:
  Coding coding_;
  int level_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace

std::unique_ptr<Compressor> Compressor::Create(Coding coding, const CompressionPolicy& policy) {
  int level = coding == Coding::kGzip     ? policy.gzip_level
              : coding == Coding::kBrotli ? policy.brotli_level
                                          : policy.zstd_level;
  for (auto it = kept.begin(); it != kept.end(); ++it) {
    if (it->coding == coding && it->level == level) {
      std::unique_ptr<Engine> engine = std::move(it->engine);
      kept.erase(it);
      return std::make_unique<PooledCompressor>(coding, level, std::move(engine));
    }
  }
  std::unique_ptr<Engine> engine;
  switch (coding) {
    case Coding::kGzip:
      engine = std::make_unique<GzipCompressor>(level);
      break;
    case Coding::kBrotli:
      engine = std::make_unique<BrotliCompressor>(level);
      break;
    case Coding::kZstd:
      engine = std::make_unique<ZstdCompressor>(level);
      break;
    case Coding::kIdentity:
      return nullptr;
  }
  return std::make_unique<PooledCompressor>(coding, level, std::move(engine));
}

}  // namespace sockman
