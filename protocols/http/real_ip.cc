#include "protocols/http/real_ip.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "protocols/http/syntax.h"

namespace sockman {

absl::string_view RealIpOptions::header_name() const {
  switch (header) {
    case kXRealIp:
      return "X-Real-IP";
    case kForwarded:
      return "Forwarded";
    case kXForwardedFor:
      break;
  }
  return "X-Forwarded-For";
}

bool RealIpOptions::ParseHeader(absl::string_view name, Header& header) {
  if (absl::EqualsIgnoreCase(name, "X-Forwarded-For")) {
    header = kXForwardedFor;
  } else if (absl::EqualsIgnoreCase(name, "X-Real-IP")) {
    header = kXRealIp;
  } else if (absl::EqualsIgnoreCase(name, "Forwarded")) {
    header = kForwarded;
  } else {
    return false;
  }
  return true;
}

std::optional<std::vector<std::string>> ForwardedForNodes(absl::string_view value) {
  // forwarded-element = [ pair ] *( ";" [ pair ] ), elements separated by
  // commas (with optional whitespace); pair = token "=" value; value =
  // token / quoted-string.
  std::vector<std::string> nodes;
  size_t i = 0;
  auto skip_ows = [&] {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < value.size() && IsHttpToken(value.substr(i, 1))) ++i;
    return value.substr(start, i - start);
  };
  std::string node;
  bool have_for = false;
  for (;;) {
    skip_ows();
    if (i < value.size() && value[i] != ',' && value[i] != ';') {
      absl::string_view name = token();
      if (name.empty() || i >= value.size() || value[i] != '=') return std::nullopt;
      ++i;
      std::string text;
      if (i < value.size() && value[i] == '"') {
        ++i;
        bool closed = false;
        while (i < value.size()) {
          char c = value[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= value.size()) return std::nullopt;
            c = value[i++];
          }
          text.push_back(c);
        }
        if (!closed) return std::nullopt;
      } else {
        absl::string_view bare = token();
        if (bare.empty()) return std::nullopt;
        text = std::string(bare);
      }
      if (absl::EqualsIgnoreCase(name, "for")) {
        if (have_for) return std::nullopt;  // one for= per element
        have_for = true;
        node = std::move(text);
      }
      skip_ows();
    }
    if (i >= value.size()) break;
    if (value[i] == ';') {
      ++i;
      continue;
    }
    if (value[i] != ',') return std::nullopt;
    ++i;
    nodes.push_back(have_for ? node : "");
    node.clear();
    have_for = false;
  }
  nodes.push_back(have_for ? node : "");
  return nodes;
}

std::optional<SocketAddress> RealClientAddress(const RealIpOptions& options,
                                               absl::Span<const absl::string_view> values) {
  if (values.empty() || options.trusted == nullptr) return std::nullopt;
  std::vector<std::string> hops;  // left to right
  if (options.header == RealIpOptions::kXRealIp) {
    if (values.size() != 1) return std::nullopt;  // which one would be true?
    hops.emplace_back(TrimOws(values[0]));
  } else {
    for (absl::string_view value : values) {
      if (options.header == RealIpOptions::kForwarded) {
        std::optional<std::vector<std::string>> nodes = ForwardedForNodes(value);
        if (!nodes.has_value()) return std::nullopt;  // a field we cannot read: believe none
        for (std::string& node : *nodes) hops.push_back(std::move(node));
      } else {
        for (absl::string_view hop : absl::StrSplit(value, ',')) {
          hops.emplace_back(TrimOws(hop));
        }
      }
    }
  }
  std::optional<SocketAddress> client;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    absl::StatusOr<SocketAddress> hop = ParseForwardedAddress(*it);
    if (!hop.ok()) break;  // garbage: the hop right of it is as far as we can trust
    client = *hop;
    if (!options.trusted->Contains(*hop)) break;
  }
  return client;
}

}  // namespace sockman
