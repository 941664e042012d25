#!/usr/bin/env bash
# bench/metrics.sh: what scraping costs, on this machine, loopback: `respond`
# requests per sockman CPU-second (master and workers together) under wrk,
# with nobody scraping vs a scrape of the `metrics {}` route every 100 ms
# (curl in a loop), alternating.
#
#   bench/metrics.sh                   # 10 s runs, 3 alternating rounds
#   DURATION=3 RUNS=1 bench/metrics.sh # quick look
#
# Goal (issue 21): scraping every 100 ms changes requests per CPU-second by
# under 1%. Appends a table to bench/RESULTS.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-100}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir metrics

command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
bench_build

cat > "${work}/sockman.textproto" <<CONF
service { name: "web" listen: "http://127.0.0.1:0" count: 1 respond { body: "hello world\n" } }
service { name: "mon" listen: "http://127.0.0.1:0" count: 1 metrics {} }
CONF
start_sockman "${sockman}"
web_port="$(sockman_port "${work}/sockman.out" web)"
mon_port="$(sockman_port "${work}/sockman.out" mon)"
[[ -n "${web_port}" && -n "${mon_port}" ]] || { cat "${work}/sockman.err"; exit 1; }
# The first scrape, given a few seconds on a busy machine; what it got if none came.
for _ in $(seq 50); do
  probe="$(curl -s -m 5 -w '\nHTTP %{http_code}' "http://127.0.0.1:${mon_port}/" 2>&1)"
  grep -q '^sockman_build_info' <<<"${probe}" && break
  sleep 0.1
done
grep -q '^sockman_build_info' <<<"${probe}" || { echo "bench: no metrics: ${probe:0:500}" >&2; cat "${work}/sockman.err" >&2; exit 1; }

# run SCRAPE -> "rps rps_per_cpu_second scrapes"
run_one() {
  local scrape="$1" before after out requests rps scraper="" scrapes=0
  if [[ "${scrape}" == 1 ]]; then
    ( n=0; while :; do curl -s -o /dev/null "http://127.0.0.1:${mon_port}/"; n=$((n + 1)); echo "${n}" > "${work}/scrapes"; sleep 0.1; done ) &
    scraper=$!
  fi
  before="$(cpu_ticks "${sockman_pid}")"
  out="$(wrk -t1 -c"${CONNECTIONS}" -d"${DURATION}s" "http://127.0.0.1:${web_port}/")"
  after="$(cpu_ticks "${sockman_pid}")"
  if [[ -n "${scraper}" ]]; then
    kill "${scraper}" 2>/dev/null || true
    wait "${scraper}" 2>/dev/null || true
    scrapes="$(cat "${work}/scrapes" 2>/dev/null || echo 0)"
  fi
  requests="$(awk '/requests in/ {print $1}' <<<"${out}")"
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"${out}")"
  awk -v r="${requests}" -v rps="${rps}" -v t=$((after - before)) -v hz="${hz}" -v s="${scrapes}" \
    'BEGIN { cpu = t / hz; printf "%.0f %.0f %d\n", rps, (cpu > 0 ? r / cpu : 0), s }'
}

csv="$(csv_out metrics)"
echo "suite,system,run,rps,rps_per_cpu_s,scrapes" > "${csv}"
for run in $(seq "${RUNS}"); do
  for system in quiet scraped; do
    read -r rps per_cpu scrapes < <(run_one "$([[ ${system} == scraped ]] && echo 1 || echo 0)")
    echo "scrape-100ms,${system},${run},${rps},${per_cpu},${scrapes}" >> "${csv}"
    echo "  ${system} run ${run}: ${rps} req/s, ${per_cpu} req per sockman CPU-second, ${scrapes} scrapes" >&2
  done
done

med() { awk -F, -v y="$1" -v c="$2" '$2==y {print $c}' "${csv}" | median; }
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## Metrics scrapes, ${date_utc}"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1). wrk -t1 -c${CONNECTIONS} -d${DURATION}s against a respond service (one worker), ${RUNS} alternating runs each; medians. CPU: the whole sockman (master and every worker)."
  echo
  echo "| suite | ratio req per CPU-s (scraped/quiet) | ratio req/s | quiet req/CPU-s | scraped req/CPU-s | scrapes per run |"
  echo "| --- | --- | --- | --- | --- | --- |"
  awk -v q="$(med quiet 5)" -v s="$(med scraped 5)" -v qr="$(med quiet 4)" -v sr="$(med scraped 4)" -v n="$(med scraped 6)" \
    'BEGIN { printf "| scrape every 100 ms | **%.3fx** | %.3fx | %.0f | %.0f | %d |\n", (q ? s/q : 0), (qr ? sr/qr : 0), q, s, n }'
  echo
  echo "Goal (issue 21): a scrape every 100 ms changes requests per CPU-second by under 1%."
} | tee -a "${RESULTS}"
