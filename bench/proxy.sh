#!/usr/bin/env bash
# bench/proxy.sh: the HTTP reverse proxy against nginx's proxy_pass, on this
# machine, same run, loopback.
#
#   bench/proxy.sh                   # 10 s runs, 3 alternating rounds
#   DURATION=3 RUNS=1 bench/proxy.sh # quick look
#
# The upstream is a sockman `respond` service (one worker, its own process).
# In front of it, one worker each: sockman `proxy { upstream: ... }` and
# nginx `proxy_pass` to an `upstream { keepalive 128; }` block with
# `proxy_http_version 1.1` and an empty Connection header (nginx's documented
# keep-alive pool). wrk -t1 -c100 keep-alive against each proxy, alternating.
# bench/floor_server --mode proxy (a byte relay with one upstream connection
# per client, no parsing) runs the same way: the most any proxy could do here.
# Records requests/s and proxied requests per proxy CPU-second (utime+stime of
# the proxy's processes only, from /proc), prints medians and the ratios, and
# appends a table to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-100}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir proxy

for tool in wrk nginx; do
  if ! command -v "${tool}" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "$( [[ ${tool} == nginx ]] && echo nginx-light || echo "${tool}")" >/dev/null
  fi
done
bench_build

# The upstream, in a sockman process of its own (its CPU is not counted).
mkdir -p "${work}/upstream"
echo 'service { name: "app" listen: "http://127.0.0.1:0" count: 1 respond { body: "hello from the upstream\n" } }' \
  > "${work}/upstream/sockman.textproto"
"${sockman}" start -c "${work}/upstream/sockman.textproto" > "${work}/upstream/out" 2> "${work}/upstream/err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^sockman: started' "${work}/upstream/out" 2>/dev/null && break; sleep 0.1; done
upstream_port="$(sockman_port "${work}/upstream/out" app)"
[[ -n "${upstream_port}" ]] || { cat "${work}/upstream/err"; exit 1; }

echo "service { name: \"front\" listen: \"http://127.0.0.1:0\" count: 1 proxy { upstream: \"http://127.0.0.1:${upstream_port}\" pool { max_idle: 128 } } }" \
  > "${work}/sockman.textproto"
start_sockman "${sockman}"
proxy_port="$(sockman_port "${work}/sockman.out" front)"
[[ -n "${proxy_port}" ]] || { cat "${work}/sockman.err"; exit 1; }

nginx_port="$(free_port)"
start_nginx "${nginx_port}" "
  upstream app { server 127.0.0.1:${upstream_port}; keepalive 128; }
  server {
    listen 127.0.0.1:${nginx_port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"

"${work}/floor_server" --mode proxy --upstream "${upstream_port}" > "${work}/floor.out" &
floor_pid=$!
pids+=("${floor_pid}")
floor_port="$(announced_port "${work}/floor.out")"
[[ -n "${floor_port}" ]] || { echo "bench: floor_server did not start" >&2; exit 1; }

# Every proxy answers with the upstream's body, or the comparison means nothing.
for port in "${proxy_port}" "${nginx_port}" "${floor_port}"; do
  body="$(curl -s "http://127.0.0.1:${port}/hello")"
  [[ "${body}" == "hello from the upstream" ]] || { echo "bench: port ${port} answered '${body}'" >&2; exit 1; }
done


csv="$(csv_out proxy)"
echo "suite,system,run,rps,rps_per_cpu_s" > "${csv}"
for run in $(seq "${RUNS}"); do
  for system in sockman nginx floor; do
    pid="${sockman_pid}" port="${proxy_port}"
    [[ "${system}" == nginx ]] && pid="${nginx_pid}" port="${nginx_port}"
    [[ "${system}" == floor ]] && pid="${floor_pid}" port="${floor_port}"
    read -r rps per_cpu < <(wrk_per_cpu "${pid}" "http://127.0.0.1:${port}/hello")
    echo "proxy-keepalive,${system},${run},${rps},${per_cpu}" >> "${csv}"
    echo "  proxy ${system} run ${run}: ${rps} req/s, ${per_cpu} req per proxy CPU-second" >&2
  done
done

med() { awk -F, -v y="$1" -v c="$2" '$2==y {print $c}' "${csv}" | median; }
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## HTTP reverse proxy, ${date_utc}"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1), $(nginx -v 2>&1 | sed 's/.*: //'). wrk -t1 -c${CONNECTIONS} -d${DURATION}s, keep-alive, ${RUNS} alternating runs each; medians. Upstream: a sockman respond service in its own process; one proxy worker each."
  echo
  echo "| suite | sockman/nginx req per proxy CPU-s | floor/nginx req per CPU-s | sockman/nginx req/s | sockman req/CPU-s | nginx req/CPU-s | floor req/CPU-s | sockman req/s | nginx req/s |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  awk -v ac="$(med sockman 5)" -v bc="$(med nginx 5)" -v fc="$(med floor 5)" -v ar="$(med sockman 4)" -v br="$(med nginx 4)" \
    'BEGIN { printf "| proxy-keepalive | **%.3fx** | %.3fx | %.3fx | %.0f | %.0f | %.0f | %.0f | %.0f |\n", (bc ? ac/bc : 0), (bc ? fc/bc : 0), (br ? ar/br : 0), ac, bc, fc, ar, br }'
  echo
  echo "Goal (issue 20): at least 1.3x nginx in proxied requests per proxy CPU-second. floor: bench/floor_server --mode proxy, a byte relay with no parsing (the most any proxy could do here)."
} | tee -a "${RESULTS}"
