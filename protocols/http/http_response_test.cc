#include "gtest/gtest.h"
#include "protocols/http/http.h"

namespace sockman {
namespace {

TEST(HttpResponseTest, RendersHeadersAndCookies) {
  HttpResponse response(201);
  response.AddHeader("Content-Type", "application/json")
      .SetCookie("session", "abc123", "Path=/; HttpOnly; SameSite=Lax")
      .SetCookie("theme", "dark")
      .set_body("{}");
  EXPECT_EQ(response.status(), 201);
  EXPECT_EQ(response.headers(),
            "Content-Type: application/json\r\n"
            "Set-Cookie: session=abc123; Path=/; HttpOnly; SameSite=Lax\r\n"
            "Set-Cookie: theme=dark\r\n");
  EXPECT_EQ(response.body(), "{}");
}

TEST(HttpResponseTest, RefusesHeaderInjection) {
  HttpResponse response;
  response.AddHeader("X-Evil", "a\r\nSet-Cookie: pwned=1")
      .AddHeader("Bad\nName", "v")
      .AddHeader("With:Colon", "v")
      .AddHeader("", "v")
      .SetCookie("c", "v\r\nX: y");
  EXPECT_EQ(response.headers(), "");
}

}  // namespace
}  // namespace sockman
