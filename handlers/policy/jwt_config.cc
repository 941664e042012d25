#include "handlers/policy/jwt_config.h"

#include <openssl/mem.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/read_file.h"

namespace sockman {
namespace {

std::string Resolve(const std::string& path, const std::string& directory) {
  if (path.empty() || path[0] == '/' || directory.empty()) return path;
  return absl::StrCat(directory, "/", path);
}

// The file's content; an error naming the field when it cannot be read or is empty.
absl::StatusOr<std::string> Read(const std::string& field, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read '", path, "'"));
  }
  std::string content = ReadFileOrEmpty(path);
  if (content.empty())
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", path, "' is empty"));
  return content;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const JwtGate>> JwtGateFromConfig(const Jwt& config,
                                                                 const std::string& directory) {
  if (!config.has_secret_file() && config.public_key_file().empty() && !config.has_jwks_file()) {
    return absl::InvalidArgumentError("needs a key: secret_file, public_key_file or jwks_file");
  }
  JwtKeys keys;
  if (config.has_secret_file()) {
    absl::StatusOr<std::string> secret =
        Read("secret_file", Resolve(config.secret_file(), directory));
    if (!secret.ok()) return secret.status();
    if (absl::EndsWith(*secret, "\n")) secret->pop_back();
    absl::Status added = keys.AddSecret(*secret);
    OPENSSL_cleanse(secret->data(), secret->size());
    if (!added.ok())
      return absl::InvalidArgumentError(absl::StrCat("secret_file: ", added.message()));
  }
  for (const std::string& file : config.public_key_file()) {
    std::string path = Resolve(file, directory);
    absl::StatusOr<std::string> pem = Read("public_key_file", path);
    if (!pem.ok()) return pem.status();
    absl::Status added = keys.AddPem(*pem);
    if (!added.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("public_key_file: '", path, "': ", added.message()));
    }
  }
  if (config.has_jwks_file()) {
    std::string path = Resolve(config.jwks_file(), directory);
    absl::StatusOr<std::string> jwks = Read("jwks_file", path);
    if (!jwks.ok()) return jwks.status();
    absl::Status added = keys.AddJwks(*jwks);
    if (!added.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("jwks_file: '", path, "': ", added.message()));
    }
  }
  JwtRules rules;
  for (const std::string& name : config.algorithms()) {
    JwtAlgorithm algorithm;
    if (!ParseJwtAlgorithm(name, algorithm)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithms: '", name,
          "' is not one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 "
          "EdDSA"));
    }
    std::vector<JwtAlgorithm> usable = keys.Algorithms();
    if (std::find(usable.begin(), usable.end(), algorithm) == usable.end()) {
      return absl::InvalidArgumentError(absl::StrCat("algorithms: no key given can verify ", name));
    }
    rules.algorithms.push_back(algorithm);
  }
  rules.issuer = config.issuer();
  rules.audience.assign(config.audience().begin(), config.audience().end());
  if (config.has_leeway_s()) {
    if (config.leeway_s() > 3600) return absl::InvalidArgumentError("leeway_s: at most 3600");
    rules.leeway_s = config.leeway_s();
  }
  rules.require_exp = config.require_exp();
  if (config.has_uid_claim()) rules.uid_claim = config.uid_claim();
  rules.groups_claim = config.groups_claim();
  if (config.restrict_groups() && rules.groups_claim.empty()) {
    return absl::InvalidArgumentError("restrict_groups: needs groups_claim");
  }
  if (config.has_max_token_size()) {
    if (config.max_token_size() < 64 || config.max_token_size() > 65536) {
      return absl::InvalidArgumentError("max_token_size: between 64 and 65536");
    }
    rules.max_token_size = config.max_token_size();
  }
  JwtGateOptions options;
  options.cookie = config.cookie();
  options.query_parameter = config.query_parameter();
  options.subprotocol = config.subprotocol();
  options.restrict_groups = config.restrict_groups();
  for (char c : options.subprotocol) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return absl::InvalidArgumentError("subprotocol: letters, digits, '-', '_' and '.' only");
    }
  }
  return std::make_shared<const JwtGate>(
      std::make_unique<JwtVerifier>(std::move(keys), std::move(rules)), std::move(options));
}

void AddJwtSubprotocol(const Jwt& config, std::vector<std::string>& subprotocols) {
  const std::string& marker = config.subprotocol();
  if (marker.empty()) return;
  if (std::find(subprotocols.begin(), subprotocols.end(), marker) == subprotocols.end()) {
    subprotocols.push_back(marker);
  }
}

std::string JwtKeyFilesDigest(const Jwt& config, const std::string& directory) {
  std::vector<std::string> files(config.public_key_file().begin(), config.public_key_file().end());
  if (config.has_secret_file()) files.push_back(config.secret_file());
  if (config.has_jwks_file()) files.push_back(config.jwks_file());
  std::string digests;
  for (const std::string& file : files) {
    std::string content = ReadFileOrEmpty(Resolve(file, directory));
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(content.data()), content.size(), digest);
    OPENSSL_cleanse(content.data(), content.size());
    digests.append(reinterpret_cast<char*>(digest), sizeof(digest));
  }
  return digests;
}

}  // namespace sockman
