#include "protocols/protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace sockman {

const ProtocolTraits& Protocol::traits() const {
  static const ProtocolTraits kDefault;
  return kDefault;
}

ProtocolRegistry& ProtocolRegistry::Global() {
  static ProtocolRegistry* registry = new ProtocolRegistry();
  return *registry;
}

bool ProtocolRegistry::Register(std::unique_ptr<Protocol> protocol) {
  std::vector<std::string> schemes = protocol->aliases();
  schemes.emplace_back(protocol->name());
  const std::string& tls = protocol->traits().tls_scheme;
  if (!tls.empty()) schemes.push_back(tls);
  for (const std::string& scheme : schemes) {
    if (!by_scheme_.emplace(scheme, protocol.get()).second) {
      std::fprintf(stderr, "sockman: protocol scheme '%s' registered twice\n", scheme.c_str());
      std::abort();
    }
  }
  if (!tls.empty()) by_tls_scheme_.emplace(tls, protocol.get());
  protocols_.push_back(std::move(protocol));
  return true;
}

const Protocol* ProtocolRegistry::Find(absl::string_view scheme) const {
  auto it = by_scheme_.find(scheme);
  return it == by_scheme_.end() ? nullptr : it->second;
}

bool ProtocolRegistry::IsTlsScheme(absl::string_view scheme) const {
  return by_tls_scheme_.contains(scheme);
}

std::vector<std::string> ProtocolRegistry::Schemes() const {
  // Error messages list schemes in this order (config/testdata goldens).
  static constexpr absl::string_view kBuiltinOrder[] = {"tcp",  "text",      "frame", "framing",
                                                        "http", "websocket", "udp"};
  auto rank = [](const Protocol* p) {
    for (size_t i = 0; i < std::size(kBuiltinOrder); ++i) {
      if (p->name() == kBuiltinOrder[i]) return i;
    }
    return std::size(kBuiltinOrder);
  };
  std::vector<const Protocol*> ordered = Protocols();
  std::stable_sort(ordered.begin(), ordered.end(), [&](const Protocol* a, const Protocol* b) {
    size_t ra = rank(a), rb = rank(b);
    return ra != rb ? ra < rb : a->name() < b->name();
  });
  std::vector<std::string> names;
  for (const Protocol* p : ordered) {
    if (p->traits().stream) names.emplace_back(p->name());
  }
  for (const Protocol* p : ordered) {
    for (std::string& alias : p->aliases()) names.push_back(std::move(alias));
  }
  for (const Protocol* p : ordered) {
    if (!p->traits().tls_scheme.empty()) names.push_back(p->traits().tls_scheme);
  }
  for (const Protocol* p : ordered) {
    if (!p->traits().stream) names.emplace_back(p->name());
  }
  return names;
}

std::vector<const Protocol*> ProtocolRegistry::Protocols() const {
  std::vector<const Protocol*> all;
  for (const auto& p : protocols_) all.push_back(p.get());
  return all;
}

}  // namespace sockman
