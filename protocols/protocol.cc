#include "protocols/protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

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
  for (const std::string& scheme : schemes) {
    if (!by_scheme_.emplace(scheme, protocol.get()).second) {
      std::fprintf(stderr, "sockman: protocol scheme '%s' registered twice\n", scheme.c_str());
      std::abort();
    }
  }
  protocols_.push_back(std::move(protocol));
  return true;
}

const Protocol* ProtocolRegistry::Find(absl::string_view scheme) const {
  auto it = by_scheme_.find(scheme);
  return it == by_scheme_.end() ? nullptr : it->second;
}

std::vector<std::string> ProtocolRegistry::Schemes() const {
  std::vector<std::string> names;
  for (const auto& [scheme, protocol] : by_scheme_) names.push_back(scheme);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace sockman
