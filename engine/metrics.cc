#include "engine/metrics.h"

#include <time.h>

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sockman {
namespace {

using T = MetricType;

// Keep docs/metrics.md in step with this table.
constexpr MetricFamily kFamilies[] = {
    {"sockman_build_info", T::kGauge, "Always 1; the version in a label."},
    {"sockman_workers", T::kGauge, "Worker processes by service and state."},
    {"sockman_worker_restarts", T::kCounter,
     "Worker processes started again after an exit, by service."},
    {"sockman_worker_exits", T::kCounter, "Worker process exits, by service and how."},
    {"sockman_reloads", T::kCounter, "Configuration reloads, by result."},
    {"sockman_process_resident_memory_bytes", T::kGauge, "Resident memory of the process."},
    {"sockman_process_open_fds", T::kGauge, "Open file descriptors of the process."},
    {"sockman_process_max_fds", T::kGauge, "The process's open-file limit."},
    {"sockman_process_cpu_seconds", T::kCounter, "User and system CPU time of the process."},
    {"sockman_process_start_time_seconds", T::kGauge,
     "When the process started, in seconds since the epoch."},
    {"sockman_connections_open", T::kGauge, "Open client connections."},
    {"sockman_connections_accepted", T::kCounter, "Client connections accepted."},
    {"sockman_connections_closed", T::kCounter,
     "Client connections closed, by reason (client, server, idle, heartbeat, protocol_error, "
     "drain, limit, auth)."},
    {"sockman_protocol_errors", T::kCounter,
     "Connections closed for breaking their protocol, by kind (malformed, too_large, timeout)."},
    {"sockman_messages_received", T::kCounter,
     "Messages (HTTP requests, frames, lines) received, by protocol and kind (text, binary)."},
    {"sockman_messages_sent", T::kCounter, "Messages sent by handlers, by protocol and kind."},
    {"sockman_received_bytes", T::kCounter, "Bytes read from client connections, by protocol."},
    {"sockman_sent_bytes", T::kCounter, "Bytes written to client connections, by protocol."},
    {"sockman_send_drops", T::kCounter,
     "Messages dropped because a client's send buffer was full or it was gone."},
    {"sockman_accept_pauses", T::kCounter, "Times max_connections stopped accepting."},
    {"sockman_proxy_header_errors", T::kCounter,
     "PROXY protocol headers missing, malformed, late or from an untrusted peer."},
    {"sockman_slow_peers", T::kCounter,
     "Connections cut off for min_send_rate (reader) or min_receive_rate (sender)."},
    {"sockman_rate_limited", T::kCounter,
     "Messages over a connection's rate_limit, by action (drop: dropped; pause: reading "
     "paused; close: connection closed)."},
    {"sockman_ip_limit_refusals", T::kCounter,
     "Connections refused at accept by a per-IP limit, by limit."},
    {"sockman_datagrams_dropped", T::kCounter, "UDP datagrams over max_package_size."},
    {"sockman_backend_errors", T::kCounter,
     "Failed exchanges with backends (webhook requests, proxy upstreams)."},
    {"sockman_http_requests", T::kCounter,
     "HTTP responses, by status class (code) and method (GET, HEAD, POST, PUT, DELETE, other)."},
    {"sockman_http_request_duration_seconds", T::kHistogram,
     "From a request decoded to its response (its head, for streams) queued."},
    {"sockman_tls_handshakes", T::kCounter,
     "TLS handshakes, by result (ok, failed: the connection closed first) and version."},
    {"sockman_tls_resumptions", T::kCounter, "TLS handshakes that resumed an earlier session."},
    {"sockman_websocket_handshakes", T::kCounter,
     "WebSocket upgrade requests, by result (accepted, refused)."},
    {"sockman_route_requests", T::kCounter, "Requests (upgrades included) each route took."},
    {"sockman_route_rate_limited", T::kCounter,
     "HTTP requests a route's rate_limit answered with 429."},
    {"sockman_broadcast_publishes", T::kCounter,
     "Messages published from this worker (broadcasts, pushes) to a service's clients."},
    {"sockman_broadcast_deliveries", T::kCounter,
     "Published messages this worker delivered to its own clients (from any publisher)."},
    {"sockman_broadcast_fanout_seconds", T::kHistogram,
     "From a publication on this node to its last recipient in this worker."},
    {"sockman_group_rate_limited", T::kCounter,
     "Client messages not published to a group whose group_rate_limit was spent."},
    {"sockman_broadcast_conflated", T::kCounter,
     "Publications not delivered because a later one to the same target replaced them "
     "(conflate_ms)."},
    {"sockman_auth_timeouts", T::kCounter,
     "Clients closed for not authenticating within auth_timeout_ms."},
    {"sockman_bus_frames", T::kCounter,
     "Worker bus frames to and from the node's other workers, by direction (sent, received, "
     "dropped)."},
    {"sockman_cluster_messages", T::kCounter,
     "Operations relayed through Redis to and from other nodes, by direction (out, in)."},
    {"sockman_cluster_messages_unrelayed", T::kCounter,
     "Operations not relayed to other nodes because Redis was unreachable."},
    {"sockman_cluster_relay_lag_seconds", T::kHistogram,
     "From a publication on another node to its arrival here (as far as the clocks agree)."},
    {"sockman_redis_up", T::kGauge,
     "1 while the cluster's Redis connection (commands, subscriber) is up, else 0."},
    {"sockman_webhook_requests", T::kCounter,
     "Webhook requests to the backends, by result (answered: any status; error: no answer)."},
    {"sockman_webhook_response_seconds", T::kHistogram,
     "Webhook: from a request sent to its backend's answer (or failure)."},
    {"sockman_webhook_events_dropped", T::kCounter,
     "Webhook events given up on: no backend reachable within retry_ms."},
    {"sockman_upstream_requests", T::kCounter,
     "HTTP proxy tries, by upstream and result (ok: a response head came; error)."},
    {"sockman_upstream_response_seconds", T::kHistogram,
     "HTTP proxy: from a request sent upstream to its response head."},
    {"sockman_upstream_up", T::kGauge,
     "HTTP proxy: 1 while an upstream is in (passive and active health), else 0."},
    {"sockman_upstream_connections", T::kGauge,
     "HTTP proxy: open connections to an upstream (busy and idle)."},
    {"sockman_scrape_workers_missing", T::kGauge,
     "Workers that did not answer this scrape in time (busy or exiting)."},
};

std::string FormatDouble(double value) {
  if (value == static_cast<double>(static_cast<int64_t>(value)) && value < 9e15 && value > -9e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrFormat("%.15g", value);
}

}  // namespace

absl::Span<const MetricFamily> MetricFamilies() { return kFamilies; }

const MetricFamily* FindMetricFamily(absl::string_view name) {
  static const auto* index = [] {
    auto* map = new absl::flat_hash_map<absl::string_view, const MetricFamily*>();
    for (const MetricFamily& family : kFamilies) (*map)[family.name] = &family;
    return map;
  }();
  auto it = index->find(name);
  return it == index->end() ? nullptr : it->second;
}

void LatencyHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++buckets[i];
  ++count;
  sum += seconds;
}

int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void MetricSamples::Line(absl::string_view family, absl::string_view suffix, Labels labels,
                         absl::string_view extra_label, absl::string_view value) {
  absl::StrAppend(&text_, family, "|", family, suffix);
  bool any = !base_.empty() || labels.size() > 0 || !extra_label.empty();
  if (any) {
    text_ += '{';
    bool first = true;
    auto comma = [&] {
      if (!first) text_ += ',';
      first = false;
    };
    if (!base_.empty()) {
      comma();
      text_ += base_;
    }
    for (const auto& [name, label_value] : labels) {
      comma();
      absl::StrAppend(&text_, name, "=\"", EscapeLabelValue(label_value), "\"");
    }
    if (!extra_label.empty()) {
      comma();
      text_.append(extra_label.data(), extra_label.size());
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", value, "\n");
}

void MetricSamples::Counter(absl::string_view family, uint64_t value, Labels labels) {
  Line(family, "_total", labels, "", absl::StrCat(value));
}

void MetricSamples::Counter(absl::string_view family, double value, Labels labels) {
  Line(family, "_total", labels, "", FormatDouble(value));
}

void MetricSamples::Gauge(absl::string_view family, double value, Labels labels) {
  Line(family, "", labels, "", FormatDouble(value));
}

void MetricSamples::Histogram(absl::string_view family, const LatencyHistogram& histogram,
                              Labels labels) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < histogram.buckets.size(); ++i) {
    cumulative += histogram.buckets[i];
    std::string le = i < LatencyHistogram::kBounds.size()
                         ? absl::StrCat("le=\"", FormatDouble(LatencyHistogram::kBounds[i]), "\"")
                         : std::string("le=\"+Inf\"");
    Line(family, "_bucket", labels, le, absl::StrCat(cumulative));
  }
  Line(family, "_sum", labels, "", FormatDouble(histogram.sum));
  Line(family, "_count", labels, "", absl::StrCat(histogram.count));
}

std::string RenderExposition(absl::string_view samples, bool openmetrics) {
  // Lines by family, in the order they came.
  absl::flat_hash_map<absl::string_view, std::vector<absl::string_view>> by_family;
  while (!samples.empty()) {
    size_t end = samples.find('\n');
    absl::string_view line = samples.substr(0, end);
    samples.remove_prefix(end == absl::string_view::npos ? samples.size() : end + 1);
    size_t bar = line.find('|');
    if (bar == absl::string_view::npos) continue;
    absl::string_view family = line.substr(0, bar);
    if (FindMetricFamily(family) == nullptr) continue;
    by_family[family].push_back(line.substr(bar + 1));
  }
  std::string out;
  for (const MetricFamily& family : kFamilies) {
    auto it = by_family.find(family.name);
    if (it == by_family.end()) continue;
    const char* type = family.type == T::kCounter ? "counter"
                       : family.type == T::kGauge ? "gauge"
                                                  : "histogram";
    // Counters: 0.0.4 names the family with its _total, OpenMetrics without.
    std::string name = family.name;
    if (family.type == T::kCounter && !openmetrics) name += "_total";
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ", type, "\n");
    if (openmetrics) {
      for (absl::string_view unit : {"seconds", "bytes"}) {
        if (absl::EndsWith(family.name, absl::StrCat("_", unit))) {
          absl::StrAppend(&out, "# UNIT ", name, " ", unit, "\n");
        }
      }
    }
    for (absl::string_view line : it->second) absl::StrAppend(&out, line, "\n");
  }
  if (openmetrics) out += "# EOF\n";
  return out;
}

bool WantsOpenMetrics(absl::string_view accept) {
  return absl::StrContains(accept, "application/openmetrics-text");
}

}  // namespace sockman
