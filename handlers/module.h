// Handlers from modules of your own: `module { name config | config_text }`
// in a service (see docs/extending.md). A module registers a creator under
// its name, exactly as built-in handlers do, and reads its settings with
// ParseModuleConfig into a message type it declares:
//
//   absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateChat(const HandlerConfig& config) {
//     example::ChatConfig settings;
//     SOCKMAN_RETURN_IF_ERROR(ParseModuleConfig(config, &settings));
//     if (settings.greeting().empty()) return absl::InvalidArgumentError("greeting is required");
//     return std::make_unique<ChatFactory>(settings);
//   }
//   SOCKMAN_REGISTER_HANDLER("example_chat", CreateChat);
//
// The creator runs in the master before any worker starts: an error it
// returns is a config error (file:line:column, exit status 2).
#ifndef SOCKMAN_HANDLERS_MODULE_H_
#define SOCKMAN_HANDLERS_MODULE_H_

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "handlers/handler.h"

namespace sockman {

// Fills `settings` from the service's module block: from `config` (an Any,
// written in the config as `config { [type.googleapis.com/PACKAGE.Type] {...} }`,
// which must be of `settings`' type) or from `config_text` (text format of
// `settings`' type). Neither: `settings` is left as it is (defaults).
absl::Status ParseModuleConfig(const HandlerConfig& config, google::protobuf::Message* settings);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_MODULE_H_
