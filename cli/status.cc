#include "cli/status.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "engine/base/json.h"
#include "engine/base/read_file.h"
#include "protocols/http/syntax.h"

namespace sockman {
namespace {

// A field as JSON: numbers stay numbers, anything else becomes a string.
std::string JsonValue(absl::string_view value) {
  int64_t n;
  if (!value.empty() && absl::SimpleAtoi(value, &n) && absl::StrCat(n) == value) {
    return std::string(value);
  }
  return JsonString(value);
}

std::string IsoTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  tm parts;
  gmtime_r(&t, &parts);
  char text[32];
  strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

int64_t RssBytes(int pid) {
  std::string statm = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/statm"));
  int64_t size = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%" SCNd64 " %" SCNd64, &size, &resident) != 2) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

std::string Get(const std::map<std::string, std::string>& fields, const std::string& key) {
  auto it = fields.find(key);
  return it == fields.end() ? "-" : it->second;
}

constexpr const char* kWorkerFields[] = {
    "connections", "requests",          "send_failures",       "protocol_errors",
    "timers",      "accepted",          "accept_pauses",       "heartbeat_closes",
    "idle_closes", "datagrams_dropped", "proxy_header_errors", "backend_errors"};

}  // namespace

std::map<std::string, std::string> ParseFields(absl::string_view line) {
  std::map<std::string, std::string> fields;
  for (absl::string_view part : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) continue;
    fields[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
  }
  return fields;
}

std::string WorkerStatusLine(const Server& server, const Reactor& reactor, uint64_t backend_errors,
                             const std::vector<std::pair<std::string, uint64_t>>& route_requests,
                             const std::vector<UpstreamStatus>& upstreams) {
  const ServiceCounters& c = server.counters();
  std::string routes;
  for (const auto& [name, count] : route_requests) {
    absl::StrAppend(&routes, routes.empty() ? " routes=" : ",", name, ":", count);
  }
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const UpstreamStatus& u = upstreams[i];
    absl::StrAppend(&routes, i == 0 ? " upstreams=" : ",", u.url, "|", u.up ? "up" : "down", "|",
                    u.requests, "|", u.failures, "|", u.connections);
  }
  return absl::StrCat("connections=", server.connection_count(), " requests=", c.messages_in,
                      " send_failures=", c.send_failures, " protocol_errors=", c.protocol_errors,
                      " timers=", reactor.timer_count(), " accepted=", c.connections_accepted,
                      " accept_pauses=", c.accept_pauses, " heartbeat_closes=", c.heartbeat_closes,
                      " idle_closes=", c.idle_closes, " datagrams_dropped=", c.datagrams_dropped,
                      " proxy_header_errors=", c.proxy_header_errors,
                      " backend_errors=", backend_errors, routes);
}

namespace {

// Field values in the worker's line: what would split it is %XX-encoded.
std::string FieldEncode(absl::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (c <= ' ' || c == ';' || c == '=' || c == ',' || c == '%' || c == 0x7f) {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string FieldDecode(absl::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    int hi = -1, lo = -1;
    if (value[i] == '%' && i + 2 < value.size()) {
      hi = HexDigitValue(value[i + 1]);
      lo = HexDigitValue(value[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += value[i];
    }
  }
  return out;
}

}  // namespace

std::string WorkerConnectionsLine(Server& server, const Reactor& reactor,
                                  const std::string& service, const Handler* handler) {
  std::vector<std::string> records;
  int64_t now = reactor.NowMs();
  server.ForEachConnection([&](Connection& c) {
    std::string local = c.local_address();
    records.push_back(absl::StrCat(
        "id=", c.id(), " service=", service, " protocol=", c.protocol(),
        " local=", local.empty() ? "-" : local, " remote=", c.remote_address().ToString(),
        " bytes_in=", c.bytes_read(), " bytes_out=", c.bytes_written(),
        " messages_in=", c.messages_in(), " messages_out=", c.messages_out(),
        " send_buffer=", c.send_buffer_size(), " age_ms=", now - c.created_ms()));
    if (handler == nullptr) return;
    if (std::optional<ClientDescription> client = handler->DescribeClient(c)) {
      std::vector<std::string> groups;
      for (const std::string& group : client->groups) groups.push_back(FieldEncode(group));
      absl::StrAppend(&records.back(), " client_id=", FieldEncode(client->client_id),
                      " uid=", client->uid.empty() ? "-" : FieldEncode(client->uid),
                      " groups=", groups.empty() ? "-" : absl::StrJoin(groups, ","));
    }
  });
  return absl::StrJoin(records, ";");
}

namespace {

const char* StateOf(const WorkerReply& w) {
  if (w.worker.pid == 0) return "restarting";
  if (w.worker.draining) return "draining";
  return w.answered ? "idle" : "busy";
}

// When a worker started, in wall-clock seconds.
int64_t StartedWall(const MasterSummary& master, const WorkerInfo& worker) {
  return master.now_wall_seconds - (master.now_ms - worker.started_ms) / 1000;
}

struct Totals {
  int workers = 0;
  int draining = 0;
  uint64_t connections = 0;
};

Totals TotalsOf(const std::vector<WorkerReply>& workers) {
  Totals t;
  for (const WorkerReply& w : workers) {
    (w.worker.draining ? t.draining : t.workers) += 1;
    uint64_t n = 0;
    if (absl::SimpleAtoi(Get(ParseFields(w.reply), "connections"), &n)) t.connections += n;
  }
  return t;
}

}  // namespace

std::string RenderStatus(const MasterSummary& master, const std::vector<WorkerReply>& workers,
                         bool json) {
  Totals totals = TotalsOf(workers);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  int64_t uptime = master.now_wall_seconds - master.start_wall_seconds;
  if (json) {
    std::string out = absl::StrCat(
        "{\"version\":", JsonString(master.version), ",\"pid\":", master.pid,
        ",\"start_time\":", JsonString(IsoTime(master.start_wall_seconds)),
        ",\"uptime_seconds\":", uptime,
        absl::StrFormat(",\"load_average\":[%.2f,%.2f,%.2f]", load[0], load[1], load[2]),
        ",\"totals\":{\"services\":", master.services.size(), ",\"workers\":", totals.workers,
        ",\"draining\":", totals.draining, ",\"connections\":", totals.connections, "}",
        ",\"services\":[");
    for (size_t i = 0; i < master.services.size(); ++i) {
      const ServiceSummary& s = master.services[i];
      absl::StrAppend(&out, i ? "," : "", "{\"name\":", JsonString(s.name),
                      ",\"listen\":", JsonString(s.listen), ",\"count\":", s.count, ",\"exits\":{");
      auto it = master.exits.find(s.name);
      if (it != master.exits.end()) {
        size_t k = 0;
        for (const auto& [how, count] : it->second) {
          absl::StrAppend(&out, k++ ? "," : "", JsonString(how), ":", count);
        }
      }
      out += "}}";
    }
    out += "],\"workers\":[";
    for (size_t i = 0; i < workers.size(); ++i) {
      const WorkerReply& w = workers[i];
      auto fields = ParseFields(w.reply);
      absl::StrAppend(&out, i ? "," : "", "{\"pid\":", w.worker.pid,
                      ",\"service\":", JsonString(w.worker.pool), ",\"id\":", w.worker.id,
                      ",\"rss_bytes\":", w.worker.pid > 0 ? RssBytes(w.worker.pid) : 0,
                      ",\"restarts\":", w.worker.restarts);
      for (const char* key : kWorkerFields) {
        absl::StrAppend(&out, ",\"", key, "\":", w.answered ? JsonValue(Get(fields, key)) : "null");
      }
      if (auto routes = fields.find("routes"); routes != fields.end()) {
        out += ",\"routes\":{";
        size_t k = 0;
        for (absl::string_view route : absl::StrSplit(routes->second, ',', absl::SkipEmpty())) {
          size_t colon = route.rfind(':');
          if (colon == absl::string_view::npos) continue;
          absl::StrAppend(&out, k++ ? "," : "", JsonString(route.substr(0, colon)), ":",
                          JsonValue(std::string(route.substr(colon + 1))));
        }
        out += "}";
      }
      if (auto ups = fields.find("upstreams"); ups != fields.end()) {
        out += ",\"upstreams\":[";
        size_t k = 0;
        for (absl::string_view entry : absl::StrSplit(ups->second, ',', absl::SkipEmpty())) {
          std::vector<std::string> parts = absl::StrSplit(entry, '|');
          if (parts.size() != 5) continue;
          absl::StrAppend(
              &out, k++ ? "," : "", "{\"url\":", JsonString(parts[0]),
              ",\"state\":", JsonString(parts[1]), ",\"requests\":", JsonValue(parts[2]),
              ",\"failures\":", JsonValue(parts[3]), ",\"connections\":", JsonValue(parts[4]), "}");
        }
        out += "]";
      }
      absl::StrAppend(&out, ",\"draining\":", w.worker.draining ? "true" : "false",
                      ",\"started\":", JsonString(IsoTime(StartedWall(master, w.worker))),
                      ",\"state\":", JsonString(StateOf(w)), "}");
    }
    return out + "]}\n";
  }
  std::string out = absl::StrFormat(
      "sockman %s  master pid %d  started %s  uptime %dd %02d:%02d:%02d  load %.2f %.2f %.2f\n\n",
      master.version, master.pid, IsoTime(master.start_wall_seconds), uptime / 86400,
      uptime / 3600 % 24, uptime / 60 % 60, uptime % 60, load[0], load[1], load[2]);
  absl::StrAppend(
      &out, absl::StrFormat("%-16s %-36s %-7s %s\n", "SERVICE", "LISTEN", "COUNT", "WORKER EXITS"));
  for (const ServiceSummary& s : master.services) {
    std::string exits = "-";
    if (auto it = master.exits.find(s.name); it != master.exits.end()) {
      std::vector<std::string> parts;
      for (const auto& [how, count] : it->second) parts.push_back(absl::StrCat(how, " x", count));
      exits = absl::StrJoin(parts, ", ");
    }
    absl::StrAppend(&out,
                    absl::StrFormat("%-16s %-36s %-7d %s\n", s.name, s.listen, s.count, exits));
  }
  absl::StrAppend(&out, "\n",
                  absl::StrFormat("totals: %d services, %d workers (%d draining), %d connections\n",
                                  master.services.size(), totals.workers + totals.draining,
                                  totals.draining, totals.connections));
  absl::StrAppend(
      &out, "\n",
      absl::StrFormat("%-8s %-16s %-4s %-10s %-11s %-10s %-9s %-9s %-11s %-6s %-8s %-20s %s\n",
                      "PID", "SERVICE", "ID", "RSS", "CONNECTIONS", "REQUESTS", "SEND_FAIL",
                      "PROTO_ERR", "BACKEND_ERR", "TIMERS", "RESTARTS", "STARTED", "STATE"));
  for (const WorkerReply& w : workers) {
    auto fields = ParseFields(w.reply);
    absl::StrAppend(
        &out,
        absl::StrFormat("%-8d %-16s %-4d %-10s %-11s %-10s %-9s %-9s %-11s %-6s %-8d %-20s %s\n",
                        w.worker.pid, w.worker.pool, w.worker.id,
                        absl::StrCat(w.worker.pid > 0 ? RssBytes(w.worker.pid) / 1024 : 0, "K"),
                        Get(fields, "connections"), Get(fields, "requests"),
                        Get(fields, "send_failures"), Get(fields, "protocol_errors"),
                        Get(fields, "backend_errors"), Get(fields, "timers"), w.worker.restarts,
                        IsoTime(StartedWall(master, w.worker)), StateOf(w)));
    if (auto routes = fields.find("routes"); routes != fields.end()) {
      absl::StrAppend(&out, "         routes: ",
                      absl::StrReplaceAll(routes->second, {{",", " "}, {":", "="}}), "\n");
    }
    if (auto ups = fields.find("upstreams"); ups != fields.end()) {
      for (absl::string_view entry : absl::StrSplit(ups->second, ',', absl::SkipEmpty())) {
        std::vector<std::string> parts = absl::StrSplit(entry, '|');
        if (parts.size() != 5) continue;
        absl::StrAppend(&out, "         upstream ", parts[0], " ", parts[1], " requests=", parts[2],
                        " failures=", parts[3], " connections=", parts[4], "\n");
      }
    }
  }
  return out;
}

std::string RenderConnections(const std::vector<WorkerReply>& workers, bool json) {
  std::string out =
      json
          ? "["
          : absl::StrFormat(
                "%-8s %-10s %-6s %-14s %-9s %-22s %-22s %-10s %-10s %-8s %-8s %-8s %-6s %-22s "
                "%-16s %s\n",
                "PID", "WORKER", "ID", "SERVICE", "PROTOCOL", "LOCAL", "REMOTE", "BYTES_IN",
                "BYTES_OUT", "MSG_IN", "MSG_OUT", "SENDBUF", "AGE_S", "CLIENT_ID", "UID", "GROUPS");
  bool first = true;
  for (const WorkerReply& w : workers) {
    if (!w.answered || w.reply.empty()) continue;
    for (absl::string_view record : absl::StrSplit(w.reply, ';', absl::SkipEmpty())) {
      auto f = ParseFields(record);
      if (json) {
        absl::StrAppend(&out, first ? "" : ",", "{\"worker_pid\":", w.worker.pid,
                        ",\"worker_id\":", w.worker.id);
        absl::StrAppend(&out, ",\"worker_draining\":", w.worker.draining ? "true" : "false");
        for (const auto& [key, value] : f) {
          if (key == "client_id" || key == "uid") {
            absl::StrAppend(&out, ",\"", key,
                            "\":", value == "-" ? "null" : JsonString(FieldDecode(value)));
          } else if (key == "groups") {
            out += ",\"groups\":[";
            if (value != "-") {
              size_t k = 0;
              for (absl::string_view group : absl::StrSplit(value, ',')) {
                absl::StrAppend(&out, k++ ? "," : "", JsonString(FieldDecode(group)));
              }
            }
            out += "]";
          } else {
            absl::StrAppend(&out, ",\"", key, "\":", JsonValue(value));
          }
        }
        out += "}";
      } else {
        int64_t age_ms = 0;
        if (!absl::SimpleAtoi(Get(f, "age_ms"), &age_ms)) age_ms = 0;  // shown as 0 if absent
        std::string worker = absl::StrCat(w.worker.id, w.worker.draining ? " (draining)" : "");
        std::string groups = Get(f, "groups");
        if (groups != "-") {
          std::vector<std::string> names;
          for (absl::string_view g : absl::StrSplit(groups, ',')) names.push_back(FieldDecode(g));
          groups = absl::StrJoin(names, ",");
        }
        absl::StrAppend(
            &out,
            absl::StrFormat(
                "%-8d %-10s %-6s %-14s %-9s %-22s %-22s %-10s %-10s %-8s %-8s %-8s %-6d %-22s "
                "%-16s %s\n",
                w.worker.pid, worker, Get(f, "id"), Get(f, "service"), Get(f, "protocol"),
                Get(f, "local"), Get(f, "remote"), Get(f, "bytes_in"), Get(f, "bytes_out"),
                Get(f, "messages_in"), Get(f, "messages_out"), Get(f, "send_buffer"), age_ms / 1000,
                Get(f, "client_id"), FieldDecode(Get(f, "uid")), groups));
      }
      first = false;
    }
  }
  if (json) out += "]\n";
  return out;
}

}  // namespace sockman
