// A protocol's binding: the one translator between its part of the config
// (its options block, e.g. `http { ... }`, and any other Service field that
// is its alone) and its codec's typed options. Codecs know nothing of config;
// config/ knows no protocol; a binding sits beside its codec in its own
// target (//protocols/http:config) and registers itself.
//
//   class LineBinding : public ProtocolBinding {
//     absl::string_view protocol() const override { return "line"; }
//     std::vector<std::string> names() const override { return {"line"}; }
//     std::optional<FieldError> Check(const Service& s) const override { ... }
//     std::unique_ptr<const ProtocolOptions> Options(const Service& s) const override { ... }
//   };
//   SOCKMAN_REGISTER_BINDING(LineBinding);   // in a library with alwayslink
#ifndef SOCKMAN_PROTOCOLS_BINDING_H_
#define SOCKMAN_PROTOCOLS_BINDING_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "config/sockman.pb.h"
#include "config/validate.h"
#include "google/protobuf/message.h"
#include "protocols/protocol.h"

namespace sockman {

class ProtocolBinding : public ProtocolFields {
 public:
  // The protocol bound: its Protocol::name() ("http").
  virtual absl::string_view protocol() const = 0;
  // The codec's options for one of the protocol's services, validated
  // (Check) and defaulted (FillDefaults); null for the codec's defaults.
  virtual std::unique_ptr<const ProtocolOptions> Options(const Service& service) const = 0;
};

// Reads the service's `protocol_options` into `options` (left as it is when
// the field is absent). Errors: another message type, or bytes that do not
// parse as `options`' type.
std::optional<FieldError> UnpackProtocolOptions(const Service& service,
                                                google::protobuf::Message& options);

// Bindings by protocol name. Filled by static registration before main();
// read-only afterwards.
class BindingRegistry {
 public:
  static BindingRegistry& Global();
  // Returns true so it can initialize a static. Dies on a second binding for
  // one protocol.
  bool Register(std::unique_ptr<ProtocolBinding> binding);
  const ProtocolBinding* Find(absl::string_view protocol) const;

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<ProtocolBinding>> by_protocol_;
};

// The registered protocols as config validation sees them: every scheme
// with its protocol's traits and binding. Built on first use, after static
// registration.
const SchemeCatalog& RegisteredSchemes();

#define SOCKMAN_REGISTER_BINDING(type)                                   \
  static const bool sockman_binding_registered_##type [[maybe_unused]] = \
      ::sockman::BindingRegistry::Global().Register(std::make_unique<type>())

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_BINDING_H_
