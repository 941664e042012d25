// A real browser against a `static` service: headless Chromium (Debian's
// chromium, installed by ./bazelw) loads a page with CSS, JavaScript and an
// image, and the test reads the DOM the page's script wrote after checking
// that each resource arrived and applied.
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

constexpr char kPng[] =
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x03\x00\x00"
    "\x00\x02\x08\x02\x00\x00\x00\x12\x16\xf1\x4d\x00\x00\x00\x10\x49\x44\x41\x54\x78\x9c\x63"
    "\xf8\xcf\xc0\x00\x41\x0c\x70\x16\x00\x41\xd2\x05\xfb\x87\xf0\xb9\x48\x00\x00\x00\x00\x49"
    "\x45\x4e\x44\xae\x42\x60\x82";

constexpr char kPage[] = R"(<!DOCTYPE html>
<html><head><title>sockman browser test</title>
<link rel="stylesheet" href="/css/site.css">
<script src="/js/app.js" defer></script>
</head><body>
<p id="styled">styled</p>
<img id="pixel" src="/img/pixel.png">
<div id="result">pending</div>
</body></html>
)";

constexpr char kScript[] = R"(
function report() {
  const color = getComputedStyle(document.getElementById('styled')).color;
  const img = document.getElementById('pixel');
  document.getElementById('result').textContent =
      'js=ran css=' + color + ' img=' + img.naturalWidth + 'x' + img.naturalHeight;
}
if (document.readyState === 'complete') report(); else window.addEventListener('load', report);
)";

void Write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

TEST(BrowserTest, ChromiumRendersPageWithCssJsAndImage) {
  std::string root = absl::StrCat(getenv("TEST_TMPDIR"), "/browser-site");
  for (const char* dir : {"", "/css", "/js", "/img"}) mkdir((root + dir).c_str(), 0755);
  Write(root + "/index.html", kPage);
  Write(root + "/css/site.css", "#styled { color: rgb(1, 2, 3); }\n");
  Write(root + "/js/app.js", kScript);
  Write(root + "/img/pixel.png", std::string(kPng, sizeof(kPng) - 1));
  auto server = SockmanProcess::Start(
      absl::StrCat("service { name: \"site\" listen: \"http://127.0.0.1:0\" static { root: \"",
                   root, "\" } }\n"));
  ASSERT_TRUE(server.ok()) << server.status();

  std::string dom =
      ChromiumDumpDom(absl::StrCat("http://127.0.0.1:", (*server)->port("site"), "/"), "js=ran");
  EXPECT_TRUE(absl::StrContains(dom, "<title>sockman browser test</title>")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "js=ran css=rgb(1, 2, 3) img=3x2")) << dom;
}

// Chromium always offers permessage-deflate: "chat" declines it, "zchat"
// (websocket { deflate: true }) accepts it and compresses its replies.
TEST(BrowserTest, ChromiumTalksToWebSocketServicesWithAndWithoutDeflate) {
  std::string root = absl::StrCat(getenv("TEST_TMPDIR"), "/ws-site");
  mkdir(root.c_str(), 0755);
  auto server = SockmanProcess::Start(absl::StrCat(
      "service { name: \"site\" listen: \"http://127.0.0.1:0\" static { root: \"", root,
      "\" } }\n"
      "service { name: \"chat\" listen: \"ws://127.0.0.1:0\" echo { prefix: \"echo: \" } }\n"
      "service { name: \"zchat\" listen: \"ws://127.0.0.1:0\" websocket { deflate: true }"
      " echo { prefix: \"echo: \" } }\n"));
  ASSERT_TRUE(server.ok()) << server.status();
  Write(root + "/index.html", absl::StrCat(R"(<!DOCTYPE html><html><body>
<div id="result">pending</div>
<script>
const results = {};
const long = 'hello from chromium '.repeat(20);
function run(name, port) {
  const out = [];
  const ws = new WebSocket('ws://127.0.0.1:' + port + '/');
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    ws.send('hello from chromium');
    ws.send(long);
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(new Uint8Array(1000).fill(7));
  };
  ws.onmessage = (e) => {
    if (typeof e.data === 'string') {
      out.push(e.data === 'echo: ' + long ? 'long-ok' : e.data);
    } else {
      const bytes = new Uint8Array(e.data);
      out.push(bytes.length > 100 ? 'bytes-' + bytes.length + '-' + bytes[500]
                                  : 'binary:' + bytes.join(','));
    }
    if (out.length == 4) {
      results[name] = name + '[' + ws.extensions + ']: ' + out.join(' | ');
      ws.close(1000);
      if (Object.keys(results).length == 2) {
        document.getElementById('result').textContent =
            'done ' + results.chat + ' ;; ' + results.zchat;
      }
    }
  };
  ws.onerror = () => { document.getElementById('result').textContent = 'error ' + name; };
}
run('chat', )",
                                           (*server)->port("chat"), R"();
run('zchat', )",
                                           (*server)->port("zchat"), R"();
</script></body></html>
)"));
  std::string dom =
      ChromiumDumpDom(absl::StrCat("http://127.0.0.1:", (*server)->port("site"), "/"),
                      "done chat[");  // a result only: the page's source has no such text
  const char* expected =
      ": echo: hello from chromium | long-ok | binary:101,99,104,111,58,32,1,2,3 | "
      "bytes-1006-7";  // "echo: " + the bytes
  EXPECT_TRUE(absl::StrContains(dom, absl::StrCat("chat[]", expected))) << dom;
  EXPECT_TRUE(absl::StrContains(dom, absl::StrCat("zchat[permessage-deflate]", expected))) << dom;
}

}  // namespace
}  // namespace sockman::testing
