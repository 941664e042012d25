#include "cli/plan.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/read_file.h"
#include "engine/ip_limits.h"
#include "engine/networks.h"
#include "engine/tls.h"
#include "handlers/policy/jwt_config.h"
#include "handlers/policy/rate_limit_config.h"
#include "handlers/router/router.h"
#include "openssl/mem.h"
#include "openssl/sha.h"
#include "protocols/binding.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {
namespace {

// SHA-256 of a file's content ("" if unreadable), to notice it changed
// without keeping (private key) bytes around.
std::string FileDigest(const std::string& path) {
  std::string content = ReadFileOrEmpty(path);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
  OPENSSL_cleanse(content.data(), content.size());
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

}  // namespace

absl::StatusOr<Plan> BuildPlan(const ConfigFile& file, int cpu_count) {
  const SchemeCatalog& schemes = RegisteredSchemes();
  if (absl::Status s = ValidateStructure(file, schemes); !s.ok()) return s;
  Plan plan;
  plan.resolved = WithDefaults(file.config(), schemes, cpu_count);
  plan.stop_timeout_ms = plan.resolved.global().stop_timeout_ms();
  auto hubs = std::make_shared<std::map<std::string, std::string>>();
  for (const Service& service : plan.resolved.service()) {
    if (service.has_hub()) (*hubs)[service.name()] = service.hub();
    // A route's name reaches its service's client space (push targets).
    for (int r = 0; r < service.route_size(); ++r) {
      (*hubs)[RouteName(service, r)] = service.has_hub() ? service.hub() : service.name();
    }
  }
  for (int i = 0; i < plan.resolved.service_size(); ++i) {
    const Service& service = plan.resolved.service(i);
    ServicePlan sp;
    sp.config = service;
    sp.uri = *ParseListenUri(service.listen());  // validated above

    sp.protocol = ProtocolRegistry::Global().Find(RegisteredScheme(file.config(), sp.uri.scheme));
    if (sp.protocol == nullptr) {
      return file.ServiceError(
          i, "listen",
          absl::StrCat("unknown scheme '", sp.uri.scheme,
                       "' (expected one of: ", absl::StrJoin(schemes.Schemes(), ", "), ")"));
    }
    absl::StatusOr<SocketAddress> address = SocketAddress::Parse(sp.uri.host, sp.uri.port);
    if (!address.ok()) return file.ServiceError(i, "listen", address.status().message());
    sp.address = *address;

    // The service's own user, else the global default.
    const Global& global = file.config().global();
    bool own_user = service.has_user();
    if (own_user || global.has_user()) {
      const std::string& user = own_user ? service.user() : global.user();
      const std::string& group = own_user ? service.group() : global.group();
      auto error = [&](absl::string_view field, absl::string_view message) {
        return own_user ? file.ServiceError(i, field, message) : file.GlobalError(field, message);
      };
      absl::StatusOr<Credentials> credentials = LookupCredentials(user, group);
      if (!credentials.ok()) {
        bool group_missing =
            !group.empty() && absl::StrContains(credentials.status().message(), "no group");
        return error(group_missing ? "group" : "user", credentials.status().message());
      }
      if (geteuid() != 0 && (credentials->uid != geteuid() || credentials->gid != getegid())) {
        return error("user", absl::StrCat("switching to '", user, "' needs root (running as uid ",
                                          geteuid(), ")"));
      }
      sp.credentials = *credentials;
    }

    if (plan.resolved.global().has_cluster()) {
      const Cluster& cluster = plan.resolved.global().cluster();
      ListenUri redis = *ParseRedisUri(cluster.redis());  // validated above
      absl::StatusOr<SocketAddress> address = SocketAddress::Parse(redis.host, redis.port);
      if (!address.ok()) return file.GlobalError("cluster.redis", address.status().message());
      sp.cluster = ClusterOptions{*address, cluster.node_id()};
    }
    if (service.route_size() > 0) {
      RouterError error;
      absl::StatusOr<std::unique_ptr<HandlerFactory>> router = CreateRouter(
          service, *sp.protocol, file.directory(), &error, sp.cluster ? &*sp.cluster : nullptr);
      if (!router.ok()) return file.ServiceError(i, error.field, error.message);
      sp.handler = std::move(*router);
      sp.loaded_files += RouterLoadedFiles(*sp.handler);
    } else {
      std::string handler_name = HandlerName(service);
      const auto* field = Service::descriptor()->FindFieldByName(handler_name);
      // A module's creator is registered under the module's name.
      std::string registered = handler_name;
      if (service.has_module()) {
        registered = service.module().name();
        const auto& builtins = DslHandlerNames();
        if (registered.empty()) return file.ServiceError(i, "module.name", "is required");
        if (std::find(builtins.begin(), builtins.end(), registered) != builtins.end()) {
          return file.ServiceError(i, "module.name",
                                   absl::StrCat("'", registered, "' is a built-in handler: write `",
                                                registered, " { ... }` instead"));
        }
      }
      const HandlerCreator* creator = HandlerRegistry::Global().Find(registered);
      if (creator == nullptr) {
        if (service.has_module()) {
          std::vector<std::string> modules;
          const auto& builtins = DslHandlerNames();
          for (const std::string& name : HandlerRegistry::Global().Names()) {
            if (std::find(builtins.begin(), builtins.end(), name) == builtins.end()) {
              modules.push_back(name);
            }
          }
          return file.ServiceError(
              i, "module.name",
              absl::StrCat("no module '", registered, "' in this binary (it has: ",
                           modules.empty() ? "none" : absl::StrJoin(modules, ", "), ")"));
        }
        return file.ServiceError(i, handler_name,
                                 absl::StrCat("handler '", handler_name, "' is not supported yet"));
      }
      HandlerConfig handler_config{service.GetReflection()->GetMessage(service, field),
                                   service.name(),
                                   *sp.protocol,
                                   service.transport() == UDP,
                                   file.directory(),
                                   service.transport() == SSL};
      absl::StatusOr<std::unique_ptr<HandlerFactory>> factory = (*creator)(handler_config);
      if (!factory.ok()) {
        return file.ServiceError(i, service.has_module() ? "module" : handler_name,
                                 service.has_module()
                                     ? absl::StrCat(registered, ": ", factory.status().message())
                                     : std::string(factory.status().message()));
      }
      sp.handler = std::move(*factory);
    }

    if (service.has_access_log()) {
      sp.config.set_access_log(file.ResolvePath(service.access_log()));
    }
    for (Route& route : *sp.config.mutable_route()) {
      if (route.has_access_log()) route.set_access_log(file.ResolvePath(route.access_log()));
    }
    const Limits& limits = service.limits();
    sp.server.protocol = sp.protocol;
    sp.server.codec.max_package_size = limits.max_package_size();
    sp.server.limits.max_package_size = limits.max_package_size();
    sp.server.limits.max_send_buffer_size = limits.max_send_buffer_size();
    sp.server.max_connections = limits.max_connections();
    sp.server.idle_timeout_ms = limits.idle_timeout_ms();
    sp.server.min_send_rate = limits.min_send_rate();
    sp.server.min_receive_rate = limits.min_receive_rate();
    if (limits.has_min_rate_window_ms()) {
      if (limits.min_rate_window_ms() < 1000 || limits.min_rate_window_ms() > 600000) {
        return file.ServiceError(i, "limits.min_rate_window_ms", "must be between 1000 and 600000");
      }
      sp.server.min_rate_window_ms = limits.min_rate_window_ms();
    }
    if (service.has_rate_limit()) {
      if (sp.protocol->traits().request_response || service.transport() == UDP) {
        return file.ServiceError(
            i, "rate_limit",
            "is for message protocols over streams (websocket, text, frame, tcp); put it in a "
            "WebSocket route on http://");
      }
      absl::StatusOr<RateLimitPolicy> policy = RateLimitFromConfig(
          service.rate_limit(), sp.cluster ? &*sp.cluster : nullptr, service.name());
      if (!policy.ok()) return file.ServiceError(i, "rate_limit", policy.status().message());
      sp.server.rate_limit = std::make_shared<const RateLimitPolicy>(*policy);
    }
    if (limits.max_connections_per_ip() > 0 || limits.new_connections_per_ip_per_second() > 0) {
      if (service.transport() == UDP) {
        return file.ServiceError(i, "limits.max_connections_per_ip",
                                 "is for stream services (UDP has no connections)");
      }
      // Mapped here, before fork: every worker of the service shares it.
      absl::StatusOr<std::shared_ptr<IpLimits>> ip_limits =
          IpLimits::Create({.max_per_ip = limits.max_connections_per_ip(),
                            .new_per_second = limits.new_connections_per_ip_per_second()});
      if (!ip_limits.ok()) return file.ServiceError(i, "limits", ip_limits.status().message());
      sp.server.ip_limits = std::move(*ip_limits);
    }
    if (service.transport() == SSL) {
      // Loaded here, in the master before fork: a bad certificate or key is a
      // config error, and every worker shares the context's ticket keys.
      const Tls& tls = service.tls();
      TlsOptions options;
      options.certificates.push_back(
          {"", file.ResolvePath(tls.cert_file()), file.ResolvePath(tls.key_file())});
      for (const Certificate& c : tls.certificate()) {
        options.certificates.push_back(
            {c.server_name(), file.ResolvePath(c.cert_file()), file.ResolvePath(c.key_file())});
      }
      options.alpn = sp.protocol->traits().alpn;
      if (tls.has_client_ca_file()) {
        options.client_ca_file = file.ResolvePath(tls.client_ca_file());
        options.require_client_certificate = tls.verify_client() == Tls::REQUIRE;
        absl::StrAppend(&sp.loaded_files, FileDigest(options.client_ca_file));
      } else if (tls.has_verify_client()) {
        return file.ServiceError(i, "tls.verify_client", "needs tls.client_ca_file");
      }
      absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
      if (!context.ok()) return file.ServiceError(i, "tls", context.status().message());
      for (const TlsCertificate& c : options.certificates) {
        absl::StrAppend(&sp.loaded_files, FileDigest(c.cert_file), FileDigest(c.key_file));
      }
      sp.server.tls = std::move(*context);
      sp.server.limits.tls_handshake_timeout_ms = tls.handshake_timeout_ms();
    }
    if (service.has_proxy_protocol()) {
      const ProxyProtocol& proxy = service.proxy_protocol();
      std::vector<std::string> entries(proxy.trusted().begin(), proxy.trusted().end());
      absl::StatusOr<NetworkList> trusted = NetworkList::Parse(entries);
      if (!trusted.ok()) {
        return file.ServiceError(i, "proxy_protocol.trusted", trusted.status().message());
      }
      sp.server.proxy_protocol.trusted = std::make_shared<const NetworkList>(std::move(*trusted));
      sp.server.proxy_protocol.timeout_ms = proxy.has_timeout_ms() ? proxy.timeout_ms() : 5000;
    }
    if (service.has_heartbeat()) {
      sp.server.heartbeat.interval_ms = service.heartbeat().interval_ms();
      sp.server.heartbeat.not_response_limit = service.heartbeat().not_response_limit();
      sp.server.heartbeat.ping_data = service.heartbeat().ping_data();
    }
    if (const ProtocolBinding* binding = BindingRegistry::Global().Find(sp.protocol->name())) {
      sp.protocol_options = binding->Options(service);
      sp.server.codec.options = sp.protocol_options.get();
    }
    if (service.has_jwt()) {
      if (sp.protocol->name() != "websocket") {
        return file.ServiceError(i, "jwt",
                                 "is for websocket:// services; on http:// put it in a route");
      }
      absl::StatusOr<std::shared_ptr<const JwtGate>> gate =
          JwtGateFromConfig(service.jwt(), file.directory());
      if (!gate.ok()) return file.ServiceError(i, "jwt", gate.status().message());
      const auto* ws = dynamic_cast<const WebSocketOptions*>(sp.protocol_options.get());
      auto options = ws != nullptr ? std::make_shared<WebSocketOptions>(*ws)
                                   : std::make_shared<WebSocketOptions>();
      options->jwt = std::move(*gate);
      AddJwtSubprotocol(service.jwt(), options->subprotocols);
      sp.protocol_options = std::move(options);
      sp.server.codec.options = sp.protocol_options.get();
      sp.loaded_files += JwtKeyFilesDigest(service.jwt(), file.directory());
    }
    sp.hubs = hubs;
    plan.services.push_back(std::move(sp));
  }
  return plan;
}

}  // namespace sockman
