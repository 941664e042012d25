// Turning a request path into a file path that cannot leave the served root.
#ifndef SOCKMAN_HANDLERS_STATIC_STATIC_PATH_H_
#define SOCKMAN_HANDLERS_STATIC_STATIC_PATH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

struct SafePath {
  int status = 0;        // 0 when ok, else the HTTP status to answer (400, 403)
  std::string relative;  // "a/b.txt" (decoded, normalized; "" for the root)
  bool trailing_slash = false;
};

// Percent-decodes `url_path` ("/a/%62.txt") and splits it into segments.
// Refused: malformed escapes (400); NUL bytes, encoded slashes or
// backslashes, and ".." segments, encoded or not (403). "." and empty
// segments are dropped.
SafePath ResolveUrlPath(absl::string_view url_path);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_STATIC_STATIC_PATH_H_
