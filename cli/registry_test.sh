#!/bin/bash
# Usage: registry_test.sh SOCKMAN --protocols NAME... --handlers NAME...
# Fails unless `sockman version` lists every named built-in.
set -u
binary="$1"; shift
out="$("${binary}" version)" || { echo "sockman version failed"; exit 1; }
protocols="$(grep '^protocols:' <<<"${out}")"
handlers="$(grep '^handlers:' <<<"${out}")"
section=""
failed=0
checked=0
for arg in "$@"; do
  case "${arg}" in
    --protocols) section="${protocols}" ;;
    --handlers) section="${handlers}" ;;
    *)
      checked=$((checked + 1))
      if ! grep -qw -- "${arg}" <<<"${section#*:}"; then
        echo "not registered: ${arg} (${section})"
        failed=1
      fi ;;
  esac
done
[[ "${checked}" -gt 0 ]] || { echo "no names checked"; exit 1; }
echo "${out}"
exit "${failed}"
