#!/usr/bin/env bash
# bench/webhook.sh: the cost of one event through a webhook, with the
# backend GatewayWorker users write first: Python's stdlib http.server
# (integration/testdata/webhook_backend.py; it writes a reply's head and body
# in two sends, with Nagle on). One text:// client sends a line and waits for
# the backend's reply, EVENTS times in a row. The floor is the same backend
# POSTed directly over one kept connection by a client that ACKs at once; a
# naive client (Python's http.client, as most HTTP clients) shows what the
# backend costs a client that does not.
#
#   bench/webhook.sh                 # 2,000 events, 3 runs
#   EVENTS=200 RUNS=1 bench/webhook.sh
#
# Prints median/p90/p99 per event for both and their ratio, and appends a
# Markdown table to bench/RESULTS.md. (Before sockman acknowledged backend
# replies at once, each event cost about 44 ms here: the backend's body
# waited for sockman's delayed ACK of its head.)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
EVENTS="${EVENTS:-2000}"
RUNS="${RUNS:-3}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir webhook
bench_build

python3 "${root}/integration/testdata/webhook_backend.py" "${work}/backend.port" &
pids+=("$!")
for _ in $(seq 100); do [[ -s "${work}/backend.port" ]] && break; sleep 0.1; done
backend_port="$(cat "${work}/backend.port")"

cat > "${work}/sockman.textproto" <<CONF
service {
  name: "lines"
  listen: "text://127.0.0.1:0"
  webhook { url: "http://127.0.0.1:${backend_port}/events" events: MESSAGE }
}
CONF
start_sockman "${sockman}"
gateway_port="$(sockman_port "${work}/sockman.out" lines)"
[[ -n "${gateway_port}" ]] || { cat "${work}/sockman.err"; exit 1; }

csv="$(csv_out webhook)"
echo "case,system,run,median_us,p90_us,p99_us" > "${csv}"
for run in $(seq "${RUNS}"); do
  for system in sockman backend naive; do
    if [[ "${system}" == sockman ]]; then
      out="$(python3 "${root}/bench/webhook/round_trip.py" gateway "${gateway_port}" "${EVENTS}")"
    elif [[ "${system}" == naive ]]; then
      # 44 ms an event: a tenth of the events is plenty.
      out="$(python3 "${root}/bench/webhook/round_trip.py" naive "${backend_port}" "$(( EVENTS / 10 + 1 ))")"
    else
      out="$(python3 "${root}/bench/webhook/round_trip.py" backend "${backend_port}" "${EVENTS}")"
    fi
    echo "  ${system} run ${run}: ${out}" >&2
    line="$(awk '{ for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
                   printf "%s,%s,%s", v["median_us"], v["p90_us"], v["p99_us"] }' <<<"${out}")"
    echo "event,${system},${run},${line}" >> "${csv}"
  done
done

col() { awk -F, -v s="$1" -v c="$2" '$2==s {print $c}' "${csv}" | median; }
{
  echo
  echo "## One event through a webhook, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  machine_line
  echo "Backend: Python's http.server (integration/testdata/webhook_backend.py). ${EVENTS} sequential events per run, ${RUNS} runs; medians. Floor: the backend POSTed directly by a client that ACKs at once; naive: by Python's http.client."
  echo
  echo "| per event | sockman (client -> sockman -> backend -> client) | floor (backend alone) | sockman / floor | naive http.client |"
  echo "| --- | --- | --- | --- | --- |"
  for c in 4 5 6; do
    name=$( [[ $c == 4 ]] && echo median || { [[ $c == 5 ]] && echo p90 || echo p99; } )
    awk -v n="${name}" -v a="$(col sockman "${c}")" -v b="$(col backend "${c}")" -v z="$(col naive "${c}")" \
      'BEGIN { printf "| %s | %.3f ms | %.3f ms | **%.2fx** | %.3f ms |\n", n, a/1000, b/1000, (b ? a/b : 0), z/1000 }'
  done
} | tee -a "${RESULTS}"
