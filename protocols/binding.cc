#include "protocols/binding.h"

#include <cstdio>
#include <cstdlib>

namespace sockman {
namespace {

class RegistryCatalog : public SchemeCatalog {
 public:
  RegistryCatalog() {
    const ProtocolRegistry& protocols = ProtocolRegistry::Global();
    schemes_ = protocols.Schemes();
    for (const std::string& scheme : schemes_) {
      const Protocol* protocol = protocols.Find(scheme);
      const ProtocolTraits& traits = protocol->traits();
      SchemeInfo info;
      info.protocol = std::string(protocol->name());
      info.tls = protocols.IsTlsScheme(scheme);
      info.stream = traits.stream;
      info.datagrams = traits.datagrams;
      info.pings = !traits.request_response;
      info.fields = BindingRegistry::Global().Find(protocol->name());
      by_scheme_.emplace(scheme, std::move(info));
    }
  }
  const SchemeInfo* Find(absl::string_view scheme) const override {
    auto it = by_scheme_.find(scheme);
    return it == by_scheme_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> Schemes() const override { return schemes_; }

 private:
  std::vector<std::string> schemes_;
  absl::flat_hash_map<std::string, SchemeInfo> by_scheme_;
};

}  // namespace

BindingRegistry& BindingRegistry::Global() {
  static BindingRegistry* registry = new BindingRegistry();
  return *registry;
}

bool BindingRegistry::Register(std::unique_ptr<ProtocolBinding> binding) {
  std::string protocol(binding->protocol());
  if (!by_protocol_.emplace(protocol, std::move(binding)).second) {
    std::fprintf(stderr, "sockman: protocol '%s' has two bindings\n", protocol.c_str());
    std::abort();
  }
  return true;
}

const ProtocolBinding* BindingRegistry::Find(absl::string_view protocol) const {
  auto it = by_protocol_.find(protocol);
  return it == by_protocol_.end() ? nullptr : it->second.get();
}

const SchemeCatalog& RegisteredSchemes() {
  static const RegistryCatalog* catalog = new RegistryCatalog();
  return *catalog;
}

}  // namespace sockman
