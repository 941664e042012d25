// The binding of framing:// (and of every declared framing's scheme, which
// config resolution turns into framing:// with the declaration in
// `framing`): the Framing message in, FramingSpec out.
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/validate.h"
#include "protocols/binding.h"
#include "protocols/framing/framing.h"

namespace sockman {
namespace {

FramingCheckKind CheckKind(FramingCheck::Algorithm algorithm) {
  switch (algorithm) {
    case FramingCheck::CRC16_CCITT:
      return FramingCheckKind::kCrc16Ccitt;
    case FramingCheck::CRC16_XMODEM:
      return FramingCheckKind::kCrc16Xmodem;
    case FramingCheck::CRC16_MODBUS:
      return FramingCheckKind::kCrc16Modbus;
    case FramingCheck::CRC32:
      return FramingCheckKind::kCrc32;
    case FramingCheck::XOR:
      return FramingCheckKind::kXor;
    case FramingCheck::SUM8:
      return FramingCheckKind::kSum8;
    default:
      return FramingCheckKind::kNone;
  }
}

// The spec of `service`'s framing, finished; or the first problem, its field
// under "framing.".
std::variant<FramingSpec, FieldError> SpecFrom(const Service& service) {
  const Framing& f = service.framing();
  FramingSpec spec;
  auto error = [](absl::string_view field, absl::string_view message) {
    return FieldError{absl::StrCat("framing.", field), std::string(message)};
  };
  switch (f.kind_case()) {
    case Framing::kLengthField: {
      const LengthFieldFraming& l = f.length_field();
      spec.kind = FramingSpec::Kind::kLengthField;
      if (!l.has_size()) return error("length_field.size", "is required (1, 2, 3, 4 or 8)");
      spec.length_offset = l.offset();
      spec.length_size = l.size();
      spec.length_little = l.byte_order() == Framing::LITTLE;
      spec.counts_whole_frame = l.counts() == LengthFieldFraming::WHOLE_FRAME;
      spec.adjustment = l.adjustment();
      break;
    }
    case Framing::kDelimiter: {
      const DelimiterFraming& d = f.delimiter();
      spec.kind = FramingSpec::Kind::kDelimiter;
      spec.delimiters.assign(d.delimiter().begin(), d.delimiter().end());
      spec.keep_delimiter = d.keep();
      spec.opening = d.opening();
      if (d.has_escape()) {
        const FramingEscape& e = d.escape();
        if (e.escape().size() != 1) return error("delimiter.escape.escape", "must be one byte");
        if (e.rule_size() == 0) return error("delimiter.escape.rule", "needs at least one rule");
        spec.escaping = true;
        spec.escape = static_cast<uint8_t>(e.escape()[0]);
        spec.escaped.fill(-1);
        spec.unescaped.fill(-1);
        for (const FramingEscapeRule& rule : e.rule()) {
          if (rule.raw().size() != 1 || rule.code().size() != 1) {
            return error("delimiter.escape.rule", "raw and code must be one byte each");
          }
          auto raw = static_cast<uint8_t>(rule.raw()[0]);
          auto code = static_cast<uint8_t>(rule.code()[0]);
          if (spec.escaped[raw] >= 0 || spec.unescaped[code] >= 0) {
            return error("delimiter.escape.rule", "each raw byte and each code only once");
          }
          spec.escaped[raw] = code;
          spec.unescaped[code] = raw;
        }
      }
      break;
    }
    case Framing::kFixed:
      spec.kind = FramingSpec::Kind::kFixed;
      spec.fixed_size = f.fixed().size();
      break;
    case Framing::KIND_NOT_SET:
      return error("length_field",
                   "a framing needs one of length_field { }, delimiter { } or fixed { }");
  }
  spec.magic = f.magic();
  if (f.has_check()) {
    const FramingCheck& c = f.check();
    spec.check = CheckKind(c.algorithm());
    if (spec.check == FramingCheckKind::kNone) {
      return error("check.algorithm",
                   "is required: CRC16_CCITT, CRC16_XMODEM, CRC16_MODBUS, CRC32, XOR or SUM8");
    }
    spec.check_from = c.from();
    spec.check_little = c.has_byte_order() ? c.byte_order() == Framing::LITTLE
                                           : c.algorithm() == FramingCheck::CRC16_MODBUS;
  }
  if (f.has_strip()) {
    spec.strip = f.strip();
  } else if (spec.kind == FramingSpec::Kind::kLengthField) {
    spec.strip = spec.length_offset + spec.length_size;
  } else {
    spec.strip = static_cast<uint32_t>(spec.magic.size());
  }
  spec.header = f.header();
  uint64_t package = service.limits().has_max_package_size() ? service.limits().max_package_size()
                                                             : kDefaultMaxPackageSize;
  if (f.has_max_frame_length() && f.max_frame_length() > package) {
    return error("max_frame_length",
                 absl::StrCat("must be at most limits.max_package_size (", package, ")"));
  }
  spec.max_frame = f.has_max_frame_length() ? f.max_frame_length() : package;
  spec.datagram = service.transport() == UDP;
  if (std::optional<FramingSpecError> bad = spec.Finish()) return error(bad->field, bad->message);
  return spec;
}

class FramingBinding : public ProtocolBinding {
 public:
  absl::string_view protocol() const override { return "framing"; }
  std::vector<std::string> names() const override { return {"framing"}; }

  std::optional<FieldError> Check(const Service& service) const override {
    if (!service.has_framing()) {
      return FieldError{"framing",
                        "framing:// needs a framing { ... } block (or listen with the name of a "
                        "declared framing as the scheme)"};
    }
    if (service.framing().has_name()) {
      return FieldError{"framing.name", "is for top-level declarations only"};
    }
    auto spec = SpecFrom(service);
    if (auto* bad = std::get_if<FieldError>(&spec)) return *bad;
    return std::nullopt;
  }

  std::unique_ptr<const ProtocolOptions> Options(const Service& service) const override {
    auto spec = SpecFrom(service);
    if (!std::holds_alternative<FramingSpec>(spec)) return nullptr;  // Check refused it
    return std::make_unique<FramingOptions>(std::get<FramingSpec>(std::move(spec)));
  }
};

SOCKMAN_REGISTER_BINDING(FramingBinding);

}  // namespace
}  // namespace sockman
