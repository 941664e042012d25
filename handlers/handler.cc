#include "handlers/handler.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace sockman {

HandlerRegistry& HandlerRegistry::Global() {
  static HandlerRegistry* registry = new HandlerRegistry();
  return *registry;
}

bool HandlerRegistry::Register(std::string name, HandlerCreator creator) {
  if (!creators_.emplace(name, std::move(creator)).second) {
    std::fprintf(stderr, "sockman: handler '%s' registered twice\n", name.c_str());
    std::abort();
  }
  return true;
}

const HandlerCreator* HandlerRegistry::Find(absl::string_view name) const {
  auto it = creators_.find(name);
  return it == creators_.end() ? nullptr : &it->second;
}

std::vector<std::string> HandlerRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, creator] : creators_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace sockman
