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
