#include "protocols/websocket/permessage_deflate.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sockman {
namespace {

// zlib counts in uInt: feed huge inputs in slices.
constexpr size_t kMaxSlice = size_t{1} << 30;
constexpr size_t kInflateChunk = 16 * 1024;

absl::string_view Trim(absl::string_view s) { return absl::StripAsciiWhitespace(s); }

// "8".."15" exactly (no sign, no leading zeros), else 0.
int WindowBits(absl::string_view value) {
  for (int bits = 8; bits <= 15; ++bits) {
    if (value == absl::StrCat(bits)) return bits;
  }
  return 0;
}

// One offer: "permessage-deflate; a; b=1" -> params, or nullopt to decline.
std::optional<DeflateParams> ParseOffer(absl::string_view offer, std::string& response) {
  std::vector<absl::string_view> parts = absl::StrSplit(offer, ';');
  if (!absl::EqualsIgnoreCase(Trim(parts[0]), "permessage-deflate")) return std::nullopt;
  DeflateParams params;
  bool seen_server_nct = false, seen_client_nct = false;
  bool seen_server_bits = false, seen_client_bits = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view name = parts[i], value;
    bool has_value = false;
    if (size_t eq = parts[i].find('='); eq != absl::string_view::npos) {
      name = parts[i].substr(0, eq);
      value = Trim(parts[i].substr(eq + 1));
      has_value = true;
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);  // a quoted-string token (RFC 6455 9.1)
      }
    }
    name = Trim(name);
    if (name == "server_no_context_takeover") {
      if (has_value || seen_server_nct) return std::nullopt;
      seen_server_nct = params.server_no_context_takeover = true;
    } else if (name == "client_no_context_takeover") {
      if (has_value || seen_client_nct) return std::nullopt;
      seen_client_nct = params.client_no_context_takeover = true;
    } else if (name == "server_max_window_bits") {
      if (!has_value || seen_server_bits) return std::nullopt;
      params.server_max_window_bits = WindowBits(value);
      if (params.server_max_window_bits == 0) return std::nullopt;
      seen_server_bits = true;
    } else if (name == "client_max_window_bits") {
      // Any window the client picks fits our 15-bit inflater: accepted, not echoed.
      if (seen_client_bits || (has_value && WindowBits(value) == 0)) return std::nullopt;
      seen_client_bits = true;
    } else {
      return std::nullopt;
    }
  }
  response = "permessage-deflate";
  if (params.server_no_context_takeover) response += "; server_no_context_takeover";
  if (params.client_no_context_takeover) response += "; client_no_context_takeover";
  if (seen_server_bits) {
    absl::StrAppend(&response, "; server_max_window_bits=", params.server_max_window_bits);
  }
  return params;
}

}  // namespace

std::optional<DeflateParams> NegotiateDeflate(absl::string_view offers, std::string& response) {
  for (absl::string_view offer : absl::StrSplit(offers, ',')) {
    if (auto params = ParseOffer(offer, response)) return params;
  }
  return std::nullopt;
}

struct MessageInflater::State {
  z_stream z{};
  ~State() { inflateEnd(&z); }
};

MessageInflater::MessageInflater(bool no_context_takeover)
    : no_context_takeover_(no_context_takeover) {}

MessageInflater::~MessageInflater() = default;

MessageInflater::Result MessageInflater::Inflate(absl::string_view in, bool last, size_t limit,
                                                 std::string& out) {
  if (!state_) {
    state_ = std::make_unique<State>();
    if (inflateInit2(&state_->z, -15) != Z_OK) {
      state_.reset();
      return Result::kCorrupt;
    }
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
  Result result = Run(bytes, in.size(), limit, out);
  if (result == Result::kOk && last) {
    static const unsigned char kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
    result = Run(kTail, sizeof(kTail), limit, out);
  }
  if (result != Result::kOk) {
    state_.reset();  // the connection is failing; nothing inflates after this
  } else if (last) {
    EndMessage();
  }
  return result;
}

MessageInflater::Result MessageInflater::Run(const unsigned char* in, size_t size, size_t limit,
                                             std::string& out) {
  z_stream& z = state_->z;
  while (size > 0) {
    size_t slice = std::min(size, kMaxSlice);
    z.next_in = const_cast<unsigned char*>(in);
    z.avail_in = static_cast<uInt>(slice);
    for (;;) {
      // Room for one byte past the limit, to see that it was crossed.
      size_t room = std::min(kInflateChunk, limit + 1 - std::min(limit, out.size()));
      size_t old = out.size();
      out.resize(old + room);
      z.next_out = reinterpret_cast<unsigned char*>(out.data() + old);
      z.avail_out = static_cast<uInt>(room);
      int rc = inflate(&z, Z_SYNC_FLUSH);
      out.resize(old + room - z.avail_out);
      if (out.size() > limit) return Result::kTooLarge;
      if (rc == Z_STREAM_END) {
        // The sender ended the DEFLATE stream (a BFINAL block): start a new
        // one, keeping the window unless context takeover is off.
        unsigned char window[1 << 15];
        uInt window_size = 0;
        if (!no_context_takeover_) inflateGetDictionary(&z, window, &window_size);
        inflateReset(&z);
        if (window_size > 0) inflateSetDictionary(&z, window, window_size);
        if (z.avail_in == 0) break;
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) return Result::kCorrupt;
      if (z.avail_out != 0) {
        if (z.avail_in == 0) break;
        if (rc == Z_BUF_ERROR) return Result::kCorrupt;  // no progress with input and room
      }
    }
    in += slice;
    size -= slice;
  }
  return Result::kOk;
}

void MessageInflater::EndMessage() {
  if (no_context_takeover_) inflateReset(&state_->z);
}

struct MessageDeflater::State {
  z_stream z{};
  ~State() { deflateEnd(&z); }
};

MessageDeflater::MessageDeflater(int window_bits, bool no_context_takeover)
    : window_bits_(window_bits), no_context_takeover_(no_context_takeover) {}

MessageDeflater::~MessageDeflater() = default;

bool MessageDeflater::Deflate(absl::string_view in, std::string& out) {
  if (!state_) {
    state_ = std::make_unique<State>();
    // zlib has no raw 256-byte window: for a peer that asked for 8 bits,
    // Huffman-only blocks (no back-references at all) are valid for any window.
    int bits = std::max(window_bits_, 9);
    int strategy = window_bits_ < 9 ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY;
    if (deflateInit2(&state_->z, 1, Z_DEFLATED, -bits, 8, strategy) != Z_OK) {
      state_.reset();
      return false;
    }
  }
  size_t start = out.size();
  z_stream& z = state_->z;
  const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
  size_t size = in.size();
  do {
    size_t slice = std::min(size, kMaxSlice);
    z.next_in = const_cast<unsigned char*>(bytes);
    z.avail_in = static_cast<uInt>(slice);
    bool flush = slice == size;
    for (;;) {
      size_t room = deflateBound(&z, z.avail_in) + 16;
      size_t old = out.size();
      out.resize(old + room);
      z.next_out = reinterpret_cast<unsigned char*>(out.data() + old);
      z.avail_out = static_cast<uInt>(room);
      deflate(&z, flush ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      out.resize(old + room - z.avail_out);
      if (z.avail_out != 0 && z.avail_in == 0) break;
    }
    bytes += slice;
    size -= slice;
  } while (size > 0);
  // A sync flush ends with an empty stored block, 00 00 FF FF: the receiver adds it back.
  if (out.size() - start >= 4 && absl::EndsWith(out, absl::string_view("\0\0\xFF\xFF", 4))) {
    out.resize(out.size() - 4);
  }
  if (no_context_takeover_) deflateReset(&z);
  return true;
}

}  // namespace sockman
