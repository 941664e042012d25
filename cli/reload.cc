#include "cli/reload.h"

namespace sockman {
namespace {

bool SameSocket(const Service& a, const Service& b) {
  // TLS is per connection: TCP and SSL services share a socket; UDP does not.
  return a.listen() == b.listen() && a.reuse_port() == b.reuse_port() &&
         a.ipv6_only() == b.ipv6_only() && (a.transport() == UDP) == (b.transport() == UDP);
}

}  // namespace

ReloadPlan PlanReload(const std::map<std::string, ServiceVersion>& running,
                      const std::vector<ServiceVersion>& next) {
  ReloadPlan plan;
  for (const ServiceVersion& service : next) {
    const std::string& name = service.config->name();
    auto old = running.find(name);
    if (old == running.end()) {
      plan.fates[name] = ReloadFate::kNewSocket;
      continue;
    }
    const Service& was = *old->second.config;
    bool same = was.SerializeAsString() == service.config->SerializeAsString() &&
                old->second.loaded_files == service.loaded_files;
    if (same || !was.reloadable() || !service.config->reloadable()) {
      plan.fates[name] = ReloadFate::kKeep;
      if (!same) plan.waiting_for_restart.push_back(name);
    } else if (SameSocket(was, *service.config)) {
      plan.fates[name] = ReloadFate::kSameSocket;
    } else {
      plan.fates[name] = ReloadFate::kNewSocket;
    }
  }
  for (const auto& [name, version] : running) {
    if (!plan.fates.contains(name)) plan.removed.push_back(name);
  }
  return plan;
}

}  // namespace sockman
