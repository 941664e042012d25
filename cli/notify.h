// systemd's readiness protocol (sd_notify), without libsystemd: one datagram
// to the unix socket named by $NOTIFY_SOCKET ("/path" or "@abstract").
#ifndef SOCKMAN_CLI_NOTIFY_H_
#define SOCKMAN_CLI_NOTIFY_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

// Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", ...). A no-op when
// `socket_path` is empty; failures are ignored (systemd may not listen).
void SdNotify(const std::string& socket_path, absl::string_view state);

}  // namespace sockman

#endif  // SOCKMAN_CLI_NOTIFY_H_
