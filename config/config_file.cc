#include "config/config_file.h"

#include <errno.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"

namespace sockman {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

std::string WithSuggestion(const std::string& message);

// Keeps the first error (the one that matters) with its 1-based position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!has_error_) {
      has_error_ = true;
      line_ = line;
      column_ = column;
      message_ = message;
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}

  std::string Format(absl::string_view name) const {
    return absl::StrCat(name, ":", line_ + 1, ":", column_ + 1, ": ", WithSuggestion(message_));
  }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// protobuf's `Message type "sockman.Service" has no field named "cont".`,
// with the field meant: the snake_case spelling of a camelCase name
// (Workerman's reusePort), or the nearest name by edits.
std::string WithSuggestion(const std::string& message) {
  static const std::string kType = "Message type \"";
  static const std::string kField = "\" has no field named \"";
  size_t type_at = message.find(kType);
  size_t field_at = message.find(kField);
  if (type_at == std::string::npos || field_at == std::string::npos || field_at < type_at) {
    return message;
  }
  std::string type = message.substr(type_at + kType.size(), field_at - type_at - kType.size());
  size_t name_at = field_at + kField.size();
  std::string unknown = message.substr(name_at, message.find('"', name_at) - name_at);
  const Descriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  if (descriptor == nullptr || unknown.empty()) return message;
  std::string snake;
  for (char c : unknown) {
    if (c >= 'A' && c <= 'Z') {
      if (!snake.empty()) snake += '_';
      snake += static_cast<char>(c - 'A' + 'a');
    } else {
      snake += c == '-' ? '_' : c;
    }
  }
  std::string best;
  size_t best_distance = std::max<size_t>(2, unknown.size() / 3) + 1;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const std::string& name = descriptor->field(i)->name();
    size_t distance = name == snake ? 0 : EditDistance(snake, name);
    if (distance < best_distance) {
      best_distance = distance;
      best = name;
    }
  }
  if (best.empty()) return message;
  return absl::StrCat(message, " (did you mean \"", best, "\"?)");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConfigFile>> ConfigFile::Load(const std::string& path,
                                                             std::string name) {
  if (name.empty()) name = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, absl::StrCat(name, ": cannot read config"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::unique_ptr<ConfigFile>> file = Parse(std::move(name), text.str());
  if (file.ok()) {
    size_t slash = path.rfind('/');
    (*file)->directory_ = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  }
  return file;
}

absl::StatusOr<std::unique_ptr<ConfigFile>> ConfigFile::Parse(std::string name,
                                                              absl::string_view text) {
  std::unique_ptr<ConfigFile> file(new ConfigFile());
  file->name_ = std::move(name);
  FirstErrorCollector errors;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&file->locations_);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (!parser.ParseFromString(std::string(text), &file->config_)) {
    return absl::InvalidArgumentError(errors.Format(file->name_));
  }
  return file;
}

std::string ConfigFile::ResolvePath(const std::string& path) const {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(directory_, "/", path);
}

std::string ConfigFile::Locate(const TextFormat::ParseInfoTree* tree, const Descriptor* descriptor,
                               absl::string_view path, std::string fallback) const {
  std::string where = std::move(fallback);
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (tree == nullptr || descriptor == nullptr) break;
    // "route[2]": the third of a repeated field (the first without an index).
    int index = -1;
    if (size_t open = part.find('[');
        open != absl::string_view::npos && absl::EndsWith(part, "]")) {
      if (!absl::SimpleAtoi(part.substr(open + 1, part.size() - open - 2), &index)) index = 0;
      part = part.substr(0, open);
    }
    const FieldDescriptor* field = descriptor->FindFieldByName(std::string(part));
    if (field == nullptr) break;
    if (!field->is_repeated()) {
      index = -1;
    } else if (index < 0) {
      index = 0;
    }
    auto location = tree->GetLocation(field, index);
    if (location.line < 0) break;
    where = absl::StrCat(name_, ":", location.line + 1, ":", location.column + 1);
    if (field->type() != FieldDescriptor::TYPE_MESSAGE) break;
    tree = tree->GetTreeForNested(field, index);
    descriptor = field->message_type();
  }
  return where;
}

absl::Status ConfigFile::EntryError(absl::string_view list, int index, absl::string_view noun,
                                    const std::string& entry_name, absl::string_view field,
                                    absl::string_view message) const {
  const FieldDescriptor* list_field = Config::descriptor()->FindFieldByName(std::string(list));
  auto location = locations_.GetLocation(list_field, index);
  std::string where = name_;
  if (location.line >= 0) {
    where = absl::StrCat(name_, ":", location.line + 1, ":", location.column + 1);
  }
  where = Locate(locations_.GetTreeForNested(list_field, index), list_field->message_type(), field,
                 where);
  std::string who = entry_name.empty() ? absl::StrCat(noun, " #", index + 1)
                                       : absl::StrCat(noun, " '", entry_name, "'");
  std::string what = field.empty() ? "" : absl::StrCat(field, ": ");
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", who, ": ", what, message));
}

absl::Status ConfigFile::ServiceError(int index, absl::string_view field,
                                      absl::string_view message) const {
  return EntryError("service", index, "service", config_.service(index).name(), field, message);
}

absl::Status ConfigFile::GlobalError(absl::string_view field, absl::string_view message) const {
  const FieldDescriptor* global_field = Config::descriptor()->FindFieldByName("global");
  std::string where = Locate(&locations_, Config::descriptor(), "global", name_);
  where = Locate(locations_.GetTreeForNested(global_field, -1), Global::descriptor(), field, where);
  return absl::InvalidArgumentError(absl::StrCat(where, ": global: ", field, ": ", message));
}

absl::Status ConfigFile::FramingError(int index, absl::string_view field,
                                      absl::string_view message) const {
  return EntryError("framing", index, "framing", config_.framing(index).name(), field, message);
}

}  // namespace sockman
