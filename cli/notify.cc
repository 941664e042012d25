#include "cli/notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "engine/base/unique_fd.h"

namespace sockman {

void SdNotify(const std::string& socket_path, absl::string_view state) {
  if (socket_path.empty()) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) return;
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());
  if (socket_path[0] == '@') {
    address.sun_path[0] = '\0';  // abstract namespace
  } else {
    ++length;  // the terminating NUL of a path
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return;
  ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
           reinterpret_cast<sockaddr*>(&address), length);
}

}  // namespace sockman
