#include "protocols/binding.h"

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "protocols/http/http_codec.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {
namespace {

TEST(RegisteredSchemesTest, EverySchemeWithItsProtocolsRules) {
  const SchemeCatalog& schemes = RegisteredSchemes();
  EXPECT_EQ(absl::StrJoin(schemes.Schemes(), ", "),
            "tcp, text, frame, framing, http, websocket, ws, https, wss, udp");
  const SchemeInfo* https = schemes.Find("https");
  ASSERT_NE(https, nullptr);
  EXPECT_EQ(https->protocol, "http");
  EXPECT_TRUE(https->tls);
  EXPECT_FALSE(https->pings);
  ASSERT_NE(https->fields, nullptr);
  EXPECT_EQ(https->fields->names(), (std::vector<std::string>{"http", "access_log", "real_ip"}));
  const SchemeInfo* ws = schemes.Find("ws");
  ASSERT_NE(ws, nullptr);
  EXPECT_EQ(ws->protocol, "websocket");
  EXPECT_FALSE(ws->tls);
  EXPECT_EQ(ws->fields, schemes.Find("websocket")->fields);
  const SchemeInfo* udp = schemes.Find("udp");
  ASSERT_NE(udp, nullptr);
  EXPECT_FALSE(udp->stream);
  EXPECT_TRUE(udp->datagrams);
  EXPECT_EQ(udp->fields, nullptr);
  EXPECT_TRUE(schemes.Find("text")->datagrams);
  EXPECT_EQ(schemes.Find("gopher"), nullptr);
}

TEST(HttpBindingTest, ChecksFillsAndBuildsItsOptions) {
  const ProtocolBinding* http = BindingRegistry::Global().Find("http");
  ASSERT_NE(http, nullptr);
  Service service;
  service.mutable_http()->set_max_header_size(100);
  std::optional<FieldError> error = http->Check(service);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "http.max_header_size");
  service.mutable_http()->clear_max_header_size();
  service.set_access_log("");
  ASSERT_TRUE(http->Check(service).has_value());
  service.clear_access_log();
  EXPECT_FALSE(http->Check(service).has_value());
  http->FillDefaults(service);
  EXPECT_EQ(service.http().max_header_size(), 16384u);
  EXPECT_EQ(service.http().header_timeout_ms(), 10000u);
  service.mutable_http()->set_strict_line_endings(true);
  std::unique_ptr<const ProtocolOptions> options = http->Options(service);
  const HttpOptions* built = OptionsAs<HttpOptions>(options.get());
  ASSERT_NE(built, nullptr);
  EXPECT_EQ(built->max_header_size, 16384u);
  EXPECT_TRUE(built->strict_line_endings);
}

TEST(WebSocketBindingTest, ChecksAndBuildsItsOptions) {
  const ProtocolBinding* ws = BindingRegistry::Global().Find("websocket");
  ASSERT_NE(ws, nullptr);
  Service service;
  EXPECT_EQ(ws->Options(service), nullptr);  // no block: the codec's defaults
  service.mutable_websocket()->set_path("chat");
  ASSERT_TRUE(ws->Check(service).has_value());
  service.mutable_websocket()->set_path("/chat");
  service.mutable_websocket()->set_binary(true);
  service.mutable_websocket()->add_subprotocols("v2");
  EXPECT_FALSE(ws->Check(service).has_value());
  std::unique_ptr<const ProtocolOptions> options = ws->Options(service);
  const WebSocketOptions* built = OptionsAs<WebSocketOptions>(options.get());
  ASSERT_NE(built, nullptr);
  EXPECT_EQ(built->path, "/chat");
  EXPECT_TRUE(built->binary);
  EXPECT_EQ(built->subprotocols, std::vector<std::string>{"v2"});
  EXPECT_EQ(OptionsAs<HttpOptions>(options.get()), nullptr);  // one type check
}

TEST(UnpackProtocolOptionsTest, TakesItsOwnTypeOnly) {
  Service service;
  Http http;
  EXPECT_FALSE(UnpackProtocolOptions(service, http).has_value());  // absent: defaults
  EchoOptions other;
  other.set_prefix("x");
  service.mutable_protocol_options()->PackFrom(other);
  std::optional<FieldError> error = UnpackProtocolOptions(service, http);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "protocol_options");
  EXPECT_EQ(error->message, "expects sockman.Http, not 'sockman.EchoOptions'");
  Http mine;
  mine.set_max_header_size(512);
  service.mutable_protocol_options()->PackFrom(mine);
  EXPECT_FALSE(UnpackProtocolOptions(service, http).has_value());
  EXPECT_EQ(http.max_header_size(), 512u);
}

}  // namespace
}  // namespace sockman
