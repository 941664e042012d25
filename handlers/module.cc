#include "handlers/module.h"

#include "absl/strings/str_cat.h"
#include "config/sockman.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace sockman {
namespace {

// Keeps the first parse error with its position.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (text.empty()) text = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  std::string text;
};

}  // namespace

absl::Status ParseModuleConfig(const HandlerConfig& config, google::protobuf::Message* settings) {
  const auto* module = dynamic_cast<const ModuleOptions*>(&config.message);
  if (module == nullptr) return absl::InvalidArgumentError("not a module's configuration");
  const std::string& type = settings->GetDescriptor()->full_name();
  if (module->has_config() && module->has_config_text()) {
    return absl::InvalidArgumentError("set config or config_text, not both");
  }
  if (module->has_config()) {
    const google::protobuf::Any& any = module->config();
    absl::string_view url = any.type_url();
    absl::string_view given = url.substr(url.rfind('/') + 1);
    if (given != type) {
      return absl::InvalidArgumentError(
          absl::StrCat("config is a ", given, "; module '", module->name(), "' takes a ", type));
    }
    if (!any.UnpackTo(settings)) {
      return absl::InvalidArgumentError(absl::StrCat("config could not be read as ", type));
    }
    return absl::OkStatus();
  }
  if (module->has_config_text()) {
    google::protobuf::TextFormat::Parser parser;
    FirstError errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(module->config_text(), settings)) {
      return absl::InvalidArgumentError(absl::StrCat("config_text (as ", type, "): ", errors.text));
    }
  }
  return absl::OkStatus();
}

}  // namespace sockman
