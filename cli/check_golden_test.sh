#!/bin/bash
# Runs `sockman check` on every config/testdata/*.textproto and compares exit
# status, stdout and stderr with the .golden file beside it
# (regenerate with config/testdata/update_goldens.sh).
set -u
binary="$1"; shift
failed=0
count=0
for config in "$@"; do
  [[ "${config}" == *.textproto ]] || continue
  golden="${config%.textproto}.golden"
  count=$((count + 1))
  set +e
  out="$("${binary}" check -c "${config}" 2>"${TEST_TMPDIR}/err")"
  code=$?
  set -e
  actual="$({
    echo "exit: ${code}"
    echo "--- stdout"
    [[ -n "${out}" ]] && echo "${out}"
    echo "--- stderr"
    cat "${TEST_TMPDIR}/err"
  })"
  if ! diff -u "${golden}" <(echo "${actual}") ; then
    echo "MISMATCH: ${config}"
    failed=1
  fi
done
[[ "${count}" -ge 10 ]] || { echo "only ${count} configs checked"; exit 1; }
echo "${count} configs checked"
exit "${failed}"
