#!/usr/bin/env bash
# bench/ws.sh: sockman's WebSocket echo vs Node's `ws` echo server, on this
# machine, same run, loopback.
#
#   bench/ws.sh                        # 5 s runs, 3 alternating rounds per suite
#   DURATION=2 RUNS=1 bench/ws.sh      # quick look
#   bench/ws.sh flood-100-32           # chosen suites only
#
# Suites: {pingpong, flood} x {100, 1000} connections x {32, 4096}-byte text
# messages, driven by bench/ws_load (C++, one thread, epoll: a Node client
# saturates before either server does).
#   pingpong  one message in flight per connection
#   flood     clients send without waiting, up to 64 KiB (2..128 messages)
#             unanswered per connection
# Both servers run one process (sockman: `count: 1`); bench/floor_server
# (read, unmask, write back, nothing else) runs the same suites for scale. Each run records echoed
# messages per second and messages per CPU-second of the server (utime+stime
# of all its processes from /proc, before and after). Then, for each count in
# IDLE_CONNECTIONS (default "10000 50000"), it opens that many idle WebSocket
# connections to each server, spread over 127.0.0.1..127.0.0.K source
# addresses (20,000 each), and reports the growth of the serving process's
# RSS per connection; a count the open-file hard limit cannot hold on both
# ends is reported as skipped. Prints medians and sockman/ws ratios and
# appends a Markdown table to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-5}"
RUNS="${RUNS:-3}"
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-10000 50000}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir wsbench

# N idle connections need N descriptors on each side.
hard_files="$(ulimit -Hn)"
[[ "${hard_files}" == unlimited ]] && hard_files=1048576
ulimit -n "$(( hard_files < 1048576 ? hard_files : 1048576 ))"

# ./bazelw installs Node and its `ws` package for the tests; the peer uses it.
bench_build
[[ -d "${node_modules}/ws" ]] || { echo "bench: ${node_modules}/ws missing (./bazelw installs it)" >&2; exit 1; }
load="${work}/ws_load"

cat > "${work}/sockman.textproto" <<CONF
service {
  name: "echo"
  listen: "ws://127.0.0.1:0"
  count: 1
  limits { max_connections: 100000 }
  echo {}
}
CONF
start_sockman "${sockman}"
sockman_port="$(sockman_port "${work}/sockman.out" echo)"
[[ -n "${sockman_port}" ]] || { cat "${work}/sockman.err"; exit 1; }
sockman_worker="$(pgrep -P "${sockman_pid}" | head -n1)"

start_node "${root}/bench/node/ws_echo_server.js" "${node_modules}"
[[ -n "${node_port}" ]] || { echo "bench: the Node ws server did not start" >&2; exit 1; }
start_floor ws
[[ -n "${floor_port}" ]] || { echo "bench: floor_server did not start" >&2; exit 1; }

# run_one PID PORT MODE CONNECTIONS SIZE -> "msgs_per_sec msgs_per_cpu_second"
run_one() {
  local pid="$1" port="$2" mode="$3" connections="$4" size="$5"
  local before after out
  before="$(cpu_ticks "${pid}")"
  out="$("${load}" --port "${port}" --mode "${mode}" --connections "${connections}" \
           --size "${size}" --seconds "${DURATION}")"
  after="$(cpu_ticks "${pid}")"
  awk -v t=$((after - before)) -v hz="${hz}" '{
    for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
    cpu = t / hz
    printf "%.0f %.0f\n", v["msgs_per_sec"], (cpu > 0 ? v["messages"] / cpu : 0)
  }' <<<"${out}"
}

suites=()
for mode in pingpong flood; do
  for connections in 100 1000; do
    for size in 32 4096; do suites+=("${mode}-${connections}-${size}"); done
  done
done
[[ $# -gt 0 ]] && suites=("$@")

csv="$(csv_out ws)"
echo "suite,system,run,msgs_per_sec,msgs_per_cpu_s" > "${csv}"
for suite in "${suites[@]}"; do
  IFS=- read -r mode connections size <<<"${suite}"
  for run in $(seq "${RUNS}"); do
    for system in sockman ws floor; do
      case "${system}" in
        sockman) pid="${sockman_pid}" port="${sockman_port}" ;;
        ws) pid="${node_pid}" port="${node_port}" ;;
        floor) pid="${floor_pid}" port="${floor_port}" ;;
      esac
      read -r rate per_cpu < <(run_one "${pid}" "${port}" "${mode}" "${connections}" "${size}")
      echo "${suite},${system},${run},${rate},${per_cpu}" >> "${csv}"
      echo "  ${suite} ${system} run ${run}: ${rate} msg/s, ${per_cpu} msg per server CPU-second" >&2
    done
  done
done

# idle_rss PID PORT COUNT -> KiB of RSS growth per idle connection (PID: the process serving).
idle_rss() {
  local pid="$1" port="$2" count="$3" before after
  before="$(rss_kib "${pid}")"
  "${load}" --port "${port}" --mode idle --connections "${count}" --seconds 30 \
    --sources $(( (count + 19999) / 20000 )) > "${work}/idle.out" &
  local load_pid=$!
  for _ in $(seq 600); do grep -q '^ready' "${work}/idle.out" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  after="$(rss_kib "${pid}")"
  kill "${load_pid}" 2>/dev/null || true
  wait "${load_pid}" 2>/dev/null || true
  grep -q '^ready' "${work}/idle.out" || { echo "bench: idle connections did not all open" >&2; echo 0; return; }
  awk -v b="${before}" -v a="${after}" -v n="${count}" 'BEGIN { printf "%.2f\n", (a - b) / n }'
}
idle_lines=()
for count in ${IDLE_CONNECTIONS}; do
  if (( count + 1000 > hard_files )); then
    idle_lines+=("Idle connections: ${count} skipped: the open-file hard limit here is ${hard_files} (docs/kernel-tuning.md).")
    echo "idle-${count},sockman,1,," >> "${csv}"
    continue
  fi
  sockman_idle="$(idle_rss "${sockman_worker}" "${sockman_port}" "${count}")"
  sleep 1
  node_idle="$(idle_rss "${node_pid}" "${node_port}" "${count}")"
  sleep 1
  echo "idle-${count},sockman,1,${sockman_idle}," >> "${csv}"
  echo "idle-${count},ws,1,${node_idle}," >> "${csv}"
  idle_lines+=("Idle connections: ${count} open WebSockets grow sockman's worker RSS by ${sockman_idle} KiB per connection (Node ws: ${node_idle} KiB).")
done

# Report.
{
  echo
  echo "## WebSocket echo, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1), Node $(node --version) with ws $(node -p "require('${node_modules}/ws/package.json').version")."
  echo "bench/ws_load, ${DURATION} s runs, ${RUNS} alternating runs each; medians. Suite: mode-connections-bytes."
  echo
  echo "| suite | sockman/ws msg/s | sockman/ws msg per CPU-s | floor/ws msg/s | floor/ws msg per CPU-s | sockman msg/s | ws msg/s | floor msg/s | sockman msg/CPU-s | ws msg/CPU-s | floor msg/CPU-s | sockman MB/s |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for suite in "${suites[@]}"; do
    size="${suite##*-}"
    s_rate="$(awk -F, -v s="${suite}" '$1==s && $2=="sockman" {print $4}' "${csv}" | median)"
    n_rate="$(awk -F, -v s="${suite}" '$1==s && $2=="ws" {print $4}' "${csv}" | median)"
    f_rate="$(awk -F, -v s="${suite}" '$1==s && $2=="floor" {print $4}' "${csv}" | median)"
    s_cpu="$(awk -F, -v s="${suite}" '$1==s && $2=="sockman" {print $5}' "${csv}" | median)"
    n_cpu="$(awk -F, -v s="${suite}" '$1==s && $2=="ws" {print $5}' "${csv}" | median)"
    f_cpu="$(awk -F, -v s="${suite}" '$1==s && $2=="floor" {print $5}' "${csv}" | median)"
    awk -v su="${suite}" -v sr="${s_rate}" -v nr="${n_rate}" -v fr="${f_rate}" -v sc="${s_cpu}" \
        -v nc="${n_cpu}" -v fc="${f_cpu}" -v b="${size}" \
      'BEGIN { printf "| %s | **%.1fx** | **%.1fx** | %.1fx | %.1fx | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", su, (nr ? sr/nr : 0), (nc ? sc/nc : 0), (nr ? fr/nr : 0), (nc ? fc/nc : 0), sr, nr, fr, sc, nc, fc, sr * b / 1e6 }'
  done
  echo
  echo "floor: bench/floor_server, which reads, unmasks and writes back each frame and does nothing else (no validation, no limits, no UTF-8 check). floor/ws is about the most any event-loop server could reach over Node's ws here."
  echo
  printf '%s\n' "${idle_lines[@]}"
} | tee -a "${RESULTS}"
