// JWT authentication at connect on the real binary, with keys made and
// tokens signed by the openssl command line: a websocket:// service and
// routes refuse (401, before any upgrade) what lacks a valid token, admit
// RS256, PS256, ES256, EdDSA and HS256 tokens from the header, a query
// parameter, a cookie or the Sec-WebSocket-Protocol entry, and bind the
// token's uid and groups to the client.
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();
    Shell(absl::StrCat(
        "cd ", dir_,
        " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key"
        " && openssl pkey -in rsa.key -pubout -out rsa.pub"
        " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key"
        " && openssl pkey -in ec.key -pubout -out ec.pub"
        " && openssl genpkey -algorithm ED25519 -out ed.key"
        " && openssl pkey -in ed.key -pubout -out ed.pub 2>&1"));
    std::ofstream(dir_ + "/secret") << std::string(48, 'q') << "\n";
    auto server = SockmanProcess::Start(R"(
service {
  name: "chat" listen: "ws://127.0.0.1:0"
  jwt {
    public_key_file: "rsa.pub" public_key_file: "ec.pub" public_key_file: "ed.pub"
    secret_file: "secret" audience: "chat" groups_claim: "rooms"
    query_parameter: "token" subprotocol: "access_token"
  }
  broadcast {}
}
service { name: "api" listen: "http://127.0.0.1:0" push { service: "chat" } }
service {
  name: "site" listen: "http://127.0.0.1:0"
  route { name: "home" match { prefix: "/" } respond { body: "public\n" } }
  route { name: "private" match { prefix: "/private" }
    jwt { secret_file: "secret" require_exp: true } respond { body: "secret\n" } }
  route { name: "live" match { path: "/live" } websocket {}
    jwt { public_key_file: "ec.pub" cookie: "session" groups_claim: "rooms" restrict_groups: true }
    echo {} }
}
)",
                                        "jwt", dir_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // A token signed by openssl: alg RS256, PS256, ES256, EdDSA or HS256.
  std::string Token(const std::string& alg, const std::string& claims) {
    std::string input =
        absl::StrCat(B64(absl::StrCat(R"({"alg":")", alg, R"(","typ":"JWT"})")), ".", B64(claims));
    std::ofstream(dir_ + "/input", std::ios::binary) << input;
    std::string sign;
    if (alg == "RS256") {
      sign = "openssl dgst -sha256 -sign rsa.key -out sig input";
    } else if (alg == "PS256") {
      sign =
          "openssl dgst -sha256 -sign rsa.key -sigopt rsa_padding_mode:pss "
          "-sigopt rsa_pss_saltlen:digest -out sig input";
    } else if (alg == "ES256") {
      sign = "openssl dgst -sha256 -sign ec.key -out sig input";
    } else if (alg == "EdDSA") {
      sign = "openssl pkeyutl -sign -inkey ed.key -rawin -in input -out sig";
    } else {
      sign = absl::StrCat("openssl dgst -sha256 -mac HMAC -macopt key:", std::string(48, 'q'),
                          " -binary -out sig input");
    }
    Shell(absl::StrCat("cd ", dir_, " && ", sign, " 2>&1"));
    std::string signature = ReadFile(dir_ + "/sig");
    if (alg == "ES256") {  // DER (openssl) -> R || S (JWS)
      ECDSA_SIG* sig = ECDSA_SIG_from_bytes(reinterpret_cast<const uint8_t*>(signature.data()),
                                            signature.size());
      std::string raw(64, '\0');
      BN_bn2bin_padded(reinterpret_cast<uint8_t*>(raw.data()), 32, ECDSA_SIG_get0_r(sig));
      BN_bn2bin_padded(reinterpret_cast<uint8_t*>(raw.data()) + 32, 32, ECDSA_SIG_get0_s(sig));
      ECDSA_SIG_free(sig);
      signature = raw;
    }
    return absl::StrCat(input, ".", B64(signature));
  }

  // Sends an upgrade request with `extra` header lines; returns the
  // response head, and keeps the connection for the test.
  std::string Upgrade(uint16_t port, const std::string& target, const std::string& extra = "") {
    client_ = std::make_unique<TestClient>(port);
    client_->Send(
        absl::StrCat("GET ", target,
                     " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n",
                     extra, "\r\n"));
    std::string head;
    for (std::string line = client_->ReadLine(5000); !line.empty() && line != "\r";
         line = client_->ReadLine(5000)) {
      head += line + "\n";
    }
    return head;
  }

  std::string Api(const std::string& path) {
    return Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", server_->port("api"), path));
  }

  const std::string kClaims = R"({"sub":"alice","aud":"chat","rooms":["news"],"exp":4000000000})";
  std::string dir_;
  std::unique_ptr<SockmanProcess> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(JwtTest, WebSocketServiceAdmitsOnlyValidTokensAndBindsUidAndGroups) {
  uint16_t chat = server_->port("chat");
  std::string refused = Upgrade(chat, "/");
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 401")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "WWW-Authenticate: Bearer realm=\"sockman\"")) << refused;

  for (const std::string alg : {"RS256", "PS256", "ES256", "EdDSA", "HS256"}) {
    std::string head = Upgrade(chat, "/", "Authorization: Bearer " + Token(alg, kClaims) + "\r\n");
    EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 101")) << alg << ": " << head;
  }
  // The last client is alice, placed in "news".
  std::string uid = Api("/uids/alice");
  EXPECT_TRUE(absl::StrContains(uid, R"("online":true)")) << uid;
  std::string news = Api("/groups/news");
  EXPECT_TRUE(absl::StrContains(news, R"("count":1)")) << news;

  // From the query parameter, and from the subprotocol list (the 101 names the marker).
  std::string bob = Token("ES256", R"({"sub":"bob","aud":"chat"})");
  EXPECT_TRUE(absl::StartsWith(Upgrade(chat, "/?token=" + bob), "HTTP/1.1 101"));
  std::string head = Upgrade(chat, "/", "Sec-WebSocket-Protocol: access_token, " + bob + "\r\n");
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 101")) << head;
  EXPECT_TRUE(absl::StrContains(head, "Sec-WebSocket-Protocol: access_token\r")) << head;
  EXPECT_TRUE(absl::StrContains(Api("/uids/bob"), R"("online":true)"));

  // Refused, each with its reason: expired, wrong audience, alg none, an
  // HS256 token made with the RSA public key as its secret, garbage.
  std::string pem = ReadFile(dir_ + "/rsa.pub");
  std::string input = absl::StrCat(B64(R"({"alg":"HS256"})"), ".", B64(kClaims));
  std::ofstream(dir_ + "/input", std::ios::binary) << input;
  std::ofstream(dir_ + "/pubkey", std::ios::binary) << pem;
  Shell(absl::StrCat("cd ", dir_,
                     " && openssl dgst -sha256 -mac HMAC -macopt hexkey:$(xxd -p pubkey | tr -d "
                     "'\\n') -binary -out sig input 2>&1"));
  std::string confused = absl::StrCat(input, ".", B64(ReadFile(dir_ + "/sig")));
  struct Case {
    std::string token, reason;
  };
  for (const Case& bad : std::vector<Case>{
           {Token("RS256", R"({"sub":"x","aud":"chat","exp":1000})"), "token expired"},
           {Token("RS256", R"({"sub":"x","aud":"other"})"), "audience not accepted"},
           {absl::StrCat(B64(R"({"alg":"none"})"), ".", B64(kClaims), "."),
            "token algorithm not accepted"},
           {confused, "bad signature"},
           {"not.a.token", "malformed token"},
           {B64("{") + "." + B64("{}") + ".AAAA", "malformed token header"},
       }) {
    std::string got = Upgrade(chat, "/?token=" + bad.token);
    EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 401")) << bad.reason << ": " << got;
    EXPECT_TRUE(absl::StrContains(got, "error=\"invalid_token\"")) << got;
    EXPECT_TRUE(absl::StrContains(got, bad.reason)) << got;
  }
  // The sockman process is still serving.
  EXPECT_TRUE(absl::StartsWith(Upgrade(chat, "/?token=" + bob), "HTTP/1.1 101"));
}

TEST_F(JwtTest, RoutesRefuseBeforeTheirHandler) {
  uint16_t site = server_->port("site");
  auto curl = [&](const std::string& args) {
    return Shell(absl::StrCat("curl -s -m 5 -w ' %{http_code}' ", args));
  };
  EXPECT_EQ(curl(absl::StrCat("http://127.0.0.1:", site, "/")), "public\n 200");
  EXPECT_EQ(curl(absl::StrCat("-o /dev/null http://127.0.0.1:", site, "/private")), " 401");
  std::string hs = Token("HS256", R"({"sub":"x","exp":4000000000})");
  EXPECT_EQ(
      curl(absl::StrCat("-H 'Authorization: Bearer ", hs, "' http://127.0.0.1:", site, "/private")),
      "secret\n 200");
  // require_exp: a token without exp is refused.
  std::string forever = Token("HS256", R"({"sub":"x"})");
  EXPECT_EQ(curl(absl::StrCat("-o /dev/null -H 'Authorization: Bearer ", forever,
                              "' http://127.0.0.1:", site, "/private")),
            " 401");
  // The WebSocket route: ES256 only (its key), from a cookie.
  EXPECT_TRUE(absl::StartsWith(Upgrade(site, "/live"), "HTTP/1.1 401"));
  std::string es = Token("ES256", R"({"sub":"carol","rooms":["a"]})");
  std::string head = Upgrade(site, "/live", "Cookie: theme=dark; session=" + es + "\r\n");
  ASSERT_TRUE(absl::StartsWith(head, "HTTP/1.1 101")) << head;
  client_->Send(std::string("\x81\x82\0\0\0\0hi", 8));
  EXPECT_EQ(client_->ReadExactly(4), "\x81\x02hi");
  EXPECT_TRUE(absl::StartsWith(
      Upgrade(site, "/live", "Cookie: session=" + Token("RS256", R"({"sub":"x"})") + "\r\n"),
      "HTTP/1.1 401"));
}

// auth_timeout_ms: a client that neither brought a token nor got a uid in
// time is closed with 1008; a uid bound through the push API stops the clock.
TEST(AuthTimeoutTest, UnauthenticatedClientsAreClosedWith1008) {
  auto server = SockmanProcess::Start(R"(
service { name: "lobby" listen: "ws://127.0.0.1:0"
  broadcast { auth_timeout_ms: 400 notify_join: "join {client_id}" } }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "lobby" } }
service { name: "metrics" listen: "http://127.0.0.1:0" metrics {} }
)",
                                      "auth_timeout", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  auto open = [&](TestClient& client) {
    client.Send(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    for (std::string line = client.ReadLine(); line != "\r" && !client.eof();
         line = client.ReadLine()) {
    }
    std::string header = client.ReadExactly(2);  // "join ID" (text, < 126 bytes)
    return client.ReadExactly(static_cast<unsigned char>(header[1]));
  };
  TestClient anonymous((*server)->port("lobby")), bound((*server)->port("lobby"));
  open(anonymous);
  std::string id = open(bound).substr(5);
  std::string bind = Shell(absl::StrCat("curl -s -m 5 -X PUT --data-binary dave http://127.0.0.1:",
                                        (*server)->port("api"), "/clients/", id, "/uid"));
  EXPECT_TRUE(absl::StrContains(bind, "1")) << bind;
  // The anonymous one (after bound's join notice): a close frame, 1008
  // with the reason, then EOF.
  std::string frame;
  for (int i = 0; i < 3 && (frame.empty() || frame[0] != '\x88'); ++i) {
    frame = anonymous.ReadExactly(2, 3000);
    if (frame.size() < 2) break;
    frame += anonymous.ReadExactly(static_cast<unsigned char>(frame[1]) & 0x7f, 3000);
  }
  EXPECT_EQ(frame, std::string("\x88\x18\x03\xf0"
                               "authentication timeout",
                               26));
  EXPECT_TRUE(anonymous.WaitClosed(3000));
  // The bound one stays, past the deadline.
  usleep(600'000);
  bound.Send(std::string("\x81\x82\0\0\0\0hi", 8));
  EXPECT_EQ(bound.ReadExactly(4, 3000), "\x81\x02hi");
  anonymous.Close();  // its side of the close: the server's connection ends
  auto scrape = [&] {
    return Shell(
        absl::StrCat("curl -s -m 5 http://127.0.0.1:", (*server)->port("metrics"), "/metrics"));
  };
  const std::string closed =
      "sockman_connections_closed_total{service=\"lobby\",worker=\"0\",reason=\"auth\"} 1\n";
  std::string metrics = PollUntilContains(scrape, closed);
  EXPECT_TRUE(absl::StrContains(metrics, closed)) << metrics;
  EXPECT_TRUE(
      absl::StrContains(metrics, "sockman_auth_timeouts_total{service=\"lobby\",worker=\"0\"} 1\n"))
      << metrics;
}

}  // namespace
}  // namespace sockman::testing
