#include "handlers/router/basic_auth.h"

#include <crypt.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/read_file.h"
#include "openssl/crypto.h"
#include "openssl/sha.h"

namespace sockman {
namespace {

constexpr int64_t kRememberMs = 60'000;
constexpr size_t kMaxRemembered = 1024;

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

// crypt_r's scratch space (about 32 KiB): one per thread, not per call.
crypt_data& Scratch() {
  static thread_local auto* data = new crypt_data();
  return *data;
}

bool CryptAlphabet(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/';
  });
}

// The whole hash, not only its setting: a truncated entry matches nothing
// and is a mistake worth a config error.
bool WellFormed(absl::string_view hash) {
  if (absl::StartsWith(hash, "$2")) {  // $2b$NN$ + 22 salt + 31 hash characters
    return hash.size() == 60 && absl::ascii_isdigit(static_cast<unsigned char>(hash[4])) &&
           absl::ascii_isdigit(static_cast<unsigned char>(hash[5])) && hash[6] == '$' &&
           CryptAlphabet(hash.substr(7));
  }
  std::vector<absl::string_view> parts =
      absl::StrSplit(hash, '$');  // "", "6", [rounds], salt, hash
  if (parts.size() != 4 && parts.size() != 5) return false;
  if (parts.size() == 5 && !absl::StartsWith(parts[2], "rounds=")) return false;
  size_t expected = parts[1] == "6" ? 86 : 43;
  return parts.back().size() == expected && CryptAlphabet(parts.back()) &&
         !parts[parts.size() - 2].empty();
}

}  // namespace

absl::Status CheckHtpasswdHash(absl::string_view hash) {
  auto refuse = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is refused: use bcrypt (htpasswd -B) or SHA-512 crypt (mkpasswd -m sha-512)"));
  };
  if (absl::StartsWith(hash, "$apr1$") || absl::StartsWith(hash, "$1$")) {
    return refuse("an MD5 hash");
  }
  if (absl::StartsWith(hash, "{SHA}")) return refuse("an unsalted SHA-1 hash");
  bool supported = absl::StartsWith(hash, "$2y$") || absl::StartsWith(hash, "$2b$") ||
                   absl::StartsWith(hash, "$2a$") || absl::StartsWith(hash, "$6$") ||
                   absl::StartsWith(hash, "$5$");
  if (!supported) return refuse("a plaintext password (or a DES crypt hash)");
  std::string text(hash);
  if (crypt_checksalt(text.c_str()) != CRYPT_SALT_OK || !WellFormed(hash)) {
    return absl::InvalidArgumentError("a malformed hash");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BasicAuthFile>> BasicAuthFile::Load(const std::string& path,
                                                                   const std::string& realm) {
  if (access(path.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' cannot be read"));
  }
  std::string text = ReadFileOrEmpty(path);
  auto file = std::unique_ptr<BasicAuthFile>(new BasicAuthFile());
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": not a user:hash line"));
    }
    absl::string_view user = line.substr(0, colon);
    absl::string_view hash = line.substr(colon + 1);
    if (absl::Status ok = CheckHtpasswdHash(hash); !ok.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": user '", user, "': ", ok.message()));
    }
    if (!file->hashes_.emplace(user, hash).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": user '", user, "' is listed twice"));
    }
    if (file->dummy_hash_.empty()) file->dummy_hash_ = std::string(hash);
  }
  if (file->hashes_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' lists no user"));
  }
  std::string shown = realm.empty() ? "restricted" : realm;
  file->challenge_ = absl::StrCat("WWW-Authenticate: Basic realm=\"", absl::CEscape(shown),
                                  "\", charset=\"UTF-8\"\r\n");
  file->digest_ = Sha256(text);
  OPENSSL_cleanse(text.data(), text.size());
  return file;
}

bool BasicAuthFile::Allows(absl::string_view authorization, int64_t now_ms) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.size() < 6 || !absl::EqualsIgnoreCase(authorization.substr(0, 6), "Basic ")) {
    return false;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripLeadingAsciiWhitespace(authorization.substr(6)), &decoded)) {
    return false;
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos || decoded.size() > 4096) return false;
  std::string key = Sha256(decoded);
  if (auto it = verified_.find(key); it != verified_.end() && now_ms - it->second < kRememberMs) {
    OPENSSL_cleanse(decoded.data(), decoded.size());
    return true;
  }
  std::string user = decoded.substr(0, colon);
  std::string password = decoded.substr(colon + 1);
  OPENSSL_cleanse(decoded.data(), decoded.size());
  auto it = hashes_.find(user);
  // An unknown user costs the same hash as a known one.
  const std::string& hash = it != hashes_.end() ? it->second : dummy_hash_;
  const char* result = crypt_r(password.c_str(), hash.c_str(), &Scratch());
  OPENSSL_cleanse(password.data(), password.size());
  bool match = result != nullptr && std::strlen(result) == hash.size() &&
               CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
  if (!match || it == hashes_.end()) return false;
  if (verified_.size() >= kMaxRemembered) verified_.clear();
  verified_[key] = now_ms;
  return true;
}

}  // namespace sockman
