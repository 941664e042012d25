# Helpers shared by the bench/ scripts (sourced).

# CPU ticks (utime+stime) of a process and its child processes.
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    if [[ -r "/proc/${pid}/stat" ]]; then
      local stat
      stat="$(sed 's/.*) //' "/proc/${pid}/stat")"
      set -- ${stat}
      total=$((total + ${12} + ${13}))
    fi
  done
  echo "${total}"
}
hz="$(getconf CLK_TCK)"

# Median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }

# Resident set size of a process, in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The port of service NAME from sockman's startup lines in FILE.
sockman_port() { awk -v n="$2" '$2=="listen" && $3==n {k=split($4,a,":"); print a[k]}' "$1"; }

# A machine line for reports.
machine_line() {
  local cpu_model
  cpu_model="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "Machine: $(nproc) cores (${cpu_model}), $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)."
}

# bench_workdir NAME: sets $work to a fresh directory; on exit every process
# in $pids is killed and the directory removed.
bench_workdir() {
  work="$(mktemp -d "/tmp/sockman-$1.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${work}"
}

# start_sockman BINARY: `BINARY start -c $work/sockman.textproto` in the
# background, output in $work/sockman.{out,err}; sets $sockman_pid once it
# says it started.
start_sockman() {
  "$1" start -c "${work}/sockman.textproto" > "${work}/sockman.out" 2> "${work}/sockman.err" &
  sockman_pid=$!
  pids+=("${sockman_pid}")
  for _ in $(seq 100); do grep -q '^sockman: started' "${work}/sockman.out" 2>/dev/null && break; sleep 0.1; done
}

# start_node SCRIPT NODE_MODULES: a bench/node peer server; sets $node_pid
# and $node_port (it prints "port N").
start_node() {
  NODE_PATH="$2" node "$1" > "${work}/node.out" &
  node_pid=$!
  pids+=("${node_pid}")
  for _ in $(seq 100); do grep -q '^port ' "${work}/node.out" 2>/dev/null && break; sleep 0.1; done
  node_port="$(awk '/^port / {print $2}' "${work}/node.out")"
}
