#include "protocols/http/real_ip_config.h"

#include <string>
#include <vector>

namespace sockman {
namespace {

std::vector<std::string> Entries(const RealIp& real_ip) {
  return std::vector<std::string>(real_ip.trusted().begin(), real_ip.trusted().end());
}

}  // namespace

std::optional<FieldError> CheckRealIp(const Service& service) {
  if (!service.has_real_ip()) return std::nullopt;
  const RealIp& real_ip = service.real_ip();
  if (real_ip.trusted().empty()) {
    return FieldError{"real_ip.trusted", "name the proxies' addresses or networks (at least one)"};
  }
  absl::StatusOr<NetworkList> trusted = NetworkList::Parse(Entries(real_ip));
  if (!trusted.ok()) return FieldError{"real_ip.trusted", std::string(trusted.status().message())};
  RealIpOptions::Header header;
  if (real_ip.has_header() && !RealIpOptions::ParseHeader(real_ip.header(), header)) {
    return FieldError{"real_ip.header", "must be X-Forwarded-For, X-Real-IP or Forwarded"};
  }
  return std::nullopt;
}

std::shared_ptr<const RealIpOptions> RealIpFromConfig(const Service& service) {
  if (!service.has_real_ip()) return nullptr;
  const RealIp& real_ip = service.real_ip();
  auto options = std::make_shared<RealIpOptions>();
  absl::StatusOr<NetworkList> trusted = NetworkList::Parse(Entries(real_ip));
  options->trusted = std::make_shared<const NetworkList>(trusted.ok() ? *trusted : NetworkList());
  if (real_ip.has_header()) RealIpOptions::ParseHeader(real_ip.header(), options->header);
  return options;
}

}  // namespace sockman
