// SocketAddress is an IPv4 or IPv6 address with a port, parsed from numeric
// text and printed the usual way: "127.0.0.1:80", "[::1]:80".
//
//   SOCKMAN_ASSIGN_OR_RETURN(SocketAddress a, SocketAddress::Parse("::1", 8080));
//   connect(fd, a.sockaddr_ptr(), a.length());
#ifndef SOCKMAN_ENGINE_SOCKET_ADDRESS_H_
#define SOCKMAN_ENGINE_SOCKET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sockman {

class SocketAddress {
 public:
  SocketAddress() = default;

  // `host` is a numeric IPv4 or IPv6 address, without brackets.
  // Errors: InvalidArgument naming the host.
  static absl::StatusOr<SocketAddress> Parse(absl::string_view host, uint16_t port);
  static SocketAddress FromSockaddr(const sockaddr* addr, socklen_t length);

  // The address a socket is bound to (getsockname) or connected to (getpeername).
  static absl::StatusOr<SocketAddress> LocalOf(int fd);

  int family() const { return storage_.ss_family; }
  bool is_ipv6() const { return family() == AF_INET6; }
  uint16_t port() const;
  // The same address with another port.
  SocketAddress WithPort(uint16_t port) const;
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }

  std::string Host() const;      // "127.0.0.1", "::1"
  std::string ToString() const;  // "127.0.0.1:80", "[::1]:80"

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// A URL's authority, split: "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT"
// (brackets dropped). Without a port, `default_port`; a default of 0 makes
// the port required (its absence is kBadPort). Callers word the errors.
enum class AuthorityError { kNone, kBadPort, kNoHost };
AuthorityError SplitAuthority(absl::string_view authority, uint16_t default_port, std::string* host,
                              uint16_t* port);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_SOCKET_ADDRESS_H_
