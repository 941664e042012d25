#include "config/validate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace sockman {
namespace {

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// "a", "a and b", "a, b and c".
std::string JoinNames(std::vector<std::string> names) {
  if (names.size() < 2) return absl::StrJoin(names, "");
  std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " and ", last);
}

// "udp://, text:// and frame://": the schemes UDP carries, datagram-only
// protocols first.
std::string DatagramSchemes(const SchemeCatalog& schemes) {
  std::vector<std::string> names;
  for (bool stream : {false, true}) {
    for (const std::string& name : schemes.Schemes()) {
      const SchemeInfo* info = schemes.Find(name);
      if (info->datagrams && info->stream == stream && !info->tls && info->protocol == name) {
        names.push_back(absl::StrCat(name, "://"));
      }
    }
  }
  return JoinNames(std::move(names));
}

// Each protocol's own fields and their protocol, in Service field order
// (protocol_options, which any binding may read, is nobody's own).
std::vector<std::pair<std::string, std::string>> OwnedFields(const SchemeCatalog& schemes) {
  std::vector<std::pair<std::string, std::string>> owned;
  for (const std::string& name : schemes.Schemes()) {
    const SchemeInfo* info = schemes.Find(name);
    if (info->fields == nullptr || info->protocol != name) continue;
    for (std::string& field : info->fields->names()) {
      if (field != kProtocolOptionsField) owned.emplace_back(std::move(field), name);
    }
  }
  auto number = [](const std::string& field) {
    const auto* descriptor = Service::descriptor()->FindFieldByName(field);
    return descriptor == nullptr ? 0 : descriptor->number();
  };
  std::sort(owned.begin(), owned.end(),
            [&](const auto& a, const auto& b) { return number(a.first) < number(b.first); });
  return owned;
}

// The Service fields that do not apply over UDP, in Service field order: TLS,
// heartbeats, and the fields of protocols that do not run over UDP (the
// PROXY protocol does: v2 headers on datagrams).
std::vector<std::string> StreamOnlyFields(const SchemeCatalog& schemes) {
  std::vector<std::string> fields = {"tls", "heartbeat"};
  // A field several protocols share (real_ip) is stream-only when all are.
  std::map<std::string, bool> datagrams;
  for (const auto& [field, owner] : OwnedFields(schemes)) {
    datagrams[field] = datagrams[field] || schemes.Find(owner)->datagrams;
  }
  for (const auto& [field, any] : datagrams) {
    if (!any) fields.push_back(field);
  }
  auto number = [](const std::string& field) {
    return Service::descriptor()->FindFieldByName(field)->number();
  };
  std::sort(fields.begin(), fields.end(),
            [&](const auto& a, const auto& b) { return number(a) < number(b); });
  return fields;
}

// ", https:// or wss://": the schemes that mean TLS.
std::string TlsSchemes(const SchemeCatalog& schemes) {
  std::vector<std::string> names;
  for (const std::string& name : schemes.Schemes()) {
    if (schemes.Find(name)->tls) names.push_back(absl::StrCat(name, "://"));
  }
  if (names.empty()) return "";
  std::string last = names.back();
  names.pop_back();
  if (names.empty()) return absl::StrCat(" or ", last);
  return absl::StrCat(", ", absl::StrJoin(names, ", "), " or ", last);
}

}  // namespace

std::string ListenUri::ToString() const {
  if (ipv6) return absl::StrCat(scheme, "://[", host, "]:", port);
  return absl::StrCat(scheme, "://", host, ":", port);
}

absl::StatusOr<ListenUri> ParseRedisUri(absl::string_view uri) {
  if (!absl::StartsWith(uri, "redis://")) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri, "' must look like redis://HOST:PORT"));
  }
  absl::StatusOr<ListenUri> parsed = ParseListenUri(uri);
  if (!parsed.ok()) return parsed.status();
  if (parsed->port == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri, "' needs a port"));
  }
  return parsed;
}

absl::StatusOr<ListenUri> ParseListenUri(absl::string_view uri) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' ", why, " (expected scheme://host:port)"));
  };
  ListenUri result;
  size_t sep = uri.find("://");
  if (sep == absl::string_view::npos || sep == 0) return bad("has no scheme");
  result.scheme = absl::AsciiStrToLower(uri.substr(0, sep));
  for (char c : result.scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-') {
      return bad("has an invalid scheme");
    }
  }
  absl::string_view rest = uri.substr(sep + 3);
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) return bad("has an unterminated [IPv6] host");
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!absl::StartsWith(rest, ":")) return bad("has no port");
    port = rest.substr(1);
    result.ipv6 = true;
  } else {
    size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) return bad("has no port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("has no host");
  uint32_t port_number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' has an invalid port '", port, "' (expected 0-65535)"));
  }
  result.port = static_cast<uint16_t>(port_number);
  std::string host_text(host);
  unsigned char scratch[16];
  if (result.ipv6) {
    if (inet_pton(AF_INET6, host_text.c_str(), scratch) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", uri, "': '", host, "' is not an IPv6 address"));
    }
  } else if (host_text == "localhost") {
    host_text = "127.0.0.1";
  } else if (inet_pton(AF_INET, host_text.c_str(), scratch) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", uri, "': host '", host,
        "' is not an IPv4 address, [IPv6] address or localhost (names are not resolved)"));
  }
  result.host = host_text;
  return result;
}

std::string HandlerName(const Service& service) {
  const auto* oneof = Service::descriptor()->FindOneofByName("handler");
  const auto* field = service.GetReflection()->GetOneofFieldDescriptor(service, oneof);
  return field == nullptr ? "" : field->name();
}

std::string RouteName(const Service& service, int index) {
  const Route& route = service.route(index);
  return route.has_name() ? route.name() : absl::StrCat(service.name(), "-", index + 1);
}

std::vector<std::string> DslHandlerNames() {
  std::vector<std::string> names;
  const auto* oneof = Service::descriptor()->FindOneofByName("handler");
  for (int i = 0; i < oneof->field_count(); ++i) names.push_back(oneof->field(i)->name());
  return names;
}

const Framing* DeclaredFraming(const Config& config, absl::string_view scheme) {
  for (const Framing& framing : config.framing()) {
    if (framing.name() == scheme) return &framing;
  }
  return nullptr;
}

absl::string_view RegisteredScheme(const Config& config, absl::string_view scheme) {
  return DeclaredFraming(config, scheme) != nullptr ? absl::string_view("framing") : scheme;
}

Service WithDeclaredFraming(const Config& config, const Service& service) {
  Service expanded = service;
  absl::StatusOr<ListenUri> uri = ParseListenUri(service.listen());
  if (!uri.ok()) return expanded;
  if (const Framing* declared = DeclaredFraming(config, uri->scheme)) {
    *expanded.mutable_framing() = *declared;
    expanded.mutable_framing()->clear_name();
  }
  return expanded;
}

namespace {

// A framing's name, which services use as their listen scheme.
bool ValidFramingName(absl::string_view name) {
  if (name.empty() || name.size() > 32 ||
      !absl::ascii_islower(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(static_cast<unsigned char>(c)) ||
           absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Whether a service has clients a push can reach: a broadcast or webhook
// handler, or routes with one.
bool HasClients(const Service& service) {
  if (service.has_broadcast() || service.has_webhook()) return true;
  return std::any_of(service.route().begin(), service.route().end(),
                     [](const Route& r) { return r.has_broadcast() || r.has_webhook(); });
}

}  // namespace

absl::Status ValidateStructure(const ConfigFile& file, const SchemeCatalog& schemes) {
  const Config& config = file.config();
  if (config.has_global()) {
    const Global& global = config.global();
    for (absl::string_view field : {"pid_file", "log_file", "stdout_file", "control_socket"}) {
      const auto* descriptor = Global::descriptor()->FindFieldByName(std::string(field));
      if (global.GetReflection()->HasField(global, descriptor) &&
          global.GetReflection()->GetString(global, descriptor).empty()) {
        return file.GlobalError(field, "must be a file path");
      }
    }
    if (global.has_user() && global.user().empty()) {
      return file.GlobalError("user", "must not be empty");
    }
    if (global.has_group() && !global.has_user()) {
      return file.GlobalError("group", "needs user as well");
    }
    if (global.stop_timeout_ms() > kMaxStopTimeoutMs) {
      return file.GlobalError("stop_timeout_ms",
                              absl::StrCat("must be at most ", kMaxStopTimeoutMs));
    }
    if (global.has_cluster()) {
      const Cluster& cluster = global.cluster();
      if (!ParseRedisUri(cluster.redis()).ok()) {
        return file.GlobalError("cluster.redis", ParseRedisUri(cluster.redis()).status().message());
      }
      const std::string& node = cluster.node_id();
      if (node.empty() || node.size() > 32 || !std::all_of(node.begin(), node.end(), [](char c) {
            return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
          })) {
        return file.GlobalError("cluster.node_id", "must be 1-32 characters of [a-zA-Z0-9_-]");
      }
    }
  }
  absl::flat_hash_set<std::string> framings;
  for (int j = 0; j < config.framing_size(); ++j) {
    const Framing& framing = config.framing(j);
    if (!framing.has_name()) return file.FramingError(j, "name", "is required");
    const std::string& name = framing.name();
    if (!ValidFramingName(name)) {
      return file.FramingError(
          j, "name",
          absl::StrCat("'", name,
                       "' must be 1-32 characters of [a-z0-9_-] starting with a letter (it is "
                       "the services' listen scheme)"));
    }
    if (schemes.Find(name) != nullptr) {
      return file.FramingError(j, "name", absl::StrCat("'", name, "' is a built-in scheme"));
    }
    if (!framings.insert(name).second) {
      return file.FramingError(j, "name", "duplicate framing name");
    }
    const SchemeInfo* protocol = schemes.Find("framing");
    if (protocol == nullptr || protocol->fields == nullptr) {
      return file.FramingError(j, "", "this build has no framing protocol");
    }
    // Its settings, as a service with the default limits uses them.
    Service probe;
    *probe.mutable_framing() = framing;
    probe.mutable_framing()->clear_name();
    if (std::optional<FieldError> error = protocol->fields->Check(probe)) {
      absl::string_view field = error->field;
      absl::ConsumePrefix(&field, "framing.");
      return file.FramingError(j, field, error->message);
    }
  }
  if (config.service_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name(), ": no service defined (add a service { ... } block)"));
  }

  absl::flat_hash_set<std::string> names;
  // Addresses bound so far, for the check that no two services share one.
  struct Bound {
    int index;
    std::string host;
    uint16_t port;
    bool udp;
    bool ipv6;
    bool ipv6_only;
  };
  std::vector<Bound> bound;
  for (int i = 0; i < config.service_size(); ++i) {
    const Service& service = config.service(i);
    if (!service.has_name()) return file.ServiceError(i, "name", "is required");
    if (!ValidName(service.name())) {
      return file.ServiceError(
          i, "name",
          absl::StrCat("'", service.name(), "' must be 1-64 characters of [a-zA-Z0-9_-]"));
    }
    if (!names.insert(service.name()).second) {
      return file.ServiceError(i, "name", "duplicate service name");
    }
    if (!service.has_listen()) return file.ServiceError(i, "listen", "is required");
    absl::StatusOr<ListenUri> uri = ParseListenUri(service.listen());
    if (!uri.ok()) return file.ServiceError(i, "listen", uri.status().message());
    // An unknown scheme is reported by the caller; its checks here are a
    // stream protocol's with no fields of its own.
    static const SchemeInfo kUnknown;
    const Framing* declared = DeclaredFraming(config, uri->scheme);
    const SchemeInfo* found = schemes.Find(RegisteredScheme(config, uri->scheme));
    const SchemeInfo& scheme = found != nullptr ? *found : kUnknown;
    if (declared != nullptr && service.has_framing()) {
      return file.ServiceError(i, "framing",
                               absl::StrCat("listen names the declared framing '", uri->scheme,
                                            "': remove this block, or listen with framing://"));
    }
    bool udp = !scheme.stream || service.transport() == UDP;
    // Two services on one address and port: the second could not bind (or,
    // with reuse_port, would take the first one's connections at random).
    if (uri->port != 0) {
      auto wildcard_over = [](const Bound& a, const Bound& b) {
        bool any = a.host == "0.0.0.0" || a.host == "::";
        return any && (a.ipv6 == b.ipv6 || (a.host == "::" && !a.ipv6_only));
      };
      Bound mine{i, uri->host, uri->port, udp, uri->ipv6, service.ipv6_only()};
      for (const Bound& other : bound) {
        if (other.port == mine.port && other.udp == mine.udp &&
            (other.host == mine.host || wildcard_over(other, mine) || wildcard_over(mine, other))) {
          return file.ServiceError(
              i, "listen",
              absl::StrCat("port ", mine.port, " on ", mine.host, " is already service '",
                           config.service(other.index).name(), "''s (", other.host, ":", other.port,
                           ")"));
        }
      }
      bound.push_back(mine);
    }
    if (udp) {
      if (!scheme.stream && service.has_transport() && service.transport() != UDP) {
        return file.ServiceError(i, "transport",
                                 absl::StrCat(uri->scheme, ":// services are datagrams (UDP)"));
      }
      if (!scheme.datagrams) {
        return file.ServiceError(i, "transport",
                                 absl::StrCat("UDP carries ", DatagramSchemes(schemes),
                                              " services, not ", uri->scheme, "://"));
      }
      for (absl::string_view field : StreamOnlyFields(schemes)) {
        const auto* descriptor = Service::descriptor()->FindFieldByName(std::string(field));
        if (service.GetReflection()->HasField(service, descriptor)) {
          return file.ServiceError(i, field, "does not apply to UDP services");
        }
      }
      const Limits& limits = service.limits();
      if (limits.max_connections() > 0 || limits.idle_timeout_ms() > 0 ||
          limits.has_max_send_buffer_size()) {
        return file.ServiceError(i,
                                 limits.max_connections() > 0   ? "limits.max_connections"
                                 : limits.idle_timeout_ms() > 0 ? "limits.idle_timeout_ms"
                                                                : "limits.max_send_buffer_size",
                                 "does not apply to UDP services (there are no connections)");
      }
    }
    bool tls = scheme.tls || service.transport() == SSL;
    if (tls && !service.has_tls()) {
      return file.ServiceError(i, service.transport() == SSL ? "transport" : "listen",
                               "TLS needs a `tls { cert_file key_file }` block");
    }
    if (service.has_tls()) {
      const Tls& t = service.tls();
      if (!tls) {
        return file.ServiceError(
            i, "tls", absl::StrCat("only applies with transport: SSL", TlsSchemes(schemes)));
      }
      if (t.cert_file().empty() || t.key_file().empty()) {
        return file.ServiceError(i, t.cert_file().empty() ? "tls.cert_file" : "tls.key_file",
                                 "is required");
      }
      for (const Certificate& c : t.certificate()) {
        if (c.server_name().empty() || c.cert_file().empty() || c.key_file().empty()) {
          return file.ServiceError(i, "tls.certificate",
                                   "needs server_name, cert_file and key_file");
        }
      }
      if (t.has_handshake_timeout_ms() &&
          (t.handshake_timeout_ms() < 100 || t.handshake_timeout_ms() > 3'600'000)) {
        return file.ServiceError(i, "tls.handshake_timeout_ms", "must be between 100 and 3600000");
      }
    }
    if (service.has_heartbeat()) {
      const Heartbeat& heartbeat = service.heartbeat();
      if (!heartbeat.has_interval_ms()) {
        return file.ServiceError(i, "heartbeat.interval_ms", "is required");
      }
      if (heartbeat.interval_ms() < 10 || heartbeat.interval_ms() > kMaxTimeoutMs) {
        return file.ServiceError(i, "heartbeat.interval_ms",
                                 absl::StrCat("must be between 10 and ", kMaxTimeoutMs));
      }
      if (uint64_t{heartbeat.interval_ms()} * heartbeat.not_response_limit() > kMaxTimeoutMs * 10) {
        return file.ServiceError(i, "heartbeat.not_response_limit",
                                 "interval_ms * not_response_limit must be at most 10 days");
      }
      if (!scheme.pings && !heartbeat.ping_data().empty()) {
        return file.ServiceError(
            i, "heartbeat.ping_data",
            absl::StrCat(scheme.protocol, ":// services cannot push pings (leave it empty)"));
      }
    }
    if (service.has_protocol_options()) {
      std::vector<std::string> own;
      if (scheme.fields != nullptr) own = scheme.fields->names();
      if (std::find(own.begin(), own.end(), kProtocolOptionsField) == own.end()) {
        return file.ServiceError(i, kProtocolOptionsField,
                                 absl::StrCat(uri->scheme, ":// takes no protocol_options"));
      }
    }
    // A protocol's own fields apply to its services alone (a field several
    // protocols claim, to any of theirs).
    std::vector<std::pair<std::string, std::vector<std::string>>> owners;
    for (const auto& [field, owner] : OwnedFields(schemes)) {
      if (owners.empty() || owners.back().first != field) owners.push_back({field, {}});
      owners.back().second.push_back(absl::StrCat(owner, "://"));
    }
    for (const auto& [field, protocols] : owners) {
      const auto* descriptor = Service::descriptor()->FindFieldByName(field);
      if (!service.GetReflection()->HasField(service, descriptor)) continue;
      std::string own = absl::StrCat(scheme.protocol, "://");
      if (std::find(protocols.begin(), protocols.end(), own) == protocols.end()) {
        return file.ServiceError(
            i, field, absl::StrCat("only applies to ", JoinNames(protocols), " services"));
      }
    }
    if (scheme.fields != nullptr) {
      if (std::optional<FieldError> error = scheme.fields->Check(
              declared != nullptr ? WithDeclaredFraming(config, service) : service)) {
        return file.ServiceError(i, error->field, error->message);
      }
    }
    if (service.count() > kMaxWorkerCount) {
      return file.ServiceError(i, "count",
                               absl::StrCat(service.count(), " is too large (at most ",
                                            kMaxWorkerCount, "; 0 means one per CPU)"));
    }
    if (service.has_user() && service.user().empty()) {
      return file.ServiceError(i, "user", "must not be empty");
    }
    if (service.has_group() && !service.has_user()) {
      return file.ServiceError(i, "group", "needs user as well");
    }
    if (service.ipv6_only() && !uri->ipv6) {
      return file.ServiceError(i, "ipv6_only", "only applies to [IPv6] listeners");
    }
    if (service.has_proxy_protocol()) {
      const ProxyProtocol& proxy = service.proxy_protocol();
      if (proxy.trusted().empty()) {
        return file.ServiceError(i, "proxy_protocol.trusted",
                                 "name the load balancers' addresses or networks (at least one)");
      }
      if (proxy.has_timeout_ms() && (proxy.timeout_ms() < 1 || proxy.timeout_ms() > 60000)) {
        return file.ServiceError(i, "proxy_protocol.timeout_ms", "must be between 1 and 60000");
      }
      bool datagrams = !(found != nullptr ? found->stream : true) || service.transport() == UDP;
      if (datagrams && proxy.has_timeout_ms()) {
        return file.ServiceError(
            i, "proxy_protocol.timeout_ms",
            "does not apply to UDP services (each datagram carries its header)");
      }
    }
    if (service.has_limits()) {
      const Limits& limits = service.limits();
      if (limits.has_max_package_size() &&
          (limits.max_package_size() < 1 || limits.max_package_size() > kMaxBufferLimit)) {
        return file.ServiceError(i, "limits.max_package_size",
                                 absl::StrCat("must be between 1 and ", kMaxBufferLimit));
      }
      if (limits.idle_timeout_ms() > kMaxTimeoutMs) {
        return file.ServiceError(i, "limits.idle_timeout_ms",
                                 absl::StrCat("must be at most ", kMaxTimeoutMs, " (1 day)"));
      }
      if (limits.has_max_send_buffer_size() &&
          (limits.max_send_buffer_size() < 1 || limits.max_send_buffer_size() > kMaxBufferLimit)) {
        return file.ServiceError(i, "limits.max_send_buffer_size",
                                 absl::StrCat("must be between 1 and ", kMaxBufferLimit));
      }
    }
    if (service.route_size() > 0) {
      if (!HandlerName(service).empty()) {
        return file.ServiceError(i, HandlerName(service),
                                 "a service with routes has no handler of its own (each route "
                                 "has one)");
      }
      if (scheme.protocol != "http" || udp) {
        return file.ServiceError(
            i, "route",
            absl::StrCat("routes need an http:// or https:// service, not ", uri->scheme, "://"));
      }
      for (int r = 0; r < service.route_size(); ++r) {
        const Route& route = service.route(r);
        if (route.has_name() && !ValidName(route.name())) {
          return file.ServiceError(
              i, absl::StrCat("route[", r, "].name"),
              absl::StrCat("'", route.name(), "' must be 1-64 characters of [a-zA-Z0-9_-]"));
        }
      }
    } else if (HandlerName(service).empty()) {
      return file.ServiceError(i, "",
                               absl::StrCat("no handler (set exactly one of: ",
                                            absl::StrJoin(DslHandlerNames(), ", "), ")"));
    }
  }
  // Route names are unique among services and routes.
  for (int i = 0; i < config.service_size(); ++i) {
    const Service& service = config.service(i);
    for (int r = 0; r < service.route_size(); ++r) {
      std::string name = RouteName(service, r);
      if (!names.insert(name).second) {
        return file.ServiceError(i, absl::StrCat("route[", r, "].name"),
                                 absl::StrCat("'", name, "' is already a service or route name"));
      }
    }
  }
  // A hub joins broadcast and webhook services; its name is not another
  // service's.
  for (int i = 0; i < config.service_size(); ++i) {
    const Service& service = config.service(i);
    if (!service.has_hub()) continue;
    if (!ValidName(service.hub())) {
      return file.ServiceError(
          i, "hub", absl::StrCat("'", service.hub(), "' must be 1-64 characters of [a-zA-Z0-9_-]"));
    }
    if (!HasClients(service)) {
      return file.ServiceError(i, "hub", "joins broadcast and webhook services only");
    }
    for (const Service& other : config.service()) {
      if (other.name() == service.hub() && other.hub() != service.hub()) {
        return file.ServiceError(
            i, "hub", absl::StrCat("'", service.hub(), "' is the name of a service outside it"));
      }
    }
  }
  // A push API must name a broadcast or webhook service of the same config,
  // or a hub of them.
  for (int i = 0; i < config.service_size(); ++i) {
    const Service& service = config.service(i);
    if (!service.has_push()) continue;
    const std::string& target = service.push().service();
    bool found = false;
    for (const Service& other : config.service()) {
      if (other.name() == target || (other.has_hub() && other.hub() == target)) {
        found = HasClients(other);
      }
      for (int r = 0; r < other.route_size(); ++r) {
        const Route& route = other.route(r);
        if (RouteName(other, r) == target) found = route.has_broadcast() || route.has_webhook();
      }
    }
    if (!found) {
      return file.ServiceError(
          i, "push.service",
          target.empty() ? std::string("is required")
                         : absl::StrCat("'", target,
                                        "' is not a broadcast or webhook service (or route) of "
                                        "this config"));
    }
  }
  return absl::OkStatus();
}

Config WithDefaults(const Config& config, const SchemeCatalog& schemes, int cpu_count) {
  Config resolved = config;
  Global* global = resolved.mutable_global();
  if (!global->has_stop_timeout_ms()) global->set_stop_timeout_ms(kDefaultStopTimeoutMs);
  if (!global->has_watch_config()) global->set_watch_config(false);
  for (Service& service : *resolved.mutable_service()) {
    service = WithDeclaredFraming(config, service);
    absl::StatusOr<ListenUri> uri = ParseListenUri(service.listen());
    const SchemeInfo* scheme =
        uri.ok() ? schemes.Find(RegisteredScheme(config, uri->scheme)) : nullptr;
    if (!service.has_transport()) {
      service.set_transport(scheme == nullptr ? TCP
                            : scheme->tls     ? SSL
                            : !scheme->stream ? UDP
                                              : TCP);
    }
    if (service.has_tls() && !service.tls().has_handshake_timeout_ms()) {
      service.mutable_tls()->set_handshake_timeout_ms(kDefaultHandshakeTimeoutMs);
    }
    if (!service.has_count()) service.set_count(1);
    if (service.count() == 0) service.set_count(static_cast<uint32_t>(cpu_count));
    if (!service.has_reuse_port()) service.set_reuse_port(false);
    if (!service.has_reloadable()) service.set_reloadable(true);
    if (uri.ok() && uri->ipv6 && !service.has_ipv6_only()) {
      service.set_ipv6_only(false);
    }
    Limits* limits = service.mutable_limits();
    if (!limits->has_max_package_size()) limits->set_max_package_size(kDefaultMaxPackageSize);
    if (!limits->has_max_send_buffer_size()) {
      limits->set_max_send_buffer_size(kDefaultMaxSendBufferSize);
    }
    if (!limits->has_max_connections()) limits->set_max_connections(0);
    if (!limits->has_idle_timeout_ms()) limits->set_idle_timeout_ms(0);
    if (service.has_heartbeat()) {
      Heartbeat* heartbeat = service.mutable_heartbeat();
      if (!heartbeat->has_not_response_limit()) heartbeat->set_not_response_limit(0);
      if (!heartbeat->has_ping_data()) heartbeat->set_ping_data("");
    }
    if (scheme != nullptr && scheme->fields != nullptr) scheme->fields->FillDefaults(service);
  }
  return resolved;
}

}  // namespace sockman
