// TLS client certificates (mTLS) on the real binary, with curl and
// openssl s_client: REQUIRE refuses clients without a certificate or with
// one from another authority, OPTIONAL serves both, and the verified
// subject and fingerprint reach exec's environment.
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();
    ASSERT_TRUE(MakeTestCertificates(dir_));
    // alice's certificate from the test CA; mallory's from a CA nobody trusts.
    std::string made = Shell(absl::StrCat(
        "cd ", dir_,
        " && printf 'extendedKeyUsage=clientAuth\\n' > client.ext"
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout alice.key"
        " -out alice.csr -subj '/O=Example/CN=alice' 2>/dev/null"
        " && openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -out alice.pem -days 2 -extfile client.ext 2>/dev/null"
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        " -keyout rogue.key -out rogue.pem -days 2 -subj '/CN=rogue CA' 2>/dev/null"
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mallory.key"
        " -out mallory.csr -subj '/CN=mallory' 2>/dev/null"
        " && openssl x509 -req -in mallory.csr -CA rogue.pem -CAkey rogue.key -CAcreateserial"
        " -out mallory.pem -days 2 -extfile client.ext 2>/dev/null && echo made"));
    ASSERT_EQ(made, "made\n");
    auto server = SockmanProcess::Start(R"(
service { name: "required" listen: "https://127.0.0.1:0"
  tls { cert_file: "server.pem" key_file: "server.key" client_ca_file: "ca.pem" }
  respond { body: "hello client\n" } }
service { name: "optional" listen: "https://127.0.0.1:0"
  tls { cert_file: "server.pem" key_file: "server.key" client_ca_file: "ca.pem"
        verify_client: OPTIONAL }
  respond { body: "hello anyone\n" } }
service { name: "shell" listen: "text://127.0.0.1:0" transport: SSL
  tls { cert_file: "server.pem" key_file: "server.key" client_ca_file: "ca.pem" }
  exec { command: "/bin/sh" args: ["-c", "echo \"dn=$SSL_CLIENT_S_DN fp=$SSL_CLIENT_FINGERPRINT\""] } }
)",
                                        "mtls", dir_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::string Curl(const std::string& service, const std::string& cert) {
    std::string client = cert.empty() ? ""
                                      : absl::StrCat(" --cert ", dir_, "/", cert, ".pem --key ",
                                                     dir_, "/", cert, ".key");
    return Shell(absl::StrCat("curl -s -m 5 -w '%{http_code}' --cacert ", dir_, "/ca.pem", client,
                              " https://localhost:", server_->port(service), "/"));
  }
  std::string dir_;
  std::unique_ptr<SockmanProcess> server_;
};

TEST_F(MtlsTest, RequireAndOptional) {
  EXPECT_EQ(Curl("required", "alice"), "hello client\n200");
  EXPECT_EQ(Curl("required", ""), "000");         // no certificate: the handshake fails
  EXPECT_EQ(Curl("required", "mallory"), "000");  // signed by an authority not trusted
  EXPECT_EQ(Curl("optional", ""), "hello anyone\n200");
  EXPECT_EQ(Curl("optional", "alice"), "hello anyone\n200");
  EXPECT_EQ(Curl("optional", "mallory"), "000");  // presented, so verified
}

TEST_F(MtlsTest, ExecSeesTheVerifiedSubjectAndFingerprint) {
  std::string fingerprint = Shell(absl::StrCat("openssl x509 -in ", dir_,
                                               "/alice.pem -noout -fingerprint -sha256 | "
                                               "sed 's/.*=//; s/://g' | tr A-F a-f"));
  fingerprint = std::string(absl::StripAsciiWhitespace(fingerprint));
  ASSERT_EQ(fingerprint.size(), 64u) << fingerprint;
  std::string out = Shell(absl::StrCat(
      "(echo hi; sleep 1) | timeout 5 openssl s_client -quiet -connect 127.0.0.1:", server_->port("shell"),
      " -CAfile ", dir_, "/ca.pem -cert ", dir_, "/alice.pem -key ", dir_,
      "/alice.key 2>/dev/null"));
  EXPECT_TRUE(absl::StrContains(out, "dn=CN=alice,O=Example fp=" + fingerprint)) << out;
}

}  // namespace
}  // namespace sockman::testing
