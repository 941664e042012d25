#include "engine/jwt.h"

#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cmath>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sockman {
namespace {

constexpr const char* kAlgorithmNames[kJwtAlgorithms] = {"HS256", "HS384", "HS512", "RS256",
                                                         "RS384", "RS512", "PS256", "PS384",
                                                         "PS512", "ES256", "ES384", "EdDSA"};

enum class KeyKind : uint8_t { kSecret, kRsa, kP256, kP384, kEd25519 };

KeyKind KindFor(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHS256:
    case JwtAlgorithm::kHS384:
    case JwtAlgorithm::kHS512:
      return KeyKind::kSecret;
    case JwtAlgorithm::kES256:
      return KeyKind::kP256;
    case JwtAlgorithm::kES384:
      return KeyKind::kP384;
    case JwtAlgorithm::kEdDSA:
      return KeyKind::kEd25519;
    default:
      return KeyKind::kRsa;
  }
}

const EVP_MD* DigestFor(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHS384:
    case JwtAlgorithm::kRS384:
    case JwtAlgorithm::kPS384:
    case JwtAlgorithm::kES384:
      return EVP_sha384();
    case JwtAlgorithm::kHS512:
    case JwtAlgorithm::kRS512:
    case JwtAlgorithm::kPS512:
      return EVP_sha512();
    default:
      return EVP_sha256();
  }
}

absl::Status Unauthenticated(absl::string_view reason) {
  return absl::UnauthenticatedError(reason);
}

// A JSON object with no name twice (RFC 7515 5.2: refuse duplicates rather
// than guess which one a signer meant).
bool ParseObject(absl::string_view json, rapidjson::Document& document) {
  document.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
      json.data(), json.size());
  if (document.HasParseError() || !document.IsObject()) return false;
  for (auto a = document.MemberBegin(); a != document.MemberEnd(); ++a) {
    for (auto b = a + 1; b != document.MemberEnd(); ++b) {
      if (a->name == b->name) return false;
    }
  }
  return true;
}

const rapidjson::Value* Member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

absl::string_view View(const rapidjson::Value& value) {
  return absl::string_view(value.GetString(), value.GetStringLength());
}

bool Digest(const EVP_MD* md, absl::string_view data, uint8_t* out, unsigned* size) {
  return EVP_Digest(data.data(), data.size(), out, size, md, nullptr) == 1;
}

// An RSA key from a JWK's "n" and "e", at least 2048 bits.
absl::StatusOr<bssl::UniquePtr<RSA>> RsaFromJwk(const rapidjson::Value& jwk) {
  const rapidjson::Value* n = Member(jwk, "n");
  const rapidjson::Value* e = Member(jwk, "e");
  std::string nb, eb;
  if (n == nullptr || e == nullptr || !n->IsString() || !e->IsString() ||
      !DecodeBase64Url(View(*n), nb) || !DecodeBase64Url(View(*e), eb) || nb.empty() ||
      eb.empty()) {
    return absl::InvalidArgumentError("RSA key needs base64url \"n\" and \"e\"");
  }
  bssl::UniquePtr<BIGNUM> bn_n(
      BN_bin2bn(reinterpret_cast<const uint8_t*>(nb.data()), nb.size(), nullptr));
  bssl::UniquePtr<BIGNUM> bn_e(
      BN_bin2bn(reinterpret_cast<const uint8_t*>(eb.data()), eb.size(), nullptr));
  bssl::UniquePtr<RSA> rsa(RSA_new());
  if (rsa == nullptr || bn_n == nullptr || bn_e == nullptr ||
      RSA_set0_key(rsa.get(), bn_n.get(), bn_e.get(), nullptr) != 1) {
    return absl::InvalidArgumentError("not a valid RSA public key");
  }
  bn_n.release();  // owned by rsa now
  bn_e.release();
  if (RSA_check_key(rsa.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a valid RSA public key");
  }
  return rsa;
}

absl::StatusOr<bssl::UniquePtr<EC_KEY>> EcFromJwk(const rapidjson::Value& jwk, int nid,
                                                  size_t size) {
  const rapidjson::Value* x = Member(jwk, "x");
  const rapidjson::Value* y = Member(jwk, "y");
  std::string xb, yb;
  if (x == nullptr || y == nullptr || !x->IsString() || !y->IsString() ||
      !DecodeBase64Url(View(*x), xb) || !DecodeBase64Url(View(*y), yb) || xb.size() != size ||
      yb.size() != size) {
    return absl::InvalidArgumentError("EC key needs base64url \"x\" and \"y\" of its curve's size");
  }
  bssl::UniquePtr<EC_KEY> key(EC_KEY_new_by_curve_name(nid));
  bssl::UniquePtr<BIGNUM> bx(BN_bin2bn(reinterpret_cast<const uint8_t*>(xb.data()), size, nullptr));
  bssl::UniquePtr<BIGNUM> by(BN_bin2bn(reinterpret_cast<const uint8_t*>(yb.data()), size, nullptr));
  // Checks the point is on the curve.
  if (key == nullptr || bx == nullptr || by == nullptr ||
      EC_KEY_set_public_key_affine_coordinates(key.get(), bx.get(), by.get()) != 1) {
    return absl::InvalidArgumentError("not a point of the key's curve");
  }
  return key;
}

}  // namespace

bool ParseJwtAlgorithm(absl::string_view name, JwtAlgorithm& out) {
  for (int i = 0; i < kJwtAlgorithms; ++i) {
    if (name == kAlgorithmNames[i]) {
      out = static_cast<JwtAlgorithm>(i);
      return true;
    }
  }
  return false;
}

absl::string_view JwtAlgorithmName(JwtAlgorithm algorithm) {
  return kAlgorithmNames[static_cast<int>(algorithm)];
}

bool DecodeBase64Url(absl::string_view in, std::string& out) {
  for (char c : in) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  if (in.size() % 4 == 1) return false;
  return absl::WebSafeBase64Unescape(in, &out);
}

struct JwtKeys::Key {
  KeyKind kind = KeyKind::kSecret;
  std::string kid;
  bool pinned = false;  // only for `algorithm` (a JWK's "alg")
  JwtAlgorithm algorithm = JwtAlgorithm::kHS256;
  std::string bytes;  // kSecret: the secret; kEd25519: the 32-byte public key
  bssl::UniquePtr<RSA> rsa;
  bssl::UniquePtr<EC_KEY> ec;

  bool Fits(JwtAlgorithm a) const { return KindFor(a) == kind && (!pinned || algorithm == a); }

  bool Verify(JwtAlgorithm a, absl::string_view input, absl::string_view signature) const {
    const auto* sig = reinterpret_cast<const uint8_t*>(signature.data());
    const EVP_MD* md = DigestFor(a);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    switch (kind) {
      case KeyKind::kSecret: {
        if (HMAC(md, bytes.data(), bytes.size(), reinterpret_cast<const uint8_t*>(input.data()),
                 input.size(), digest, &size) == nullptr) {
          return false;
        }
        return signature.size() == size && CRYPTO_memcmp(digest, sig, size) == 0;
      }
      case KeyKind::kRsa: {
        if (!Digest(md, input, digest, &size)) return false;
        if (a == JwtAlgorithm::kPS256 || a == JwtAlgorithm::kPS384 || a == JwtAlgorithm::kPS512) {
          // RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash.
          return RSA_verify_pss_mgf1(rsa.get(), digest, size, md, md, /*salt_len=*/-1, sig,
                                     signature.size()) == 1;
        }
        return RSA_verify(EVP_MD_type(md), digest, size, sig, signature.size(), rsa.get()) == 1;
      }
      case KeyKind::kP256:
      case KeyKind::kP384: {
        // RFC 7518 3.4: R and S, each the curve's size, big-endian.
        size_t half = kind == KeyKind::kP256 ? 32 : 48;
        if (signature.size() != 2 * half || !Digest(md, input, digest, &size)) return false;
        bssl::UniquePtr<ECDSA_SIG> parsed(ECDSA_SIG_new());
        if (parsed == nullptr) return false;
        bssl::UniquePtr<BIGNUM> r(BN_bin2bn(sig, half, nullptr));
        bssl::UniquePtr<BIGNUM> s(BN_bin2bn(sig + half, half, nullptr));
        if (r == nullptr || s == nullptr || ECDSA_SIG_set0(parsed.get(), r.get(), s.get()) != 1) {
          return false;
        }
        r.release();  // owned by parsed now
        s.release();
        return ECDSA_do_verify(digest, size, parsed.get(), ec.get()) == 1;
      }
      case KeyKind::kEd25519:
        return signature.size() == 64 &&
               ED25519_verify(reinterpret_cast<const uint8_t*>(input.data()), input.size(), sig,
                              reinterpret_cast<const uint8_t*>(bytes.data())) == 1;
    }
    return false;
  }
};

JwtKeys::JwtKeys() = default;
JwtKeys::~JwtKeys() = default;
JwtKeys::JwtKeys(JwtKeys&&) noexcept = default;
JwtKeys& JwtKeys::operator=(JwtKeys&&) noexcept = default;

size_t JwtKeys::size() const { return keys_.size(); }

std::vector<JwtAlgorithm> JwtKeys::Algorithms() const {
  std::vector<JwtAlgorithm> out;
  for (int i = 0; i < kJwtAlgorithms; ++i) {
    auto a = static_cast<JwtAlgorithm>(i);
    for (const auto& key : keys_) {
      if (key->Fits(a)) {
        out.push_back(a);
        break;
      }
    }
  }
  return out;
}

absl::Status JwtKeys::AddSecret(absl::string_view secret, std::string kid) {
  if (secret.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("an HMAC secret needs at least 32 bytes (this one has ", secret.size(), ")"));
  }
  auto key = std::make_unique<Key>();
  key->kind = KeyKind::kSecret;
  key->bytes = std::string(secret);
  key->kid = std::move(kid);
  keys_.push_back(std::move(key));
  return absl::OkStatus();
}

namespace {

// The key of an EVP_PKEY, checked (RSA >= 2048 bits, EC P-256/P-384, Ed25519).
absl::Status FromPublicKey(EVP_PKEY* pkey, JwtKeys::Key& key) {
  switch (EVP_PKEY_id(pkey)) {
    case EVP_PKEY_RSA: {
      key.kind = KeyKind::kRsa;
      key.rsa.reset(EVP_PKEY_get1_RSA(pkey));
      if (RSA_bits(key.rsa.get()) < 2048) {
        return absl::InvalidArgumentError("RSA keys need at least 2048 bits");
      }
      return absl::OkStatus();
    }
    case EVP_PKEY_EC: {
      key.ec.reset(EVP_PKEY_get1_EC_KEY(pkey));
      int nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(key.ec.get()));
      if (nid == NID_X9_62_prime256v1) {
        key.kind = KeyKind::kP256;
      } else if (nid == NID_secp384r1) {
        key.kind = KeyKind::kP384;
      } else {
        return absl::InvalidArgumentError("EC keys must be on P-256 or P-384");
      }
      return absl::OkStatus();
    }
    case EVP_PKEY_ED25519: {
      key.kind = KeyKind::kEd25519;
      uint8_t raw[32];
      size_t size = sizeof(raw);
      if (EVP_PKEY_get_raw_public_key(pkey, raw, &size) != 1 || size != 32) {
        return absl::InvalidArgumentError("bad Ed25519 key");
      }
      key.bytes.assign(reinterpret_cast<const char*>(raw), 32);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("not an RSA, EC or Ed25519 public key");
  }
}

}  // namespace

absl::Status JwtKeys::AddPem(absl::string_view pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  int added = 0;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    uint8_t* data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) break;
    bssl::UniquePtr<char> name_owner(name), header_owner(header);
    bssl::UniquePtr<uint8_t> data_owner(data);
    absl::string_view type(name);
    bssl::UniquePtr<EVP_PKEY> pkey;
    const uint8_t* p = data;
    if (type == "PUBLIC KEY") {
      CBS cbs;
      CBS_init(&cbs, data, static_cast<size_t>(length));
      pkey.reset(EVP_parse_public_key(&cbs));
    } else if (type == "CERTIFICATE") {
      bssl::UniquePtr<X509> cert(d2i_X509(nullptr, &p, length));
      if (cert != nullptr) pkey.reset(X509_get_pubkey(cert.get()));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("PEM block '", type, "' is not a PUBLIC KEY or CERTIFICATE"));
    }
    if (pkey == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("PEM block ", added + 1, " does not parse"));
    }
    auto key = std::make_unique<Key>();
    absl::Status loaded = FromPublicKey(pkey.get(), *key);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PEM block ", added + 1, ": ", loaded.message()));
    }
    keys_.push_back(std::move(key));
    ++added;
  }
  ERR_clear_error();
  if (added == 0) return absl::InvalidArgumentError("no PUBLIC KEY or CERTIFICATE block in it");
  return absl::OkStatus();
}

absl::Status JwtKeys::AddJwks(absl::string_view json) {
  rapidjson::Document document;
  if (!ParseObject(json, document)) return absl::InvalidArgumentError("not a JSON object");
  std::vector<const rapidjson::Value*> jwks;
  if (const rapidjson::Value* set = Member(document, "keys")) {
    if (!set->IsArray()) return absl::InvalidArgumentError("\"keys\" is not an array");
    for (const rapidjson::Value& jwk : set->GetArray()) jwks.push_back(&jwk);
  } else {
    jwks.push_back(&document);
  }
  size_t before = keys_.size();
  for (size_t i = 0; i < jwks.size(); ++i) {
    const rapidjson::Value& jwk = *jwks[i];
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("key ", i + 1, ": ", why));
    };
    if (!jwk.IsObject()) return fail("not an object");
    const rapidjson::Value* kty = Member(jwk, "kty");
    if (kty == nullptr || !kty->IsString()) return fail("no \"kty\"");
    const rapidjson::Value* use = Member(jwk, "use");
    if (use != nullptr && (!use->IsString() || View(*use) != "sig")) continue;  // not for us
    auto key = std::make_unique<Key>();
    if (const rapidjson::Value* kid = Member(jwk, "kid")) {
      if (!kid->IsString()) return fail("\"kid\" is not a string");
      key->kid = std::string(View(*kid));
    }
    if (const rapidjson::Value* alg = Member(jwk, "alg")) {
      if (!alg->IsString() || !ParseJwtAlgorithm(View(*alg), key->algorithm)) {
        return fail("\"alg\" is not an algorithm sockman verifies");
      }
      key->pinned = true;
    }
    absl::string_view type = View(*kty);
    if (type == "RSA") {
      absl::StatusOr<bssl::UniquePtr<RSA>> rsa = RsaFromJwk(jwk);
      if (!rsa.ok()) return fail(rsa.status().message());
      if (RSA_bits(rsa->get()) < 2048) return fail("RSA keys need at least 2048 bits");
      key->kind = KeyKind::kRsa;
      key->rsa = std::move(*rsa);
    } else if (type == "EC") {
      const rapidjson::Value* crv = Member(jwk, "crv");
      absl::string_view curve = crv != nullptr && crv->IsString() ? View(*crv) : "";
      bool p256 = curve == "P-256";
      if (!p256 && curve != "P-384") return fail("EC keys must be on P-256 or P-384");
      absl::StatusOr<bssl::UniquePtr<EC_KEY>> ec =
          EcFromJwk(jwk, p256 ? NID_X9_62_prime256v1 : NID_secp384r1, p256 ? 32 : 48);
      if (!ec.ok()) return fail(ec.status().message());
      key->kind = p256 ? KeyKind::kP256 : KeyKind::kP384;
      key->ec = std::move(*ec);
    } else if (type == "OKP") {
      const rapidjson::Value* crv = Member(jwk, "crv");
      const rapidjson::Value* x = Member(jwk, "x");
      if (crv == nullptr || !crv->IsString() || View(*crv) != "Ed25519") {
        return fail("OKP keys must be Ed25519");
      }
      if (x == nullptr || !x->IsString() || !DecodeBase64Url(View(*x), key->bytes) ||
          key->bytes.size() != 32) {
        return fail("Ed25519 key needs a 32-byte base64url \"x\"");
      }
      key->kind = KeyKind::kEd25519;
    } else if (type == "oct") {
      const rapidjson::Value* k = Member(jwk, "k");
      if (k == nullptr || !k->IsString() || !DecodeBase64Url(View(*k), key->bytes)) {
        return fail("oct key needs a base64url \"k\"");
      }
      if (key->bytes.size() < 32) return fail("an HMAC secret needs at least 32 bytes");
      key->kind = KeyKind::kSecret;
    } else {
      return fail(absl::StrCat("unknown \"kty\" '", type, "'"));
    }
    if (key->pinned && !key->Fits(key->algorithm)) return fail("\"alg\" does not fit the key");
    keys_.push_back(std::move(key));
  }
  if (keys_.size() == before) return absl::InvalidArgumentError("no signing key in it");
  return absl::OkStatus();
}

JwtVerifier::JwtVerifier(JwtKeys keys, JwtRules rules)
    : keys_(std::move(keys)), rules_(std::move(rules)) {
  std::vector<JwtAlgorithm> usable = keys_.Algorithms();
  for (JwtAlgorithm a : usable) {
    bool listed =
        rules_.algorithms.empty() ||
        std::find(rules_.algorithms.begin(), rules_.algorithms.end(), a) != rules_.algorithms.end();
    allowed_[static_cast<int>(a)] = listed;
  }
}

JwtVerifier::~JwtVerifier() = default;

absl::StatusOr<JwtClaims> JwtVerifier::Verify(absl::string_view token, int64_t now) const {
  if (token.empty()) return Unauthenticated("no token");
  if (token.size() > rules_.max_token_size) return Unauthenticated("token too large");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("malformed token: not three parts");
  std::string header_json, payload_json, signature;
  if (!DecodeBase64Url(parts[0], header_json) || !DecodeBase64Url(parts[1], payload_json) ||
      !DecodeBase64Url(parts[2], signature)) {
    return Unauthenticated("malformed token: not base64url");
  }
  rapidjson::Document header;
  if (!ParseObject(header_json, header)) return Unauthenticated("malformed token header");
  const rapidjson::Value* alg = Member(header, "alg");
  if (alg == nullptr || !alg->IsString()) return Unauthenticated("token header has no alg");
  JwtAlgorithm algorithm;
  if (!ParseJwtAlgorithm(View(*alg), algorithm) || !allowed_[static_cast<int>(algorithm)]) {
    return Unauthenticated("token algorithm not accepted");
  }
  if (Member(header, "crit") != nullptr) return Unauthenticated("token has critical extensions");
  absl::string_view kid;
  if (const rapidjson::Value* k = Member(header, "kid")) {
    if (!k->IsString()) return Unauthenticated("malformed token header");
    kid = View(*k);
  }
  // A token's kid picks the keys with that id (or, if none has it, those
  // without an id); without one, every key that fits the algorithm is tried.
  absl::string_view input(token.data(), parts[0].size() + 1 + parts[1].size());
  bool verified = false, named = false;
  if (!kid.empty()) {
    for (const auto& key : keys_.keys_) named |= key->kid == kid && key->Fits(algorithm);
  }
  for (const auto& key : keys_.keys_) {
    if (!key->Fits(algorithm)) continue;
    if (named ? key->kid != kid : (!kid.empty() && !key->kid.empty())) continue;
    if (key->Verify(algorithm, input, signature)) {
      verified = true;
      break;
    }
  }
  ERR_clear_error();
  if (!verified) return Unauthenticated("bad signature");

  rapidjson::Document payload;
  if (!ParseObject(payload_json, payload)) return Unauthenticated("malformed token claims");
  JwtClaims claims;
  auto time_claim = [&](const char* name, double& value) -> absl::Status {
    const rapidjson::Value* v = Member(payload, name);
    if (v == nullptr) return absl::NotFoundError(name);
    if (!v->IsNumber() || !std::isfinite(v->GetDouble())) {
      return Unauthenticated(absl::StrCat("token claim ", name, " is not a number"));
    }
    value = v->GetDouble();
    return absl::OkStatus();
  };
  double exp = 0, nbf = 0, iat = 0;
  const double t = static_cast<double>(now), leeway = static_cast<double>(rules_.leeway_s);
  if (absl::Status s = time_claim("exp", exp); s.ok()) {
    if (t > exp + leeway) return Unauthenticated("token expired");
    // Not expired: at least now - leeway; at most what an int64 holds.
    claims.expires_at = exp < 9e18 ? static_cast<int64_t>(exp) : INT64_MAX;
  } else if (!absl::IsNotFound(s)) {
    return s;
  } else if (rules_.require_exp) {
    return Unauthenticated("token has no exp");
  }
  if (absl::Status s = time_claim("nbf", nbf); s.ok()) {
    if (t + leeway < nbf) return Unauthenticated("token not valid yet");
  } else if (!absl::IsNotFound(s)) {
    return s;
  }
  if (absl::Status s = time_claim("iat", iat); s.ok()) {
    if (iat > t + leeway) return Unauthenticated("token issued in the future");
  } else if (!absl::IsNotFound(s)) {
    return s;
  }
  if (!rules_.issuer.empty()) {
    const rapidjson::Value* iss = Member(payload, "iss");
    if (iss == nullptr || !iss->IsString() || View(*iss) != rules_.issuer) {
      return Unauthenticated("issuer not accepted");
    }
  }
  if (!rules_.audience.empty()) {
    const rapidjson::Value* aud = Member(payload, "aud");
    bool ok = false;
    auto accepted = [&](const rapidjson::Value& v) {
      return v.IsString() && std::find(rules_.audience.begin(), rules_.audience.end(), View(v)) !=
                                 rules_.audience.end();
    };
    if (aud != nullptr && aud->IsArray()) {
      for (const rapidjson::Value& v : aud->GetArray()) ok |= accepted(v);
    } else if (aud != nullptr) {
      ok = accepted(*aud);
    }
    if (!ok) return Unauthenticated("audience not accepted");
  }
  if (!rules_.uid_claim.empty()) {
    if (const rapidjson::Value* uid = Member(payload, rules_.uid_claim.c_str())) {
      if (uid->IsString()) {
        claims.uid = std::string(View(*uid));
      } else if (uid->IsInt64()) {
        claims.uid = absl::StrCat(uid->GetInt64());
      } else if (uid->IsUint64()) {
        claims.uid = absl::StrCat(uid->GetUint64());
      } else {
        return Unauthenticated(absl::StrCat("token claim ", rules_.uid_claim, " is not a string"));
      }
    }
  }
  if (!rules_.groups_claim.empty()) {
    if (const rapidjson::Value* groups = Member(payload, rules_.groups_claim.c_str())) {
      claims.has_groups = true;
      if (groups->IsString()) {
        for (absl::string_view g : absl::StrSplit(View(*groups), ' ', absl::SkipEmpty())) {
          claims.groups.emplace_back(g);
        }
      } else if (groups->IsArray()) {
        for (const rapidjson::Value& g : groups->GetArray()) {
          if (!g.IsString()) {
            return Unauthenticated(
                absl::StrCat("token claim ", rules_.groups_claim, " holds a non-string"));
          }
          claims.groups.emplace_back(View(g));
        }
      } else {
        return Unauthenticated(
            absl::StrCat("token claim ", rules_.groups_claim, " is not a list of groups"));
      }
    }
  }
  // One line of JSON (a token's payload may hold newlines between values).
  rapidjson::StringBuffer compact;
  rapidjson::Writer<rapidjson::StringBuffer> writer(compact);
  payload.Accept(writer);
  claims.payload.assign(compact.GetString(), compact.GetSize());
  return claims;
}

}  // namespace sockman
