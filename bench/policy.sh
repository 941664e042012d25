#!/usr/bin/env bash
# bench/policy.sh: what a rate-limited flood costs the other clients of the
# same worker (issue 22's goal: a well-behaved client keeps p99 under 5 ms
# while another floods), on this machine, loopback, one sockman worker.
#
#   bench/policy.sh                     # 5 s runs, 3 rounds
#   DURATION=2 RUNS=1 bench/policy.sh   # quick look
#
# Service: WebSocket echo with rate_limit { messages_per_second: LIMIT
# burst: LIMIT } (DROP), one worker. Each round:
#   quiet   bench/ws_load --mode pingpong --connections 1 --rate 500: the
#           well-behaved client's round trips alone
#   flooded the same, while bench/ws_load --mode blast --connections
#           FLOODERS writes 32-byte messages as fast as the sockets take them
#           (every one of them over its limit)
# Records the well-behaved client's p50/p99/p99.9 in each case and each
# flooder's echoed messages per second against its limit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-5}"
RUNS="${RUNS:-3}"
FLOODERS="${FLOODERS:-10}"
LIMIT="${LIMIT:-1000}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir policy
bench_build

cat > "${work}/sockman.textproto" <<CONF
service {
  name: "limited"
  listen: "ws://127.0.0.1:0"
  rate_limit { messages_per_second: ${LIMIT} burst: ${LIMIT} }
  echo {}
}
CONF
start_sockman "${work}/sockman"
port="$(sockman_port "${work}/sockman.out" limited)"
[[ -n "${port}" ]] || { cat "${work}/sockman.err"; exit 1; }

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k {print $2}'; }

csv="$(csv_out policy)"
echo "suite,system,run,p50_us,p99_us,p999_us,flooder_msgs_per_s" > "${csv}"
for run in $(seq "${RUNS}"); do
  out="$("${work}/ws_load" --port "${port}" --mode pingpong --connections 1 --rate 500 \
           --seconds "${DURATION}")"
  echo "pingpong-500,quiet,${run},$(field "${out}" p50_us),$(field "${out}" p99_us),$(field "${out}" p999_us)," >> "${csv}"
  echo "  quiet run ${run}: ${out}" >&2
  "${work}/ws_load" --port "${port}" --mode blast --connections "${FLOODERS}" --size 32 \
    --seconds "$(awk -v d="${DURATION}" 'BEGIN {print d + 2}')" > "${work}/blast.out" &
  blast=$!
  sleep 1
  out="$("${work}/ws_load" --port "${port}" --mode pingpong --connections 1 --rate 500 \
           --seconds "${DURATION}")"
  wait "${blast}" || true
  flood="$(cat "${work}/blast.out")"
  per="$(awk -v r="$(field "${flood}" msgs_per_sec)" -v n="${FLOODERS}" 'BEGIN {printf "%.0f", r / n}')"
  echo "pingpong-500,flooded,${run},$(field "${out}" p50_us),$(field "${out}" p99_us),$(field "${out}" p999_us),${per}" >> "${csv}"
  echo "  flooded run ${run}: ${out}; flooders: ${flood}" >&2
done

med() { awk -F, -v y="$1" -v c="$2" '$2==y && $c != "" {print $c}' "${csv}" | median; }
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## Rate-limited flood beside a well-behaved client, ${date_utc}"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1). One sockman worker, WebSocket echo with rate_limit ${LIMIT}/s (DROP) per connection; the well-behaved client: bench/ws_load pingpong, 1 connection, 500 messages/s, ${DURATION} s; the flood: ${FLOODERS} bench/ws_load blast connections (32-byte messages as fast as the sockets take them). ${RUNS} rounds; medians."
  echo
  echo "| | p50 µs | p99 µs | p99.9 µs | each flooder's echoes/s (limit ${LIMIT}) |"
  echo "| --- | --- | --- | --- | --- |"
  for system in quiet flooded; do
    echo "| ${system} | $(med "${system}" 4) | $(med "${system}" 5) | $(med "${system}" 6) | $( [[ ${system} == flooded ]] && med flooded 7 || echo -) |"
  done
  echo
  echo "Goal (issue 22): the well-behaved client's p99 under 5 ms while the others flood; each flooder gets at most its limit."
} | tee -a "${RESULTS}"
