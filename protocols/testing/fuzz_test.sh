#!/bin/bash
# Builds a fuzz target with clang and libFuzzer (-fsanitize=fuzzer,address,
# undefined) and runs it for a bounded time (FUZZ_SECONDS, default 20) from
# its seed corpus. Fails on any crash, sanitizer report or contract violation
# (the targets trap on a broken invariant).
#
#   fuzz_test.sh NAME CORPUS_DIR MAX_LEN SOURCE_OR_ARCHIVE...
#
# Sources are compiled with the sanitizers; archives (*.a, e.g. BoringSSL
# built by Bazel) are linked as they are. Abseil, zlib and the engine's
# sources every codec needs are always added.
set -euo pipefail
name="$1" corpus="$2" max_len="$3"
shift 3
seconds="${FUZZ_SECONDS:-20}"
out="${TEST_TMPDIR:-$(mktemp -d)}"
clang="$(command -v clang++ || command -v clang++-14 || true)"
if [[ -z "${clang}" ]]; then
  echo "clang++ is not installed (./bazelw installs it)"; exit 1
fi
sources=(
  protocols/protocol.cc engine/reactor.cc engine/timer_queue.cc engine/buffer.cc
  engine/base/clock.cc engine/log_appender.cc engine/socket_address.cc engine/base/logging.cc
)
archives=()
for input in "$@"; do
  # External repositories' runfiles live beside the workspace's.
  if [[ "${input}" == external/* && ! -e "${input}" ]]; then input="../${input#external/}"; fi
  case "${input}" in
    *.a) archives+=("${input}") ;;
    *.so) ;;
    *) sources+=("${input}") ;;
  esac
done
abseil=(/usr/lib/x86_64-linux-gnu/libabsl_*.a)
# Code the sanitizers leave alone: third-party headers with known benign
# reports. RapidJSON 1.1's Stack adds to a null pointer before its first
# allocation (stack.h Reserve), on every parse.
ignorelist="${out}/ignorelist.txt"
echo 'src:/usr/include/rapidjson/*' > "${ignorelist}"
"${clang}" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fsanitize-ignorelist="${ignorelist}" -fno-sanitize-recover=undefined -no-pie -I. -isystem ../boringssl/src/include "${sources[@]}" \
  "${archives[@]}" -Wl,--start-group "${abseil[@]}" -Wl,--end-group \
  /usr/lib/x86_64-linux-gnu/libz.a -lpthread -o "${out}/${name}"
mkdir -p "${out}/corpus"
cp "${corpus}"/* "${out}/corpus/"
# A crashing input lands in the test's undeclared outputs (bazel-testlogs/.../outputs).
artifacts="${TEST_UNDECLARED_OUTPUTS_DIR:-${out}}/"
"${out}/${name}" -max_total_time="${seconds}" -max_len="${max_len}" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="${artifacts}" \
  "${out}/corpus" 2>&1 | tail -n 25
echo "fuzzed ${name} for ${seconds}s without findings"
