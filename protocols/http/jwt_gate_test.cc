#include "protocols/http/jwt_gate.h"

#include <openssl/hmac.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

const std::string kSecret(32, 'k');

std::string Token(const std::string& claims) {
  std::string input = absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"HS256"})"), ".",
                                   absl::WebSafeBase64Escape(claims));
  uint8_t mac[32];
  unsigned size = 0;
  HMAC(EVP_sha256(), kSecret.data(), kSecret.size(), reinterpret_cast<const uint8_t*>(input.data()),
       input.size(), mac, &size);
  return absl::StrCat(
      input, ".", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(mac), size)));
}

JwtGate Gate(JwtGateOptions options) {
  JwtKeys keys;
  EXPECT_TRUE(keys.AddSecret(kSecret).ok());
  JwtRules rules;
  rules.groups_claim = "rooms";
  return JwtGate(std::make_unique<JwtVerifier>(std::move(keys), rules), std::move(options));
}

TEST(JwtGateTest, FindsTheTokenWhereConfigured) {
  JwtGate gate =
      Gate({.cookie = "session", .query_parameter = "token", .subprotocol = "access_token"});
  std::string token = Token(R"({"sub":"alice","rooms":["a"]})");
  std::string bearer = "Bearer " + token, cookie = "x=1; session=" + token,
              query = "a=b&token=" + token, protocol = "chat, access_token, " + token;
  for (HttpRequest request : {
           HttpRequest{.headers = {{"Authorization", bearer}}},
           HttpRequest{.headers = {{"Cookie", cookie}}},
           HttpRequest{.query = query},
           HttpRequest{.headers = {{"Sec-WebSocket-Protocol", protocol}}},
       }) {
    JwtGate::Verdict verdict = gate.Admit(request, 1000);
    ASSERT_EQ(verdict.status, 0) << verdict.reason;
    ASSERT_NE(verdict.identity, nullptr);
    EXPECT_EQ(verdict.identity->uid, "alice");
    EXPECT_EQ(verdict.identity->groups, (std::vector<std::string>{"a"}));
    EXPECT_FALSE(verdict.identity->restrict_groups);
  }
}

TEST(JwtGateTest, RefusalsSayWhy) {
  JwtGate gate = Gate({});  // the Authorization header only
  JwtGate::Verdict none = gate.Admit(HttpRequest{.query = "token=" + Token("{}")}, 1000);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.reason, "no token");
  EXPECT_EQ(none.headers, "WWW-Authenticate: Bearer realm=\"sockman\"\r\n");
  std::string bad = "Bearer " + Token(R"({"exp":10})");
  JwtGate::Verdict expired = gate.Admit(HttpRequest{.headers = {{"Authorization", bad}}}, 1000);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.reason, "token expired");
  EXPECT_TRUE(absl::StrContains(expired.headers, "error=\"invalid_token\"")) << expired.headers;
  EXPECT_EQ(expired.identity, nullptr);
}

TEST(JwtGateTest, RestrictGroupsOnlyWithTheClaim) {
  JwtGate gate = Gate({.restrict_groups = true});
  std::string with = "Bearer " + Token(R"({"rooms":"a b"})");
  std::string without = "Bearer " + Token("{}");
  EXPECT_TRUE(gate.Admit(HttpRequest{.headers = {{"Authorization", with}}}, 1000)
                  .identity->restrict_groups);
  EXPECT_FALSE(gate.Admit(HttpRequest{.headers = {{"Authorization", without}}}, 1000)
                   .identity->restrict_groups);
}

}  // namespace
}  // namespace sockman
