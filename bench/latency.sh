#!/usr/bin/env bash
# bench/latency.sh: HTTP latency at a fixed request rate, sockman vs nginx
# (Debian), one worker each, same run, loopback.
#
#   bench/latency.sh                   # 10 s at 2,000 and 10,000 req/s, 3 alternating runs
#   RATES=5000 DURATION=5 RUNS=1 bench/latency.sh
#
# bench/http_rate (C++, one thread) keeps CONNECTIONS (50) keep-alive
# connections and schedules requests at exactly RATE per second whatever the
# server does; each latency counts from when the request was due (no
# coordinated omission), so p99.9 shows stalls. Server: respond "hello world"
# vs nginx `return 200`. Prints p50/p99/p99.9 medians and ratios (lower is
# better) and appends a Markdown table to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
RATES="${RATES:-2000 10000}"
CONNECTIONS="${CONNECTIONS:-50}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir latency
command -v nginx >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
bench_build

cat > "${work}/sockman.textproto" <<CONF
service { name: "hello" listen: "http://127.0.0.1:0" count: 1 respond { body: "hello world\n" } }
CONF
start_sockman "${sockman}"
sockman_port="$(sockman_port "${work}/sockman.out" hello)"
[[ -n "${sockman_port}" ]] || { cat "${work}/sockman.err"; exit 1; }

nginx_port="$(free_port)"
start_nginx "${nginx_port}" \
  "  server { listen 127.0.0.1:${nginx_port}; location = /hello { return 200 \"hello world\\n\"; } }"

csv="$(csv_out latency)"
echo "rate,system,run,achieved_rps,p50_us,p99_us,p999_us,max_us" > "${csv}"
for rate in ${RATES}; do
  for run in $(seq "${RUNS}"); do
    for system in sockman nginx; do
      port="${sockman_port}"
      [[ "${system}" == nginx ]] && port="${nginx_port}"
      out="$("${work}/http_rate" --port "${port}" --path /hello --connections "${CONNECTIONS}" \
               --rate "${rate}" --seconds "${DURATION}")" || true  # errors are in its line
      line="$(awk '{ for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     printf "%s,%s,%s,%s,%s", v["rate"], v["p50_us"], v["p99_us"], v["p999_us"], v["max_us"] }' <<<"${out}")"
      echo "${rate},${system},${run},${line}" >> "${csv}"
      echo "  ${rate} req/s ${system} run ${run}: ${out}" >&2
    done
  done
done

col() { awk -F, -v r="$1" -v s="$2" -v c="$3" '$1==r && $2==s {print $c}' "${csv}" | median; }
{
  echo
  echo "## HTTP latency at a fixed rate, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1), $(nginx -v 2>&1 | sed 's/.*: //'). bench/http_rate: ${CONNECTIONS} keep-alive connections, ${DURATION} s runs, ${RUNS} alternating runs; medians; latency from when each request was due."
  echo
  echo "| rate (req/s) | sockman/nginx p50 | sockman/nginx p99 | sockman/nginx p99.9 | sockman p50/p99/p99.9 (us) | nginx p50/p99/p99.9 (us) |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for rate in ${RATES}; do
    s50="$(col "${rate}" sockman 5)"; s99="$(col "${rate}" sockman 6)"; s999="$(col "${rate}" sockman 7)"
    n50="$(col "${rate}" nginx 5)"; n99="$(col "${rate}" nginx 6)"; n999="$(col "${rate}" nginx 7)"
    awk -v r="${rate}" -v a="${s50}" -v b="${s99}" -v c="${s999}" -v x="${n50}" -v y="${n99}" -v z="${n999}" \
      'BEGIN { printf "| %s | **%.2fx** | **%.2fx** | **%.2fx** | %d / %d / %d | %d / %d / %d |\n", r, (x ? a/x : 0), (y ? b/y : 0), (z ? c/z : 0), a, b, c, x, y, z }'
  done
} | tee -a "${RESULTS}"
