#!/bin/sh
# SPDX-License-Identifier: MIT
# same-status.sh A B ARG...: run A ARG and B ARG for each ARG; fail unless
# every pair exits with the same status, a normal exit below 126 (not a
# program that could not run, nor a signal: those agree on nothing).
# tests/support/meson.build.
a=$1 b=$2
shift 2
rc=0
for arg; do
  "$a" "$arg" >/dev/null 2>&1; sa=$?
  "$b" "$arg" >/dev/null 2>&1; sb=$?
  if [ "$sa" -ge 126 ] || [ "$sb" -ge 126 ]; then
    echo "FAIL: $arg: $(basename "$a") exits $sa, $(basename "$b") exits $sb (did not run, or a signal)"
    rc=1
  elif [ "$sa" -eq "$sb" ]; then
    echo "$arg: both exit $sa"
  else
    echo "FAIL: $arg: $(basename "$a") exits $sa, $(basename "$b") exits $sb"
    rc=1
  fi
done
exit $rc
