#include "engine/jwt.h"

#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret(40, 's');

std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

std::string Digest(const EVP_MD* md, absl::string_view data) {
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  EVP_Digest(data.data(), data.size(), out, &size, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), size);
}

const EVP_MD* Md(absl::string_view alg) {
  if (absl::EndsWith(alg, "384")) return EVP_sha384();
  if (absl::EndsWith(alg, "512")) return EVP_sha512();
  return EVP_sha256();
}

// Signing keys of every kind, made fresh, with their public halves as PEM.
struct Signers {
  bssl::UniquePtr<RSA> rsa{RSA_new()};
  bssl::UniquePtr<EC_KEY> p256{EC_KEY_new_by_curve_name(NID_X9_62_prime256v1)};
  bssl::UniquePtr<EC_KEY> p384{EC_KEY_new_by_curve_name(NID_secp384r1)};
  uint8_t ed_public[32], ed_private[64];

  Signers() {
    bssl::UniquePtr<BIGNUM> e(BN_new());
    BN_set_word(e.get(), RSA_F4);
    RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr);
    EC_KEY_generate_key(p256.get());
    EC_KEY_generate_key(p384.get());
    ED25519_keypair(ed_public, ed_private);
  }

  static std::string Pem(EVP_PKEY* pkey) {
    bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PUBKEY(bio.get(), pkey);
    const uint8_t* data;
    size_t size;
    BIO_mem_contents(bio.get(), &data, &size);
    return std::string(reinterpret_cast<const char*>(data), size);
  }
  std::string RsaPem() const {
    bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
    EVP_PKEY_set1_RSA(pkey.get(), rsa.get());
    return Pem(pkey.get());
  }
  std::string EcPem(EC_KEY* key) const {
    bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
    EVP_PKEY_set1_EC_KEY(pkey.get(), key);
    return Pem(pkey.get());
  }
  std::string EdPem() const {
    bssl::UniquePtr<EVP_PKEY> pkey(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, ed_public, 32));
    return Pem(pkey.get());
  }

  std::string Sign(absl::string_view alg, absl::string_view input) const {
    const EVP_MD* md = Md(alg);
    std::string digest = Digest(md, input);
    const auto* d = reinterpret_cast<const uint8_t*>(digest.data());
    if (alg[0] == 'H') {
      uint8_t out[EVP_MAX_MD_SIZE];
      unsigned size = 0;
      HMAC(md, kSecret.data(), kSecret.size(), reinterpret_cast<const uint8_t*>(input.data()),
           input.size(), out, &size);
      return std::string(reinterpret_cast<char*>(out), size);
    }
    if (alg[0] == 'R' || alg[0] == 'P') {
      std::string sig(RSA_size(rsa.get()), '\0');
      auto* out = reinterpret_cast<uint8_t*>(sig.data());
      if (alg[0] == 'R') {
        unsigned size = 0;
        RSA_sign(EVP_MD_type(md), d, digest.size(), out, &size, rsa.get());
        sig.resize(size);
      } else {
        size_t size = 0;
        RSA_sign_pss_mgf1(rsa.get(), &size, out, sig.size(), d, digest.size(), md, md, -1);
        sig.resize(size);
      }
      return sig;
    }
    if (alg[0] == 'E' && alg[1] == 'S') {
      bool p = alg == "ES256";
      size_t half = p ? 32 : 48;
      bssl::UniquePtr<ECDSA_SIG> sig(ECDSA_do_sign(d, digest.size(), p ? p256.get() : p384.get()));
      std::string out(2 * half, '\0');
      BN_bn2bin_padded(reinterpret_cast<uint8_t*>(out.data()), half, ECDSA_SIG_get0_r(sig.get()));
      BN_bn2bin_padded(reinterpret_cast<uint8_t*>(out.data()) + half, half,
                       ECDSA_SIG_get0_s(sig.get()));
      return out;
    }
    uint8_t out[64];
    ED25519_sign(out, reinterpret_cast<const uint8_t*>(input.data()), input.size(), ed_private);
    return std::string(reinterpret_cast<char*>(out), 64);
  }

  std::string Token(absl::string_view alg, absl::string_view claims,
                    absl::string_view extra_header = "") const {
    std::string input =
        absl::StrCat(B64(absl::StrCat(R"({"alg":")", alg, R"(","typ":"JWT")", extra_header, "}")),
                     ".", B64(claims));
    return absl::StrCat(input, ".", B64(Sign(alg, input)));
  }
};

const Signers& Keys() {
  static const Signers* signers = new Signers();
  return *signers;
}

JwtKeys AllKeys() {
  JwtKeys keys;
  EXPECT_TRUE(keys.AddSecret(kSecret).ok());
  EXPECT_TRUE(keys.AddPem(Keys().RsaPem() + Keys().EcPem(Keys().p256.get()) +
                          Keys().EcPem(Keys().p384.get()) + Keys().EdPem())
                  .ok());
  return keys;
}

std::string Claims(absl::string_view extra = "") {
  return absl::StrCat(R"({"sub":"alice","exp":)", kNow + 600, extra, "}");
}

TEST(JwtTest, EveryAlgorithmVerifies) {
  JwtVerifier verifier(AllKeys(), {});
  for (const char* alg : {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
                          "PS512", "ES256", "ES384", "EdDSA"}) {
    absl::StatusOr<JwtClaims> claims = verifier.Verify(Keys().Token(alg, Claims()), kNow);
    ASSERT_TRUE(claims.ok()) << alg << ": " << claims.status();
    EXPECT_EQ(claims->uid, "alice");
    EXPECT_EQ(claims->expires_at, kNow + 600);
  }
}

TEST(JwtTest, TamperedOrForeignSignaturesFail) {
  JwtVerifier verifier(AllKeys(), {});
  std::string token = Keys().Token("RS256", Claims());
  // A claim changed after signing.
  std::string forged = token;
  size_t dot = forged.find('.');
  forged.replace(dot + 1, forged.find('.', dot + 1) - dot - 1, B64(Claims(R"(,"admin":true)")));
  EXPECT_EQ(verifier.Verify(forged, kNow).status().message(), "bad signature");
  // Signed by another key of the right kind.
  JwtKeys other;
  ASSERT_TRUE(other.AddSecret(std::string(32, 'x')).ok());
  JwtVerifier wrong(std::move(other), {});
  EXPECT_EQ(wrong.Verify(Keys().Token("HS256", Claims()), kNow).status().message(),
            "bad signature");
  // A signature cut short, or of ES256 length but all zero.
  std::string cut = token.substr(0, token.size() - 8);
  EXPECT_FALSE(verifier.Verify(cut, kNow).ok());
  std::string es = Keys().Token("ES256", Claims());
  std::string zero = es.substr(0, es.rfind('.') + 1) + B64(std::string(64, '\0'));
  EXPECT_EQ(verifier.Verify(zero, kNow).status().message(), "bad signature");
}

TEST(JwtTest, NoneAndAlgorithmConfusionAreRefused) {
  JwtKeys rsa_only;
  ASSERT_TRUE(rsa_only.AddPem(Keys().RsaPem()).ok());
  JwtVerifier verifier(std::move(rsa_only), {});
  // alg none, unsigned.
  std::string none = absl::StrCat(B64(R"({"alg":"none"})"), ".", B64(Claims()), ".");
  EXPECT_EQ(verifier.Verify(none, kNow).status().message(), "token algorithm not accepted");
  // HS256 with the RSA public key's PEM as the HMAC secret: the classic confusion.
  std::string pem = Keys().RsaPem();
  std::string input = absl::StrCat(B64(R"({"alg":"HS256"})"), ".", B64(Claims()));
  uint8_t mac[32];
  unsigned size = 0;
  HMAC(EVP_sha256(), pem.data(), pem.size(), reinterpret_cast<const uint8_t*>(input.data()),
       input.size(), mac, &size);
  std::string confused =
      absl::StrCat(input, ".", B64(std::string(reinterpret_cast<char*>(mac), 32)));
  EXPECT_EQ(verifier.Verify(confused, kNow).status().message(), "token algorithm not accepted");
  // An algorithm the rules leave out.
  JwtKeys keys = AllKeys();
  JwtRules rules;
  rules.algorithms = {JwtAlgorithm::kES256};
  JwtVerifier only_es256(std::move(keys), rules);
  EXPECT_TRUE(only_es256.Verify(Keys().Token("ES256", Claims()), kNow).ok());
  EXPECT_FALSE(only_es256.Verify(Keys().Token("RS256", Claims()), kNow).ok());
  EXPECT_FALSE(only_es256.Verify(Keys().Token("HS256", Claims()), kNow).ok());
}

TEST(JwtTest, TimeClaimsWithLeeway) {
  JwtRules rules;
  rules.leeway_s = 30;
  JwtVerifier verifier(AllKeys(), rules);
  auto verify = [&](const std::string& claims) {
    absl::StatusOr<JwtClaims> got = verifier.Verify(Keys().Token("HS256", claims), kNow);
    return got.ok() ? std::string("ok") : std::string(got.status().message());
  };
  EXPECT_EQ(verify(absl::StrCat(R"({"exp":)", kNow - 31, "}")), "token expired");
  EXPECT_EQ(verify(absl::StrCat(R"({"exp":)", kNow - 29, "}")), "ok");
  EXPECT_EQ(verify(absl::StrCat(R"({"nbf":)", kNow + 31, "}")), "token not valid yet");
  EXPECT_EQ(verify(absl::StrCat(R"({"nbf":)", kNow + 29, "}")), "ok");
  EXPECT_EQ(verify(absl::StrCat(R"({"iat":)", kNow + 31, "}")), "token issued in the future");
  EXPECT_EQ(verify(absl::StrCat(R"({"exp":)", kNow + 10, R"(.5,"iat":)", kNow, "}")), "ok");
  EXPECT_EQ(verify(R"({"exp":"tomorrow"})"), "token claim exp is not a number");
  EXPECT_EQ(verify("{}"), "ok");  // exp not required by default
  JwtRules strict;
  strict.require_exp = true;
  JwtVerifier needs_exp(AllKeys(), strict);
  EXPECT_EQ(needs_exp.Verify(Keys().Token("HS256", "{}"), kNow).status().message(),
            "token has no exp");
}

TEST(JwtTest, IssuerAudienceUidAndGroups) {
  JwtRules rules;
  rules.issuer = "https://auth.example.com";
  rules.audience = {"chat", "api"};
  rules.uid_claim = "user_id";
  rules.groups_claim = "rooms";
  JwtVerifier verifier(AllKeys(), rules);
  auto verify = [&](const std::string& claims) {
    return verifier.Verify(Keys().Token("ES384", claims), kNow);
  };
  const std::string iss = R"("iss":"https://auth.example.com")";
  absl::StatusOr<JwtClaims> ok =
      verify(absl::StrCat("{", iss, R"(,"aud":["x","api"],"user_id":42,"rooms":["a","b"]})"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->uid, "42");
  EXPECT_TRUE(ok->has_groups);
  EXPECT_EQ(ok->groups, (std::vector<std::string>{"a", "b"}));
  ok = verify(absl::StrCat("{", iss, R"(,"aud":"chat","rooms":"lobby news"})"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->uid, "");
  EXPECT_EQ(ok->groups, (std::vector<std::string>{"lobby", "news"}));
  EXPECT_NE(ok->payload.find("lobby news"), std::string::npos);
  EXPECT_EQ(verify(absl::StrCat("{", iss, R"(,"aud":"other"})")).status().message(),
            "audience not accepted");
  EXPECT_EQ(verify(absl::StrCat("{", iss, "}")).status().message(), "audience not accepted");
  EXPECT_EQ(verify(R"({"iss":"https://evil.example.com","aud":"chat"})").status().message(),
            "issuer not accepted");
  EXPECT_EQ(verify(absl::StrCat("{", iss, R"(,"aud":"chat","user_id":{}})")).status().message(),
            "token claim user_id is not a string");
  EXPECT_EQ(verify(absl::StrCat("{", iss, R"(,"aud":"chat","rooms":[1]})")).status().message(),
            "token claim rooms holds a non-string");
}

TEST(JwtTest, MalformedTokensAreRefusedNeverCrash) {
  JwtVerifier verifier(AllKeys(), {});
  std::string good = Keys().Token("HS256", Claims());
  std::string input = good.substr(0, good.rfind('.'));
  std::string sig = good.substr(good.rfind('.') + 1);
  auto signed_with = [&](absl::string_view header, absl::string_view payload) {
    std::string in = absl::StrCat(B64(header), ".", B64(payload));
    return absl::StrCat(in, ".", B64(Keys().Sign("HS256", in)));
  };
  for (const std::string& token : std::vector<std::string>{
           "",
           ".",
           "..",
           "a.b",
           "a.b.c.d",
           good + ".",
           input + "." + sig + "=",
           input + ".+/" + sig.substr(2),
           "!!!." + input,
           std::string(9000, 'a'),
           signed_with("not json", Claims()),
           signed_with(R"({"alg":"HS256"})", "[1,2]"),
           signed_with(R"({"alg":"HS256"})", "{\"sub\":\"a\",\"sub\":\"b\"}"),
           signed_with(R"({"alg":"HS256","alg":"none"})", Claims()),
           signed_with(R"({"alg":"HS256","crit":["exp"]})", Claims()),
           signed_with(R"({"alg":"HS256","kid":7})", Claims()),
           signed_with(R"({"alg":["HS256"]})", Claims()),
           signed_with(R"({"alg":"HS256"})", "{\"sub\":\"\xff\"}"),
           signed_with(R"({"alg":"HS256"})", std::string(4000, '[')),
       }) {
    EXPECT_FALSE(verifier.Verify(token, kNow).ok()) << token.substr(0, 80);
  }
}

TEST(JwtTest, JwksKeysByKid) {
  const Signers& k = Keys();
  auto bn = [](const BIGNUM* n) {
    std::string out(BN_num_bytes(n), '\0');
    BN_bn2bin(n, reinterpret_cast<uint8_t*>(out.data()));
    return B64(out);
  };
  auto coordinate = [&](EC_KEY* key, bool y, size_t size) {
    bssl::UniquePtr<BIGNUM> x(BN_new()), yy(BN_new());
    EC_POINT_get_affine_coordinates_GFp(EC_KEY_get0_group(key), EC_KEY_get0_public_key(key),
                                        x.get(), yy.get(), nullptr);
    std::string out(size, '\0');
    BN_bn2bin_padded(reinterpret_cast<uint8_t*>(out.data()), size, y ? yy.get() : x.get());
    return B64(out);
  };
  std::string jwks = absl::StrCat(
      R"({"keys":[)", R"({"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","n":")",
      bn(RSA_get0_n(k.rsa.get())), R"(","e":")", bn(RSA_get0_e(k.rsa.get())), R"("},)",
      R"({"kty":"EC","kid":"e1","crv":"P-256","x":")", coordinate(k.p256.get(), false, 32),
      R"(","y":")", coordinate(k.p256.get(), true, 32), R"("},)",
      R"({"kty":"OKP","kid":"d1","crv":"Ed25519","x":")",
      B64(std::string(reinterpret_cast<const char*>(k.ed_public), 32)), R"("},)",
      R"({"kty":"oct","kid":"h1","k":")", B64(kSecret), R"("},)",
      R"({"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]})");
  JwtKeys keys;
  absl::Status added = keys.AddJwks(jwks);
  ASSERT_TRUE(added.ok()) << added;
  EXPECT_EQ(keys.size(), 4u);  // the encryption key is skipped
  JwtVerifier verifier(std::move(keys), {});
  EXPECT_TRUE(verifier.Verify(k.Token("RS256", Claims(), R"(,"kid":"r1")"), kNow).ok());
  EXPECT_TRUE(verifier.Verify(k.Token("ES256", Claims(), R"(,"kid":"e1")"), kNow).ok());
  EXPECT_TRUE(verifier.Verify(k.Token("EdDSA", Claims(), R"(,"kid":"d1")"), kNow).ok());
  EXPECT_TRUE(verifier.Verify(k.Token("HS256", Claims(), R"(,"kid":"h1")"), kNow).ok());
  EXPECT_TRUE(verifier.Verify(k.Token("ES256", Claims()), kNow).ok());  // no kid: tried
  // r1 is pinned to RS256: PS256 with it is refused.
  EXPECT_FALSE(verifier.Verify(k.Token("PS256", Claims(), R"(,"kid":"r1")"), kNow).ok());
  // A kid naming another key's id.
  EXPECT_FALSE(verifier.Verify(k.Token("ES256", Claims(), R"(,"kid":"d1")"), kNow).ok());

  for (const char* bad :
       {"[]", R"({"keys":{}})", R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})",
        R"({"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]})",
        R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]})",
        R"({"keys":[{"kty":"oct","k":"c2hvcnQ"}]})", R"({"keys":[{"kty":"magic"}]})",
        R"({"keys":[{"kty":"oct","alg":"RS256","k":"c3NzcXNzcXNzcXNzcXNzcXNzcXNzcXNzcXNzcXNz"}]})",
        R"({"keys":[]})"}) {
    JwtKeys none;
    EXPECT_FALSE(none.AddJwks(bad).ok()) << bad;
  }
}

TEST(JwtTest, WeakOrWrongKeysAreRefused) {
  JwtKeys keys;
  EXPECT_EQ(keys.AddSecret("short").message(),
            "an HMAC secret needs at least 32 bytes (this one has 5)");
  bssl::UniquePtr<RSA> small(RSA_new());
  bssl::UniquePtr<BIGNUM> e(BN_new());
  BN_set_word(e.get(), RSA_F4);
  RSA_generate_key_ex(small.get(), 1024, e.get(), nullptr);
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  EVP_PKEY_set1_RSA(pkey.get(), small.get());
  EXPECT_EQ(keys.AddPem(Signers::Pem(pkey.get())).message(),
            "PEM block 1: RSA keys need at least 2048 bits");
  EXPECT_FALSE(keys.AddPem("not pem").ok());
  EXPECT_FALSE(keys.AddPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  EXPECT_EQ(keys.size(), 0u);
}

TEST(JwtTest, Base64UrlIsStrict) {
  std::string out;
  EXPECT_TRUE(DecodeBase64Url("aGk", out));
  EXPECT_EQ(out, "hi");
  EXPECT_FALSE(DecodeBase64Url("aGk=", out));
  EXPECT_FALSE(DecodeBase64Url("a+k", out));
  EXPECT_FALSE(DecodeBase64Url("a", out));
  EXPECT_FALSE(DecodeBase64Url("aG k", out));
}

}  // namespace
}  // namespace sockman
