// The binding of http:// (and https://): `http { max_header_size
// header_timeout_ms strict_line_endings }`, `access_log` and `real_ip` in,
// HttpOptions out.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/binding.h"
#include "protocols/http/http_codec.h"
#include "protocols/http/real_ip_config.h"

namespace sockman {
namespace {

class HttpBinding : public ProtocolBinding {
 public:
  absl::string_view protocol() const override { return "http"; }
  std::vector<std::string> names() const override { return {"http", "access_log", "real_ip"}; }

  std::optional<FieldError> Check(const Service& service) const override {
    const Http& http = service.http();
    if (http.has_max_header_size() &&
        (http.max_header_size() < 256 || http.max_header_size() > 1024 * 1024)) {
      return FieldError{"http.max_header_size", "must be between 256 and 1048576"};
    }
    if (http.has_header_timeout_ms() && http.header_timeout_ms() > 3'600'000) {
      return FieldError{"http.header_timeout_ms", "must be at most 3600000"};
    }
    if (service.has_access_log() && service.access_log().empty()) {
      return FieldError{"access_log", "must be a file path"};
    }
    return CheckRealIp(service);
  }

  void FillDefaults(Service& service) const override {
    static const HttpOptions kDefaults;
    Http* http = service.mutable_http();
    if (!http->has_max_header_size()) {
      http->set_max_header_size(static_cast<uint32_t>(kDefaults.max_header_size));
    }
    if (!http->has_header_timeout_ms()) {
      http->set_header_timeout_ms(static_cast<uint32_t>(kDefaults.header_timeout_ms));
    }
  }

  std::unique_ptr<const ProtocolOptions> Options(const Service& service) const override {
    auto options = std::make_unique<HttpOptions>();
    options->max_header_size = service.http().max_header_size();
    options->header_timeout_ms = service.http().header_timeout_ms();
    options->strict_line_endings = service.http().strict_line_endings();
    options->real_ip = RealIpFromConfig(service);
    return options;
  }
};

SOCKMAN_REGISTER_BINDING(HttpBinding);

}  // namespace
}  // namespace sockman
