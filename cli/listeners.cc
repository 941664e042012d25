#include "cli/listeners.h"

#include "absl/strings/str_cat.h"
#include "engine/socket_address.h"
#include "engine/udp_peer.h"

namespace sockman {

bool IsUdp(const ServicePlan& service) { return service.config.transport() == UDP; }

ListenOptions ListenOptionsFor(const ServicePlan& service) {
  ListenOptions options;
  options.address = service.address;
  options.reuse_port = service.config.reuse_port();
  options.ipv6_only = service.config.ipv6_only();
  options.datagram = IsUdp(service);
  return options;
}

absl::StatusOr<BoundService> BindService(ServicePlan& service) {
  ListenOptions listen = ListenOptionsFor(service);
  absl::StatusOr<UniqueFd> fd = IsUdp(service)                ? BindUdpSocket(listen)
                                : service.config.reuse_port() ? ReserveTcpPort(listen)
                                                              : BindTcpListener(listen);
  absl::StatusOr<SocketAddress> bound =
      fd.ok() ? SocketAddress::LocalOf(fd->get()) : absl::StatusOr<SocketAddress>(fd.status());
  if (!bound.ok()) {
    return absl::Status(bound.status().code(), absl::StrCat("service '", service.config.name(),
                                                            "': ", bound.status().message()));
  }
  service.address = *bound;
  ListenUri uri = service.uri;
  uri.port = bound->port();
  return BoundService{
      std::move(*fd),
      {service.config.name(), uri.ToString(), static_cast<int>(service.config.count())}};
}

absl::StatusOr<UniqueFd> BindWorkerSocket(const ServicePlan& service) {
  return IsUdp(service) ? BindUdpSocket(ListenOptionsFor(service))
                        : BindTcpListener(ListenOptionsFor(service));
}

}  // namespace sockman
