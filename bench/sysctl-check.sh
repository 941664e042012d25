#!/usr/bin/env bash
# bench/sysctl-check.sh: prints each kernel and process limit that matters for
# many connections and high rates beside the value docs/kernel-tuning.md
# recommends, and marks the ones below it. Reads only; changes nothing.
#
#   bench/sysctl-check.sh            # for 100,000 connections (the default)
#   CONNECTIONS=20000 bench/sysctl-check.sh
set -euo pipefail

connections="${CONNECTIONS:-100000}"
low=0

# check NAME CURRENT RECOMMENDED WHY: numeric comparison (first field).
check() {
  local name="$1" current="$2" want="$3" why="$4" mark="ok"
  if [[ -z "${current}" ]]; then
    mark="?"
  elif (( ${current%%[[:space:]]*} < ${want%%[[:space:]]*} )); then
    mark="LOW"
    low=$((low + 1))
  fi
  printf '%-4s %-32s %-24s %-24s %s\n' "${mark}" "${name}" "${current//$'\t'/ }" "${want}" "${why}"
}
sys() { cat "/proc/sys/${1//.//}" 2>/dev/null || true; }

printf '%-4s %-32s %-24s %-24s %s\n' "" "limit" "current" "recommended" "why"
fds=$((connections + 1024))
check "ulimit -n (this shell)" "$(ulimit -n)" "${fds}" "open files per worker: connections + spare"
check "ulimit -Hn (this shell)" "$(ulimit -Hn)" "${fds}" "workers raise their soft limit up to this (root: beyond)"
check "fs.nr_open" "$(sys fs.nr_open)" "${fds}" "ceiling for any process's open files"
check "fs.file-max" "$(sys fs.file-max)" "$((connections * 2))" "open files system-wide (client side too on loopback)"
check "net.core.somaxconn" "$(sys net.core.somaxconn)" "4096" "caps the listen backlog (sockman asks for 4096)"
check "net.ipv4.tcp_max_syn_backlog" "$(sys net.ipv4.tcp_max_syn_backlog)" "4096" "half-open connections during bursts"
check "net.core.netdev_max_backlog" "$(sys net.core.netdev_max_backlog)" "4096" "packets queued per CPU before processing"
ports="$(sys net.ipv4.ip_local_port_range)"
if [[ -n "${ports}" ]]; then
  read -r first last <<<"${ports}"
  check "ephemeral ports (range size)" "$((last - first + 1))" "$((connections < 60000 ? connections : 60000))" \
    "outbound connections per destination (load generators, proxy upstreams)"
fi
check "net.ipv4.tcp_tw_reuse" "$(sys net.ipv4.tcp_tw_reuse)" "1" "reuse TIME_WAIT ports for outbound connections"
check "net.core.rmem_max" "$(sys net.core.rmem_max)" "4194304" "largest receive buffer a socket may ask for"
check "net.core.wmem_max" "$(sys net.core.wmem_max)" "4194304" "largest send buffer a socket may ask for"
mem="$(sys net.ipv4.tcp_mem)"
if [[ -n "${mem}" ]]; then
  read -r _ _ high <<<"${mem}"
  # Pages: at least ~16 KiB of kernel buffer per busy connection at the limit.
  check "net.ipv4.tcp_mem (max, pages)" "${high}" "$((connections * 4))" "all TCP socket memory, in 4 KiB pages"
fi
fin="$(sys net.ipv4.tcp_fin_timeout)"
printf '%-4s %-32s %-24s %-24s %s\n' "" "net.ipv4.tcp_fin_timeout" "${fin}" "15-60" "shorter frees closed connections sooner"
echo
if (( low > 0 )); then
  echo "${low} limit(s) below the recommendation for ${connections} connections: see docs/kernel-tuning.md"
else
  echo "every limit holds ${connections} connections"
fi
