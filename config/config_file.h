// ConfigFile is a parsed sockman config (config/sockman.proto, textproto) that
// remembers where each field was written, so every error can point at it:
//
//   services.textproto:7:3: service 'web': listen: unknown scheme 'htp' (...)
//
// Parsing is strict: syntax errors and unknown fields fail with
// FILE:LINE:COLUMN. Semantic checks live in validate.h.
//
//   SOCKMAN_ASSIGN_OR_RETURN(auto file, ConfigFile::Load("web.textproto"));
//   for (const Service& s : file->config().service()) ...
#ifndef SOCKMAN_CONFIG_CONFIG_FILE_H_
#define SOCKMAN_CONFIG_CONFIG_FILE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/sockman.pb.h"
#include "google/protobuf/text_format.h"

namespace sockman {

class ConfigFile {
 public:
  // Reads and parses `path`. Errors: InvalidArgument "PATH:LINE:COL: message",
  // or NotFound/PermissionDenied "PATH: ..." when the file cannot be read.
  // `name` is what errors call the file (default: `path`).
  static absl::StatusOr<std::unique_ptr<ConfigFile>> Load(const std::string& path,
                                                          std::string name = "");

  // Parses `text`; `name` is what errors call the file.
  static absl::StatusOr<std::unique_ptr<ConfigFile>> Parse(std::string name,
                                                           absl::string_view text);

  const std::string& name() const { return name_; }
  // The directory of the file as loaded; relative paths in the config
  // (static roots, log files) are relative to it. "." for parsed text.
  const std::string& directory() const { return directory_; }
  // `path` if absolute, else directory()/path.
  std::string ResolvePath(const std::string& path) const;
  const Config& config() const { return config_; }

  // "NAME:LINE:COL: service 'web': FIELD: MESSAGE", pointing at `field` of
  // service `index` when it was written, else at the service itself. `field`
  // may be a path into the service: "limits.max_package_size".
  absl::Status ServiceError(int index, absl::string_view field, absl::string_view message) const;
  // The same for a field of `global`.
  absl::Status GlobalError(absl::string_view field, absl::string_view message) const;
  // The same for a field of the top-level framing declaration `index`.
  absl::Status FramingError(int index, absl::string_view field, absl::string_view message) const;

 private:
  ConfigFile() = default;
  // "NAME:LINE:COL: NOUN 'ENTRY_NAME': FIELD: MESSAGE" for entry `index` of
  // the top-level list `list` ("service", "framing").
  absl::Status EntryError(absl::string_view list, int index, absl::string_view noun,
                          const std::string& entry_name, absl::string_view field,
                          absl::string_view message) const;
  std::string Locate(const google::protobuf::TextFormat::ParseInfoTree* tree,
                     const google::protobuf::Descriptor* descriptor, absl::string_view path,
                     std::string fallback) const;

  std::string name_;
  std::string directory_ = ".";
  Config config_;
  google::protobuf::TextFormat::ParseInfoTree locations_;
};

}  // namespace sockman

#endif  // SOCKMAN_CONFIG_CONFIG_FILE_H_
