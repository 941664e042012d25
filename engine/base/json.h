// A JSON string literal for `s`: quotes, with ", \ and control characters
// escaped. For the small JSON answers sockman writes (status, push API).
#ifndef SOCKMAN_ENGINE_BASE_JSON_H_
#define SOCKMAN_ENGINE_BASE_JSON_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sockman {

inline std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out.push_back(ch);
        }
    }
  }
  return out + "\"";
}

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BASE_JSON_H_
