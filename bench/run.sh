#!/usr/bin/env bash
# bench/run.sh: the whole stress suite, sockman against its peers on this
# machine in the same run (alternating systems, RUNS rounds each), with
# bounded durations. What to run to size a deployment; each suite's script
# documents its load generator and exact commands.
#
#   bench/run.sh                  # everything (about 25 minutes)
#   bench/run.sh http latency     # chosen suites
#   SMOKE=1 bench/run.sh          # seconds per suite: checks the scripts work
#
# Suites and peers:
#   http       wrk: keep-alive, 16-deep pipelining, Connection: close, HTTPS
#              keep-alive, static 4 KiB and 1 MiB files      vs nginx (Debian)
#   latency    bench/http_rate: p50/p99/p99.9 at fixed request rates vs nginx
#   ws         bench/ws_load: WebSocket echo, ping-pong and flood, 100 and
#              1,000 connections, 32 B and 4 KiB; idle memory with 10,000 and
#              50,000 connections over several 127.0.0.x sources  vs Node ws
#   broadcast  bench/ws_load --mode fanout: 1,000 subscribers, fan-out rate
#              and publish-to-receipt latency           vs a Node ws broadcast
#   webhook    one event through a webhook to Python's http.server backend,
#              per-event round trip          vs the backend alone (the floor)
#   routes     wrk: one handler vs the last of 20 routes (the cost of routing),
#              and gzip of a 64 KiB JSON file                      vs nginx gzip
#   proxy      wrk through the HTTP reverse proxy to a sockman upstream, keep-
#              alive pools             vs nginx proxy_pass and a byte-relay floor
#   metrics    wrk on respond while the metrics route is scraped every 100 ms
#              vs nobody scraping
#   framing    bench/codec_rate: config framings' decode rate, messages per
#              CPU-second                      vs the built-in frame protocol
#   policy     a well-behaved WebSocket client's round trips while rate-
#              limited clients flood the same worker          vs no flood
#   pusher     pusher: 1,000 subscribers, 1,000 SDK triggers/s, delivery
#              latency                                    (the goal: p99 < 20 ms)
#
# Output in bench/results/DATE/: one CSV per suite (every run, not only
# medians) and PNG charts (gnuplot) of throughput and latency per suite and
# system; each suite appends its table (ratios first) to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suites=(http latency ws broadcast webhook routes proxy metrics framing policy pusher)
[[ $# -gt 0 ]] && suites=("$@")
for suite in "${suites[@]}"; do
  [[ -x "${root}/bench/${suite}.sh" ]] || { echo "bench: no suite '${suite}' (have: http latency ws broadcast webhook routes proxy metrics framing policy pusher)" >&2; exit 2; }
done

export OUT="${OUT:-${root}/bench/results/$(date -u +%Y-%m-%dT%H%MZ)}"
mkdir -p "${OUT}"
if [[ -n "${SMOKE:-}" ]]; then
  # Seconds, not minutes: every script, every suite, every chart, tiny loads.
  export DURATION=1 RUNS=1 STRACE_SECONDS=1
  export RATES_LATENCY="200" RATES_BROADCAST="50" SUBSCRIBERS=20 IDLE_CONNECTIONS="200 1000"
  export CONNECTIONS=10 EVENTS=50 SUBSCRIBERS_PUSHER=50
fi

command -v gnuplot >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null

for suite in "${suites[@]}"; do
  echo "== ${suite}" >&2
  case "${suite}" in
    latency) RATES="${RATES_LATENCY:-${RATES:-2000 10000}}" "${root}/bench/latency.sh" ;;
    broadcast) RATES="${RATES_BROADCAST:-${RATES:-100 1000 10000}}" "${root}/bench/broadcast.sh" ;;
    ws)
      if [[ -n "${SMOKE:-}" ]]; then
        "${root}/bench/ws.sh" pingpong-10-32 flood-10-4096
      else
        "${root}/bench/ws.sh"
      fi
      ;;
    *) "${root}/bench/${suite}.sh" ;;
  esac
done

# chart CSV KEY_COLUMN VALUE_COLUMN TITLE YLABEL PNG [log]: the median of
# VALUE per key and system (systems in the order they appear), as clustered
# bars.
chart() {
  local csv="$1" key="$2" value="$3" title="$4" ylabel="$5" png="$6" log="${7:-}"
  local dat="${png%.png}.dat"
  awk -F, -v k="${key}" -v v="${value}" '
    NR == 1 { next }
    $v == "" { next }
    {
      if (!($k in seen_key)) { seen_key[$k] = 1; keys[++nk] = $k }
      if (!($2 in seen_sys)) { seen_sys[$2] = 1; systems[++ns] = $2 }
      n = ++count[$k, $2]; vals[$k, $2, n] = $v
    }
    END {
      printf "key"; for (s = 1; s <= ns; ++s) printf " %s", systems[s]; printf "\n"
      for (i = 1; i <= nk; ++i) {
        printf "%s", keys[i]
        for (s = 1; s <= ns; ++s) {
          n = count[keys[i], systems[s]]
          if (n == 0) { printf " 0"; continue }
          for (a = 1; a <= n; ++a) x[a] = vals[keys[i], systems[s], a]
          for (a = 1; a <= n; ++a) for (b = a + 1; b <= n; ++b) if (x[b] + 0 < x[a] + 0) { t = x[a]; x[a] = x[b]; x[b] = t }
          printf " %s", (n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2)
        }
        printf "\n"
      }
    }' "${csv}" > "${dat}"
  local columns
  columns="$(head -n1 "${dat}" | awk '{print NF}')"
  gnuplot <<PLOT
set terminal pngcairo size 1000,520 noenhanced
set output "${png}"
set title "${title}"
set ylabel "${ylabel}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -25
set key top left
set grid ytics
$( [[ -n "${log}" ]] && echo "set logscale y" )
plot for [c=2:${columns}] "${dat}" using c:xtic(1) title columnheader(c)
PLOT
  rm -f "${dat}"
}

# Charts for every suite with results in OUT (also those of an earlier
# invocation with the same OUT).
for suite in http latency ws broadcast webhook routes proxy metrics framing policy pusher; do
  csv="${OUT}/${suite}-last.csv"
  [[ -f "${csv}" ]] || continue
  case "${suite}" in
    http)
      chart "${csv}" 1 4 "HTTP requests per second (wrk, one worker each)" "requests/s" "${OUT}/http-rps.png"
      chart "${csv}" 1 5 "HTTP requests per server CPU-second" "requests/CPU-s" "${OUT}/http-per-cpu.png"
      ;;
    latency)
      for c in 5:p50 6:p99 7:p99.9; do
        chart "${csv}" 1 "${c%%:*}" "HTTP ${c#*:} latency at fixed rates (lower is better)" "microseconds" \
          "${OUT}/latency-${c#*:}.png" log
      done
      ;;
    ws)
      grep -v '^idle-' "${csv}" > "${OUT}/ws-echo.csv"
      chart "${OUT}/ws-echo.csv" 1 4 "WebSocket echo messages per second (suite: mode-connections-bytes)" "messages/s" "${OUT}/ws-rate.png" log
      chart "${OUT}/ws-echo.csv" 1 5 "WebSocket echo messages per server CPU-second" "messages/CPU-s" "${OUT}/ws-per-cpu.png" log
      { head -n1 "${csv}"; grep '^idle-' "${csv}" || true; } > "${OUT}/ws-idle.csv"
      chart "${OUT}/ws-idle.csv" 1 4 "Memory per idle WebSocket connection (lower is better)" "KiB" "${OUT}/ws-idle.png"
      rm -f "${OUT}/ws-echo.csv" "${OUT}/ws-idle.csv"
      ;;
    pusher)
      chart "${csv}" 1 8 "Pusher trigger-to-delivery p99 (1,000 subscribers)" "microseconds" "${OUT}/pusher-p99.png"
      ;;
    policy)
      chart "${csv}" 2 5 "Well-behaved client's p99 round trip, quiet and beside a rate-limited flood" "microseconds" "${OUT}/policy-p99.png"
      ;;
    framing)
      chart "${csv}" 2 4 "Config framings: messages decoded per CPU-second" "messages/CPU-s" "${OUT}/framing.png" log
      ;;
    broadcast)
      chart "${csv}" 1 4 "Broadcast deliveries per second, by publish rate" "deliveries/s" "${OUT}/broadcast-rate.png" log
      chart "${csv}" 1 7 "Broadcast p99 publish-to-receipt latency, by publish rate (lower is better)" "microseconds" "${OUT}/broadcast-p99.png" log
      ;;
    webhook)
      chart "${csv}" 1 4 "One event through a webhook, median (lower is better)" "microseconds" "${OUT}/webhook-median.png" log
      ;;
    routes)
      chart "${csv}" 1 5 "Routing and gzip: requests per server CPU-second" "requests/CPU-s" "${OUT}/routes-per-cpu.png"
      ;;
    proxy)
      chart "${csv}" 1 5 "HTTP reverse proxy: requests per proxy CPU-second" "requests/CPU-s" "${OUT}/proxy-per-cpu.png"
      ;;
    metrics)
      chart "${csv}" 1 5 "respond requests per sockman CPU-second, scraped every 100 ms or not" "requests/CPU-s" "${OUT}/metrics-per-cpu.png"
      ;;
  esac
done
echo "bench: CSVs and charts in ${OUT}" >&2
ls "${OUT}"
