// The `real_ip { trusted header }` block of http:// and websocket://
// services, for their bindings: checked, and turned into RealIpOptions.
#ifndef SOCKMAN_PROTOCOLS_HTTP_REAL_IP_CONFIG_H_
#define SOCKMAN_PROTOCOLS_HTTP_REAL_IP_CONFIG_H_

#include <memory>
#include <optional>

#include "config/sockman.pb.h"
#include "config/validate.h"
#include "protocols/http/real_ip.h"

namespace sockman {

// At least one trusted entry, each an address or network; a known header.
std::optional<FieldError> CheckRealIp(const Service& service);

// Null without a real_ip block. The service must have passed CheckRealIp.
std::shared_ptr<const RealIpOptions> RealIpFromConfig(const Service& service);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_REAL_IP_CONFIG_H_
