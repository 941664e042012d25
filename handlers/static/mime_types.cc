#include "handlers/static/mime_types.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace sockman {

MimeTypes MimeTypes::Load(const std::string& path) {
  MimeTypes types;
  std::ifstream in(path);
  std::string line;
  while (in && std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    for (size_t i = 1; i < fields.size(); ++i) types.Add(fields[i], fields[0]);
  }
  // What browsers need, whatever the file says (and when there is none).
  static const char* const kBuiltin[][2] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"},
      {"wav", "audio/wav"},
      {"csv", "text/csv; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
  };
  for (const auto& [extension, type] : kBuiltin) types.Add(extension, type);
  return types;
}

void MimeTypes::Add(absl::string_view extension, absl::string_view type) {
  by_extension_[absl::AsciiStrToLower(extension)] = std::string(type);
}

absl::string_view MimeTypes::TypeOf(absl::string_view file_name) const {
  size_t dot = file_name.rfind('.');
  size_t slash = file_name.rfind('/');
  if (dot != absl::string_view::npos && (slash == absl::string_view::npos || dot > slash)) {
    // Lower-case into a small buffer: no allocation per request.
    absl::string_view extension = file_name.substr(dot + 1);
    char lower[64];  // longer than any extension in mime.types
    if (extension.size() <= sizeof(lower)) {
      for (size_t i = 0; i < extension.size(); ++i) {
        lower[i] = absl::ascii_tolower(static_cast<unsigned char>(extension[i]));
      }
      auto it = by_extension_.find(absl::string_view(lower, extension.size()));
      if (it != by_extension_.end()) return it->second;
    }
  }
  return "application/octet-stream";
}

}  // namespace sockman
