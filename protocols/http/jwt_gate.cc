#include "protocols/http/jwt_gate.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "protocols/http/syntax.h"

namespace sockman {
namespace {

// The token a request carries, where the options look, or "".
std::string FindToken(const HttpRequest& request, const JwtGateOptions& options) {
  absl::string_view authorization = request.Header("Authorization");
  if (authorization.size() > 7 && absl::EqualsIgnoreCase(authorization.substr(0, 7), "Bearer ")) {
    return std::string(TrimOws(authorization.substr(7)));
  }
  if (!options.cookie.empty()) {
    for (const auto& [name, value] : request.headers) {
      if (!absl::EqualsIgnoreCase(name, "Cookie")) continue;
      absl::string_view token = CookieValue(value, options.cookie);
      if (!token.empty()) return std::string(token);
    }
  }
  std::string token;
  if (!options.query_parameter.empty() &&
      QueryParameter(request.query, options.query_parameter, token) && !token.empty()) {
    return token;
  }
  if (!options.subprotocol.empty()) {
    bool next = false;
    for (const auto& [name, value] : request.headers) {
      if (!absl::EqualsIgnoreCase(name, "Sec-WebSocket-Protocol")) continue;
      for (absl::string_view entry : absl::StrSplit(value, ',')) {
        entry = TrimOws(entry);
        if (next) return std::string(entry);
        next = entry == options.subprotocol;
      }
    }
  }
  return {};
}

}  // namespace

JwtGate::Verdict JwtGate::Admit(const HttpRequest& request, int64_t now) const {
  Verdict verdict;
  std::string token = FindToken(request, options_);
  if (token.empty()) {
    verdict.status = 401;
    verdict.reason = "no token";
    verdict.headers = "WWW-Authenticate: Bearer realm=\"sockman\"\r\n";
    return verdict;
  }
  absl::StatusOr<JwtClaims> claims = verifier_->Verify(token, now);
  if (!claims.ok()) {
    verdict.status = 401;
    verdict.reason = std::string(claims.status().message());
    verdict.headers =
        absl::StrCat("WWW-Authenticate: Bearer realm=\"sockman\", ",
                     "error=\"invalid_token\", error_description=\"", verdict.reason, "\"\r\n");
    return verdict;
  }
  verdict.identity = std::make_unique<ClientIdentity>();
  verdict.identity->uid = std::move(claims->uid);
  verdict.identity->groups = std::move(claims->groups);
  verdict.identity->restrict_groups = options_.restrict_groups && claims->has_groups;
  verdict.identity->claims = std::move(claims->payload);
  return verdict;
}

}  // namespace sockman
