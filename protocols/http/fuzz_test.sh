#!/bin/bash
# Builds the HTTP parser's fuzz target with clang and libFuzzer
# (-fsanitize=fuzzer,address,undefined) and runs it for a bounded time
# (FUZZ_SECONDS, default 20) starting from the seed corpus. Fails on any
# crash, sanitizer report or contract violation.
set -euo pipefail
seconds="${FUZZ_SECONDS:-20}"
out="${TEST_TMPDIR:-$(mktemp -d)}"
clang="$(command -v clang++ || command -v clang++-14 || true)"
if [[ -z "${clang}" ]]; then
  echo "clang++ is not installed (./bazelw installs it)"; exit 1
fi
sources=(
  protocols/http/http_codec_fuzz.cc protocols/http/http_codec.cc protocols/protocol.cc
  engine/reactor.cc engine/timer_queue.cc engine/buffer.cc engine/base/clock.cc
  engine/log_appender.cc engine/socket_address.cc
  engine/base/logging.cc
)
abseil=(/usr/lib/x86_64-linux-gnu/libabsl_*.a)
"${clang}" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I. "${sources[@]}" \
  -Wl,--start-group "${abseil[@]}" -Wl,--end-group -lpthread \
  -o "${out}/http_codec_fuzzer"
mkdir -p "${out}/corpus"
cp protocols/http/testdata/fuzz_corpus/* "${out}/corpus/"
"${out}/http_codec_fuzzer" -max_total_time="${seconds}" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "${out}/corpus" 2>&1 | tail -n 25
echo "fuzzed for ${seconds}s without findings"
