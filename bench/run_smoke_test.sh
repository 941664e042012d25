#!/usr/bin/env bash
# The whole bench suite in smoke mode (seconds per suite) against the built
# binaries, so the scripts cannot rot: every suite must produce its CSV with
# both systems, its charts and its table.
set -euo pipefail

root="$(pwd)"
export SOCKMAN_BIN="${root}/cli/sockman"
export BENCH_TOOLS="${TEST_TMPDIR}/tools"
mkdir -p "${BENCH_TOOLS}"
cp bench/ws_load bench/http_rate bench/floor_server bench/codec_rate "${BENCH_TOOLS}/"
export SMOKE=1 OUT="${TEST_TMPDIR}/out" RESULTS="${TEST_TMPDIR}/RESULTS.md"

bash bench/run.sh > "${TEST_TMPDIR}/run.log" 2>&1 || { tail -n 50 "${TEST_TMPDIR}/run.log"; exit 1; }

fail=0
check() {
  if ! eval "$1"; then
    echo "FAIL: $2"
    fail=1
  fi
}
for pair in http:nginx latency:nginx ws:ws broadcast:ws webhook:backend routes:nginx routes:routed proxy:nginx proxy:floor metrics:quiet metrics:scraped framing:frame framing:framing-frame policy:quiet policy:flooded pusher:sockman; do
  suite="${pair%%:*}" peer="${pair#*:}"
  csv="${OUT}/${suite}-last.csv"
  check "[[ -s '${csv}' ]]" "${suite}: no CSV"
  [[ ${suite} == metrics || ${suite} == framing || ${suite} == policy ]] ||
    check "grep -q ',sockman,' '${csv}'" "${suite}: no sockman rows"
  check "grep -q ',${peer},' '${csv}'" "${suite}: no ${peer} rows"
done
for suite in hello pipelined close https static-4k static-1m; do
  check "awk -F, -v s='${suite}' '\$1==s && \$2==\"sockman\" && \$4 > 0 {ok=1} END {exit !ok}' '${OUT}/http-last.csv'" \
    "http ${suite}: no requests measured"
done
check "grep -q '^idle-1000,sockman,1,[0-9]' '${OUT}/ws-last.csv'" "ws: idle memory not measured"
for png in http-rps http-per-cpu latency-p50 latency-p99 latency-p99.9 ws-rate ws-per-cpu ws-idle \
           broadcast-rate broadcast-p99 webhook-median routes-per-cpu proxy-per-cpu metrics-per-cpu framing policy-p99 pusher-p99; do
  check "[[ -s '${OUT}/${png}.png' ]] && file '${OUT}/${png}.png' | grep -q PNG" "chart ${png}.png missing"
done
for heading in "## HTTP," "## HTTP latency at a fixed rate" "## WebSocket echo" "## Broadcast" "## One event through a webhook" "## Routes and compression" "## HTTP reverse proxy" "## Metrics scrapes" "## Config framings" "## Rate-limited flood beside a well-behaved client" "## Pusher triggers to subscribers"; do
  check "grep -q '^${heading}' '${RESULTS}'" "RESULTS.md lacks '${heading}'"
done
if [[ "${fail}" != 0 ]]; then
  tail -n 40 "${TEST_TMPDIR}/run.log"
  exit 1
fi
echo "bench smoke: every suite ran"
