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

# wrk_per_cpu PID URL [wrk args...]: wrk -t1 -c$CONNECTIONS -d${DURATION}s
# against URL -> "rps requests_per_cpu_second", the CPU being PID's and its
# children's (utime+stime over the run).
wrk_per_cpu() {
  local pid="$1" url="$2"; shift 2
  local before after out requests rps
  before="$(cpu_ticks "${pid}")"
  out="$(wrk -t1 -c"${CONNECTIONS}" -d"${DURATION}s" "$@" "${url}")"
  after="$(cpu_ticks "${pid}")"
  requests="$(awk '/requests in/ {print $1}' <<<"${out}")"
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"${out}")"
  awk -v r="${requests}" -v rps="${rps}" -v t=$((after - before)) -v hz="${hz}" \
    'BEGIN { cpu = t / hz; printf "%.0f %.0f\n", rps, (cpu > 0 ? r / cpu : 0) }'
}

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
  node_port="$(announced_port "${work}/node.out")"
}

# announced_port FILE: the N of the "port N" line a starting server writes
# to FILE (waits up to 10 s; empty if it never comes).
announced_port() {
  for _ in $(seq 100); do grep -q '^port ' "$1" 2>/dev/null && break; sleep 0.1; done
  awk '/^port / {print $2}' "$1" 2>/dev/null
}

# bench_build: puts the sockman binary at $sockman and the load tools
# (ws_load, http_rate, floor_server) in $work. With SOCKMAN_BIN and BENCH_TOOLS set (the
# smoke test passes its runfiles) nothing is built; otherwise an optimized
# build is made with ./bazelw.
bench_build() {
  sockman="${work}/sockman"
  if [[ -n "${SOCKMAN_BIN:-}" ]]; then
    cp "${SOCKMAN_BIN}" "${sockman}"
    cp "${BENCH_TOOLS}/ws_load" "${BENCH_TOOLS}/http_rate" "${BENCH_TOOLS}/floor_server" "${work}/"
  else
    "${root}/bazelw" build -c opt //cli:sockman //bench:ws_load //bench:http_rate \
      //bench:floor_server >&2
    cp "${root}/bazel-bin/cli/sockman" "${sockman}"
    cp "${root}/bazel-bin/bench/ws_load" "${root}/bazel-bin/bench/http_rate" \
      "${root}/bazel-bin/bench/floor_server" "${work}/"
  fi
  chmod u+w "${sockman}" "${work}/ws_load" "${work}/http_rate" "${work}/floor_server"
}

# Node's ws for the peers: ./bazelw installs it (SOCKMAN_NODE_MODULES in tests).
node_modules="${SOCKMAN_NODE_MODULES:-${HOME}/.cache/sockman/node/node_modules}"

# Where a run's CSV goes: $OUT (bench/run.sh sets it) or bench/NAME-last.csv.
csv_out() {
  mkdir -p "${OUT:-${root}/bench}"
  echo "${OUT:-${root}/bench}/$1-last.csv"
}

# free_port: a loopback port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    shuf -i 20000-60000 -n 1
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s at most).
wait_port() {
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# start_floor MODE: bench/floor_server (the least work per request a server
# can do here, for scale); sets $floor_pid and $floor_port.
start_floor() {
  "${work}/floor_server" --mode "$1" > "${work}/floor.out" &
  floor_pid=$!
  pids+=("${floor_pid}")
  floor_port="$(announced_port "${work}/floor.out")"
}

# start_nginx PORT BODY: Debian's nginx with one worker process and no access
# log; BODY is the rest of its http {} block (directives and servers). Sets
# $nginx_pid once PORT accepts.
start_nginx() {
  cat > "${work}/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx.err;
events { worker_connections 10240; }
http {
  access_log off;
  keepalive_requests 1000000;
$2
}
CONF
  nginx -c "${work}/nginx.conf" &
  nginx_pid=$!
  pids+=("${nginx_pid}")
  wait_port "$1" || { cat "${work}/nginx.err" >&2; return 1; }
}
