#include "handlers/static/static_path.h"

#include "gtest/gtest.h"
#include "handlers/static/mime_types.h"

namespace sockman {
namespace {

TEST(ResolveUrlPathTest, NormalizesAndDecodes) {
  EXPECT_EQ(ResolveUrlPath("/").relative, "");
  EXPECT_TRUE(ResolveUrlPath("/").trailing_slash);
  EXPECT_EQ(ResolveUrlPath("/a//b/./c.txt").relative, "a/b/c.txt");
  EXPECT_EQ(ResolveUrlPath("/sp%20ace/%41.txt").relative, "sp ace/A.txt");
  EXPECT_TRUE(ResolveUrlPath("/dir/").trailing_slash);
  EXPECT_FALSE(ResolveUrlPath("/file").trailing_slash);
}

TEST(ResolveUrlPathTest, RefusesEscapes) {
  for (const char* path : {"/../etc/passwd", "/a/../../b", "/%2e%2e/x", "/%2E%2e/x", "/.%2e/x",
                           "/a%2fb", "/a%2F..%2Fb", "/a%5cb", "/a\\b", "/a%00b"}) {
    EXPECT_EQ(ResolveUrlPath(path).status, 403) << path;
  }
  EXPECT_EQ(ResolveUrlPath(std::string("/a\0b", 4)).status, 403);
  EXPECT_EQ(ResolveUrlPath("/bad%zz").status, 400);
  EXPECT_EQ(ResolveUrlPath("/bad%2").status, 400);
  EXPECT_EQ(ResolveUrlPath("relative").status, 400);
}

TEST(MimeTypesTest, KnowsWhatBrowsersNeed) {
  MimeTypes types = MimeTypes::Load("/nonexistent");
  EXPECT_EQ(types.TypeOf("/x/index.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(types.TypeOf("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(types.TypeOf("a.png"), "image/png");
  EXPECT_EQ(types.TypeOf("noext"), "application/octet-stream");
  EXPECT_EQ(types.TypeOf("dir.d/noext"), "application/octet-stream");
}

}  // namespace
}  // namespace sockman
