#include "examples/extending/protocols.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "examples/extending/example_modules.pb.h"
#include "examples/extending/json_check.h"
#include "protocols/binding.h"

namespace example {

using sockman::DecodeResult;
using sockman::ProtocolError;

JsonNlCodec::JsonNlCodec(const sockman::CodecOptions& options) : max_(options.max_package_size) {
  if (const auto* settings = sockman::OptionsAs<JsonNlSettings>(options.options)) {
    objects_only_ = settings->objects_only;
  }
}

DecodeResult JsonNlCodec::Decode(absl::string_view input) {
  size_t newline = input.find('\n', scanned_);
  if (newline == absl::string_view::npos) {
    scanned_ = input.size();
    if (input.size() >= max_) return DecodeResult::Error(ProtocolError::kTooLarge, "line too long");
    return DecodeResult::NeedMore();
  }
  scanned_ = 0;
  if (newline + 1 > max_) return DecodeResult::Error(ProtocolError::kTooLarge, "line too long");
  absl::string_view line = input.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!IsValidJson(line)) return DecodeResult::Error(ProtocolError::kMalformed, "not JSON");
  if (objects_only_ && absl::StripLeadingAsciiWhitespace(line).front() != '{') {
    return DecodeResult::Error(ProtocolError::kMalformed, "not a JSON object");
  }
  return DecodeResult::Message(newline + 1, line);
}

void JsonNlCodec::Encode(absl::string_view message, sockman::MessageKind, std::string& out) {
  out.append(message.data(), message.size());
  out.push_back('\n');
}

DecodeResult XmlCodec::Decode(absl::string_view input) {
  if (input.size() < kHeader) return DecodeResult::NeedMore();
  uint64_t total = 0;
  for (size_t i = 0; i < kHeader; ++i) {
    if (!absl::ascii_isdigit(input[i])) {
      return DecodeResult::Error(ProtocolError::kMalformed, "length is not 10 digits");
    }
    total = total * 10 + (input[i] - '0');
  }
  if (total < kHeader + 2)
    return DecodeResult::Error(ProtocolError::kMalformed, "length too small");
  if (total > max_) return DecodeResult::Error(ProtocolError::kTooLarge, "package too large");
  if (input.size() < total) return DecodeResult::NeedMore();
  absl::string_view body = input.substr(kHeader, total - kHeader);
  absl::string_view trimmed = absl::StripAsciiWhitespace(body);
  if (trimmed.size() < 2 || trimmed.front() != '<' || trimmed.back() != '>') {
    return DecodeResult::Error(ProtocolError::kMalformed, "body is not XML");
  }
  return DecodeResult::Message(total, body);
}

void XmlCodec::Encode(absl::string_view message, sockman::MessageKind, std::string& out) {
  out += absl::StrFormat("%010u", kHeader + message.size());
  out.append(message.data(), message.size());
}

DecodeResult JsonIntCodec::Decode(absl::string_view input) {
  if (input.size() < kHeader) return DecodeResult::NeedMore();
  uint64_t total = 0;
  for (size_t i = 0; i < kHeader; ++i) total = (total << 8) | static_cast<uint8_t>(input[i]);
  if (total < kHeader) return DecodeResult::Error(ProtocolError::kMalformed, "length too small");
  if (total > max_) return DecodeResult::Error(ProtocolError::kTooLarge, "package too large");
  if (input.size() < total) return DecodeResult::NeedMore();
  absl::string_view body = input.substr(kHeader, total - kHeader);
  if (!IsValidJson(body)) return DecodeResult::Error(ProtocolError::kMalformed, "not JSON");
  return DecodeResult::Message(total, body);
}

void JsonIntCodec::Encode(absl::string_view message, sockman::MessageKind, std::string& out) {
  uint32_t total = static_cast<uint32_t>(kHeader + message.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(total >> shift));
  out.append(message.data(), message.size());
}

namespace {

template <typename CodecType>
class Simple : public sockman::Protocol {
 public:
  explicit Simple(const char* name) : name_(name) {}
  absl::string_view name() const override { return name_; }
  std::unique_ptr<sockman::Codec> NewCodec(const sockman::CodecOptions& options) const override {
    return std::make_unique<CodecType>(options);
  }

 private:
  const char* name_;
};

class JsonNlProtocol : public Simple<JsonNlCodec> {
 public:
  JsonNlProtocol() : Simple("jsonnl") {}
  // Also over UDP (one line per datagram), and named in TLS ALPN.
  const sockman::ProtocolTraits& traits() const override {
    static const sockman::ProtocolTraits kTraits{.datagrams = true, .alpn = {"jsonnl"}};
    return kTraits;
  }
};

// The translator from jsonnl's config to its codec: checks and reads
// `protocol_options`, an example.JsonNlOptions.
class JsonNlBinding : public sockman::ProtocolBinding {
 public:
  absl::string_view protocol() const override { return "jsonnl"; }
  std::vector<std::string> names() const override { return {sockman::kProtocolOptionsField}; }
  std::optional<sockman::FieldError> Check(const sockman::Service& service) const override {
    JsonNlOptions options;
    return sockman::UnpackProtocolOptions(service, options);
  }
  std::unique_ptr<const sockman::ProtocolOptions> Options(
      const sockman::Service& service) const override {
    JsonNlOptions options;
    sockman::UnpackProtocolOptions(service, options);  // checked above
    auto settings = std::make_unique<JsonNlSettings>();
    settings->objects_only = options.objects_only();
    return settings;
  }
};
class XmlProtocol : public Simple<XmlCodec> {
 public:
  XmlProtocol() : Simple("xml") {}
};
class JsonIntProtocol : public Simple<JsonIntCodec> {
 public:
  JsonIntProtocol() : Simple("jsonint") {}
};

SOCKMAN_REGISTER_PROTOCOL(JsonNlProtocol);
SOCKMAN_REGISTER_BINDING(JsonNlBinding);
SOCKMAN_REGISTER_PROTOCOL(XmlProtocol);
SOCKMAN_REGISTER_PROTOCOL(JsonIntProtocol);

}  // namespace
}  // namespace example
