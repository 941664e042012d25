// TLS end to end, against a CA and certificates the test makes with the
// openssl CLI: https with curl, text over TLS with `openssl s_client`, wss
// with Node's ws, a page and a WebSocket in headless Chromium, SNI,
// session resumption across workers, protocol and cipher policy (sslscan),
// handshake deadline, garbage on a TLS port, bad keys as config errors and
// certificates replaced by `reload`.
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

std::string Dir() {
  static const std::string* dir = [] {
    auto* d = new std::string(ShortTempDir());
    // A CA, a certificate for localhost/127.0.0.1/::1 (P-256), one for
    // other.test (RSA) for SNI, and a key that matches neither.
    EXPECT_TRUE(MakeTestCertificates(*d));
    std::string out = Shell(absl::StrCat(
        "cd ", *d, " && (",
        "openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj "
        "'/CN=other.test' && "
        "printf 'subjectAltName=DNS:other.test\\n' > other.ext && "
        "openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out other.pem "
        "-days 2 -extfile other.ext && "
        "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out stray.key"
        ") >/dev/null 2>&1 && echo made"));
    EXPECT_EQ(out, "made\n");
    return d;
  }();
  return *dir;
}

std::string TlsBlock(const std::string& extra = "") {
  return absl::StrCat("tls { cert_file: \"", Dir(), "/server.pem\" key_file: \"", Dir(),
                      "/server.key\" ", extra, "}");
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string www = Dir() + "/www";
    mkdir(www.c_str(), 0755);
    std::ofstream(www + "/big.bin", std::ios::binary) << std::string(3 << 20, 'z');
    auto started = SockmanProcess::Start(
        absl::StrCat(
            "service { name: \"web\" listen: \"https://127.0.0.1:0\" count: 2 reuse_port: true ",
            TlsBlock(absl::StrCat("certificate { server_name: \"other.test\" cert_file: \"", Dir(),
                                  "/other.pem\" key_file: \"", Dir(), "/other.key\" } ",
                                  "handshake_timeout_ms: 500 ")),
            " static { root: \"", www, "\" } }\n",
            "service { name: \"ws\" listen: \"wss://127.0.0.1:0\" limits { max_package_size: "
            "20000000 } ",
            TlsBlock(), " echo {} }\n", "service { name: \"ws6\" listen: \"wss://[::1]:0\" ",
            TlsBlock(), " echo {} }\n",
            "service { name: \"lines\" listen: \"text://127.0.0.1:0\" transport: SSL ", TlsBlock(),
            " echo { prefix: \"> \" } }\n"),
        "tls", Dir());
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }

  static std::string Url(const std::string& service, const std::string& path = "/") {
    return absl::StrCat("https://localhost:", server_->port(service), path);
  }
  // Runs openssl s_client against `service` with `flags`, feeding it `input`.
  static std::string SClient(const std::string& service, const std::string& flags,
                             const std::string& input = "") {
    return Shell(absl::StrCat("(printf '", input, "'; sleep 0.5) | timeout 10 openssl s_client ",
                              "-connect 127.0.0.1:", server_->port(service), " -CAfile ", Dir(),
                              "/ca.pem ", flags, " 2>&1"));
  }
  static SockmanProcess* server_;
};

SockmanProcess* TlsTest::server_ = nullptr;

TEST_F(TlsTest, CurlHttpsWithAlpnAndALargeFile) {
  EXPECT_EQ(Shell(absl::StrCat("curl -s --cacert ", Dir(),
                               "/ca.pem -o /dev/null -w "
                               "'%{http_code} %{http_version} %{size_download}' ",
                               Url("web", "/big.bin"))),
            absl::StrCat("200 1.1 ", 3 << 20));
  std::string verbose = Shell(absl::StrCat("curl -sv --cacert ", Dir(), "/ca.pem ",
                                           Url("web", "/big.bin"), " -o /dev/null 2>&1"));
  EXPECT_TRUE(absl::StrContains(verbose, "ALPN: server accepted http/1.1")) << verbose;
  EXPECT_TRUE(absl::StrContains(verbose, "TLSv1.3")) << verbose;
  // A range of the file arrives intact over TLS (no sendfile there).
  EXPECT_EQ(Shell(absl::StrCat("curl -s --cacert ", Dir(), "/ca.pem -r 1000-1009 ",
                               Url("web", "/big.bin"))),
            "zzzzzzzzzz");
}

TEST_F(TlsTest, OpensslClientOnTextOverTls) {
  std::string out = SClient("lines", "-brief", "hello\\n");
  EXPECT_TRUE(absl::StrContains(out, "> hello")) << out;
  std::string tls12 = SClient("lines", "-tls1_2 -brief", "x\\n");
  EXPECT_TRUE(absl::StrContains(tls12, "Protocol version: TLSv1.2")) << tls12;
  EXPECT_TRUE(absl::StrContains(tls12, "ECDHE")) << tls12;
  std::string tls11 = SClient("lines", "-tls1_1 -brief", "x\\n");
  EXPECT_FALSE(absl::StrContains(tls11, "Protocol version")) << tls11;
}

TEST_F(TlsTest, CertificateChosenBySni) {
  std::string other = SClient("web", "-servername other.test -brief");
  EXPECT_TRUE(absl::StrContains(other, "CN = other.test")) << other;
  EXPECT_TRUE(absl::StrContains(other, "Verification: OK")) << other;
  std::string fallback = SClient("web", "-servername unknown.test -brief");
  EXPECT_TRUE(absl::StrContains(fallback, "CN = localhost")) << fallback;
}

TEST_F(TlsTest, SessionsResumeAcrossWorkers) {
  // Ticket keys are made once in the master: every worker of the service
  // (count: 2) resumes every other's sessions, TLS 1.2 and 1.3.
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    std::string session = absl::StrCat(Dir(), "/session", version);
    SClient("web", absl::StrCat(version, " -sess_out ", session), "GET / HTTP/1.0\\r\\n\\r\\n");
    int reused = 0;
    for (int i = 0; i < 6; ++i) {
      std::string out = SClient("web", absl::StrCat(version, " -sess_in ", session),
                                "GET / HTTP/1.0\\r\\n\\r\\n");
      if (absl::StrContains(out, "Reused, ")) ++reused;
    }
    EXPECT_EQ(reused, 6) << version;
  }
}

TEST_F(TlsTest, OnlyModernProtocolsAndCiphers) {
  std::string scan = Shell(absl::StrCat("sslscan --no-colour 127.0.0.1:", server_->port("web")));
  ASSERT_TRUE(absl::StrContains(scan, "TLSv1.3   enabled")) << scan;
  EXPECT_TRUE(absl::StrContains(scan, "TLSv1.2   enabled")) << scan;
  for (const char* version : {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"}) {
    EXPECT_TRUE(absl::StrContains(scan, absl::StrCat(version, "     disabled")) ||
                absl::StrContains(scan, absl::StrCat(version, "   disabled")))
        << version << "\n"
        << scan;
  }
  for (absl::string_view line : absl::StrSplit(scan, '\n')) {
    if (!absl::StartsWith(line, "Accepted") && !absl::StartsWith(line, "Preferred")) continue;
    EXPECT_TRUE(absl::StrContains(line, "GCM") || absl::StrContains(line, "CHACHA20")) << line;
    for (const char* weak : {"RC4", "DES", "NULL", "EXP", "MD5", "CBC", "SHA1 "}) {
      EXPECT_FALSE(absl::StrContains(line, weak)) << line;
    }
  }
  EXPECT_TRUE(absl::StrContains(scan, "renegotiation not supported")) << scan;
}

TEST_F(TlsTest, GarbagePlainTextAndSilenceCloseOnlyThatConnection) {
  // Plain HTTP to the TLS port: that connection closes...
  TestClient plain(server_->port("web"));
  ASSERT_TRUE(plain.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(plain.WaitClosed(3000));
  // ...a truncated ClientHello waits for the handshake deadline (500 ms)...
  TestClient truncated(server_->port("web"));
  ASSERT_TRUE(truncated.Send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  TestClient silent(server_->port("web"));
  EXPECT_TRUE(truncated.WaitClosed(3000));
  EXPECT_TRUE(silent.WaitClosed(3000));
  // ...and the service is fine.
  EXPECT_EQ(Shell(absl::StrCat("curl -s --cacert ", Dir(),
                               "/ca.pem -o /dev/null -w "
                               "'%{http_code}' ",
                               Url("web", "/big.bin"))),
            "200");
}

TEST_F(TlsTest, NodeWsOverWss) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  ASSERT_NE(modules, nullptr) << "run through ./bazelw, which installs Node's ws";
  for (const auto& [service, host] :
       {std::pair<std::string, std::string>{"ws", "localhost"}, {"ws6", "[::1]"}}) {
    std::string mode = service == "ws" ? "plain" : "small";
    EXPECT_EQ(Shell(absl::StrCat("NODE_EXTRA_CA_CERTS=", Dir(), "/ca.pem NODE_PATH=", modules,
                                 " timeout 60 node integration/node/ws_echo_client.js wss://", host,
                                 ":", server_->port(service), "/ ", mode)),
              service == "ws" ? "ok 15\n" : "ok 13\n")
        << service;
  }
}

TEST_F(TlsTest, ChromiumLoadsAnHttpsPageThatUsesWss) {
  std::ofstream(Dir() + "/www/index.html")
      << "<!DOCTYPE html><html><body><div id=\"result\">pending</div><script>\n"
         "const ws = new WebSocket('wss://localhost:"
      << server_->port("ws")
      << "/');\n"
         "ws.onopen = () => ws.send('over tls');\n"
         "ws.onmessage = (e) => { document.getElementById('result').textContent = "
         "'wss said ' + e.data + ' on ' + location.protocol; ws.close(); };\n"
         "ws.onerror = () => { document.getElementById('result').textContent = 'error'; };\n"
         "</script></body></html>\n";
  // Trust the test's certificate by its public key (Chromium's own store is
  // not the system's).
  std::string spki =
      Shell(absl::StrCat("openssl x509 -in ", Dir(),
                         "/server.pem -pubkey -noout | openssl pkey -pubin -outform der "
                         "| openssl dgst -sha256 -binary | base64"));
  ASSERT_FALSE(spki.empty());
  spki.pop_back();
  std::string dom = ChromiumDumpDom(Url("web", "/index.html"), "wss said over tls",
                                    "--ignore-certificate-errors-spki-list=" + spki);
  EXPECT_TRUE(absl::StrContains(dom, "wss said over tls on https:")) << dom;
}

TEST(TlsConfigTest, BadKeysAndFilesAreConfigErrors) {
  std::string dir = Dir();
  auto check = [&](const std::string& tls) {
    std::string path = absl::StrCat(dir, "/check.textproto");
    std::ofstream(path) << "service { name: \"s\" listen: \"https://127.0.0.1:0\" " << tls
                        << " respond {} }\n";
    return RunSockman({"check", "-c", path});
  };
  CommandResult mismatch =
      check(absl::StrCat("tls { cert_file: \"server.pem\" key_file: \"", "stray.key\" }"));
  EXPECT_EQ(mismatch.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(mismatch.err, "stray.key does not match the certificate in"))
      << mismatch.err;
  EXPECT_TRUE(absl::StrContains(mismatch.err, "server.pem")) << mismatch.err;
  CommandResult missing = check("tls { cert_file: \"nope.pem\" key_file: \"server.key\" }");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(missing.err, "cannot read")) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, "nope.pem")) << missing.err;
  CommandResult not_pem = check("tls { cert_file: \"server.key\" key_file: \"server.key\" }");
  EXPECT_EQ(not_pem.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(not_pem.err, "is not a PEM certificate chain")) << not_pem.err;
  CommandResult no_tls = check("");
  EXPECT_EQ(no_tls.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(no_tls.err, "TLS needs a `tls { cert_file key_file }` block"))
      << no_tls.err;
}

TEST(TlsReloadTest, ReloadServesReplacedCertificates) {
  std::string dir = Dir();
  Shell(absl::StrCat("cp ", dir, "/server.pem ", dir, "/live.pem && cp ", dir, "/server.key ", dir,
                     "/live.key"));
  auto server = SockmanProcess::Start(
      absl::StrCat("service { name: \"web\" listen: \"https://127.0.0.1:0\" tls { cert_file: \"",
                   dir, "/live.pem\" key_file: \"", dir,
                   "/live.key\" } respond { body: \"ok\" } }\n"),
      "reload", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  auto subject = [&] {
    return Shell(absl::StrCat("echo | timeout 10 openssl s_client -connect 127.0.0.1:",
                              (*server)->port("web"), " -brief 2>&1 | grep -i 'peer certificate'"));
  };
  EXPECT_TRUE(absl::StrContains(subject(), "CN = localhost")) << subject();
  Shell(absl::StrCat("cp ", dir, "/other.pem ", dir, "/live.pem && cp ", dir, "/other.key ", dir,
                     "/live.key"));
  CommandResult reload = RunSockman({"reload", "-c", (*server)->config_path()});
  EXPECT_EQ(reload.exit_code, 0) << reload.err;
  std::string after;
  for (int i = 0; i < 50; ++i) {
    after = subject();
    if (absl::StrContains(after, "other.test")) break;
    usleep(100'000);
  }
  EXPECT_TRUE(absl::StrContains(after, "CN = other.test")) << after;
}

}  // namespace
}  // namespace sockman::testing
