#include "protocols/websocket/permessage_deflate.h"

#include <zlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string Bytes(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// --- Negotiation (RFC 7692 5, 7.1) ---

TEST(NegotiateDeflateTest, PlainOfferAcceptedWithoutParameters) {
  std::string response;
  auto params = NegotiateDeflate("permessage-deflate", response);
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(response, "permessage-deflate");
  EXPECT_FALSE(params->server_no_context_takeover);
  EXPECT_FALSE(params->client_no_context_takeover);
  EXPECT_EQ(params->server_max_window_bits, 15);
}

TEST(NegotiateDeflateTest, ChromiumOffer) {
  std::string response;
  auto params = NegotiateDeflate("permessage-deflate; client_max_window_bits", response);
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(response, "permessage-deflate");
}

TEST(NegotiateDeflateTest, EchoesContextTakeoverAndServerWindow) {
  std::string response;
  auto params = NegotiateDeflate(
      "permessage-deflate;server_no_context_takeover; client_no_context_takeover ;"
      " server_max_window_bits=10; client_max_window_bits=\"12\"",
      response);
  ASSERT_TRUE(params.has_value());
  EXPECT_TRUE(params->server_no_context_takeover);
  EXPECT_TRUE(params->client_no_context_takeover);
  EXPECT_EQ(params->server_max_window_bits, 10);
  EXPECT_EQ(response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10");
}

TEST(NegotiateDeflateTest, DeclinesBadOffersAndTakesTheFirstGoodOne) {
  const char* bad[] = {
      "permessage-deflate; server_max_window_bits",    // value required
      "permessage-deflate; server_max_window_bits=7",  // out of range
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",  // leading zero
      "permessage-deflate; client_max_window_bits=foo",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_max_window_bits; client_max_window_bits",
      "permessage-deflate; unknown_parameter",
      "permessage-deflate;",
      "x-webkit-deflate-frame",
      "",
  };
  for (const char* offer : bad) {
    std::string response;
    EXPECT_FALSE(NegotiateDeflate(offer, response).has_value()) << offer;
  }
  std::string response;
  auto params = NegotiateDeflate(
      "foo, permessage-deflate; server_max_window_bits=99, permessage-deflate; "
      "server_max_window_bits=9",
      response);
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(params->server_max_window_bits, 9);
  EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=9");
}

// --- Inflating (RFC 7692 7.2.3 examples) ---

TEST(MessageInflaterTest, Rfc7692Examples) {
  MessageInflater inflater(/*no_context_takeover=*/false);
  std::string out;
  // 7.2.3.1: "Hello" in one compressed frame.
  ASSERT_EQ(inflater.Inflate(Bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), true, 100, out),
            MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello");
  // 7.2.3.2: the same message again, referring back into the shared window.
  out.clear();
  ASSERT_EQ(inflater.Inflate(Bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), true, 100, out),
            MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello");
  // 7.2.3.1, fragmented: split over two frames.
  out.clear();
  MessageInflater fresh(false);
  ASSERT_EQ(fresh.Inflate(Bytes({0xf2, 0x48, 0xcd}), false, 100, out),
            MessageInflater::Result::kOk);
  ASSERT_EQ(fresh.Inflate(Bytes({0xc9, 0xc9, 0x07, 0x00}), true, 100, out),
            MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello");
  // 7.2.3.3: a stored (uncompressed) block.
  out.clear();
  MessageInflater stored(false);
  ASSERT_EQ(
      stored.Inflate(Bytes({0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}),
                     true, 100, out),
      MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello");
  // 7.2.3.4: a block with BFINAL set; the next message still inflates.
  out.clear();
  MessageInflater final_block(false);
  ASSERT_EQ(
      final_block.Inflate(Bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}), true, 100, out),
      MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello");
  out.clear();
  ASSERT_EQ(final_block.Inflate(Bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), true, 100, out),
            MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello");
}

TEST(MessageInflaterTest, CorruptDataIsReported) {
  MessageInflater inflater(false);
  std::string out;
  // BTYPE=11 is reserved.
  EXPECT_EQ(inflater.Inflate(Bytes({0xff, 0xff, 0xff}), true, 100, out),
            MessageInflater::Result::kCorrupt);
}

TEST(MessageInflaterTest, DeflateBombStopsAtTheLimit) {
  // 64 MiB of zeros compresses over 200 times; the limit is 1 MiB.
  std::string zeros(64 << 20, '\0');
  MessageDeflater deflater(15, false);
  std::string bomb;
  ASSERT_TRUE(deflater.Deflate(zeros, bomb));
  ASSERT_LT(bomb.size(), zeros.size() / 200);
  MessageInflater inflater(false);
  std::string out;
  EXPECT_EQ(inflater.Inflate(bomb, true, 1 << 20, out), MessageInflater::Result::kTooLarge);
  EXPECT_LE(out.size(), (1u << 20) + 1);
  // Exactly at the limit is fine.
  MessageInflater exact(false);
  out.clear();
  std::string small;
  MessageDeflater d2(15, false);
  ASSERT_TRUE(d2.Deflate(std::string(1000, 'a'), small));
  EXPECT_EQ(exact.Inflate(small, true, 1000, out), MessageInflater::Result::kOk);
  EXPECT_EQ(out.size(), 1000u);
  MessageInflater over(false);
  out.clear();
  EXPECT_EQ(over.Inflate(small, true, 999, out), MessageInflater::Result::kTooLarge);
}

// --- Round trips ---

std::string Sample(int i) {
  std::string s;
  for (int j = 0; j < 50 + i * 37; ++j) absl::StrAppend(&s, "{\"id\":", j % 17, ",\"n\":", i, "}");
  return s;
}

void RoundTrip(int window_bits, bool server_nct, bool client_nct) {
  MessageDeflater deflater(window_bits, server_nct);
  MessageInflater inflater(client_nct);
  size_t total_in = 0, total_out = 0;
  for (int i = 0; i < 20; ++i) {
    std::string message = Sample(i % 5);
    std::string compressed;
    ASSERT_TRUE(deflater.Deflate(message, compressed));
    // Split the compressed payload at every third byte, as fragments would.
    std::string out;
    for (size_t at = 0; at < compressed.size(); at += 3) {
      bool last = at + 3 >= compressed.size();
      ASSERT_EQ(inflater.Inflate(absl::string_view(compressed).substr(at, 3), last, 1 << 20, out),
                MessageInflater::Result::kOk);
    }
    if (compressed.empty()) {
      ASSERT_EQ(inflater.Inflate("", true, 1 << 20, out), MessageInflater::Result::kOk);
    }
    ASSERT_EQ(out, message) << "message " << i << " bits " << window_bits;
    total_in += message.size();
    total_out += compressed.size();
  }
  // Repetitive JSON compresses well (Huffman-only, for 8 bits, less so).
  EXPECT_LT(total_out * (window_bits > 8 ? 3 : 1), total_in);
}

TEST(MessageDeflaterTest, RoundTripsWithEveryNegotiatedShape) {
  for (int bits = 8; bits <= 15; ++bits) {
    RoundTrip(bits, false, false);
    RoundTrip(bits, true, true);
  }
}

TEST(MessageDeflaterTest, NoContextTakeoverMessagesInflateAlone) {
  MessageDeflater deflater(15, /*no_context_takeover=*/true);
  std::string first, second;
  ASSERT_TRUE(deflater.Deflate("Hello Hello Hello Hello", first));
  ASSERT_TRUE(deflater.Deflate("Hello Hello Hello Hello", second));
  EXPECT_EQ(first, second);
  MessageInflater alone(true);
  std::string out;
  ASSERT_EQ(alone.Inflate(second, true, 100, out), MessageInflater::Result::kOk);
  EXPECT_EQ(out, "Hello Hello Hello Hello");
}

TEST(MessageDeflaterTest, EightBitWindowUsesNoBackReferences) {
  // A peer that asked for server_max_window_bits=8 inflates with a 256-byte
  // window: check with zlib itself at -8... which zlib only accepts for
  // inflate, exactly the peer's situation.
  MessageDeflater deflater(8, false);
  std::string message = Sample(3);
  std::string compressed;
  ASSERT_TRUE(deflater.Deflate(message, compressed));
  compressed += std::string("\0\0\xff\xff", 4);
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, -8), Z_OK);
  std::string out(message.size() + 16, '\0');
  z.next_in = reinterpret_cast<unsigned char*>(compressed.data());
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = reinterpret_cast<unsigned char*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_SYNC_FLUSH);
  EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc;
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  EXPECT_EQ(out, message);
}

}  // namespace
}  // namespace sockman
