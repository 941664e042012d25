#!/usr/bin/env bash
# bench/broadcast.sh: fan-out through sockman's `broadcast` handler (2 workers,
# so half the deliveries cross the worker bus) against a one-process Node `ws`
# server that loops over its clients, same machine, same run, loopback.
#
#   bench/broadcast.sh                   # 5 s runs, 3 alternating rounds per rate
#   DURATION=2 RUNS=1 bench/broadcast.sh # quick look
#
# bench/ws_load --mode fanout opens SUBSCRIBERS (1,000) WebSocket clients; the
# first also publishes RATE 32-byte messages per second, each carrying its send
# time, and every delivery's latency is recorded (publish to receipt). Rates:
# 100/s (latency when idle), 1,000/s and 10,000/s (beyond what either server
# sustains: the delivered rate is the fan-out capacity). Reports deliveries
# per second, per server CPU-second, and p50/p99/p99.9 latency; appends a
# table to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-5}"
RUNS="${RUNS:-3}"
SUBSCRIBERS="${SUBSCRIBERS:-1000}"
RATES="${RATES:-100 1000 10000}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir bcbench
ulimit -n "$(( $(ulimit -Hn) < 65536 ? $(ulimit -Hn) : 65536 ))"

bench_build
[[ -d "${node_modules}/ws" ]] || { echo "bench: ${node_modules}/ws missing (./bazelw installs it)" >&2; exit 1; }

cat > "${work}/sockman.textproto" <<CONF
service {
  name: "chat"
  listen: "ws://127.0.0.1:0"
  count: 2
  broadcast {}
}
CONF
start_sockman "${work}/sockman"
sockman_port="$(sockman_port "${work}/sockman.out" chat)"
[[ -n "${sockman_port}" ]] || { cat "${work}/sockman.err"; exit 1; }

start_node "${root}/bench/node/ws_broadcast_server.js" "${node_modules}"

# run_one PID PORT RATE -> "deliveries/s deliveries/cpu-s p50 p99 p999"
run_one() {
  local before after out
  before="$(cpu_ticks "$1")"
  out="$("${work}/ws_load" --port "$2" --mode fanout --connections "${SUBSCRIBERS}" --rate "$3" \
           --size 32 --seconds "${DURATION}")"
  after="$(cpu_ticks "$1")"
  awk -v t=$((after - before)) -v hz="${hz}" '{
    for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
    cpu = t / hz
    printf "%.0f %.0f %s %s %s\n", v["msgs_per_sec"], (cpu > 0 ? v["messages"] / cpu : 0),
           v["p50_us"], v["p99_us"], v["p999_us"]
  }' <<<"${out}"
}

csv="$(csv_out broadcast)"
echo "rate,system,run,deliveries_per_sec,deliveries_per_cpu_s,p50_us,p99_us,p999_us" > "${csv}"
for rate in ${RATES}; do
  for run in $(seq "${RUNS}"); do
    for system in sockman ws; do
      if [[ "${system}" == sockman ]]; then pid="${sockman_pid}" port="${sockman_port}"; else pid="${node_pid}" port="${node_port}"; fi
      read -r d per_cpu p50 p99 p999 < <(run_one "${pid}" "${port}" "${rate}")
      echo "${rate},${system},${run},${d},${per_cpu},${p50},${p99},${p999}" >> "${csv}"
      echo "  rate ${rate} ${system} run ${run}: ${d} deliveries/s, ${per_cpu}/CPU-s, p50 ${p50} us, p99 ${p99} us" >&2
      sleep 1  # let the previous clients' sockets go
    done
  done
done

col() { awk -F, -v r="$1" -v s="$2" -v c="$3" '$1==r && $2==s {print $c}' "${csv}" | median; }
{
  echo
  echo "## Broadcast fan-out, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  machine_line
  echo "Versions: $("${work}/sockman" version | head -n1) (broadcast, count: 2), Node $(node --version) with ws $(node -p "require('${node_modules}/ws/package.json').version") (one process)."
  echo "bench/ws_load --mode fanout: ${SUBSCRIBERS} subscribers, one of them publishing 32-byte messages at the given rate; ${DURATION} s runs, ${RUNS} alternating runs; medians. Latency: publish to receipt."
  echo
  echo "| published/s | sockman/ws deliveries/s | sockman deliveries/s | ws deliveries/s | sockman deliveries/CPU-s | ws deliveries/CPU-s | sockman p50 / p99 / p99.9 ms | ws p50 / p99 / p99.9 ms |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for rate in ${RATES}; do
    sd="$(col "${rate}" sockman 4)"; nd="$(col "${rate}" ws 4)"
    sc="$(col "${rate}" sockman 5)"; nc="$(col "${rate}" ws 5)"
    awk -v r="${rate}" -v sd="${sd}" -v nd="${nd}" -v sc="${sc}" -v nc="${nc}" \
        -v s1="$(col "${rate}" sockman 6)" -v s2="$(col "${rate}" sockman 7)" -v s3="$(col "${rate}" sockman 8)" \
        -v n1="$(col "${rate}" ws 6)" -v n2="$(col "${rate}" ws 7)" -v n3="$(col "${rate}" ws 8)" \
      'BEGIN { printf "| %d | **%.1fx** | %.0f | %.0f | %.0f | %.0f | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f |\n", r, (nd ? sd/nd : 0), sd, nd, sc, nc, s1/1000, s2/1000, s3/1000, n1/1000, n2/1000, n3/1000 }'
  done
} | tee -a "${RESULTS}"
