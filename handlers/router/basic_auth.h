// HTTP Basic authentication (RFC 7617) for routes: credentials checked
// against an htpasswd file of bcrypt or SHA-crypt hashes (libxcrypt).
//
//   SOCKMAN_ASSIGN_OR_RETURN(auto auth, BasicAuthFile::Load(path, "admin"));
//   if (!auth->Allows(request.Header("Authorization"))) answer 401 with
//       auth->challenge();
//
// Hashing is slow on purpose (bcrypt: milliseconds), and runs on the
// worker's loop: a user's good password is remembered (by its SHA-256, for
// a minute, at most 1024 of them) so a client that sends it on every
// request costs one hash per minute, not one per request. Comparisons take
// the same time whatever matches, and an unknown user costs a hash too, so
// timing tells nothing about which users exist.
#ifndef SOCKMAN_HANDLERS_ROUTER_BASIC_AUTH_H_
#define SOCKMAN_HANDLERS_ROUTER_BASIC_AUTH_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sockman {

class BasicAuthFile {
 public:
  // Reads and checks the file: every line "user:hash" with a supported
  // hash (errors name the line), at least one user.
  static absl::StatusOr<std::unique_ptr<BasicAuthFile>> Load(const std::string& path,
                                                             const std::string& realm);

  // Whether an Authorization field value carries a listed user and its
  // password. `now_ms` ages the remembered passwords.
  bool Allows(absl::string_view authorization, int64_t now_ms);

  // The WWW-Authenticate header line for a 401.
  const std::string& challenge() const { return challenge_; }
  // The file's bytes' SHA-256, so reload notices a changed file.
  const std::string& digest() const { return digest_; }

 private:
  BasicAuthFile() = default;

  absl::flat_hash_map<std::string, std::string> hashes_;  // user -> hash
  std::string dummy_hash_;                                // hashed for unknown users: the same cost
  std::string challenge_;
  std::string digest_;
  // SHA-256 of "user:password" -> when it was last verified.
  absl::flat_hash_map<std::string, int64_t> verified_;
};

// Whether `hash` is one BasicAuthFile accepts, and if not, why.
absl::Status CheckHtpasswdHash(absl::string_view hash);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_ROUTER_BASIC_AUTH_H_
