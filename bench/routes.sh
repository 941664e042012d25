#!/usr/bin/env bash
# bench/routes.sh: what routes and compression cost, on this machine, same
# run, loopback; sockman against itself and against nginx (Debian).
#
#   bench/routes.sh                   # 10 s runs, 3 alternating rounds per suite
#   DURATION=3 RUNS=1 bench/routes.sh # quick look
#
# Suites (wrk -t1 -c100, keep-alive; one worker per server):
#   routing    `respond` as a service's one handler, vs the same `respond` as
#              the last of 20 routes (19 prefix routes tried first, a regex
#              route, then the catch-all that answers): the cost of routing.
#   gzip-64k   a 64 KiB JSON file through `static` on a route with
#              `compress { coding: "gzip" gzip_level: 6 }`, vs nginx
#              `gzip on; gzip_comp_level 6` on the same file; wrk sends
#              Accept-Encoding: gzip. Both compress every response.
# Records requests/s and requests per server CPU-second (utime+stime from
# /proc), prints medians and ratios, and appends a table to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-100}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir routes

for tool in wrk nginx; do
  if ! command -v "${tool}" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "$( [[ ${tool} == nginx ]] && echo nginx-light || echo "${tool}")" >/dev/null
  fi
done
bench_build

chmod 755 "${work}"
mkdir -p "${work}/www"
python3 - "${work}/www/data.json" <<'PY'
import json, sys
items = [{"id": i, "name": "item %d" % i, "tags": ["a", "b"], "price": i * 1.5} for i in range(1000)]
text = json.dumps(items)
while len(text) < 65536:
    items.append({"id": len(items), "name": "item", "tags": [], "price": 0})
    text = json.dumps(items)
open(sys.argv[1], "w").write(text[:65536 - 1] + "]" if text[65536 - 2] == "," else text[:65536])
PY
chmod -R a+rX "${work}/www"

{
  echo 'service { name: "single" listen: "http://127.0.0.1:0" count: 1 respond { body: "hello world\n" } }'
  echo 'service {'
  echo '  name: "routed"'
  echo '  listen: "http://127.0.0.1:0"'
  echo '  count: 1'
  for i in $(seq 1 18); do
    echo "  route { name: \"r${i}\" match { prefix: \"/area${i}/\" } respond { body: \"${i}\" } }"
  done
  echo '  route { name: "r19" match { regex: "/img/[0-9]+\\.png" } respond { body: "img" } }'
  echo '  route { name: "r20" respond { body: "hello world\n" } }'
  echo '}'
  echo 'service {'
  echo '  name: "gzip"'
  echo '  listen: "http://127.0.0.1:0"'
  echo '  count: 1'
  echo "  route { compress { coding: \"gzip\" gzip_level: 6 } static { root: \"${work}/www\" } }"
  echo '}'
} > "${work}/sockman.textproto"
start_sockman "${sockman}"
single_port="$(sockman_port "${work}/sockman.out" single)"
routed_port="$(sockman_port "${work}/sockman.out" routed)"
gzip_port="$(sockman_port "${work}/sockman.out" gzip)"
[[ -n "${single_port}" && -n "${routed_port}" && -n "${gzip_port}" ]] || { cat "${work}/sockman.err"; exit 1; }

nginx_port="$(free_port)"
start_nginx "${nginx_port}" "
  sendfile on;
  default_type application/octet-stream;
  types { application/json json; }
  gzip on;
  gzip_comp_level 6;
  gzip_min_length 256;
  gzip_types application/json;
  server {
    listen 127.0.0.1:${nginx_port};
    location / { root ${work}/www; }
  }"

# A real gzip body from both, or the comparison means nothing.
for port in "${gzip_port}" "${nginx_port}"; do
  encoding="$(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:${port}/data.json" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding" {print $2}')"
  [[ "${encoding}" == gzip ]] || { echo "bench: port ${port} did not gzip data.json" >&2; exit 1; }
done


csv="$(csv_out routes)"
echo "suite,system,run,rps,rps_per_cpu_s" > "${csv}"
for run in $(seq "${RUNS}"); do
  for system in single routed; do
    port="${single_port}"
    [[ "${system}" == routed ]] && port="${routed_port}"
    read -r rps per_cpu < <(wrk_per_cpu "${sockman_pid}" "http://127.0.0.1:${port}/hello")
    echo "routing,${system},${run},${rps},${per_cpu}" >> "${csv}"
    echo "  routing ${system} run ${run}: ${rps} req/s, ${per_cpu} req per server CPU-second" >&2
  done
  for system in sockman nginx; do
    pid="${sockman_pid}" port="${gzip_port}"
    [[ "${system}" == nginx ]] && pid="${nginx_pid}" port="${nginx_port}"
    read -r rps per_cpu < <(wrk_per_cpu "${pid}" "http://127.0.0.1:${port}/data.json" -H 'Accept-Encoding: gzip')
    echo "gzip-64k,${system},${run},${rps},${per_cpu}" >> "${csv}"
    echo "  gzip-64k ${system} run ${run}: ${rps} req/s, ${per_cpu} req per server CPU-second" >&2
  done
done

med() { awk -F, -v s="$1" -v y="$2" -v c="$3" '$1==s && $2==y {print $c}' "${csv}" | median; }
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## Routes and compression, ${date_utc}"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1), $(nginx -v 2>&1 | sed 's/.*: //'). wrk -t1 -c${CONNECTIONS} -d${DURATION}s, keep-alive, ${RUNS} alternating runs each; medians."
  echo
  echo "| suite | ratio req per CPU-s | ratio req/s | A req/CPU-s | B req/CPU-s | A req/s | B req/s |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for pair in routing:routed:single gzip-64k:sockman:nginx; do
    IFS=: read -r suite a b <<<"${pair}"
    awk -v su="${suite}" -v a="${a}" -v b="${b}" -v ac="$(med "${suite}" "${a}" 5)" -v bc="$(med "${suite}" "${b}" 5)" \
        -v ar="$(med "${suite}" "${a}" 4)" -v br="$(med "${suite}" "${b}" 4)" \
      'BEGIN { printf "| %s (A=%s, B=%s) | **%.3fx** | %.3fx | %.0f | %.0f | %.0f | %.0f |\n", su, a, b, (bc ? ac/bc : 0), (br ? ar/br : 0), ac, bc, ar, br }'
  done
  echo
  echo "routing: the same respond answer as a service's one handler (B) and as the last of 20 routes (A: 18 prefixes and a regex tried first). gzip-64k: a 64 KiB JSON file gzipped at level 6 on every request, sockman's static route with compress (A) vs nginx gzip on (B)."
} | tee -a "${RESULTS}"
