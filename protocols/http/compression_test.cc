#include "protocols/http/compression.h"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string Gunzip(const std::string& data) {
  z_stream s{};
  inflateInit2(&s, 15 + 16);
  std::string out(1 << 22, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  int r = inflate(&s, Z_FINISH);
  out.resize(s.total_out);
  inflateEnd(&s);
  return r == Z_STREAM_END ? out : "<bad gzip>";
}

std::string Unbrotli(const std::string& data) {
  std::string out(1 << 22, '\0');
  size_t size = out.size();
  if (BrotliDecoderDecompress(data.size(), reinterpret_cast<const uint8_t*>(data.data()), &size,
                              reinterpret_cast<uint8_t*>(out.data())) !=
      BROTLI_DECODER_RESULT_SUCCESS) {
    return "<bad br>";
  }
  out.resize(size);
  return out;
}

std::string Unzstd(const std::string& data) {
  std::string out(1 << 22, '\0');
  size_t size = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(size)) return "<bad zstd>";
  out.resize(size);
  return out;
}

std::string Decode(Coding coding, const std::string& data) {
  switch (coding) {
    case Coding::kGzip:
      return Gunzip(data);
    case Coding::kBrotli:
      return Unbrotli(data);
    case Coding::kZstd:
      return Unzstd(data);
    case Coding::kIdentity:
      break;
  }
  return data;
}

TEST(CompressionTest, NegotiationFollowsQValuesThenServerPreference) {
  std::vector<Coding> all = {Coding::kBrotli, Coding::kZstd, Coding::kGzip};
  EXPECT_EQ(NegotiateCoding("", all), Coding::kIdentity);
  EXPECT_EQ(NegotiateCoding("gzip", all), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("gzip, deflate, br, zstd", all), Coding::kBrotli);  // ties: ours
  EXPECT_EQ(NegotiateCoding("gzip;q=1.0, br;q=0.5", all), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("br;q=0, gzip;q=0.1", all), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("*", all), Coding::kBrotli);
  EXPECT_EQ(NegotiateCoding("*;q=0.5, br;q=0", all), Coding::kZstd);
  EXPECT_EQ(NegotiateCoding("identity", all), Coding::kIdentity);
  EXPECT_EQ(NegotiateCoding("deflate, compress", all), Coding::kIdentity);
  EXPECT_EQ(NegotiateCoding("GZIP", all), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("x-gzip", all), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("gzip;q=2", all), Coding::kIdentity);  // a bad q is not acceptable
  EXPECT_EQ(NegotiateCoding("gzip;q=abc", all), Coding::kIdentity);
  EXPECT_EQ(NegotiateCoding("br", {Coding::kGzip}), Coding::kIdentity);  // not offered
  EXPECT_EQ(NegotiateCoding(" , ;q=1, zstd", all), Coding::kZstd);
  // (What static's gzip check, AcceptsContentCoding, took for gzip.)
  EXPECT_EQ(NegotiateCoding("gzip, deflate", {Coding::kGzip}), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("br;q=1.0, GZIP;q=0.5", {Coding::kGzip}), Coding::kGzip);
  EXPECT_EQ(NegotiateCoding("gzip;q=0", {Coding::kGzip}), Coding::kIdentity);
  EXPECT_EQ(NegotiateCoding("br", {Coding::kGzip}), Coding::kIdentity);
  EXPECT_EQ(NegotiateCoding("", {Coding::kGzip}), Coding::kIdentity);
  EXPECT_EQ(RankCodings("gzip;q=0.5, br, zstd;q=0", all),
            (std::vector<Coding>{Coding::kBrotli, Coding::kGzip}));
  EXPECT_TRUE(RankCodings("", all).empty());
}

TEST(CompressionTest, TypesWorthCompressing) {
  CompressionPolicy policy;
  EXPECT_TRUE(policy.Compressible("text/html; charset=utf-8"));
  EXPECT_TRUE(policy.Compressible("Application/JSON"));
  EXPECT_TRUE(policy.Compressible("image/svg+xml"));
  EXPECT_FALSE(policy.Compressible("image/png"));
  EXPECT_FALSE(policy.Compressible("application/octet-stream"));
  EXPECT_FALSE(policy.Compressible(""));
  EXPECT_FALSE(policy.Compressible("textual/x"));
}

TEST(CompressionTest, EachCodingRoundTripsWholeAndStreamed) {
  std::string json;
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&json, "{\"id\":", i, ",\"name\":\"item\"},");
  CompressionPolicy policy;
  for (Coding coding : {Coding::kGzip, Coding::kBrotli, Coding::kZstd}) {
    auto whole = Compressor::Create(coding, policy);
    std::string out;
    ASSERT_TRUE(whole->Compress(json, Compressor::kFinish, out)) << CodingName(coding);
    EXPECT_LT(out.size(), json.size() / 5) << CodingName(coding);
    EXPECT_EQ(Decode(coding, out), json) << CodingName(coding);
    // Streamed: each flushed piece leaves at once, and the whole decodes.
    auto streamed = Compressor::Create(coding, policy);
    std::string stream;
    for (size_t at = 0; at < json.size(); at += 1000) {
      size_t before = stream.size();
      ASSERT_TRUE(streamed->Compress(json.substr(at, 1000), Compressor::kFlush, stream));
      EXPECT_GT(stream.size(), before) << CodingName(coding) << " flushed nothing at " << at;
    }
    ASSERT_TRUE(streamed->Compress("", Compressor::kFinish, stream));
    EXPECT_EQ(Decode(coding, stream), json) << CodingName(coding);
    // Empty bodies are fine too.
    auto empty = Compressor::Create(coding, policy);
    std::string nothing;
    ASSERT_TRUE(empty->Compress("", Compressor::kFinish, nothing));
    EXPECT_EQ(Decode(coding, nothing), "") << CodingName(coding);
  }
  EXPECT_EQ(Compressor::Create(Coding::kIdentity, policy), nullptr);
}

}  // namespace
}  // namespace sockman
