#!/bin/sh
# SPDX-License-Identifier: MIT
# Negative control for the ThreadSanitizer build: run a broken-protocol
# variant of the stress test and pass only if TSan reported a data race
# (its exit code 66) AND the stale checker caught it too. This is what makes
# the clean TSan run of the correct protocol mean something: the frame
# hand-offs are checked, and removing the grace period is seen.
out=$(TSAN_OPTIONS="${TSAN_OPTIONS:-} exitcode=66 halt_on_error=0" "$@" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E 'WARNING: ThreadSanitizer|^ +#[0-2] |negative control' | head -20
if [ "$rc" -ne 66 ]; then
  echo "expected ThreadSanitizer's exit code 66, got $rc" >&2
  exit 1
fi
printf '%s\n' "$out" | grep -q 'WARNING: ThreadSanitizer: data race' || { echo "no data race reported" >&2; exit 1; }
printf '%s\n' "$out" | grep -q 'caught, as it must be' || { echo "stale checker did not fire" >&2; exit 1; }
echo "ThreadSanitizer reported the missing hand-off, as it must"
