#include "handlers/router/basic_auth.h"

#include <crypt.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string Hash(const std::string& password, const char* prefix, unsigned long cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, cost, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt, &data);
}

std::string File(const std::string& content) {
  const char* tmp = getenv("TEST_TMPDIR");
  static int n = 0;
  std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/htpasswd", ++n);
  std::ofstream(path) << content;
  return path;
}

std::string Basic(const std::string& credentials) {
  return "Basic " + absl::Base64Escape(credentials);
}

TEST(BasicAuthTest, BcryptAndShaCryptUsers) {
  std::string path = File(absl::StrCat("# users\nann:", Hash("s3cret", "$2b$", 5),
                                       "\nbob:", Hash("pa:ss word", "$6$", 5000), "\n\n"));
  auto auth = BasicAuthFile::Load(path, "admin area");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->Allows(Basic("ann:s3cret"), 0));
  EXPECT_TRUE((*auth)->Allows(Basic("bob:pa:ss word"), 0));  // a colon in the password
  EXPECT_TRUE((*auth)->Allows("basic   " + absl::Base64Escape("ann:s3cret"), 0));
  EXPECT_FALSE((*auth)->Allows(Basic("ann:wrong"), 0));
  EXPECT_FALSE((*auth)->Allows(Basic("carol:s3cret"), 0));  // unknown user
  EXPECT_FALSE((*auth)->Allows(Basic("ann"), 0));           // no colon
  EXPECT_FALSE((*auth)->Allows("Basic !!!", 0));            // not base64
  EXPECT_FALSE((*auth)->Allows("Bearer abc", 0));
  EXPECT_FALSE((*auth)->Allows("", 0));
  // A remembered good password: still good, and still only that one.
  EXPECT_TRUE((*auth)->Allows(Basic("ann:s3cret"), 30'000));
  EXPECT_FALSE((*auth)->Allows(Basic("ann:s3cret2"), 30'000));
  EXPECT_TRUE((*auth)->Allows(Basic("ann:s3cret"), 120'000));  // re-verified after a minute
  EXPECT_EQ((*auth)->challenge(),
            "WWW-Authenticate: Basic realm=\"admin area\", charset=\"UTF-8\"\r\n");
}

TEST(BasicAuthTest, WeakOrBadEntriesAreRefusedNamingTheLine) {
  auto error = [](const std::string& content) {
    auto auth = BasicAuthFile::Load(File(content), "");
    EXPECT_FALSE(auth.ok());
    std::string message(auth.status().message());
    return message.substr(message.find(':') + 1);  // without the path
  };
  EXPECT_EQ(error("ann:$apr1$abc$def\n"),
            "1: user 'ann': an MD5 hash is refused: use bcrypt (htpasswd -B) or SHA-512 crypt "
            "(mkpasswd -m sha-512)");
  EXPECT_TRUE(absl::StrContains(error("\nann:plaintext\n"), "2: user 'ann': a plaintext password"));
  EXPECT_TRUE(absl::StrContains(error("ann:{SHA}abc=\n"), "unsalted SHA-1"));
  EXPECT_TRUE(absl::StrContains(error("ann:$2b$05$tooshort\n"), "a malformed hash"));
  EXPECT_TRUE(absl::StrContains(error("no colon here\n"), "1: not a user:hash line"));
  std::string hash = Hash("x", "$2b$", 5);
  EXPECT_TRUE(absl::StrContains(error("a:" + hash + "\na:" + hash + "\n"), "listed twice"));
  EXPECT_TRUE(absl::StrContains(error("# nobody\n"), "lists no user"));
  EXPECT_FALSE(BasicAuthFile::Load("/nonexistent/htpasswd", "").ok());
}

}  // namespace
}  // namespace sockman
