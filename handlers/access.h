// Who may use an operator's endpoint (push, metrics, dashboard): a client
// with the bearer token, or, when none is configured, a loopback client.
#ifndef SOCKMAN_HANDLERS_ACCESS_H_
#define SOCKMAN_HANDLERS_ACCESS_H_

#include <openssl/mem.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "protocols/connection.h"

namespace sockman {

// 127.0.0.0/8, ::1, and 127/8 mapped into IPv6 (the real client address).
inline bool IsLoopbackClient(const Connection& connection) {
  std::string host = connection.remote_address().Host();
  return absl::StartsWith(host, "127.") || host == "::1" || absl::StartsWith(host, "::ffff:127.");
}

// `given` equals `expected`, compared in constant time (a token's length
// may leak, not its bytes).
inline bool SecretEquals(absl::string_view given, absl::string_view expected) {
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

// An Authorization header carrying "Bearer TOKEN".
inline bool BearerMatches(absl::string_view authorization, absl::string_view token) {
  return absl::ConsumePrefix(&authorization, "Bearer ") && SecretEquals(authorization, token);
}

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_ACCESS_H_
