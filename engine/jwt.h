// JSON Web Token verification (RFC 7519, JWS compact form of RFC 7515, the
// algorithms of RFC 7518 and RFC 8037), with BoringSSL, for authentication
// at connect. Keys are loaded once (in the master) and shared read-only.
//
//   JwtKeys keys;
//   SOCKMAN_RETURN_IF_ERROR(keys.AddSecret(secret));             // HS256/384/512
//   SOCKMAN_RETURN_IF_ERROR(keys.AddPem(pem_text));              // RS*, PS*, ES*, EdDSA
//   SOCKMAN_RETURN_IF_ERROR(keys.AddJwks(jwks_text));            // RFC 7517 key set
//   JwtVerifier verifier(std::move(keys), rules);
//   absl::StatusOr<JwtClaims> claims = verifier.Verify(token, now_seconds);
//
// Refused, always: "alg": "none", an algorithm the key was not made for (an
// RSA public key is never an HMAC secret: HS* verifies only with secrets),
// a "crit" header, duplicate member names, padding or characters outside
// base64url, more than three parts, JSON other than objects, tokens larger
// than the rules' bound, RSA keys under 2048 bits, HMAC secrets under 32
// bytes. Errors name what failed in a few words, never the token.
#ifndef SOCKMAN_ENGINE_JWT_H_
#define SOCKMAN_ENGINE_JWT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sockman {

enum class JwtAlgorithm : uint8_t {
  kHS256,
  kHS384,
  kHS512,
  kRS256,
  kRS384,
  kRS512,
  kPS256,
  kPS384,
  kPS512,
  kES256,
  kES384,
  kEdDSA,
};
inline constexpr int kJwtAlgorithms = 12;

// "HS256" -> kHS256; false for "none" and anything unknown.
bool ParseJwtAlgorithm(absl::string_view name, JwtAlgorithm& out);
absl::string_view JwtAlgorithmName(JwtAlgorithm algorithm);

// Verification keys: HMAC secrets and public keys, each with an optional
// key id ("kid") and the algorithm it is pinned to (a JWK's "alg").
class JwtKeys {
 public:
  JwtKeys();
  ~JwtKeys();
  JwtKeys(JwtKeys&&) noexcept;
  JwtKeys& operator=(JwtKeys&&) noexcept;

  // An HMAC secret (HS256/384/512), at least 32 bytes.
  absl::Status AddSecret(absl::string_view secret, std::string kid = "");
  // Every PUBLIC KEY or CERTIFICATE block of a PEM text (RSA of 2048 bits
  // or more, EC P-256 or P-384, Ed25519).
  absl::Status AddPem(absl::string_view pem);
  // A JWK Set ({"keys": [...]}) or one JWK: kty RSA (n, e), EC (crv P-256
  // or P-384, x, y), OKP (crv Ed25519, x) and oct (k). Keys whose "use" is
  // not "sig" are skipped; a key that does not load is an error naming it.
  absl::Status AddJwks(absl::string_view json);

  size_t size() const;
  // The algorithms some key here can verify.
  std::vector<JwtAlgorithm> Algorithms() const;

  struct Key;  // opaque: jwt.cc's

 private:
  friend class JwtVerifier;
  std::vector<std::unique_ptr<Key>> keys_;
};

// What a token must satisfy besides its signature.
struct JwtRules {
  std::vector<JwtAlgorithm> algorithms;  // accepted; empty: every one the keys allow
  std::string issuer;                    // "iss" must equal it (empty: not checked)
  std::vector<std::string> audience;     // "aud" must name one (empty: not checked)
  int64_t leeway_s = 60;                 // for exp, nbf and iat
  bool require_exp = false;              // a token without "exp" is refused
  std::string uid_claim = "sub";         // JwtClaims::uid (empty: none)
  std::string groups_claim;              // JwtClaims::groups (empty: none)
  size_t max_token_size = 8192;
};

struct JwtClaims {
  std::string uid;                  // the uid claim (a string, or an integer in decimal)
  std::vector<std::string> groups;  // the groups claim (an array of strings, or a
                                    // space-separated string)
  bool has_groups = false;          // the token had the groups claim
  int64_t expires_at = 0;           // "exp" (0: none)
  std::string payload;              // the claims, as one line of JSON
};

class JwtVerifier {
 public:
  JwtVerifier(JwtKeys keys, JwtRules rules);
  ~JwtVerifier();

  // Verifies `token` (header.payload.signature) at `now` (unix seconds).
  // Errors are kUnauthenticated with a short reason ("token expired",
  // "bad signature", "audience not accepted", ...).
  absl::StatusOr<JwtClaims> Verify(absl::string_view token, int64_t now) const;

  const JwtRules& rules() const { return rules_; }

 private:
  JwtKeys keys_;
  JwtRules rules_;
  bool allowed_[kJwtAlgorithms] = {};
};

// Strict base64url without padding (RFC 7515 2): false on any other byte.
bool DecodeBase64Url(absl::string_view in, std::string& out);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_JWT_H_
