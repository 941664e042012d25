#!/usr/bin/env bash
# bench/pusher.sh: the pusher handler under load, on this machine, loopback
# (issue 24's goal: trigger-to-delivery p99 under 20 ms at 1,000
# subscribers and 1,000 triggers a second).
#
#   bench/pusher.sh                     # 10 s runs, 3 rounds
#   DURATION=3 RUNS=1 bench/pusher.sh   # quick look
#
# sockman: `pusher {}` on http://, two workers (reuse_port). Load
# (bench/node/pusher_load.js, one Node process): SUBSCRIBERS raw Pusher
# clients over CHANNELS public channels, and the official `pusher` server
# SDK triggering RATE events a second over HTTP keep-alive, round-robin over
# the channels. Records connections held, deliveries and delivery latency.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
SUBSCRIBERS="${SUBSCRIBERS_PUSHER:-1000}"
CHANNELS="${CHANNELS:-100}"
RATE="${RATE_PUSHER:-1000}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir pusherbench
bench_build
[[ -d "${node_modules}/pusher" ]] || { echo "bench: ${node_modules}/pusher missing (./bazelw installs it)" >&2; exit 1; }

cat > "${work}/sockman.textproto" <<CONF
service {
  name: "pusher"
  listen: "http://127.0.0.1:0"
  count: 2
  reuse_port: true
  pusher { app { id: "bench" key: "bench-key" secret: "bench-secret" } }
}
CONF
start_sockman "${work}/sockman"
port="$(sockman_port "${work}/sockman.out" pusher)"
[[ -n "${port}" ]] || { cat "${work}/sockman.err"; exit 1; }

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k {print $2}'; }
csv="$(csv_out pusher)"
echo "suite,system,run,connections,triggers,deliveries,p50_us,p99_us,p999_us,errors" > "${csv}"
for run in $(seq "${RUNS}"); do
  out="$(NODE_PATH="${node_modules}" node "${root}/bench/node/pusher_load.js" "${port}" bench bench-key \
           bench-secret "${SUBSCRIBERS}" "${CHANNELS}" "${RATE}" "${DURATION}")"
  echo "  run ${run}: ${out}" >&2
  echo "trigger-${SUBSCRIBERS}-${RATE},sockman,${run},$(field "${out}" connections),$(field "${out}" triggers),$(field "${out}" deliveries),$(field "${out}" p50_us),$(field "${out}" p99_us),$(field "${out}" p999_us),$(field "${out}" errors)" >> "${csv}"
done

med() { awk -F, -v c="$1" 'NR > 1 {print $c}' "${csv}" | median; }
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## Pusher triggers to subscribers, ${date_utc}"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1) (pusher, count: 2), Node $(node --version), pusher SDK $(node -p "require('${node_modules}/pusher/package.json').version"). ${SUBSCRIBERS} raw Pusher subscribers over ${CHANNELS} channels, ${RATE} triggers/s through the SDK, ${DURATION} s, ${RUNS} runs; medians."
  echo
  echo "| connections held | triggers | deliveries | p50 µs | p99 µs | p99.9 µs | errors |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  echo "| $(med 4) | $(med 5) | $(med 6) | $(med 7) | $(med 8) | $(med 9) | $(med 10) |"
  echo
  echo "Goal (issue 24): p99 under 20 ms. Latency: the SDK's trigger call to the subscriber's receipt, one process and clock (the SDK's HTTP request, sockman's API and fan-out to both workers, the WebSocket delivery)."
} | tee -a "${RESULTS}"
