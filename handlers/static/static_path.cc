#include "handlers/static/static_path.h"

#include "absl/strings/str_split.h"
#include "protocols/http/syntax.h"

namespace sockman {

SafePath ResolveUrlPath(absl::string_view url_path) {
  SafePath result;
  if (url_path.empty() || url_path[0] != '/') {
    result.status = 400;
    return result;
  }
  result.trailing_slash = url_path.back() == '/';
  for (absl::string_view raw : absl::StrSplit(url_path, '/')) {
    std::string segment;
    for (size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (c == '%') {
        if (i + 2 >= raw.size()) {
          result.status = 400;
          return result;
        }
        int hi = HexDigitValue(raw[i + 1]);
        int lo = HexDigitValue(raw[i + 2]);
        if (hi < 0 || lo < 0) {
          result.status = 400;
          return result;
        }
        c = static_cast<char>(hi * 16 + lo);
        if (c == '/' || c == '\\' || c == '\0') {
          result.status = 403;  // an encoded separator or NUL is an escape attempt
          return result;
        }
        i += 2;
      } else if (c == '\\' || c == '\0') {
        result.status = 403;
        return result;
      }
      segment.push_back(c);
    }
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      result.status = 403;
      return result;
    }
    if (!result.relative.empty()) result.relative.push_back('/');
    result.relative += segment;
  }
  return result;
}

}  // namespace sockman
