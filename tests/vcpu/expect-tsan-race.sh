#!/bin/sh
# SPDX-License-Identifier: MIT
# Negative controls for the ThreadSanitizer build. Usage:
#   expect-tsan-race.sh stale|clean COMMAND...
# Passes only if TSan reported a data race (its exit code 66) and the stale
# checker fired ("stale": a broken protocol variant) or stayed at zero
# ("clean": the correct protocol built WITHOUT the backend's TSan
# annotations). Together they make the clean TSan run of vcpu-stress mean
# something: the frame hand-offs are checked, removing the grace period is
# seen, and the annotations are what carries liburcu's ordering to TSan.
mode=$1; shift
out=$(TSAN_OPTIONS="${TSAN_OPTIONS:-} exitcode=66 halt_on_error=0" "$@" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E 'WARNING: ThreadSanitizer|^ +#[0-2] |negative control|stale accesses' | head -20
if [ "$rc" -ne 66 ]; then
  echo "expected ThreadSanitizer's exit code 66, got $rc" >&2
  exit 1
fi
printf '%s\n' "$out" | grep -q 'WARNING: ThreadSanitizer: data race' || { echo "no data race reported" >&2; exit 1; }
if [ "$mode" = stale ]; then
  printf '%s\n' "$out" | grep -q 'caught, as it must be' || { echo "stale checker did not fire" >&2; exit 1; }
else
  printf '%s\n' "$out" | grep -q 'stale accesses: 0 (must be 0)' || { echo "expected a clean stale count" >&2; exit 1; }
fi
echo "ThreadSanitizer reported the missing hand-off, as it must"
