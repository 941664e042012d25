// File extension -> MIME type, from Debian's /etc/mime.types when present,
// over a built-in table of the types browsers need.
#ifndef SOCKMAN_HANDLERS_STATIC_MIME_TYPES_H_
#define SOCKMAN_HANDLERS_STATIC_MIME_TYPES_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace sockman {

class MimeTypes {
 public:
  // The built-in table, then `path` (mime.types format) if it can be read.
  static MimeTypes Load(const std::string& path = "/etc/mime.types");

  // The type for `file_name`'s extension (case-insensitive), or
  // "application/octet-stream".
  absl::string_view TypeOf(absl::string_view file_name) const;

  void Add(absl::string_view extension, absl::string_view type);

 private:
  absl::flat_hash_map<std::string, std::string> by_extension_;
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_STATIC_MIME_TYPES_H_
