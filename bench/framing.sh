#!/usr/bin/env bash
# bench/framing.sh: how fast config framings decode, against the built-in
# frame protocol, on this machine, same run (bench/codec_rate: one thread,
# back-to-back frames of PAYLOAD bytes decoded in place as a connection
# decodes them; messages per CPU-second of the process).
#
#   bench/framing.sh                     # 3 s per codec, 3 runs
#   DURATION=1 RUNS=1 bench/framing.sh   # quick look
#
# Codecs: frame (built in: 4-byte length that counts itself), the same wire
# format as a config framing (length_field { size: 4 counts: WHOLE_FRAME }),
# a 2-byte length with CRC-16/MODBUS, and JT808 (0x7e delimiters, escaping,
# XOR check). The goal: the config framing at >= 0.90x of frame.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/bench/lib.sh"
DURATION="${DURATION:-3}"
RUNS="${RUNS:-3}"
PAYLOAD="${PAYLOAD:-64}"
RESULTS="${RESULTS:-${root}/bench/RESULTS.md}"
bench_workdir framing
if [[ -n "${BENCH_TOOLS:-}" ]]; then
  cp "${BENCH_TOOLS}/codec_rate" "${work}/"
else
  "${root}/bazelw" build -c opt //bench:codec_rate >&2
  cp "${root}/bazel-bin/bench/codec_rate" "${work}/"
fi

csv="$(csv_out framing)"
echo "suite,system,run,messages_per_cpu_s" > "${csv}"
for run in $(seq "${RUNS}"); do
  "${work}/codec_rate" "${DURATION}" "${PAYLOAD}" | while IFS=, read -r codec rate; do
    echo "decode-${PAYLOAD},${codec},${run},${rate}" >> "${csv}"
    echo "  ${codec} run ${run}: ${rate} messages per CPU-second" >&2
  done
done

med() { awk -F, -v y="$1" '$2==y {print $4}' "${csv}" | median; }
frame="$(med frame)"
date_utc="$(date -u +%Y-%m-%dT%H:%MZ)"
{
  echo
  echo "## Config framings, ${date_utc}"
  echo
  machine_line
  echo "bench/codec_rate: ${PAYLOAD}-byte payloads, back-to-back frames decoded in place, ${DURATION} s per codec, ${RUNS} runs; medians. Ratios against the built-in frame protocol."
  echo
  echo "| codec | messages per CPU-s | ratio to frame |"
  echo "| --- | --- | --- |"
  for codec in frame framing-frame framing-len2-crc16 framing-jt808; do
    awk -v c="${codec}" -v r="$(med "${codec}")" -v f="${frame}" \
      'BEGIN { printf "| %s | %.0f | **%.2fx** |\n", c, r, (f ? r / f : 0) }'
  done
  echo
  echo "framing-frame is frame's own wire format declared as a config framing (the goal: at least 0.90x); the CRC-16 and JT808 rows add a check over every byte (and byte stuffing) that frame does not do."
} | tee -a "${RESULTS}"
