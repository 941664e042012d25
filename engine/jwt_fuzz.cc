// Fuzz target for JWT verification: the first byte picks what the rest is.
//   0: a token, verified against fixed keys (an HMAC secret, an Ed25519 key);
//   1: a JWK Set, loaded;
//   2: a PEM text, loaded;
//   3: a claims object, signed here with the fixed secret and verified, so
//      the claim checks see arbitrary JSON behind a good signature.
// Checks the contract: never crashes, an error always says why, a verified
// token's claims come back as one line of JSON.
//
// Built with libFuzzer by //engine:jwt_fuzz_test and replayed over the seed
// corpus by //engine:jwt_fuzz_replay_test.
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/jwt.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const std::string kSecret(32, 'k');

const sockman::JwtVerifier& Verifier() {
  static const sockman::JwtVerifier* verifier = [] {
    sockman::JwtKeys keys;
    Check(keys.AddSecret(kSecret).ok());
    // RFC 8037 A.2's public key.
    Check(keys.AddJwks(R"({"kty":"OKP","crv":"Ed25519",)"
                       R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})")
              .ok());
    sockman::JwtRules rules;
    rules.groups_claim = "groups";
    rules.audience = {"a", "b"};
    rules.issuer = "i";
    return new sockman::JwtVerifier(std::move(keys), rules);
  }();
  return *verifier;
}

void Verify(const std::string& token) {
  absl::StatusOr<sockman::JwtClaims> claims = Verifier().Verify(token, 1'800'000'000);
  if (!claims.ok()) Check(!claims.status().message().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      Verify(input);
      break;
    case 1: {
      sockman::JwtKeys keys;
      absl::Status s = keys.AddJwks(input);
      Check(s.ok() ? keys.size() > 0 : !s.message().empty());
      break;
    }
    case 2: {
      sockman::JwtKeys keys;
      absl::Status s = keys.AddPem(input);
      Check(s.ok() ? keys.size() > 0 : !s.message().empty());
      break;
    }
    case 3: {
      std::string signing = absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"HS256"})"), ".",
                                         absl::WebSafeBase64Escape(input));
      uint8_t mac[32];
      unsigned mac_size = 0;
      HMAC(EVP_sha256(), kSecret.data(), kSecret.size(),
           reinterpret_cast<const uint8_t*>(signing.data()), signing.size(), mac, &mac_size);
      std::string token = absl::StrCat(
          signing, ".",
          absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(mac), mac_size)));
      absl::StatusOr<sockman::JwtClaims> claims = Verifier().Verify(token, 1'800'000'000);
      if (claims.ok()) {
        Check(!claims->payload.empty() && claims->payload.find('\n') == std::string::npos);
      } else {
        Check(!claims.status().message().empty());
      }
      break;
    }
  }
  return 0;
}
