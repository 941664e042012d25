#include "protocols/binding.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

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

std::optional<FieldError> UnpackProtocolOptions(const Service& service,
                                                google::protobuf::Message& options) {
  if (!service.has_protocol_options()) return std::nullopt;
  const google::protobuf::Any& any = service.protocol_options();
  const std::string& wanted = options.GetDescriptor()->full_name();
  absl::string_view url = any.type_url();
  size_t slash = url.rfind('/');
  absl::string_view type = slash == absl::string_view::npos ? url : url.substr(slash + 1);
  if (type != wanted) {
    return FieldError{kProtocolOptionsField,
                      absl::StrCat("expects ", wanted, ", not '", type, "'")};
  }
  if (!options.ParseFromString(any.value())) {
    return FieldError{kProtocolOptionsField, absl::StrCat("is not a valid ", wanted)};
  }
  return std::nullopt;
}

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
