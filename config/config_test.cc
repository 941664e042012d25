#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "config/config_file.h"
#include "config/validate.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

// Fields of a fake protocol: `http { }` is its own, max_header_size is
// checked and defaulted.
class FakeHttpFields : public ProtocolFields {
 public:
  std::vector<std::string> names() const override { return {"http", "access_log"}; }
  std::optional<FieldError> Check(const Service& service) const override {
    if (service.http().max_header_size() == 1) return FieldError{"http.max_header_size", "no"};
    return std::nullopt;
  }
  void FillDefaults(Service& service) const override {
    if (!service.http().has_max_header_size()) service.mutable_http()->set_max_header_size(77);
  }
};

// What the CLI's catalog says of the built-ins, without the registries.
class FakeSchemes : public SchemeCatalog {
 public:
  FakeSchemes() {
    Add("tcp", {.protocol = "tcp"});
    Add("text", {.protocol = "text", .datagrams = true});
    Add("frame", {.protocol = "frame", .datagrams = true});
    Add("http", {.protocol = "http", .pings = false, .fields = &http_});
    Add("websocket", {.protocol = "websocket"});
    Add("ws", {.protocol = "websocket"});
    Add("https", {.protocol = "http", .tls = true, .pings = false, .fields = &http_});
    Add("wss", {.protocol = "websocket", .tls = true});
    Add("udp", {.protocol = "udp", .stream = false, .datagrams = true});
  }
  const SchemeInfo* Find(absl::string_view scheme) const override {
    for (const auto& [name, info] : schemes_) {
      if (name == scheme) return &info;
    }
    return nullptr;
  }
  std::vector<std::string> Schemes() const override {
    std::vector<std::string> names;
    for (const auto& [name, info] : schemes_) names.push_back(name);
    return names;
  }

 private:
  void Add(std::string name, SchemeInfo info) { schemes_.emplace_back(std::move(name), info); }
  FakeHttpFields http_;
  std::vector<std::pair<std::string, SchemeInfo>> schemes_;
};

const FakeSchemes& Schemes() {
  static const FakeSchemes* schemes = new FakeSchemes();
  return *schemes;
}

std::string ErrorOf(absl::string_view text) {
  auto file = ConfigFile::Parse("t.textproto", text);
  if (!file.ok()) return std::string(file.status().message());
  absl::Status s = ValidateStructure(**file, Schemes());
  return s.ok() ? "" : std::string(s.message());
}

TEST(ConfigFileTest, SyntaxErrorHasLineAndColumn) {
  EXPECT_EQ(ErrorOf("service {\n  name: \"a\"\n  listen \"x\"\n}\n"),
            "t.textproto:3:10: Expected \":\", found \"\"x\"\".");
}

TEST(ConfigFileTest, UnknownFieldIsAnError) {
  std::string error = ErrorOf("service {\n  nmae: \"a\"\n}\n");
  EXPECT_EQ(error.rfind("t.textproto:2:7: ", 0), 0u) << error;
  EXPECT_NE(error.find("nmae"), std::string::npos) << error;
}

TEST(ConfigFileTest, UnknownFieldsSuggestTheFieldMeant) {
  auto message = [](const std::string& text) {
    return std::string(ConfigFile::Parse("t.textproto", text).status().message());
  };
  EXPECT_EQ(message("service { name: \"w\" cont: 2 }"),
            "t.textproto:1:25: Message type \"sockman.Service\" has no field named \"cont\". "
            "(did you mean \"count\"?)");
  // Workerman's camelCase names find their snake_case fields.
  EXPECT_TRUE(
      absl::EndsWith(message("service { reusePort: true }"), "(did you mean \"reuse_port\"?)"));
  EXPECT_TRUE(
      absl::EndsWith(message("global { log_levle: DEBUG }"), "(did you mean \"log_level\"?)"));
  // Nothing near: no guess.
  EXPECT_FALSE(absl::StrContains(message("service { zzzzzzzz: 1 }"), "did you mean"));
}

TEST(ConfigFileTest, UnknownEnumValueIsAnError) {
  std::string error =
      ErrorOf("service { name: \"a\" listen: \"text://127.0.0.1:1\" transport: QUIC echo {} }");
  EXPECT_NE(error.find("t.textproto:1:"), std::string::npos) << error;
  EXPECT_NE(error.find("QUIC"), std::string::npos) << error;
}

TEST(ValidateTest, ValidConfigPasses) {
  EXPECT_EQ(ErrorOf(R"(
    service { name: "echo" listen: "text://127.0.0.1:0" count: 2 echo { prefix: "hi " } }
    service { name: "v6" listen: "frame://[::1]:0" echo {} }
  )"),
            "");
}

TEST(ValidateTest, SemanticErrorsNameServiceFieldAndPosition) {
  EXPECT_EQ(ErrorOf("service {\n  name: \"web\"\n  listen: \"text://1.2.3:80\"\n  echo {}\n}\n"),
            "t.textproto:3:3: service 'web': listen: 'text://1.2.3:80': host '1.2.3' is not an "
            "IPv4 address, [IPv6] address or localhost (names are not resolved)");
}

TEST(ValidateTest, TwoServicesCannotShareAnAddressAndPort) {
  EXPECT_EQ(ErrorOf("service { name: \"a\" listen: \"text://127.0.0.1:7000\" echo {} }\n"
                    "service { name: \"b\" listen: \"text://127.0.0.1:7000\" echo {} }"),
            "t.textproto:2:21: service 'b': listen: port 7000 on 127.0.0.1 is already service "
            "'a''s (127.0.0.1:7000)");
  // A wildcard address covers every address of its family.
  EXPECT_NE(ErrorOf("service { name: \"a\" listen: \"text://0.0.0.0:7000\" echo {} }\n"
                    "service { name: \"b\" listen: \"text://127.0.0.1:7000\" echo {} }"),
            "");
  // Other ports, other addresses, TCP beside UDP, and port 0 are fine.
  EXPECT_EQ(ErrorOf("service { name: \"a\" listen: \"text://127.0.0.1:7000\" echo {} }\n"
                    "service { name: \"b\" listen: \"text://127.0.0.2:7000\" echo {} }\n"
                    "service { name: \"c\" listen: \"udp://127.0.0.1:7000\" echo {} }\n"
                    "service { name: \"d\" listen: \"text://127.0.0.1:0\" echo {} }\n"
                    "service { name: \"e\" listen: \"text://127.0.0.1:0\" echo {} }"),
            "");
}

TEST(ValidateTest, RejectsBadServices) {
  struct Case {
    const char* config;
    const char* error_part;
  } cases[] = {
      {"service { listen: \"text://127.0.0.1:1\" echo {} }", "service #1: name: is required"},
      {"service { name: \"a b\" listen: \"text://127.0.0.1:1\" echo {} }", "name: 'a b' must"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" echo {} }\n"
       "service { name: \"a\" listen: \"text://127.0.0.1:2\" echo {} }",
       "t.textproto:2:11: service 'a': name: duplicate service name"},
      {"service { name: \"a\" echo {} }", "listen: is required"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:65536\" echo {} }", "invalid port"},
      {"service { name: \"a\" listen: \"text://127.0.0.1\" echo {} }", "has no port"},
      {"service { name: \"a\" listen: \"127.0.0.1:80\" echo {} }", "has no scheme"},
      {"service { name: \"a\" listen: \"text://[::1:80\" echo {} }", "unterminated"},
      {"service { name: \"a\" listen: \"text://example.com:80\" echo {} }", "names are not"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" }", "no handler (set exactly one"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" count: 5000 echo {} }",
       "count: 5000 is too large"},
      {"service { name: \"a\" listen: \"udp://127.0.0.1:1\" limits { idle_timeout_ms: 5 } "
       "echo {} }",
       "limits.idle_timeout_ms: does not apply to UDP services"},
      {"service { name: \"a\" listen: \"udp://127.0.0.1:1\" limits { max_send_buffer_size: 5 } "
       "echo {} }",
       "limits.max_send_buffer_size: does not apply to UDP services"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" transport: SSL echo {} }",
       "transport: TLS needs a `tls { cert_file key_file }` block"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" heartbeat {} echo {} }",
       "heartbeat.interval_ms: is required"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" heartbeat { interval_ms: 5 } "
       "echo {} }",
       "heartbeat.interval_ms: must be between 10 and 86400000"},
      {"service { name: \"a\" listen: \"http://127.0.0.1:1\" heartbeat { interval_ms: 1000 "
       "ping_data: \"p\" } respond {} }",
       "heartbeat.ping_data: http:// services cannot push pings"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" limits { idle_timeout_ms: "
       "100000000 } echo {} }",
       "limits.idle_timeout_ms: must be at most 86400000"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" tls {} echo {} }",
       "tls: only applies with transport: SSL, https:// or wss://"},
      {"service { name: \"a\" listen: \"https://127.0.0.1:1\" tls { cert_file: \"c\" } "
       "respond {} }",
       "tls.key_file: is required"},
      {"service { name: \"a\" listen: \"wss://127.0.0.1:1\" tls { cert_file: \"c\" key_file: "
       "\"k\" certificate { cert_file: \"c\" } } echo {} }",
       "tls.certificate: needs server_name, cert_file and key_file"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" ipv6_only: true echo {} }",
       "ipv6_only: only applies"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" group: \"x\" echo {} }",
       "group: needs user"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\"\n"
       "  limits { max_package_size: 0 } echo {} }",
       "t.textproto:2:12: service 'a': limits.max_package_size: must be between"},
      {"global { log_file: \"\" }\n"
       "service { name: \"a\" listen: \"text://127.0.0.1:1\" echo {} }",
       "t.textproto:1:10: global: log_file: must be a file path"},
      {"", "no service defined"},
      // What the catalog says of each scheme decides these.
      {"service { name: \"a\" listen: \"ws://127.0.0.1:1\" transport: UDP echo {} }",
       "transport: UDP carries udp://, text:// and frame:// services, not ws://"},
      {"service { name: \"a\" listen: \"udp://127.0.0.1:1\" transport: TCP echo {} }",
       "transport: udp:// services are datagrams (UDP)"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" transport: UDP http {} echo {} }",
       "http: does not apply to UDP services"},
      {"service { name: \"a\" listen: \"text://127.0.0.1:1\" access_log: \"x\" echo {} }",
       "access_log: only applies to http:// services"},
      {"service { name: \"a\" listen: \"https://127.0.0.1:1\" tls { cert_file: \"c\" "
       "key_file: \"k\" } http { max_header_size: 1 } respond {} }",
       "http.max_header_size: no"},
  };
  for (const Case& c : cases) {
    std::string error = ErrorOf(c.config);
    EXPECT_NE(error.find(c.error_part), std::string::npos)
        << "config: " << c.config << "\nerror: " << error;
  }
}

TEST(ListenUriTest, ParsesForms) {
  auto uri = ParseListenUri("WS://[::]:8080");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->scheme, "ws");
  EXPECT_EQ(uri->host, "::");
  EXPECT_TRUE(uri->ipv6);
  EXPECT_EQ(uri->ToString(), "ws://[::]:8080");
  uri = ParseListenUri("text://localhost:0");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->host, "127.0.0.1");
  EXPECT_EQ(uri->port, 0);
  EXPECT_FALSE(ParseListenUri("text://127.0.0.1:-1").ok());
  EXPECT_FALSE(ParseListenUri("text://127.0.0.1:80/path").ok());
  EXPECT_FALSE(ParseListenUri("text://:80").ok());
}

TEST(WithDefaultsTest, FillsEveryDefault) {
  auto file = ConfigFile::Parse(
      "t", "service { name: \"a\" listen: \"text://127.0.0.1:1\" count: 0 echo {} }");
  ASSERT_TRUE(file.ok());
  Config resolved = WithDefaults((*file)->config(), Schemes(), 3);
  const Service& s = resolved.service(0);
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.limits().max_package_size(), kDefaultMaxPackageSize);
  EXPECT_EQ(s.limits().max_send_buffer_size(), kDefaultMaxSendBufferSize);
  EXPECT_TRUE(s.reloadable());
  EXPECT_EQ(resolved.global().stop_timeout_ms(), kDefaultStopTimeoutMs);
  EXPECT_EQ(s.transport(), TCP);
  EXPECT_FALSE(s.has_http());
}

TEST(WithDefaultsTest, TransportAndProtocolDefaultsComeFromTheScheme) {
  auto file =
      ConfigFile::Parse("t",
                        "service { name: \"a\" listen: \"https://127.0.0.1:1\" respond {} }\n"
                        "service { name: \"b\" listen: \"udp://127.0.0.1:1\" echo {} }");
  ASSERT_TRUE(file.ok());
  Config resolved = WithDefaults((*file)->config(), Schemes(), 1);
  EXPECT_EQ(resolved.service(0).transport(), SSL);
  EXPECT_EQ(resolved.service(0).http().max_header_size(), 77u);
  EXPECT_EQ(resolved.service(1).transport(), UDP);
}

}  // namespace
}  // namespace sockman
