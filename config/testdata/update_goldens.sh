#!/bin/bash
# Regenerates the .golden files beside each config in this directory from
# `sockman check`. Run from the repository root after an intended change:
#   ./bazelw build //cli:sockman && config/testdata/update_goldens.sh
# and review the diff.
set -euo pipefail
cd "$(dirname "$0")/../.."
for config in config/testdata/*.textproto; do
  set +e
  out="$(bazel-bin/cli/sockman check -c "${config}" 2>/tmp/sockman-golden-err)"
  code=$?
  set -e
  {
    echo "exit: ${code}"
    echo "--- stdout"
    [[ -n "${out}" ]] && echo "${out}"
    echo "--- stderr"
    cat /tmp/sockman-golden-err
  } > "${config%.textproto}.golden"
done
