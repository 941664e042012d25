#!/usr/bin/env bash
# bench/http.sh: sockman vs nginx (Debian) on this machine, same run, loopback.
#
#   bench/http.sh                 # 10 s runs, 3 alternating rounds per suite
#   DURATION=3 RUNS=1 bench/http.sh   # quick look
#
# Suites (wrk -t1 -c100, keep-alive unless said):
#   hello        respond "hello world" vs nginx `return 200 "hello world\n"`
#   pipelined    the same with 16 requests pipelined per write (bench/pipeline.lua)
#   close        the same, a new connection per request (Connection: close)
#   https        the same over TLS 1.3 (keep-alive; a self-signed P-256 certificate)
#   static-4k    a 4 KiB file via `static` vs nginx `root` (sendfile on)
#   static-1m    a 1 MiB file
# Both servers run one worker process. The plain-HTTP suites also run
# bench/floor_server (one read, one write per request, nothing else): the
# most any server could reach here, for scale. For each run it records requests/s and
# requests per CPU-second of the server (utime+stime of all its processes from
# /proc, before and after the run). On a 2-core machine wrk takes most of a
# core, so requests per server CPU-second is the figure that separates fast
# servers. Prints medians and sockman/nginx ratios, appends a Markdown table to
# bench/RESULTS.md, and reports syscalls per keep-alive request (strace -c).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-100}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir bench

for tool in wrk nginx strace openssl; do
  if ! command -v "${tool}" >/dev/null; then
    echo "bench: installing ${tool}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "$( [[ ${tool} == nginx ]] && echo nginx-light || echo "${tool}")" >/dev/null
  fi
done

bench_build
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -keyout "${work}/key.pem" -out "${work}/cert.pem" 2>/dev/null

# Content.
chmod 755 "${work}"
mkdir -p "${work}/www/static"
head -c 4096 /dev/urandom > "${work}/www/static/4k.bin"
head -c 1048576 /dev/urandom > "${work}/www/static/1m.bin"
chmod -R a+rX "${work}/www"

# sockman: one worker per service.
cat > "${work}/sockman.textproto" <<CONF
service {
  name: "hello"
  listen: "http://127.0.0.1:0"
  count: 1
  respond { body: "hello world\n" }
}
service {
  name: "files"
  listen: "http://127.0.0.1:0"
  count: 1
  static { root: "${work}/www" }
}
service {
  name: "tls"
  listen: "https://127.0.0.1:0"
  count: 1
  tls { cert_file: "${work}/cert.pem" key_file: "${work}/key.pem" }
  respond { body: "hello world\n" }
}
CONF
start_sockman "${sockman}"
hello_port="$(sockman_port "${work}/sockman.out" hello)"
files_port="$(sockman_port "${work}/sockman.out" files)"
tls_port="$(sockman_port "${work}/sockman.out" tls)"
[[ -n "${hello_port}" && -n "${files_port}" && -n "${tls_port}" ]] || { cat "${work}/sockman.err"; exit 1; }

# nginx: one worker, the same answers.
nginx_port="$(free_port)"
nginx_tls_port="$(free_port)"
start_nginx "${nginx_port}" "
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${nginx_port};
    location = /hello { return 200 \"hello world\\n\"; }
    location /static/ { root ${work}/www; }
  }
  server {
    listen 127.0.0.1:${nginx_tls_port} ssl;
    ssl_certificate ${work}/cert.pem;
    ssl_certificate_key ${work}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /hello { return 200 \"hello world\\n\"; }
  }"

# The floor: a read and a write per request and nothing else (plain HTTP
# suites only), for scale.
start_floor http
[[ -n "${floor_port}" ]] || { echo "bench: floor_server did not start" >&2; exit 1; }

# run SYSTEM SUITE URL [wrk args...] -> "rps rps_per_cpu_second"
run_one() {
  local system="$1" url="$2"; shift 2
  local pid="${sockman_pid}"
  [[ "${system}" == nginx ]] && pid="${nginx_pid}"
  [[ "${system}" == floor ]] && pid="${floor_pid}"
  wrk_per_cpu "${pid}" "${url}" "$@"
}

declare -A urls_sockman urls_nginx urls_floor extra
urls_sockman[hello]="http://127.0.0.1:${hello_port}/hello"
urls_nginx[hello]="http://127.0.0.1:${nginx_port}/hello"
urls_floor[hello]="http://127.0.0.1:${floor_port}/hello"
for suite in pipelined close; do  # hello's URLs, another wrk script
  urls_sockman[${suite}]="${urls_sockman[hello]}"
  urls_nginx[${suite}]="${urls_nginx[hello]}"
  urls_floor[${suite}]="${urls_floor[hello]}"
done
extra[pipelined]="-s ${root}/bench/pipeline.lua"
extra[close]="-s ${root}/bench/close.lua"
urls_sockman[https]="https://127.0.0.1:${tls_port}/hello"
urls_nginx[https]="https://127.0.0.1:${nginx_tls_port}/hello"
urls_sockman[static-4k]="http://127.0.0.1:${files_port}/static/4k.bin"
urls_nginx[static-4k]="http://127.0.0.1:${nginx_port}/static/4k.bin"
urls_sockman[static-1m]="http://127.0.0.1:${files_port}/static/1m.bin"
urls_nginx[static-1m]="http://127.0.0.1:${nginx_port}/static/1m.bin"
suites=(hello pipelined close https static-4k static-1m)
[[ $# -gt 0 ]] && suites=("$@")

csv="$(csv_out http)"
echo "suite,system,run,rps,rps_per_cpu_s" > "${csv}"
for suite in "${suites[@]}"; do
  for run in $(seq "${RUNS}"); do
    for system in sockman nginx floor; do
      case "${system}" in
        sockman) url="${urls_sockman[${suite}]}" ;;
        nginx) url="${urls_nginx[${suite}]}" ;;
        floor) url="${urls_floor[${suite}]:-}"; [[ -n "${url}" ]] || continue ;;
      esac
      # shellcheck disable=SC2086
      read -r rps per_cpu < <(run_one "${system}" "${url}" ${extra[${suite}]:-})
      echo "${suite},${system},${run},${rps},${per_cpu}" >> "${csv}"
      echo "  ${suite} ${system} run ${run}: ${rps} req/s, ${per_cpu} req per server CPU-second" >&2
    done
  done
done

# Syscalls per keep-alive request on sockman's worker.
worker="$(pgrep -P "${sockman_pid}" | head -n1)"
strace_out="${work}/strace.txt"
strace -c -f -p "${worker}" -o "${strace_out}" 2>/dev/null &
strace_pid=$!
sleep 0.5
requests="$(wrk -t1 -c10 -d"${STRACE_SECONDS:-2}s" "${urls_sockman[hello]}" | awk '/requests in/ {print $1}')"
kill -INT "${strace_pid}" 2>/dev/null || true
wait "${strace_pid}" 2>/dev/null || true
syscalls="$(awk '/total/ {print $4}' "${strace_out}")"
per_request="$(awk -v s="${syscalls:-0}" -v r="${requests:-1}" 'BEGIN {printf "%.2f", s / r}')"
breakdown="$(awk -v r="${requests:-1}" 'NR>2 && $NF!="total" && $4 ~ /^[0-9]+$/ {printf "%s %.2f, ", $NF, $4/r}' "${strace_out}")"

# Report.
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## HTTP, ${date_utc}"
  echo
  machine_line
  echo "Versions: $("${sockman}" version | head -n1), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')."
  echo "wrk -t1 -c${CONNECTIONS} -d${DURATION}s, keep-alive, ${RUNS} alternating runs each; medians."
  echo
  echo "| suite | sockman/nginx req/s | sockman/nginx req per CPU-s | floor/nginx req per CPU-s | sockman req/s | nginx req/s | sockman req/CPU-s | nginx req/CPU-s | floor req/CPU-s |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for suite in "${suites[@]}"; do
    s_rps="$(awk -F, -v s="${suite}" '$1==s && $2=="sockman" {print $4}' "${csv}" | median)"
    n_rps="$(awk -F, -v s="${suite}" '$1==s && $2=="nginx" {print $4}' "${csv}" | median)"
    s_cpu="$(awk -F, -v s="${suite}" '$1==s && $2=="sockman" {print $5}' "${csv}" | median)"
    n_cpu="$(awk -F, -v s="${suite}" '$1==s && $2=="nginx" {print $5}' "${csv}" | median)"
    f_cpu="$(awk -F, -v s="${suite}" '$1==s && $2=="floor" {print $5}' "${csv}" | median)"
    awk -v su="${suite}" -v sr="${s_rps}" -v nr="${n_rps}" -v sc="${s_cpu}" -v nc="${n_cpu}" -v fc="${f_cpu}" \
      'BEGIN {
        floor_ratio = (fc + 0 > 0 && nc) ? sprintf("%.2fx", fc/nc) : "-"
        printf "| %s | **%.2fx** | **%.2fx** | %s | %.0f | %.0f | %.0f | %.0f | %s |\n", su, (nr ? sr/nr : 0), (nc ? sc/nc : 0), floor_ratio, sr, nr, sc, nc, (fc + 0 > 0 ? sprintf("%.0f", fc) : "-")
      }'
  done
  echo
  echo "floor: bench/floor_server, one read and one write per request (or pipelined batch) and nothing else: no parsing, no limits, no timers. floor/nginx is about the most any event-loop server could gain over nginx per CPU here; the rest is the kernel's TCP path."
  echo
  echo "Syscalls per keep-alive request (sockman worker, strace -c over ${requests} requests): ${per_request} (${breakdown%, })."
} | tee -a "${RESULTS}"
