#include "cli/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/read_file.h"
#include "engine/metrics.h"
#include "handlers/messaging/hub.h"

namespace sockman {
namespace {

constexpr const char* kMethods[ProtocolMetrics::kMethods] = {"GET", "HEAD",   "POST",
                                                             "PUT", "DELETE", "other"};
constexpr const char* kKinds[] = {"none", "malformed", "too_large", "timeout"};

// Process figures of `pid` from /proc (false if it is gone).
struct ProcessFigures {
  double rss_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double cpu_seconds = 0;
  double start_time = 0;
};

bool ReadProcess(pid_t pid, ProcessFigures& out) {
  std::string base = absl::StrCat("/proc/", pid);
  std::string stat = ReadFileOrEmpty(base + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  // Fields after the command: state is field 3; utime 14, stime 15, starttime 22.
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  if (fields.size() < 20) return false;
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  uint64_t utime = 0, stime = 0, start = 0;
  (void)absl::SimpleAtoi(fields[11], &utime);
  (void)absl::SimpleAtoi(fields[12], &stime);
  (void)absl::SimpleAtoi(fields[19], &start);
  out.cpu_seconds = static_cast<double>(utime + stime) / hz;
  static const double boot = [] {
    std::string text = ReadFileOrEmpty("/proc/stat");
    size_t at = text.find("\nbtime ");
    double seconds = 0;
    if (at != std::string::npos) {
      (void)absl::SimpleAtod(text.substr(at + 7, text.find('\n', at + 7) - at - 7), &seconds);
    }
    return seconds;
  }();
  out.start_time = boot + static_cast<double>(start) / hz;
  std::string statm = ReadFileOrEmpty(base + "/statm");
  int64_t size = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%" SCNd64 " %" SCNd64, &size, &resident) == 2) {
    out.rss_bytes = static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
  }
  if (DIR* dir = opendir((base + "/fd").c_str())) {
    int n = 0;
    while (dirent* entry = readdir(dir)) n += entry->d_name[0] != '.';
    closedir(dir);
    out.open_fds = n;
  }
  rlimit limit{};
  if (prlimit(pid, RLIMIT_NOFILE, nullptr, &limit) == 0) {
    out.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return true;
}

void AddProcess(MetricSamples& samples, const ProcessFigures& p, MetricSamples::Labels labels) {
  samples.Gauge("sockman_process_resident_memory_bytes", p.rss_bytes, labels);
  samples.Gauge("sockman_process_open_fds", p.open_fds, labels);
  samples.Gauge("sockman_process_max_fds", p.max_fds, labels);
  samples.Counter("sockman_process_cpu_seconds", p.cpu_seconds, labels);
  samples.Gauge("sockman_process_start_time_seconds", p.start_time, labels);
}

}  // namespace

std::string WorkerMetricSamples(const WorkerMetricSources& sources) {
  Server& server = sources.server;
  const Handler& handler = sources.handler;
  const ProtocolMetrics& protocol = sources.protocol_metrics;
  MetricSamples samples(absl::StrCat("service=\"", EscapeLabelValue(sources.service),
                                     "\",worker=\"", sources.worker_id, "\""));
  const ServiceCounters& c = server.counters();
  uint64_t bytes_in = c.bytes_in, bytes_out = c.bytes_out;
  server.ForEachConnection([&](Connection& connection) {
    bytes_in += connection.bytes_read();
    bytes_out += connection.bytes_written();
  });
  samples.Gauge("sockman_connections_open", static_cast<double>(server.connection_count()));
  samples.Counter("sockman_connections_accepted", c.connections_accepted);
  for (int reason = 0; reason < kCloseReasons; ++reason) {
    std::string name(CloseReasonName(static_cast<CloseReason>(reason)));
    samples.Counter("sockman_connections_closed", c.closed[reason], {{"reason", name}});
  }
  for (int kind = 1; kind < 4; ++kind) {
    samples.Counter("sockman_protocol_errors", c.protocol_errors_by_kind[kind],
                    {{"kind", kKinds[kind]}});
  }
  std::string name(sources.protocol.name());
  if (sources.protocol.traits().message_kinds) {  // text and binary apart
    samples.Counter("sockman_messages_received", c.messages_in - c.messages_in_binary,
                    {{"protocol", name}, {"kind", "text"}});
    samples.Counter("sockman_messages_received", c.messages_in_binary,
                    {{"protocol", name}, {"kind", "binary"}});
    samples.Counter("sockman_messages_sent", c.messages_out - c.messages_out_binary,
                    {{"protocol", name}, {"kind", "text"}});
    samples.Counter("sockman_messages_sent", c.messages_out_binary,
                    {{"protocol", name}, {"kind", "binary"}});
  } else {
    samples.Counter("sockman_messages_received", c.messages_in, {{"protocol", name}});
    samples.Counter("sockman_messages_sent", c.messages_out, {{"protocol", name}});
  }
  samples.Counter("sockman_received_bytes", bytes_in, {{"protocol", name}});
  samples.Counter("sockman_sent_bytes", bytes_out, {{"protocol", name}});
  samples.Counter("sockman_send_drops", c.send_failures);
  samples.Counter("sockman_accept_pauses", c.accept_pauses);
  samples.Counter("sockman_proxy_header_errors", c.proxy_header_errors);
  if (c.slow_readers + c.slow_senders > 0) {  // exported once there was one
    samples.Counter("sockman_slow_peers", c.slow_readers, {{"kind", "reader"}});
    samples.Counter("sockman_slow_peers", c.slow_senders, {{"kind", "sender"}});
  }
  if (c.rate_dropped + c.rate_paused + c.rate_closed > 0) {  // exported once there was one
    samples.Counter("sockman_rate_limited", c.rate_dropped, {{"action", "drop"}});
    samples.Counter("sockman_rate_limited", c.rate_paused, {{"action", "pause"}});
    samples.Counter("sockman_rate_limited", c.rate_closed, {{"action", "close"}});
  }
  if (c.ip_connection_refusals + c.ip_rate_refusals > 0) {  // exported once there was one
    samples.Counter("sockman_ip_limit_refusals", c.ip_connection_refusals,
                    {{"limit", "max_connections_per_ip"}});
    samples.Counter("sockman_ip_limit_refusals", c.ip_rate_refusals,
                    {{"limit", "new_connections_per_ip_per_second"}});
  }
  samples.Counter("sockman_datagrams_dropped", c.datagrams_dropped);
  samples.Counter("sockman_backend_errors", handler.backend_errors());
  bool http = false;
  for (int klass = 0; klass < 5; ++klass) {
    for (int method = 0; method < ProtocolMetrics::kMethods; ++method) {
      uint64_t n = protocol.http_requests[klass][method];
      if (n == 0) continue;  // only what happened (a handful of series)
      http = true;
      std::string code = absl::StrCat(klass + 1, "xx");
      samples.Counter("sockman_http_requests", n, {{"code", code}, {"method", kMethods[method]}});
    }
  }
  if (http) samples.Histogram("sockman_http_request_duration_seconds", protocol.http_duration);
  if (c.tls_established[0] + c.tls_established[1] + c.tls_failed > 0) {
    samples.Counter("sockman_tls_handshakes", c.tls_established[0],
                    {{"result", "ok"}, {"version", "TLSv1.2"}});
    samples.Counter("sockman_tls_handshakes", c.tls_established[1],
                    {{"result", "ok"}, {"version", "TLSv1.3"}});
    samples.Counter("sockman_tls_handshakes", c.tls_failed,
                    {{"result", "failed"}, {"version", ""}});
    samples.Counter("sockman_tls_resumptions", c.tls_resumed);
  }
  if (protocol.websocket_accepted + protocol.websocket_refused > 0) {
    samples.Counter("sockman_websocket_handshakes", protocol.websocket_accepted,
                    {{"result", "accepted"}});
    samples.Counter("sockman_websocket_handshakes", protocol.websocket_refused,
                    {{"result", "refused"}});
  }
  for (const auto& [route, count] : handler.route_requests()) {
    samples.Counter("sockman_route_requests", count, {{"route", route}});
  }
  handler.AppendMetrics(samples);
  if (const Hub* hub = Hub::IfMade()) hub->AppendMetrics(samples);
  if (sources.bus != nullptr) {
    samples.Counter("sockman_bus_frames", sources.bus->frames_sent(), {{"direction", "sent"}});
    samples.Counter("sockman_bus_frames", sources.bus->frames_received(),
                    {{"direction", "received"}});
    samples.Counter("sockman_bus_frames", sources.bus->frames_dropped(),
                    {{"direction", "dropped"}});
  }
  return samples.text();
}

std::string MasterMetricSamples(const MasterMetrics& master) {
  MetricSamples samples;
  samples.Gauge("sockman_build_info", 1, {{"version", master.version}});
  std::map<std::string, std::pair<int, int>> states;  // service -> running, restarting
  std::map<std::string, int> restarts;
  for (const WorkerInfo& worker : master.workers) {
    auto& [running, restarting] = states[worker.pool];
    (worker.pid > 0 ? running : restarting) += 1;
    restarts[worker.pool] += worker.restarts;
  }
  for (const auto& [service, counts] : states) {
    samples.Gauge("sockman_workers", counts.first, {{"service", service}, {"state", "running"}});
    samples.Gauge("sockman_workers", counts.second,
                  {{"service", service}, {"state", "restarting"}});
    samples.Counter("sockman_worker_restarts", static_cast<uint64_t>(restarts[service]),
                    {{"service", service}});
  }
  for (const auto& [service, hows] : master.exits) {
    for (const auto& [how, count] : hows) {
      samples.Counter("sockman_worker_exits", static_cast<uint64_t>(count),
                      {{"service", service}, {"how", how}});
    }
  }
  samples.Counter("sockman_reloads", master.reloads_ok, {{"result", "ok"}});
  samples.Counter("sockman_reloads", master.reloads_failed, {{"result", "failed"}});
  samples.Gauge("sockman_scrape_workers_missing", master.missing);
  ProcessFigures figures;
  if (ReadProcess(getpid(), figures)) AddProcess(samples, figures, {{"process", "master"}});
  for (const WorkerInfo& worker : master.workers) {
    if (worker.pid <= 0 || !ReadProcess(worker.pid, figures)) continue;
    std::string id = absl::StrCat(worker.id);
    AddProcess(samples, figures, {{"process", "worker"}, {"service", worker.pool}, {"worker", id}});
  }
  return samples.text();
}

}  // namespace sockman
